//! `vbp-watch footprint`: replays the files, then reports what the state
//! costs in memory and what a checkpoint of it costs to write and to
//! restore — figures (c) and (e) of BENCHMARKS.md at province scale,
//! without a broker.
//!
//! The restore is what `vbp-watch run` does on start before it reconnects
//! to Kafka: load the reference data, read and decode the checkpoint, and
//! rebuild the engine from it.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use vbp_schemas::decode;

use crate::checkpoint::CheckpointStore;
use crate::engine::{Engine, EngineSnapshot};
use crate::replay::{load_reference, Replay, ReplayOptions};
use crate::sources::ndjson::{LineOrigin, NdjsonFiles};

pub async fn run(options: &ReplayOptions, dir: &Path) -> Result<Value> {
    let started = Instant::now();
    let mut replay = Replay::open(options)?;
    replay.run(options).await?;
    replay.finish()?;
    let replay_seconds = started.elapsed().as_secs_f64();
    let engine = replay.engine();
    let state = engine.state().context("the footprint is measured on one shard: replay it with one thread")?;
    let sizes = engine.sizes();
    let bytes = state.heap_bytes();
    let (_, ids) = engine.pending();
    let seen_bytes = engine.seen_heap_bytes();
    let (firing, book_bytes) = (engine.book().len(), engine.book().heap_bytes());
    let total = bytes.purchases + bytes.orders + bytes.deliveries + bytes.finished_orders + bytes.finished_deliveries + seen_bytes;
    let per = |total: usize, n: usize| if n == 0 { 0.0 } else { total as f64 / n as f64 };

    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let store = CheckpointStore::open(dir, "footprint.ckpt")?;
    let t = Instant::now();
    let checkpoint_bytes = store.write(&engine.snapshot())?;
    let write_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let reference = load_reference(&options.reference)?;
    let mut restored = Engine::<LineOrigin>::new(reference, options.detectors.clone())?;
    let read = store.read_versioned::<EngineSnapshot<LineOrigin>>()?.context("the checkpoint just written is missing")?;
    let files = NdjsonFiles::open(&options.events)?;
    restored
        .restore(read.value, read.version, |origin| decode(&files.raw(origin).unwrap_or_default(), &options.limits))
        .map_err(|e| anyhow::anyhow!("cannot restore the checkpoint: {e}"))?;
    let restore_seconds = t.elapsed().as_secs_f64();
    let same = restored.sizes() == sizes && restored.pending().1 == ids;
    std::fs::remove_file(store.path()).ok();
    anyhow::ensure!(same, "the restored state differs from the one written");

    Ok(json!({
        "events_read": engine.stats.read,
        "replay_seconds": replay_seconds,
        "state": {
            "agreements": sizes.agreements,
            "order_lines": sizes.order_lines,
            "open_order_lines": sizes.open_order_lines,
            "finished_order_lines": sizes.finished_order_lines,
            "deliveries": sizes.deliveries,
            "finished_deliveries": sizes.finished_deliveries,
            "unpaid_deliveries": sizes.unpaid_deliveries,
            "ids_remembered": ids,
        },
        "heap_bytes": {
            "purchases": bytes.purchases,
            "orders": bytes.orders,
            "deliveries": bytes.deliveries,
            "finished_orders": bytes.finished_orders,
            "finished_deliveries": bytes.finished_deliveries,
            "ids": seen_bytes,
            "total": total,
            "alert_book": book_bytes,
        },
        "alerts_firing": firing,
        "bytes_per": {
            "agreement": per(bytes.purchases, sizes.agreements),
            "order_line": per(bytes.orders + bytes.finished_orders, sizes.order_lines),
            "unfinished_order_line": per(bytes.orders, sizes.order_lines - sizes.finished_order_lines),
            "finished_order_line": per(bytes.finished_orders, sizes.finished_order_lines),
            "delivery": per(bytes.deliveries + bytes.finished_deliveries, sizes.deliveries),
            "unfinished_delivery": per(bytes.deliveries, sizes.deliveries - sizes.finished_deliveries),
            "finished_delivery": per(bytes.finished_deliveries, sizes.finished_deliveries),
            "id": per(seen_bytes, ids),
            "firing_alert": per(book_bytes, firing),
            "open_order_line_all_state": per(total, sizes.open_order_lines),
        },
        "checkpoint": {
            "bytes": checkpoint_bytes,
            "write_seconds": write_seconds,
            "restore_seconds": restore_seconds,
        },
    }))
}
