//! N shards give exactly what one gives: every input's fate and
//! rejections, the orphans, and the alerts — on event streams built to
//! hit the router's hard cases (an order id placed twice by different
//! institutions, a payment naming another institution's delivery, an
//! acceptance naming another order's delivery, events before their order,
//! events whose order never comes, repeated event ids).
//!
//! On the same streams, a state that folds finished business answers
//! exactly as one that keeps every line readable: the same outcome of each
//! event (late deliveries, payments and repeats about folded lines
//! included), the same tables and the same alerts.

mod province;

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration};
use proptest::prelude::*;
use vbp_detectors::config::DetectorConfig;
use vbp_detectors::reference::ReferenceData;
use vbp_detectors::state::State;
use vbp_detectors::tables::{self, Need, StaticTables};
use vbp_schemas::{decode, DecodeLimits, Event};
use vbp_watch::engine::{event_order, Engine, Fate, Ingested, Routes};

fn reference() -> Arc<ReferenceData> {
    static REFERENCE: OnceLock<Arc<ReferenceData>> = OnceLock::new();
    Arc::clone(REFERENCE.get_or_init(|| province::simulate("shard-tests", 4, Some(10)).reference))
}

/// Six distinct institutions with an agreement each, and a product of its family.
fn parties() -> Vec<(String, String)> {
    let r = reference();
    let mut parties: Vec<(String, String)> = Vec::new();
    for a in &r.agreements {
        let institution = &r.institutions[a.institution.index()].code;
        let Some(product) = r.products.iter().find(|p| p.family == Some(a.family)) else { continue };
        if parties.len() < 6 && !parties.iter().any(|(i, _)| i == institution) {
            parties.push((institution.clone(), product.code.clone()));
        }
    }
    parties
}

/// One generated event: which kind, about which (small pools of) ids.
#[derive(Debug, Clone)]
struct Draw {
    kind: u8,
    party: usize,
    order: u8,
    delivery: u8,
    event: u16,
    minutes: u32,
    packs: u8,
}

fn draw() -> impl Strategy<Value = Draw> {
    (0u8..5, 0usize..6, 0u8..12, 0u8..12, 0u16..400, 0u32..(6 * 24 * 60), 1u8..8)
        .prop_map(|(kind, party, order, delivery, event, minutes, packs)| Draw { kind, party, order, delivery, event, minutes, packs })
}

