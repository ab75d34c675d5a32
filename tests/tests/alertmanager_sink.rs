//! The Alertmanager sink of the library against a real Alertmanager
//! (Debian's `prometheus-alertmanager`): an alert it refuses is not retried
//! and goes to the dead-letter output with Alertmanager's answer, and it
//! holds back none of the others, sent with it or after it.

use std::collections::BTreeMap;
use std::time::Duration;

use vbp_detectors::alert::{Alert, AlertName, Severity, Status, Transition};
use vbp_schemas::Reason;
use vbp_tests::observability::{labels_of, wait_for, Alertmanager};
use vbp_tests::scratch;
use vbp_watch::metrics::Metrics;
use vbp_watch::sinks::alertmanager::{Alertmanager as Sink, Owed};

const CONFIG: &str = "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n";

fn firing(institution: &str, extra: Option<(&str, &str)>) -> Transition {
    let mut labels = BTreeMap::new();
    labels.insert("institution_code".to_string(), institution.to_string());
    labels.insert("division_code".to_string(), "610302".to_string());
    if let Some((k, v)) = extra {
        labels.insert(k.to_string(), v.to_string());
    }
    let alert = Alert { name: AlertName::PaymentOverdue, severity: Severity::Warning, labels, annotations: BTreeMap::new(), value: "1".into() };
    Transition { at: chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00+08:00").unwrap(), status: Status::Firing, alert }
}

fn institutions_held(am: &Alertmanager) -> Vec<String> {
    let mut codes: Vec<String> = am.alerts().iter().filter_map(|a| labels_of(a).get("institution_code").cloned()).collect();
    codes.sort();
    codes
}

#[test]
fn one_alert_alertmanager_refuses_does_not_hold_back_the_others() {
    let dir = scratch("alertmanager-sink");
    let am = Alertmanager::start(&dir, CONFIG);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let _guard = runtime.enter();
    let metrics = Metrics::new().unwrap();
    let sink = Sink::start(&am.url().parse().expect("Alertmanager has a URL"), "http://127.0.0.1:9".into(), Duration::from_secs(60), Owed::default(), metrics.alertmanager.clone());

    // Seven alerts in one request; the fourth has a label with an empty
    // name, which Alertmanager's API refuses (400, "invalid label set").
    let mut batch: Vec<Transition> = ["H1", "H2", "H3"].iter().map(|h| firing(h, None)).collect();
    batch.push(firing("HBAD", Some(("", "x"))));
    batch.extend(["H4", "H5", "H6"].iter().map(|h| firing(h, None)));
    sink.send(&batch);

    let refused = wait_for(Duration::from_secs(30), "the refused alert", || {
        let r = sink.take_refused();
        (!r.is_empty()).then_some(r)
    });
    assert_eq!(refused.len(), 1, "exactly the bad alert is refused: {refused:?}");
    let letter = refused[0].to_dead_letter();
    assert_eq!(letter.reason, Reason::RefusedByAlertmanager);
    assert!(letter.detail.contains("400"), "Alertmanager's answer is kept: {}", letter.detail);
    let posted: serde_json::Value = serde_json::from_slice(&letter.raw).unwrap();
    assert_eq!(posted["labels"]["institution_code"], "HBAD", "the dead letter carries the alert as posted");
    assert_eq!(institutions_held(&am), ["H1", "H2", "H3", "H4", "H5", "H6"]);

    // Not retried, and not blocking: a later alert is delivered at once.
    sink.send(&[firing("H7", None)]);
    wait_for(Duration::from_secs(30), "the alert sent after the refusal", || {
        institutions_held(&am).contains(&"H7".to_string()).then_some(())
    });
    assert_eq!(sink.owed().len(), 7, "the refused alert is owed no more");
    assert!(sink.take_refused().is_empty(), "refused once, never re-sent");
    assert_eq!(metrics.alertmanager.refused.get(), 1);
    assert_eq!(metrics.alertmanager.failures.get(), 0, "a refusal is not a failure to retry");
}
