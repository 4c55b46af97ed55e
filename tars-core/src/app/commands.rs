//! The administration commands `AdminObj.notify` runs, with TarsCpp's `NotifyObserver`
//! rules: the command's first word names it, the rest (after one space) is its parameter
//! text; the built-in (`tars.*`, TarsCpp's "prefix") handlers run first, then the handlers
//! registered by the application; each handler's output is framed as TarsCpp frames it. A
//! command nobody registered answers an empty string.

use crate::server::BoxFuture;
use futures_util::FutureExt;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, RwLock};

/// A command handler: gets the parameter text, answers its output. `Err` stops the other
/// handlers of the command (TarsCpp's handler returning `false`).
pub type CommandHandler = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// A built-in handler that waits for something (a call to the config center).
pub(crate) type AsyncCommandHandler =
    Arc<dyn Fn(String) -> BoxFuture<'static, Result<String, String>> + Send + Sync>;

#[derive(Clone)]
enum Handler {
    Sync(CommandHandler),
    Async(AsyncCommandHandler),
}

impl Handler {
    /// Runs the handler; a panic stops the command.
    async fn call(&self, params: &str) -> Result<String, String> {
        let panicked = |_| Err("command handler panicked".to_string());
        match self {
            Handler::Sync(h) => {
                std::panic::catch_unwind(AssertUnwindSafe(|| h(params))).unwrap_or_else(panicked)
            }
            Handler::Async(h) => {
                match std::panic::catch_unwind(AssertUnwindSafe(|| h(params.to_string()))) {
                    Ok(fut) => AssertUnwindSafe(fut)
                        .catch_unwind()
                        .await
                        .unwrap_or_else(panicked),
                    Err(p) => panicked(p),
                }
            }
        }
    }
}

type Map = RwLock<BTreeMap<String, Vec<Handler>>>;

/// The registry of administration commands.
#[derive(Default)]
pub struct Commands {
    builtin: Map,
    user: Map,
}

impl Commands {
    /// Registers a built-in (framework) handler of `name`.
    pub(crate) fn add_builtin(&self, name: &str, handler: CommandHandler) {
        Self::insert(&self.builtin, name, Handler::Sync(handler));
    }

    /// Registers a built-in handler of `name` that awaits.
    pub(crate) fn add_builtin_async(&self, name: &str, handler: AsyncCommandHandler) {
        Self::insert(&self.builtin, name, Handler::Async(handler));
    }

    /// Registers an application handler of `name`; several may share a name.
    pub fn add(&self, name: &str, handler: CommandHandler) {
        Self::insert(&self.user, name, Handler::Sync(handler));
    }

    fn insert(map: &Map, name: &str, handler: Handler) {
        let mut map = map.write().unwrap_or_else(|e| e.into_inner());
        map.entry(name.to_string()).or_default().push(handler);
    }

    /// Every registered command name, sorted, each followed by `\r\n` (`tars.help`).
    pub fn help(&self) -> String {
        let builtin = self.builtin.read().unwrap_or_else(|e| e.into_inner());
        let user = self.user.read().unwrap_or_else(|e| e.into_inner());
        let names: std::collections::BTreeSet<&String> =
            builtin.keys().chain(user.keys()).collect();
        names.into_iter().map(|n| format!("{n}\r\n")).collect()
    }

    /// Runs `command` and answers the framed output of its handlers.
    pub async fn run(&self, command: &str) -> String {
        let command = command.trim();
        let (name, params) = command.split_once(' ').unwrap_or((command, ""));
        let mut out = String::new();
        let builtin = self.handlers(&self.builtin, name);
        if !builtin.is_empty()
            && !frame(
                &mut out,
                "prefix",
                &builtin,
                params,
                "[notify break by server]:",
            )
            .await
        {
            return out;
        }
        let user = self.handlers(&self.user, name);
        if !user.is_empty() {
            frame(&mut out, "servant", &user, params, "[notify break.]").await;
        }
        out
    }

    fn handlers(&self, map: &Map, name: &str) -> Vec<Handler> {
        let map = map.read().unwrap_or_else(|e| e.into_inner());
        map.get(name).cloned().unwrap_or_default()
    }
}

/// Appends one group's output; false if a handler stopped it.
async fn frame(
    out: &mut String,
    kind: &str,
    handlers: &[Handler],
    params: &str,
    stopped: &str,
) -> bool {
    let _ = writeln!(out, "[notify {kind} object num:{}]", handlers.len());
    for (i, handler) in handlers.iter().enumerate() {
        match handler.call(params).await {
            Ok(text) => {
                let _ = writeln!(out, "[{}]:{text}", i + 1);
            }
            Err(text) => {
                let _ = writeln!(out, "{stopped}");
                let _ = writeln!(out, "{text}");
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(
        f: impl Fn(&str) -> Result<String, String> + Send + Sync + 'static,
    ) -> CommandHandler {
        Arc::new(f)
    }

    #[tokio::test]
    async fn frames_as_tarscpp() {
        let c = Commands::default();
        c.add_builtin("tars.x", handler(|p| Ok(format!("got [{p}]"))));
        c.add("tars.x", handler(|_| Ok("user".into())));
        c.add("mine", handler(|_| Ok("a".into())));
        c.add("mine", handler(|_| Err("stop".into())));
        c.add("mine", handler(|_| Ok("never".into())));
        assert_eq!(
            c.run("  tars.x  a b ").await,
            "[notify prefix object num:1]\n[1]:got [ a b]\n[notify servant object num:1]\n[1]:user\n"
        );
        assert_eq!(
            c.run("mine").await,
            "[notify servant object num:3]\n[1]:a\n[notify break.]\nstop\n"
        );
        assert_eq!(c.run("nobody").await, "");
        assert_eq!(c.help(), "mine\r\ntars.x\r\n");
    }

    #[tokio::test]
    async fn a_panicking_handler_stops_its_command() {
        let c = Commands::default();
        c.add_builtin("p", handler(|_| panic!("boom")));
        c.add("p", handler(|_| Ok("after".into())));
        assert_eq!(
            c.run("p").await,
            "[notify prefix object num:1]\n[notify break by server]:\ncommand handler panicked\n"
        );
        c.add_builtin_async(
            "a",
            Arc::new(|p: String| Box::pin(async move { Ok(format!("async {p}")) })),
        );
        c.add_builtin_async("ap", Arc::new(|_| Box::pin(async { panic!("boom") })));
        assert_eq!(
            c.run("a x").await,
            "[notify prefix object num:1]\n[1]:async x\n"
        );
        assert_eq!(
            c.run("ap").await,
            "[notify prefix object num:1]\n[notify break by server]:\ncommand handler panicked\n"
        );
    }
}
