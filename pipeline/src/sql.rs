//! `vbp-watch sql "SELECT …"`: the state and reference tables as of T, for
//! analysts, queried with DataFusion SQL and printed as a table or CSV.

use anyhow::{Context, Result};
use arrow::util::pretty::pretty_format_batches;
use vbp_detectors::tables;

use crate::replay::{Replay, ReplayOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
}

/// Replays the events up to `--as-of` (or their end) and runs `query`.
/// A query of `alert_history` has every midnight evaluated, as `replay
/// --alerts-out` does, so that the history holds every transition.
pub async fn run(options: &ReplayOptions, query: &str, format: OutputFormat) -> Result<String> {
    let wants_history = query.to_lowercase().contains("alert_history");
    let options = &ReplayOptions { history: options.history || wants_history, ..options.clone() };
    let mut replay = Replay::open(options)?;
    replay.run(options).await?;
    replay.finish()?;
    let engine = replay.engine();
    // T: --as-of, else the latest event applied.
    let at = options.as_of.map(|t| t.timestamp_micros()).or(engine.stats.latest_event).unwrap_or(0);
    let state = engine.state().context("`sql` queries the state of one shard: replay it with one thread")?;
    let ctx = tables::session(engine.statics(), engine.reference(), state, engine.config(), at, tables::Need::Everything)?;
    // The circular of T's quarter so far (its alerts of the quarter need
    // every midnight evaluated: `vbp-watch circular` has them).
    let instant = chrono::DateTime::from_timestamp_micros(at).unwrap_or_default().fixed_offset();
    let today = vbp_detectors::time::local_date(instant);
    let rows = engine.report(today, |_| true);
    ctx.register_batch("report_rows", tables::report_rows(&rows)?)?;
    let rollups = engine.rollups_at(instant).await?;
    let quarter = vbp_detectors::circular::Quarter::of(today);
    let circular = crate::circular::of_engine(engine, quarter, instant, &rows, &rollups);
    ctx.register_batch("circular_rankings", tables::circular_rankings(&circular)?)?;
    ctx.register_batch("alert_history", crate::triage::history::table(&replay.runner.triage.history, instant)?)?;
    let batches = ctx.sql(query).await.context("the query does not plan")?.collect().await.context("the query failed")?;
    match format {
        OutputFormat::Table => Ok(pretty_format_batches(&batches)?.to_string()),
        OutputFormat::Csv => {
            let mut out = Vec::new();
            {
                let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut out);
                for batch in &batches {
                    writer.write(batch)?;
                }
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
    }
}
