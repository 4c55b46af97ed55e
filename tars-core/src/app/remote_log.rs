//! Remote logs to tarslog (`tars.tarslog.LogObj`, interface `Log`), as TarsCpp's
//! `RemoteTimeLogger` sends its day log: lines are queued by the logging thread (never
//! waiting), and a background task sends them with `loggerbyInfo` (a normal call with a 3 s
//! timeout) in batches of at most 200 lines or 5 MiB, with the `LogInfo` TarsCpp fills for the
//! default log (`sFilename` empty, `sFormat` `%Y%m%d`, TarsCpp's flags). The queue is bounded
//! (lines and bytes): when tarslog is slow or down, lines that do not fit are dropped and
//! counted, and a warning goes to the local log at most once per `warn_interval`.
//!
//! ```no_run
//! # async fn run(comm: tars_core::client::Communicator) -> tars_core::TarsResult<()> {
//! use tars_core::app::{RemoteLog, RemoteLogConfig};
//! use tracing_subscriber::layer::SubscriberExt;
//! let remote = RemoteLog::start(
//!     &comm,
//!     "tars.tarslog.LogObj@tcp -h 127.0.0.1 -p 18993",
//!     RemoteLogConfig::new("Test", "HelloServer"),
//! )?;
//! let subscriber = tracing_subscriber::registry().with(remote.layer());
//! tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
//! tracing::info!(user = 7, "logged in");
//! # Ok(()) }
//! ```

use super::framework::tars::{LogInfo, LogProxy};
use super::settings::Settings;
use crate::client::{ClientConfig, Communicator, Proxy};
use crate::TarsResult;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;

/// TarsCpp's batch limits: a call carries at most this many lines ...
const BATCH_LINES: usize = 200;
/// ... or about this many bytes.
const BATCH_BYTES: usize = 5 << 20;

/// How remote logs are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteLogConfig {
    /// `appname` of the `LogInfo` (the server's `app`).
    pub app: String,
    /// `servername` (the server's `server`).
    pub server: String,
    /// `sFilename`: empty for the default log (`<app>.<server>_<date>.log` at tarslog).
    pub file: String,
    /// `sFormat` (TarsCpp's default `%Y%m%d`: one file a day).
    pub format: String,
    /// `setdivision` (empty without a set).
    pub set_division: String,
    /// The separator tarslog and the line prefix use (`sSepar`, TarsCpp's `|`).
    pub separator: String,
    /// Lines waiting at most (default 10000); more are dropped and counted.
    pub queue_lines: usize,
    /// Bytes of lines waiting at most (default 8 MiB); more are dropped and counted.
    pub queue_bytes: usize,
    /// The timeout of one `loggerbyInfo` call (TarsCpp's 3 s).
    pub call_timeout: Duration,
    /// Drops are warned about in the local log at most this often (default 60 s).
    pub warn_interval: Duration,
    /// Events whose target starts with one of these are not sent (default `tars_core`: the
    /// framework's own logs stay local, as TarsCpp's, and sending never logs itself remotely).
    pub skip_targets: Vec<String>,
}

impl RemoteLogConfig {
    /// The default log of the server `app.server`.
    pub fn new(app: &str, server: &str) -> RemoteLogConfig {
        RemoteLogConfig {
            app: app.to_string(),
            server: server.to_string(),
            file: String::new(),
            format: "%Y%m%d".to_string(),
            set_division: String::new(),
            separator: "|".to_string(),
            queue_lines: 10_000,
            queue_bytes: 8 << 20,
            call_timeout: Duration::from_secs(3),
            warn_interval: Duration::from_secs(60),
            skip_targets: vec!["tars_core".to_string()],
        }
    }

    /// The default log of the server of `settings` (its set division included).
    pub fn from_settings(settings: &Settings) -> RemoteLogConfig {
        RemoteLogConfig {
            set_division: settings.set_division.clone(),
            ..Self::new(&settings.app, &settings.server)
        }
    }

    /// The `LogInfo` sent with every batch, as TarsCpp fills it.
    pub fn log_info(&self) -> LogInfo {
        LogInfo {
            appname: self.app.clone(),
            servername: self.server.clone(),
            s_filename: self.file.clone(),
            s_format: self.format.clone(),
            setdivision: self.set_division.clone(),
            b_has_sufix: true,
            b_has_app_name_prefix: true,
            b_has_square_bracket: false,
            s_concat_str: "_".to_string(),
            s_separ: self.separator.clone(),
            s_log_type: String::new(),
        }
    }
}

