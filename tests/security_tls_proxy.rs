//! TLS (`ssl` endpoints) through our `Communicator` and typed proxies, with a CA and
//! certificates generated at test time (rcgen): the name-checked and chain-only verifiers, a
//! wrong CA, mutual TLS, TLS with AK/SK (`ssl ... -e 1`), and a push subscription over ssl.
//! Every failure must reach the call as an error that says why, never as a hang.

mod common;

use common::certs::{leaf, make_ca, tls_hello_server, Ca};
use common::within;
use std::time::Duration;
use tars_core::auth::AuthKey;
use tars_core::client::{ClientConfig, ObjectSecurity, SubscribeOptions};
use tars_core::prelude::*;
use tars_core::server::ServerConfig;
use tars_core::tls::{ClientTls, ServerTls, TlsVerify};
use tars_rs::demo::hello::{HelloProxy, HELLO_OBJ};
use tars_rs::demo::push_callback as push;
use tokio::sync::mpsc;

const AK: &str = "tars-tls-ak";
const SK: &str = "tls-secret";

/// A Hello server on `ssl -h 127.0.0.1 -p 0`, with a certificate issued by `ca` for `names`.
async fn hello_server(ca: &Ca, names: &[&str], mutual: bool) -> (Server, u16) {
    let (chain, key) = leaf(ca, names, false);
    let ca_pem = ca.pem();
    let tls = ServerTls::from_pem(
        chain.as_bytes(),
        key.as_bytes(),
        mutual.then_some(ca_pem.as_bytes()),
        mutual,
    )
    .unwrap();
    tls_hello_server(tls).await
}

/// Client settings with `tls` client-wide; generous timeouts (the machine is shared), so a
/// failure that arrives is the handshake's, not a deadline's.
fn config(tls: ClientTls) -> ClientConfig {
    ClientConfig {
        tls: Some(tls),
        connect_timeout: Duration::from_secs(30),
        invoke_timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    }
}

fn hello_proxy(config: ClientConfig, port: u16) -> HelloProxy {
    Communicator::with_config(config)
        .string_to_proxy(&format!("{HELLO_OBJ}@ssl -h 127.0.0.1 -p {port} -t 60000"))
        .unwrap()
}

fn trusting(ca: &Ca, verify: TlsVerify) -> ClientTls {
    ClientTls::from_pem(ca.pem().as_bytes(), None, verify).unwrap()
}

/// A failed call's text, checked not to be a deadline.
fn failure<T: std::fmt::Debug>(r: TarsResult<T>) -> String {
    let e = r.expect_err("the call fails");
    assert!(!matches!(e, TarsError::Timeout(_)), "a timeout: {e}");
    let text = e.to_string();
    assert!(!text.contains("timed out"), "a timeout: {text}");
    text
}

