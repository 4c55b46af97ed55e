//! Lifecycle (issue 11): the connections of a `Communicator` live as long as a handle to it,
//! one of its proxies or one of its subscriptions does, and `Communicator::shutdown` closes
//! them at once. Counted from the server side (`do_close`), on endpoints with `-t 0` (no idle
//! timeout), so only the client can close them.

mod common;

use common::conn::{drain, recv_within, Closed, RecordCloses};
use common::eventually;
use std::time::Duration;
use tars_core::client::SubscribeOptions;
use tars_core::prelude::*;
use tars_core::TarsError;
use tars_rs::demo::hello::{self, HELLO_OBJ};
use tars_rs::demo::push_callback::{
    self, PushPrxCallback, PushPrxDispatcher, PushServer, PUSH_OBJ,
};
use tokio::sync::mpsc;

/// How long one expected close may take before the test fails (an outer bound).
const EVENT: Duration = Duration::from_secs(20);

struct IgnorePushes;
impl PushPrxCallback for IgnorePushes {}

/// Two servers sharing one push servant (one registry), both on `-t 0`, reporting every
/// close: the first also serves `Hello`. Two push endpoints give the subscription two
/// connections (a proxy string naming one endpoint twice counts it once).
struct Servers {
    servers: [Server; 2],
    pusher: PushServer,
    push_ports: [u16; 2],
    hello_port: u16,
}

impl Servers {
    async fn shutdown(self) {
        for server in self.servers {
            server.shutdown().await;
        }
    }
}

async fn server() -> (Servers, mpsc::UnboundedReceiver<Closed>) {
    let (tx, closes) = mpsc::unbounded_channel();
    let pusher = PushServer::default();
    let push_servant =
        || RecordCloses::with_sender(push_callback::HelloServant::new(pusher.clone()), tx.clone());
    let first = Server::builder()
        .servant(PUSH_OBJ, "tcp -h 127.0.0.1 -p 0 -t 0", push_servant())
        .servant(
            HELLO_OBJ,
            "tcp -h 127.0.0.1 -p 0 -t 0",
            RecordCloses::with_sender(
                hello::HelloServant::new(hello::HelloImpl::default()),
                tx.clone(),
            ),
        )
        .start()
        .await
        .expect("server starts");
    let second = Server::builder()
        .servant(PUSH_OBJ, "tcp -h 127.0.0.1 -p 0 -t 0", push_servant())
        .start()
        .await
        .expect("second server starts");
    let push_ports = [
        first.endpoint(PUSH_OBJ).unwrap().port,
        second.endpoint(PUSH_OBJ).unwrap().port,
    ];
    let hello_port = first.endpoint(HELLO_OBJ).unwrap().port;
    let servers = Servers {
        servers: [first, second],
        pusher,
        push_ports,
        hello_port,
    };
    (servers, closes)
}

/// What one communicator holds: a push proxy subscribed on two endpoints (two connections,
/// both to the push servant) and a `Hello` proxy that made one call (a third connection).
struct Client {
    comm: Communicator,
    push: push_callback::HelloProxy,
    subscription: tars_core::client::PushSubscription,
    hello: hello::HelloProxy,
}

async fn client(servers: &Servers) -> Client {
    let (pusher, [p1, p2], hello_port) = (&servers.pusher, servers.push_ports, servers.hello_port);
    let comm = Communicator::new();
    let push: push_callback::HelloProxy = comm
        .string_to_proxy(&format!(
            "{PUSH_OBJ}@tcp -h 127.0.0.1 -p {p1}:tcp -h 127.0.0.1 -p {p2}"
        ))
        .unwrap();
    push.servant_proxy()
        .set_push_callback(PushPrxDispatcher::new(IgnorePushes));
    let options = SubscribeOptions {
        all_endpoints: true,
        ..SubscribeOptions::default()
    };
    let subscription = push
        .servant_proxy()
        .subscribe(options, |pinned| async move {
            push_callback::HelloProxy::from_servant_proxy(pinned)
                .register_push()
                .await
                .map(|_| ())
        });
    eventually("registered on both endpoints", || {
        pusher.registry.len() == 2
    })
    .await;
    let hello: hello::HelloProxy = comm
        .string_to_proxy(&format!("{HELLO_OBJ}@tcp -h 127.0.0.1 -p {hello_port}"))
        .unwrap();
    assert_eq!(hello.say_hello("x").await.unwrap().1, "hello x");
    Client {
        comm,
        push,
        subscription,
        hello,
    }
}

/// Waits for `n` closes and returns their uids.
async fn closes_of(rx: &mut mpsc::UnboundedReceiver<Closed>, n: usize) -> Vec<u64> {
    let mut uids = Vec::new();
    for i in 0..n {
        let what = format!("close {} of {n} seen by the server", i + 1);
        uids.push(recv_within(rx, &what, EVENT).await.0);
    }
    uids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_communicator_proxies_and_subscription_closes_the_connections() {
    let (servers, mut closes) = server().await;
    let c = client(&servers).await;
    // The proxies keep the connections: dropping only the communicator closes nothing.
    drop(c.comm);
    assert_eq!(c.hello.say_hello("y").await.unwrap().1, "hello y");
    assert!(drain(&mut closes).is_empty(), "a connection closed early");
    drop(c.subscription);
    drop(c.push);
    drop(c.hello);
    let uids = closes_of(&mut closes, 3).await;
    eventually("the registry is empty", || {
        servers.pusher.registry.is_empty()
    })
    .await;
    servers.shutdown().await;
    let late = drain(&mut closes);
    assert!(
        late.is_empty(),
        "more connections than expected: {uids:?} then {late:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn communicator_shutdown_closes_the_connections() {
    let (servers, mut closes) = server().await;
    let c = client(&servers).await;
    c.comm.shutdown();
    let uids = closes_of(&mut closes, 3).await;
    eventually("the registry is empty", || {
        servers.pusher.registry.is_empty()
    })
    .await;
    // Later calls fail at once; nothing reconnects.
    for result in [
        c.hello.say_hello("after").await.map(|_| ()),
        c.push.register_push().await.map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(TarsError::ConnectionClosed(_))),
            "a call after shutdown: {result:?}"
        );
    }
    drop(c.subscription);
    servers.shutdown().await;
    let late = drain(&mut closes);
    assert!(
        late.is_empty(),
        "reconnected after shutdown: {uids:?} then {late:?}"
    );
}
