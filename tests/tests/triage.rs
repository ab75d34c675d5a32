//! On-call triage (issue 15, SPEC §12) against a real broker, a real
//! Alertmanager and the `vbp-watch run` binary:
//!
//! - an incident nobody acknowledges is escalated to the duty officer;
//! - acknowledging it (the page's form, filled in headless Chromium)
//!   creates a silence `amtool silence query` lists with the person and
//!   comment, on-call is paged no more while it holds, and the escalation
//!   ends; a request without the provincial token cannot acknowledge;
//! - after `kill -9` and a restart the acknowledgement and the history are
//!   intact; when the break resolves the silence is expired;
//! - every district's and city's token sees exactly its own alerts,
//!   incidents, history rows and report rows, and 403 for the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vbp_tests::broker::Broker;
use vbp_tests::live::{LiveOptions, LivePipeline};
use vbp_tests::observability::{generate_alertmanager, http_with, read_divisions, require, run_tool, Alertmanager, WebhookReceiver, ALERTMANAGER, AMTOOL};
use vbp_tests::*;

const PROVINCE_TOKEN: &str = "province-token-0123456789abcdef";

fn bureau_token(code: &str) -> String {
    format!("bureau-{code}-token-0123456789")
}

/// A simulated province whose replay fires a supply break.
struct Province {
    sim: PathBuf,
    as_of: String,
    firing: Vec<Value>,
}

fn province(dir: &Path, seed: u64) -> Province {
    let sim = dir.join("sim");
    let as_of = simulate_small_as_of(&sim, seed);
    std::fs::create_dir_all(dir.join("replay")).expect("dir");
    let (firing, _) = replay_as_of(&sim.join("reference"), &event_files(&sim), &as_of, &dir.join("replay"));
    assert!(firing.iter().any(|a| a["alertname"] == "SupplyBreak"), "seed {seed} plants a supply break");
    Province { sim, as_of, firing }
}

/// The `[access]` table: the provincial token and one per district and city.
fn access_config(dir: &Path, divisions: &[(String, String)]) -> String {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).expect("tokens dir");
    std::fs::write(tokens.join("province"), PROVINCE_TOKEN).expect("token");
    let mut text = format!("\n[access]\ntoken_file = {:?}\n", tokens.join("province").display().to_string());
    for (code, _) in divisions.iter().filter(|(c, _)| !c.ends_with("0000")) {
        let file = tokens.join(code);
        std::fs::write(&file, bureau_token(code)).expect("token");
        text.push_str(&format!("[[access.bureaus]]\ndivision_code = \"{code}\"\ntoken_file = {:?}\n", file.display().to_string()));
    }
    text
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// GET as `token`: (status, body).
fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let auth = token.map(bearer);
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let (status, body, _) = http_with(addr, "GET", path, &headers, None).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    (status, body)
}

