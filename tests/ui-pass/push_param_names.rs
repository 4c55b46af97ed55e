//! `#[tars_push]` out parameters named like the generated code's parameters and locals
//! (`current`, `ret`, the writer, the dispatcher's), and a type named `T`: the sender's frame
//! is decoded and routed by the generated dispatcher to the callbacks.

use std::sync::{Arc, Mutex};
use tars_core::prelude::*;
use tars_core::client::PushCallback;
use tars_core::protocol::ResponsePacket;

/// A user type named like the usual generic parameter.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Test.T")]
pub struct T {
    #[tars(tag = 0)]
    pub v: i32,
}

#[tars_push]
pub trait Names {
    /// Out parameters named like the sender's parameters and locals.
    async fn sender_names(
        &self,
        current: &mut String,
        ret: &mut i32,
        w: &mut i32,
        __tars_w: &mut i32,
    ) -> TarsResult<i32>;

    /// Out parameters named like the dispatcher's locals.
    #[allow(clippy::too_many_arguments)]
    async fn dispatcher_names(
        &self,
        push: &mut String,
        endpoint: &mut i32,
        func: &mut String,
        reply: &mut i32,
        decoded: &mut i32,
        e: &mut i32,
        other: &mut i32,
        code: &mut i32,
        __reply: &mut i32,
        __ret: &mut i32,
        __tars_out1: &mut i32,
        t: &mut T,
    ) -> TarsResult<()>;
}

#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl NamesPrxCallback for Arc<Seen> {
    fn callback_sender_names(&self, ret: i32, current: String, ret_: i32, w: i32, __tars_w: i32) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{ret} {current} {ret_} {w} {__tars_w}"));
    }

    #[allow(clippy::too_many_arguments)]
    fn callback_dispatcher_names(
        &self,
        push: String,
        endpoint: i32,
        func: String,
        reply: i32,
        decoded: i32,
        e: i32,
        other: i32,
        code: i32,
        __reply: i32,
        __ret: i32,
        __tars_out1: i32,
        t: T,
    ) {
        let sum = endpoint + reply + decoded + e + other + code + __reply + __ret + __tars_out1 + t.v;
        self.0.lock().unwrap().push(format!("{push} {func} {sum}"));
    }
}

/// The packet a client reads from a push frame (a 4-byte length, then the packet).
fn packet(frame: Bytes) -> ResponsePacket {
    ResponsePacket::from_tars_bytes(frame.slice(4..)).expect("a response packet")
}

fn main() {
    // The prelude carries the byte buffers and the subscription types.
    let _: (Option<PushSubscription>, SubscribeOptions, BytesMut) =
        (None, SubscribeOptions::default(), BytesMut::new());
    let _: bytes::Bytes = Bytes::new();

    // The sender, with a `current` parameter of its own: it must still compile and name
    // the connection.
    let _send: fn(&Current, i32, &str, i32, i32, i32) -> TarsResult<()> = NamesSender::sender_names;

    let seen = Arc::new(Seen::default());
    let dispatcher = NamesPrxDispatcher::new(seen.clone());
    let endpoint = Endpoint::tcp("127.0.0.1", 1);

    dispatcher.on_push(&endpoint, packet(NamesSender::sender_names_frame(9, "cur", 1, 2, 3)));
    let frame = NamesSender::dispatcher_names_frame(
        "push", 1, "func", 2, 3, 4, 5, 6, 7, 8, 9, &T { v: 10 },
    );
    dispatcher.on_push(&endpoint, packet(frame));

    assert_eq!(
        *seen.0.lock().unwrap(),
        ["9 cur 1 2 3".to_string(), format!("push func {}", (1..=10).sum::<i32>())]
    );
}
