//! The engine: one straight line from a decoded event to alert transitions.
//!
//! ```text
//! decoded event ─► dedup ─► hold until its order/delivery arrives ─► state ─► evaluate at T ─► alert book
//!                     │            │ (orphan after timeout)            │ rejection
//!                     ▼            ▼                                   ▼
//!                  counted      dead letter                        dead letter
//! ```
//!
//! Replay, demo and live mode drive the same engine; they differ only in
//! where events come from, which clock picks T, and where outputs go. The
//! engine knows nothing of files or Kafka: each event travels with an opaque
//! origin `O` that comes back with its rejection so the driver can write the
//! original bytes to the dead-letter output.

mod content;
mod held;
pub mod router;
mod shard;
mod snapshot;
mod stats;

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};
use datafusion::error::DataFusionError;
use tracing::instrument;
use vbp_detectors::abridge::abridge;
use vbp_detectors::alert::{Alert, AlertBook, AlertName, Transition};
use vbp_detectors::circular::FiredLog;
use vbp_detectors::config::DetectorConfig;
use vbp_detectors::reference::{Institution, InstitutionId, ReferenceData, ReferenceKeys, Remap};
use vbp_detectors::report::ReportRow;
use vbp_detectors::rollups::{self, Rollups};
use vbp_detectors::rules::supply_break::OverdueFact;
use vbp_detectors::rules::{self, ShardAnswer};
use vbp_detectors::state::{Carried, Micros, Purchases, State, StateSizes};
use vbp_detectors::tables::{Need, StaticTables};
use vbp_schemas::{Event, EventBody, Reason, Rejection};

use crate::stage::{FactChange, KeyOwnership, SupplyStage};

pub use held::{Held, HeldEvent};
pub use router::{Keyed, Route, Router, Routes};
pub use shard::{Applied, Shard};
pub use snapshot::{EngineSnapshot, EngineSnapshotRef};
pub use stats::Stats;

const DAY_MICROS: Micros = 24 * 3_600 * 1_000_000;

/// Default `orphan_timeout`: 7 days of event time (SPEC §4).
pub const DEFAULT_ORPHAN_TIMEOUT_MICROS: Micros = 7 * DAY_MICROS;

/// How long finished business and seen `event_id`s are remembered, in event
/// time. Beyond it an order line that is delivered and accepted, a delivery
/// that is paid, and an id, are forgotten: memory follows open business,
/// not the number of events ever seen. A repeat older than this is not
/// caught by the id set — in live mode committed Kafka offsets already keep
/// the consumer from reading it again, and replay applies events sorted, so
/// exact repeats are adjacent.
pub const DEFAULT_RETENTION_MICROS: Micros = 35 * DAY_MICROS;

/// How far the retention horizon moves before finished business and old
/// ids are swept out: a sweep walks every remembered id and line, so it
/// runs weekly in event time rather than at every evaluation, and memory
/// holds at most retention + one week.
const SWEEP_EVERY_MICROS: Micros = 7 * DAY_MICROS;

/// The `event_id`s remembered for de-duplication, by digest: 16 bytes and no
/// allocation per id instead of a string (15 M ids at province scale).
pub type SeenIds = vbp_detectors::FastMap<u128, SeenId>;

/// What is remembered of an `event_id`: when its event occurred (for the
/// retention) and a digest of its whole content ([`content`]), so that a
/// resend (the same content) is told from another event under the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeenId {
    pub at: Micros,
    pub content: u64,
}

/// An `event_id`'s digest, the one finished order lines and deliveries are
/// kept under too.
pub use vbp_detectors::state::id_digest;

/// A rejected event with its origin, for the dead-letter output.
#[derive(Debug, Clone)]
pub struct Rejected<O> {
    pub origin: O,
    pub rejection: Rejection,
}

/// What became of one ingested input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It changed the state (and may have released waiting events).
    Applied,
    /// It refers to an order or delivery not seen yet, and waits for it
    /// until the orphan timeout.
    Waiting,
    /// Its `event_id` was seen before: counted and ignored.
    Duplicate,
    /// It goes to the dead-letter output, for this reason.
    Rejected(Reason),
}

impl Fate {
    /// The `outcome` label of `vbp_events_total`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Fate::Applied => "applied",
            Fate::Waiting => "waiting",
            Fate::Duplicate => "duplicate",
            Fate::Rejected(_) => "rejected",
        }
    }
}

