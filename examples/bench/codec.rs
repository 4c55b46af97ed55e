//! `codec`: encode and decode speed of a representative struct (`Order`: a few strings and
//! ints, 100 nested `Item`s and a map).

use crate::report::{emit, round};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;
use tars_core::TarsStruct;
use tars_rs::cli;

/// A line of an order.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Bench.Item")]
struct Item {
    #[tars(tag = 0, require)]
    id: i64,
    #[tars(tag = 1)]
    name: String,
    #[tars(tag = 2)]
    price: f64,
    #[tars(tag = 3)]
    quantity: i32,
    #[tars(tag = 4)]
    tags: Vec<String>,
}

/// The representative struct: a few strings and ints, 100 nested structs and a map.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Bench.Order")]
struct Order {
    #[tars(tag = 0, require)]
    order_id: String,
    #[tars(tag = 1)]
    customer: String,
    #[tars(tag = 2)]
    created_ms: i64,
    #[tars(tag = 3)]
    status: i32,
    #[tars(tag = 4)]
    items: Vec<Item>,
    #[tars(tag = 5)]
    attrs: BTreeMap<String, String>,
    #[tars(tag = 6)]
    note: String,
}

fn sample_order() -> Order {
    Order {
        order_id: "ORD-2024-000123456".into(),
        customer: "customer-42@example.invalid".into(),
        created_ms: 1_717_171_717_171,
        status: 3,
        items: (0..100)
            .map(|i| Item {
                id: 10_000_000 + i,
                name: format!("item number {i}"),
                price: 9.99 + i as f64,
                quantity: (i % 7) as i32 + 1,
                tags: vec!["fresh".into(), format!("aisle-{}", i % 12)],
            })
            .collect(),
        attrs: (0..10)
            .map(|i| (format!("key{i}"), format!("value number {i}")))
            .collect(),
        note: "leave at the door".into(),
    }
}

fn codec_bench(seconds: f64) -> Vec<Map<String, Value>> {
    let order = sample_order();
    let encoded = order.to_tars_bytes();
    assert_eq!(
        Order::from_tars_bytes(encoded.clone()).expect("round trip"),
        order
    );
    let size = encoded.len();
    let time = |f: &mut dyn FnMut()| {
        let began = Instant::now();
        let mut n = 0u64;
        while began.elapsed().as_secs_f64() < seconds {
            for _ in 0..64 {
                f();
            }
            n += 64;
        }
        (n, began.elapsed().as_secs_f64())
    };
    let mut sink = 0usize;
    let (enc_n, enc_s) = time(&mut || sink += std::hint::black_box(&order).to_tars_bytes().len());
    let (dec_n, dec_s) = time(&mut || {
        let decoded =
            Order::from_tars_bytes(std::hint::black_box(&encoded).clone()).expect("decodes");
        sink += decoded.items.len();
    });
    std::hint::black_box(sink);
    [
        ("codec-encode", enc_n, enc_s),
        ("codec-decode", dec_n, dec_s),
    ]
    .iter()
    .map(|&(mode, n, s)| {
        let mut m = Map::new();
        m.insert("mode".into(), json!(mode));
        m.insert("bytes".into(), json!(size));
        m.insert("structs_per_s".into(), json!((n as f64 / s).round()));
        m.insert(
            "mb_per_s".into(),
            json!(round(n as f64 * size as f64 / s / 1e6, 10.0)),
        );
        m.insert("seconds".into(), json!(round(s, 1000.0)));
        m
    })
    .collect()
}

/// The `codec` mode.
pub fn main() {
    let rows = codec_bench(cli::number_flag("seconds", 2.0));
    emit(
        "codec: Order (100 items, a map)",
        &rows,
        &rows,
        &["mode", "bytes", "structs_per_s", "mb_per_s"],
    );
}
