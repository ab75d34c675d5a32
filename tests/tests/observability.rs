//! Observability end to end, with the real tools (Debian packages
//! prometheus, prometheus-alertmanager, chromium; installed by
//! tests/harness/ensure-tools.sh — a missing one fails the test, never skips):
//!
//! a. deploy/ passes `promtool check config|rules`, `promtool test rules`
//!    and `amtool check-config`; gen-alertmanager.py routes every district
//!    and city as intended (`amtool config routes test`); the dashboards
//!    are what grafana/build-dashboards.py writes;
//! b. every Grafana panel query returns data from a Prometheus scraping
//!    `vbp-watch demo` (panels marked "live only" must at least parse), and
//!    `promtool check metrics` finds nothing to say about /metrics;
//! c. Alertmanager with the generated routing tree delivers each alert to
//!    its district, its city and (SupplyBreak) the on-call receiver, and
//!    inhibits OrderUndelivered under a SupplyBreak;
//! d. Alertmanager stopped mid-run and restarted loses no alert, and
//!    resolutions still reach the receivers;
//! e. the alert page, the report page and the circular render in headless
//!    Chromium, and `/api/report` gives each district and city its own rows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use vbp_tests::observability::*;
use vbp_tests::{scratch, simulate_small, workspace};

/// The seed of the simulated province (the committed deploy/alertmanager.yml
/// was generated from it, and the demo's default is the same).
const SEED: u64 = 1;
/// Fast demo: a simulated day every 20 ms.
const DAY_SECONDS: f64 = 0.02;

fn city_of(code: &str) -> String {
    format!("{}00", &code[..4])
}

// ---------------------------------------------------------------------------
// a. static checks

#[test]
fn deploy_configs_pass_promtool_and_amtool() {
    let deploy = workspace().join("deploy");
    require(PROMTOOL);
    require(AMTOOL);

    run_tool(PROMTOOL, &["check", "config", "prometheus.yml"], &deploy);
    let rules = yml_files(&deploy.join("rules"));
    assert!(rules.len() >= 2, "deploy/rules/ holds the recording and alerting rules");
    let mut args = vec!["check", "rules"];
    args.extend(rules.iter().map(String::as_str));
    run_tool(PROMTOOL, &args, &deploy.join("rules"));

    let tests = yml_files(&deploy.join("rules").join("tests"));
    assert!(!tests.is_empty(), "deploy/rules/tests/ has promtool unit tests");
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    let out = run_tool(PROMTOOL, &args, &deploy.join("rules").join("tests"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("SUCCESS").count(), tests.len(), "promtool test rules:\n{text}");

    let out = run_tool(AMTOOL, &["check-config", "alertmanager.yml"], &deploy);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SUCCESS"), "amtool check-config:\n{text}");

    // The committed routing tree: every district and city receiver it
    // declares is reached by the labels vbp-watch puts on an alert.
    let committed = std::fs::read_to_string(deploy.join("alertmanager.yml")).expect("read deploy/alertmanager.yml");
    let districts = receivers(&committed, "district-");
    let cities = receivers(&committed, "city-");
    assert!(!districts.is_empty() && !cities.is_empty(), "deploy/alertmanager.yml has district and city receivers");
    for district in districts.iter().step_by(7) {
        let city = city_of(district);
        let want = if cities.contains(&city) { format!("city-{city},district-{district}") } else { format!("district-{district}") };
        assert_eq!(route(&deploy.join("alertmanager.yml"), &[("alertname", "PaymentOverdue"), ("division_code", district), ("city_code", &city)]), want);
    }

    // The generator on the simulated province: the whole routing matrix.
    let sim = scratch("observability-static");
    simulate_small(&sim, SEED);
    let divisions = read_divisions(&sim.join("reference").join("divisions.csv"));
    let yaml = generate_alertmanager(&sim.join("reference").join("divisions.csv"), "http://127.0.0.1:9/hook", &[]);
    let config = sim.join("alertmanager.yml");
    std::fs::write(&config, &yaml).expect("write generated config");
    run_tool(AMTOOL, &["check-config", &config.display().to_string()], &sim);
    let city_codes: BTreeSet<String> =
        divisions.iter().filter(|(c, _)| level_of(c) == "city").map(|(c, _)| c.clone()).collect();
    let mut checked = 0;
    for (code, _) in divisions.iter().filter(|(c, _)| level_of(c) == "district") {
        let city = city_of(code);
        let want = if city_codes.contains(&city) { format!("city-{city},district-{code}") } else { format!("district-{code}") };
        for alertname in ["OrderUndelivered", "PaymentOverdue", "ComplaintOverdue", "SubstituteSurge", "PeriodEndStockpiling", "PriceAboveSelected"] {
            assert_eq!(route(&config, &[("alertname", alertname), ("division_code", code), ("city_code", &city)]), want, "{alertname} in {code}");
            checked += 1;
        }
    }
    for city in &city_codes {
        let labels = [("alertname", "SupplyBreak"), ("division_code", city.as_str()), ("city_code", city.as_str())];
        assert_eq!(route(&config, &labels), format!("oncall,city-{city}"), "SupplyBreak in {city}");
        // An incident nobody acknowledged in time: the duty officer only.
        let escalated = [("alertname", "SupplyBreak"), ("division_code", city.as_str()), ("city_code", city.as_str()), ("escalated", "true")];
        assert_eq!(route(&config, &escalated), "duty", "escalated SupplyBreak in {city}");
        checked += 2;
    }
    assert_eq!(route(&config, &[("alertname", "VbpWatchDown"), ("component", "vbp-watch")]), "oncall");
    assert_eq!(route(&config, &[("alertname", "PaymentOverdue"), ("division_code", "999999"), ("city_code", "999900")]), "oncall");
    eprintln!(
        "routing matrix (amtool config routes test): {checked} label sets over {} districts and {} cities, plus pipeline and unknown-division fallbacks",
        divisions.iter().filter(|(c, _)| level_of(c) == "district").count(),
        city_codes.len()
    );

    // The dashboards are what the generator writes.
    run_tool(&python(), &["grafana/build-dashboards.py", "--check"], &workspace());
}

fn yml_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yml"))
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    files.sort();
    files
}