/// An input's fate, with every rejection it caused (its own, or those of
/// waiting events it released), each with its origin.
#[derive(Debug)]
#[must_use = "rejections must reach the dead-letter output"]
pub struct Ingested<O> {
    pub fate: Fate,
    pub rejected: Vec<Rejected<O>>,
}

/// The order in which events apply: event time, then causal type order
/// (an order before its delivery at the same instant), then id, then the
/// whole content — a total order, so any arrival order of the same events
/// (two different events under one id and time included) gives the same
/// state.
pub fn event_order(a: &Event, b: &Event) -> Ordering {
    (a.occurred_at.timestamp_micros(), a.body.event_type(), &a.event_id)
        .cmp(&(b.occurred_at.timestamp_micros(), b.body.event_type(), &b.event_id))
        .then_with(|| format!("{a:?}").cmp(&format!("{b:?}")))
}

pub struct Engine<O> {
    reference: Arc<ReferenceData>,
    /// The codes behind `reference`'s ids, for checkpoints (worked out
    /// once per reference version, not at every checkpoint).
    keys: ReferenceKeys,
    config: DetectorConfig,
    statics: StaticTables,
    /// The state, sharded by institution ([`router`]); one shard unless
    /// [`Engine::shard`] asked for more.
    shards: Vec<Shard<O>>,
    router: Router,
    /// The institutions this instance answers for (`None`: all); see
    /// [`Engine::answer_for`].
    owned: Option<Vec<bool>>,
    /// `event_id` → event time, for de-duplication within the retention
    /// (one set for every shard: a repeat is a repeat wherever it goes).
    seen: SeenIds,
    book: AlertBook,
    orphan_timeout: Micros,
    pub stats: Stats,
    /// Compute the dashboards' roll-ups at each evaluation (demo, live).
    pub want_rollups: bool,
    /// The roll-ups of the last evaluation, when wanted.
    pub rollups: Option<Rollups>,
    /// Wall-clock seconds the last evaluation took.
    pub last_evaluation_seconds: f64,
    /// The retention horizon of the last sweep.
    swept_to: Micros,
    /// The supply-break stage: the (city, product) keys this engine
    /// answers for, and the facts heard from other instances.
    pub stage: SupplyStage,
    /// Keep [`Engine::take_fact_changes`] filled for `vbp.facts` (live mode
    /// with other instances in the group).
    pub publish_facts: bool,
    /// At the next evaluation, publish every fact, not only the changes.
    pub republish_facts: bool,
    fact_changes: Vec<FactChange>,
    /// The alerts firing in the current quarter, for the circular (SPEC
    /// §11), when kept (`circular`, demo, live).
    pub fired_log: Option<FiredLog>,
}

impl<O> Engine<O> {
    pub fn new(reference: Arc<ReferenceData>, config: DetectorConfig) -> Result<Self, DataFusionError> {
        let statics = StaticTables::build(&reference, &config)?;
        Ok(Engine {
            keys: ReferenceKeys::of(&reference),
            shards: vec![Shard::new(&reference, None)],
            owned: None,
            router: Router::new(Routes::new(1)),
            reference,
            config,
            statics,
            seen: SeenIds::default(),
            book: AlertBook::default(),
            orphan_timeout: DEFAULT_ORPHAN_TIMEOUT_MICROS,
            stats: Stats::default(),
            want_rollups: false,
            rollups: None,
            last_evaluation_seconds: 0.0,
            swept_to: Micros::MIN,
            stage: SupplyStage::default(),
            publish_facts: false,
            republish_facts: false,
            fact_changes: Vec::new(),
            fired_log: None,
        })
    }

    /// Cuts the (still empty) state into the shards of `routes` (learnt
    /// from the input, [`Routes`]; live mode's route by the Kafka key),
    /// applied and evaluated on as many threads.
    pub fn shard(&mut self, routes: Routes) {
        self.router = Router::new(routes);
        let n = self.router.shards();
        let shard_of = self.router.homes(self.reference.institutions.iter().map(|i| i.code.as_str()));
        self.shards = (0..n as u16)
            .map(|s| {
                let home = (n > 1).then(|| shard_of.iter().map(|&of| of == s).collect());
                let mut shard = Shard::new(&self.reference, home);
                shard.answer_for(self.owned.as_deref());
                shard
            })
            .collect();
    }

    pub fn statics(&self) -> &StaticTables {
        &self.statics
    }