fn get_json(addr: &str, path: &str, token: &str) -> Value {
    let (status, body) = get(addr, path, Some(token));
    assert_eq!(status, 200, "GET {path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("GET {path} is not JSON: {e}"))
}

fn fingerprint(alert: &Value) -> String {
    let labels: BTreeMap<String, String> = serde_json::from_value(alert["labels"].clone()).expect("labels");
    vbp_detectors::alert::fingerprint_of(&labels)
}

fn wait<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(started.elapsed() < limit, "{what} did not happen within {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Notifications of `alertname` (firing) a receiver got at `path`.
fn notifications(receiver: &WebhookReceiver, path: &str, alertname: &str) -> usize {
    receiver
        .deliveries()
        .iter()
        .filter(|d| d.path == path)
        .flat_map(|d| d.body["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["labels"]["alertname"] == alertname && a["status"] == "firing")
        .count()
}

/// `amtool silence query` on `am` (active, or `--expired`), as JSON.
fn silences(am: &Alertmanager, expired: bool) -> Vec<Value> {
    let url = format!("--alertmanager.url={}", am.url());
    let mut args = vec!["silence", "query", url.as_str(), "-o", "json"];
    if expired {
        args.push("--expired");
    }
    let out = run_tool(AMTOOL, &args, &workspace());
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn start(dir: &Path, p: &Province, broker: &Broker, am: Option<&Alertmanager>, extra: &str, port: u16) -> (PathBuf, LivePipeline) {
    let options = LiveOptions {
        reference: p.sim.join("reference"),
        state_dir: dir.join("state"),
        bootstrap: broker.bootstrap(),
        group_id: "triage".into(),
        evaluate_at: p.as_of.clone(),
        transitions_file: dir.join("transitions.ndjson"),
        topic_prefix: "vbp.".into(),
        extra: format!(
            "assignment = \"all\"\n{}{extra}",
            am.map(|am| format!("[alertmanager]\nurl = \"{}\"\nresend_seconds = 2\n", am.url())).unwrap_or_default()
        ),
    };
    let config = options.write(dir, port);
    let mut live = LivePipeline::start(&config, port, &dir.join("live.log"));
    live.wait_caught_up(Duration::from_secs(240));
    (config, live)
}

#[test]
fn an_incident_escalates_is_acknowledged_on_its_page_survives_kill_9_and_its_silence_ends_when_it_resolves() {
    require(ALERTMANAGER);
    require(AMTOOL);
    let dir = scratch("triage-ack");
    let p = province(&dir, 1);
    let divisions = read_divisions(&p.sim.join("reference").join("divisions.csv"));
    let receiver = WebhookReceiver::start();
    let yaml = generate_alertmanager(
        &p.sim.join("reference").join("divisions.csv"),
        &receiver.base_url(),
        &["--group-wait", "1s", "--group-interval", "1s", "--repeat-interval", "1h", "--oncall-repeat-interval", "3s"],
    );
    let am = Alertmanager::start(&dir, &yaml);
    let broker = Broker::start("triage-ack");
    broker.create_topics(2, &["vbp.orders", "vbp.deliveries", "vbp.payments", "vbp.complaints", "vbp.dead-letter", "vbp.facts"]);
    broker.produce_files(&event_files(&p.sim).into_iter().map(PathBuf::from).collect::<Vec<_>>());
    let port = free_port();
    let extra = format!("{}\n[triage]\nescalate_after_minutes = 1\n", access_config(&dir, &divisions));
    let (config, mut live) = start(&dir, &p, &broker, Some(&am), &extra, port);
    let addr = live.addr.clone();
    let alerts = get_json(&addr, "/api/alerts", PROVINCE_TOKEN);
    let incident = alerts.as_array().expect("alerts").iter().find(|a| a["alertname"] == "SupplyBreak").expect("a supply break fires").clone();
    let fp = fingerprint(&incident);
    let city = incident["labels"]["city_code"].as_str().expect("city").to_string();
    let product = incident["labels"]["product_code"].as_str().expect("product").to_string();

    // On-call is paged, and re-paged, while nobody acknowledges.
    wait(Duration::from_secs(60), "on-call paged twice for the break", || (notifications(&receiver, "/oncall", "SupplyBreak") >= 2).then_some(()));
    // Nobody acknowledges for a minute: the duty officer gets it.
    wait(Duration::from_secs(120), "the escalation reaching the duty officer", || {
        (receiver.deliveries().iter().any(|d| d.path == "/duty" && d.body["alerts"].to_string().contains("\"escalated\":\"true\""))).then_some(())
    });

    // Without the provincial token nothing is acknowledged.
    let form = "person=%E5%BC%A0%E4%B8%89&comment=%E5%B7%B2%E8%81%94%E7%B3%BB%E4%BC%81%E4%B8%9A&hours=24";
    let ack_path = format!("/incidents/{fp}/acknowledge");
    let post = |headers: &[(&str, &str)]| {
        http_with(&addr, "POST", &ack_path, headers, Some(("application/x-www-form-urlencoded", form.as_bytes()))).expect("POST")
    };
    assert_eq!(post(&[]).0, 401, "no token");
    let city_bearer = bearer(&bureau_token(&city));
    assert_eq!(post(&[("Authorization", city_bearer.as_str())]).0, 401, "a bureau's token does not acknowledge");
    assert!(silences(&am, false).is_empty(), "nothing silenced by a refused request");

    // /login gives a browser its token as a cookie no script can read.
    let login = format!("token={PROVINCE_TOKEN}");
    let login_from = |site: &str| {
        http_with(&addr, "POST", "/login", &[("Sec-Fetch-Site", site)], Some(("application/x-www-form-urlencoded", login.as_bytes()))).expect("POST /login")
    };
    assert_eq!(login_from("cross-site").0, 403, "another site cannot log a browser in");
    let (status, _, head) = login_from("same-origin");
    assert_eq!(status, 303, "{head}");
    let cookie = head.lines().find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: "))).expect("a cookie").to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    // A person in Chromium: log in, open the incident, fill the form, submit.
    let shot = workspace().join("target").join("incident-acknowledged.png");
    let out = std::process::Command::new("node")
        .arg(workspace().join("tests/harness/browser.js"))
        .args(["acknowledge", &format!("http://{addr}"), PROVINCE_TOKEN, &format!("/incidents/{fp}"), "张三", "已联系企业", &shot.display().to_string()])
        .output()
        .expect("run node tests/harness/browser.js (ensure-tools.sh installs playwright-core)");
    assert!(out.status.success(), "the browser could not acknowledge: {}", String::from_utf8_lossy(&out.stderr));
    let said: Value = serde_json::from_slice(&out.stdout).expect("browser.js prints JSON");
    let said = said["acknowledged"].as_str().unwrap_or_default().to_string();
    assert!(said.contains("已由 张三") && said.contains("已联系企业"), "the page says who acknowledged it: {said}");

    // Alertmanager holds the silence, with the person and the comment.
    let active = silences(&am, false);
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!((active[0]["createdBy"].as_str(), active[0]["comment"].as_str()), (Some("张三"), Some("已联系企业")));
    let matchers: BTreeMap<String, String> =
        active[0]["matchers"].as_array().expect("matchers").iter().map(|m| (m["name"].as_str().unwrap_or("").into(), m["value"].as_str().unwrap_or("").into())).collect();
    assert_eq!(matchers, BTreeMap::from([("alertname".into(), "SupplyBreak".into()), ("city_code".into(), city.clone()), ("product_code".into(), product.clone())]));
    // While it holds, on-call is paged no more (its repeat interval is 3 s).
    std::thread::sleep(Duration::from_secs(4));
    let paged = notifications(&receiver, "/oncall", "SupplyBreak");
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(notifications(&receiver, "/oncall", "SupplyBreak"), paged, "no repeat notification while silenced");
    // And the escalation is over: its copy resolved in Alertmanager.
    wait(Duration::from_secs(30), "the escalation resolved", || am.alerts_filtered(&["escalated=\"true\"".to_string()]).is_empty().then_some(()));

    // kill -9 and a restart keep the acknowledgement and the history.
    let history_before = get_json(&addr, "/api/history", PROVINCE_TOKEN);
    live.kill9();
    let mut live = LivePipeline::start(&config, port, &dir.join("live.log"));
    live.wait_caught_up(Duration::from_secs(240));
    let restored = get_json(&addr, &format!("/api/alerts/{fp}"), PROVINCE_TOKEN);
    assert_eq!(restored["incident"]["ack"]["by"], "张三", "{restored}");
    assert_eq!(get_json(&addr, "/api/history", PROVINCE_TOKEN), history_before, "the history is intact");
    assert!(!restored["incident"]["timeline"]["days"].as_object().expect("days").is_empty(), "the timeline is intact");

    // The break resolves (its lines delivered): the silence is expired.
    let mut delivered = 0;
    for table in restored["evidence"]["tables"].as_array().expect("tables").iter().filter(|t| t["headers"][0] == "订单号") {
        for row in table["rows"].as_array().expect("rows") {
            let (order, outstanding) = (row[0].as_str().expect("order id"), row[6].as_str().expect("outstanding"));
            let at = chrono::DateTime::parse_from_rfc3339(&p.as_of).expect("as_of") - chrono::Duration::minutes(1);
            let event = json!({
                "event_id": format!("fix-{order}"), "type": "delivery.received", "occurred_at": at.to_rfc3339(),
                "delivery_id": format!("FIX-{order}"), "order_id": order, "quantity_packs": outstanding, "distributor": "应急配送",
            });
            let institution = order.split('-').nth(1).expect("PO-<institution>-n");
            broker.produce_raw("vbp.deliveries", institution, event.to_string().as_bytes());
            delivered += 1;
        }
    }
    assert!(delivered >= 3, "the incident's overdue lines were listed");
    wait(Duration::from_secs(90), "the break resolving", || {
        let alerts = get_json(&addr, "/api/alerts", PROVINCE_TOKEN);
        (!alerts.as_array().expect("alerts").iter().any(|a| fingerprint(a) == fp)).then_some(())
    });
    wait(Duration::from_secs(60), "the silence expired", || silences(&am, false).is_empty().then_some(()));
    assert!(silences(&am, true).iter().any(|s| s["createdBy"] == "张三"), "expired, not deleted");
    assert_eq!(get(&addr, &format!("/api/alerts/{fp}"), Some(PROVINCE_TOKEN)).0, 404, "resolved");
    let history = get_json(&addr, "/api/history?alertname=SupplyBreak", PROVINCE_TOKEN);
    assert!(history.as_array().expect("rows").iter().any(|r| !r["last_resolved"].is_null()), "the history shows the break resolved");
    assert!(live.log_text().contains("acknowledged by 张三"), "{}", live.log_text());
    live.terminate();
}

#[test]
fn every_district_and_city_token_sees_its_own_division_only() {
    let dir = scratch("triage-access");
    let p = province(&dir, 1);
    let divisions = read_divisions(&p.sim.join("reference").join("divisions.csv"));
    let broker = Broker::start("triage-access");
    broker.create_topics(2, &["vbp.orders", "vbp.deliveries", "vbp.payments", "vbp.complaints", "vbp.dead-letter", "vbp.facts"]);
    broker.produce_files(&event_files(&p.sim).into_iter().map(PathBuf::from).collect::<Vec<_>>());
    let port = free_port();
    let extra = access_config(&dir, &divisions);
    let (_, live) = start(&dir, &p, &broker, None, &extra, port);
    let addr = live.addr.clone();

    // Without a token: nothing but the probes and the metrics.
    for path in ["/", "/api/alerts", "/api/report", "/api/history", "/history", "/report", "/circular"] {
        assert_eq!(get(&addr, path, None).0, 401, "{path} without a token");
    }
    for path in ["/healthz", "/readyz"] {
        assert!(matches!(get(&addr, path, None).0, 200 | 503), "{path} stays open to probes");
    }
    // /metrics holds every division's series: the provincial token reads it, a bureau's does not.
    assert_eq!(get(&addr, "/metrics", None).0, 401);
    assert_eq!(get(&addr, "/metrics", Some(PROVINCE_TOKEN)).0, 200);
    let all = get_json(&addr, "/api/alerts", PROVINCE_TOKEN).as_array().cloned().expect("alerts");
    assert_eq!(all.len(), p.firing.len(), "the provincial token sees everything replay fires");
    let report = get_json(&addr, "/api/report", PROVINCE_TOKEN).as_array().cloned().expect("rows");
    let history = get_json(&addr, "/api/history", PROVINCE_TOKEN).as_array().cloned().expect("rows");
    let label = |v: &Value, l: &str| v["labels"][l].as_str().unwrap_or("").to_string();
    let mut checked = 0;
    for (code, _) in divisions.iter().filter(|(c, _)| !c.ends_with("0000")) {
        let token = bureau_token(code);
        let is_city = code.ends_with("00");
        let mine = |division: &str, city: &str| if is_city { city == code } else { division == code };
        let alerts = get_json(&addr, "/api/alerts", &token).as_array().cloned().expect("alerts");
        let want: BTreeSet<String> = all.iter().filter(|a| mine(&label(a, "division_code"), &label(a, "city_code"))).map(fingerprint).collect();
        assert_eq!(alerts.iter().map(fingerprint).collect::<BTreeSet<_>>(), want, "alerts of {code}");
        let rows = get_json(&addr, "/api/report", &token).as_array().cloned().expect("rows");
        let want_rows = report.iter().filter(|r| mine(r["division_code"].as_str().unwrap_or(""), r["city_code"].as_str().unwrap_or(""))).count();
        assert_eq!(rows.len(), want_rows, "report rows of {code}");
        assert!(rows.iter().all(|r| mine(r["division_code"].as_str().unwrap_or(""), r["city_code"].as_str().unwrap_or(""))));
        let seen = get_json(&addr, "/api/history", &token).as_array().cloned().expect("rows");
        let want_history = history.iter().filter(|r| mine(&label(r, "division_code"), &label(r, "city_code"))).count();
        assert_eq!(seen.len(), want_history, "history rows of {code}");
        for a in &all {
            let fp = fingerprint(a);
            let expected = if want.contains(&fp) { 200 } else { 403 };
            assert_eq!(get(&addr, &format!("/api/alerts/{fp}"), Some(&token)).0, expected, "{code} asking for {fp}");
            if expected == 403 {
                assert_eq!(get(&addr, &format!("/alerts/{fp}"), Some(&token)).0, 403);
            }
            checked += 1;
        }
        let other = divisions.iter().map(|(c, _)| c).find(|c| !c.ends_with("0000") && !mine(c, &format!("{}00", &c[..4]))).expect("another division");
        assert_eq!(get(&addr, &format!("/api/report?division_code={other}"), Some(&token)).0, 403, "{code} asking for {other}'s report");
        assert_eq!(get(&addr, &format!("/api/history?division_code={other}"), Some(&token)).0, 403, "{code} asking for {other}'s history");
        assert_eq!(get(&addr, "/circular", Some(&token)).0, 403, "the circular is the province's");
        assert_eq!(get(&addr, "/metrics", Some(&token)).0, 403, "every division's series are not a bureau's");
    }
    let bureaus = divisions.iter().filter(|(c, _)| !c.ends_with("0000")).count();
    eprintln!("access matrix: {bureaus} bureau tokens × {} alerts = {checked} alert checks, plus alerts, report and history lists", all.len());
    assert!(bureaus > 50 && checked >= bureaus * all.len());
}
