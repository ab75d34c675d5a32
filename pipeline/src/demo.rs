//! `vbp-watch demo`: the embedded default. A simulated province (the same
//! generator as `simulate`) streamed in accelerated event time through the
//! same engine as `replay` and `run`, with /metrics, /api/alerts and the
//! built-in alert page served while it runs — no broker, no server.
//!
//! Each simulated day is applied, evaluated at its midnight, published,
//! and followed by a pause of `--day-seconds`, so a person watching the
//! page sees warnings appear and resolve as the weeks go by.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::DateTime;
use vbp_schemas::DecodeLimits;

use crate::http::{self, Shared};
use crate::metrics::Metrics;
use crate::replay::{self, ReplayOptions};
use crate::runner::Outputs;
use vbp_simulator::{self as simulate, Scale, SimulateOptions};
use crate::sinks::alertmanager::{Alertmanager, Owed};

#[derive(Debug, Clone, clap::Args)]
pub struct DemoOptions {
    /// Where the simulated province and the outputs are written.
    #[arg(long, default_value = "target/demo")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "small")]
    pub scale: Scale,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Wall-clock seconds per simulated day.
    #[arg(long, default_value_t = 0.5)]
    pub day_seconds: f64,
    /// Address of the page, /metrics and /api/alerts.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub http_listen: std::net::SocketAddr,
    /// Also push the alerts to this Alertmanager (e.g. http://127.0.0.1:9093).
    #[arg(long)]
    pub alertmanager_url: Option<url::Url>,
    /// Shards of the state, applied and evaluated on as many threads
    /// (default 1; deploy/SCALING.md).
    #[arg(long, value_name = "N")]
    pub threads: Option<std::num::NonZeroUsize>,
    /// Exit when the stream ends instead of serving until Ctrl-C.
    #[arg(long)]
    pub exit_when_done: bool,
    /// TOML file of detector thresholds (deploy/detectors.toml; defaults are SPEC's).
    #[arg(long)]
    pub detectors: Option<PathBuf>,
}

pub async fn run(options: &DemoOptions) -> Result<()> {
    // The port first: a port taken is said at once, not after simulating.
    let shared = Shared::new(Metrics::new()?);
    let bound = http::serve(options.http_listen, Arc::clone(&shared)).await?;
    let simulated = simulate::run(&SimulateOptions {
        out: options.out.clone(),
        scale: options.scale,
        seed: options.seed,
        days: None,
    })?;
    tracing::info!("simulated {} ({} events) in {}", simulated.scale, simulated.events(), options.out.display());
    let reference = replay::load_reference(&options.out.join("reference"))?;
    shared.set_division_names(reference.divisions.list().iter().cloned().collect());
    tracing::info!("open http://{bound}/ (alerts by district), /metrics, /api/alerts");
    let as_of = DateTime::parse_from_rfc3339(&simulated.as_of).context("the simulator's as_of")?;
    let events = ["orders", "deliveries", "payments", "complaints"].map(|t| options.out.join("events").join(format!("{t}.ndjson")));
    let replay_options = ReplayOptions {
        reference: options.out.join("reference"),
        events: events.to_vec(),
        as_of: Some(as_of),
        alerts_out: Some(options.out.join("alerts.ndjson")),
        firing_out: Some(options.out.join("firing.ndjson")),
        dead_letter: Some(options.out.join("dead-letter.ndjson")),
        detectors: replay::load_detectors(options.detectors.as_deref())?,
        limits: DecodeLimits::default(),
        progress: false,
        rollups: true,
        fired_log: true,
        history: false,
        threads: options.threads.unwrap_or(replay::DEFAULT_THREADS),
    };
    let pause = Duration::from_secs_f64(options.day_seconds.max(0.0));
    let alertmanager = options.alertmanager_url.as_ref().map(|url| {
        Alertmanager::start(url, format!("http://{bound}"), Duration::from_secs(60), Owed::default(), shared.metrics.alertmanager.clone())
    });
    let outputs = Outputs { alertmanager, http: Some(Arc::clone(&shared)), ..Outputs::default() };
    let (summary, mut replay) = replay::run_keeping(&replay_options, outputs, pause).await?;
    // The whole input is applied and the outputs are written.
    shared.update_health(|h| h.caught_up = true);
    tracing::info!("{}", summary.render().trim_end());
    tracing::info!(
        "outputs in {}: firing.ndjson, alerts.ndjson, dead-letter.ndjson, planted.json",
        options.out.display()
    );
    if !options.exit_when_done {
        tracing::info!("the stream is done; still serving http://{bound}/ — Ctrl-C to stop");
        replay.runner.answer_until(crate::live::shutdown_signal()).await;
    }
    Ok(())
}