fn event(d: &Draw, parties: &[(String, String)]) -> Event {
    let start = DateTime::parse_from_rfc3339("2026-01-05T00:00:00+08:00").unwrap();
    let at = (start + Duration::minutes(i64::from(d.minutes))).to_rfc3339();
    let (institution, product) = &parties[d.party % parties.len()];
    let (id, order, delivery, packs) = (format!("E{}", d.event), format!("O{}", d.order), format!("D{}", d.delivery), d.packs);
    let body = match d.kind {
        0 => format!(
            r#""type":"order.placed","order_id":"{order}","institution_code":"{institution}","product_code":"{product}","quantity_packs":"{packs}","unit_price":"1.00""#
        ),
        1 => format!(r#""type":"order.cancelled","order_id":"{order}","quantity_packs":"1""#),
        2 => format!(
            r#""type":"delivery.received","delivery_id":"{delivery}","order_id":"{order}","quantity_packs":"{packs}","distributor":"国药控股""#
        ),
        3 => format!(
            r#""type":"delivery.accepted","delivery_id":"{delivery}","order_id":"{order}","accepted_quantity_packs":"1","amount":"1.00""#
        ),
        _ => format!(
            r#""type":"payment.made","payment_id":"P{}","institution_code":"{institution}","delivery_id":"{delivery}","amount":"0.50""#,
            d.event
        ),
    };
    let json = format!(r#"{{"event_id":"{id}","occurred_at":"{at}",{body}}}"#);
    decode(json.as_bytes(), &DecodeLimits::default()).unwrap()
}

/// What one engine made of the stream: each input's fate and rejections,
/// the alerts firing at the end, and the orphans left.
#[derive(Debug, PartialEq)]
struct Outcome {
    fates: Vec<(Fate, Vec<(u32, String)>)>,
    firing: Vec<String>,
    orphans: Vec<(u32, String)>,
}

fn rejections(ingested: Ingested<u32>) -> (Fate, Vec<(u32, String)>) {
    let rejected = ingested.rejected.into_iter().map(|r| (r.origin, format!("{:?}: {}", r.rejection.reason, r.rejection.detail)));
    (ingested.fate, rejected.collect())
}

/// Runs the sorted stream through an engine of `shards` shards, taking it
/// in runs of `run` events.
fn outcome(events: &[Event], shards: usize, run: usize) -> Outcome {
    let mut engine = Engine::<u32>::new(reference(), DetectorConfig::default()).unwrap();
    let mut routes = Routes::new(shards);
    for e in events.iter().rev() {
        routes.learn(e);
    }
    routes.finish();
    engine.shard(routes);
    let numbered: Vec<(Event, u32)> = events.iter().cloned().zip(0..).collect();
    let mut fates = Vec::new();
    for chunk in numbered.chunks(run.max(1)) {
        fates.extend(engine.ingest_all(chunk.to_vec()).into_iter().map(rejections));
    }
    let end = DateTime::parse_from_rfc3339("2026-01-20T00:00:00+08:00").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(engine.evaluate(end)).unwrap();
    let firing = engine.book().firing().map(|f| f.alert.to_json(end, vbp_detectors::alert::Status::Firing).to_string()).collect();
    let orphans = engine.drain_orphans().into_iter().map(|r| (r.origin, r.rejection.detail)).collect();
    Outcome { fates, firing, orphans }
}

proptest! {
    // Each case replays its stream at one, two and three shards (about 1 s
    // in a debug build): 12 cases keep CI's 2 cores inside their budget;
    // every CI run draws new ones.
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn two_or_three_shards_reject_hold_release_and_alert_exactly_as_one(
        draws in prop::collection::vec(draw(), 1..160),
        run in 1usize..40,
    ) {
        let parties = parties();
        prop_assume!(parties.len() >= 4);
        let mut events: Vec<Event> = draws.iter().map(|d| event(d, &parties)).collect();
        events.sort_by(event_order);
        let one = outcome(&events, 1, usize::MAX);
        for shards in [2, 3] {
            let many = outcome(&events, shards, run);
            prop_assert_eq!(&many.fates, &one.fates, "fates with {} shards", shards);
            prop_assert_eq!(&many.orphans, &one.orphans, "orphans with {} shards", shards);
            let only_one: Vec<_> = one.firing.iter().filter(|a| !many.firing.contains(a)).collect();
            let only_many: Vec<_> = many.firing.iter().filter(|a| !one.firing.contains(a)).collect();
            prop_assert!(only_one.is_empty() && only_many.is_empty(), "{} shards: only one shard fires {:#?}\nonly {} shards fire {:#?}", shards, only_one, shards, only_many);
            prop_assert_eq!(&many.firing, &one.firing, "the order of the alerts with {} shards", shards);
        }
    }
}

#[test]
fn the_generated_streams_reach_every_hard_case() {
    // The property above proves nothing if the draws never collide: this
    // fixed stream has each hard case once, and one shard's answer shows it.
    let parties = parties();
    let d = |kind, party, order, delivery, event, minutes| Draw { kind, party, order, delivery, event, minutes, packs: 5 };
    let draws = [
        d(0, 0, 1, 0, 1, 10),  // O1 by institution 0
        d(0, 1, 1, 0, 2, 20),  // O1 again, by institution 1: bad_value
        d(2, 0, 2, 3, 3, 30),  // D3 of O2, before O2 is placed: waits
        d(0, 2, 2, 0, 4, 40),  // O2 by institution 2 releases D3
        d(3, 0, 1, 3, 5, 50),  // D3 accepted as O1's: bad_value
        d(3, 0, 2, 3, 6, 60),  // D3 accepted as O2's
        d(4, 3, 0, 3, 7, 70),  // paid by institution 3, not O2's: bad_value
        d(2, 0, 9, 4, 8, 80),  // D4 of O9, never placed: an orphan
        d(0, 0, 5, 0, 8, 90),  // event id E8 again, other content: bad_value
        d(0, 2, 2, 0, 4, 40),  // O2 again, the same event: a duplicate (sorted next to it)
    ];
    let mut events: Vec<Event> = draws.iter().map(|d| event(d, &parties)).collect();
    events.sort_by(event_order);
    let one = outcome(&events, 1, usize::MAX);
    let fates: Vec<Fate> = one.fates.iter().map(|(f, _)| *f).collect();
    assert_eq!(fates[1], Fate::Rejected(vbp_schemas::Reason::BadValue), "{:?}", one.fates[1]);
    assert_eq!(fates[2], Fate::Waiting);
    assert!(one.fates[3].1.is_empty() && fates[3] == Fate::Applied, "O2 releases D3: {:?}", one.fates[3]);
    assert_eq!(fates[4], Fate::Duplicate);
    assert_eq!(fates[5], Fate::Rejected(vbp_schemas::Reason::BadValue), "{:?}", one.fates[5]);
    assert_eq!(fates[6], Fate::Applied);
    assert_eq!(fates[7], Fate::Rejected(vbp_schemas::Reason::BadValue), "{:?}", one.fates[7]);
    assert_eq!(fates[9], Fate::Rejected(vbp_schemas::Reason::BadValue), "{:?}", one.fates[9]);
    assert_eq!(one.orphans.len(), 1, "{:?}", one.orphans);
    for shards in [2, 3, 4] {
        assert_eq!(outcome(&events, shards, 3), one, "{shards} shards");
    }
}

#[test]
fn live_shards_send_an_unkeyed_delivery_where_its_order_is() {
    // Live mode learns no routes: a message goes by its Kafka key, and one
    // without a key (a producer that did not key deliveries) goes where its
    // order was routed earlier in the run or is held.
    let parties = parties();
    let d = |kind, party, order, delivery, event, minutes| Draw { kind, party, order, delivery, event, minutes, packs: 5 };
    let events: Vec<Event> = [
        d(0, 0, 1, 0, 1, 10), // O1
        d(0, 1, 2, 0, 2, 11), // O2, another institution
        d(2, 0, 1, 1, 3, 20), // D1 of O1, same run
        d(2, 0, 2, 2, 4, 30), // D2 of O2, next run
        d(3, 0, 2, 2, 5, 40), // D2 accepted, next run
    ]
    .iter()
    .map(|d| event(d, &parties))
    .collect();
    for shards in [2, 3] {
        let mut engine = Engine::<u32>::new(reference(), DetectorConfig::default()).unwrap();
        engine.shard(Routes::new(shards));
        let numbered: Vec<(Event, u32)> = events.iter().cloned().zip(0..).collect();
        let mut fates: Vec<Fate> = engine.ingest_all(numbered[..3].to_vec()).into_iter().map(|i| i.fate).collect();
        fates.extend(engine.ingest_all(numbered[3..4].to_vec()).into_iter().map(|i| i.fate));
        fates.push(engine.ingest(numbered[4].0.clone(), 4).fate);
        assert_eq!(fates, vec![Fate::Applied; 5], "{shards} shards");
        assert_eq!(engine.pending().0, 0, "nothing waits");
    }
}

/// What a state made of `events`, applied in the order given (as live mode
/// may), with a retention sweep at `horizon` after the first `sweep_after`:
/// each event's outcome, the sizes, every table the rules and dashboards
/// read, and the alerts at the end.
fn state_outcome(events: &[Event], mut state: State, sweep_after: usize, horizon: i64) -> Vec<String> {
    let reference = reference();
    let mut seen = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if i == sweep_after {
            state.forget_finished_before(horizon);
        }
        seen.push(format!("{:?}", state.apply(&reference, e)));
    }
    let z = state.sizes();
    seen.push(format!("sizes {} {} {} {} {}", z.order_lines, z.open_order_lines, z.deliveries, z.unpaid_deliveries, z.agreements));
    let config = DetectorConfig::default();
    let statics = StaticTables::build(&reference, &config).unwrap();
    let end = DateTime::parse_from_rfc3339("2026-01-12T00:00:00+08:00").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let ctx = tables::session(&statics, &reference, &state, &config, end.timestamp_micros(), Need::Everything).unwrap();
    for table in ["open_order_lines", "unpaid_deliveries", "due_order_lines"] {
        // Rows come in map order: compare them sorted.
        let sql = format!("SELECT * FROM {table}");
        let batches = runtime.block_on(async { ctx.sql(&sql).await?.collect().await }).unwrap();
        let printed = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        let mut rows: Vec<&str> = printed.lines().collect();
        rows.sort_unstable();
        seen.push(format!("{table}\n{}", rows.join("\n")));
    }
    let alerts = runtime.block_on(vbp_detectors::rules::evaluate(&statics, &reference, &state, &config, end)).unwrap();
    seen.extend(alerts.iter().map(|a| a.to_json(end, vbp_detectors::alert::Status::Firing).to_string()));
    seen
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn folding_finished_lines_changes_no_outcome_table_or_alert(
        draws in prop::collection::vec(draw(), 1..200),
        sweep_after in 0usize..200,
        horizon_minutes in 0i64..(6 * 24 * 60),
    ) {
        let parties = parties();
        prop_assume!(parties.len() >= 4);
        let events: Vec<Event> = draws.iter().map(|d| event(d, &parties)).collect();
        let start = DateTime::parse_from_rfc3339("2026-01-05T00:00:00+08:00").unwrap();
        let horizon = (start + Duration::minutes(horizon_minutes)).timestamp_micros();
        let folded = state_outcome(&events, State::new(&reference()), sweep_after, horizon);
        let unfolded = state_outcome(&events, State::unfolded(&reference()), sweep_after, horizon);
        for (i, (f, u)) in folded.iter().zip(&unfolded).enumerate() {
            prop_assert_eq!(f, u, "item {} of the outcome", i);
        }
        prop_assert_eq!(folded.len(), unfolded.len());
    }
}

#[test]
fn the_generated_streams_fold_lines_and_then_refer_to_them() {
    // The property above proves nothing unless lines fold and later events
    // name them: this fixed stream finishes an order and a delivery, then
    // delivers, cancels, accepts and pays them again.
    let parties = parties();
    let d = |kind, party, order, delivery, event, minutes| Draw { kind, party, order, delivery, event, minutes, packs: 1 };
    let events: Vec<Event> = [
        d(0, 0, 1, 0, 1, 10),  // O1, 1 pack
        d(2, 0, 1, 1, 2, 20),  // D1 delivers it
        d(3, 0, 1, 1, 3, 30),  // D1 accepted, 1.00 yuan: O1 is finished
        d(4, 0, 0, 1, 4, 40),  // 0.50 paid
        d(4, 0, 0, 1, 5, 50),  // 0.50 paid: D1 is finished
        d(2, 0, 1, 2, 6, 60),  // D2 for the finished O1: bad_value
        d(1, 0, 1, 0, 7, 70),  // O1 cancelled: over_cancel
        d(3, 0, 1, 1, 8, 80),  // D1 accepted again: bad_value
        d(4, 0, 0, 1, 9, 90),  // D1 paid again: over_payment
        d(4, 1, 0, 1, 10, 95), // D1 paid by another institution: bad_value
        d(0, 0, 1, 0, 11, 99), // O1 placed again: bad_value
    ]
    .iter()
    .map(|d| event(d, &parties))
    .collect();
    let reference = reference();
    let mut state = State::new(&reference);
    let outcomes: Vec<String> = events.iter().map(|e| format!("{:?}", state.apply(&reference, e))).collect();
    assert_eq!((state.sizes().finished_order_lines, state.sizes().finished_deliveries), (1, 1), "{outcomes:#?}");
    assert!(state.orders.is_empty() && state.deliveries.is_empty());
    for (i, reason) in [(5, "BadValue"), (6, "OverCancel"), (7, "BadValue"), (8, "OverPayment"), (9, "BadValue"), (10, "BadValue")] {
        assert!(outcomes[i].contains(reason), "event {i}: {}", outcomes[i]);
    }
    let unfolded = state_outcome(&events, State::unfolded(&reference), usize::MAX, 0);
    assert_eq!(state_outcome(&events, State::new(&reference), usize::MAX, 0), unfolded);
}
