//! TLS (`ssl` endpoints) of our server, dialled with our `ClientTls`, with a CA and
//! certificates generated at test time (rcgen): plain calls, mutual TLS, a wrong CA, an
//! expired certificate, a name mismatch under both verifier modes, and a plain-TCP client on
//! a TLS port. Each failure must fail the handshake with a reason, not hang or crash.

mod common;

use bytes::{Bytes, BytesMut};
use common::certs::{leaf, make_ca, tls_hello_server};
use common::within;
use std::collections::BTreeMap;
use tars_core::prelude::*;
use tars_core::protocol::{
    encode_frame, ParamsWriter, RequestPacket, ResponsePacket, TARS_VERSION,
};
use tars_core::tls::{ClientTls, ServerTls, TlsVerify};
use tars_rs::demo::hello::{HelloImpl, HelloServant, HELLO_OBJ};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

fn say_hello() -> Bytes {
    let mut w = ParamsWriter::new(TARS_VERSION);
    w.write(1, "name", "tls");
    encode_frame(&RequestPacket {
        version: TARS_VERSION,
        packet_type: 0,
        message_type: 0,
        request_id: 7,
        servant_name: HELLO_OBJ.to_string(),
        func_name: "sayHello".to_string(),
        buffer: w.finish(),
        timeout: 3000,
        context: BTreeMap::new(),
        status: BTreeMap::new(),
    })
}

/// One call over `stream`: `Err` with the I/O error if the connection fails.
async fn call<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
) -> std::io::Result<ResponsePacket> {
    stream.write_all(&say_hello()).await?;
    stream.flush().await?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    let mut body = BytesMut::zeroed(u32::from_be_bytes(len) as usize - 4);
    stream.read_exact(&mut body).await?;
    Ok(ResponsePacket::from_tars_bytes(body.freeze()).unwrap())
}

async fn dial(
    tls: &ClientTls,
    host: &str,
    port: u16,
) -> TarsResult<impl AsyncRead + AsyncWrite + Unpin> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tls.connect(host, tcp).await
}