#[tokio::test]
async fn a_typed_proxy_calls_over_ssl_name_checked_and_chain_only() {
    within("the test", async {
        let ca = make_ca("test ca");
        let (server, port) = hello_server(&ca, &["localhost", "127.0.0.1"], false).await;
        for verify in [TlsVerify::Hostname, TlsVerify::ChainOnly] {
            let proxy = hello_proxy(config(trusting(&ca, verify)), port);
            let (ret, greeting) = proxy.say_hello("tls").await.unwrap();
            assert_eq!(ret, 0);
            assert!(greeting.contains("tls"), "{greeting}");
            // The connection is reused: a second call on it.
            assert_eq!(proxy.add(2, 3).await.unwrap(), (0, 5));
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_certificate_for_another_host_fails_name_checked_and_passes_chain_only() {
    within("the test", async {
        let ca = make_ca("test ca");
        let (server, port) = hello_server(&ca, &["some-other-host.example"], false).await;
        let strict = hello_proxy(config(trusting(&ca, TlsVerify::Hostname)), port);
        let e = failure(strict.say_hello("x").await);
        assert!(e.contains("not valid for name"), "{e}");
        let lax = hello_proxy(config(trusting(&ca, TlsVerify::ChainOnly)), port);
        assert_eq!(lax.say_hello("x").await.unwrap().0, 0);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_wrong_ca_fails_each_call_with_the_reason() {
    within("the test", async {
        let ca = make_ca("test ca");
        let other = make_ca("another ca");
        let (server, port) = hello_server(&ca, &["localhost", "127.0.0.1"], false).await;
        for verify in [TlsVerify::Hostname, TlsVerify::ChainOnly] {
            let proxy = hello_proxy(config(trusting(&other, verify)), port);
            // The first call, and the next one on the same (set-aside) endpoint, each fail
            // with the handshake's reason rather than waiting out their deadline.
            for attempt in 0..2 {
                let e = failure(proxy.say_hello("x").await);
                assert!(e.contains("tls handshake"), "{verify:?} #{attempt}: {e}");
                assert!(
                    e.to_lowercase().contains("unknownissuer"),
                    "{verify:?} #{attempt}: {e}"
                );
            }
        }
        // The server is unharmed: a client with the right CA still gets through.
        let good = hello_proxy(config(trusting(&ca, TlsVerify::Hostname)), port);
        assert_eq!(good.say_hello("x").await.unwrap().0, 0);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_ssl_endpoint_without_client_tls_fails_clearly() {
    within("the test", async {
        let ca = make_ca("test ca");
        let (server, port) = hello_server(&ca, &["127.0.0.1"], false).await;
        let proxy = hello_proxy(ClientConfig::default(), port);
        let e = failure(proxy.say_hello("x").await);
        assert!(e.contains("no TLS configuration"), "{e}");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn mutual_tls_through_the_communicator() {
    within("the test", async {
        let ca = make_ca("test ca");
        let (server, port) = hello_server(&ca, &["127.0.0.1"], true).await;
        let (chain, key) = leaf(&ca, &["client"], false);
        let ca_pem = ca.pem();
        let identity = Some((chain.as_bytes(), key.as_bytes()));
        let with_cert = ClientTls::from_pem(ca_pem.as_bytes(), identity, TlsVerify::Hostname);
        let proxy = hello_proxy(config(with_cert.unwrap()), port);
        assert_eq!(proxy.say_hello("mtls").await.unwrap().0, 0);

        // Without a certificate: TLS 1.3 finishes the client's side of the handshake; the
        // server's alert fails the call that is waiting on the connection.
        let without = hello_proxy(config(trusting(&ca, TlsVerify::Hostname)), port);
        for attempt in 0..2 {
            let e = failure(without.say_hello("x").await);
            assert!(e.contains("CertificateRequired"), "#{attempt}: {e}");
        }
        // A certificate from another CA is refused as well.
        let other = make_ca("another ca");
        let (bad_chain, bad_key) = leaf(&other, &["client"], false);
        let bad = Some((bad_chain.as_bytes(), bad_key.as_bytes()));
        let wrong = ClientTls::from_pem(ca_pem.as_bytes(), bad, TlsVerify::Hostname).unwrap();
        let e = failure(hello_proxy(config(wrong), port).say_hello("x").await);
        assert!(e.contains("UnknownCA"), "{e}");
        server.shutdown().await;
    })
    .await;
}

/// Hands every push to the test.
struct Forward(mpsc::UnboundedSender<(i32, String)>);

impl push::PushPrxCallback for Forward {
    fn callback_push_msg(&self, ret: i32, s_rsp: String) {
        let _ = self.0.send((ret, s_rsp));
    }
}

#[tokio::test]
async fn tls_with_ak_sk_serves_calls_and_pushes_through_the_communicator() {
    within("the test", async {
        let ca = make_ca("test ca");
        let (chain, key) = leaf(&ca, &["127.0.0.1"], false);
        let servant = push::PushServer::default();
        let server = Server::builder()
            .config(ServerConfig {
                tls: Some(
                    ServerTls::from_pem(chain.as_bytes(), key.as_bytes(), None, false).unwrap(),
                ),
                auth: Some(AuthKey::new(AK, SK)),
                handshake_timeout: Duration::from_secs(30),
                ..ServerConfig::default()
            })
            .servant(
                push::PUSH_OBJ,
                "ssl -h 127.0.0.1 -p 0 -t 60000 -e 1",
                push::HelloServant::new(servant.clone()),
            )
            .start()
            .await
            .unwrap();
        let port = server.endpoint(push::PUSH_OBJ).unwrap().port;
        let target = format!(
            "{}@ssl -h 127.0.0.1 -p {port} -t 60000 -e 1",
            push::PUSH_OBJ
        );

        // The key per object (it takes precedence over a wrong client-wide one).
        let mut good = config(trusting(&ca, TlsVerify::ChainOnly));
        good.auth = Some(AuthKey::new(AK, "wrong"));
        good.objects.insert(
            push::PUSH_OBJ.to_string(),
            ObjectSecurity {
                tls: None,
                auth: Some(AuthKey::new(AK, SK)),
            },
        );
        let comm = Communicator::with_config(good);
        let proxy: push::HelloProxy = comm.string_to_proxy(&target).unwrap();
        let (tx, mut pushes) = mpsc::unbounded_channel();
        proxy
            .servant_proxy()
            .set_push_callback(push::PushPrxDispatcher::new(Forward(tx)));
        let subscription =
            proxy
                .servant_proxy()
                .subscribe(SubscribeOptions::default(), |pinned| async move {
                    push::HelloProxy::from_servant_proxy(pinned)
                        .register_push()
                        .await
                });
        subscription.ready().await.unwrap();
        assert_eq!(servant.registry.len(), 1);
        for i in 0..3 {
            let frame = push::PushSender::push_msg_frame(i, push::PUSH_MESSAGE);
            assert_eq!(servant.registry.broadcast(&frame).sent, 1);
            let got = pushes.recv().await.expect("a push");
            assert_eq!(got, (i, push::PUSH_MESSAGE.to_string()));
        }
        // An ordinary call on the same authenticated TLS connection.
        assert_eq!(proxy.register_push().await.unwrap(), 0);

        // A wrong key over TLS: the call fails with the auth refusal.
        let mut bad = config(trusting(&ca, TlsVerify::ChainOnly));
        bad.auth = Some(AuthKey::new(AK, "wrong"));
        let bad: push::HelloProxy = Communicator::with_config(bad)
            .string_to_proxy(&target)
            .unwrap();
        let e = failure(bad.register_push().await);
        assert!(e.contains("auth refused"), "{e}");
        drop(subscription);
        comm.shutdown();
        server.shutdown().await;
    })
    .await;
}
