use tars_core::prelude::*;

#[tars_interface]
pub trait Hello {
    async fn do_close(&self) -> TarsResult<()>;
}

fn main() {}
