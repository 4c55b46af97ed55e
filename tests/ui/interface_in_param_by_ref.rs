use tars_core::prelude::*;

#[tars_interface]
pub trait Hello {
    async fn say_hello(&self, name: &str, greeting: &mut String) -> TarsResult<i32>;
}

fn main() {}
