use tars_core::prelude::*;

#[derive(TarsStruct)]
pub struct Person {
    #[tars(tag = 0, require)]
    pub name: String,
    pub age: i32,
}

fn main() {}
