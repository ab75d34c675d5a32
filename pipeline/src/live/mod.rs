//! `vbp-watch run`: the live driver (SPEC §5, §9). A Kafka consumer group
//! feeds the same engine as `replay`; a wall-clock tick evaluates; the
//! state is checkpointed and only then are offsets committed.
//!
//! ```text
//! Kafka ─► skip what the checkpoint has ─► decode ─► engine ─► (tick) evaluate ─► outbox
//!              (Positions)                   │ rejection            │                │
//!                                            ▼                      ▼                ▼
//!                                     vbp.dead-letter        /api/alerts     checkpoint ─► commit offsets
//!                                                                             └─► transition log
//! ```
//!
//! Why nothing is lost or counted twice: a checkpoint holds the state *and*
//! the next offset of every partition it covers, written atomically after
//! the dead letters it depends on are acknowledged; offsets are committed
//! after it. On restart the consumer resumes at the committed offsets (at
//! or before the checkpoint's) and skips what the checkpoint already holds.
//! Transitions are numbered and kept in the checkpoint until written, and
//! the log skips numbers it already has, so each is written exactly once.
//!
//! While the consumer is behind the end of its partitions (a catch-up after
//! downtime) it applies without evaluating, so no alert is raised from a
//! half-read backlog; `max_evaluation_delay_seconds` bounds how long.

pub mod config;
mod metrics;
mod notify;
mod reload;

pub use reload::ReloadOutcome;
mod transition_log;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use vbp_schemas::{decode, DecodeLimits, OccurredWindow};

use crate::checkpoint::{reference_fingerprint, CheckpointStore, ReadBack};
use crate::engine::{Engine, EngineSnapshot, EngineSnapshotRef};
use crate::http::{self, Shared};
use crate::engine::Routes;
use crate::metrics::Metrics;
use metrics::LiveMetrics;
use reload::ReloadMetrics;
use crate::replay::load_reference;
use crate::runner::clock::{WallClock, Watermark};
use crate::runner::{Outputs, Runner};
use crate::sinks::alertmanager::{Alertmanager, Owed};
use crate::sinks::dead_letter_topic::DeadLetterTopic;
use crate::sources::kafka::{partition_of, KafkaOrigin, KafkaSource, Positions};
use crate::stage::topic::FactsTopic;
use crate::stage::KeyOwnership;
use crate::triage::silences::Silences;
use crate::triage::{incident_key, Ack, Triage};
use config::LiveConfig;
use transition_log::TransitionLog;

/// How long a checkpoint waits for the broker to acknowledge dead letters
/// before it is postponed to the next round.
const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// Attempts at the final checkpoint before stopping without it.
const FINAL_ATTEMPTS: u32 = 10;

/// Checkpoints that cannot be written (a full disk), one line per backoff step.
static CHECKPOINT_TROUBLE: crate::throttle::Throttle = crate::throttle::Throttle::new("checkpoint");

/// The most messages taken as one run (what the consumer holds already).
const BURST: usize = 4096;

/// How long the start waits to read the facts topic to its end.
const FACTS_CATCH_UP: Duration = Duration::from_secs(30);

#[derive(Serialize)]
struct CheckpointRef<'a> {
    reference_fingerprint: u64,
    positions: &'a Positions,
    engine: EngineSnapshotRef<'a, KafkaOrigin>,
    outbox: &'a [(u64, String)],
    next_seq: u64,
    alertmanager: Owed,
    /// History, incident timelines and acknowledgements (SPEC §12).
    triage: &'a Triage,
}

#[derive(Deserialize)]
struct Checkpoint {
    reference_fingerprint: u64,
    positions: Positions,
    engine: EngineSnapshot<KafkaOrigin>,
    outbox: Vec<(u64, String)>,
    next_seq: u64,
    alertmanager: Owed,
    triage: Triage,
}

/// Runs until SIGTERM or SIGINT, then writes a final checkpoint.
pub async fn run(config: LiveConfig) -> Result<()> {
    let shared = Shared::new(Metrics::new()?);
    let access = http::access::Access::load(&config.access)?;
    if !access.has_tokens() {
        tracing::info!(
            "no [access] tokens: the pages and APIs answer loopback clients only, and nothing can be changed over HTTP (reload with SIGHUP)"
        );
    } else if !access.allows_changes() {
        tracing::info!("no provincial [access] token_file: bureau tokens can read, nothing can be changed over HTTP");
    }
    shared.set_access(access);
    let bound = http::serve(config.http_listen, Arc::clone(&shared)).await?;
    tracing::info!("serving http://{bound}/ (the alert page), /metrics, /healthz, /readyz, /api/alerts");
    shared.update_health(|h| h.ready_max_undelivered = config.ready_max_undelivered_alerts);
    let mut live = Live::start(config, shared)?;
    live.run_until_shutdown().await
}

