//! Results and their output: latency histograms, the `Report` of one measurement, the
//! table (stdout, or stderr with `--json`) and the JSON lines.

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};
use tars_rs::cli;

/// Latencies in µs.
pub type Hist = Histogram<u64>;

/// An empty histogram: 1 µs to an hour, 3 significant digits.
pub fn new_hist() -> Hist {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

/// The value at quantile `q` of `h` (0 without samples).
pub fn quantile(h: &Hist, q: f64) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(q)
    }
}

/// The largest value of `h` (0 without samples).
pub fn max(h: &Hist) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.max()
    }
}

/// `x` rounded to `1 / scale` (`scale` 1000.0: three decimals).
pub fn round(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

/// The result of one measurement, printed as a table row or a JSON line.
pub struct Report {
    pub mode: String,
    pub calls: u64,
    pub errors: u64,
    pub secs: f64,
    pub hist: Hist,
    pub extra: Map<String, Value>,
}

impl Report {
    /// Successful calls per second of the window.
    pub fn calls_per_s(&self) -> f64 {
        if self.secs > 0.0 {
            self.calls as f64 / self.secs
        } else {
            0.0
        }
    }

    /// The latency at quantile `q` (0 without samples).
    pub fn pct(&self, q: f64) -> u64 {
        quantile(&self.hist, q)
    }

    fn core(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("mode".into(), json!(self.mode));
        m.insert("calls_per_s".into(), json!(round(self.calls_per_s(), 10.0)));
        m.insert("p50_us".into(), json!(self.pct(0.5)));
        m.insert("p90_us".into(), json!(self.pct(0.9)));
        m.insert("p99_us".into(), json!(self.pct(0.99)));
        m.insert("p999_us".into(), json!(self.pct(0.999)));
        m.insert("max_us".into(), json!(max(&self.hist)));
        m.insert("calls".into(), json!(self.calls));
        m.insert("errors".into(), json!(self.errors));
        m.insert("seconds".into(), json!(round(self.secs, 1000.0)));
        m
    }

    /// The result as a JSON object: the core figures, then `extra`.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = self.core();
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        m
    }
}

/// Prints a table of `rows` (stdout, or stderr with `--json`) and, with `--json`, each of
/// `results` as one JSON line on stdout.
pub fn emit(
    title: &str,
    rows: &[Map<String, Value>],
    results: &[Map<String, Value>],
    columns: &[&str],
) {
    let json_out = cli::switch("json");
    let mut table = format!("{title}\n");
    let widths: Vec<usize> = columns
        .iter()
        .map(|c| {
            rows.iter()
                .map(|r| cell(r.get(*c)).len())
                .chain([c.len()])
                .max()
                .unwrap_or(4)
        })
        .collect();
    for (c, w) in columns.iter().zip(&widths) {
        table.push_str(&format!("{c:>w$}  "));
    }
    table.push('\n');
    for r in rows {
        for (c, w) in columns.iter().zip(&widths) {
            table.push_str(&format!("{:>w$}  ", cell(r.get(*c))));
        }
        table.push('\n');
    }
    if json_out {
        eprint!("{table}");
        for r in results {
            println!("{}", Value::Object(r.clone()));
        }
    } else {
        print!("{table}");
    }
}

/// [`emit`] of one row that is also the one result.
pub fn emit_one(title: &str, row: &Map<String, Value>, columns: &[&str]) {
    let row = std::slice::from_ref(row);
    emit(title, row, row, columns);
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if n.is_f64() && f.abs() >= 100.0 => format!("{f:.0}"),
            Some(f) if n.is_f64() => format!("{f:.3}"),
            _ => n.to_string(),
        },
        Some(Value::Object(_)) => "{..}".into(),
        Some(other) => other.to_string(),
    }
}

/// The table columns of `rpc` and `baseline`.
pub const RPC_COLUMNS: &[&str] = &[
    "mode",
    "payload",
    "connections",
    "in_flight",
    "rate",
    "calls_per_s",
    "p50_us",
    "p90_us",
    "p99_us",
    "p999_us",
    "max_us",
    "errors",
    "ratio",
];
