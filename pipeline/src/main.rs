//! `vbp-watch`: watches how volume-based procurement (集采) is executed and
//! warns the bureaus concerned. See README.md and ../shared/SPEC.md §9.
//!
//! A thin dispatcher: parsing the command line is all that happens here;
//! every command runs in the `vbp_watch` library or the simulator crate.
//!
//! Exit codes: 0 done; 1 a runtime failure (bad input files, a broker or
//! disk problem: the message says which); 2 a usage error (clap's).

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset};
use clap::{Args, Parser, Subcommand};
use vbp_schemas::{DecodeLimits, Latest, OccurredWindow};
use vbp_simulator as simulate;
use vbp_watch::{check, circular, demo, footprint, live, replay, report, sql};

/// mimalloc rather than glibc's malloc (see the workspace Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "vbp-watch", version, about = "Streaming anomaly detection for volume-based procurement (集采) execution")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines on stderr as plain text, or as one JSON object per line
    /// (for log shippers); timestamps in UTC either way.
    #[arg(long, global = true, value_enum, default_value = "text", env = "VBP_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Write a simulated province: reference CSVs, one NDJSON file per topic, and what was planted.
    Simulate(simulate::SimulateOptions),
    /// Replay NDJSON event files through the detectors (SPEC §9).
    Replay(ReplayArgs),
    /// The embedded default: a simulated province streamed through the
    /// engine, with the alert page, /metrics and /api/alerts served locally.
    Demo(demo::DemoOptions),
    /// Live mode: a Kafka consumer group, evaluation on a wall-clock tick,
    /// checkpoints, /metrics, /healthz and /api/alerts (SPEC §9).
    Run(live::config::RunFlags),
    /// Validate a `run` configuration and the reference data it names, or
    /// a reference directory, without running (every problem at once).
    Check(check::CheckOptions),
    /// Replay, then report the state's memory by part and the time to write
    /// a checkpoint of it and restore it (BENCHMARKS.md), as JSON.
    Footprint {
        #[command(flatten)]
        input: InputArgs,
        /// Where the checkpoint is written (removed afterwards).
        #[arg(long)]
        checkpoint_dir: PathBuf,
    },
    /// The execution report (带量采购执行报表, SPEC §10) as of --as-of, as
    /// .xlsx or .csv (UTF-8 with BOM); optionally one division's rows, and
    /// the differences from an official report.
    Report {
        #[command(flatten)]
        input: InputArgs,
        /// The file written: NAME.xlsx or NAME.csv.
        #[arg(long)]
        out: PathBuf,
        /// Only the institutions of this district or city code (the file one bureau receives).
        #[arg(long, value_name = "CODE")]
        division: Option<String>,
        /// An official report in the same 23 columns (.xlsx or .csv): list every row and cell that differs from ours.
        #[arg(long, value_name = "OFFICIAL")]
        reconcile: Option<PathBuf>,
        /// Where the differences go, as CSV [default: NAME.reconcile.csv beside --out].
        #[arg(long, value_name = "FILE", requires = "reconcile")]
        reconcile_out: Option<PathBuf>,
    },
    /// The draft quarterly circular (季度通报, SPEC §11) as a printable
    /// HTML page, evaluated at the quarter's last instant.
    Circular {
        /// The quarter, e.g. 2026Q3.
        #[arg(long)]
        quarter: vbp_detectors::circular::Quarter,
        #[command(flatten)]
        input: InputArgs,
        /// The page written, e.g. circular-2026Q3.html.
        #[arg(long)]
        out: PathBuf,
    },
    /// Query the state and reference tables as of T with DataFusion SQL.
    Sql {
        /// The query, e.g. "SELECT * FROM agreement_progress LIMIT 10".
        query: String,
        #[command(flatten)]
        input: InputArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: sql::OutputFormat,
    },
}

/// The inputs shared by `replay` and `sql`.
#[derive(Args, Debug, Clone)]
struct InputArgs {
    /// Directory of the reference CSV files (SPEC §3).
    #[arg(long)]
    reference: PathBuf,
    /// NDJSON event files, e.g. one per topic.
    #[arg(long, num_args = 1.., required = true)]
    events: Vec<PathBuf>,
    /// Evaluate at T using only events with occurred_at ≤ T: an RFC 3339
    /// instant, or a date for its last instant in China Standard Time.
    #[arg(long, value_parser = parse_instant)]
    as_of: Option<DateTime<FixedOffset>>,
    /// TOML file of detector thresholds (defaults are SPEC's).
    #[arg(long)]
    detectors: Option<PathBuf>,
    /// Messages longer than this many bytes are rejected as `too_large`.
    #[arg(long, default_value_t = DecodeLimits::default().max_message_bytes)]
    max_message_bytes: usize,
    /// Events that occurred before this instant (RFC 3339) are rejected as
    /// `bad_value` [default: 2000-01-01T00:00:00+08:00].
    #[arg(long, value_parser = parse_instant)]
    earliest_event: Option<DateTime<FixedOffset>>,
    /// Events that occurred after this instant (RFC 3339) are rejected as
    /// `bad_value` [default: 2100-01-01T00:00:00+08:00; fixed, not the wall
    /// clock, so the same files give the same answer on any day].
    #[arg(long, value_parser = parse_instant)]
    latest_event: Option<DateTime<FixedOffset>>,
}

