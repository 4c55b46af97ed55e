//! Server-side StatF reports, as a TarsCpp server sends them: every answered TARS call
//! (not one-way ones) is counted under the head TarsCpp's `Current::sendResponse` fills,
//! and the communicator's report task sends the table with `reportMicMsg(msg, false)`.

use super::current::Current;
use super::layer::ServantLayer;
use crate::framework::tars::StatMicMsgHead;
use crate::stat::{limit, StatResult, StatTable, MAX_IP_LEN, MAX_NAME_LEN};
use crate::TarsError;
use std::sync::Arc;
use std::time::Duration;

/// The master name TarsCpp's servers report their callers under.
pub const STAT_FROM_SERVER: &str = "stat_from_server";

/// A [`ServantLayer`] counting each answered call of a server for tarsstat (made by
/// [`Communicator::server_stat_layer`](crate::Communicator::server_stat_layer); the
/// config-file [`Application`](crate::app::Application) installs it when `stat` is set).
///
/// Heads as TarsCpp's: `masterName` `stat_from_server`, `masterIp` the caller's address,
/// `slaveName` the server's `App.Server` (with its set, `App.Server.nameareaid`, and the set
/// fields), empty `slaveIp`, port 0, return value 0, the function as `interfaceName`.
/// A call answered with iRet 0 counts as a success with its time, iRet 1 as a timeout and
/// any other as an exception (TarsCpp casts iRet to its result).
pub struct ServerStatLayer {
    table: Arc<StatTable>,
    slave_name: String,
    set: [String; 3],
    /// Starts the report task once a runtime runs the calls.
    on_record: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for ServerStatLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStatLayer")
            .field("slave_name", &self.slave_name)
            .finish()
    }
}

impl ServerStatLayer {
    /// Counts into `table` for the server `module` (`App.Server`) in `set` (if any);
    /// `on_record` runs before each count.
    pub(crate) fn new(
        table: Arc<StatTable>,
        module: &str,
        set: Option<[String; 3]>,
        on_record: Box<dyn Fn() + Send + Sync>,
    ) -> Self {
        let slave_name = match &set {
            Some([n, a, i]) => format!("{module}.{n}{a}{i}"),
            None => module.to_string(),
        };
        ServerStatLayer {
            table,
            slave_name: limit(&slave_name, MAX_NAME_LEN),
            set: set.unwrap_or_default(),
            on_record,
        }
    }

    /// The head of one call of `current`.
    fn head(&self, current: &Current) -> StatMicMsgHead {
        let [set_name, set_area, set_id] = self.set.clone();
        StatMicMsgHead {
            master_name: STAT_FROM_SERVER.to_string(),
            slave_name: self.slave_name.clone(),
            interface_name: limit(current.func_name(), MAX_NAME_LEN),
            master_ip: limit(
                &current.peer_addr().ip().to_canonical().to_string(),
                MAX_IP_LEN,
            ),
            slave_ip: String::new(),
            slave_port: 0,
            return_value: 0,
            slave_set_name: set_name,
            slave_set_area: set_area,
            slave_set_id: set_id,
            tars_version: String::new(),
        }
    }
}

impl ServantLayer for ServerStatLayer {
    fn after(&self, current: &Current, duration: Duration, result: Result<(), &TarsError>) {
        // TarsCpp reports when it sends a response: one-way calls get none.
        if current.is_oneway() {
            return;
        }
        let result = match result.map_err(|e| e.code()) {
            Ok(()) | Err(0) => {
                StatResult::Success(i32::try_from(duration.as_millis()).unwrap_or(i32::MAX))
            }
            Err(1) => StatResult::Timeout,
            Err(_) => StatResult::Exception,
        };
        (self.on_record)();
        self.table.record(self.head(current), result);
    }
}
