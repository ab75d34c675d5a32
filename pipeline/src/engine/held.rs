//! Events that arrived before what they refer to (SPEC §4 orphans).
//!
//! Topics are only co-partitioned, not ordered with each other, so a
//! delivery may come before its order. Such an event waits here, keyed by
//! what it waits for, until that arrives or `orphan_timeout` of event time
//! passes — then it is rejected as an `orphan`, never dropped silently.

use vbp_detectors::state::{Awaited, Micros};
use vbp_detectors::FastMap;
use vbp_schemas::Event;

/// One waiting event with where it came from.
#[derive(Debug, Clone)]
pub struct HeldEvent<O> {
    pub event: Event,
    pub origin: O,
    pub awaited: Awaited,
}

/// The waiting room.
#[derive(Debug, Clone)]
pub struct Held<O> {
    waiting: FastMap<Awaited, Vec<HeldEvent<O>>>,
    count: usize,
}

impl<O> Default for Held<O> {
    fn default() -> Self {
        Held { waiting: FastMap::default(), count: 0 }
    }
}

impl<O> Held<O> {
    pub fn hold(&mut self, event: Event, origin: O, awaited: Awaited) {
        self.count += 1;
        self.waiting.entry(awaited.clone()).or_default().push(HeldEvent { event, origin, awaited });
    }

    /// Takes out everything that waited for `arrived`.
    pub fn release(&mut self, arrived: &Awaited) -> Vec<HeldEvent<O>> {
        let released = self.waiting.remove(arrived).unwrap_or_default();
        self.count -= released.len();
        released
    }

    /// Takes out every event that occurred before `cutoff` (the orphans).
    pub fn expire_before(&mut self, cutoff: Micros) -> Vec<HeldEvent<O>> {
        let mut expired = Vec::new();
        self.waiting.retain(|_, events| {
            let (old, young): (Vec<_>, Vec<_>) =
                events.drain(..).partition(|h| h.event.occurred_at.timestamp_micros() < cutoff);
            expired.extend(old);
            *events = young;
            !events.is_empty()
        });
        self.count -= expired.len();
        expired.sort_by(|a, b| super::event_order(&a.event, &b.event));
        expired
    }

    pub fn len(&self) -> usize {
        self.count
    }

    /// Every waiting event, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &HeldEvent<O>> {
        self.waiting.values().flatten()
    }
}
