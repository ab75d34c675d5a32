//! When to evaluate, and how far the input is complete.
//!
//! Two times meet here (ARCHITECTURE, "Two clocks"): the instant T an
//! evaluation answers for, and the watermark, the event time up to which
//! every input has been taken. Orphans expire against the watermark, never
//! against T: an event waits for its order `orphan_timeout` of *event
//! time*, and only a complete input says that much event time has passed.
//!
//! - [`EventClock`] (replay, demo): input sorted in event time, evaluated at
//!   every local midnight it crosses and at `--as-of`; the watermark of an
//!   evaluation is its own T. Demo paces it: a pause after each evaluation.
//! - [`WallClock`] (live): T is now (or pinned for tests); the watermark is
//!   the newest event time once the consumer has caught up, unknown before.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use vbp_detectors::state::Micros;
use vbp_detectors::time::{local_date, local_midnight, CST};

/// How far the input is complete in event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watermark {
    /// Not known: some input may still bring older events (a consumer
    /// behind its partitions). Nothing expires.
    Unknown,
    /// Every event at or before this instant (epoch µs) has been taken.
    At(Micros),
}

impl Watermark {
    pub fn at(t: DateTime<FixedOffset>) -> Self {
        Watermark::At(t.timestamp_micros())
    }
}

/// Replay's and demo's clock, driven by the event times it is shown.
#[derive(Debug, Clone)]
pub struct EventClock {
    next_midnight: Option<DateTime<FixedOffset>>,
    as_of: Option<DateTime<FixedOffset>>,
    pace: Duration,
}

impl EventClock {
    /// Due at every local midnight crossed, then at `as_of` at the end;
    /// `pace` is the wall pause after each evaluation. Every mode passes
    /// the same midnights (whether it evaluates them or not), so orphans
    /// expire and remembered ids are swept by one rule in replay, `sql`,
    /// `report` and demo alike.
    pub fn new(as_of: Option<DateTime<FixedOffset>>, pace: Duration) -> Self {
        EventClock { next_midnight: None, as_of, pace }
    }

    /// The wall-clock pause after an evaluation (zero but in demo mode).
    pub fn pace(&self) -> Duration {
        self.pace
    }

    /// The evaluation instants due before an event at `t` is taken: the
    /// local midnights strictly before `t` since the last one (none before
    /// the first event: there is nothing to evaluate yet).
    pub fn due_before(&mut self, t: DateTime<FixedOffset>) -> Vec<DateTime<FixedOffset>> {
        let mut midnight = *self.next_midnight.get_or_insert_with(|| next_midnight_after(t));
        let mut due = Vec::new();
        while midnight < t {
            due.push(midnight);
            midnight = next_midnight_after(midnight);
        }
        self.next_midnight = Some(midnight);
        due
    }

    /// The instants due once the input has ended: the midnights left
    /// before `--as-of`, then `--as-of` itself (nothing without it).
    pub fn due_at_end(&mut self) -> Vec<DateTime<FixedOffset>> {
        let Some(as_of) = self.as_of.take() else { return Vec::new() };
        let mut due = Vec::new();
        while let Some(midnight) = self.next_midnight.filter(|m| *m < as_of) {
            due.push(midnight);
            self.next_midnight = Some(next_midnight_after(midnight));
        }
        due.push(as_of);
        due
    }
}

/// The first local midnight strictly after `t`.
pub fn next_midnight_after(t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    local_midnight(local_date(t) + chrono::Days::new(1))
}

/// Live mode's clock: T is the wall clock's now, or a pinned instant.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    pinned: Option<DateTime<FixedOffset>>,
}

impl WallClock {
    pub fn new(pinned: Option<DateTime<FixedOffset>>) -> Self {
        WallClock { pinned }
    }

    pub fn now(&self) -> DateTime<FixedOffset> {
        self.pinned.unwrap_or_else(|| Utc::now().with_timezone(&CST))
    }

