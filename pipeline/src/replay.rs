//! `vbp-watch replay` (SPEC §9): NDJSON files through the engine, evaluated
//! at every local midnight that event time crosses and at `--as-of`. When
//! only the alerts firing at `--as-of` are asked for, the midnights are
//! passed (orphans expire, retention sweeps) and the rules run once.
//!
//! SPEC asks that events apply in event-time order whatever their order in
//! the files. Replay makes two passes so that memory stays small however
//! long the files are: the first decodes every line (writing rejections)
//! and keeps only each event's position, bucketed by local date; the second
//! takes one day at a time, reads and decodes that day's lines again, sorts
//! them and streams them through the same engine live mode uses.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};
use vbp_detectors::alert::Status;
use vbp_detectors::config::DetectorConfig;
use vbp_detectors::reference::ReferenceData;
use vbp_detectors::time::local_date;
use vbp_schemas::{decode, DecodeLimits, Event};

use crate::engine::{event_order, Engine, Routes, Stats};
use crate::runner::{EventClock, FileDeadLetters, Outputs, Runner, Watermark};
use crate::sinks::NdjsonSink;
use crate::sources::ndjson::{LineOrigin, NdjsonFiles};

/// What one replay reads and writes.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub reference: PathBuf,
    pub events: Vec<PathBuf>,
    pub as_of: Option<DateTime<FixedOffset>>,
    pub alerts_out: Option<PathBuf>,
    pub firing_out: Option<PathBuf>,
    pub dead_letter: Option<PathBuf>,
    pub detectors: DetectorConfig,
    pub limits: DecodeLimits,
    pub progress: bool,
    /// Compute the dashboards' roll-ups at each evaluation (demo mode).
    pub rollups: bool,
    /// Evaluate every midnight and keep the alerts firing in the current
    /// quarter (`circular`, demo: SPEC §11).
    pub fired_log: bool,
    /// Evaluate every midnight, so the history holds every transition
    /// (`sql`'s `alert_history`).
    pub history: bool,
    /// Shards of the state, applied and evaluated on as many threads.
    pub threads: NonZeroUsize,
}

/// The outcome of a run, for the summary.
#[derive(Debug, Clone)]
pub struct ReplaySummary {
    pub stats: Stats,
    pub firing_at_end: Vec<(String, String)>,
    pub seconds: f64,
    pub bytes: u64,
    pub sizes: vbp_detectors::state::StateSizes,
    /// Ids remembered for de-duplication at the end.
    pub remembered_ids: usize,
    /// Wall seconds of pass 1 (read, decode, index by day).
    pub index_seconds: f64,
}

/// The default number of shards and threads: one. Measured at province
/// scale on 2 cores (deploy/SCALING.md), 2 threads took 1.16× as long as 1:
/// learning the routes doubles pass 1, and each shard plans every query
/// of every evaluation; only applying gains. More threads are for machines
/// where that measures faster.
pub const DEFAULT_THREADS: NonZeroUsize = NonZeroUsize::MIN;