    pub fn reference(&self) -> &ReferenceData {
        &self.reference
    }

    /// The whole state, when it is one shard (`sql`, `footprint`).
    pub fn state(&self) -> Option<&State> {
        match self.shards.as_slice() {
            [only] => Some(only.state()),
            _ => None,
        }
    }

    /// The execution report (SPEC §10) at local date `today`, for the
    /// institutions `include` accepts, from every shard's sums.
    pub fn report(&self, today: NaiveDate, include: impl Fn(&Institution) -> bool) -> Vec<ReportRow> {
        let sums: Vec<&Purchases> = self.shards.iter().map(|s| &s.state().purchases).collect();
        vbp_detectors::report::rows(&self.reference, &sums, today, include)
    }

    /// The dashboards' roll-ups at `at` over every shard, computed once
    /// (the circular's delivery figures), whether or not each evaluation
    /// computes them.
    pub async fn rollups_at(&self, at: DateTime<FixedOffset>) -> Result<Rollups, DataFusionError> {
        let mut all = Rollups::default();
        for shard in &self.shards {
            let eval = rules::Evaluation::new(&self.statics, &self.reference, &shard.state, &self.config, at, Need::Everything)?;
            all.add(rollups::compute(&eval).await?);
        }
        Ok(all)
    }

    /// Every shard's state.
    pub fn states(&self) -> Vec<&State> {
        self.shards.iter().map(|s| s.state()).collect()
    }