struct Live {
    config: LiveConfig,
    clock: WallClock,
    runner: Runner<KafkaOrigin, DeadLetterTopic>,
    positions: Positions,
    source: KafkaSource,
    store: CheckpointStore,
    fingerprint: u64,
    /// Numbered transitions not yet in the log.
    outbox: Vec<(u64, String)>,
    next_seq: u64,
    log: TransitionLog,
    /// `vbp.facts`, when other instances may share the group.
    facts: Option<FactsTopic>,
    shared: Arc<Shared>,
    metrics: LiveMetrics,
    reload_metrics: ReloadMetrics,
    /// Alertmanager's silences, for acknowledgements (with an Alertmanager).
    silences: Option<Silences>,
    /// Something changed since the last checkpoint.
    dirty: bool,
    /// Bumped whenever the state may have changed (messages, facts, a
    /// rebalance, a reload): with [`Live::evaluated`], what makes an
    /// evaluation worth its cost.
    changes: u64,
    /// The instant, watermark and `changes` of the last evaluation. With a
    /// pinned clock (`evaluate_at`) and nothing new, evaluating again would
    /// raise nothing and spend a whole rule pass every tick.
    evaluated: Option<(chrono::DateTime<chrono::FixedOffset>, Watermark, u64)>,
    /// `changes` when the broker last confirmed every partition read to
    /// its end.
    confirmed_at: Option<u64>,
    behind_since: Option<Instant>,
    /// Partitions of the orders topic owned at the last look, and how many it has.
    owned: (BTreeSet<i32>, usize),
    systemd: notify::Notify,
}

impl Live {
    fn start(config: LiveConfig, shared: Arc<Shared>) -> Result<Self> {
        let metrics = LiveMetrics::register(&shared.metrics)?;
        let reload_metrics = ReloadMetrics::register(&shared.metrics.registry)?;
        let reference = load_reference(&config.reference)?;
        shared.set_division_names(reference.divisions.list().iter().cloned().collect());
        let fingerprint = reference_fingerprint(&config.reference)?;
        let limits = DecodeLimits { max_message_bytes: config.max_message_bytes, occurred_at: OccurredWindow::live() };
        let mut engine = Engine::new(reference, config.detectors.clone())?;
        engine.shard(Routes::new(config.threads.get()));
        engine.want_rollups = true;
        // The circular's alerts of the quarter (not checkpointed: after a
        // restart the draft counts from the restart's first evaluation).
        engine.fired_log = Some(Default::default());
        let store = CheckpointStore::open(&config.state_dir, "live.ckpt")?;
        let started = Instant::now();
        let (positions, outbox, next_seq, owed, triage) = match store.read_versioned::<Checkpoint>()? {
            Some(ReadBack { value: checkpoint, bytes, version }) => {
                let carried = engine
                    .restore(checkpoint.engine, version, |origin| decode(&origin.raw, &limits))
                    .map_err(|e| anyhow::anyhow!("cannot restore {}: {e}", store.path().display()))?;
                if let Some(carried) = carried {
                    tracing::warn!(
                        "{} was written with other reference data than {} holds now; the state was carried onto it: {}",
                        store.path().display(),
                        config.reference.display(),
                        carried.summary()
                    );
                    reload_metrics.carried(&carried);
                } else if checkpoint.reference_fingerprint != fingerprint {
                    tracing::info!("the reference files changed since the checkpoint, but none of the codes the state keeps");
                }
                metrics.restored(bytes as usize);
                tracing::info!(
                    "restored {} ({:.1} MB) in {:.2} s",
                    store.path().display(),
                    bytes as f64 / 1e6,
                    started.elapsed().as_secs_f64()
                );
                (checkpoint.positions, checkpoint.outbox, checkpoint.next_seq, checkpoint.alertmanager, checkpoint.triage)
            }
            None => (Positions::default(), Vec::new(), 1, Owed::default(), Triage::default()),
        };
        let silences = config.alertmanager.url.as_ref().map(Silences::new);
        if silences.is_some() {
            shared.offer_acknowledgements(config.triage.acknowledge_hours);
        }
        let alertmanager = config.alertmanager.url.as_ref().map(|url| {
            let resend = config.alertmanager.resend;
            Alertmanager::start(url, config.external_url(), resend, owed, shared.metrics.alertmanager.clone())
        });
        let source = KafkaSource::subscribe(&config.kafka, &config.input_topics(), config.tick)?;
        for ((topic, partition), next) in positions.iter() {
            source.resume_at(topic, *partition, *next);
        }
        let dead_letters = DeadLetterTopic::create(&config.kafka)?;
        let log = TransitionLog::open(config.transitions_file.as_deref())?;
        let facts = if config.kafka.assignment == config::Assignment::Group {
            let mut facts = FactsTopic::open(&config.kafka)?;
            let heard = tokio::task::block_in_place(|| facts.catch_up(&mut engine.stage, FACTS_CATCH_UP))?;
            tracing::info!("read {heard} overdue facts of the group from {}", config.kafka.facts_topic);
            engine.publish_facts = true;
            Some(facts)
        } else {
            None
        };
        let outputs = Outputs { alertmanager, http: Some(Arc::clone(&shared)), ..Outputs::default() };
        let mut runner = Runner::new(engine, dead_letters, outputs, limits);
        runner.triage = triage;
        runner.history_retention = chrono::Duration::days(i64::from(config.triage.history_days));
        let mut live = Live {
            clock: WallClock::new(config.evaluate_at),
            config,
            runner,
            positions,
            source,
            store,
            fingerprint,
            outbox,
            next_seq,
            log,
            facts,
            shared,
            metrics,
            reload_metrics,
            silences,
            dirty: false,
            changes: 0,
            evaluated: None,
            confirmed_at: None,
            behind_since: None,
            owned: (BTreeSet::new(), 0),
            systemd: notify::Notify::default(),
        };
        // Restored alerts are served at once; the first evaluation follows.
        live.shared.publish_engine(&live.runner.engine, live.clock.now(), false);
        live.deliver_outbox()?;
        Ok(live)
    }

