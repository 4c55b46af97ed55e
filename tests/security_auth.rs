//! AK/SK authentication (`-e 1`) of our server, driven by a raw TCP peer that plays a TarsCpp
//! client byte for byte, and by a Tars.js client (which has no auth) that must be refused.

mod common;

use bytes::{Bytes, BytesMut};
use common::within;
use std::collections::BTreeMap;
use std::time::Duration;
use tars_core::auth::{self, AuthKey, AUTH_FUNC, AUTH_MESSAGE_TYPE};
use tars_core::prelude::*;
use tars_core::protocol::{
    encode_frame, ParamsWriter, RequestPacket, ResponsePacket, TARS_VERSION,
};
use tars_core::server::ServerConfig;
use tars_rs::demo::hello::{HelloImpl, HelloServant, HELLO_OBJ};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const AK: &str = "tars-test-ak";
const SK: &str = "123456";

async fn auth_server() -> (tars_core::Server, u16) {
    let config = ServerConfig {
        auth: Some(AuthKey::new(AK, SK)),
        handshake_timeout: Duration::from_secs(30),
        ..ServerConfig::default()
    };
    let server = Server::builder()
        .config(config)
        .servant(
            HELLO_OBJ,
            "tcp -h 127.0.0.1 -p 0 -t 60000 -e 1",
            HelloServant::new(HelloImpl::default()),
        )
        .start()
        .await
        .unwrap();
    let port = server.endpoint(HELLO_OBJ).unwrap().port;
    (server, port)
}

fn request(id: i32, func: &str, message_type: i32, buffer: Bytes) -> Bytes {
    encode_frame(&RequestPacket {
        version: TARS_VERSION,
        packet_type: 0,
        message_type,
        request_id: id,
        servant_name: HELLO_OBJ.to_string(),
        func_name: func.to_string(),
        buffer,
        timeout: 3000,
        context: BTreeMap::new(),
        status: BTreeMap::new(),
    })
}

/// The first frame of a TarsCpp client: `InnerAuthServer`, message type 0x40, request id 1.
fn auth_frame(key: &AuthKey, time: i64) -> Bytes {
    request(
        1,
        AUTH_FUNC,
        AUTH_MESSAGE_TYPE,
        key.package(HELLO_OBJ, time).to_tars_bytes(),
    )
}

fn say_hello(id: i32) -> Bytes {
    let mut w = ParamsWriter::new(TARS_VERSION);
    w.write(1, "name", "auth");
    request(id, "sayHello", 0, w.finish())
}

async fn read_response(stream: &mut TcpStream) -> Option<ResponsePacket> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.ok()?;
    let mut body = BytesMut::zeroed((u32::from_be_bytes(len) as usize).checked_sub(4)?);
    stream.read_exact(&mut body).await.ok()?;
    Some(ResponsePacket::from_tars_bytes(body.freeze()).expect("a well-formed response"))
}

/// The server closes the connection without sending a byte.
async fn refused(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match stream.read(&mut buf).await {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("expected the connection closed, got {n} bytes"),
    }
}

