//! Constants from TARS `BaseF.tars` and the status keys of TarsCpp.

/// TARS binary protocol.
pub const TARS_VERSION: i16 = 1;
/// TUP (`UniAttribute`, simple map form).
pub const TUP_VERSION: i16 = 3;
/// JSON parameters (not supported by tars-rs; answered with [`SERVER_DECODE_ERR`]).
pub const JSON_VERSION: i16 = 5;

/// A call that expects a response.
pub const NORMAL_PACKET: i8 = 0;
/// A one-way call: no response is sent.
pub const ONEWAY_PACKET: i8 = 1;

/// Success.
pub const SERVER_SUCCESS: i32 = 0;
/// The server could not decode the request or its parameters.
pub const SERVER_DECODE_ERR: i32 = -1;
/// The server could not encode the response.
pub const SERVER_ENCODE_ERR: i32 = -2;
/// No such function on the servant.
pub const SERVER_NO_FUNC_ERR: i32 = -3;
/// No such servant on the server.
pub const SERVER_NO_SERVANT_ERR: i32 = -4;
/// Grid (gray release) state mismatch.
pub const SERVER_RESET_GRID: i32 = -5;
/// The request waited in the server longer than its timeout.
pub const SERVER_QUEUE_TIMEOUT: i32 = -6;
/// The call timed out (client side).
pub const INVOKE_TIMEOUT: i32 = -7;
/// The client could not connect.
pub const PROXY_CONNECT_ERR: i32 = -8;
/// The server is overloaded.
pub const SERVER_OVERLOAD: i32 = -9;
/// No endpoint is available (client side).
pub const ADAPTER_NULL: i32 = -10;
/// Invalid set call.
pub const INVOKE_BY_INVALID_ESET: i32 = -11;
/// The client could not decode the response.
pub const CLIENT_DECODE_ERR: i32 = -12;
/// The client could not send the request.
pub const SEND_REQUEST_ERR: i32 = -13;
/// Any other server-side failure.
pub const SERVER_UNKNOWN_ERR: i32 = -99;

/// The TarsCpp name of a return code (`TARSSERVERNOFUNCERR` for -3), if it has one.
pub fn ret_code_name(code: i32) -> Option<&'static str> {
    Some(match code {
        0 => "TARSSERVERSUCCESS",
        -1 => "TARSSERVERDECODEERR",
        -2 => "TARSSERVERENCODEERR",
        -3 => "TARSSERVERNOFUNCERR",
        -4 => "TARSSERVERNOSERVANTERR",
        -5 => "TARSSERVERRESETGRID",
        -6 => "TARSSERVERQUEUETIMEOUT",
        -7 => "TARSINVOKETIMEOUT",
        -8 => "TARSPROXYCONNECTERR",
        -9 => "TARSSERVEROVERLOAD",
        -10 => "TARSADAPTERNULL",
        -11 => "TARSINVOKEBYINVALIDESET",
        -12 => "TARSCLIENTDECODEERR",
        -13 => "TARSSENDREQUESTERR",
        -99 => "TARSSERVERUNKNOWNERR",
        _ => return None,
    })
}

/// iMessageType flag: the request carries a hash key.
pub const MESSAGE_TYPE_HASH: i32 = 0x01;
/// iMessageType flag: grid routing.
pub const MESSAGE_TYPE_GRID: i32 = 0x02;
/// iMessageType flag: dyed (traced) request.
pub const MESSAGE_TYPE_DYED: i32 = 0x04;
/// iMessageType flag: sampled.
pub const MESSAGE_TYPE_SAMPLE: i32 = 0x08;
/// iMessageType flag: asynchronous call.
pub const MESSAGE_TYPE_ASYNC: i32 = 0x10;
/// iMessageType flag: set name present.
pub const MESSAGE_TYPE_SETNAME: i32 = 0x80;
/// iMessageType flag: call tracing.
pub const MESSAGE_TYPE_TRACE: i32 = 0x100;

/// Status key: the push-callback function name.
pub const STATUS_TARS_FUNC: &str = "TARS_FUNC";
/// Status key of TUP responses: the return code.
pub const STATUS_RESULT_CODE: &str = "STATUS_RESULT_CODE";
/// Status key of TUP responses: the result description.
pub const STATUS_RESULT_DESC: &str = "STATUS_RESULT_DESC";
/// Status key of dyed requests.
pub const STATUS_DYED_KEY: &str = "STATUS_DYED_KEY";
/// Status key of grid routing.
pub const STATUS_GRID_KEY: &str = "STATUS_GRID_KEY";
/// Status key of set calls.
pub const STATUS_SETNAME_VALUE: &str = "STATUS_SETNAME_VALUE";
/// Status key of traced calls.
pub const STATUS_TRACE_KEY: &str = "STATUS_TRACE_KEY";

/// The built-in keep-alive function every servant answers.
pub const TARS_PING: &str = "tars_ping";
/// sResultDesc of the id-0 response that asks push clients to reconnect (TarsGo's graceful
/// shutdown notice).
pub const RECONNECT_DESC: &str = "_reconnect_";

/// Default largest frame accepted (10 MiB, what TarsGo and TarsJava accept).
pub const DEFAULT_MAX_FRAME_LEN: usize = 10 * 1024 * 1024;
/// Largest frame limit that can be configured (100 MiB, TarsCpp's limit).
pub const MAX_FRAME_LEN_LIMIT: usize = 100 * 1024 * 1024;
