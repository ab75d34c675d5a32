//! `vbp-watch run` against a real Kafka-compatible broker (tansu), fed by
//! an independent client (kafka-python): the same answers as `replay`,
//! nothing lost or counted twice across kill -9, bad messages dead-lettered,
//! and recovery from a broker outage.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use vbp_tests::broker::Broker;
use vbp_tests::live::{alert_fact, http_get, http_post, LiveOptions, LivePipeline};
use vbp_tests::*;

const INPUT_TOPICS: [&str; 4] = ["vbp.orders", "vbp.deliveries", "vbp.payments", "vbp.complaints"];
const CATCH_UP: Duration = Duration::from_secs(240);

/// A simulated province, its planted `as_of`, and the replay's firing set at it.
struct Province {
    sim: PathBuf,
    as_of: String,
    replay_firing: BTreeSet<String>,
}

fn province(dir: &Path, seed: u64) -> Province {
    let sim = dir.join("sim");
    let as_of = simulate_small_as_of(&sim, seed);
    let out = dir.join("replay");
    std::fs::create_dir_all(&out).expect("replay dir");
    let (firing, _) = replay_as_of(&sim.join("reference"), &event_files(&sim), &as_of, &out);
    Province { sim, as_of, replay_firing: firing.iter().map(alert_fact).collect() }
}

fn broker_with_topics(name: &str, partitions: u32) -> Broker {
    let broker = Broker::start(name);
    let mut topics: Vec<&str> = INPUT_TOPICS.to_vec();
    topics.extend(["vbp.dead-letter", "vbp.facts"]);
    broker.create_topics(partitions, &topics);
    broker
}

fn options(p: &Province, dir: &Path, broker: &Broker, group: &str) -> LiveOptions {
    LiveOptions {
        reference: p.sim.join("reference"),
        state_dir: dir.join(format!("state-{group}")),
        bootstrap: broker.bootstrap(),
        group_id: group.to_string(),
        evaluate_at: p.as_of.clone(),
        transitions_file: dir.join(format!("transitions-{group}.ndjson")),
        topic_prefix: "vbp.".into(),
        extra: String::new(),
    }
}

fn files(p: &Province) -> Vec<PathBuf> {
    event_files(&p.sim).into_iter().map(PathBuf::from).collect()
}

fn facts(alerts: &[Value]) -> BTreeSet<String> {
    alerts.iter().map(alert_fact).collect()
}

/// Fails with both differences (and `context`, e.g. the pipeline's log)
/// unless live mode fired exactly what replay fired.
fn assert_same_as_replay(replay: &BTreeSet<String>, live: &BTreeSet<String>, context: &str) {
    let missing: Vec<_> = replay.difference(live).collect();
    let extra: Vec<_> = live.difference(replay).collect();
    assert!(missing.is_empty() && extra.is_empty(), "replay only: {missing:#?}\nlive only: {extra:#?}\n{context}");
}

/// Transition lines without their sequence numbers, in order.
fn transitions(path: &Path) -> Vec<String> {
    ndjson(path)
        .into_iter()
        .map(|mut t| {
            t.as_object_mut().map(|o| o.remove("seq"));
            t.to_string()
        })
        .collect()
}

#[test]
fn kafka_and_replay_raise_the_same_alerts() {
    let dir = scratch("live-vs-replay");
    let p = province(&dir, 21);
    let broker = broker_with_topics("live-vs-replay", 3);
    broker.produce_files(&files(&p));
    let port = free_port();
    let config = options(&p, &dir, &broker, "g1").write(&dir, port);
    let mut live = LivePipeline::start(&config, port, &dir.join("live.log"));
    live.wait_caught_up(CATCH_UP);
    let firing = facts(&live.alerts());
    assert!(!firing.is_empty(), "nothing fired");
    assert_same_as_replay(&p.replay_firing, &firing, "");
    // Every transition the log holds is a firing of the set above (one evaluation, at the pinned T).
    assert_eq!(live.terminate().code(), Some(0), "{}", live.log_text());
    // One firing transition per alert: a single evaluation at the pinned T,
    // once caught up (written after its checkpoint, so read after the exit).
    let log = transitions(&dir.join("transitions-g1.ndjson"));
    assert_eq!(log.len(), firing.len(), "one firing transition per alert");
}

