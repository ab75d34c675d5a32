//! The supply-break stage through the library, without a broker: two
//! engines that each answer for half of the institutions (and half of the
//! (city, product) keys), exchanging their overdue facts as `vbp.facts`
//! would carry them, raise together exactly what one engine raises — each
//! alert once, a supply break whose hospitals are split between them
//! included. The live tests do the same through tansu.

mod province;

use std::collections::BTreeSet;
use std::sync::Arc;

use vbp_detectors::alert::AlertName;
use vbp_detectors::config::DetectorConfig;
use vbp_detectors::reference::ReferenceData;
use vbp_schemas::Event;
use vbp_watch::engine::Engine;
use vbp_watch::sources::kafka::partition_of;
use vbp_watch::stage::KeyOwnership;

const PARTITIONS: usize = 4;

/// An engine fed every event, answering for the institutions and keys of `partitions` (`None`: all).
fn engine(reference: &Arc<ReferenceData>, events: &[Event], partitions: Option<BTreeSet<i32>>) -> Engine<()> {
    let mut engine = Engine::new(Arc::clone(reference), DetectorConfig::default()).unwrap();
    if let Some(partitions) = partitions {
        let owned = reference
            .institutions
            .iter()
            .map(|i| partitions.contains(&(partition_of(i.code.as_bytes(), PARTITIONS) as i32)))
            .collect();
        let _ = engine.answer_for(Some(owned), Some(KeyOwnership { partitions, count: PARTITIONS }));
        engine.publish_facts = true;
    }
    for e in events {
        let _ = engine.ingest(e.clone(), ());
    }
    engine
}

fn firing(engine: &Engine<()>) -> BTreeSet<String> {
    engine.book().firing().map(|f| format!("{:?} {:?}", f.alert.id(), f.alert.severity)).collect()
}

fn supply_breaks(engine: &Engine<()>) -> Vec<Vec<String>> {
    engine
        .book()
        .firing()
        .filter(|f| f.alert.name == AlertName::SupplyBreak)
        .map(|f| f.alert.annotations["institutions"].split(',').map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn two_halves_exchanging_overdue_facts_raise_exactly_what_one_engine_raises() {
    // Seed 26: its planted supply break has hospitals on partitions 1, 1
    // and 3 of four.
    let province::Province { reference, events, as_of } = province::simulate("stage-tests", 26, None);
    let mut whole = engine(&reference, &events, None);
    whole.evaluate(as_of).await.unwrap();
    let expected = firing(&whole);
    let breaks = supply_breaks(&whole);
    let half = |h: &str| partition_of(h.as_bytes(), PARTITIONS) < PARTITIONS / 2;
    assert!(
        breaks.iter().any(|b| b.iter().any(|h| half(h)) && b.iter().any(|h| !half(h))),
        "no supply break is split between the halves: {breaks:?}"
    );

    let mut a = engine(&reference, &events, Some([0, 1].into()));
    let mut b = engine(&reference, &events, Some([2, 3].into()));
    a.evaluate(as_of).await.unwrap();
    b.evaluate(as_of).await.unwrap();
    let alone: BTreeSet<String> = firing(&a).union(&firing(&b)).cloned().collect();
    assert!(alone.len() < expected.len(), "before hearing each other the split supply break is missing");

    // What each publishes, the other (and itself, reading the topic back) hears.
    for change in a.take_fact_changes().into_iter().chain(b.take_fact_changes()) {
        a.stage.hear(change.clone());
        b.stage.hear(change);
    }
    a.evaluate(as_of).await.unwrap();
    b.evaluate(as_of).await.unwrap();
    let (fa, fb) = (firing(&a), firing(&b));
    assert!(fa.is_disjoint(&fb), "raised twice: {:?}", fa.intersection(&fb).collect::<Vec<_>>());
    let together: BTreeSet<String> = fa.union(&fb).cloned().collect();
    assert_eq!(together, expected);
    assert!(a.take_fact_changes().is_empty() && b.take_fact_changes().is_empty(), "nothing left to publish once heard");
}
