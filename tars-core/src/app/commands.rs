//! The administration commands `AdminObj.notify` runs, with TarsCpp's `NotifyObserver`
//! rules: the command's first word names it, the rest (after one space) is its parameter
//! text; the built-in (`tars.*`, TarsCpp's "prefix") handlers run first, then the handlers
//! registered by the application; each handler's output is framed as TarsCpp frames it. A
//! command nobody registered answers an empty string.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, RwLock};

/// A command handler: gets the parameter text, answers its output. `Err` stops the other
/// handlers of the command (TarsCpp's handler returning `false`).
pub type CommandHandler = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// The registry of administration commands.
#[derive(Default)]
pub struct Commands {
    builtin: RwLock<BTreeMap<String, Vec<CommandHandler>>>,
    user: RwLock<BTreeMap<String, Vec<CommandHandler>>>,
}

impl Commands {
    /// Registers a built-in (framework) handler of `name`.
    pub(crate) fn add_builtin(&self, name: &str, handler: CommandHandler) {
        let mut map = self.builtin.write().unwrap_or_else(|e| e.into_inner());
        map.entry(name.to_string()).or_default().push(handler);
    }

    /// Registers an application handler of `name`; several may share a name.
    pub fn add(&self, name: &str, handler: CommandHandler) {
        let mut map = self.user.write().unwrap_or_else(|e| e.into_inner());
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
    pub fn run(&self, command: &str) -> String {
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
        {
            return out;
        }
        let user = self.handlers(&self.user, name);
        if !user.is_empty() {
            frame(&mut out, "servant", &user, params, "[notify break.]");
        }
        out
    }

    fn handlers(
        &self,
        map: &RwLock<BTreeMap<String, Vec<CommandHandler>>>,
        name: &str,
    ) -> Vec<CommandHandler> {
        let map = map.read().unwrap_or_else(|e| e.into_inner());
        map.get(name).cloned().unwrap_or_default()
    }
}

/// Appends one group's output; false if a handler stopped it.
fn frame(
    out: &mut String,
    kind: &str,
    handlers: &[CommandHandler],
    params: &str,
    stopped: &str,
) -> bool {
    let _ = writeln!(out, "[notify {kind} object num:{}]", handlers.len());
    for (i, handler) in handlers.iter().enumerate() {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(params)))
            .unwrap_or_else(|_| Err("command handler panicked".to_string()));
        match result {
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

    #[test]
    fn frames_as_tarscpp() {
        let c = Commands::default();
        c.add_builtin("tars.x", handler(|p| Ok(format!("got [{p}]"))));
        c.add("tars.x", handler(|_| Ok("user".into())));
        c.add("mine", handler(|_| Ok("a".into())));
        c.add("mine", handler(|_| Err("stop".into())));
        c.add("mine", handler(|_| Ok("never".into())));
        assert_eq!(
            c.run("  tars.x  a b "),
            "[notify prefix object num:1]\n[1]:got [ a b]\n[notify servant object num:1]\n[1]:user\n"
        );
        assert_eq!(
            c.run("mine"),
            "[notify servant object num:3]\n[1]:a\n[notify break.]\nstop\n"
        );
        assert_eq!(c.run("nobody"), "");
        assert_eq!(c.help(), "mine\r\ntars.x\r\n");
    }

    #[test]
    fn a_panicking_handler_stops_its_command() {
        let c = Commands::default();
        c.add_builtin("p", handler(|_| panic!("boom")));
        c.add("p", handler(|_| Ok("after".into())));
        assert_eq!(
            c.run("p"),
            "[notify prefix object num:1]\n[notify break by server]:\ncommand handler panicked\n"
        );
    }
}
