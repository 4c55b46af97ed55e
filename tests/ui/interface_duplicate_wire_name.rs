use tars_core::prelude::*;

#[tars_interface]
pub trait Hello {
    async fn say_hello(&self, name: String) -> TarsResult<i32>;
    #[tars(name = "sayHello")]
    async fn greet(&self, name: String) -> TarsResult<i32>;
}

fn main() {}