    /// What the state holds, over every shard.
    pub fn sizes(&self) -> StateSizes {
        self.shards.iter().map(|s| s.state.sizes()).fold(StateSizes::default(), |a, b| a + b)
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    pub fn book(&self) -> &AlertBook {
        &self.book
    }

    /// Carries the state onto new reference data (a live reload, SIGHUP or
    /// `POST /-/reload`): every record follows its codes to the new ids,
    /// and what cannot follow is counted in the answer ([`State::carried`]).
    /// The alerts of what is gone resolve at the next evaluation. Ownership
    /// follows the institutions' codes; one new to the data is owned once
    /// the driver looks at its partitions again ([`Engine::answer_for`]).
    pub fn reload(&mut self, reference: Arc<ReferenceData>) -> Result<Carried, DataFusionError> {
        let statics = StaticTables::build(&reference, &self.config)?;
        let keys = ReferenceKeys::of(&reference);
        let old = std::mem::replace(&mut self.keys, keys);
        let remap = Remap::between(&old, &reference);
        let forgotten_before = self.forgotten_before(self.stats.latest_event);
        let homes = (self.shards.len() > 1).then(|| self.router.homes(reference.institutions.iter().map(|i| i.code.as_str())));
        let mut carried = Carried::default();
        for (index, shard) in self.shards.iter_mut().enumerate() {
            let state = std::mem::replace(&mut shard.state, State::new(&reference));
            let (state, shard_carried) = state.carried(&old, &reference, &remap, forgotten_before);
            shard.state = state;
            carried.merge(shard_carried);
            shard.home = homes.as_ref().map(|h| h.iter().map(|&of| usize::from(of) == index).collect());
        }
        self.owned = self.owned.take().map(|owned| {
            let mut now = vec![false; reference.institutions.len()];
            for (old_id, owns) in owned.into_iter().enumerate() {
                if let Some(new_id) = remap.institution(InstitutionId(old_id as u32)) {
                    now[new_id.index()] = owns;
                }
            }
            now
        });
        for shard in &mut self.shards {
            shard.answer_for(self.owned.as_deref());
        }
        self.reference = reference;
        self.statics = statics;
        Ok(carried)
    }

    /// Finished business before this instant may have been forgotten
    /// (the retention behind the newest event, [`Engine::sweep`]).
    fn forgotten_before(&self, latest_event: Option<Micros>) -> Micros {
        latest_event.map_or(Micros::MIN, |t| t.saturating_sub(DEFAULT_RETENTION_MICROS))
    }

    /// Answers only for the institutions marked in `owned` and the supply
    /// breaks of the (city, product) keys of `keys` (`None`: all): the
    /// rules leave the others out, and their alerts are forgotten without a
    /// transition, since another instance answers for them now. Returns the
    /// alerts forgotten, for the sinks to stop re-sending them.
    pub fn answer_for(&mut self, owned: Option<Vec<bool>>, keys: Option<KeyOwnership>) -> Vec<Alert> {
        for shard in &mut self.shards {
            shard.answer_for(owned.as_deref());
        }
        self.owned = owned;
        self.stage.set_ownership(keys);
        let (reference, stage) = (&self.reference, &self.stage);
        let answers_for = |id: InstitutionId| owns(self.owned.as_deref(), id);
        let forgotten = self.book.forget(|alert| match alert.labels.get("institution_code") {
            Some(code) => reference.institution(code).is_none_or(answers_for),
            None if alert.name == AlertName::SupplyBreak => {
                let label = |l: &str| alert.labels.get(l).map_or("", String::as_str);
                stage.owns(label("city_code"), label("product_code"))
            }
            None => true,
        });
        if !forgotten.is_empty() {
            tracing::info!(forgotten = forgotten.len(), "alerts handed over with their institutions");
        }
        forgotten
    }

    /// Whether this engine answers for the institution of `code`.
    fn answers_for(&self, code: &str) -> bool {
        self.reference.institution(code).is_some_and(|id| owns(self.owned.as_deref(), id))
    }

    /// The changes of this engine's overdue facts that `vbp.facts` does not
    /// hold yet (filled by each evaluation when `publish_facts`).
    pub fn take_fact_changes(&mut self) -> Vec<FactChange> {
        std::mem::take(&mut self.fact_changes)
    }

    /// Makes room for ids to remember, given the events of each local date
    /// to come: at most those of the retention plus the week between
    /// sweeps are ever remembered at once. A replay knows them after its
    /// first pass, and the table then grows once instead of doubling its
    /// way there (each doubling rehashes every id into fresh pages).
    pub fn reserve_ids(&mut self, per_day: impl IntoIterator<Item = (NaiveDate, usize)>) {
        let window = ((DEFAULT_RETENTION_MICROS + SWEEP_EVERY_MICROS) / DAY_MICROS) as i64 + 1;
        let days: Vec<(NaiveDate, usize)> = per_day.into_iter().collect();
        let (mut first, mut held, mut most) = (0, 0usize, 0usize);
        for &(day, n) in &days {
            held += n;
            while (day - days[first].0).num_days() >= window {
                held -= days[first].1;
                first += 1;
            }
            most = most.max(held);
        }
        self.seen.reserve(most.saturating_sub(self.seen.len()));
    }

    /// Heap bytes of the ids remembered for de-duplication.
    pub fn seen_heap_bytes(&self) -> usize {
        vbp_detectors::state::footprint::table_bytes(self.seen.capacity(), std::mem::size_of::<(u128, SeenId)>())
    }

    /// Events waiting for their order or delivery, and ids remembered.
    pub fn pending(&self) -> (usize, usize) {
        (self.shards.iter().map(|s| s.held.len()).sum(), self.seen.len())
    }

    /// Takes one decoded event and says what became of it, with every
    /// rejection it caused: its own, or those of waiting events it released
    /// that then failed to apply.
    pub fn ingest(&mut self, event: Event, origin: O) -> Ingested<O>
    where
        O: Keyed,
    {
        match self.remember(&event) {
            Remembered::New => {}
            Remembered::Repeat => return Ingested { fate: Fate::Duplicate, rejected: Vec::new() },
            Remembered::Conflict(rejection) => return self.refuse(origin, rejection),
        }
        let shard = self.shard_of(&event, origin.key(), &RunRoutes::default());
        let applied = self.shards[shard].apply(&self.reference, event, origin);
        self.count(applied)
    }

    /// Takes a run of decoded events in order: each shard applies its own
    /// on a thread of its own, and each input's fate comes back in input
    /// order, exactly what [`Engine::ingest`] one by one would return. An
    /// id seen before (earlier in the run, or remembered) cuts the run
    /// there: whether it is a repeat depends on what became of the first,
    /// which the events before it may still change (a release that fails
    /// forgets it).
    pub fn ingest_all(&mut self, events: Vec<(Event, O)>) -> Vec<Ingested<O>>
    where
        O: Keyed + Send,
    {
        let mut fates = Vec::with_capacity(events.len());
        let (mut run, mut in_run) = (Vec::new(), vbp_detectors::FastMap::<u128, ()>::default());
        for (event, origin) in events {
            let digest = id_digest(&event.event_id);
            if in_run.contains_key(&digest) || (self.seen.contains_key(&digest) && !run.is_empty()) {
                fates.extend(self.ingest_run(std::mem::take(&mut run)));
                in_run.clear();
            }
            in_run.insert(digest, ());
            run.push((event, origin));
        }
        fates.extend(self.ingest_run(run));
        fates
    }

    /// [`Engine::ingest_all`] of a run with no id twice.
    fn ingest_run(&mut self, events: Vec<(Event, O)>) -> Vec<Ingested<O>>
    where
        O: Keyed + Send,
    {
        let mut fates: Vec<Option<Ingested<O>>> = Vec::with_capacity(events.len());
        // Sized for an even split, so a day of a province (600,000 events of
        // about 200 bytes) is not copied again at each doubling.
        let share = events.len().div_ceil(self.shards.len());
        let mut runs: Vec<Vec<(usize, Event, O)>> = (0..self.shards.len()).map(|_| Vec::with_capacity(share)).collect();
        let mut routed = RunRoutes::default();
        let looks_up = self.router.looks_up();
        for (index, (event, origin)) in events.into_iter().enumerate() {
            match self.remember(&event) {
                Remembered::Conflict(rejection) => fates.push(Some(self.refuse(origin, rejection))),
                Remembered::Repeat => fates.push(Some(Ingested { fate: Fate::Duplicate, rejected: Vec::new() })),
                Remembered::New => {
                    fates.push(None);
                    let shard = self.shard_of(&event, origin.key(), &routed);
                    if looks_up {
                        routed.note(&event, shard);
                    }
                    runs[shard].push((index, event, origin));
                }
            }
        }
        let reference = &*self.reference;
        let applied = in_parallel(self.shards.iter_mut().zip(runs).collect(), |(shard, run)| shard.apply_all(reference, run));
        for (index, applied) in applied.into_iter().flatten() {
            fates[index] = Some(self.count(applied));
        }
        fates.into_iter().flatten().collect()
    }

    /// The shard of an event: the router's answer, or, for an unkeyed live
    /// message naming no institution, the shard its order or delivery went
    /// to earlier in this run or is held in (else where it will wait).
    fn shard_of(&self, event: &Event, key: Option<&[u8]>, routed: &RunRoutes) -> usize {
        let holding = |find: &dyn Fn(&State) -> bool| self.shards.iter().position(|s| find(&s.state));
        let order = |id: &str| {
            routed.orders.get(id).copied().or_else(|| holding(&|s| s.has_order(id))).unwrap_or_else(|| self.router.fallback(id))
        };
        match self.router.route(event, key) {
            Route::Shard(shard) => shard,
            Route::Order(id) => order(id),
            Route::Delivery { delivery_id, order_id } => routed
                .deliveries
                .get(delivery_id)
                .copied()
                .or_else(|| holding(&|s| s.has_delivery(delivery_id)))
                .unwrap_or_else(|| order(order_id)),
            Route::Complaint(id) => routed
                .complaints
                .get(id)
                .copied()
                .or_else(|| holding(&|s| s.complaints.contains_key(id)))
                .unwrap_or_else(|| self.router.fallback(id)),
        }
    }

    /// Counts a decoded event and remembers its id, or says it was seen
    /// before: with the same content (a repeat), or with other content. The
    /// id is remembered until its event, or one it waited in, is rejected
    /// ([`Engine::count`], [`Engine::orphans`]): a corrected resend applies.
    fn remember(&mut self, event: &Event) -> Remembered {
        let at = event.occurred_at.timestamp_micros();
        self.stats.decoded += 1;
        self.stats.latest_event = self.stats.latest_event.max(Some(at));
        let content = content::digest(event);
        match self.seen.entry(id_digest(&event.event_id)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(SeenId { at, content });
                Remembered::New
            }
            std::collections::hash_map::Entry::Occupied(o) if content::same(o.get().content, event, content) => {
                self.stats.duplicates += 1;
                Remembered::Repeat
            }
            std::collections::hash_map::Entry::Occupied(_) => Remembered::Conflict(Rejection::new(
                Reason::BadValue,
                format!("field `event_id`: same event_id as an earlier event (`{}`) with different content", event.event_id),
            )),
        }
    }

