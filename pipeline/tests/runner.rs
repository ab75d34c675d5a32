//! The engine and the runner through the library, as `replay`, `demo` and
//! `run` drive them: what becomes of each input, and when orphans expire
//! under each clock. The reference data is a small simulated province.

mod province;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use vbp_detectors::config::DetectorConfig;
use vbp_detectors::reference::ReferenceData;
use vbp_schemas::{decode, DeadLetter, DecodeLimits, Event, Reason};
use vbp_watch::engine::{Engine, Fate, Rejected};
use vbp_watch::runner::clock::WallClock;
use vbp_watch::runner::{DeadLetterSink, EventClock, Outputs, Runner, Watermark};

/// The small simulated province's reference data, simulated once per run.
fn reference() -> Arc<ReferenceData> {
    static REFERENCE: OnceLock<Arc<ReferenceData>> = OnceLock::new();
    Arc::clone(REFERENCE.get_or_init(|| province::simulate("runner-tests", 3, Some(10)).reference))
}

/// A known institution and one of its agreement's products.
fn codes() -> (String, String) {
    let r = reference();
    let agreement = &r.agreements[0];
    let institution = r.institutions[agreement.institution.index()].code.clone();
    let product = r.products.iter().find(|p| p.family == Some(agreement.family)).unwrap().code.clone();
    (institution, product)
}

fn order(id: &str, at: &str, institution: &str, product: &str) -> Event {
    let json = format!(
        r#"{{"event_id":"{id}","type":"order.placed","occurred_at":"{at}","order_id":"O-{id}","institution_code":"{institution}","product_code":"{product}","quantity_packs":"10","unit_price":"1.00"}}"#
    );
    decode(json.as_bytes(), &DecodeLimits::default()).unwrap()
}

fn delivery(id: &str, at: &str, order_id: &str) -> Event {
    let json = format!(
        r#"{{"event_id":"{id}","type":"delivery.received","occurred_at":"{at}","delivery_id":"D-{id}","order_id":"{order_id}","quantity_packs":"10","distributor":"国药控股陕西有限公司"}}"#
    );
    decode(json.as_bytes(), &DecodeLimits::default()).unwrap()
}

fn engine() -> Engine<u32> {
    Engine::new(reference(), DetectorConfig::default()).unwrap()
}

/// Dead letters kept in memory, by origin.
#[derive(Default)]
struct Kept(Vec<(u32, Reason)>);

impl DeadLetterSink<u32> for Kept {
    type Error = std::convert::Infallible;