/// The detector thresholds of a TOML file (deploy/detectors.toml), or
/// SPEC's defaults without one.
pub fn load_detectors(path: Option<&std::path::Path>) -> Result<DetectorConfig> {
    let Some(path) = path else { return Ok(DetectorConfig::default()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    DetectorConfig::from_toml(&text).with_context(|| format!("bad detector config {}", path.display()))
}

/// Loads reference data, or says in one line why not.
pub fn load_reference(dir: &std::path::Path) -> Result<Arc<ReferenceData>> {
    ReferenceData::load(dir).map(Arc::new).map_err(|errors| {
        let first = errors.iter().next().map(|p| p.to_string()).unwrap_or_default();
        let more = errors.len().saturating_sub(1);
        let tail = if more > 0 { format!(" (and {more} more problems)") } else { String::new() };
        anyhow::anyhow!("bad reference data in {}: {first}{tail}\n{errors}", dir.display())
    })
}

/// The engine fed with the events of the files up to `as_of`, sorted,
/// through the [`Runner`] every mode shares, on an [`EventClock`].
pub struct Replay {
    pub runner: Runner<LineOrigin, FileDeadLetters>,
    /// Shared with the thread that reads and decodes the next day (pass 2).
    files: Arc<NdjsonFiles>,
    clock: EventClock,
    progress: ProgressBar,
    index_seconds: f64,
    /// Evaluate the rules at every midnight, not only at `--as-of`: some
    /// output wants each instant's transitions (`--alerts-out`,
    /// Alertmanager, the demo's pages), or there is no `--as-of`.
    every_instant: bool,
}

impl Replay {
    /// A replay writing to the files `options` names; `outputs` may add
    /// Alertmanager and the HTTP pages (demo), and `pace` a wall pause
    /// after each evaluation (demo: seconds per simulated day).
    pub fn open_with(options: &ReplayOptions, mut outputs: Outputs, pace: Duration) -> Result<Self> {
        let reference = load_reference(&options.reference)?;
        let files = Arc::new(NdjsonFiles::open(&options.events)?);
        refuse_to_overwrite_inputs(options)?;
        let progress = if options.progress && std::io::stderr().is_terminal() {
            ProgressBar::new(files.total_bytes())
        } else {
            ProgressBar::hidden()
        };
        progress.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let every_instant = options.as_of.is_none()
            || options.history
            || options.alerts_out.is_some()
            || options.rollups
            || options.fired_log
            || outputs.alertmanager.is_some()
            || outputs.http.is_some();
        let mut engine = Engine::new(reference, options.detectors.clone())?;
        engine.want_rollups = options.rollups;
        engine.fired_log = options.fired_log.then(Default::default);
        outputs.transitions = Some(NdjsonSink::create(options.alerts_out.as_deref())?);
        let dead_letters = FileDeadLetters::new(Arc::clone(&files), NdjsonSink::create(options.dead_letter.as_deref())?);
        Ok(Replay {
            runner: Runner::new(engine, dead_letters, outputs, options.limits.clone()),
            files,
            clock: EventClock::new(options.as_of, pace),
            progress,
            index_seconds: 0.0,
            every_instant,
        })
    }

    pub fn open(options: &ReplayOptions) -> Result<Self> {
        Self::open_with(options, Outputs::default(), Duration::ZERO)
    }

    pub fn engine(&self) -> &Engine<LineOrigin> {
        &self.runner.engine
    }

    /// Pass 1: reads and decodes every line once, writing rejections as
    /// it goes, and keeps only the position of each event at or before
    /// `as_of` (24 bytes), bucketed by its local date. With several
    /// threads it also learns which shard each order and delivery id
    /// goes to, and shards the engine.
    fn index_by_day(&mut self, options: &ReplayOptions) -> Result<BTreeMap<NaiveDate, Vec<LineOrigin>>> {
        self.progress.set_message("indexing");
        let mut days: BTreeMap<NaiveDate, Vec<LineOrigin>> = BTreeMap::new();
        let shards = options.threads.get();
        let mut routes = Routes::new(shards);
        let (files, runner, progress) = (Arc::clone(&self.files), &mut self.runner, &self.progress);
        let cutoff = options.as_of.map(|t| t.timestamp_micros());
        let mut counts = Outcomes::default();
        files.for_each_line(|origin, bytes| {
            runner.engine.stats.read += 1;
            progress.inc(u64::from(origin.len) + 1);
            match decode(bytes, &options.limits) {
                Ok(event) if cutoff.is_some_and(|c| event.occurred_at.timestamp_micros() > c) => {
                    runner.engine.stats.after_as_of += 1;
                    counts.add(&origin, "after_as_of");
                }
                Ok(event) => {
                    if shards > 1 {
                        routes.learn(&event);
                    }
                    days.entry(local_date(event.occurred_at)).or_default().push(origin);
                }
                Err(rejection) => {
                    counts.add(&origin, "rejected");
                    runner.reject_undecodable(origin, rejection)?;
                }
            }
            Ok::<_, anyhow::Error>(())
        })?;
        self.count(counts);
        routes.finish();
        self.runner.engine.shard(routes);
        self.runner.engine.reserve_ids(days.iter().map(|(day, origins)| (*day, origins.len())));
        Ok(days)
    }

    /// The instant `at` is due; the input is complete up to it (sorted).
    /// Evaluates it when an output wants its transitions or it is the
    /// last (`--as-of`), else only passes it ([`Runner::pass`]: the alerts
    /// firing at `--as-of` are a function of the events, not of the
    /// instants evaluated before, SPEC §5). Returns whether it evaluated;
    /// demo pauses after each evaluation.
    async fn due(&mut self, at: DateTime<FixedOffset>, last: bool) -> Result<bool> {
        if !(last || self.every_instant) {
            self.runner.pass(at, Watermark::at(at))?;
            return Ok(false);
        }
        self.runner.evaluate(at, Watermark::at(at)).await?;
        let pause = self.clock.pace();
        if !pause.is_zero() {
            // Demo: the pages' questions are answered during the pause.
            self.runner.answer_for(pause).await;
        }
        Ok(true)
    }

    /// Applies the sorted events, evaluating at each local midnight crossed
    /// and finally at `as_of`. Returns the last evaluation instant.
    pub async fn run(&mut self, options: &ReplayOptions) -> Result<Option<DateTime<FixedOffset>>> {
        let indexing = Instant::now();
        let days = self.index_by_day(options)?;
        self.index_seconds = indexing.elapsed().as_secs_f64();
        self.progress.set_message("applying");
        self.progress.set_length(days.values().map(|d| d.len() as u64).sum());
        self.progress.set_position(0);
        let mut last_eval = None;
        // Pass 2 on two cores: a thread reads, decodes and sorts the next
        // day while this one applies the current day and evaluates.
        let (days_tx, days_rx) = std::sync::mpsc::sync_channel(1);
        let (files, limits) = (Arc::clone(&self.files), options.limits.clone());
        let reader = std::thread::spawn(move || {
            for origins in days.into_values() {
                if days_tx.send(day_events(&files, &origins, &limits)).is_err() {
                    break;
                }
            }
        });
        // The events between two evaluations are taken as one run, which
        // the shards apply side by side.
        let mut run = Vec::new();
        for events in days_rx {
            for (event, origin) in events? {
                let due = self.clock.due_before(event.occurred_at);
                if !due.is_empty() {
                    self.take_run(&mut run)?;
                }
                for at in due {
                    if self.due(at, false).await? {
                        last_eval = Some(at);
                    }
                }
                run.push((event, origin));
            }
            self.take_run(&mut run)?;
        }
        let at_end = self.clock.due_at_end();
        for (i, &at) in at_end.iter().enumerate() {
            if self.due(at, i + 1 == at_end.len()).await? {
                last_eval = Some(at);
            }
        }
        reader.join().map_err(|_| anyhow::anyhow!("the thread reading the events failed"))?;
        self.runner.end_of_input()?;
        self.progress.finish_and_clear();
        Ok(last_eval)
    }

    fn take_run(&mut self, run: &mut Vec<(Event, LineOrigin)>) -> Result<()> {
        let taken = run.len() as u64;
        let mut counts = Outcomes::default();
        let origins: Vec<LineOrigin> = run.iter().map(|(_, o)| *o).collect();
        let fates = self.runner.take_all(std::mem::take(run))?;
        for (origin, fate) in origins.iter().zip(fates) {
            counts.add(origin, fate.as_str());
        }
        self.count(counts);
        self.progress.inc(taken);
        Ok(())
    }

    /// Adds `counts` to `vbp_events_total`, labelled by file name.
    fn count(&self, counts: Outcomes) {
        let Some(metrics) = self.runner.metrics() else { return };
        for ((file, outcome), n) in counts.0 {
            let name = self.files.path(&LineOrigin { file, line: 0, offset: 0, len: 0 }).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            metrics.taken(&name, outcome, n);
        }
    }

    pub fn finish(&mut self) -> Result<()> {
        // The runner first: it writes refused alerts to the dead letters.
        self.runner.finish()?;
        Ok(self.runner.dead_letters_mut().finish()?)
    }
}

/// Inputs by (file, outcome), added to the metrics once per run: a
/// labelled counter per line would cost a hash lookup each.
#[derive(Default)]
struct Outcomes(BTreeMap<(u32, &'static str), u64>);

impl Outcomes {
    fn add(&mut self, origin: &LineOrigin, outcome: &'static str) {
        *self.0.entry((origin.file, outcome)).or_default() += 1;
    }
}

/// Fails, before any output is created (and so truncated), when an output
/// names one of the `--events` files.
fn refuse_to_overwrite_inputs(options: &ReplayOptions) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let identity = |path: &std::path::Path| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let inputs: Vec<_> = options.events.iter().filter_map(|p| identity(p)).collect();
    let outputs = [("--dead-letter", &options.dead_letter), ("--alerts-out", &options.alerts_out), ("--firing-out", &options.firing_out)];
    for (flag, path) in outputs {
        if let Some(path) = path.as_deref().filter(|p| identity(p).is_some_and(|id| inputs.contains(&id))) {
            anyhow::bail!("{flag} {} is one of the --events files; writing it would destroy the input: choose another path", path.display());
        }
    }
    Ok(())
}

/// Pass 2, one day: the day's events read again from their positions,
/// decoded and sorted in event order. Only a day or two is ever in memory.
fn day_events(files: &NdjsonFiles, origins: &[LineOrigin], limits: &DecodeLimits) -> Result<Vec<(Event, LineOrigin)>> {
    let mut events = Vec::with_capacity(origins.len());
    files.for_each_raw(origins, |origin, raw| {
        // It decoded in pass 1; failing now means the file changed under us.
        let event = decode(raw, limits).map_err(|r| {
            anyhow::anyhow!("{} line {} changed during the replay: {r}", files.path(origin).display(), origin.line)
        })?;
        events.push((event, *origin));
        Ok::<_, anyhow::Error>(())
    })?;
    // Stable: events equal in order (a repeated id at the same instant)
    // keep file order, so the same files always give the same first one.
    events.sort_by(|a, b| event_order(&a.0, &b.0));
    Ok(events)
}

/// Runs a whole replay and writes its outputs.
pub async fn run(options: &ReplayOptions) -> Result<ReplaySummary> {
    run_with(options, Outputs::default(), Duration::ZERO).await
}

/// [`run`], with more outputs and a pace (demo mode; see [`Replay::open_with`]).
pub async fn run_with(options: &ReplayOptions, outputs: Outputs, pace: Duration) -> Result<ReplaySummary> {
    Ok(run_keeping(options, outputs, pace).await?.0)
}

/// [`run_with`], keeping the replay once done: demo answers its pages'
/// questions from it until it stops.
pub async fn run_keeping(options: &ReplayOptions, outputs: Outputs, pace: Duration) -> Result<(ReplaySummary, Replay)> {
    let started = Instant::now();
    let mut replay = Replay::open_with(options, outputs, pace)?;
    let bytes = replay.files.total_bytes();
    let mut firing_out = NdjsonSink::create(options.firing_out.as_deref())?;
    let last_eval = replay.run(options).await?;
    let mut firing_at_end = Vec::new();
    if let Some(at) = last_eval {
        for f in replay.engine().book().firing() {
            firing_out.write_line(&f.alert.to_json(at, Status::Firing).to_string())?;
            firing_at_end.push((f.alert.name.as_str().to_string(), f.alert.severity.as_str().to_string()));
        }
    }
    firing_out.finish()?;
    replay.finish()?;
    let (_, remembered_ids) = replay.engine().pending();
    let summary = ReplaySummary {
        stats: replay.engine().stats.clone(),
        firing_at_end,
        seconds: started.elapsed().as_secs_f64(),
        bytes,
        sizes: replay.engine().sizes(),
        remembered_ids,
        index_seconds: replay.index_seconds,
    };
    Ok((summary, replay))
}

impl ReplaySummary {
    /// The summary printed at the end of a run.
    pub fn render(&self) -> String {
        let s = &self.stats;
        let mut out = format!(
            "read {} lines ({:.1} MB) in {:.2} s ({:.0} lines/s)\n  decoded {}  applied {}  duplicates {}  after --as-of {}  rejected {}\n",
            s.read,
            self.bytes as f64 / 1e6,
            self.seconds,
            s.read as f64 / self.seconds.max(1e-9),
            s.decoded,
            s.applied,
            s.duplicates,
            s.after_as_of,
            s.rejected_total(),
        );
        for (reason, n) in &s.rejected {
            out.push_str(&format!("    rejected {reason:<20} {n}\n"));
        }
        let z = &self.sizes;
        out.push_str(&format!(
            "  state: {} agreements, {} order lines ({} open), {} deliveries ({} unpaid), {} ids remembered\n",
            z.agreements, z.order_lines, z.open_order_lines, z.deliveries, z.unpaid_deliveries, self.remembered_ids
        ));
        out.push_str(&format!(
            "  time: pass 1 (read, decode, index) {:.1} s, evaluations {:.1} s ({}), the rest (re-read, decode, sort, apply) {:.1} s\n",
            self.index_seconds,
            s.evaluation_micros as f64 / 1e6,
            s.evaluations,
            self.seconds - self.index_seconds - s.evaluation_micros as f64 / 1e6,
        ));
        if s.evaluations > 0 && !s.rule_micros.is_empty() {
            let per = |micros: u64| micros as f64 / 1e3 / s.evaluations as f64;
            let rules: Vec<String> = s.rule_micros.iter().map(|(rule, m)| format!("{rule} {:.1}", per(*m))).collect();
            out.push_str(&format!("  ms per evaluation by rule: {}\n", rules.join(", ")));
        }
        for ((name, severity), n) in &s.fired {
            let resolved = s.resolved.get(&(name.clone(), severity.clone())).copied().unwrap_or(0);
            out.push_str(&format!("    {name:<28} {severity:<8} fired {n:<6} resolved {resolved}\n"));
        }
        let mut firing: std::collections::BTreeMap<&(String, String), u64> = Default::default();
        for key in &self.firing_at_end {
            *firing.entry(key).or_default() += 1;
        }
        out.push_str(&format!("  firing at the end: {}\n", self.firing_at_end.len()));
        for ((name, severity), n) in firing {
            out.push_str(&format!("    {name:<28} {severity:<8} {n}\n"));
        }
        out
    }
}