/// Counters of a remote log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteLogStats {
    /// Lines waiting in the queue.
    pub queued: usize,
    /// Lines tarslog acknowledged.
    pub sent: u64,
    /// Lines of calls that failed (timed out, unreachable): not sent again.
    pub failed: u64,
    /// Lines dropped because the queue was full (or the sender stopped).
    pub dropped: u64,
}

enum Item {
    Line(String),
    Flush(oneshot::Sender<()>),
}

struct Shared {
    tx: mpsc::Sender<Item>,
    bytes: AtomicUsize,
    max_bytes: usize,
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    skip: Vec<String>,
    separator: String,
}

impl Shared {
    fn push(&self, line: String) -> bool {
        let len = line.len();
        if self.bytes.fetch_add(len, Ordering::AcqRel) + len > self.max_bytes {
            self.bytes.fetch_sub(len, Ordering::AcqRel);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if self.tx.try_send(Item::Line(line)).is_err() {
            self.bytes.fetch_sub(len, Ordering::AcqRel);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }
}

/// A started remote log: the handle of its sender task. Clones share it; the task stops
/// when the last clone is dropped.
#[derive(Clone)]
pub struct RemoteLog {
    shared: Arc<Shared>,
    _stop: Arc<DropGuard>,
}

impl RemoteLog {
    /// Starts sending to `obj` (`tars.tarslog.LogObj@tcp -h H -p P`, or a name the
    /// communicator's locator finds) through a communicator of its own made from `comm`'s
    /// settings (its calls are not stat-reported). Needs a tokio runtime; fails on a bad
    /// object string.
    pub fn start(comm: &Communicator, obj: &str, config: RemoteLogConfig) -> TarsResult<RemoteLog> {
        let own = Communicator::with_config(ClientConfig {
            stat: None,
            property: None,
            ..comm.config().clone()
        });
        let proxy = own
            .string_to_proxy::<LogProxy>(obj.trim())?
            .with_timeout(config.call_timeout);
        let (tx, rx) = mpsc::channel(config.queue_lines.max(1));
        let shared = Arc::new(Shared {
            tx,
            bytes: AtomicUsize::new(0),
            max_bytes: config.queue_bytes.max(1),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            skip: config.skip_targets.clone(),
            separator: config.separator.clone(),
        });
        let stop = CancellationToken::new();
        let sender = Sender {
            _own: own,
            proxy,
            info: config.log_info(),
            shared: Arc::downgrade(&shared),
            warn_interval: config.warn_interval,
        };
        tokio::spawn(sender.run(rx, stop.clone()));
        Ok(RemoteLog {
            shared,
            _stop: Arc::new(stop.drop_guard()),
        })
    }

    /// The `tracing` layer that queues every event (but those of `skip_targets`) as a line
    /// `TIME|LEVEL|TARGET|MESSAGE FIELD=VALUE..`.
    pub fn layer(&self) -> RemoteLogLayer {
        RemoteLogLayer {
            shared: self.shared.clone(),
        }
    }

    /// Queues one line as it is (a `\n` is added if missing); false if it was dropped.
    /// Never waits.
    pub fn log_line(&self, line: impl Into<String>) -> bool {
        let mut line = line.into();
        if !line.ends_with('\n') {
            line.push('\n');
        }
        self.shared.push(line)
    }

    /// The counters.
    pub fn stats(&self) -> RemoteLogStats {
        let s = &self.shared;
        RemoteLogStats {
            queued: s.tx.max_capacity() - s.tx.capacity(),
            sent: s.sent.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
        }
    }

    /// Lines dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Waits until the lines queued before it were sent (or failed); gives up after
    /// `limit`. False if it gave up.
    pub async fn flush(&self, limit: Duration) -> bool {
        let (done, wait) = oneshot::channel();
        tokio::time::timeout(limit, async {
            self.shared.tx.send(Item::Flush(done)).await.is_ok() && wait.await.is_ok()
        })
        .await
        .unwrap_or(false)
    }
}

/// The sender task's state.
struct Sender {
    _own: Communicator,
    proxy: LogProxy,
    info: LogInfo,
    shared: std::sync::Weak<Shared>,
    warn_interval: Duration,
}

impl Sender {
    async fn run(self, mut rx: mpsc::Receiver<Item>, stop: CancellationToken) {
        let mut warned: Option<(Instant, u64)> = None;
        loop {
            let first = tokio::select! {
                _ = stop.cancelled() => return,
                item = rx.recv() => match item {
                    Some(item) => item,
                    None => return,
                },
            };
            let mut batch = Vec::new();
            let mut bytes = 0;
            let mut flushes = Vec::new();
            let mut next = Some(first);
            while let Some(item) = next.take() {
                match item {
                    Item::Line(line) => {
                        bytes += line.len();
                        batch.push(line);
                    }
                    Item::Flush(done) => flushes.push(done),
                }
                if batch.len() < BATCH_LINES && bytes < BATCH_BYTES {
                    next = rx.try_recv().ok();
                }
            }
            let Some(shared) = self.shared.upgrade() else {
                return;
            };
            shared.bytes.fetch_sub(bytes, Ordering::AcqRel);
            if !batch.is_empty() {
                let n = batch.len() as u64;
                tokio::select! {
                    _ = stop.cancelled() => return,
                    r = self.proxy.loggerby_info(&self.info, &batch) => match r {
                        Ok(()) => shared.sent.fetch_add(n, Ordering::Relaxed),
                        Err(e) => {
                            tracing::debug!(error = %e, lines = n, "remote log not sent");
                            shared.failed.fetch_add(n, Ordering::Relaxed)
                        }
                    },
                };
            }
            for done in flushes {
                let _ = done.send(());
            }
            let dropped = shared.dropped.load(Ordering::Relaxed);
            let since = warned.map_or(0, |(_, n)| n);
            let due = warned.is_none_or(|(at, _)| at.elapsed() >= self.warn_interval);
            if dropped > since && due {
                tracing::warn!(
                    dropped = dropped - since,
                    total = dropped,
                    "remote log queue full: lines dropped"
                );
                warned = Some((Instant::now(), dropped));
            }
        }
    }
}

/// The `tracing` layer of a [`RemoteLog`].
#[derive(Clone)]
pub struct RemoteLogLayer {
    shared: Arc<Shared>,
}

/// Writes an event's message, then its other fields as ` name=value`.
struct Line<'a> {
    message: &'a mut String,
    fields: &'a mut String,
}

impl Visit for Line<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for RemoteLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let target = meta.target();
        if self
            .shared
            .skip
            .iter()
            .any(|s| target.starts_with(s.as_str()))
        {
            return;
        }
        if self.shared.tx.capacity() == 0 {
            // Full: dropped without formatting.
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (mut message, mut fields) = (String::new(), String::new());
        event.record(&mut Line {
            message: &mut message,
            fields: &mut fields,
        });
        let sep = &self.shared.separator;
        let time = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
        let line = format!(
            "{time}{sep}{}{sep}{target}{sep}{message}{fields}\n",
            meta.level()
        );
        self.shared.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_info_as_tarscpp_sends_the_default_log() {
        let mut c = RemoteLogConfig::new("Test", "HelloServer");
        c.set_division = "a.b.c".into();
        let i = c.log_info();
        assert_eq!(
            (i.appname.as_str(), i.servername.as_str()),
            ("Test", "HelloServer")
        );
        assert_eq!((i.s_filename.as_str(), i.s_format.as_str()), ("", "%Y%m%d"));
        assert_eq!(i.setdivision, "a.b.c");
        assert!(i.b_has_sufix && i.b_has_app_name_prefix && !i.b_has_square_bracket);
        assert_eq!((i.s_concat_str.as_str(), i.s_separ.as_str()), ("_", "|"));
        assert_eq!(i.s_log_type, "");
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts() {
        // Nothing listens on port 1: every call fails, the queue fills meanwhile.
        let mut c = RemoteLogConfig::new("A", "B");
        c.queue_lines = 4;
        c.queue_bytes = 1 << 20;
        let log = RemoteLog::start(&Communicator::new(), "L@tcp -h 127.0.0.1 -p 1", c).unwrap();
        let kept = (0..100).filter(|i| log.log_line(format!("l{i}"))).count();
        let stats = log.stats();
        // The sender task has not run yet (one thread, no await): exactly the queue's room.
        assert_eq!(kept, 4);
        assert_eq!(stats.dropped, 100 - kept as u64);
        assert!(stats.queued <= 4, "{stats:?}");
    }

    #[tokio::test]
    async fn the_byte_bound_holds() {
        let mut c = RemoteLogConfig::new("A", "B");
        c.queue_bytes = 10;
        let log = RemoteLog::start(&Communicator::new(), "L@tcp -h 127.0.0.1 -p 1", c).unwrap();
        assert!(log.log_line("12345678"));
        assert!(!log.log_line("12345678"));
        assert_eq!(log.dropped(), 1);
    }
}
