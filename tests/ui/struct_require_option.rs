use tars_core::prelude::*;

#[derive(TarsStruct)]
pub struct Person {
    #[tars(tag = 0, require)]
    pub nickname: Option<String>,
}

fn main() {}
