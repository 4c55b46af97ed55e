//! The examples' IDL compiled from `tars/*.tars` (build.rs, tars-build) gives the same
//! bytes and frames as the hand-written traits in `src/demo`, and the generated servants
//! and proxies talk to the hand-written ones.

use std::collections::BTreeMap;
use tars_core::prelude::*;
use tars_core::TarsStruct;
use tars_rs::demo::{hello as hand, push_callback as hand_push, quickstart as hand_qs};
use tars_rs::generated::push_callback::test_app as gen_push;
use tars_rs::generated::quickstart::test_app as gen_qs;
use tars_rs::generated::test as gen;

/// A hand-written value re-read as the generated type encodes to the same bytes.
fn same_bytes<H: TarsStruct, G: TarsStruct + std::fmt::Debug>(value: &H) -> G {
    let bytes = value.to_tars_bytes();
    let generated = G::from_tars_bytes(bytes.clone()).expect("generated type decodes");
    assert_eq!(generated.to_tars_bytes(), bytes, "{generated:?}");
    generated
}

#[test]
fn structs_and_enums_encode_identically() {
    let all: gen::AllTypes = same_bytes(&hand::sample_all_types());
    assert_eq!(all.color, gen::Color::Blue);
    assert_eq!(all.far_tag, "far");
    let _: gen::Person = same_bytes(&hand::sample_person());
    let _: gen::AllTypes = same_bytes(&hand::AllTypes::default());
    assert_eq!(
        gen::AllTypes::default().to_tars_bytes(),
        hand::AllTypes::default().to_tars_bytes()
    );
    assert_eq!(
        gen::AllTypes::default().color,
        gen::Color::Green,
        "IDL default GREEN"
    );
    for (h, g) in [
        (hand::Color::Red, gen::Color::Red),
        (hand::Color::Green, gen::Color::Green),
        (hand::Color::Blue, gen::Color::Blue),
        (hand::Color::Unknown(7), gen::Color::Unknown(7)),
    ] {
        assert_eq!(h.value(), g.value());
    }
    // A generated value written from scratch, read by the hand-written type.
    let p = gen::Person {
        name: "n".into(),
        age: 3,
        tags: vec!["t".into()],
        scores: BTreeMap::from([("a".to_string(), -1)]),
    };
    let back = hand::Person::from_tars_bytes(p.to_tars_bytes()).unwrap();
    assert_eq!(
        (back.name.as_str(), back.age, back.scores["a"]),
        ("n", 3, -1)
    );
}

#[test]
fn push_frames_are_identical() {
    assert_eq!(
        gen_push::PushSender::push_msg_frame(0, "push message"),
        hand_push::PushSender::push_msg_frame(0, hand_push::PUSH_MESSAGE)
    );
    assert_eq!(
        gen_push::PushSender::push_msg_frame(-3, ""),
        hand_push::PushSender::push_msg_frame(-3, "")
    );
}

/// The generated `Test::Hello`, implemented like the demo's.
struct GenHello;

impl gen::Hello for GenHello {
    async fn say_hello(&self, _: &Current, name: String, greeting: &mut String) -> TarsResult<i32> {
        *greeting = format!("hello {name}");
        Ok(0)
    }
    async fn add(&self, _: &Current, a: i32, b: i32, sum: &mut i32) -> TarsResult<i32> {
        *sum = a.wrapping_add(b);
        Ok(0)
    }
    async fn echo_bytes(&self, _: &Current, data: Vec<u8>, back: &mut Vec<u8>) -> TarsResult<i32> {
        *back = data;
        Ok(0)
    }
    async fn echo_struct(
        &self,
        _: &Current,
        p: gen::Person,
        back: &mut gen::Person,
    ) -> TarsResult<i32> {
        *back = p;
        Ok(0)
    }
    async fn echo_all(
        &self,
        _: &Current,
        v: gen::AllTypes,
        back: &mut gen::AllTypes,
    ) -> TarsResult<i32> {
        *back = v;
        Ok(0)
    }
    async fn slow(&self, _: &Current, ms: i32, waited: &mut i32) -> TarsResult<i32> {
        *waited = ms;
        Ok(0)
    }
    async fn notify(&self, _: &Current, _msg: String) -> TarsResult<()> {
        Ok(())
    }
    async fn last_notify(&self, _: &Current, msg: &mut String) -> TarsResult<i32> {
        msg.clear();
        Ok(0)
    }
}

struct GenQuickStart;

impl gen_qs::Hello for GenQuickStart {
    async fn test(&self, _: &Current) -> TarsResult<i32> {
        Ok(0)
    }
    async fn test_hello(&self, _: &Current, s_req: String, s_rsp: &mut String) -> TarsResult<i32> {
        *s_rsp = s_req;
        Ok(0)
    }
}

async fn serve<S: tars_core::server::Servant>(obj: &str, servant: S) -> (Server, String) {
    let server = Server::builder()
        .servant(obj, "tcp -h 127.0.0.1 -p 0 -t 60000", servant)
        .start()
        .await
        .expect("server starts");
    let port = server.endpoint(obj).expect("bound").port;
    (server, format!("{obj}@tcp -h 127.0.0.1 -p {port}"))
}

async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(60), fut)
        .await
        .expect("call within 60 s")
}

#[tokio::test]
async fn generated_servant_answers_the_hand_written_proxy() {
    let (server, target) = serve(hand::HELLO_OBJ, gen::HelloServant::new(GenHello)).await;
    let proxy: hand::HelloProxy = Communicator::new().string_to_proxy(&target).unwrap();
    let sample = hand::sample_all_types();
    let (ret, back) = within(proxy.echo_all(&sample)).await.unwrap();
    assert_eq!((ret, back), (0, sample));
    let (ret, greeting) = within(proxy.say_hello("rust")).await.unwrap();
    assert_eq!((ret, greeting.as_str()), (0, "hello rust"));
    within(proxy.notify("x")).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn generated_proxy_calls_the_hand_written_servant() {
    let (server, target) = serve(
        hand::HELLO_OBJ,
        hand::HelloServant::new(hand::HelloImpl::default()),
    )
    .await;
    let proxy: gen::HelloProxy = Communicator::new().string_to_proxy(&target).unwrap();
    let sample: gen::AllTypes = same_bytes(&hand::sample_all_types());
    let (ret, back) = within(proxy.echo_all(&sample)).await.unwrap();
    assert_eq!((ret, back), (0, sample));
    let (ret, sum) = within(proxy.add(2, 40)).await.unwrap();
    assert_eq!((ret, sum), (0, 42));
    server.shutdown().await;
}

#[tokio::test]
async fn quickstart_from_idl() {
    let (server, target) =
        serve(hand_qs::HELLO_OBJ, gen_qs::HelloServant::new(GenQuickStart)).await;
    let hand_proxy: hand_qs::HelloProxy = Communicator::new().string_to_proxy(&target).unwrap();
    let gen_proxy: gen_qs::HelloProxy = Communicator::new().string_to_proxy(&target).unwrap();
    assert_eq!(
        within(hand_proxy.test_hello("abc")).await.unwrap(),
        (0, "abc".to_string())
    );
    assert_eq!(
        within(gen_proxy.test_hello("abc")).await.unwrap(),
        (0, "abc".to_string())
    );
    assert_eq!(within(gen_proxy.test()).await.unwrap(), 0);
    server.shutdown().await;
}
