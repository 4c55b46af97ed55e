use tars_core::prelude::*;

#[tars_interface]
pub trait Hello {
    fn say_hello(&self, name: String, greeting: &mut String) -> TarsResult<i32>;
}

fn main() {}
