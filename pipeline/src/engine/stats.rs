//! Counters for the run summary and the pipeline's own metrics.

use std::collections::BTreeMap;

use vbp_detectors::alert::{Status, Transition};
use vbp_schemas::Reason;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lines or messages read, blank lines excepted.
    pub read: u64,
    /// Inputs that decoded into an event.
    pub decoded: u64,
    /// Events applied to the state (directly or after waiting).
    pub applied: u64,
    /// Repeated `event_id`s, counted and ignored.
    pub duplicates: u64,
    /// Events later than `--as-of`, not applied.
    pub after_as_of: u64,
    pub rejected: BTreeMap<Reason, u64>,
    pub evaluations: u64,
    /// Wall-clock microseconds spent evaluating, over all evaluations.
    pub evaluation_micros: u64,
    /// The same by rule module (every shard's time added), for the cost of
    /// each rule per evaluation.
    pub rule_micros: BTreeMap<&'static str, u64>,
    /// The latest `occurred_at` decoded, in epoch microseconds.
    pub latest_event: Option<i64>,
    /// Firing transitions by (alertname, severity).
    pub fired: BTreeMap<(String, String), u64>,
    /// Resolved transitions by (alertname, severity).
    pub resolved: BTreeMap<(String, String), u64>,
}

impl Stats {
    pub fn reject(&mut self, reason: Reason) {
        *self.rejected.entry(reason).or_default() += 1;
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    pub fn transition(&mut self, t: &Transition) {
        let key = (t.alert.name.as_str().to_string(), t.alert.severity.as_str().to_string());
        let counts = match t.status {
            Status::Firing => &mut self.fired,
            Status::Resolved => &mut self.resolved,
        };
        *counts.entry(key).or_default() += 1;
    }
}
