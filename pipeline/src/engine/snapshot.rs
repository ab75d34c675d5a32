//! What a checkpoint keeps of an [`Engine`]: each shard's state and waiting
//! events, the ids remembered for de-duplication and the alert book.
//!
//! Waiting events are kept as their origin (which, in live mode, carries
//! the original bytes) and decoded again on restore: the typed event needs
//! no serde of its own, and the bytes are what a dead letter needs anyway.


use serde::{Deserialize, Serialize};
use vbp_detectors::alert::AlertBook;
use vbp_detectors::reference::ReferenceKeys;
use vbp_detectors::state::{Awaited, Carried, Micros, State};
use vbp_schemas::{Event, Rejection};

use super::{Engine, SeenIds, Stats};

/// Borrowed view written to a checkpoint, so writing one copies nothing.
#[derive(Serialize)]
pub struct EngineSnapshotRef<'a, O> {
    /// What the state's ids stand for: a restart with changed reference
    /// files carries the state onto them ([`Engine::restore`]).
    reference_keys: &'a ReferenceKeys,
    shards: Vec<ShardSnapshotRef<'a, O>>,
    seen: &'a SeenIds,
    book: &'a AlertBook,
    latest_event: Option<Micros>,
}

/// The same, read back.
#[derive(Serialize)]
struct ShardSnapshotRef<'a, O> {
    state: &'a State,
    held: Vec<(&'a O, &'a Awaited)>,
}

#[derive(Deserialize)]
pub struct EngineSnapshot<O> {
    reference_keys: ReferenceKeys,
    shards: Vec<ShardSnapshot<O>>,
    #[serde(deserialize_with = "vbp_detectors::presized::deserialize")]
    seen: SeenIds,
    book: AlertBook,
    latest_event: Option<Micros>,
}

#[derive(Deserialize)]
struct ShardSnapshot<O> {
    state: State,
    held: Vec<(O, Awaited)>,
}

impl<O> Engine<O> {
    pub fn snapshot(&self) -> EngineSnapshotRef<'_, O> {
        EngineSnapshotRef {
            reference_keys: &self.keys,
            shards: self
                .shards
                .iter()
                .map(|s| ShardSnapshotRef { state: &s.state, held: s.held.iter().map(|h| (&h.origin, &h.awaited)).collect() })
                .collect(),
            seen: &self.seen,
            book: &self.book,
            latest_event: self.stats.latest_event,
        }
    }

    /// Puts a checkpoint's contents back; `version` is the checkpoint's
    /// ([`crate::checkpoint::ReadBack`]). `decode` turns a waiting event's
    /// origin back into the event; it decoded before, so failing now means
    /// the checkpoint does not belong to this build or configuration.
    ///
    /// A checkpoint written with other reference files (a restart after
    /// they changed) is carried onto this engine's: `Some` says what could
    /// not be carried whole (see [`State::carried`]).
    pub fn restore(
        &mut self,
        snapshot: EngineSnapshot<O>,
        version: u32,
        decode: impl Fn(&O) -> Result<Event, Rejection>,
    ) -> Result<Option<Carried>, String> {
        let same_reference = snapshot.reference_keys == self.keys;
        let forgotten_before = self.forgotten_before(snapshot.latest_event);
        let mut carried: Option<Carried> = None;
        if snapshot.shards.len() != self.shards.len() {
            // Shards hold whole institutions; re-cutting them is not done
            // here, so the state keeps the count it was written with.
            tracing::warn!(
                checkpoint = snapshot.shards.len(),
                asked = self.shards.len(),
                "the checkpoint was written with another number of threads; keeping its number of shards"
            );
            self.shard(super::Routes::new(snapshot.shards.len()));
        }
        for (shard, saved) in self.shards.iter_mut().zip(snapshot.shards) {
            let answers_for = shard.state.answers_for.take();
            shard.state = if same_reference {
                saved.state.restored(&self.reference)?
            } else {
                let (state, shard_carried) = saved.state.restored_onto(&snapshot.reference_keys, &self.reference, forgotten_before)?;
                carried.get_or_insert_with(Carried::default).merge(shard_carried);
                state
            };
            shard.state.answers_for = answers_for;
            for (origin, awaited) in saved.held {
                let event = decode(&origin).map_err(|r| format!("a waiting event no longer decodes: {r}"))?;
                shard.held.hold(event, origin, awaited);
            }
        }
        self.seen = snapshot.seen;
        self.book = snapshot.book;
        if version < 9 {
            // v8 remembered each id's content as a digest of its Debug text.
            for seen in self.seen.values_mut() {
                seen.content = super::content::legacy(seen.content);
            }
        }
        self.stats = Stats { latest_event: snapshot.latest_event, ..Stats::default() };
        Ok(carried)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use vbp_detectors::config::DetectorConfig;
    use vbp_schemas::{decode, DecodeLimits, Reason};

    use super::*;
    use crate::engine::{content, Fate};

    #[test]
    fn a_v8_checkpoint_still_tells_a_resend_from_another_event_under_its_id() {
        let out = std::env::temp_dir().join(format!("vbp-snapshot-v8-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let options = vbp_simulator::SimulateOptions { out: out.clone(), scale: vbp_simulator::Scale::Small, seed: 5, days: Some(5) };
        vbp_simulator::run(&options).expect("simulate");
        let reference = crate::replay::load_reference(&out.join("reference")).expect("reference");
        let orders = std::fs::read(out.join("events/orders.ndjson")).expect("orders");
        let _ = std::fs::remove_dir_all(&out);
        let events: Vec<Event> = orders.split(|b| *b == b'\n').filter_map(|l| decode(l, &DecodeLimits::default()).ok()).collect();

        let mut written = Engine::<u32>::new(Arc::clone(&reference), DetectorConfig::default()).expect("engine");
        let placed = events.iter().find(|e| written.ingest((*e).clone(), 1).fate == Fate::Applied).expect("an order applies").clone();
        // What a v8 checkpoint holds: digests of the events' Debug text.
        let debug_texts: std::collections::HashMap<u128, u64> =
            events.iter().map(|e| (super::super::id_digest(&e.event_id), content::debug_text_digest(e))).collect();
        for (id, seen) in written.seen.iter_mut() {
            seen.content = debug_texts[id];
        }
        let body = postcard::to_stdvec(&written.snapshot()).expect("encode");
        let restore = |version| {
            let mut engine = Engine::<u32>::new(Arc::clone(&reference), DetectorConfig::default()).expect("engine");
            let snapshot: EngineSnapshot<u32> = postcard::from_bytes(&body).expect("decode");
            engine.restore(snapshot, version, |_| Err(Rejection::new(Reason::BadValue, "nothing waits"))).expect("restore");
            engine
        };
        let mut restored = restore(8);
        assert_eq!(restored.ingest(placed.clone(), 2).fate, Fate::Duplicate, "a resend of what v8 remembered");
        let mut other = events.iter().find(|e| e.event_id != placed.event_id).expect("another event").clone();
        other.event_id = placed.event_id.clone();
        assert_eq!(restored.ingest(other, 3).fate, Fate::Rejected(Reason::BadValue), "another event under its id");
        // Read as v9, the same digests would not match: the version matters.
        assert_ne!(restore(9).ingest(placed, 4).fate, Fate::Duplicate);
    }
}
