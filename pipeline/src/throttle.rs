//! Repeated trouble logged once per backoff step, not once per retry.
//!
//! With the broker down, librdkafka reports every reconnect attempt and the
//! consumer every failed fetch: 42 lines a second landed in the journal.
//! A [`Throttle`] logs the first occurrence at once, then at most one line
//! when each step of 1 s, 2 s, 4 s … 60 s has passed, saying how many it
//! held back; when the trouble ends it says so once, with its duration.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The first step after the first line, doubled up to [`LAST_STEP`].
const FIRST_STEP: Duration = Duration::from_secs(1);
const LAST_STEP: Duration = Duration::from_secs(60);

/// One kind of trouble (e.g. "Kafka"); see the module doc.
pub struct Throttle {
    what: &'static str,
    trouble: Mutex<Option<Trouble>>,
}

#[derive(Debug, Clone, Copy)]
struct Trouble {
    since: Instant,
    /// The next line is written at or after this.
    next_line: Instant,
    step: Duration,
    held_back: u64,
    total: u64,
}

/// What a [`Throttle`] decided about one occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Write it, followed by this note (empty for the first).
    Log(String),
    /// Held back; counted in the next line.
    HeldBack,
}

impl Throttle {
    pub const fn new(what: &'static str) -> Self {
        Throttle { what, trouble: Mutex::new(None) }
    }

    /// Logs `message` at warning level, or holds it back.
    pub fn warn(&self, message: impl std::fmt::Display) {
        if let Verdict::Log(note) = self.occurred(Instant::now()) {
            tracing::warn!("{}: {message}{note}", self.what);
        }
    }

    /// The trouble is over (a message arrived, the broker answered): one
    /// line saying for how long it lasted, if it was logged at all.
    pub fn recovered(&self) {
        if let Some(note) = self.ended(Instant::now()) {
            tracing::warn!("{}: {note}", self.what);
        }
    }

    fn occurred(&self, now: Instant) -> Verdict {
        let Ok(mut slot) = self.trouble.lock() else { return Verdict::Log(String::new()) };
        let Some(t) = slot.as_mut() else {
            *slot = Some(Trouble { since: now, next_line: now + FIRST_STEP, step: FIRST_STEP, held_back: 0, total: 1 });
            return Verdict::Log(String::new());
        };
        t.total += 1;
        if now < t.next_line {
            t.held_back += 1;
            return Verdict::HeldBack;
        }
        let note = match t.held_back {
            0 => format!(" (for {} s)", seconds(t.since, now)),
            n => format!(" (for {} s; {n} more like it held back)", seconds(t.since, now)),
        };
        t.held_back = 0;
        t.step = (t.step * 2).min(LAST_STEP);
        t.next_line = now + t.step;
        Verdict::Log(note)
    }

    fn ended(&self, now: Instant) -> Option<String> {
        let t = self.trouble.lock().ok()?.take()?;
        Some(format!("working again after {} s ({} problems reported)", seconds(t.since, now), t.total))
    }
}

/// Whole seconds from `since` to `now`.
fn seconds(since: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(since).as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_every_25_ms_for_a_minute_writes_one_line_per_backoff_step() {
        let throttle = Throttle::new("Kafka");
        let start = Instant::now();
        let lines: Vec<String> = (0..2400)
            .filter_map(|i| match throttle.occurred(start + Duration::from_millis(25 * i)) {
                Verdict::Log(note) => Some(note),
                Verdict::HeldBack => None,
            })
            .collect();
        // At 0 s, then after 1, 2, 4, 8, 16 and 32 s: 0, 1, 3, 7, 15, 31 s.
        assert_eq!(lines.len(), 6, "{lines:?}");
        assert_eq!(lines[0], "");
        assert_eq!(lines[1], " (for 1 s; 39 more like it held back)");
        assert!(lines[5].starts_with(" (for 31 s;"), "{lines:?}");
        assert_eq!(throttle.ended(start + Duration::from_secs(60)).as_deref(), Some("working again after 60 s (2400 problems reported)"));
        assert_eq!(throttle.ended(start + Duration::from_secs(61)), None, "said once");
        assert_eq!(throttle.occurred(start + Duration::from_secs(62)), Verdict::Log(String::new()), "new trouble starts over");
    }
}
