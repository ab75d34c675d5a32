//! The soak test (issue 16, part 6): the simulated province streamed
//! through a real broker for a while, with everything an operator lives
//! through — `kill -9` of the pipeline at random moments, a 30 s broker
//! outage, an Alertmanager restart, a reference reload — and at the end the
//! same alerts as replay, in the pipeline and in Alertmanager, nothing in the
//! dead letters that replay does not reject too, and a flat RSS.
//!
//! `VBP_SOAK_SECONDS` sets the length (180 in CI's run; 1800 for the
//! 30-minute run whose figures are in BENCHMARKS.md). The figures are
//! written to `target/e2e/soak-<seconds>/figures.json` and printed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vbp_tests::broker::{value_bytes, Broker};
use vbp_tests::live::{alert_fact, LiveOptions, LivePipeline};
use vbp_tests::observability::{copy_dir, labels_of, Alertmanager, WebhookReceiver};
use vbp_tests::*;

const SEED: u64 = 31;

/// Slices of event time the province is sent in.
const SLICES: usize = 20;

/// The share of the run over which the province is sent; the rest of the
/// run (and its troubles) goes on with the whole state in memory.
const LOADING: f64 = 0.4;

/// Samples of RSS before this share of the run are warm-up (the state
/// grows while the province is sent, and processes restart); after it one
/// process runs with the whole state, and its RSS stays flat.
const WARM_UP: f64 = 0.65;

/// One thing that happens to the running system, at a share of the run.
#[derive(Debug, Clone, Copy)]
enum Trouble {
    Kill9,
    BrokerOutage,
    AlertmanagerRestart,
    ReferenceReload,
}

/// The troubles, while the province is sent and after; the last part of
/// the run has none, so that its RSS is one process's, with the whole
/// state in memory.
const SCHEDULE: [(f64, Trouble); 6] = [
    (0.10, Trouble::Kill9),
    (0.20, Trouble::BrokerOutage),
    (0.35, Trouble::AlertmanagerRestart),
    (0.42, Trouble::Kill9),
    (0.50, Trouble::ReferenceReload),
    (0.58, Trouble::Kill9),
];

