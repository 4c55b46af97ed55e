//! Encode and decode throughput of a representative struct: a few strings and numbers, a
//! vector of 100 small structs and a map of 20 entries (3,683 bytes on the wire).
//!
//! ```sh
//! cargo bench -p tars-core --bench codec -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::collections::BTreeMap;
use tars_core::{TarsStruct, TarsValue, TarsWriter};

#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Bench.Item")]
struct Item {
    #[tars(tag = 0, require)]
    id: i64,
    #[tars(tag = 1)]
    sku: String,
    #[tars(tag = 2)]
    quantity: i32,
    #[tars(tag = 3)]
    price: f64,
    #[tars(tag = 4)]
    gift: bool,
}

#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Bench.Order")]
struct Order {
    #[tars(tag = 0, require)]
    order_id: i64,
    #[tars(tag = 1)]
    customer: String,
    #[tars(tag = 2)]
    address: String,
    #[tars(tag = 3)]
    note: String,
    #[tars(tag = 4)]
    status: i32,
    #[tars(tag = 5)]
    created_ms: i64,
    #[tars(tag = 6)]
    total: f64,
    #[tars(tag = 7)]
    items: Vec<Item>,
    #[tars(tag = 8)]
    attributes: BTreeMap<String, String>,
    #[tars(tag = 9)]
    signature: Vec<u8>,
}

fn sample_order() -> Order {
    Order {
        order_id: 9_007_199_254_740_993,
        customer: "Ada Lovelace".into(),
        address: "12 Analytical Engine Lane, London".into(),
        note: "leave at the door, ring twice".into(),
        status: 3,
        created_ms: 1_732_330_000_000,
        total: 1234.56,
        items: (0..100)
            .map(|i| Item {
                id: 1_000_000 + i,
                sku: format!("SKU-{i:05}"),
                quantity: (i % 7 + 1) as i32,
                price: 0.99 + i as f64,
                gift: i % 10 == 0,
            })
            .collect(),
        attributes: (0..20)
            .map(|i| (format!("key-{i:02}"), format!("value number {i}")))
            .collect(),
        signature: (0..64u8).collect(),
    }
}

fn codec(c: &mut Criterion) {
    let order = sample_order();
    let bytes = order.to_tars_bytes();
    assert_eq!(Order::from_tars_bytes(bytes.clone()).unwrap(), order);

    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(&order).to_tars_bytes()));
    group.bench_function("encode_reused_buffer", |b| {
        let mut buf = Some(bytes::BytesMut::with_capacity(bytes.len()));
        b.iter(|| {
            let mut w = TarsWriter::from_buf(buf.take().unwrap());
            black_box(&order).write_fields(&mut w);
            let mut out = w.into_inner();
            black_box(out.len());
            out.clear();
            buf = Some(out);
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| Order::from_tars_bytes(black_box(bytes.clone())).unwrap())
    });
    group.bench_function("decode_schemaless", |b| {
        b.iter(|| TarsValue::decode_all(black_box(bytes.clone())).unwrap())
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
