//! What a checkpoint keeps of an [`Engine`]: the state, the ids remembered
//! for de-duplication, the events still waiting and the alert book.
//!
//! Waiting events are kept as their origin (which, in live mode, carries
//! the original bytes) and decoded again on restore: the typed event needs
//! no serde of its own, and the bytes are what a dead letter needs anyway.


use serde::{Deserialize, Serialize};
use vbp_detectors::alert::AlertBook;
use vbp_detectors::state::{Awaited, Micros, State};
use vbp_schemas::{Event, Rejection};

use super::{Engine, SeenIds, Stats};

/// Borrowed view written to a checkpoint, so writing one copies nothing.
#[derive(Serialize)]
pub struct EngineSnapshotRef<'a, O> {
    state: &'a State,
    seen: &'a SeenIds,
    held: Vec<(&'a O, &'a Awaited)>,
    book: &'a AlertBook,
    latest_event: Option<Micros>,
}

/// The same, read back.
#[derive(Deserialize)]
pub struct EngineSnapshot<O> {
    state: State,
    #[serde(deserialize_with = "vbp_detectors::presized::deserialize")]
    seen: SeenIds,
    held: Vec<(O, Awaited)>,
    book: AlertBook,
    latest_event: Option<Micros>,
}

impl<O> Engine<O> {
    pub fn snapshot(&self) -> EngineSnapshotRef<'_, O> {
        EngineSnapshotRef {
            state: &self.state,
            seen: &self.seen,
            held: self.held.iter().map(|h| (&h.origin, &h.awaited)).collect(),
            book: &self.book,
            latest_event: self.stats.latest_event,
        }
    }

    /// Puts a checkpoint's contents back. `decode` turns a waiting event's
    /// origin back into the event; it decoded before, so failing now means
    /// the checkpoint does not belong to this build or configuration.
    pub fn restore(
        &mut self,
        snapshot: EngineSnapshot<O>,
        decode: impl Fn(&O) -> Result<Event, Rejection>,
    ) -> Result<(), String> {
        self.state = snapshot.state.restored(&self.reference)?;
        self.seen = snapshot.seen;
        self.book = snapshot.book;
        self.stats = Stats { latest_event: snapshot.latest_event, ..Stats::default() };
        for (origin, awaited) in snapshot.held {
            let event = decode(&origin).map_err(|r| format!("a waiting event no longer decodes: {r}"))?;
            self.held.hold(event, origin, awaited);
        }
        Ok(())
    }
}
