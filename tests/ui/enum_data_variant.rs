use tars_core::prelude::*;

#[derive(TarsEnum)]
pub enum Shape {
    Circle,
    Square(i32),
}

fn main() {}
