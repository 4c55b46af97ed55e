//! User properties reported to tarsproperty (PropertyF `reportPropMsg`): a [`Property`]
//! handle per name with the policies Sum, Avg, Max, Min, Count and Distr, whose values are
//! sent each report interval as TarsCpp writes them.

use std::sync::{Arc, Mutex};

/// One policy's running value of the current interval.
#[derive(Debug)]
enum Policy {
    Sum(i64),
    Avg {
        sum: i64,
        count: i64,
    },
    /// TarsCpp starts at -9999999 and resets to 0 after each report.
    Max(i32),
    /// The smallest non-zero value; 0 (nothing yet) is not reported.
    Min(i32),
    Count(i64),
    Distr {
        ranges: Vec<i32>,
        hits: Vec<u64>,
        over: u64,
    },
}

impl Policy {
    fn name(&self) -> &'static str {
        match self {
            Policy::Sum(_) => "Sum",
            Policy::Avg { .. } => "Avg",
            Policy::Max(_) => "Max",
            Policy::Min(_) => "Min",
            Policy::Count(_) => "Count",
            Policy::Distr { .. } => "Distr",
        }
    }

    fn set(&mut self, v: i32) {
        match self {
            Policy::Sum(d) => *d += i64::from(v),
            Policy::Avg { sum, count } => {
                *sum += i64::from(v);
                *count += 1;
            }
            Policy::Max(d) => *d = (*d).max(v),
            Policy::Min(d) => {
                if *d == 0 || (v != 0 && v < *d) {
                    *d = v;
                }
            }
            Policy::Count(d) => *d += 1,
            Policy::Distr { ranges, hits, over } => {
                // The first range bound above `v` (upper bound); past the last: `max`.
                let i = ranges.partition_point(|&r| r <= v);
                match hits.get_mut(i) {
                    Some(hit) => *hit += 1,
                    None => *over += 1,
                }
            }
        }
    }

    /// The value string of this interval, then the policy starts over.
    fn take(&mut self) -> String {
        match self {
            Policy::Sum(d) | Policy::Count(d) => std::mem::take(d).to_string(),
            Policy::Max(d) | Policy::Min(d) => std::mem::take(d).to_string(),
            Policy::Avg { sum, count } => {
                if *count == 0 {
                    return "0".into();
                }
                let s = double_string(*sum as f64 / *count as f64);
                (*sum, *count) = (0, 0);
                s
            }
            Policy::Distr { ranges, hits, over } => {
                let mut s = String::new();
                for (r, hit) in ranges.iter().zip(hits.iter_mut()) {
                    s.push_str(&format!("{r}|{},", std::mem::take(hit)));
                }
                s.push_str(&format!("max|{}", std::mem::take(over)));
                s
            }
        }
    }
}

