//! Process plumbing: the open-file limit and the runtimes and servers run in-process.

use crate::args::fail;
use tars_rs::demo::{push_callback, quickstart};

/// Raises this process's open-file limit to at least `want` if it can (as root the hard limit
/// too). Returns the soft limit in force.
pub fn raise_fd_limit(want: u64) -> u64 {
    use rlimit::Resource;
    let Ok((soft, hard)) = Resource::NOFILE.get() else {
        return 0;
    };
    if soft >= want {
        return soft;
    }
    if hard < want && Resource::NOFILE.set(want, want).is_ok() {
        return want;
    }
    let target = want.min(hard);
    if Resource::NOFILE.set(target, hard).is_ok() {
        target
    } else {
        soft
    }
}

/// A multi-threaded runtime for a server run in-process, so it has its own worker threads
/// as a separate process would.
pub fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name("bench-server")
        .enable_all()
        .build()
        .expect("server runtime")
}

/// Starts the QuickStartDemo servants (Hello and Push) on loopback ports of their own
/// runtime, as `rpc` and `push` do without a target.
pub fn serve_in_process() -> (
    tokio::runtime::Runtime,
    tars_core::Server,
    push_callback::PushServer,
) {
    let runtime = server_runtime();
    let ep = "tcp -h 127.0.0.1 -p 0 -t 600000";
    let (server, pusher) = runtime
        .block_on(quickstart::serve(ep, ep))
        .unwrap_or_else(|e| fail(e));
    (runtime, server, pusher)
}
