//! Event-time alignment of the input partitions while catching up.
//!
//! A consumer behind its partitions reads them side by side by *offset*,
//! not by event time: a topic with fewer events a day (payments) runs
//! weeks ahead of one with more (orders, deliveries). Each payment read
//! before its delivery waits in memory until the delivery comes
//! (`Fate::Waiting`), and at province scale those waits outgrew the host:
//! 1.75 M payments waited after 3.5 minutes of the province month, and the
//! pipeline passed 12 GB (BENCHMARKS.md, 2026-12-07).
//!
//! The remedy is Flink's watermark alignment. The *frontier* is the event
//! time of the slowest partition still behind its end. A partition whose
//! last event runs more than `max_skew` ahead of it is paused (held back),
//! and resumed once the frontier comes within half of that. The partition
//! at the frontier is never paused, so the input always moves. A partition
//! read to its end holds no one back, and neither does one that has taken
//! nothing for [`IDLE`] while not paused (its leader is down, say): the
//! others go on without it.
//!
//! This is pure bookkeeping over values (event times, lags, instants). The
//! source pauses a partition by not reading its own queue, so librdkafka
//! stops fetching it when the queue is full, and resumes it by reading it
//! again: nothing is fetched twice or repositioned. (librdkafka's pause
//! and resume fetch again from the last message taken, an offset inside a
//! record batch, which tansu answers from the *next* batch: the rest of
//! the batch was skipped, 300,000 messages of the province month.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vbp_detectors::state::Micros;

use super::PartitionLag;

/// A partition that has taken nothing this long while neither paused nor
/// read to its end stops holding the frontier back.
pub const IDLE: Duration = Duration::from_secs(30);

/// A topic and partition.
pub type PartitionKey = (String, i32);

/// How far the input is read in event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frontier {
    /// No partition is behind its end (as far as the last lags say).
    Drained,
    /// A partition behind its end has not yielded an event yet.
    Unknown,
    /// The last event time of the slowest partition behind its end (epoch µs).
    At(Micros),
}

/// What to tell the consumer: partitions to pause and to resume.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub pause: Vec<PartitionKey>,
    pub resume: Vec<PartitionKey>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.pause.is_empty() && self.resume.is_empty()
    }
}

#[derive(Debug, Clone)]
struct Progress {
    /// Occurred-at of the last event taken from it.
    event_time: Option<Micros>,
    /// Messages remain to be read (lag above 0, or not known yet).
    behind: bool,
    /// When it last took a message, or was assigned or resumed.
    active_at: Instant,
    paused: bool,
}

/// The event-time progress of every owned partition, and which are paused.
#[derive(Debug)]
pub struct Alignment {
    max_skew: Micros,
    partitions: BTreeMap<PartitionKey, Progress>,
}

impl Alignment {
    pub fn new(max_skew: Duration) -> Self {
        Alignment { max_skew: i64::try_from(max_skew.as_micros()).unwrap_or(i64::MAX), partitions: BTreeMap::new() }
    }

    /// Follows the assignment: partitions no longer owned are forgotten,
    /// new ones start unknown and behind.
    pub fn owned(&mut self, owned: &[PartitionKey], now: Instant) {
        self.partitions.retain(|key, _| owned.contains(key));
        for key in owned {
            self.partitions
                .entry(key.clone())
                .or_insert(Progress { event_time: None, behind: true, active_at: now, paused: false });
        }
    }

    /// An event that occurred at `event_time` was taken from `key`.
    pub fn took(&mut self, key: &PartitionKey, event_time: Micros, now: Instant) {
        if let Some(p) = self.partitions.get_mut(key) {
            p.event_time = Some(event_time);
            p.active_at = now;
        }
    }

    /// The lags of the last statistics: a lag of 0 is read to the end.
    pub fn lags(&mut self, lags: &[PartitionLag]) {
        for l in lags {
            if let Some(p) = self.partitions.get_mut(&(l.topic.clone(), l.partition)) {
                p.behind = l.lag != Some(0);
            }
        }
    }

    /// The slowest partition still behind, in event time.
    pub fn frontier(&self, now: Instant) -> Frontier {
        let mut frontier = Frontier::Drained;
        for p in self.partitions.values().filter(|p| p.behind && (p.paused || now.duration_since(p.active_at) < IDLE)) {
            frontier = match (frontier, p.event_time) {
                (_, None) | (Frontier::Unknown, _) => return Frontier::Unknown,
                (Frontier::Drained, Some(t)) => Frontier::At(t),
                (Frontier::At(f), Some(t)) => Frontier::At(f.min(t)),
            };
        }
        frontier
    }

    /// What to pause and resume now; the plan is taken as applied.
    pub fn plan(&mut self, now: Instant) -> Plan {
        let frontier = self.frontier(now);
        let mut plan = Plan::default();
        for (key, p) in &mut self.partitions {
            let ahead_by = match (frontier, p.event_time) {
                (Frontier::At(f), Some(t)) if p.behind => t.saturating_sub(f),
                // Nothing to align against, or nothing left to read here.
                _ => Micros::MIN,
            };
            let pause = if p.paused { ahead_by > self.max_skew / 2 } else { ahead_by > self.max_skew };
            if pause != p.paused {
                p.paused = pause;
                if pause {
                    plan.pause.push(key.clone());
                } else {
                    p.active_at = now;
                    plan.resume.push(key.clone());
                }
            }
        }
        plan
    }

