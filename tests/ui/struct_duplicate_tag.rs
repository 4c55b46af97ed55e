use tars_core::prelude::*;

#[derive(TarsStruct)]
pub struct Person {
    #[tars(tag = 0)]
    pub name: String,
    #[tars(tag = 0)]
    pub age: i32,
}

fn main() {}