    fn count(&mut self, applied: Applied<O>) -> Ingested<O> {
        self.stats.applied += applied.applied;
        for r in &applied.rejected {
            self.stats.reject(r.rejection.reason);
        }
        for digest in &applied.forget {
            self.seen.remove(digest);
        }
        Ingested { fate: applied.fate, rejected: applied.rejected }
    }

    /// Counts an input that did not decode into an event, and hands it back
    /// as a rejection for the dead-letter output.
    pub fn undecodable(&mut self, origin: O, rejection: Rejection) -> Ingested<O> {
        self.refuse(origin, rejection)
    }

    /// Counts a rejection of an input and hands it back for the dead-letter
    /// output.
    fn refuse(&mut self, origin: O, rejection: Rejection) -> Ingested<O> {
        self.stats.reject(rejection.reason);
        Ingested { fate: Fate::Rejected(rejection.reason), rejected: vec![Rejected { origin, rejection }] }
    }

    /// Rejects as orphans the events that waited longer than the timeout
    /// before `watermark` (event time).
    pub fn expire_orphans(&mut self, watermark: Micros) -> Vec<Rejected<O>> {
        self.orphans(watermark.saturating_sub(self.orphan_timeout), "for longer than the orphan timeout")
    }

    /// Rejects as orphans all events still waiting (end of a finite input).
    pub fn drain_orphans(&mut self) -> Vec<Rejected<O>> {
        self.orphans(Micros::MAX, "by the end of the input")
    }