#[tokio::test]
async fn a_good_key_is_answered_auth_succ_and_calls_follow() {
    within("the test", async {
        let (server, port) = auth_server().await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(&auth_frame(&AuthKey::new(AK, SK), auth::unix_now()))
            .await
            .unwrap();
        let r = read_response(&mut s).await.expect("an auth response");
        assert_eq!(
            (r.request_id, r.message_type, r.ret),
            (1, AUTH_MESSAGE_TYPE, 0)
        );
        assert_eq!(&r.buffer[..], b"AUTH_SUCC");
        s.write_all(&say_hello(2)).await.unwrap();
        let r = read_response(&mut s).await.expect("a response");
        assert_eq!((r.request_id, r.ret), (2, 0), "{}", r.result_desc);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn calls_sent_right_behind_the_auth_request_are_served_after_it() {
    within("the test", async {
        let (server, port) = auth_server().await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut all = BytesMut::new();
        all.extend_from_slice(&auth_frame(&AuthKey::new(AK, SK), auth::unix_now()));
        all.extend_from_slice(&say_hello(2));
        all.extend_from_slice(&say_hello(3));
        s.write_all(&all).await.unwrap();
        let ids: Vec<i32> = [
            read_response(&mut s).await.unwrap(),
            read_response(&mut s).await.unwrap(),
            read_response(&mut s).await.unwrap(),
        ]
        .iter()
        .map(|r| r.request_id)
        .collect();
        assert_eq!(ids, [1, 2, 3]);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_wrong_secret_an_unknown_key_and_a_stale_time_are_refused() {
    within("the test", async {
        let (server, port) = auth_server().await;
        let now = auth::unix_now();
        for frame in [
            auth_frame(&AuthKey::new(AK, "654321"), now),
            auth_frame(&AuthKey::new("someone-else", SK), now),
            auth_frame(&AuthKey::new(AK, SK), now - 2 * 3600),
            auth_frame(&AuthKey::new(AK, SK), now + 3600 + 60),
        ] {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            s.write_all(&frame).await.unwrap();
            // A call queued behind the refused auth request is not served either.
            let _ = s.write_all(&say_hello(2)).await;
            refused(&mut s).await;
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_call_before_auth_closes_the_connection_unanswered() {
    within("the test", async {
        let (server, port) = auth_server().await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(&say_hello(1)).await.unwrap();
        refused(&mut s).await;
        // Garbage is refused the same way.
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(&[0, 0, 0, 9, 1, 2, 3, 4, 5]).await.unwrap();
        refused(&mut s).await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tars_js_client_without_auth_is_refused() {
    let (server, port) = auth_server().await;
    let target = format!("{HELLO_OBJ}@tcp -h 127.0.0.1 -p {port} -t 60000");
    let cmd = common::node("hello_client.js", &[&target, "--only", "sayHello"]);
    let (ok, out) =
        tokio::task::spawn_blocking(move || common::run_with_timeout(cmd, Duration::from_secs(60)))
            .await
            .unwrap();
    assert!(!ok && !out.starts_with("timed out"), "{out}");
    assert!(out.contains("FAIL sayHello"), "{out}");
    assert!(!out.contains("ok sayHello"), "{out}");
    server.shutdown().await;
}

fn client_to(port: u16, key: Option<AuthKey>) -> tars_rs::demo::hello::HelloProxy {
    let config = tars_core::client::ClientConfig {
        auth: key,
        connect_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    Communicator::with_config(config)
        .string_to_proxy(&format!(
            "{HELLO_OBJ}@tcp -h 127.0.0.1 -p {port} -t 60000 -e 1"
        ))
        .unwrap()
}

#[tokio::test]
async fn our_client_authenticates_first_and_calls_made_meanwhile_wait() {
    within("the test", async {
        let (server, port) = auth_server().await;
        let proxy = client_to(port, Some(AuthKey::new(AK, SK)));
        // Several calls at once on a new connection: all wait for the auth, then succeed.
        let calls = (0..4).map(|i| {
            let proxy = proxy.clone();
            async move { proxy.say_hello(&format!("c{i}")).await }
        });
        for r in futures_util::future::join_all(calls).await {
            let (ret, greeting) = r.expect("an authenticated call");
            assert_eq!(ret, 0);
            assert!(greeting.starts_with("hello c"));
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn our_client_with_a_wrong_or_no_key_fails_its_calls_clearly() {
    within("the test", async {
        let (server, port) = auth_server().await;
        let e = client_to(port, Some(AuthKey::new(AK, "wrong")))
            .say_hello("x")
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("auth refused"), "{e}");
        let e = client_to(port, None)
            .say_hello("x")
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("no access key"), "{e}");
        server.shutdown().await;
    })
    .await;
}