#[test]
fn kill_9_at_random_moments_loses_and_doubles_nothing() {
    let dir = scratch("live-kill9");
    let p = province(&dir, 22);
    let broker = broker_with_topics("live-kill9", 3);
    broker.produce_files(&files(&p));

    // The uninterrupted run.
    let port = free_port();
    let config = options(&p, &dir, &broker, "calm").write(&dir, port);
    let mut calm = LivePipeline::start(&config, port, &dir.join("calm.log"));
    calm.wait_caught_up(CATCH_UP);
    let calm_firing = facts(&calm.alerts());
    calm.terminate();

    // The same events, the pipeline killed with SIGKILL again and again.
    // It reads every partition itself (assignment = "all"): tansu 0.6 never
    // evicts a group member that died without leaving, so a restarted group
    // member would wait forever for the partitions the dead one holds.
    let config_dir = dir.join("killed");
    std::fs::create_dir_all(&config_dir).expect("dir");
    let port = free_port();
    let mut killed = options(&p, &dir, &broker, "killed");
    killed.extra = "assignment = \"all\"".into();
    let config = killed.write(&config_dir, port);
    let log = dir.join("killed.log");
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut kills = 0;
    while kills < 6 {
        let mut live = LivePipeline::start(&config, port, &log);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(1000 + rng % 4000));
        let done = live.health().is_some_and(|h| h["caught_up"] == true && !h["last_evaluation"].is_null());
        live.kill9();
        kills += 1;
        if done && kills >= 5 {
            break;
        }
    }
    let mut live = LivePipeline::start(&config, port, &log);
    live.wait_caught_up(CATCH_UP);
    let killed_firing = facts(&live.alerts());
    // Transitions are written after the checkpoint that covers them: read
    // them after the exit, as for the calm run.
    assert_eq!(live.terminate().code(), Some(0), "{}", live.log_text());
    assert_eq!(killed_firing, calm_firing, "the firing set after {kills} kills differs");
    assert_eq!(
        transitions(&dir.join("transitions-killed.ndjson")),
        transitions(&dir.join("transitions-calm.ndjson")),
        "the transitions after {kills} kills differ"
    );
    assert_eq!(killed_firing, p.replay_firing, "and both agree with replay");
}