    async fn run_until_shutdown(&mut self) -> Result<()> {
        // Delay, not burst: a slow evaluation must not starve the other branches.
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut checkpoint = tokio::time::interval(self.config.checkpoint_every);
        checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        let mut hangups = hangup_signals();
        let mut commands = self.shared.take_commands();
        let mut questions = self.shared.take_questions();
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(()) = hangups.recv() => {
                    self.reload("SIGHUP").await?;
                }
                Some(command) = commands.recv() => match command {
                    http::Command::Reload { reply } => {
                        let outcome = self.reload("POST /-/reload").await?;
                        let _ = reply.send(outcome);
                    }
                    http::Command::Acknowledge { fingerprint, person, comment, hours, reply } => {
                        let acknowledged = self.acknowledge(&fingerprint, person, comment, hours).await?;
                        let _ = reply.send(acknowledged);
                    }
                },
                Some(asked) = questions.recv() => self.runner.answer(asked),
                _ = tick.tick() => self.on_tick().await?,
                _ = checkpoint.tick() => {
                    self.checkpoint_and_commit().await?;
                }
                message = self.source.recv() => match message {
                    Ok(origin) => {
                        let burst = self.burst(origin).await;
                        self.on_messages(burst)?;
                    }
                    Err(e) => {
                        self.metrics.broker_error();
                        self.source.trouble().warn(e);
                    }
                },
            }
        }
        tracing::info!("shutting down, writing a final checkpoint");
        self.dirty = true;
        for attempt in 1..=FINAL_ATTEMPTS {
            if self.checkpoint_and_commit().await? {
                return Ok(());
            }
            tracing::warn!("the final checkpoint is postponed (attempt {attempt} of {FINAL_ATTEMPTS}); retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // Safe to stop: offsets were committed only up to the last good
        // checkpoint, so a restart reads again what came after it.
        let why = self.shared.health().and_then(|h| h.checkpoint_failure).unwrap_or_else(|| "the broker did not acknowledge the dead letters".into());
        anyhow::bail!("the final checkpoint could not be written ({why}); the last good one is kept and a restart resumes from it")
    }

    /// `first` and the messages the consumer already holds behind it (up
    /// to [`BURST`]): the shards apply them side by side.
    async fn burst(&mut self, first: KafkaOrigin) -> Vec<KafkaOrigin> {
        let mut burst = vec![first];
        while burst.len() < BURST {
            // A zero timeout polls once: only what is there already.
            match tokio::time::timeout(Duration::ZERO, self.source.recv()).await {
                Ok(Ok(origin)) => burst.push(origin),
                Ok(Err(e)) => {
                    self.metrics.broker_error();
                    self.source.trouble().warn(e);
                    break;
                }
                Err(_) => break,
            }
        }
        burst
    }

    fn on_messages(&mut self, burst: Vec<KafkaOrigin>) -> Result<()> {
        self.changes += 1;
        // A partition moved to where the state ends: the rest of the burst
        // from it is of the old stream.
        let mut moved: BTreeSet<(String, i32)> = BTreeSet::new();
        let mut taken = Vec::with_capacity(burst.len());
        let reassignments = self.source.reassignments();
        for origin in burst {
            let (topic, partition, offset) = (origin.topic.as_str(), origin.partition, origin.offset);
            if moved.contains(&(topic.to_string(), partition)) {
                continue;
            }
            if !self.source.continues(&self.positions, topic, partition, offset) {
                if self.source.reassignments() != reassignments {
                    // Every owned partition was assigned again (librdkafka
                    // drops what it had fetched): the rest of the burst is
                    // of the old streams, fetched again from where the state
                    // ends and checked again.
                    break;
                }
                moved.insert((topic.to_string(), partition));
                continue;
            }
            if self.positions.next(topic, partition).is_some_and(|next| offset < next) {
                self.metrics.skipped(topic);
                continue;
            }
            taken.push(origin);
        }
        let at: Vec<(String, i32, i64)> = taken.iter().map(|o| (o.topic.clone(), o.partition, o.offset)).collect();
        let fates = self.runner.take_messages(taken)?;
        for ((topic, partition, offset), fate) in at.iter().zip(fates) {
            self.metrics.taken(topic, fate);
            self.positions.advance(topic, *partition, *offset);
        }
        let touched: BTreeSet<(&str, i32)> = at.iter().map(|(t, p, _)| (t.as_str(), *p)).collect();
        for (topic, partition) in touched {
            if let Some(next) = self.positions.next(topic, partition) {
                self.source.resume_at(topic, partition, next);
            }
        }
        if at.is_empty() {
            return Ok(());
        }
        if let Some(latest) = self.runner.latest_event() {
            self.shared.metrics.watermark_seconds.set(latest as f64 / 1e6);
        }
        self.dirty = true;
        Ok(())
    }

    /// Follows the partition assignment: answers for the institutions whose
    /// events are on the owned partitions (Kafka's default partitioner).
    fn follow_assignment(&mut self) -> Result<()> {
        let topic = self.config.kafka.orders_topic.clone();
        let owned = self.source.owned_partitions(&topic)?;
        // Nothing assigned is a rebalance in progress (or not joined yet),
        // not a decision to answer for no one: keep what we have — unless
        // the group did assign this member nothing (more members than
        // partitions): then it answers for no institution and no key.
        let nobody = owned.is_empty() && self.source.assigned_nothing();
        if (owned.is_empty() && !nobody) || (owned == self.owned.0 && self.owned.1 > 0) {
            return Ok(());
        }
        let count = self.source.partition_count(&topic)?;
        let (answers, keys) = if count == 0 || (owned.len() == count && !nobody) {
            (None, None)
        } else {
            let reference = self.runner.engine.reference();
            let answers = reference.institutions.iter().map(|i| owned.contains(&(partition_of(i.code.as_bytes(), count) as i32))).collect();
            (Some(answers), Some(KeyOwnership { partitions: owned.clone(), count }))
        };
        tracing::info!("owns partitions {owned:?} of {count} of {topic}");
        let list: Vec<i32> = owned.iter().copied().collect();
        self.shared.update_health(|h| h.partitions = list);
        let mut handed_over = self.runner.engine.answer_for(answers, keys);
        handed_over.extend(self.runner.triage.hand_over(&handed_over));
        if let Some(am) = self.runner.alertmanager() {
            am.hand_over(&handed_over);
        }
        self.owned = (owned, count);
        self.dirty = true;
        self.changes += 1;
        Ok(())
    }

    async fn on_tick(&mut self) -> Result<()> {
        self.shared.update_health(|h| h.heartbeat = Instant::now());
        if let Err(e) = self.follow_assignment() {
            self.source.trouble().warn(format_args!("cannot follow the partition assignment: {e:#}"));
        }
        let reported = match self.source.lag(&self.positions) {
            Ok(lags) => {
                for l in &lags {
                    self.metrics.lag(&l.topic, l.partition, l.lag);
                }
                !lags.is_empty() && lags.iter().all(|l| l.lag == Some(0))
            }
            Err(e) => {
                self.metrics.broker_error();
                self.source.trouble().warn(format_args!("cannot measure consumer lag: {e:#}"));
                false
            }
        };
        let confirmed = self.confirm_at_end(reported);
        let caught_up = confirmed.unwrap_or(reported);
        let reachable = self.source.broker_reachable() && confirmed.is_some();
        let undelivered = self.runner.alertmanager().map_or(0, Alertmanager::undelivered);
        self.shared.update_health(|h| {
            h.caught_up = caught_up;
            h.broker_reachable = Some(reachable);
            h.alertmanager_undelivered = undelivered;
        });
        let behind_since = if caught_up { None } else { Some(*self.behind_since.get_or_insert_with(Instant::now)) };
        self.behind_since = behind_since;
        let overdue = behind_since.is_some_and(|t| t.elapsed() >= self.config.max_evaluation_delay);
        // A group member that has never been assigned a partition answers
        // for no one yet: evaluating would raise every institution's alerts
        // from an empty state, and publishing would erase the group's facts.
        let assigned = self.owned.1 > 0;
        if assigned && (caught_up || overdue) {
            self.evaluate(confirmed == Some(true)).await?;
        }
        if self.shared.health().is_some_and(|h| h.not_ready().is_empty()) {
            self.systemd.ready("caught up and evaluated");
        }
        Ok(())
    }

    /// What the statistics say (`reported`), confirmed with the broker:
    /// `Some(at_end)`, or `None` when the broker cannot be asked (an
    /// outage: the statistics then decide whether to evaluate, so
    /// time-driven alerts go on, but no orphan expires). Only a confirmed
    /// end lets the orphan clock run. Nothing taken since the broker last
    /// confirmed means still at its end: what arrived meanwhile shows in
    /// the statistics or the stream.
    fn confirm_at_end(&mut self, reported: bool) -> Option<bool> {
        if !reported {
            return Some(false);
        }
        if self.confirmed_at == Some(self.changes) {
            return Some(true);
        }
        match self.source.confirm_caught_up(&self.positions) {
            Ok(at_end) => {
                self.confirmed_at = at_end.then_some(self.changes);
                Some(at_end)
            }
            Err(e) => {
                self.source.trouble().warn(format_args!("{e:#}"));
                None
            }
        }
    }

    /// Evaluates at the wall clock's instant; `at_end` (the broker said
    /// every partition is read to its end) lets the orphan clock run.
    async fn evaluate(&mut self, at_end: bool) -> Result<()> {
        let at = self.clock.now();
        let watermark = WallClock::watermark(at_end, self.runner.latest_event(), at);
        if let Some(facts) = &mut self.facts {
            if facts.drain(&mut self.runner.engine.stage) > 0 {
                self.changes += 1;
            }
            self.runner.engine.republish_facts |= facts.refresh_due();
        }
        let seen = (at, watermark, self.changes);
        let transitions = if self.evaluated == Some(seen) && !self.runner.engine.republish_facts {
            Vec::new()
        } else {
            let transitions = self.runner.evaluate(at, watermark).await?;
            self.evaluated = Some(seen);
            transitions
        };
        let triaged = self.triage_after_evaluation(at).await;
        if let Some(facts) = &self.facts {
            let changes = self.runner.engine.take_fact_changes();
            if let Err(e) = facts.publish(&changes) {
                self.source.trouble().warn(format_args!("{e:#}; the next evaluation publishes them again"));
            }
        }
        if transitions.is_empty() && !triaged {
            return Ok(());
        }
        for t in transitions {
            let mut line = t.to_json();
            line["seq"] = self.next_seq.into();
            self.outbox.push((self.next_seq, line.to_string()));
            self.next_seq += 1;
        }
        self.dirty = true;
        // The outbox must be durable before anyone hears of it: the
        // checkpoint delivers it (now, or the next one that succeeds).
        self.checkpoint_and_commit().await?;
        Ok(())
    }

    /// After an evaluation: escalates the incidents nobody acknowledged
    /// in time, and expires the silences of those that resolved. Returns
    /// whether the triage changed (the checkpoint must keep it).
    async fn triage_after_evaluation(&mut self, at: chrono::DateTime<chrono::FixedOffset>) -> bool {
        let Some(silences) = self.silences.clone() else { return false };
        let after = chrono::Duration::minutes(i64::from(self.config.triage.escalate_after_minutes));
        let escalations = self.runner.triage.escalations(at, self.runner.engine.book(), after, chrono::Utc::now());
        let mut changed = !escalations.is_empty();
        for t in &escalations {
            tracing::warn!(
                "incident {} {}: {}",
                t.alert.labels.get("city_code").map_or("", String::as_str),
                t.alert.labels.get("product_code").map_or("", String::as_str),
                if t.status == vbp_detectors::alert::Status::Firing { "unacknowledged, escalated to the provincial duty officer" } else { "escalation over" }
            );
        }
        if let Some(am) = self.runner.alertmanager() {
            am.send(&escalations);
        }
        for (key, id) in self.runner.triage.silences_to_expire() {
            match silences.expire(&id).await {
                Ok(()) => {
                    tracing::info!("incident {} {} resolved: its acknowledgement's silence {id} is expired", key.0, key.1);
                    self.runner.triage.silence_expired(&key, chrono::Utc::now());
                    changed = true;
                }
                Err(e) => tracing::warn!("cannot expire silence {id} of a resolved incident ({e}); trying again at the next evaluation"),
            }
        }
        changed
    }

    /// Acknowledges a supply-break incident: an Alertmanager silence of its
    /// labels, created by `person` with `comment`, checkpointed before the
    /// answer so a restart keeps it.
    async fn acknowledge(&mut self, fingerprint: &str, person: String, comment: String, hours: u32) -> Result<Result<Ack, String>> {
        let Some(silences) = self.silences.clone() else { return Ok(Err("no Alertmanager is configured".into())) };
        let Some(firing) = self.runner.engine.book().firing().find(|f| f.alert.fingerprint() == fingerprint) else {
            return Ok(Err("this incident is not firing now".into()));
        };
        let Some(key) = incident_key(&firing.alert) else { return Ok(Err("only a supply-break incident is acknowledged".into())) };
        let matchers = vec![("alertname".to_string(), "SupplyBreak".to_string()), ("city_code".to_string(), key.0.clone()), ("product_code".to_string(), key.1.clone())];
        let now = chrono::Utc::now();
        let until = now + chrono::Duration::hours(i64::from(hours));
        let silence_id = match silences.create(&matchers, until, &person, &comment).await {
            Ok(id) => id,
            Err(e) => return Ok(Err(format!("the acknowledgement was not recorded: {e}"))),
        };
        // A new acknowledgement replaces the one before, and its silence.
        if let Some(before) = self.runner.triage.ack(&key).filter(|a| a.expired_at.is_none()) {
            if let Err(e) = silences.expire(&before.silence_id).await {
                tracing::warn!("cannot expire the replaced silence {}: {e}", before.silence_id);
            }
        }
        let ack = Ack { by: person, comment, at: now, until, silence_id, expired_at: None };
        tracing::info!("incident {} {} acknowledged by {} until {} (silence {})", key.0, key.1, ack.by, ack.until, ack.silence_id);
        self.runner.triage.acknowledge(key, ack.clone());
        self.dirty = true;
        self.checkpoint_and_commit().await?;
        Ok(Ok(ack))
    }

    /// Loads the reference directory again and, when it is valid and
    /// changed, carries the state onto it and checkpoints at once (so a
    /// crash right after keeps the new data's ids); see [`reload`].
    async fn reload(&mut self, why: &str) -> Result<ReloadOutcome> {
        let started = Instant::now();
        let dir = self.config.reference.clone();
        let outcome = match tokio::task::block_in_place(|| reload::load(&dir)) {
            Err(problems) => ReloadOutcome::Refused { problems },
            Ok(loaded) if loaded.fingerprint == self.fingerprint => ReloadOutcome::Unchanged,
            Ok(loaded) => self.apply_reference(loaded, started).await?,
        };
        self.reload_metrics.record(why, &outcome);
        Ok(outcome)
    }

    /// Carries the state onto valid new reference data (see [`reload`]).
    async fn apply_reference(&mut self, loaded: reload::Loaded, started: Instant) -> Result<ReloadOutcome> {
        let carried = match tokio::task::block_in_place(|| self.runner.engine.reload(Arc::clone(&loaded.reference))) {
            Ok(carried) => carried,
            // The engine changes nothing when it cannot build the new tables.
            Err(e) => return Ok(ReloadOutcome::Refused { problems: vec![format!("cannot build the tables of the new data: {e}")] }),
        };
        self.fingerprint = loaded.fingerprint;
        self.shared.set_division_names(loaded.reference.divisions.list().iter().cloned().collect());
        // Who answers for an institution new to the data: its partition says.
        self.owned = (BTreeSet::new(), 0);
        if let Err(e) = self.follow_assignment() {
            self.source.trouble().warn(format_args!("cannot follow the partition assignment: {e:#}"));
        }
        self.dirty = true;
        self.changes += 1;
        self.checkpoint_and_commit().await?;
        Ok(ReloadOutcome::Applied { seconds: started.elapsed().as_secs_f64(), carried })
    }

    /// Appends the checkpointed transitions to the log (it skips the
    /// sequence numbers it already has, so delivering twice is harmless).
    /// A log that cannot be written (a full disk) keeps them in the
    /// outbox, and so in the checkpoints, until it can.
    fn deliver_outbox(&mut self) -> Result<()> {
        if self.outbox.is_empty() {
            return Ok(());
        }
        match self.log.write(&self.outbox) {
            Ok(()) => self.outbox.clear(),
            Err(e) => CHECKPOINT_TROUBLE.warn(format_args!("{e:#}; the transitions stay in the checkpoint until the log takes them")),
        }
        Ok(())
    }

    /// Writes a checkpoint when something changed, then commits offsets.
    /// `Ok(false)` when it had to be postponed (broker not acknowledging).
    async fn checkpoint_and_commit(&mut self) -> Result<bool> {
        if !self.dirty {
            return Ok(true);
        }
        self.runner.dead_letter_refused_alerts()?;
        if !self.runner.dead_letters_mut().flush(FLUSH_WAIT).await? {
            tracing::warn!("dead letters not acknowledged within {FLUSH_WAIT:?}; checkpoint postponed");
            return Ok(false);
        }
        let started = Instant::now();
        let checkpoint = CheckpointRef {
            reference_fingerprint: self.fingerprint,
            positions: &self.positions,
            engine: self.runner.engine.snapshot(),
            outbox: &self.outbox,
            next_seq: self.next_seq,
            alertmanager: self.runner.alertmanager().map(Alertmanager::owed).unwrap_or_default(),
            triage: &self.runner.triage,
        };
        let bytes = match tokio::task::block_in_place(|| self.store.write(&checkpoint)) {
            Ok(bytes) => bytes,
            Err(e) => {
                // A full disk, say: keep running on the last good
                // checkpoint, commit nothing past it, and say so.
                self.metrics.checkpoint_failed();
                CHECKPOINT_TROUBLE.warn(format_args!("{e}; the last good checkpoint is kept and offsets stay committed up to it"));
                self.shared.update_health(|h| h.checkpoint_failure = Some(e.to_string()));
                return Ok(false);
            }
        };
        CHECKPOINT_TROUBLE.recovered();
        self.metrics.checkpointed(bytes as usize, started.elapsed().as_secs_f64());
        self.shared.update_health(|h| {
            h.last_checkpoint = Some(Instant::now());
            h.checkpoint_failure = None;
        });
        self.dirty = false;
        // Transitions reach the log only once a checkpoint holds them, and
        // then from whichever checkpoint that is (one postponed at an
        // evaluation leaves them for the periodic or the final one).
        self.deliver_outbox()?;
        tracing::debug!(positions = ?self.positions, "checkpoint written; committing");
        if let Err(e) = self.source.commit(&self.positions) {
            self.source.trouble().warn(format_args!("offsets not committed (the checkpoint has them): {e:#}"));
        }
        Ok(true)
    }
}

/// One item per SIGHUP (none where there are no signals).
fn hangup_signals() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangup) => {
            tokio::spawn(async move {
                while hangup.recv().await.is_some() {
                    // Several SIGHUPs while a reload runs are one reload.
                    let _ = tx.try_send(());
                }
            });
        }
        Err(e) => tracing::warn!("cannot listen for SIGHUP (reload with POST /-/reload): {e}"),
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
