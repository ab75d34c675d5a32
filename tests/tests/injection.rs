//! Hostile text in the reference data (issue 16, part 5): names carrying
//! `<script>`, an `onerror` handler, quotes, an ampersand and a newline
//! reach every page escaped (no script runs in Chromium), every
//! Alertmanager label and annotation byte for byte (none refused), and the
//! report's downloads as the same text.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vbp_tests::broker::Broker;
use vbp_tests::live::{alert_fact, http_get, LiveOptions, LivePipeline};
use vbp_tests::observability::{chromium, copy_dir, labels_of, require, Alertmanager, WebhookReceiver, CHROMIUM};
use vbp_tests::*;

const SEED: u64 = 33;

/// Appended to every name: what a careless page would run or break on.
const HOSTILE: &str = "<script>document.title='pwned'</script>\"'&amp;<img src=x onerror=\"document.title='pwned'\">\n第二行";

/// Rewrites `file` in `dir`, appending [`HOSTILE`] to the named columns.
fn poison(dir: &Path, file: &str, columns: &[&str]) {
    let path = dir.join(file);
    let mut reader = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().expect("headers").clone();
    let positions: Vec<usize> = columns.iter().map(|c| headers.iter().position(|h| h == *c).expect("column")).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let mut fields: Vec<String> = record.expect("a row").iter().map(str::to_string).collect();
        for &p in &positions {
            if !fields[p].is_empty() {
                fields[p].push_str(HOSTILE);
            }
        }
        rows.push(fields);
    }
    let mut writer = csv::Writer::from_path(&path).expect("write");
    writer.write_record(&headers).expect("header");
    for row in rows {
        writer.write_record(&row).expect("row");
    }
    writer.flush().expect("flush");
}

/// No markup of [`HOSTILE`] survives unescaped in a page's HTML.
fn assert_escaped(path: &str, html: &str) {
    for raw in ["<script>document.title", "<img src=x", "onerror=\"document"] {
        assert!(!html.contains(raw), "{path} carries `{raw}` unescaped");
    }
}

