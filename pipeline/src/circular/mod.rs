//! `vbp-watch circular --quarter 2026Q3` (SPEC §11): replays the events up
//! to the quarter's last instant, evaluating every midnight so that the
//! quarter's alerts are known, and writes the draft circular as a
//! printable HTML page in Chinese (A4). Live and demo mode serve the
//! quarter so far at `GET /circular`.
//!
//! The content is built in `vbp_detectors::circular`; this module draws
//! it ([`page`], with the charts of [`svg`]).

pub mod page;
pub mod svg;

use std::path::PathBuf;

use vbp_detectors::circular::{Circular, Inputs, Quarter};
use vbp_detectors::report::ReportRow;
use vbp_detectors::rollups::Rollups;

use crate::engine::Engine;
use crate::replay::{Replay, ReplayOptions};

/// What `vbp-watch circular` reads and writes.
#[derive(Debug, Clone)]
pub struct CircularOptions {
    /// `as_of` is set to the quarter's last instant.
    pub replay: ReplayOptions,
    pub quarter: Quarter,
    pub out: PathBuf,
}

/// The circular of the engine's state at `at`, with the report rows and
/// roll-ups of the same instant.
pub fn of_engine<O>(
    engine: &Engine<O>,
    quarter: Quarter,
    at: chrono::DateTime<chrono::FixedOffset>,
    rows: &[ReportRow],
    rollups: &Rollups,
) -> Circular {
    let states = engine.states();
    let firing: Vec<_> = engine.book().firing().map(|f| f.alert.clone()).collect();
    let fired = match engine.fired_log.as_ref().map(|log| log.fired()) {
        Some((Some(q), fired)) if q == quarter => fired,
        _ => Vec::new(),
    };
    let inputs =
        Inputs { reference: engine.reference(), shards: &states, rows, delivery: &rollups.delivery, firing: &firing, fired: &fired };
    Circular::build(quarter, at, &inputs)
}

/// Replays, builds the circular and writes it; returns a one-line summary.
pub async fn run(options: &CircularOptions) -> anyhow::Result<String> {
    let at = options.quarter.last_instant();
    let replay_options = ReplayOptions { as_of: Some(at), fired_log: true, ..options.replay.clone() };
    let mut replay = Replay::open(&replay_options)?;
    replay.run(&replay_options).await?;
    replay.finish()?;
    let engine = replay.engine();
    let rows = engine.report(options.quarter.last_day(), |_| true);
    let rollups = engine.rollups_at(at).await?;
    let circular = of_engine(engine, options.quarter, at, &rows, &rollups);
    let html = page::render(&circular, true).into_string();
    std::fs::write(&options.out, &html).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", options.out.display()))?;
    Ok(format!(
        "circular of {} written to {} ({} cities, {} report rows, {} alerts fired in the quarter)\n",
        options.quarter,
        options.out.display(),
        circular.cities.len(),
        rows.len(),
        circular.province.fired.values().sum::<u32>()
    ))
}