/// Codes of the receivers named `{prefix}{code}` in an Alertmanager config.
fn receivers(yaml: &str, prefix: &str) -> Vec<String> {
    let mut codes: Vec<String> = yaml
        .lines()
        .filter_map(|l| l.trim().strip_prefix(&format!("- name: {prefix}")))
        .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

/// `amtool config routes test`: the receivers an alert with `labels` reaches.
fn route(config: &Path, labels: &[(&str, &str)]) -> String {
    let mut args = vec!["config".to_string(), "routes".into(), "test".into(), format!("--config.file={}", config.display())];
    args.extend(labels.iter().map(|(k, v)| format!("{k}={v}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_tool(AMTOOL, &args, &workspace());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

// ---------------------------------------------------------------------------
// b. dashboards against a real Prometheus

#[test]
fn every_dashboard_panel_returns_data_from_a_demo_run() {
    require(PROMETHEUS);
    require(PROMTOOL);
    let dir = scratch("observability-dashboards");
    let mut demo = Demo::start(&dir.join("demo"), SEED, DAY_SECONDS, None);
    // Port 9 (discard): nothing listens there, and no test server takes it.
    let nowhere = "127.0.0.1:9".to_string();
    let prom_dir = dir.join("prometheus");
    std::fs::create_dir_all(&prom_dir).expect("create prometheus dir");
    let prom = Prometheus::start(&prom_dir, &test_prometheus_config(&demo.addr, &nowhere));
    let started = Instant::now();
    demo.wait_done(Duration::from_secs(300));
    eprintln!("demo stream done after {:.1} s", started.elapsed().as_secs_f64());
    // A few scrapes after the end, and the recording rules evaluated on them.
    let done_at = Instant::now();
    wait_for(Duration::from_secs(60), "Prometheus to scrape the finished demo a few times", || {
        (done_at.elapsed() > Duration::from_secs(4) && prom.scrapes("vbp-watch") >= 5).then_some(())
    });
    wait_for(Duration::from_secs(30), "the recording rules", || {
        prom.query("province:vbp_on_time_delivery:ratio").ok().filter(|r| !r.is_empty())
    });
    let up = prom.query("up{job=\"vbp-watch\"}").expect("query up");
    assert_eq!(up.first().map(|s| s["value"][1].clone()), Some(Value::from("1")), "vbp-watch is up: {up:?}");

    // Template variables: the district with the most firing alerts and its city.
    let alerts = demo.alerts();
    assert!(!alerts.is_empty(), "the demo has firing alerts at the end");
    let mut per_district: BTreeMap<String, usize> = BTreeMap::new();
    for alert in &alerts {
        let division = labels_of(alert).get("division_code").cloned().unwrap_or_default();
        if level_of(&division) == "district" {
            *per_district.entry(division).or_default() += 1;
        }
    }
    let district = per_district.iter().max_by_key(|(_, n)| **n).map(|(d, _)| d.clone()).expect("an alert in a district");
    let mut values = BTreeMap::new();
    values.insert("city".to_string(), city_of(&district));
    values.insert("district".to_string(), district.clone());

    let mut failures = Vec::new();
    let (mut panels, mut queries, mut live_only, mut live_only_empty) = (BTreeSet::new(), 0, 0, 0);
    for (file, dashboard) in dashboards() {
        // Each query variable offers the value chosen for it.
        for variable in dashboard["templating"]["list"].as_array().into_iter().flatten() {
            let name = variable["name"].as_str().unwrap_or("");
            let query = variable["query"]["query"].as_str().or(variable["query"].as_str()).unwrap_or("");
            let inner = query.strip_prefix("query_result(").and_then(|q| q.strip_suffix(')')).unwrap_or(query);
            let expr = substitute(inner, &values);
            match prom.query(&expr) {
                Ok(result) => {
                    let offered: Vec<String> =
                        result.iter().filter_map(|s| s["metric"]["division_code"].as_str().map(str::to_string)).collect();
                    let chosen = values.get(name).cloned().unwrap_or_default();
                    if !offered.contains(&chosen) {
                        failures.push(format!("{file}: variable ${name} ({expr}) does not offer {chosen}: {offered:?}"));
                    }
                }
                Err(e) => failures.push(format!("{file}: variable ${name}: {expr}: {e}")),
            }
        }
        let found = panel_queries(&file, &dashboard);
        assert!(!found.is_empty(), "{file} has no panel queries");
        for q in found {
            let expr = substitute(&q.expr, &values);
            queries += 1;
            panels.insert((q.dashboard.clone(), q.panel.clone()));
            if q.live_only {
                live_only += 1;
            }
            match prom.query(&expr) {
                Err(e) => failures.push(format!("{} / {}: {expr}: {e}", q.dashboard, q.panel)),
                Ok(result) if result.is_empty() && q.live_only => live_only_empty += 1,
                Ok(result) if result.is_empty() => failures.push(format!("{} / {}: no data: {expr}", q.dashboard, q.panel)),
                Ok(_) => {}
            }
        }
    }
    eprintln!(
        "dashboards: {} panels, {queries} queries run against Prometheus ($city={}, $district={}); {live_only} live-only ({live_only_empty} of them empty on the demo)",
        panels.len(),
        values["city"],
        values["district"]
    );
    assert!(failures.is_empty(), "{} panel queries failed:\n{}", failures.len(), failures.join("\n"));

    // promtool's linter on the exposition vbp-watch serves.
    let exposition = demo.metrics();
    let (passed, said) = lint_metrics(&exposition);
    assert!(passed && said.trim().is_empty(), "promtool check metrics on /metrics:\n{said}");
    // The series live mode serves, in demo mode too (issue 16 part 2).
    for series in [
        "vbp_events_total{outcome=\"applied\",topic=\"orders.ndjson\"}",
        "vbp_events_total{outcome=\"rejected\",topic=",
        "vbp_rejected_total{reason=",
        "vbp_build_info{version=",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
    ] {
        assert!(exposition.contains(series), "demo /metrics lacks {series}");
    }
    // `--log-format json`: every line a JSON object, stamped in UTC.
    let log = std::fs::read_to_string(&demo.proc.log).expect("the demo's log");
    assert!(log.contains("the stream is done"), "{log}");
    for line in log.lines() {
        let object: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let stamp = object["timestamp"].as_str().unwrap_or_else(|| panic!("no timestamp: {line}"));
        assert!(stamp.ends_with('Z') && object["level"].is_string() && object["message"].is_string(), "{line}");
    }
}

// ---------------------------------------------------------------------------
// c. routing through a real Alertmanager

/// Simulates the demo's province (same seed) for its divisions.csv, and
/// starts a webhook receiver and an Alertmanager with the generated config.
fn routed_alertmanager(dir: &Path) -> (WebhookReceiver, Alertmanager, Vec<(String, String)>) {
    require(ALERTMANAGER);
    let sim = dir.join("sim");
    simulate_small(&sim, SEED);
    let divisions_csv = sim.join("reference").join("divisions.csv");
    let receiver = WebhookReceiver::start();
    let yaml = generate_alertmanager(
        &divisions_csv,
        &receiver.base_url(),
        &["--group-wait", "1s", "--group-interval", "1s", "--repeat-interval", "1h", "--oncall-repeat-interval", "1h"],
    );
    let am = Alertmanager::start(dir, &yaml);
    (receiver, am, read_divisions(&divisions_csv))
}

/// Every (path, status, labels) the receiver got, in arrival order.
fn delivered(receiver: &WebhookReceiver) -> Vec<(String, String, BTreeMap<String, String>, Instant)> {
    let mut out = Vec::new();
    for d in receiver.deliveries() {
        for alert in d.body["alerts"].as_array().into_iter().flatten() {
            out.push((d.path.clone(), alert["status"].as_str().unwrap_or("").to_string(), labels_of(alert), d.at));
        }
    }
    out
}

/// Waits until Alertmanager holds exactly the demo's firing alerts.
fn wait_same_alerts(am: &Alertmanager, demo: &Demo, timeout: Duration) -> Vec<BTreeMap<String, String>> {
    let start = Instant::now();
    loop {
        let want: BTreeSet<BTreeMap<String, String>> = demo.alerts().iter().map(labels_of).collect();
        let have: BTreeSet<BTreeMap<String, String>> = am.alerts().iter().map(labels_of).collect();
        if want == have {
            return want.into_iter().collect();
        }
        if start.elapsed() > timeout {
            let missing: Vec<String> = want.difference(&have).take(10).map(describe).collect();
            let extra: Vec<String> = have.difference(&want).take(10).map(describe).collect();
            panic!(
                "after {timeout:?} Alertmanager holds {} alerts, the demo fires {}; missing (≤10): {missing:#?}; not firing in the demo (≤10): {extra:#?}",
                have.len(),
                want.len()
            );
        }
        thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn alerts_route_to_their_district_city_and_oncall() {
    let dir = scratch("observability-routing");
    let (receiver, am, divisions) = routed_alertmanager(&dir);
    let mut demo = Demo::start(&dir.join("demo"), SEED, DAY_SECONDS, Some(&am.url()));
    let started = Instant::now();
    demo.wait_done(Duration::from_secs(300));
    eprintln!("demo stream done after {:.1} s", started.elapsed().as_secs_f64());
    let firing = wait_same_alerts(&am, &demo, Duration::from_secs(60));
    assert!(!firing.is_empty(), "the demo fires alerts at the end");

    // Alertmanager's view: which are inhibited, by which SupplyBreak.
    let am_alerts = am.alerts();
    let state: BTreeMap<BTreeMap<String, String>, Value> = am_alerts.iter().map(|a| (labels_of(a), a["status"].clone())).collect();
    let fingerprint: BTreeMap<BTreeMap<String, String>, String> =
        am_alerts.iter().map(|a| (labels_of(a), a["fingerprint"].as_str().unwrap_or("").to_string())).collect();
    let get = |l: &BTreeMap<String, String>, k: &str| l.get(k).cloned().unwrap_or_default();
    let supply_breaks: Vec<&BTreeMap<String, String>> = firing.iter().filter(|l| get(l, "alertname") == "SupplyBreak").collect();
    assert!(!supply_breaks.is_empty(), "the demo's planted supply break fires at the end");

    // Inhibition: OrderUndelivered of a SupplyBreak's product and city is suppressed by it.
    let mut inhibited = BTreeSet::new();
    for sb in &supply_breaks {
        let filters = vec![
            "alertname=\"OrderUndelivered\"".to_string(),
            format!("product_code=\"{}\"", get(sb, "product_code")),
            format!("city_code=\"{}\"", get(sb, "city_code")),
        ];
        let targets = am.alerts_filtered(&filters);
        assert!(!targets.is_empty(), "a SupplyBreak comes with the OrderUndelivered alerts of its hospitals: {}", describe(sb));
        for t in targets {
            assert_eq!(t["status"]["state"], "suppressed", "{} under {}: {}", describe(&labels_of(&t)), describe(sb), t["status"]);
            let by: Vec<&str> = t["status"]["inhibitedBy"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            assert!(by.contains(&fingerprint[*sb].as_str()), "{} inhibited by {by:?}, not {}", describe(&labels_of(&t)), fingerprint[*sb]);
            inhibited.insert(labels_of(&t));
        }
    }
    for (labels, status) in &state {
        if get(labels, "alertname") == "OrderUndelivered" && !inhibited.contains(labels) {
            assert_eq!(status["state"], "active", "{} is not under a SupplyBreak", describe(labels));
        }
    }

    // Every active (not inhibited) alert reaches its district and city, and a
    // SupplyBreak on-call; the receivers have settled once that holds.
    let expected = |l: &BTreeMap<String, String>| -> Vec<String> {
        let division = get(l, "division_code");
        let mut paths = vec![format!("/city/{}", get(l, "city_code"))];
        if level_of(&division) == "district" {
            paths.push(format!("/district/{division}"));
        }
        if get(l, "alertname") == "SupplyBreak" {
            paths.push("/oncall".to_string());
        }
        paths
    };
    let active: Vec<&BTreeMap<String, String>> = firing.iter().filter(|l| !inhibited.contains(*l)).collect();
    let deliveries = wait_for(Duration::from_secs(60), "every active alert at its receivers", || {
        let got = delivered(&receiver);
        let reached: BTreeSet<(String, &BTreeMap<String, String>)> =
            got.iter().filter(|(_, s, _, _)| s == "firing").map(|(p, _, l, _)| (p.clone(), l)).collect();
        let all = active.iter().all(|l| expected(l).into_iter().all(|p| reached.contains(&(p, *l))));
        all.then_some(got.clone())
    });

    // Nothing reaches a receiver it is not for.
    let names: BTreeMap<&str, &str> = divisions.iter().map(|(c, n)| (c.as_str(), n.as_str())).collect();
    let (mut district_paths, mut city_paths, mut oncall) = (BTreeSet::new(), BTreeSet::new(), 0);
    for (path, _, labels, _) in &deliveries {
        if let Some(code) = path.strip_prefix("/district/") {
            assert_eq!(get(labels, "division_code"), code, "{} delivered to district {code} ({})", describe(labels), names.get(code).unwrap_or(&"?"));
            district_paths.insert(code.to_string());
        } else if let Some(code) = path.strip_prefix("/city/") {
            assert_eq!(get(labels, "city_code"), code, "{} delivered to city {code}", describe(labels));
            city_paths.insert(code.to_string());
        } else if path == "/oncall" {
            assert_eq!(get(labels, "alertname"), "SupplyBreak", "only supply breaks page on-call here: {}", describe(labels));
            oncall += 1;
        } else {
            panic!("a delivery to an unexpected path {path}: {}", describe(labels));
        }
    }
    // A city receiver gets alerts of every district of its city that has any.
    for city in &city_paths {
        let districts_with_alerts: BTreeSet<String> = active
            .iter()
            .filter(|l| get(l, "city_code") == *city && level_of(&get(l, "division_code")) == "district")
            .map(|l| get(l, "division_code"))
            .collect();
        let at_city: BTreeSet<String> = deliveries
            .iter()
            .filter(|(p, s, _, _)| *p == format!("/city/{city}") && s == "firing")
            .map(|(_, _, l, _)| get(l, "division_code"))
            .collect();
        assert!(districts_with_alerts.is_subset(&at_city), "city {city} misses districts {:?}", districts_with_alerts.difference(&at_city).collect::<Vec<_>>());
    }

    // After a SupplyBreak was delivered, its hospitals' OrderUndelivered
    // alerts no longer reach the districts.
    for sb in &supply_breaks {
        let last_resolved = deliveries.iter().filter(|(p, s, l, _)| p == "/oncall" && s == "resolved" && l == *sb).map(|d| d.3).max();
        let paged = deliveries
            .iter()
            .filter(|(p, s, l, at)| p == "/oncall" && s == "firing" && l == *sb && last_resolved.is_none_or(|r| *at > r))
            .map(|d| d.3)
            .min()
            .expect("the SupplyBreak reached on-call");
        for (path, status, labels, at) in &deliveries {
            if path.starts_with("/district/") && status == "firing" && *at > paged && inhibited.contains(labels) {
                panic!("{} reached {path} after {} was paged", describe(labels), describe(sb));
            }
        }
    }

    let latency_sum = demo.metric("vbp_alertmanager_push_latency_seconds_sum").unwrap_or(f64::NAN);
    let latency_count = demo.metric("vbp_alertmanager_push_latency_seconds_count").unwrap_or(f64::NAN);
    eprintln!(
        "routing: {} alerts firing ({} inhibited under {} supply breaks); {} webhook posts with {} alerts: {} district receivers, {} city receivers, {oncall} on-call; push latency mean {:.1} ms over {latency_count} pushes, failures {}",
        firing.len(),
        inhibited.len(),
        supply_breaks.len(),
        receiver.count(),
        deliveries.len(),
        district_paths.len(),
        city_paths.len(),
        1000.0 * latency_sum / latency_count,
        demo.metric("vbp_alertmanager_push_failures_total").unwrap_or(f64::NAN),
    );
}

// ---------------------------------------------------------------------------
// d. Alertmanager restarted mid-run

#[test]
fn alertmanager_restart_loses_no_alert() {
    let dir = scratch("observability-restart");
    let (receiver, mut am, _) = routed_alertmanager(&dir);
    // Slower days, and an outage pinned to simulated time (25 to 12 days
    // before as_of: supply and payment alerts fire and resolve then), so
    // that it falls inside the stream however fast the machine is.
    let mut demo = Demo::start(&dir.join("demo"), SEED, 0.1, Some(&am.url()));
    let as_of = chrono::DateTime::parse_from_rfc3339(demo.planted()["as_of"].as_str().expect("as_of")).expect("as_of");
    let stop_at = as_of - chrono::Duration::days(25);
    let restart_at = as_of - chrono::Duration::days(12);
    demo.wait_evaluated(stop_at, Duration::from_secs(300));
    let before = am.alerts().len();
    am.stop();
    // The outage starts once Alertmanager is gone: what the stream changes
    // after this evaluation can only have failed to reach it (the demo
    // runs on while it shuts down).
    let stopped = Instant::now();
    let failures_before = demo.metric("vbp_alertmanager_push_failures_total").unwrap_or(0.0);
    let stop_eval = demo.last_evaluation().expect("the demo's last evaluation");
    let notified_before = delivered(&receiver);
    assert!(!notified_before.is_empty(), "notifications before the outage");
    let restart_eval = demo.wait_evaluated(restart_at, Duration::from_secs(300));
    let failures_during = demo.metric("vbp_alertmanager_push_failures_total").unwrap_or(0.0) - failures_before;
    let owed_during = demo.metric("vbp_alertmanager_owed_alerts").unwrap_or(f64::NAN);
    am.restart();
    let outage = stopped.elapsed();
    let restarted = Instant::now();
    demo.wait_done(Duration::from_secs(300));
    let firing = wait_same_alerts(&am, &demo, Duration::from_secs(120));
    let caught_up = restarted.elapsed();

    // What happened in the stream while Alertmanager was away.
    let transitions = vbp_tests::ndjson(&demo.out.join("alerts.ndjson"));
    let in_outage = |t: &Value| {
        chrono::DateTime::parse_from_rfc3339(t["at"].as_str().unwrap_or("")).is_ok_and(|at| at > stop_eval && at <= restart_eval)
    };
    let changed_in_outage: Vec<&Value> = transitions.iter().filter(|t| in_outage(t)).collect();
    if !changed_in_outage.is_empty() {
        assert!(failures_during > 0.0, "{} transitions while Alertmanager was down, yet no failed push", changed_in_outage.len());
    }
    // An alert notified before the outage and resolved during it: its
    // resolution reaches the same receivers after the restart.
    let mut resolved_in_outage = 0;
    for t in changed_in_outage.iter().filter(|t| t["status"] == "resolved") {
        let labels = labels_of(t);
        let receivers: BTreeSet<String> = notified_before
            .iter()
            .filter(|(_, s, l, _)| s == "firing" && *l == labels)
            .map(|(p, _, _, _)| p.clone())
            .collect();
        for path in &receivers {
            wait_for(Duration::from_secs(60), &format!("the resolution of {} at {path}", describe(&labels)), || {
                delivered(&receiver)
                    .iter()
                    .any(|(p, s, l, at)| p == path && s == "resolved" && *l == labels && *at > restarted)
                    .then_some(())
            });
            resolved_in_outage += 1;
        }
    }

    // Resolutions: every alert a receiver last heard of as firing is still
    // firing, or was resolved to that receiver (allowing the 1 s group
    // interval to flush; an OrderUndelivered muted by a SupplyBreak keeps
    // its last state, as Alertmanager's inhibition intends).
    let firing_set: BTreeSet<&BTreeMap<String, String>> = firing.iter().collect();
    let muted = |l: &BTreeMap<String, String>| {
        l.get("alertname").map(String::as_str) == Some("OrderUndelivered")
            && firing.iter().any(|f| {
                f.get("alertname").map(String::as_str) == Some("SupplyBreak")
                    && f.get("product_code") == l.get("product_code")
                    && f.get("city_code") == l.get("city_code")
            })
    };
    let settled = wait_for(Duration::from_secs(60), "resolutions at the receivers", || {
        let mut last: BTreeMap<(String, BTreeMap<String, String>), String> = BTreeMap::new();
        for (path, status, labels, _) in delivered(&receiver) {
            last.insert((path, labels), status);
        }
        let stale: Vec<String> = last
            .iter()
            .filter(|((_, l), s)| *s == "firing" && !firing_set.contains(l) && !muted(l))
            .map(|((p, l), _)| format!("{p}: {}", describe(l)))
            .collect();
        stale.is_empty().then_some(last)
    });
    let resolved_after_restart = delivered(&receiver).iter().filter(|(_, s, _, at)| s == "resolved" && *at > restarted).count();
    assert!(resolved_after_restart > 0, "resolutions reached the receivers after the restart");
    eprintln!(
        "restart: {before} alerts at Alertmanager when stopped at {stop_eval}; down {:.1} s until {restart_eval} ({} transitions meanwhile, {failures_during} failed pushes, vbp-watch owed {owed_during} alerts); after the restart Alertmanager matched the demo's {} firing alerts within {:.1} s; {} receiver×alert pairs settled; {resolved_after_restart} resolutions delivered after the restart, {resolved_in_outage} of them for alerts notified before the outage and resolved during it",
        outage.as_secs_f64(),
        changed_in_outage.len(),
        firing.len(),
        caught_up.as_secs_f64(),
        settled.len()
    );
}

// ---------------------------------------------------------------------------
// e. the built-in page in Chromium

#[test]
fn the_alert_report_and_circular_pages_render_in_chromium_and_the_report_api_filters_by_division() {
    require(CHROMIUM);
    // Without a CJK font Chromium draws 集采 as boxes (the DOM would not tell).
    let fonts = Command::new("fc-list").arg(":lang=zh").output().expect("run fc-list (fontconfig, a dependency of chromium)");
    assert!(
        !String::from_utf8_lossy(&fonts.stdout).trim().is_empty(),
        "no font with Chinese glyphs (fc-list :lang=zh is empty): install the Debian package fonts-noto-cjk"
    );
    let dir = scratch("observability-page");
    let mut demo = Demo::start(&dir.join("demo"), SEED, DAY_SECONDS, None);
    demo.wait_done(Duration::from_secs(300));
    let alerts = demo.alerts();
    assert!(!alerts.is_empty(), "the demo fires alerts at the end");
    let profile = dir.join("chromium-profile");
    let target = workspace().join("target");

    // The console: every alert is shown once — a supply break as an
    // incident, the undelivered orders it stands for nested under it,
    // every other alert a row — with links, filters and three charts.
    let dom = rendered(&profile, &format!("http://{}/", demo.addr), &target.join("console-page.png"), 2200);
    std::fs::write(dir.join("page.html"), &dom).expect("save the DOM");
    let breaks: Vec<&Value> = alerts.iter().filter(|a| a["alertname"] == "SupplyBreak").collect();
    let nested = |a: &Value| {
        a["alertname"] == "OrderUndelivered"
            && breaks.iter().any(|b| b["labels"]["city_code"] == a["labels"]["city_code"] && b["labels"]["product_code"] == a["labels"]["product_code"])
    };
    let listed: Vec<&Value> = alerts.iter().filter(|a| a["alertname"] != "SupplyBreak" && !nested(a)).collect();
    assert_eq!(dom.matches("<tr class=\"alert\"").count(), listed.len(), "one row per alert not under an incident");
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for alert in &listed {
        *want.entry(labels_of(alert).get("division_code").cloned().unwrap_or_default()).or_default() += 1;
    }
    let mut have: BTreeMap<String, usize> = BTreeMap::new();
    for row in dom.split("<tr class=\"alert\"").skip(1) {
        let code = row.split("data-division=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("").to_string();
        *have.entry(code).or_default() += 1;
    }
    assert_eq!(have, want, "alerts per district");
    assert_eq!(dom.matches("<div class=\"incident\"").count(), breaks.len(), "one entry per supply-break incident");
    let under = alerts.iter().filter(|a| nested(a)).count();
    assert!(under == 0 || dom.contains(&format!("并入此事件的超时未配送预警 {under} 条")), "the suppressed alerts are nested under their incident");
    assert!(dom.matches("<svg").count() >= 3, "charts by district, by rule and the 30-day trend");
    for word in ["严重", "评估时刻", "预警类型", "近 30 天每日触发中的预警", "疑似断供事件"] {
        assert!(dom.contains(word), "the console says {word}");
    }
    assert!(!dom.contains(">critical<") && !dom.contains(">warning<"), "severities in Chinese");

    // Every alert's page and each incident's: the evidence behind it.
    for alert in &alerts {
        let fp = vbp_detectors::alert::fingerprint_of(&labels_of(alert));
        let path = if alert["alertname"] == "SupplyBreak" { format!("/incidents/{fp}") } else { format!("/alerts/{fp}") };
        let (status, body) = http(&demo.addr, "GET", &path, None).expect("GET an alert's page");
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("证据") || body.contains("受影响的医疗机构"), "{path} shows its evidence");
    }
    for b in &breaks {
        let fp = vbp_detectors::alert::fingerprint_of(&labels_of(b));
        let dom = rendered(&profile, &format!("http://{}/incidents/{fp}", demo.addr), &target.join("incident-page.png"), 2400);
        std::fs::write(dir.join("incident.html"), &dom).expect("save the DOM");
        for element in ["企业联系人", "超时工作日", "配送企业", "同城仍正常到货的医疗机构", "关于该产品的投诉", "事件进展（逐日）", "开始时间", "并入此事件的超时未配送预警"] {
            assert!(dom.contains(element), "the incident page shows {element}");
        }
        let institutions = b["annotations"]["institutions"].as_str().unwrap_or_default().split(',').count();
        assert_eq!(dom.matches("个订单行未送达").count(), institutions, "a table of open lines per affected hospital");
        assert!(dom.contains("确认需要省级令牌"), "without a token (demo) no acknowledgement is offered");
    }
    let dom = rendered(&profile, &format!("http://{}/history", demo.addr), &target.join("history-page.png"), 1400);
    assert!(dom.matches("<tr class=\"history\"").count() >= alerts.len(), "the history holds at least what fires now");

    // /api/report: a district's rows are its own; a city's are all of its districts'.
    let all = get_json(&demo.addr, "/api/report").expect("GET /api/report");
    let all = all.as_array().expect("an array of rows").clone();
    assert!(!all.is_empty(), "the report has rows");
    for key in vbp_detectors::report::KEYS {
        assert!(all[0].get(key).is_some(), "row has key {key}: {}", all[0]);
    }
    let districts: BTreeSet<String> = all.iter().map(|r| r["division_code"].as_str().unwrap_or("").to_string()).collect();
    for district in &districts {
        let mine = get_json(&demo.addr, &format!("/api/report?division_code={district}")).expect("district rows");
        let expected: Vec<&Value> = all.iter().filter(|r| r["division_code"] == district.as_str()).collect();
        assert_eq!(mine.as_array().map(|a| a.iter().collect::<Vec<_>>()), Some(expected), "{district}");
    }
    let cities: BTreeSet<String> = districts.iter().map(|d| city_of(d)).collect();
    for city in &cities {
        let mine = get_json(&demo.addr, &format!("/api/report?city_code={city}")).expect("city rows");
        let expected = all.iter().filter(|r| r["city_code"] == city.as_str()).count();
        assert_eq!(mine.as_array().map(Vec::len), Some(expected), "{city}");
    }
    let (status, _) = http(&demo.addr, "GET", "/api/report?division_code=999999", None).expect("GET");
    assert_eq!(status, 404, "an unknown division is refused");

    // The report page, one district's: every row of /api/report for it.
    let district = districts.iter().next().expect("a district");
    let url = format!("http://{}/report?division_code={district}", demo.addr);
    let dom = rendered(&profile, &url, &target.join("report-page.png"), 1100);
    let mine = get_json(&demo.addr, &format!("/api/report?division_code={district}")).expect("rows");
    let rows = dom.split("<table id=\"report\"").nth(1).expect("the report table").matches("<tr>").count() - 1;
    assert_eq!(rows, mine.as_array().map(Vec::len).unwrap_or(0), "one table row per report row");
    for header in vbp_detectors::report::HEADERS {
        assert!(dom.contains(header), "header {header}");
    }
    assert!(dom.contains("下载 Excel") && dom.contains("零采购产品数 · "), "downloads and totals");
    let (status, xlsx) = http(&demo.addr, "GET", &format!("/report.xlsx?division_code={district}"), None).expect("GET xlsx");
    assert!(status == 200 && xlsx.starts_with(b"PK"), "the .xlsx download is a zip ({status})");
    let (status, csv) = http(&demo.addr, "GET", "/report.csv", None).expect("GET csv");
    assert!(status == 200 && csv.starts_with(b"\xEF\xBB\xBF"), "the CSV download starts with a BOM");

    // The circular of the quarter so far: every section present and filled.
    let dom = rendered(&profile, &format!("http://{}/circular", demo.addr), &target.join("circular-page.png"), 4000);
    std::fs::write(dir.join("circular.html"), &dom).expect("save the DOM");
    for heading in ["总体情况", "采购进度滞后的医疗机构", "配送率低的企业", "非中选产品采购量占比高", "可替代产品采购量异常增长", "货款逾期未结清", "本季度预警"] {
        assert!(dom.contains(heading), "the circular has a section {heading}");
    }
    assert!(dom.matches("<svg").count() >= 3, "charts drawn as SVG");
    assert!(dom.matches("<table class=\"ranking\"").count() >= 3, "rankings with institutions");
    assert!(dom.contains("执行情况</h2>"), "city sections follow the province");
    eprintln!("pages: {} alert rows; report and circular screenshots in {}", alerts.len(), target.display());
}