#[test]
fn hostile_reference_names_are_escaped_on_every_page_and_intact_in_alertmanager() {
    require(CHROMIUM);
    let dir = scratch("injection");
    let sim = dir.join("sim");
    let as_of = simulate_small_as_of(&sim, SEED);
    let reference = dir.join("reference");
    copy_dir(&sim.join("reference"), &reference);
    poison(&reference, "divisions.csv", &["name"]);
    poison(&reference, "institutions.csv", &["name"]);
    poison(&reference, "products.csv", &["generic_name", "enterprise", "spec"]);
    poison(&reference, "enterprises.csv", &["enterprise", "contact"]);
    std::fs::create_dir_all(dir.join("replay")).expect("dir");
    let (replay_firing, _) = replay_as_of(&reference, &event_files(&sim), &as_of, &dir.join("replay"));
    let expected: BTreeSet<String> = replay_firing.iter().map(alert_fact).collect();
    assert!(!expected.is_empty(), "seed {SEED} fires alerts");

    let receiver = WebhookReceiver::start();
    let am = Alertmanager::start(
        &dir,
        &format!(
            "route:\n  receiver: all\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: all\n    webhook_configs:\n      - url: {}/all\n",
            receiver.base_url()
        ),
    );
    let broker = Broker::start("injection");
    broker.create_topics(1, &["vbp.orders", "vbp.deliveries", "vbp.payments", "vbp.complaints", "vbp.dead-letter", "vbp.facts"]);
    let files: Vec<PathBuf> = event_files(&sim).into_iter().map(PathBuf::from).collect();
    broker.produce_files(&files);
    let port = free_port();
    let options = LiveOptions {
        reference: reference.clone(),
        state_dir: dir.join("state"),
        bootstrap: broker.bootstrap(),
        group_id: "injection".into(),
        evaluate_at: as_of,
        transitions_file: dir.join("transitions.ndjson"),
        topic_prefix: "vbp.".into(),
        extra: format!("[alertmanager]\nurl = \"{}\"\nresend_seconds = 5\n", am.url()),
    };
    let config = options.write(&dir, port);
    let mut live = LivePipeline::start(&config, port, &dir.join("live.log"));
    live.wait_caught_up(Duration::from_secs(240));
    let alerts = live.alerts();
    assert_eq!(alerts.iter().map(alert_fact).collect::<BTreeSet<_>>(), expected, "names change no alert");

    // Every page, as served: nothing of the markup unescaped.
    let division = alerts.iter().find_map(|a| a["labels"]["division_code"].as_str()).expect("a district").to_string();
    let mut pages = vec![
        "/".to_string(),
        "/report".to_string(),
        format!("/report?division_code={division}"),
        "/circular".to_string(),
    ];
    pages.extend(alerts.iter().map(|a| {
        let page = if a["alertname"] == "SupplyBreak" { "incidents" } else { "alerts" };
        format!("/{page}/{}", vbp_detectors::alert::fingerprint_of(&labels_of(a)))
    }));
    let mut shown = 0;
    for page in &pages {
        let (status, html) = http_get(&live.addr, page).unwrap_or_else(|| panic!("no answer for {page}"));
        assert_eq!(status, 200, "{page}: {html}");
        assert_escaped(page, &html);
        shown += usize::from(html.contains("&lt;script&gt;document.title"));
    }
    assert!(shown >= 4, "the hostile names are shown (escaped) on the pages: {shown} of {}", pages.len());
    // In Chromium, no script of theirs runs.
    let profile = dir.join("chromium-profile");
    for page in pages.iter().take(5) {
        let dom = String::from_utf8(chromium(&profile, &format!("http://{}{page}", live.addr), &["--dump-dom".to_string()]).stdout)
            .expect("UTF-8 DOM");
        let title = dom.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap_or("");
        // A script of theirs would have made the title exactly `pwned`
        // (the escaped names may show the word as text).
        assert_ne!(title.trim(), "pwned", "{page}: an injected script ran");
        assert!(!dom.contains("<img src=\"x\""), "{page}: an injected element is in the DOM");
    }

    // Alertmanager took every alert, with the names byte for byte.
    let want: BTreeSet<_> = alerts.iter().map(labels_of).collect();
    let mut in_am = Vec::new();
    for _ in 0..120 {
        in_am = am.alerts();
        if in_am.iter().map(labels_of).collect::<BTreeSet<_>>() == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(in_am.iter().map(labels_of).collect::<BTreeSet<_>>(), want, "Alertmanager holds every alert, none refused");
    let texts: Vec<String> = in_am
        .iter()
        .flat_map(|a| {
            let labels = a["labels"].as_object().cloned().unwrap_or_default();
            let notes = a["annotations"].as_object().cloned().unwrap_or_default();
            labels.into_iter().chain(notes).filter_map(|(_, v)| v.as_str().map(str::to_string)).collect::<Vec<_>>()
        })
        .collect();
    assert!(texts.iter().any(|t| t.contains(HOSTILE)), "the hostile text reaches Alertmanager whole, newline included");
    let metrics = live.metrics();
    assert!(!metrics.lines().any(|l| l.starts_with("vbp_alertmanager_refused_total") && !l.ends_with(" 0")), "none refused:\n{metrics}");

    // The report's CSV download holds the names as written.
    let (status, csv_text) = http_get(&live.addr, "/report.csv").expect("csv");
    assert_eq!(status, 200);
    let mut reader = csv::Reader::from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    let names: Vec<String> = reader.records().filter_map(Result::ok).map(|r| r[0].to_string()).collect();
    assert!(!names.is_empty() && names.iter().all(|n| n.ends_with(HOSTILE)), "every institution name round-trips through the CSV");
    live.terminate();
}
