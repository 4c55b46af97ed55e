//! Calling by name through a registry: a fake tarsregistry written on Tars.js
//! (`tests/node/fake_registry.js`, QueryF with @tars/registry's EndpointF) whose lists the
//! test changes while a client calls by name; push subscriptions by name that follow the
//! registry; layers that see every call.

mod common;

use common::fake_registry::FakeRegistry;
use common::{eventually, hello_server, within};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tars_core::client::{
    CallInfo, CallLayer, CallOutcome, ClientConfig, StaticResolver, SubscribeOptions,
};
use tars_core::prelude::*;
use tars_rs::demo::hello::{HelloImpl, HelloProxy, HelloServant, HELLO_OBJ};
use tars_rs::demo::push_callback::{self, PushServer, PUSH_OBJ};

/// One call seen by the layer: function, the endpoint's port, result.
type Seen = (String, Option<u16>, Result<i32, String>);

/// A layer recording each call.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<Seen>>,
}

impl Recorder {
    fn len(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    fn ports_since(&self, from: usize) -> Vec<Option<u16>> {
        self.calls.lock().unwrap()[from..]
            .iter()
            .map(|c| c.1)
            .collect()
    }

    fn failures(&self) -> Vec<String> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter_map(|(f, _, r)| match r {
                Err(e) => Some(format!("{f}: {e}")),
                Ok(ret) if *ret != 0 => Some(format!("{f}: ret {ret}")),
                Ok(_) => None,
            })
            .collect()
    }
}

struct Shared(Arc<Recorder>);

impl CallLayer for Shared {
    fn after(&self, call: &CallInfo<'_>, outcome: &CallOutcome<'_>) {
        // The registry's own lookups go through the same communicator: not counted here.
        if call.object != HELLO_OBJ {
            return;
        }
        let result = outcome.result.map_err(|e| e.to_string());
        self.0.calls.lock().unwrap().push((
            call.func.to_string(),
            outcome.endpoint.map(|e| e.port),
            result,
        ));
    }
}