    /// The last event time taken from a partition (`None` first: a
    /// partition that has yielded nothing is the slowest there is).
    pub fn event_time(&self, key: &PartitionKey) -> Option<Micros> {
        self.partitions.get(key).and_then(|p| p.event_time)
    }

    /// The partitions paused now.
    pub fn paused(&self) -> Vec<PartitionKey> {
        self.partitions.iter().filter(|(_, p)| p.paused).map(|(key, _)| key.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Micros = 3_600_000_000;

    fn key(topic: &str, partition: i32) -> PartitionKey {
        (topic.to_string(), partition)
    }

    fn lag(topic: &str, partition: i32, lag: i64) -> PartitionLag {
        PartitionLag { topic: topic.into(), partition, lag: Some(lag) }
    }

    fn three(now: Instant) -> Alignment {
        let mut a = Alignment::new(Duration::from_secs(3600));
        a.owned(&[key("orders", 0), key("deliveries", 0), key("payments", 0)], now);
        a
    }

    #[test]
    fn a_partition_more_than_the_skew_ahead_of_the_slowest_is_paused_and_resumed_at_half() {
        let now = Instant::now();
        let mut a = three(now);
        a.took(&key("orders", 0), 10 * HOUR, now);
        a.took(&key("deliveries", 0), 10 * HOUR, now);
        a.took(&key("payments", 0), 11 * HOUR + 1, now);
        assert_eq!(a.frontier(now), Frontier::At(10 * HOUR));
        assert_eq!(a.plan(now), Plan { pause: vec![key("payments", 0)], resume: vec![] });
        assert_eq!(a.paused(), vec![key("payments", 0)]);
        // Within the skew but not within half of it: stays paused.
        a.took(&key("orders", 0), 10 * HOUR + HOUR / 4, now);
        a.took(&key("deliveries", 0), 10 * HOUR + HOUR / 4, now);
        assert!(a.plan(now).is_empty());
        a.took(&key("orders", 0), 10 * HOUR + HOUR / 2 + 1, now);
        a.took(&key("deliveries", 0), 10 * HOUR + HOUR / 2 + 1, now);
        assert_eq!(a.plan(now), Plan { pause: vec![], resume: vec![key("payments", 0)] });
        assert!(a.paused().is_empty());
    }

    #[test]
    fn the_slowest_partition_is_never_paused_so_the_input_always_moves() {
        let now = Instant::now();
        let mut a = three(now);
        a.took(&key("orders", 0), 0, now);
        a.took(&key("deliveries", 0), 100 * HOUR, now);
        a.took(&key("payments", 0), 200 * HOUR, now);
        let plan = a.plan(now);
        assert_eq!(plan.pause, vec![key("deliveries", 0), key("payments", 0)]);
        assert!(!plan.pause.contains(&key("orders", 0)));
    }

    #[test]
    fn a_partition_read_to_its_end_holds_no_one_back_and_is_not_paused() {
        let now = Instant::now();
        let mut a = three(now);
        a.took(&key("orders", 0), 0, now);
        a.took(&key("deliveries", 0), 100 * HOUR, now);
        a.took(&key("payments", 0), 200 * HOUR, now);
        a.plan(now);
        a.lags(&[lag("orders", 0, 0), lag("deliveries", 0, 5), lag("payments", 0, 5)]);
        assert_eq!(a.frontier(now), Frontier::At(100 * HOUR));
        assert_eq!(a.plan(now), Plan { pause: vec![], resume: vec![key("deliveries", 0)] });
        a.lags(&[lag("deliveries", 0, 0)]);
        assert_eq!(a.frontier(now), Frontier::At(200 * HOUR));
        assert_eq!(a.plan(now), Plan { pause: vec![], resume: vec![key("payments", 0)] });
        a.lags(&[lag("payments", 0, 0)]);
        assert_eq!(a.frontier(now), Frontier::Drained);
    }

    #[test]
    fn a_partition_behind_that_yielded_nothing_yet_pauses_no_one_and_leaves_the_frontier_unknown() {
        let now = Instant::now();
        let mut a = three(now);
        a.took(&key("orders", 0), 0, now);
        a.took(&key("deliveries", 0), 100 * HOUR, now);
        assert_eq!(a.frontier(now), Frontier::Unknown);
        assert!(a.plan(now).is_empty());
    }

    #[test]
    fn a_partition_idle_while_not_paused_stops_holding_the_others_back() {
        let start = Instant::now();
        let mut a = three(start);
        a.took(&key("orders", 0), 0, start);
        a.took(&key("deliveries", 0), 100 * HOUR, start);
        a.took(&key("payments", 0), 100 * HOUR, start);
        assert_eq!(a.plan(start).pause.len(), 2);
        // Orders yields nothing for longer than IDLE; the paused ones are
        // not idle (they wait by design) and now form the frontier.
        let later = start + IDLE + Duration::from_secs(1);
        assert_eq!(a.frontier(later), Frontier::At(100 * HOUR));
        assert_eq!(a.plan(later).resume.len(), 2);
    }

    #[test]
    fn partitions_no_longer_owned_are_forgotten() {
        let now = Instant::now();
        let mut a = three(now);
        a.took(&key("orders", 0), 0, now);
        a.took(&key("deliveries", 0), 0, now);
        a.took(&key("payments", 0), 100 * HOUR, now);
        a.plan(now);
        a.owned(&[key("payments", 0)], now);
        assert_eq!(a.paused(), vec![key("payments", 0)]);
        assert_eq!(a.frontier(now), Frontier::At(100 * HOUR));
        assert_eq!(a.plan(now).resume, vec![key("payments", 0)]);
    }
}