    /// The watermark of a live evaluation at `at`: the newest event time
    /// once every partition is read to its end, unknown while behind (one
    /// topic read ahead of another says nothing of what the other still
    /// holds) — and never past `at`, the wall clock: one event dated ahead
    /// (a producer's clock, a typing error) must not orphan everything
    /// that waits.
    pub fn watermark(caught_up: bool, latest_event: Option<Micros>, at: DateTime<FixedOffset>) -> Watermark {
        match (caught_up, latest_event) {
            (true, Some(t)) => Watermark::At(t.min(at.timestamp_micros())),
            _ => Watermark::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn no_midnight_is_due_before_the_first_event() {
        let mut clock = EventClock::new(None, Duration::ZERO);
        assert!(clock.due_before(t("2026-01-05T23:59:00+08:00")).is_empty());
    }

    #[test]
    fn each_local_midnight_crossed_is_due_once_in_order() {
        let mut clock = EventClock::new(None, Duration::ZERO);
        clock.due_before(t("2026-01-05T09:00:00+08:00"));
        assert!(clock.due_before(t("2026-01-05T23:00:00+08:00")).is_empty());
        assert_eq!(
            clock.due_before(t("2026-01-08T01:00:00+08:00")),
            vec![t("2026-01-06T00:00:00+08:00"), t("2026-01-07T00:00:00+08:00"), t("2026-01-08T00:00:00+08:00")]
        );
        assert!(clock.due_before(t("2026-01-08T02:00:00+08:00")).is_empty());
    }

    #[test]
    fn an_event_exactly_at_midnight_is_taken_before_that_midnight_is_evaluated() {
        // SPEC §5: an evaluation at T counts occurred_at ≤ T.
        let mut clock = EventClock::new(None, Duration::ZERO);
        clock.due_before(t("2026-01-05T09:00:00+08:00"));
        assert!(clock.due_before(t("2026-01-06T00:00:00+08:00")).is_empty());
        assert_eq!(clock.due_before(t("2026-01-06T00:00:01+08:00")), vec![t("2026-01-06T00:00:00+08:00")]);
    }

    #[test]
    fn midnights_are_local_china_standard_time_whatever_the_offset_of_the_event() {
        let mut clock = EventClock::new(None, Duration::ZERO);
        // 2026-01-05T17:00Z is 2026-01-06T01:00 in Beijing.
        clock.due_before(t("2026-01-05T15:00:00Z"));
        assert_eq!(clock.due_before(t("2026-01-05T17:00:00Z")), vec![t("2026-01-06T00:00:00+08:00")]);
    }

    #[test]
    fn the_end_evaluates_the_midnights_left_before_as_of_then_as_of() {
        let mut clock = EventClock::new(Some(t("2026-01-08T12:00:00+08:00")), Duration::ZERO);
        clock.due_before(t("2026-01-05T09:00:00+08:00"));
        assert_eq!(
            clock.due_at_end(),
            vec![
                t("2026-01-06T00:00:00+08:00"),
                t("2026-01-07T00:00:00+08:00"),
                t("2026-01-08T00:00:00+08:00"),
                t("2026-01-08T12:00:00+08:00")
            ]
        );
        assert!(clock.due_at_end().is_empty(), "as_of is evaluated once");
    }

    #[test]
    fn an_empty_input_evaluates_as_of_only() {
        let mut clock = EventClock::new(Some(t("2026-01-08T12:00:00+08:00")), Duration::ZERO);
        assert_eq!(clock.due_at_end(), vec![t("2026-01-08T12:00:00+08:00")]);
    }

    #[test]
    fn a_live_watermark_is_known_only_when_caught_up() {
        let now = t("2026-01-05T12:00:00+08:00");
        assert_eq!(WallClock::watermark(false, Some(5), now), Watermark::Unknown);
        assert_eq!(WallClock::watermark(true, None, now), Watermark::Unknown);
        assert_eq!(WallClock::watermark(true, Some(5), now), Watermark::At(5));
    }
}