#[derive(Args, Debug, Clone)]
struct ReplayArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Alert transitions (firing/resolved), NDJSON, in time order.
    #[arg(long)]
    alerts_out: Option<PathBuf>,
    /// Alerts firing at --as-of (or at the last evaluation), NDJSON.
    #[arg(long)]
    firing_out: Option<PathBuf>,
    /// Rejected lines with reason, source and original text, NDJSON.
    #[arg(long)]
    dead_letter: Option<PathBuf>,
    /// Shards of the state, applied and evaluated on as many threads
    /// (default 1; deploy/SCALING.md has the measured trade). Any count
    /// writes the same files.
    #[arg(long, value_name = "N")]
    threads: Option<NonZeroUsize>,
    /// At the end, the metrics live mode serves (vbp_events_total,
    /// vbp_rejected_total, vbp_build_info, process_…) in Prometheus text
    /// format, e.g. for node_exporter's textfile collector.
    #[arg(long, value_name = "FILE")]
    metrics_out: Option<PathBuf>,
}

/// An RFC 3339 instant, or a date meaning its last instant in China
/// Standard Time (`2026-11-30` → `2026-11-30T23:59:59.999999+08:00`).
fn parse_instant(s: &str) -> Result<DateTime<FixedOffset>, String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let cst = FixedOffset::east_opt(8 * 3600).ok_or("the CST offset")?;
        let end = day.and_hms_micro_opt(23, 59, 59, 999_999).ok_or("the end of the day")?;
        return end.and_local_timezone(cst).single().ok_or_else(|| format!("`{s}` has no end in CST"));
    }
    DateTime::parse_from_rfc3339(s).map_err(|e| {
        format!("`{s}` is neither a date (2026-11-30, meaning its end in CST) nor an RFC 3339 instant with an offset (2026-11-30T23:59:59+08:00): {e}")
    })
}

impl InputArgs {
    /// The window of `occurred_at` the flags ask for.
    fn occurred_window(&self) -> OccurredWindow {
        let mut window = OccurredWindow::default();
        if let Some(earliest) = self.earliest_event {
            window.earliest = earliest.to_utc();
        }
        if let Some(latest) = self.latest_event {
            window.latest = Latest::At(latest.to_utc());
        }
        window
    }

    fn options(&self) -> Result<replay::ReplayOptions> {
        let detectors = replay::load_detectors(self.detectors.as_deref())?;
        Ok(replay::ReplayOptions {
            reference: self.reference.clone(),
            events: self.events.clone(),
            as_of: self.as_of,
            alerts_out: None,
            firing_out: None,
            dead_letter: None,
            detectors,
            limits: DecodeLimits { max_message_bytes: self.max_message_bytes, occurred_at: self.occurred_window() },
            progress: true,
            rollups: false,
            fired_log: false,
            history: false,
            threads: NonZeroUsize::MIN,
        })
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Simulate(options) => {
            let summary = simulate::run(&options)?;
            eprintln!("{summary}");
        }
        Command::Replay(args) => {
            let mut options = args.input.options()?;
            options.alerts_out = args.alerts_out;
            options.firing_out = args.firing_out;
            options.dead_letter = args.dead_letter;
            options.threads = args.threads.unwrap_or(replay::DEFAULT_THREADS);
            let metrics = vbp_watch::metrics::Metrics::new()?;
            let outputs = vbp_watch::runner::Outputs { metrics: Some(metrics.clone()), ..Default::default() };
            let summary = replay::run_with(&options, outputs, std::time::Duration::ZERO).await?;
            if let Some(path) = &args.metrics_out {
                std::fs::write(path, metrics.render()).with_context(|| format!("cannot write {}", path.display()))?;
            }
            eprint!("{}", summary.render());
        }
        Command::Demo(options) => demo::run(&options).await?,
        Command::Run(flags) => {
            let config = live::config::LiveConfig::load(&flags, |name| std::env::var(name).ok())?;
            live::run(config).await?;
        }
        Command::Check(options) => print!("{}", check::run(&options, |name| std::env::var(name).ok()).await?),
        Command::Footprint { input, checkpoint_dir } => {
            let options = input.options()?;
            println!("{:#}", footprint::run(&options, &checkpoint_dir).await?);
        }
        Command::Report { input, out, division, reconcile, reconcile_out } => {
            let options = report::ReportOptions { replay: input.options()?, out, division, reconcile, reconcile_out };
            let summary = report::run(&options).await?;
            eprint!("{}", summary.render(&options.out));
        }
        Command::Circular { quarter, input, out } => {
            if input.as_of.is_some() {
                anyhow::bail!("`circular` is evaluated at the quarter's last instant ({}); leave out --as-of", quarter.last_instant().to_rfc3339());
            }
            let options = circular::CircularOptions { replay: input.options()?, quarter, out };
            eprint!("{}", circular::run(&options).await?);
        }
        Command::Sql { query, input, format } => {
            let options = input.options()?;
            print!("{}", sql::run(&options, &query, format).await?);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = cli.log_format;
    init_logs(log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vbp-watch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match log_format {
                LogFormat::Text => eprintln!("vbp-watch: {e:#}"),
                LogFormat::Json => tracing::error!("{e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// VBP_LOG, else RUST_LOG, else warnings and this program's own progress
/// lines; colours only on a terminal (journald and log shippers get plain
/// text); timestamps in UTC (RFC 3339 with `Z`).
fn init_logs(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("VBP_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| "warn,vbp_watch=info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).init(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_instant;

    #[test]
    fn a_date_means_its_last_instant_in_china_standard_time() {
        assert_eq!(parse_instant("2026-11-30").unwrap().to_rfc3339(), "2026-11-30T23:59:59.999999+08:00");
        assert_eq!(parse_instant("2026-11-30T08:00:00Z").unwrap().to_rfc3339(), "2026-11-30T08:00:00+00:00");
        let e = parse_instant("30/11/2026").unwrap_err();
        assert!(e.contains("neither a date (2026-11-30"), "{e}");
    }
}