fn soak_seconds() -> u64 {
    std::env::var("VBP_SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(180)
}

/// The rows of `institutions.csv` and `agreements.csv` in reverse order:
/// the same data, every id moved (what a monthly re-export does).
fn reexported(from: &Path, to: &Path) {
    copy_dir(from, to);
    for name in ["institutions.csv", "agreements.csv"] {
        let text = std::fs::read_to_string(from.join(name)).expect("reference file");
        let mut lines: Vec<&str> = text.lines().collect();
        let header = lines.remove(0);
        lines.reverse();
        std::fs::write(to.join(name), format!("{header}\n{}\n", lines.join("\n"))).expect("write");
    }
}

/// Resident memory of a process, in MB.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// (reason, raw bytes) of a dead letter, wherever it was written.
fn dead_letter_fact(record: &Value) -> (String, String) {
    (record["reason"].as_str().unwrap_or("").to_string(), record["raw"].to_string())
}

#[test]
fn the_province_streamed_through_kills_outages_and_a_reload_ends_as_replay_does() {
    let seconds = soak_seconds();
    let dir = scratch(&format!("soak-{seconds}"));
    let sim = dir.join("sim");
    let as_of = simulate_small_as_of(&sim, SEED);
    std::fs::create_dir_all(dir.join("replay")).expect("dir");
    let (replay_firing, replay_dead) = replay_as_of(&sim.join("reference"), &event_files(&sim), &as_of, &dir.join("replay"));
    let expected: BTreeSet<String> = replay_firing.iter().map(alert_fact).collect();

    let receiver = WebhookReceiver::start();
    let am_config = format!(
        "route:\n  receiver: all\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: all\n    webhook_configs:\n      - url: {}/all\n",
        receiver.base_url()
    );
    let mut am = Alertmanager::start(&dir, &am_config);
    let mut broker = Broker::start_persistent("soak");
    broker.create_topics(3, &["vbp.orders", "vbp.deliveries", "vbp.payments", "vbp.complaints", "vbp.dead-letter", "vbp.facts"]);

    let running_reference = dir.join("reference");
    copy_dir(&sim.join("reference"), &running_reference);
    let port = free_port();
    let options = LiveOptions {
        reference: running_reference.clone(),
        state_dir: dir.join("state"),
        bootstrap: broker.bootstrap(),
        group_id: "soak".into(),
        evaluate_at: as_of.clone(),
        transitions_file: dir.join("transitions.ndjson"),
        topic_prefix: "vbp.".into(),
        // Every partition read by the one instance (tansu 0.6 keeps a
        // killed group member's partitions), and the restarts' sessions
        // outlive the outage; Alertmanager re-sent every 5 s.
        extra: format!(
            "assignment = \"all\"\nextra = {{ \"session.timeout.ms\" = \"120000\" }}\n[alertmanager]\nurl = \"{}\"\nresend_seconds = 5\n",
            am.url()
        ),
    };
    let config = options.write(&dir, port);
    let log = dir.join("live.log");
    let mut live = LivePipeline::start(&config, port, &log);

    // The events in slices of event time, spread over the first 40 % of the run: each
    // slice's orders, then its deliveries, payments and complaints, as a
    // platform sends them (slicing by line instead would send a payment
    // weeks of event time before its delivery, an orphan).
    let files: Vec<PathBuf> = event_files(&sim).into_iter().map(PathBuf::from).collect();
    let slices = time_slices(&files, &dir.join("slices"), SLICES);
    let keys_from: Vec<String> = files.iter().flat_map(|f| ["--keys-from".to_string(), f.display().to_string()]).collect();
    let keys_from: Vec<&str> = keys_from.iter().map(String::as_str).collect();
    let started = Instant::now();
    let run = Duration::from_secs(seconds);
    let mut schedule = SCHEDULE.iter().peekable();
    let mut rss: Vec<(u64, f64)> = Vec::new();
    let mut kills = 0;
    let mut slice = 0;
    let sample_every = run / 10;
    let mut next_sample = sample_every;
    while started.elapsed() < run {
        let elapsed = started.elapsed();
        if slice < SLICES && elapsed >= run.mul_f64(LOADING * slice as f64 / SLICES as f64) {
            broker.produce_with(&keys_from, &slices[slice]);
            slice += 1;
        }
        if let Some((at, trouble)) = schedule.peek().copied().filter(|(at, _)| elapsed >= run.mul_f64(*at)) {
            schedule.next();
            eprintln!("soak: {trouble:?} at {:.0} s ({at})", elapsed.as_secs_f64());
            match trouble {
                Trouble::Kill9 => {
                    live.kill9();
                    kills += 1;
                    live = LivePipeline::start(&config, port, &log);
                }
                Trouble::BrokerOutage => {
                    broker.stop();
                    std::thread::sleep(Duration::from_secs(30));
                    broker.restart();
                }
                Trouble::AlertmanagerRestart => {
                    am.stop();
                    std::thread::sleep(Duration::from_secs(5));
                    am.restart();
                }
                Trouble::ReferenceReload => {
                    let next = dir.join("reference-next");
                    reexported(&sim.join("reference"), &next);
                    copy_dir(&next, &running_reference);
                    live.signal("HUP");
                }
            }
        }
        if started.elapsed() >= next_sample {
            if let Some(mb) = rss_mb(live.pid()).filter(|mb| *mb > 0.0) {
                rss.push((started.elapsed().as_secs(), mb));
            }
            next_sample += sample_every;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    while slice < SLICES {
        broker.produce_with(&keys_from, &slices[slice]);
        slice += 1;
    }

    live.wait_caught_up(Duration::from_secs(300));
    let firing = wait_until(Duration::from_secs(120), || {
        let now: BTreeSet<String> = live.alerts().iter().map(alert_fact).collect();
        (now == expected).then_some(now)
    })
    .unwrap_or_else(|| live.alerts().iter().map(alert_fact).collect());
    let missing: Vec<_> = expected.difference(&firing).collect();
    let extra: Vec<_> = firing.difference(&expected).collect();
    assert!(missing.is_empty() && extra.is_empty(), "replay only: {missing:#?}\nlive only: {extra:#?}\n{}", live.log_text());

    // Alertmanager holds exactly what fires, after its restart.
    let want: BTreeSet<BTreeMap<String, String>> = live.alerts().iter().map(labels_of).collect();
    let in_am = wait_until(Duration::from_secs(60), || {
        let have: BTreeSet<BTreeMap<String, String>> = am.alerts().iter().map(labels_of).collect();
        (have == want).then_some(have)
    });
    assert!(in_am.is_some(), "Alertmanager does not hold what fires ({} firing, {} there)", want.len(), am.alerts().len());

    // Every dead letter is one replay writes too; replay also drains, at
    // the end of its files, the orphans a live stream still waits for.
    let replay_dead: BTreeSet<(String, String)> = replay_dead.iter().map(dead_letter_fact).collect();
    let messages = broker.consume("vbp.dead-letter", 1);
    let live_dead: BTreeSet<(String, String)> = messages
        .iter()
        .map(|m| serde_json::from_slice::<Value>(&value_bytes(m)).expect("a JSON dead letter"))
        .map(|r| dead_letter_fact(&r))
        .collect();
    let unplanted: Vec<_> = live_dead.difference(&replay_dead).collect();
    assert!(unplanted.is_empty(), "dead letters replay does not write: {unplanted:#?}");
    let only_replay: Vec<_> = replay_dead.difference(&live_dead).filter(|(reason, _)| reason != "orphan").collect();
    assert!(only_replay.is_empty(), "rejected by replay but not live: {only_replay:#?}");

    // Flat after warm-up: one process with the whole province in memory;
    // no later sample exceeds its first by more than a fifth.
    let warm_up = run.mul_f64(WARM_UP).as_secs();
    let steady: Vec<f64> = rss.iter().filter(|(at, _)| *at > warm_up).map(|(_, mb)| *mb).collect();
    let (first, peak) = (steady.first().copied().unwrap_or(0.0), steady.iter().copied().fold(0.0, f64::max));
    let figures = json!({
        "seconds": seconds,
        "kills": kills,
        "events": files.iter().map(|f| vbp_tests::broker::event_lines(f).len()).sum::<usize>(),
        "alerts_firing": firing.len(),
        "dead_letters": { "live_distinct": live_dead.len(), "live_messages": messages.len(), "replay": replay_dead.len() },
        "rss_mb": rss.iter().map(|(s, mb)| json!({"at_seconds": s, "mb": (mb * 10.0).round() / 10.0})).collect::<Vec<_>>(),
        "webhook_posts": receiver.count(),
        "harness_rss_mb": rss_mb(std::process::id()),
        "rss_first_after_warm_up_mb": first,
        "rss_peak_after_warm_up_mb": peak,
    });
    std::fs::write(dir.join("figures.json"), serde_json::to_string_pretty(&figures).expect("JSON")).expect("write figures");
    eprintln!("soak figures: {figures}");
    assert!(steady.len() >= 2, "at least two samples after warm-up: {figures}");
    assert!(peak <= first * 1.2, "RSS grew from {first:.0} MB to {peak:.0} MB after warm-up: {figures}");
    assert_eq!(live.terminate().code(), Some(0), "{}", live.log_text());
}

/// The lines of `files` cut into `n` slices of event time, written as
/// `dir/K/<topic>.ndjson`; a line without a readable `occurred_at` (the
/// simulator's planted bad lines) goes into the first slice.
fn time_slices(files: &[PathBuf], dir: &Path, n: usize) -> Vec<Vec<PathBuf>> {
    let at = |line: &[u8]| -> Option<i64> {
        let event: Value = serde_json::from_slice(line).ok()?;
        Some(chrono::DateTime::parse_from_rfc3339(event["occurred_at"].as_str()?).ok()?.timestamp())
    };
    let lines: Vec<Vec<(Option<i64>, Vec<u8>)>> =
        files.iter().map(|f| vbp_tests::broker::event_lines(f).into_iter().map(|l| (at(&l), l)).collect()).collect();
    let times: Vec<i64> = lines.iter().flatten().filter_map(|(t, _)| *t).collect();
    let (first, last) = (times.iter().min().copied().unwrap_or(0), times.iter().max().copied().unwrap_or(0));
    let width = ((last - first) / n as i64).max(1);
    let slice_of = |t: Option<i64>| t.map_or(0, |t| (((t - first) / width) as usize).min(n - 1));
    (0..n)
        .map(|k| {
            let slice_dir = dir.join(k.to_string());
            std::fs::create_dir_all(&slice_dir).expect("slice dir");
            files
                .iter()
                .zip(&lines)
                .map(|(file, lines)| {
                    let path = slice_dir.join(file.file_name().expect("a file name"));
                    let mut text = Vec::new();
                    for (_, line) in lines.iter().filter(|(t, _)| slice_of(*t) == k) {
                        text.extend_from_slice(line);
                        text.push(b'\n');
                    }
                    std::fs::write(&path, text).expect("write a slice");
                    path
                })
                .collect()
        })
        .collect()
}

/// `probe` until it answers or `limit` passes.
fn wait_until<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