/// A double as TarsCpp's `tostr<double>`: six decimals, trailing zeros (and a bare `.`) cut.
pub(crate) fn double_string(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

/// The policies of one property, in the order they were first used.
#[derive(Debug, Default)]
pub(crate) struct PropertyData {
    policies: Vec<Policy>,
}

impl PropertyData {
    fn policy(&mut self, name: &str, make: impl FnOnce() -> Policy) -> &mut Policy {
        let i = match self.policies.iter().position(|p| p.name() == name) {
            Some(i) => i,
            None => {
                self.policies.push(make());
                self.policies.len() - 1
            }
        };
        &mut self.policies[i]
    }

    /// `(policy, value)` of every policy, as reported (Min `0` left out, as TarsCpp does);
    /// the interval starts over.
    pub(crate) fn take(&mut self) -> Vec<(String, String)> {
        self.policies
            .iter_mut()
            .map(|p| (p.name().to_string(), p.take()))
            .filter(|(policy, value)| !(policy == "Min" && value == "0"))
            .collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
}

/// A user property (from [`Communicator::property`](super::Communicator::property)): each
/// policy method records one value into that policy; every report interval the values
/// go to tarsproperty (config `property`) and start over. Cheap to clone.
///
/// ```no_run
/// # fn f(comm: &tars_core::client::Communicator) {
/// let queue = comm.property("queueLength");
/// queue.avg(12);
/// queue.max(12);
/// let latency = comm.property("dbLatency").distr_ranges(&[10, 50, 100]);
/// latency.distr(42);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Property {
    pub(crate) data: Arc<Mutex<PropertyData>>,
    pub(crate) on_use: Option<Arc<super::stat::Reports>>,
}

impl Property {
    fn with(&self, name: &str, make: impl FnOnce() -> Policy, v: i32) {
        if let Some(reports) = &self.on_use {
            reports.ensure_started();
        }
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        data.policy(name, make).set(v);
    }

    /// Sum: the total of the interval's values.
    pub fn sum(&self, v: i32) {
        self.with("Sum", || Policy::Sum(0), v);
    }

    /// Avg: the mean of the interval's values (TarsCpp's double string, `2.5`, `3`).
    pub fn avg(&self, v: i32) {
        self.with("Avg", || Policy::Avg { sum: 0, count: 0 }, v);
    }

    /// Max: the largest value (TarsCpp: `-9999999` before any, `0` after the first report).
    pub fn max(&self, v: i32) {
        self.with("Max", || Policy::Max(-9_999_999), v);
    }

    /// Min: the smallest non-zero value (not reported while there is none).
    pub fn min(&self, v: i32) {
        self.with("Min", || Policy::Min(0), v);
    }

    /// Count: how many values were recorded (`v` itself is ignored, as in TarsCpp).
    pub fn count(&self, v: i32) {
        self.with("Count", || Policy::Count(0), v);
    }

    /// Distr: how many values fell below each range bound (see
    /// [`distr_ranges`](Self::distr_ranges)); reported as `10|3,50|1,max|0`.
    pub fn distr(&self, v: i32) {
        self.with("Distr", || distr(&[]), v);
    }

    /// Sets the Distr bounds (sorted, duplicates dropped); the current Distr counts restart.
    pub fn distr_ranges(self, ranges: &[i32]) -> Self {
        {
            let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
            *data.policy("Distr", || distr(ranges)) = distr(ranges);
        }
        self
    }
}

fn distr(ranges: &[i32]) -> Policy {
    let mut ranges = ranges.to_vec();
    ranges.sort_unstable();
    ranges.dedup();
    Policy::Distr {
        hits: vec![0; ranges.len()],
        ranges,
        over: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property() -> Property {
        Property {
            data: Arc::default(),
            on_use: None,
        }
    }

    fn take(p: &Property) -> Vec<(String, String)> {
        p.data.lock().unwrap().take()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn values_as_tarscpp_writes_them() {
        let p = property().distr_ranges(&[50, 10, 100, 10]);
        for v in [4, 10, 20, 100, 0] {
            p.sum(v);
            p.avg(v);
            p.max(v);
            p.min(v);
            p.count(v);
            p.distr(v);
        }
        assert_eq!(
            take(&p),
            pairs(&[
                ("Distr", "10|2,50|2,100|0,max|1"),
                ("Sum", "134"),
                ("Avg", "26.8"),
                ("Max", "100"),
                ("Min", "4"),
                ("Count", "5"),
            ])
        );
        // After a report: Max restarts at 0, Min at none (left out), Avg at "0".
        assert_eq!(
            take(&p),
            pairs(&[
                ("Distr", "10|0,50|0,100|0,max|0"),
                ("Sum", "0"),
                ("Avg", "0"),
                ("Max", "0"),
                ("Count", "0"),
            ])
        );
    }

    #[test]
    fn max_before_any_value_and_whole_averages() {
        let p = property();
        p.avg(3);
        p.avg(3);
        assert_eq!(take(&p), pairs(&[("Avg", "3")]));
        let q = property();
        q.max(-10_000_000);
        assert_eq!(take(&q), pairs(&[("Max", "-9999999")]));
        assert_eq!(double_string(1.0 / 3.0), "0.333333");
        assert_eq!(double_string(10.0), "10");
    }
}