    fn write(&mut self, r: Rejected<u32>) -> Result<(), Self::Error> {
        self.0.push((r.origin, r.rejection.reason));
        Ok(())
    }
    fn write_record(&mut self, _: &DeadLetter) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn runner() -> Runner<u32, Kept> {
    Runner::new(engine(), Kept::default(), Outputs::default(), DecodeLimits::default())
}

#[test]
fn ingest_says_applied_waiting_duplicate_and_rejected() {
    let (institution, product) = codes();
    let mut engine = engine();
    let placed = order("e1", "2026-01-05T09:00:00+08:00", &institution, &product);
    assert_eq!(engine.ingest(placed.clone(), 1).fate, Fate::Applied);
    assert_eq!(engine.ingest(placed, 2).fate, Fate::Duplicate);
    let early = delivery("e2", "2026-01-05T10:00:00+08:00", "O-later");
    let waiting = engine.ingest(early, 3);
    assert_eq!(waiting.fate, Fate::Waiting);
    assert!(waiting.rejected.is_empty());
    let stranger = order("e3", "2026-01-05T09:00:00+08:00", "H00000000000", &product);
    let rejected = engine.ingest(stranger, 4);
    assert_eq!(rejected.fate, Fate::Rejected(Reason::UnknownInstitution));
    assert_eq!(rejected.rejected.len(), 1);
    assert_eq!(rejected.rejected[0].origin, 4, "the rejection carries its own origin");
    let undecodable = engine.undecodable(5, decode(b"{", &DecodeLimits::default()).unwrap_err());
    assert_eq!(undecodable.fate, Fate::Rejected(Reason::MalformedJson));
    let s = &engine.stats;
    assert_eq!((s.decoded, s.applied, s.duplicates, s.rejected_total()), (4, 1, 1, 2));
    assert_eq!(engine.pending().0, 1, "the early delivery waits");
}

#[test]
fn an_order_releases_what_waited_for_it_and_says_applied() {
    let (institution, product) = codes();
    let mut engine = engine();
    assert_eq!(engine.ingest(delivery("d1", "2026-01-05T10:00:00+08:00", "O-o1"), 1).fate, Fate::Waiting);
    let placed = engine.ingest(order("o1", "2026-01-05T09:00:00+08:00", &institution, &product), 2);
    assert_eq!(placed.fate, Fate::Applied);
    assert!(placed.rejected.is_empty());
    assert_eq!(engine.stats.applied, 2, "the order and the delivery it released");
    assert_eq!(engine.pending().0, 0);
}

#[test]
fn a_released_event_that_fails_is_rejected_with_its_own_origin() {
    let (institution, product) = codes();
    let mut engine = engine();
    // 11 packs delivered against an order of 10: the delivery waits, then
    // fails when its order arrives; the order itself applies.
    let json = r#"{"event_id":"d9","type":"delivery.received","occurred_at":"2026-01-05T10:00:00+08:00","delivery_id":"D-9","order_id":"O-o9","quantity_packs":"11","distributor":"x"}"#;
    let over = decode(json.as_bytes(), &DecodeLimits::default()).unwrap();
    assert_eq!(engine.ingest(over, 7).fate, Fate::Waiting);
    let placed = engine.ingest(order("o9", "2026-01-05T09:00:00+08:00", &institution, &product), 8);
    assert_eq!(placed.fate, Fate::Applied);
    let origins: Vec<u32> = placed.rejected.iter().map(|r| r.origin).collect();
    assert_eq!(origins, [7], "{:?}", placed.rejected.iter().map(|r| &r.rejection).collect::<Vec<_>>());
}

#[tokio::test]
async fn orphans_expire_seven_days_of_watermark_after_they_arrived_under_the_event_clock() {
    let (institution, product) = codes();
    let mut runner = runner();
    let mut clock = EventClock::new(None, Duration::ZERO);
    let early = delivery("d1", "2026-01-05T10:00:00+08:00", "O-never");
    let mut take = |runner: &mut Runner<u32, Kept>, event: Event, origin| {
        let due = clock.due_before(event.occurred_at);
        runner.take(event, origin).unwrap();
        due
    };
    take(&mut runner, early, 1);
    let mut expired_at = None;
    for day in 6..=14 {
        let at = format!("2026-01-{day:02}T08:00:00+08:00");
        for midnight in take(&mut runner, order(&format!("o{day}"), &at, &institution, &product), 100 + day) {
            runner.evaluate(midnight, Watermark::at(midnight)).await.unwrap();
            if expired_at.is_none() && !runner.dead_letters_mut().0.is_empty() {
                expired_at = Some(midnight);
            }
        }
    }
    // Held at 2026-01-05T10:00; the timeout is 7 days of event time, so
    // the midnight of 01-13 is the first evaluation past 01-12T10:00.
    assert_eq!(expired_at.map(|t| t.to_rfc3339()), Some("2026-01-13T00:00:00+08:00".to_string()));
    assert_eq!(runner.dead_letters_mut().0, [(1, Reason::Orphan)]);
}

#[tokio::test]
async fn orphans_wait_while_the_live_watermark_is_unknown_and_expire_once_caught_up() {
    let (institution, product) = codes();
    let mut runner = runner();
    runner.take(delivery("d1", "2026-01-05T10:00:00+08:00", "O-never"), 1).unwrap();
    runner.take(order("o1", "2026-01-20T08:00:00+08:00", &institution, &product), 2).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-20T09:00:00+08:00").unwrap();
    let behind = WallClock::watermark(false, runner.latest_event(), at);
    runner.evaluate(at, behind).await.unwrap();
    assert!(runner.dead_letters_mut().0.is_empty(), "behind: another partition may still bring the order");
    let caught_up = WallClock::watermark(true, runner.latest_event(), at);
    runner.evaluate(at, caught_up).await.unwrap();
    assert_eq!(runner.dead_letters_mut().0, [(1, Reason::Orphan)]);
}

#[test]
fn the_end_of_a_finite_input_rejects_what_still_waits() {
    let mut runner = runner();
    runner.take(delivery("d1", "2026-01-05T10:00:00+08:00", "O-never"), 1).unwrap();
    runner.end_of_input().unwrap();
    assert_eq!(runner.dead_letters_mut().0, [(1, Reason::Orphan)]);
}

/// The alerts of `name` firing after an evaluation at `at`.
async fn firing(engine: &mut Engine<u32>, at: &str, name: vbp_detectors::alert::AlertName) -> usize {
    engine.evaluate(chrono::DateTime::parse_from_rfc3339(at).unwrap()).await.unwrap();
    engine.book().firing().filter(|f| f.alert.name == name).count()
}

#[tokio::test]
async fn an_orphaned_delivery_resent_after_its_order_arrived_applies_and_order_undelivered_does_not_fire() {
    use vbp_detectors::alert::AlertName::OrderUndelivered;
    let (institution, product) = codes();
    let mut engine = engine();
    let early = delivery("d1", "2026-01-05T10:00:00+08:00", "O-o1");
    assert_eq!(engine.ingest(early.clone(), 1).fate, Fate::Waiting);
    let week_later = chrono::DateTime::parse_from_rfc3339("2026-01-13T00:00:00+08:00").unwrap();
    let orphans = engine.expire_orphans(week_later.timestamp_micros());
    assert_eq!(orphans.iter().map(|r| r.origin).collect::<Vec<_>>(), [1]);
    assert_eq!(engine.ingest(order("o1", "2026-01-05T09:00:00+08:00", &institution, &product), 2).fate, Fate::Applied);
    assert_eq!(firing(&mut engine, "2026-02-20T00:00:00+08:00", OrderUndelivered).await, 1, "nothing delivered yet");
    // The platform resends the delivery once the order is in.
    assert_eq!(engine.ingest(early.clone(), 3).fate, Fate::Applied, "the resend of an orphan is not a repeat");
    assert_eq!(firing(&mut engine, "2026-02-21T00:00:00+08:00", OrderUndelivered).await, 0, "all 10 packs delivered");
    assert_eq!(engine.ingest(early, 4).fate, Fate::Duplicate, "once applied, the id is remembered");
}

#[test]
fn a_rejected_event_corrected_and_resent_under_its_id_applies() {
    let (institution, product) = codes();
    let mut engine = engine();
    let stranger = order("e1", "2026-01-05T09:00:00+08:00", "H00000000000", &product);
    assert_eq!(engine.ingest(stranger, 1).fate, Fate::Rejected(Reason::UnknownInstitution));
    let corrected = order("e1", "2026-01-05T09:00:00+08:00", &institution, &product);
    assert_eq!(engine.ingest(corrected, 2).fate, Fate::Applied);
}

#[test]
fn a_released_event_that_fails_leaves_its_id_free_for_its_correction() {
    let (institution, product) = codes();
    let mut engine = engine();
    let over = r#"{"event_id":"d9","type":"delivery.received","occurred_at":"2026-01-05T10:00:00+08:00","delivery_id":"D-9","order_id":"O-o9","quantity_packs":"11","distributor":"x"}"#;
    assert_eq!(engine.ingest(decode(over.as_bytes(), &DecodeLimits::default()).unwrap(), 1).fate, Fate::Waiting);
    let placed = engine.ingest(order("o9", "2026-01-05T09:00:00+08:00", &institution, &product), 2);
    assert_eq!(placed.rejected.len(), 1, "the over-delivery fails once released");
    let fixed = over.replace(r#""quantity_packs":"11""#, r#""quantity_packs":"10""#);
    assert_eq!(engine.ingest(decode(fixed.as_bytes(), &DecodeLimits::default()).unwrap(), 3).fate, Fate::Applied);
}

#[test]
fn a_second_event_under_one_id_with_other_content_is_dead_lettered_whichever_comes_first() {
    let (institution, product) = codes();
    let five = order("e1", "2026-01-05T09:00:00+08:00", &institution, &product);
    let json = serde_json::json!({"event_id":"e1","type":"order.placed","occurred_at":"2026-01-05T09:00:00+08:00","order_id":"O-e1",
        "institution_code":institution,"product_code":product,"quantity_packs":"999","unit_price":"1.00"});
    let many = decode(json.to_string().as_bytes(), &DecodeLimits::default()).unwrap();
    let mut kept = Vec::new();
    for mut events in [vec![(five.clone(), 1), (many.clone(), 2)], vec![(many, 2), (five, 1)]] {
        events.sort_by(|a, b| vbp_watch::engine::event_order(&a.0, &b.0));
        let mut engine = engine();
        let fates: Vec<Fate> = engine.ingest_all(events.clone()).into_iter().map(|i| i.fate).collect();
        assert_eq!(fates, [Fate::Applied, Fate::Rejected(Reason::BadValue)]);
        let mut engine = self::engine();
        let refused = engine.ingest(events[0].0.clone(), events[0].1);
        assert!(refused.rejected.is_empty());
        let refused = engine.ingest(events[1].0.clone(), events[1].1);
        let words = refused.rejected[0].rejection.to_string();
        assert!(words.contains("same event_id as") && words.contains("different content"), "{words}");
        kept.push((events[0].1, engine.state().unwrap().sizes()));
    }
    assert_eq!(kept[0], kept[1], "the same copy wins whatever the input order");
}

#[test]
fn an_identical_repeat_in_one_run_is_counted_once_and_ignored() {
    let (institution, product) = codes();
    let mut engine = engine();
    let placed = order("e1", "2026-01-05T09:00:00+08:00", &institution, &product);
    let fates: Vec<Fate> = engine.ingest_all(vec![(placed.clone(), 1), (placed, 2)]).into_iter().map(|i| i.fate).collect();
    assert_eq!(fates, [Fate::Applied, Fate::Duplicate]);
    assert_eq!(engine.stats.duplicates, 1);
}

#[tokio::test]
async fn one_future_dated_event_does_not_orphan_what_waits_in_live_mode() {
    let (institution, product) = codes();
    let mut runner = runner();
    runner.take(delivery("d1", "2026-01-05T10:00:00+08:00", "O-soon"), 1).unwrap();
    // Dated a month ahead of the wall clock (2026-01-06 here).
    runner.take(order("o1", "2026-02-06T08:00:00+08:00", &institution, &product), 2).unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-01-06T09:00:00+08:00").unwrap();
    runner.evaluate(now, WallClock::watermark(true, runner.latest_event(), now)).await.unwrap();
    assert!(runner.dead_letters_mut().0.is_empty(), "a day of waiting is not seven");
    let week_later = chrono::DateTime::parse_from_rfc3339("2026-01-12T11:00:00+08:00").unwrap();
    runner.evaluate(week_later, WallClock::watermark(true, runner.latest_event(), week_later)).await.unwrap();
    assert_eq!(runner.dead_letters_mut().0, [(1, Reason::Orphan)], "seven days of wall clock later it is an orphan");
}