    /// The orphans of every shard, in event order.
    fn orphans(&mut self, cutoff: Micros, when: &str) -> Vec<Rejected<O>> {
        let mut expired: Vec<HeldEvent<O>> = self.shards.iter_mut().flat_map(|s| s.expire_before(cutoff)).collect();
        expired.sort_by(|a, b| event_order(&a.event, &b.event));
        for held in &expired {
            self.stats.reject(Reason::Orphan);
            // Its resend, once what it waited for has arrived, must apply.
            self.seen.remove(&id_digest(&held.event.event_id));
        }
        expired.into_iter().map(|h| shard::orphan(h, when)).collect()
    }

    /// Forgets the finished business and the ids older than the retention
    /// before `at`, once the horizon has moved a week since the last sweep.
    /// Every evaluation does it first; an instant that is not evaluated
    /// (replay `--as-of` without `--alerts-out`, at a midnight) still must,
    /// so that what is remembered, and so what a late event finds, is the
    /// same whichever instants were evaluated.
    pub fn sweep(&mut self, at: DateTime<FixedOffset>) {
        // Retention follows event time, not T: a live engine catching up on
        // old events must still remember their ids and open business.
        let newest = self.stats.latest_event.unwrap_or(i64::MIN).min(at.timestamp_micros());
        let horizon = newest.saturating_sub(DEFAULT_RETENTION_MICROS);
        if horizon.saturating_sub(self.swept_to) >= SWEEP_EVERY_MICROS {
            for shard in &mut self.shards {
                shard.state.forget_finished_before(horizon);
            }
            self.seen.retain(|_, seen| seen.at >= horizon);
            self.swept_to = horizon;
        }
    }

    /// Evaluates every rule at `at` and returns the alert transitions.
    #[instrument(skip(self), fields(firing))]
    pub async fn evaluate(&mut self, at: DateTime<FixedOffset>) -> Result<Vec<Transition>, DataFusionError> {
        let started = std::time::Instant::now();
        self.sweep(at);
        let (mut alerts, facts, rollups, rule_micros) = self.answer_shards(at).await?;
        for (rule, micros) in rule_micros {
            *self.stats.rule_micros.entry(rule).or_default() += micros;
        }
        let republish = std::mem::take(&mut self.republish_facts);
        let answers_for = |code: &str| self.answers_for(code);
        alerts.extend(self.stage.alerts(&facts, answers_for, &self.reference, &self.config));
        if self.publish_facts {
            self.fact_changes = self.stage.to_publish(&facts, answers_for, republish);
        }
        self.rollups = rollups;
        let alerts = abridge(alerts, self.config.alerts.worded_per_division);
        let transitions = self.book.observe(at, alerts);
        if let Some(log) = &mut self.fired_log {
            log.observe(at, self.book.firing().map(|f| &f.alert));
        }
        self.last_evaluation_seconds = started.elapsed().as_secs_f64();
        self.stats.evaluations += 1;
        self.stats.evaluation_micros += started.elapsed().as_micros() as u64;
        for t in &transitions {
            self.stats.transition(t);
        }
        tracing::Span::current().record("firing", self.book.len());
        Ok(transitions)
    }