fn by_name_config(locator: String) -> ClientConfig {
    ClientConfig {
        locator: Some(locator),
        refresh_endpoint_interval: Duration::from_millis(100),
        ..ClientConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_by_name_follow_the_registry() {
    let servers = [
        hello_server().await.0,
        hello_server().await.0,
        hello_server().await.0,
    ];
    let [a, b, c] = [0, 1, 2].map(|i| servers[i].endpoint(HELLO_OBJ).unwrap().port);
    let mut registry = FakeRegistry::start(0);
    registry.set(HELLO_OBJ, &[a], &[]);

    let comm = Communicator::with_config(by_name_config(registry.locator()));
    let recorder = Arc::new(Recorder::default());
    comm.add_layer(Shared(recorder.clone()));
    let proxy: HelloProxy = comm.string_to_proxy(HELLO_OBJ).unwrap();
    // Calls run all along; every one must succeed.
    let stop = Arc::new(AtomicBool::new(false));
    let caller = {
        let (proxy, stop) = (proxy.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && n < 2_000_000 {
                let _ = proxy.say_hello("by name").await;
                n += 1;
                tokio::task::yield_now().await;
            }
        })
    };
    let reaches = |port: u16| {
        let recorder = recorder.clone();
        let from = recorder.len();
        move || recorder.ports_since(from).contains(&Some(port))
    };
    eventually("calls reach a", reaches(a)).await;
    let first = registry.wait_lookups(1).remove(0);
    assert_eq!(first["func"], "findObjectByIdInSameGroup", "{first}");

    // A new instance joins the round robin.
    registry.set(HELLO_OBJ, &[a, b], &[]);
    eventually("calls reach b", reaches(b)).await;
    eventually("calls reach a again", reaches(a)).await;

    // a moves to inactive (removed gracefully while calls run): no more calls to it.
    registry.set(HELLO_OBJ, &[b], &[a]);
    let only_b = |recorder: &Recorder| {
        let ports = recorder.ports_since(recorder.len().saturating_sub(50));
        ports.len() == 50 && ports.iter().all(|p| *p == Some(b))
    };
    eventually("calls leave a", || only_b(&recorder)).await;

    // An empty answer keeps the list; so does a failing registry.
    registry.set(HELLO_OBJ, &[], &[]);
    registry.wait_lookups(3);
    eventually("calls go on to b", || only_b(&recorder)).await;
    registry.fail(true);
    registry.wait_lookups(2);
    eventually("calls go on to b while the registry fails", || {
        only_b(&recorder)
    })
    .await;

    // The registry goes down, calls go on; it comes back (same port) with c only.
    let port = registry.port;
    drop(registry);
    let from = recorder.len();
    eventually("calls go on with the registry down", || {
        recorder.len() > from + 100
    })
    .await;
    let mut registry = FakeRegistry::start(port);
    registry.set(HELLO_OBJ, &[c], &[]);
    eventually("calls reach c", reaches(c)).await;
    eventually("calls leave b", || {
        let ports = recorder.ports_since(recorder.len().saturating_sub(50));
        ports.len() == 50 && ports.iter().all(|p| *p == Some(c))
    })
    .await;

    stop.store(true, Ordering::Relaxed);
    within("the caller", caller).await.unwrap();
    assert_eq!(recorder.failures(), Vec::<String>::new());
    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_lookup_uses_find_object_by_id_in_same_set() {
    let server = hello_server().await.0;
    let port = server.endpoint(HELLO_OBJ).unwrap().port;
    let mut registry = FakeRegistry::start(0);
    registry.set(HELLO_OBJ, &[port], &[]);
    let comm = Communicator::with_config(ClientConfig {
        set_division: Some("app.sz.1".into()),
        ..by_name_config(registry.locator())
    });
    let proxy: HelloProxy = comm.string_to_proxy(HELLO_OBJ).unwrap();
    let (_, greeting) = within("a call", proxy.say_hello("set")).await.unwrap();
    assert_eq!(greeting, "hello set");
    let lookup = registry.wait_lookups(1).remove(0);
    assert_eq!(lookup["func"], "findObjectByIdInSameSet", "{lookup}");
    assert_eq!(lookup["setId"], "app.sz.1", "{lookup}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_subscription_by_name_follows_the_instances() {
    let (sa, sb) = (PushServer::default(), PushServer::default());
    let start = |s: PushServer| async move {
        Server::builder()
            .servant(
                PUSH_OBJ,
                "tcp -h 127.0.0.1 -p 0",
                push_callback::HelloServant::new(s),
            )
            .start()
            .await
            .unwrap()
    };
    let (server_a, server_b) = (start(sa.clone()).await, start(sb.clone()).await);
    let (a, b) = (
        server_a.endpoint(PUSH_OBJ).unwrap().port,
        server_b.endpoint(PUSH_OBJ).unwrap().port,
    );
    let mut registry = FakeRegistry::start(0);
    registry.set(PUSH_OBJ, &[a], &[]);
    let comm = Communicator::with_config(by_name_config(registry.locator()));
    let proxy: push_callback::HelloProxy = comm.string_to_proxy(PUSH_OBJ).unwrap();
    let pushes = Arc::new(AtomicUsize::new(0));
    struct Count(Arc<AtomicUsize>);
    impl push_callback::PushPrxCallback for Count {
        fn callback_push_msg(&self, _ret: i32, _s_rsp: String) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    proxy
        .servant_proxy()
        .set_push_callback(push_callback::PushPrxDispatcher::new(Count(pushes.clone())));
    let options = SubscribeOptions {
        all_endpoints: true,
        ..SubscribeOptions::default()
    };
    let subscription = proxy
        .servant_proxy()
        .subscribe(options, |bound| async move {
            push_callback::HelloProxy::from_servant_proxy(bound)
                .register_push()
                .await
        });
    within("ready", subscription.ready()).await.unwrap();
    assert_eq!(sa.registry.len(), 1);
    registry.wait_lookups(1);
    let lookups = registry.lookups();
    assert!(
        lookups.iter().any(|l| l["func"] == "findObjectById4All"),
        "{lookups:?}"
    );

    // b appears: it gets registerPush within a refresh.
    registry.set(PUSH_OBJ, &[a, b], &[]);
    eventually("registered on b", || sb.registry.len() == 1).await;
    within("ready on both", subscription.ready()).await.unwrap();
    assert_eq!(subscription.endpoints().len(), 2);
    sb.registry
        .broadcast(&push_callback::PushSender::push_msg_frame(0, "from b"));
    eventually("b's push arrived", || pushes.load(Ordering::SeqCst) == 1).await;

    // a leaves: its registration is dropped (the server sees the connection close).
    registry.set(PUSH_OBJ, &[b], &[a]);
    eventually("dropped from a", || sa.registry.is_empty()).await;
    assert_eq!(subscription.endpoints().len(), 1);
    assert_eq!(sb.registry.len(), 1);
    drop(subscription);
    server_a.shutdown().await;
    server_b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_sees_every_call_with_a_static_resolver() {
    let server = hello_server().await.0;
    let endpoint = server.endpoint(HELLO_OBJ).unwrap();
    let resolver = StaticResolver::new().with(HELLO_OBJ, vec![endpoint.clone()]);
    let comm = Communicator::with_resolver(ClientConfig::default(), Arc::new(resolver));
    let recorder = Arc::new(Recorder::default());
    comm.add_layer(Shared(recorder.clone()));
    let proxy: HelloProxy = comm.string_to_proxy(HELLO_OBJ).unwrap();
    within("calls", async {
        proxy.say_hello("a").await.unwrap();
        proxy.add(1, 2).await.unwrap();
        let raw = proxy.servant_proxy();
        assert!(raw.invoke("noSuchFunc", raw.params_writer()).await.is_err());
        proxy.oneway().notify("n").await.unwrap();
    })
    .await;
    let calls = recorder.calls.lock().unwrap().clone();
    let funcs: Vec<&str> = calls.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(funcs, ["sayHello", "add", "noSuchFunc", "notify"]);
    assert!(
        calls.iter().all(|c| c.1 == Some(endpoint.port)),
        "{calls:?}"
    );
    assert_eq!(calls[2].2, Ok(-3));
    // An unknown name fails clearly.
    let unknown: HelloProxy = comm.string_to_proxy("No.Such.Obj").unwrap();
    let err = within("unknown", unknown.say_hello("x")).await.unwrap_err();
    assert!(matches!(err, TarsError::NoEndpoint(_)), "{err}");
    server.shutdown().await;
}

/// Counts servant calls by function, with their result.
#[derive(Default)]
struct ServerSeen(Mutex<Vec<(String, bool)>>);

struct ServerRecorder(Arc<ServerSeen>);

impl tars_core::server::ServantLayer for ServerRecorder {
    fn after(&self, current: &Current, _: Duration, result: Result<(), &TarsError>) {
        let mut seen = self.0 .0.lock().unwrap();
        seen.push((current.func_name().to_string(), result.is_ok()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_layer_sees_every_servant_call() {
    let seen = Arc::new(ServerSeen::default());
    let server = Server::builder()
        .layer(ServerRecorder(seen.clone()))
        .servant(
            HELLO_OBJ,
            "tcp -h 127.0.0.1 -p 0",
            HelloServant::new(HelloImpl::default()),
        )
        .start()
        .await
        .unwrap();
    let port = server.endpoint(HELLO_OBJ).unwrap().port;
    let comm = Communicator::new();
    let proxy: HelloProxy = comm
        .string_to_proxy(&format!("{HELLO_OBJ}@tcp -h 127.0.0.1 -p {port}"))
        .unwrap();
    within("calls", async {
        proxy.say_hello("a").await.unwrap();
        proxy.add(1, 2).await.unwrap();
        let raw = proxy.servant_proxy();
        assert!(raw.invoke("noSuchFunc", raw.params_writer()).await.is_err());
    })
    .await;
    let seen = seen.0.lock().unwrap().clone();
    let want = [("sayHello", true), ("add", true), ("noSuchFunc", false)];
    let want: Vec<(String, bool)> = want.iter().map(|(f, ok)| (f.to_string(), *ok)).collect();
    assert_eq!(seen, want);
    server.shutdown().await;
}