#[tokio::test]
async fn calls_over_ssl_with_the_name_checked_and_chain_only() {
    within("the test", async {
        let ca = make_ca("test ca");
        let (chain, key) = leaf(&ca, &["localhost", "127.0.0.1"], false);
        let (server, port) = tls_hello_server(
            ServerTls::from_pem(chain.as_bytes(), key.as_bytes(), None, false).unwrap(),
        )
        .await;
        let ca_pem = ca.cert.pem();
        for verify in [TlsVerify::Hostname, TlsVerify::ChainOnly] {
            let client = ClientTls::from_pem(ca_pem.as_bytes(), None, verify).unwrap();
            let mut s = dial(&client, "127.0.0.1", port).await.unwrap();
            let r = call(&mut s).await.unwrap();
            assert_eq!((r.request_id, r.ret), (7, 0), "{}", r.result_desc);
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_name_mismatch_fails_by_default_and_passes_chain_only() {
    within("the test", async {
        let ca = make_ca("test ca");
        // TarsCpp deployments often use certificates that name some other host.
        let (chain, key) = leaf(&ca, &["some-other-host.example"], false);
        let (server, port) = tls_hello_server(
            ServerTls::from_pem(chain.as_bytes(), key.as_bytes(), None, false).unwrap(),
        )
        .await;
        let ca_pem = ca.cert.pem();
        let strict = ClientTls::from_pem(ca_pem.as_bytes(), None, TlsVerify::Hostname).unwrap();
        let e = dial(&strict, "127.0.0.1", port)
            .await
            .err()
            .expect("a name error");
        assert!(e.to_string().contains("not valid for name"), "{e}");
        let lax = ClientTls::from_pem(ca_pem.as_bytes(), None, TlsVerify::ChainOnly).unwrap();
        let mut s = dial(&lax, "127.0.0.1", port).await.unwrap();
        assert_eq!(call(&mut s).await.unwrap().ret, 0);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_wrong_ca_and_an_expired_certificate_fail_the_handshake() {
    within("the test", async {
        let ca = make_ca("test ca");
        let other = make_ca("another ca");
        let (chain, key) = leaf(&ca, &["localhost"], false);
        let (server, port) = tls_hello_server(
            ServerTls::from_pem(chain.as_bytes(), key.as_bytes(), None, false).unwrap(),
        )
        .await;
        let wrong =
            ClientTls::from_pem(other.cert.pem().as_bytes(), None, TlsVerify::ChainOnly).unwrap();
        let e = dial(&wrong, "localhost", port)
            .await
            .err()
            .expect("an unknown-CA error");
        assert!(e.to_string().to_lowercase().contains("issuer"), "{e}");
        server.shutdown().await;

        let (chain, key) = leaf(&ca, &["localhost"], true);
        let (server, port) = tls_hello_server(
            ServerTls::from_pem(chain.as_bytes(), key.as_bytes(), None, false).unwrap(),
        )
        .await;
        let client =
            ClientTls::from_pem(ca.cert.pem().as_bytes(), None, TlsVerify::ChainOnly).unwrap();
        let e = dial(&client, "localhost", port)
            .await
            .err()
            .expect("an expiry error");
        assert!(e.to_string().contains("expired"), "{e}");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn mutual_tls_needs_a_client_certificate_from_the_ca() {
    within("the test", async {
        let ca = make_ca("test ca");
        let (chain, key) = leaf(&ca, &["localhost"], false);
        let ca_pem = ca.cert.pem();
        let tls = ServerTls::from_pem(
            chain.as_bytes(),
            key.as_bytes(),
            Some(ca_pem.as_bytes()),
            true,
        )
        .unwrap();
        let (server, port) = tls_hello_server(tls).await;
        let (client_chain, client_key) = leaf(&ca, &["client"], false);
        let with_cert = ClientTls::from_pem(
            ca_pem.as_bytes(),
            Some((client_chain.as_bytes(), client_key.as_bytes())),
            TlsVerify::Hostname,
        )
        .unwrap();
        let mut s = dial(&with_cert, "localhost", port).await.unwrap();
        assert_eq!(call(&mut s).await.unwrap().ret, 0);
        // Without a certificate: TLS 1.3 completes the client's side of the handshake, and
        // the server's refusal (an alert) arrives on the first read.
        let without = ClientTls::from_pem(ca_pem.as_bytes(), None, TlsVerify::Hostname).unwrap();
        let failed = match dial(&without, "localhost", port).await {
            Err(e) => e.to_string(),
            Ok(mut s) => call(&mut s).await.expect_err("refused").to_string(),
        };
        assert!(
            failed.contains("CertificateRequired") || failed.contains("certificate"),
            "{failed}"
        );
        // A certificate from another CA is refused too.
        let other = make_ca("another ca");
        let (bad_chain, bad_key) = leaf(&other, &["client"], false);
        let wrong = ClientTls::from_pem(
            ca_pem.as_bytes(),
            Some((bad_chain.as_bytes(), bad_key.as_bytes())),
            TlsVerify::Hostname,
        )
        .unwrap();
        let refused = match dial(&wrong, "localhost", port).await {
            Err(_) => true,
            Ok(mut s) => call(&mut s).await.is_err(),
        };
        assert!(refused);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_plain_tcp_client_on_a_tls_port_is_closed() {
    within("the test", async {
        let ca = make_ca("test ca");
        let (chain, key) = leaf(&ca, &["localhost"], false);
        let (server, port) = tls_hello_server(
            ServerTls::from_pem(chain.as_bytes(), key.as_bytes(), None, false).unwrap(),
        )
        .await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        // A TARS frame is not a ClientHello: the server answers with an alert at most, then
        // closes; it never answers the call.
        let outcome = call(&mut s).await;
        assert!(outcome.is_err() || outcome.unwrap().request_id != 7);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_ssl_endpoint_without_a_certificate_does_not_start() {
    let e = Server::builder()
        .servant(
            HELLO_OBJ,
            "ssl -h 127.0.0.1 -p 0",
            HelloServant::new(HelloImpl::default()),
        )
        .start()
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("ssl endpoint"), "{e}");
}
