//! Module `Test` of the hello example: types covering every TARS type, and the `Hello`
//! interface, served by [`HelloImpl`].
//!
//! ```text
//! module Test
//! {
//!     enum Color { RED = 0, GREEN = 1, BLUE = 5 };
//!     struct Person { 0 require string name; 1 require int age;
//!                     2 optional vector<string> tags; 3 optional map<string, long> scores; };
//!     struct AllTypes { ... };
//!     interface Hello { ... };
//! };
//! ```

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tars_core::prelude::*;

/// The servant object name the examples serve.
pub const HELLO_OBJ: &str = "Test.HelloServer.HelloObj";

/// `enum Color { RED = 0, GREEN = 1, BLUE = 5 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, TarsEnum)]
#[tars(name = "Test.Color")]
#[repr(i32)]
pub enum Color {
    /// 0.
    Red = 0,
    /// 1.
    Green = 1,
    /// 5.
    Blue = 5,
    /// Any value this version does not declare.
    #[tars(unknown)]
    Unknown(i32),
}

/// `struct Person`.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Test.Person")]
pub struct Person {
    /// `0 require string name`.
    #[tars(tag = 0, require)]
    pub name: String,
    /// `1 require int age`.
    #[tars(tag = 1, require)]
    pub age: i32,
    /// `2 optional vector<string> tags`.
    #[tars(tag = 2)]
    pub tags: Vec<String>,
    /// `3 optional map<string, long> scores`.
    #[tars(tag = 3)]
    pub scores: BTreeMap<String, i64>,
}

/// `struct AllTypes`: one optional field of every kind.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Test.AllTypes")]
pub struct AllTypes {
    /// `0 optional bool b`.
    #[tars(tag = 0)]
    pub b: bool,
    /// `1 optional byte i8v`.
    #[tars(tag = 1)]
    pub i8v: i8,
    /// `2 optional short i16v`.
    #[tars(tag = 2)]
    pub i16v: i16,
    /// `3 optional int i32v`.
    #[tars(tag = 3)]
    pub i32v: i32,
    /// `4 optional long i64v`.
    #[tars(tag = 4)]
    pub i64v: i64,
    /// `5 optional float f32v`.
    #[tars(tag = 5)]
    pub f32v: f32,
    /// `6 optional double f64v`.
    #[tars(tag = 6)]
    pub f64v: f64,
    /// `7 optional string s`.
    #[tars(tag = 7)]
    pub s: String,
    /// `8 optional vector<byte> bin`.
    #[tars(tag = 8)]
    pub bin: Vec<u8>,
    /// `9 optional vector<int> ints`.
    #[tars(tag = 9)]
    pub ints: Vec<i32>,
    /// `10 optional map<string, string> dict`.
    #[tars(tag = 10)]
    pub dict: BTreeMap<String, String>,
    /// `11 optional vector<Person> people`.
    #[tars(tag = 11)]
    pub people: Vec<Person>,
    /// `12 optional unsigned int u32v`.
    #[tars(tag = 12)]
    pub u32v: u32,
    /// `13 optional Color color = GREEN`.
    #[tars(tag = 13, default = Color::Green)]
    pub color: Color,
    /// `14 optional map<int, Person> byId`.
    #[tars(tag = 14)]
    pub by_id: BTreeMap<i32, Person>,
    /// `200 optional string farTag`.
    #[tars(tag = 200)]
    pub far_tag: String,
}

/// `interface Hello`.
#[tars_interface]
pub trait Hello {
    /// `int sayHello(string name, out string greeting)`: greeting = "hello " + name.
    async fn say_hello(&self, name: String, greeting: &mut String) -> TarsResult<i32>;
    /// `int add(int a, int b, out int sum)`: wrapping sum.
    async fn add(&self, a: i32, b: i32, sum: &mut i32) -> TarsResult<i32>;
    /// `int echoBytes(vector<byte> data, out vector<byte> back)`.
    async fn echo_bytes(&self, data: Vec<u8>, back: &mut Vec<u8>) -> TarsResult<i32>;
    /// `int echoStruct(Person p, out Person back)`.
    async fn echo_struct(&self, p: Person, back: &mut Person) -> TarsResult<i32>;
    /// `int echoAll(AllTypes v, out AllTypes back)`.
    async fn echo_all(&self, v: AllTypes, back: &mut AllTypes) -> TarsResult<i32>;
    /// `int slow(int ms, out int waited)`: sleeps `ms` milliseconds.
    async fn slow(&self, ms: i32, waited: &mut i32) -> TarsResult<i32>;
    /// `void notify(string msg)`: remembers `msg`.
    async fn notify(&self, msg: String) -> TarsResult<()>;
    /// `int lastNotify(out string msg)`: the last message given to `notify`.
    async fn last_notify(&self, msg: &mut String) -> TarsResult<i32>;
}

/// The reference implementation of [`Hello`].
#[derive(Debug, Default)]
pub struct HelloImpl {
    last: Mutex<String>,
}

/// Longest `slow` call served, so a caller cannot park a task for ever.
const MAX_SLOW_MS: i32 = 60_000;

impl Hello for HelloImpl {
    async fn say_hello(&self, name: String, greeting: &mut String) -> TarsResult<i32> {
        *greeting = format!("hello {name}");
        Ok(0)
    }

    async fn add(&self, a: i32, b: i32, sum: &mut i32) -> TarsResult<i32> {
        *sum = a.wrapping_add(b);
        Ok(0)
    }

    async fn echo_bytes(&self, data: Vec<u8>, back: &mut Vec<u8>) -> TarsResult<i32> {
        *back = data;
        Ok(0)
    }

    async fn echo_struct(&self, p: Person, back: &mut Person) -> TarsResult<i32> {
        *back = p;
        Ok(0)
    }

    async fn echo_all(&self, v: AllTypes, back: &mut AllTypes) -> TarsResult<i32> {
        *back = v;
        Ok(0)
    }

    async fn slow(&self, ms: i32, waited: &mut i32) -> TarsResult<i32> {
        if !(0..=MAX_SLOW_MS).contains(&ms) {
            return Err(TarsError::ret(
                1,
                format!("ms must be within 0..={MAX_SLOW_MS}"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        *waited = ms;
        Ok(0)
    }

    async fn notify(&self, msg: String) -> TarsResult<()> {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = msg;
        Ok(())
    }

    async fn last_notify(&self, msg: &mut String) -> TarsResult<i32> {
        *msg = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(0)
    }
}