#[test]
fn bad_messages_go_to_the_dead_letter_topic_and_the_pipeline_goes_on() {
    let dir = scratch("live-dead-letter");
    let p = province(&dir, 23);
    let broker = broker_with_topics("live-dead-letter", 1);
    let huge = format!("{{\"event_id\":\"big\",\"type\":\"order.placed\",\"pad\":\"{}\"}}", "x".repeat(70_000));
    broker.produce_raw("vbp.orders", "H00000000000", b"{not json");
    broker.produce_raw("vbp.orders", "H00000000000", huge.as_bytes());
    let unknown = r#"{"event_id":"u1","type":"order.placed","occurred_at":"2026-01-05T09:00:00+08:00","order_id":"O-unknown","institution_code":"H99999999999","product_code":"XNONE","quantity_packs":"1","unit_price":"1.00"}"#;
    broker.produce_raw("vbp.orders", "H99999999999", unknown.as_bytes());
    broker.produce_files(&files(&p));
    let port = free_port();
    let config = options(&p, &dir, &broker, "dl").write(&dir, port);
    let mut live = LivePipeline::start(&config, port, &dir.join("live.log"));
    live.wait_caught_up(CATCH_UP);
    // It went on: everything after the bad messages was applied.
    assert_eq!(facts(&live.alerts()), p.replay_firing);
    let dead = broker.consume("vbp.dead-letter", 3);
    let records: Vec<Value> =
        dead.iter().map(|m| serde_json::from_str(m["value"].as_str().expect("text")).expect("a JSON dead letter")).collect();
    let reason_at = |offset: i64| {
        records
            .iter()
            .find(|r| r["source"]["topic"] == "vbp.orders" && r["source"]["offset"] == offset)
            .map(|r| r["reason"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(reason_at(0).as_deref(), Some("malformed_json"));
    assert_eq!(reason_at(1).as_deref(), Some("too_large"));
    assert_eq!(reason_at(2).as_deref(), Some("unknown_institution"));
    let first = records.iter().find(|r| r["source"]["offset"] == 0).expect("offset 0");
    assert_eq!(first["raw"], "{not json", "the original bytes travel with the reason");
    live.terminate();
}

/// Polls `/api/alerts` until it equals `expected` or `limit` passes.
fn wait_for_firing(live: &LivePipeline, expected: &BTreeSet<String>, limit: Duration) -> BTreeSet<String> {
    let started = std::time::Instant::now();
    loop {
        let firing = live.health().map(|_| facts(&live.alerts())).unwrap_or_default();
        if &firing == expected || started.elapsed() > limit {
            return firing;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_30_second_broker_outage_heals_by_itself() {
    let dir = scratch("live-outage");
    let p = province(&dir, 24);
    let mut broker = Broker::start_persistent("live-outage");
    let mut topics: Vec<&str> = INPUT_TOPICS.to_vec();
    topics.extend(["vbp.dead-letter", "vbp.facts"]);
    broker.create_topics(3, &topics);
    let all = files(&p);
    // Orders first; deliveries and payments only after the outage.
    broker.produce_files(&all[..1]);
    let port = free_port();
    let mut o = options(&p, &dir, &broker, "outage");
    // The outage (30 s, plus tansu's restart) must stay within the group
    // session: past it librdkafka rejoins as a new member, and tansu 0.6
    // never evicts the old one, which keeps the partitions (see the kill
    // test). A real Kafka would evict it; this test is about the outage.
    o.extra = "extra = { \"session.timeout.ms\" = \"120000\" }".into();
    let config = o.write(&dir, port);
    let mut live = LivePipeline::start(&config, port, &dir.join("live.log"));
    live.wait_caught_up(CATCH_UP);
    let ready = wait_ready(&live, true, Duration::from_secs(30));
    assert_eq!(ready["status"], "ready", "{ready}");
    let before = live.log_text().lines().count();
    broker.stop();
    // Not ready while no broker is reachable (within librdkafka's next
    // statistics, one tick), though alive: /healthz stays 200.
    let not_ready = wait_ready(&live, false, Duration::from_secs(20));
    let reasons = not_ready["reasons"].to_string();
    assert!(reasons.contains("no Kafka broker is reachable"), "{not_ready}");
    assert_eq!(http_get(&live.addr, "/healthz").map(|(s, _)| s), Some(200), "alive while the broker is down");
    std::thread::sleep(Duration::from_secs(30));
    assert!(live.health().is_some(), "the pipeline died with the broker:\n{}", live.log_text());
    // One line per backoff step (1, 2, 4, 8, 16 s…), not one per retry
    // (42 a second before): the outage of about 35 s writes a handful.
    let log = live.log_text();
    let outage: Vec<&str> = log.lines().skip(before).collect();
    eprintln!("log lines during the ~35 s outage: {}", outage.len());
    // Measured 104 lines on 2026-12-02 (the producers and the facts reader
    // logged every retry), 9 once every client logs through one throttle.
    assert!(!outage.is_empty(), "the outage was logged");
    assert!(outage.len() <= 15, "one line per backoff step, not one per retry:\n{}", outage.join("\n"));
    broker.restart();
    broker.produce_files(&all[1..]);
    let firing = wait_for_firing(&live, &p.replay_firing, CATCH_UP);
    assert_same_as_replay(&p.replay_firing, &firing, &live.log_text());
    let ready = wait_ready(&live, true, Duration::from_secs(30));
    assert_eq!(ready["status"], "ready", "ready again after the outage: {ready}");
    assert!(live.log_text().contains("Kafka: working again after"), "the recovery is said once:\n{}", live.log_text());
    assert_eq!(live.terminate().code(), Some(0), "{}", live.log_text());
}

/// Polls `/readyz` until it answers ready (200) or not (503) as `want`;
/// returns its body.
fn wait_ready(live: &LivePipeline, want: bool, limit: Duration) -> Value {
    let started = std::time::Instant::now();
    loop {
        if let Some((status, body)) = http_get(&live.addr, "/readyz") {
            if (status == 200) == want {
                return serde_json::from_str(&body).unwrap_or_else(|e| panic!("/readyz is not JSON ({e}): {body}"));
            }
        }
        assert!(started.elapsed() < limit, "/readyz never answered {}:\n{}", if want { "ready" } else { "not ready" }, live.log_text());
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The institutions of every `SupplyBreak` in a firing set, by alert.
fn supply_break_institutions(firing: &[Value]) -> Vec<Vec<String>> {
    firing
        .iter()
        .filter(|a| a["alertname"] == "SupplyBreak")
        .map(|a| a["annotations"]["institutions"].as_str().unwrap_or_default().split(',').map(str::to_string).collect())
        .collect()
}

/// `n` members of one group on four partitions: after the rebalance that
/// splits them, each answers for the institutions of its partitions and
/// for the supply breaks of the (city, product) keys on them, hearing the
/// other members' overdue facts on `vbp.facts`; each starts every partition
/// it gains where its own state ends (offset 0 for one it never read).
/// Together they raise exactly what replay raises, each alert once, a
/// supply break whose hospitals are held by different members included.
fn members_of_one_group_raise_what_replay_raises(n: usize, seed: u64, kill_one: bool) {
    const PARTITIONS: usize = 4;
    let name = format!("live-group-{n}{}", if kill_one { "-kill" } else { "" });
    let dir = scratch(&name);
    let p = province(&dir, seed);
    // province() wrote replay's outputs there.
    let breaks = supply_break_institutions(&ndjson(&dir.join("replay").join("firing.ndjson")));
    assert!(!breaks.is_empty(), "seed {seed} plants no supply break: the test would prove nothing");
    let broker = broker_with_topics(&name, PARTITIONS as u32);
    broker.produce_files(&files(&p));
    let mut configs = Vec::new();
    let mut group = Vec::new();
    for i in 0..n {
        let own = dir.join(format!("member-{i}"));
        std::fs::create_dir_all(&own).expect("dir");
        let mut o = options(&p, &own, &broker, "group");
        o.state_dir = own.join("state");
        o.transitions_file = own.join("transitions.ndjson");
        // Static membership: a member restarted under its old identity
        // takes its partitions back (a killed member never leaves the group).
        o.extra = format!("extra = {{ \"group.instance.id\" = \"member-{i}\" }}");
        let port = free_port();
        let config = o.write(&own, port);
        group.push(LivePipeline::start(&config, port, &own.join("live.log")));
        configs.push((config, port, own.join("live.log")));
    }
    if kill_one {
        // Mid-run: the last member dies once it owns partitions and has
        // checkpointed some of them, and comes back with its state
        // directory under its old identity.
        let victim = &mut group[n - 1];
        let started = std::time::Instant::now();
        while !victim.health().is_some_and(|h| h["partitions"].as_array().is_some_and(|a| !a.is_empty())) {
            assert!(started.elapsed() < CATCH_UP, "member {} never got partitions:\n{}", n - 1, victim.log_text());
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_millis(1500));
        victim.kill9();
        std::thread::sleep(Duration::from_secs(2));
        let (config, port, log) = &configs[n - 1];
        group[n - 1] = LivePipeline::start(config, *port, log);
    }
    let logs = |group: &[LivePipeline]| group.iter().map(LivePipeline::log_text).collect::<Vec<_>>().join("\n----\n");
    // All caught up on a split assignment: each owns some partitions, together all.
    let started = std::time::Instant::now();
    let owners: Vec<Vec<i64>> = loop {
        let healths: Vec<Value> = group.iter().filter_map(LivePipeline::health).collect();
        let owned: Vec<Vec<i64>> = healths
            .iter()
            .map(|h| h["partitions"].as_array().map(|a| a.iter().filter_map(Value::as_i64).collect()).unwrap_or_default())
            .collect();
        let ready = healths.len() == n
            && healths.iter().all(|h| h["caught_up"] == true && !h["last_evaluation"].is_null())
            && owned.iter().all(|o: &Vec<i64>| !o.is_empty())
            && owned.iter().map(Vec::len).sum::<usize>() == PARTITIONS;
        if ready {
            break owned;
        }
        assert!(started.elapsed() < CATCH_UP, "no split: {healths:?}\n{}", logs(&group));
        std::thread::sleep(Duration::from_millis(500));
    };
    // The point of the test: some supply break's hospitals are held by
    // more than one member, so no member sees three of them on its own.
    let member_of = |code: &str| {
        let partition = vbp_watch::sources::kafka::partition_of(code.as_bytes(), PARTITIONS) as i64;
        owners.iter().position(|o| o.contains(&partition))
    };
    let split = breaks.iter().any(|hospitals| hospitals.iter().map(|h| member_of(h)).collect::<BTreeSet<_>>().len() > 1);
    assert!(split, "no supply break of seed {seed} is split over the members {owners:?}: {breaks:?}");
    // Each evaluates again every tick (1 s) and hears the others' facts:
    // wait until together they raise replay's set and keep raising it for
    // five ticks, so that no alert left over from an evaluation before the
    // split (when one member answered for everything) can pass for one.
    let settled = std::time::Instant::now();
    let mut stable_since: Option<std::time::Instant> = None;
    let sets = loop {
        let sets: Vec<BTreeSet<String>> = group.iter().map(|m| facts(&m.alerts())).collect();
        let together: BTreeSet<String> = sets.iter().flatten().cloned().collect();
        if together == p.replay_firing {
            if stable_since.get_or_insert_with(std::time::Instant::now).elapsed() >= Duration::from_secs(5) {
                break sets;
            }
        } else {
            stable_since = None;
        }
        if settled.elapsed() > Duration::from_secs(90) {
            break sets;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    for (i, set) in sets.iter().enumerate() {
        assert!(!set.is_empty(), "member {i} raised nothing: {sets:?}");
        for (j, other) in sets.iter().enumerate().skip(i + 1) {
            let both: Vec<_> = set.intersection(other).collect();
            assert!(both.is_empty(), "members {i} and {j} both raised {both:#?}");
        }
    }
    let together: BTreeSet<String> = sets.iter().flatten().cloned().collect();
    assert_same_as_replay(&p.replay_firing, &together, &logs(&group));
    let settle = stable_since.map_or(f64::NAN, |t| t.duration_since(settled).as_secs_f64());
    eprintln!("{n} members: replay's {} alerts raised together {settle:.1} s after the split was in place", together.len());
}

#[test]
fn two_instances_in_one_group_together_raise_the_same_alerts_a_split_supply_break_included() {
    members_of_one_group_raise_what_replay_raises(2, SPLIT_SEED, false);
}

#[test]
fn three_instances_in_one_group_together_raise_the_same_alerts_a_split_supply_break_included() {
    members_of_one_group_raise_what_replay_raises(3, SPLIT_SEED, false);
}

/// tansu 0.6 never evicts a member that died without leaving; a restart
/// under the same `group.instance.id` (static membership, KIP-345, as a
/// real deployment names each instance) takes its partitions back.
#[test]
fn a_member_killed_mid_run_and_restarted_under_its_identity_leaves_the_group_raising_the_same_alerts() {
    members_of_one_group_raise_what_replay_raises(2, SPLIT_SEED, true);
}

/// A seed whose planted supply break has hospitals on partitions 0–1 and
/// 2–3 of four, so that two or three members split it (asserted above).
const SPLIT_SEED: u64 = 26;

/// Issue 5: the dashboard panels marked "live only" (consumer lag, input
/// rates by outcome, rejections, checkpoints) return data when Prometheus
/// scrapes `vbp-watch run`, and promtool has nothing to say about its
/// /metrics. The demo-fed test in observability.rs covers the other panels.
#[test]
fn live_only_panels_return_data_when_prometheus_scrapes_a_live_run() {
    use std::collections::BTreeMap;
    use std::time::Instant;
    use vbp_tests::observability::{
        dashboards, lint_metrics, panel_queries, require, substitute, test_prometheus_config, wait_for, Prometheus, PROMETHEUS, PROMTOOL,
    };

    require(PROMETHEUS);
    require(PROMTOOL);
    let dir = scratch("live-panels");
    let p = province(&dir, 24);
    let broker = broker_with_topics("live-panels", 3);
    let port = free_port();
    let config = options(&p, &dir, &broker, "panels").write(&dir, port);
    let mut live = LivePipeline::start(&config, port, &dir.join("live.log"));
    let prom_dir = dir.join("prometheus");
    std::fs::create_dir_all(&prom_dir).expect("create prometheus dir");
    // Port 9 (discard): nothing listens there, and no test server takes it.
    let nowhere = "127.0.0.1:9".to_string();
    let prom = Prometheus::start(&prom_dir, &test_prometheus_config(&live.addr, &nowhere));
    // Two halves, so the input rates see the pipeline consume between scrapes.
    broker.produce_with(&["--lines", ":2000"], &files(&p));
    broker.produce_with(&["--lines", "2000:"], &files(&p));
    live.wait_caught_up(CATCH_UP);
    let caught_up = Instant::now();
    wait_for(Duration::from_secs(60), "Prometheus to scrape the caught-up pipeline a few times", || {
        (caught_up.elapsed() > Duration::from_secs(4) && prom.scrapes("vbp-watch") >= 5).then_some(())
    });

    let alerts = live.alerts();
    let labels = alerts.iter().map(|a| &a["labels"]).find(|l| l["city_code"].is_string()).expect("a firing alert with a city");
    let mut values = BTreeMap::new();
    values.insert("city".to_string(), labels["city_code"].as_str().unwrap_or_default().to_string());
    values.insert("district".to_string(), labels["division_code"].as_str().unwrap_or_default().to_string());
    let (mut checked, mut failures) = (0, Vec::new());
    for (file, dashboard) in dashboards() {
        for q in panel_queries(&file, &dashboard).into_iter().filter(|q| q.live_only) {
            let expr = substitute(&q.expr, &values);
            checked += 1;
            match prom.query(&expr) {
                Ok(result) if result.is_empty() => failures.push(format!("{} / {}: no data: {expr}", q.dashboard, q.panel)),
                Ok(_) => {}
                Err(e) => failures.push(format!("{} / {}: {expr}: {e}", q.dashboard, q.panel)),
            }
        }
    }
    eprintln!("live-only panel queries: {checked} run against Prometheus scraping `vbp-watch run`, {} without data", failures.len());
    assert!(checked >= 10, "the dashboards mark only {checked} queries live only");
    assert!(failures.is_empty(), "{} live-only panel queries failed:\n{}", failures.len(), failures.join("\n"));

    let (passed, said) = lint_metrics(&live.metrics());
    assert!(passed && said.trim().is_empty(), "promtool check metrics on live /metrics:\n{said}");
}

/// A copy of the reference directory `from` in `to`, its institutions and
/// agreements in reverse row order (every dense id moves), without the
/// institution `removed` and the rows naming it, and with `agreed` as the
/// agreed volume of the first remaining agreement when given.
fn changed_reference(from: &Path, to: &Path, removed: Option<&str>, agreed: Option<&str>) {
    std::fs::create_dir_all(to).expect("reference dir");
    for entry in std::fs::read_dir(from).expect("reference dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let text = std::fs::read_to_string(&path).expect("a reference file");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let header = lines.remove(0);
        if let Some(code) = removed {
            lines.retain(|l| !l.split(',').any(|field| field == code));
        }
        if name == "institutions.csv" || name == "agreements.csv" {
            lines.reverse();
        }
        if let (Some(units), "agreements.csv") = (agreed, name.as_str()) {
            let mut fields: Vec<&str> = lines[0].split(',').collect();
            *fields.last_mut().expect("a field") = units;
            lines[0] = fields.join(",");
        }
        std::fs::write(to.join(&name), format!("{header}\n{}\n", lines.join("\n"))).expect("write");
    }
}

/// Replay's firing set over the province's events with another reference.
fn replay_firing_with(p: &Province, reference: &Path, out: &Path) -> BTreeSet<String> {
    std::fs::create_dir_all(out).expect("replay dir");
    let (firing, _) = replay_as_of(reference, &event_files(&p.sim), &p.as_of, out);
    firing.iter().map(alert_fact).collect()
}

#[test]
fn reference_data_reloads_while_running_and_across_a_restart() {
    let dir = scratch("live-reload");
    let p = province(&dir, 25);
    let running = dir.join("reference");
    changed_reference(&p.sim.join("reference"), &running, None, None);
    // The institution of a firing OrderUndelivered leaves the data.
    let replay_alerts = ndjson(&dir.join("replay").join("firing.ndjson"));
    let gone = replay_alerts
        .iter()
        .find(|a| a["alertname"] == "OrderUndelivered")
        .and_then(|a| a["labels"]["institution_code"].as_str())
        .expect("seed 25 fires an OrderUndelivered")
        .to_string();
    let without = dir.join("reference-without");
    changed_reference(&p.sim.join("reference"), &without, Some(&gone), None);
    let expected_without = replay_firing_with(&p, &without, &dir.join("replay-without"));
    assert_ne!(expected_without, p.replay_firing, "removing {gone} must change what fires");

    let broker = broker_with_topics("live-reload", 3);
    broker.produce_files(&files(&p));
    let token = "reload-test-token-0123456789";
    std::fs::write(dir.join("token"), format!("{token}\n")).expect("token");
    let port = free_port();
    let mut o = options(&p, &dir, &broker, "reload");
    o.reference = running.clone();
    o.extra = format!("\n[access]\ntoken_file = {:?}\n", dir.join("token").display().to_string());
    let config = o.write(&dir, port);
    let mut live = LivePipeline::start(&config, port, &dir.join("live.log"));
    live.token = Some(token.to_string());
    live.wait_caught_up(CATCH_UP);
    assert_same_as_replay(&p.replay_firing, &facts(&live.alerts()), "before any reload");

    // Without the token, or with another, nothing reloads.
    assert_eq!(http_post(&live.addr, "/-/reload", None).map(|(s, _)| s), Some(401));
    assert_eq!(http_post(&live.addr, "/-/reload", Some("not-the-token-0123456789")).map(|(s, _)| s), Some(401));
    // Unchanged files: nothing to do.
    let (status, body) = http_post(&live.addr, "/-/reload", Some(token)).expect("an answer");
    assert_eq!((status, serde_json::from_str::<Value>(&body).expect("JSON")["outcome"].clone()), (200, "unchanged".into()), "{body}");

    // A bad row anywhere: refused with every problem, the old data runs on.
    let agreements = running.join("agreements.csv");
    let good = std::fs::read_to_string(&agreements).expect("agreements.csv");
    std::fs::write(&agreements, format!("{good}A-BAD,H99999999999,F-NONE,2026-13-01,2026-12-31,-5\n")).expect("write");
    let (status, body) = http_post(&live.addr, "/-/reload", Some(token)).expect("an answer");
    let refused: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!((status, refused["outcome"].as_str()), (422, Some("refused")), "{body}");
    let problems = refused["problems"].to_string();
    assert!(problems.contains("agreements.csv") && problems.contains("H99999999999"), "{body}");
    std::thread::sleep(Duration::from_secs(3));
    assert_same_as_replay(&p.replay_firing, &facts(&live.alerts()), "after a refused reload");

    // The institution removed, by SIGHUP: its records are dropped and said.
    for entry in std::fs::read_dir(&without).expect("dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, running.join(path.file_name().expect("name"))).expect("copy");
    }
    live.signal("HUP");
    let firing = wait_for_firing(&live, &expected_without, Duration::from_secs(60));
    assert_same_as_replay(&expected_without, &firing, &live.log_text());
    let log = live.log_text();
    assert!(log.contains("reference data reloaded (SIGHUP)") && log.contains(&gone), "the reload and what it dropped are logged:\n{log}");
    let metrics = live.metrics();
    assert!(metrics.contains("vbp_reference_reloads_total{outcome=\"applied\"} 1"), "{metrics}");
    assert!(metrics.contains("vbp_reference_reloads_total{outcome=\"refused\"} 1"), "{metrics}");
    assert!(metrics.contains("vbp_reference_dropped_total{kind=\"open order lines\"}"), "the orphaned lines are counted:\n{metrics}");

    // A restart with other files again (rows moved, an agreed volume
    // changed): the checkpoint's state is carried onto them.
    assert_eq!(live.terminate().code(), Some(0), "{}", live.log_text());
    let changed = dir.join("reference-changed");
    changed_reference(&without, &changed, None, Some("1"));
    let expected_changed = replay_firing_with(&p, &changed, &dir.join("replay-changed"));
    for entry in std::fs::read_dir(&changed).expect("dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, running.join(path.file_name().expect("name"))).expect("copy");
    }
    let mut live = LivePipeline::start(&config, port, &dir.join("live.log"));
    live.token = Some(token.to_string());
    live.wait_caught_up(CATCH_UP);
    let firing = wait_for_firing(&live, &expected_changed, Duration::from_secs(60));
    assert_same_as_replay(&expected_changed, &firing, &live.log_text());
    assert!(live.log_text().contains("the state was carried onto it"), "{}", live.log_text());
    assert_eq!(live.terminate().code(), Some(0), "{}", live.log_text());
}

/// A tmpfs of `megabytes` mounted on `dir` (the test runs as root, as CI
/// does), unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, megabytes: u32) -> SmallDisk {
        std::fs::create_dir_all(dir).expect("mount point");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs", &dir.display().to_string()])
            .status()
            .expect("run mount");
        assert!(status.success(), "cannot mount a tmpfs on {} (the full-disk test needs root, as in CI)", dir.display());
        SmallDisk(dir.to_path_buf())
    }

    /// Writes a filler until the disk is full.
    fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 1 << 16];
        while std::io::Write::write_all(&mut file, &chunk).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_keeps_the_last_good_checkpoint_and_says_so_until_there_is_room() {
    let dir = scratch("live-full-disk");
    let p = province(&dir, 26);
    let broker = broker_with_topics("live-full-disk", 1);
    let all = files(&p);
    broker.produce_files(&all[..1]);
    let disk = SmallDisk::mount(&dir.join("state-full"), 64);
    let port = free_port();
    let mut o = options(&p, &dir, &broker, "full");
    o.state_dir = dir.join("state-full");
    // Restarted after kill -9: read every partition itself (see the kill test).
    o.extra = "assignment = \"all\"".into();
    let config = o.write(&dir, port);
    let mut live = LivePipeline::start(&config, port, &dir.join("live.log"));
    live.wait_caught_up(CATCH_UP);
    let checkpoint = o.state_dir.join("live.ckpt");
    let good = std::fs::read(&checkpoint).expect("a checkpoint once caught up");

    let filler = disk.fill();
    broker.produce_files(&all[1..]);
    let not_ready = wait_ready(&live, false, Duration::from_secs(60));
    assert!(not_ready["reasons"].to_string().contains("No space left on device"), "{not_ready}");
    assert_eq!(http_get(&live.addr, "/healthz").map(|(s, _)| s), Some(200), "alive on a full disk");
    assert_eq!(std::fs::read(&checkpoint).expect("still there"), good, "the last good checkpoint is kept whole");
    assert!(!o.state_dir.join("live.tmp").exists(), "no partial checkpoint holds the space");
    assert!(live.metrics().contains("vbp_checkpoint_failures_total"), "counted");
    let log = live.log_text();
    assert!(log.contains("the last good checkpoint is kept"), "said in the log:\n{log}");

    std::fs::remove_file(filler).expect("make room");
    let ready = wait_ready(&live, true, Duration::from_secs(60));
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_ne!(std::fs::read(&checkpoint).expect("checkpoint"), good, "a new checkpoint once there is room");
    // What it holds is whole: a restart from it fires what replay fires.
    live.kill9();
    let mut live = LivePipeline::start(&config, port, &dir.join("live.log"));
    live.wait_caught_up(CATCH_UP);
    let firing = wait_for_firing(&live, &p.replay_firing, Duration::from_secs(60));
    assert_same_as_replay(&p.replay_firing, &firing, &live.log_text());
    live.terminate();
}

#[test]
fn a_broker_that_requires_scram_is_read_with_the_configured_login_and_refuses_a_wrong_one() {
    let dir = scratch("live-scram");
    let p = province(&dir, 27);
    let broker = Broker::start_scram("live-scram", "vbp-watch", "scram-password-27");
    let mut topics: Vec<&str> = INPUT_TOPICS.to_vec();
    topics.extend(["vbp.dead-letter", "vbp.facts"]);
    broker.create_topics(2, &topics);
    broker.produce_files(&files(&p));
    let mut o = options(&p, &dir, &broker, "scram");
    o.extra = "security_protocol = \"sasl_plaintext\"\nsasl_mechanism = \"SCRAM-SHA-512\"\nsasl_username = \"vbp-watch\"".into();
    let port = free_port();
    let config = o.write(&dir, port);
    // The password as the runbook says: in the environment, not the file.
    let mut live = LivePipeline::start_with_env(&config, port, &dir.join("live.log"), &[("VBP_KAFKA_SASL_PASSWORD", "scram-password-27")]);
    live.wait_caught_up(CATCH_UP);
    assert_same_as_replay(&p.replay_firing, &facts(&live.alerts()), &live.log_text());
    assert_eq!(live.terminate().code(), Some(0), "{}", live.log_text());

    let wrong_dir = dir.join("wrong");
    std::fs::create_dir_all(&wrong_dir).expect("dir");
    let mut o = options(&p, &wrong_dir, &broker, "scram-wrong");
    o.extra = "security_protocol = \"sasl_plaintext\"\nsasl_mechanism = \"SCRAM-SHA-512\"\nsasl_username = \"vbp-watch\"".into();
    let port = free_port();
    let config = o.write(&wrong_dir, port);
    let mut live = LivePipeline::start_with_env(&config, port, &wrong_dir.join("live.log"), &[("VBP_KAFKA_SASL_PASSWORD", "not-the-password")]);
    // It never gets in: it stops at start (the facts topic cannot be read)
    // or stays unready, saying why; it never raises an alert.
    let started = std::time::Instant::now();
    while live.exited().is_none() && started.elapsed() < Duration::from_secs(45) {
        if let Some((_, body)) = http_get(&live.addr, "/api/alerts") {
            assert_eq!(body.trim(), "[]", "nothing is read without a login");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = live.log_text();
    assert!(log.to_lowercase().contains("authentication"), "the refused login is logged:\n{log}");
    assert!(!log.contains("not-the-password"), "the password is never logged:\n{log}");
}