    /// Every shard's answer at `at`, merged as one shard would give it:
    /// alerts sorted by id, facts by (city, product, institution), roll-ups
    /// summed. Shards evaluate on threads of their own when the runtime has
    /// worker threads to spare.
    #[allow(clippy::type_complexity)]
    async fn answer_shards(
        &self,
        at: DateTime<FixedOffset>,
    ) -> Result<(Vec<Alert>, Vec<OverdueFact>, Option<Rollups>, Vec<(&'static str, u64)>), DataFusionError> {
        let need = if self.want_rollups { Need::Everything } else { Need::Rules };
        let question = Question { statics: &self.statics, reference: &self.reference, config: &self.config, need, at };
        let answers = if self.shards.len() > 1 && multi_threaded() {
            let runtime = tokio::runtime::Handle::current();
            let states: Vec<&State> = self.shards.iter().map(|s| &s.state).collect();
            tokio::task::block_in_place(|| in_parallel(states, |state| runtime.block_on(question.ask(state))))
        } else {
            let mut answers = Vec::with_capacity(self.shards.len());
            for shard in &self.shards {
                answers.push(question.ask(&shard.state).await);
            }
            answers
        };
        let (mut alerts, mut facts, mut rollups) = (Vec::new(), Vec::new(), None::<Rollups>);
        let mut rule_micros = Vec::new();
        for answer in answers {
            let (shard, shard_rollups) = answer?;
            rule_micros.extend(shard.rule_micros);
            alerts.extend(shard.alerts);
            facts.extend(shard.facts);
            if let Some(r) = shard_rollups {
                rollups.get_or_insert_with(Rollups::default).add(r);
            }
        }
        if self.shards.len() > 1 {
            alerts.sort_by(Alert::cmp_id);
            facts.sort_by(|a, b| {
                (&a.city_code, &a.product_code, &a.institution_code).cmp(&(&b.city_code, &b.product_code, &b.institution_code))
            });
        }
        Ok((alerts, facts, rollups, rule_micros))
    }

}

/// What every shard is asked at one evaluation.
#[derive(Clone, Copy)]
struct Question<'a> {
    statics: &'a StaticTables,
    reference: &'a ReferenceData,
    config: &'a DetectorConfig,
    need: Need,
    at: DateTime<FixedOffset>,
}

impl Question<'_> {
    /// One shard's alerts and facts, and its roll-ups when they are wanted.
    async fn ask(self, state: &State) -> Result<(ShardAnswer, Option<Rollups>), DataFusionError> {
        let eval = rules::Evaluation::new(self.statics, self.reference, state, self.config, self.at, self.need)?;
        let answer = rules::evaluate_shard(&eval).await?;
        let rollups = if self.need == Need::Everything { Some(rollups::compute(&eval).await?) } else { None };
        Ok((answer, rollups))
    }
}

/// What [`Engine::remember`] found of an event's id.
#[derive(Debug)]
enum Remembered {
    New,
    Repeat,
    Conflict(Rejection),
}

/// The orders and deliveries routed so far in one run, not applied yet.
#[derive(Default)]
struct RunRoutes {
    orders: vbp_detectors::FastMap<String, usize>,
    deliveries: vbp_detectors::FastMap<String, usize>,
    complaints: vbp_detectors::FastMap<String, usize>,
}

impl RunRoutes {
    fn note(&mut self, event: &Event, shard: usize) {
        match &event.body {
            EventBody::OrderPlaced(e) => {
                self.orders.entry(e.order_id.clone()).or_insert(shard);
            }
            EventBody::DeliveryReceived(e) => {
                self.deliveries.entry(e.delivery_id.clone()).or_insert(shard);
            }
            EventBody::ComplaintFiled(e) => {
                self.complaints.entry(e.complaint_id.clone()).or_insert(shard);
            }
            _ => {}
        }
    }
}

/// Whether `owned` (`None`: all) marks `institution`.
fn owns(owned: Option<&[bool]>, institution: InstitutionId) -> bool {
    owned.is_none_or(|o| o.get(institution.index()).copied().unwrap_or(false))
}

/// Whether the current runtime has worker threads (it may block one).
fn multi_threaded() -> bool {
    tokio::runtime::Handle::try_current().is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// `f` of every item, each on a thread of its own when there are several,
/// in item order.
fn in_parallel<I: Send, T: Send>(items: Vec<I>, f: impl Fn(I) -> T + Sync) -> Vec<T> {
    if items.len() <= 1 {
        return items.into_iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let threads: Vec<_> = items.into_iter().map(|item| scope.spawn(move || f(item))).collect();
        threads.into_iter().map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}
