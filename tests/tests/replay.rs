//! End-to-end: the real `vbp-watch` binary on a simulated province.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use vbp_tests::*;

fn planted(sim: &Path) -> Value {
    let text = std::fs::read_to_string(sim.join("planted.json")).expect("simulate writes planted.json");
    serde_json::from_str(&text).expect("planted.json is JSON")
}

fn expected_keys(planted: &Value) -> BTreeSet<String> {
    planted["expected_firing"]
        .as_array()
        .expect("expected_firing is an array")
        .iter()
        .map(|e| {
            let name = e["alertname"].as_str().unwrap_or("");
            let key: Vec<String> =
                key_labels(name).iter().map(|l| format!("{l}={}", e["key"][*l].as_str().unwrap_or(""))).collect();
            format!("{name} {}", key.join(","))
        })
        .collect()
}

fn firing_keys(firing: &[Value]) -> BTreeSet<String> {
    firing.iter().map(|a| alert_key(a, key_labels(a["alertname"].as_str().unwrap_or("")))).collect()
}

#[test]
fn replay_finds_every_planted_behaviour_and_nothing_else() {
    let dir = scratch("planted");
    let sim = dir.join("sim");
    simulate_small(&sim, 11);
    let planted = planted(&sim);
    let as_of = planted["as_of"].as_str().expect("planted.json has as_of");
    let (firing, dead) = replay_as_of(&sim.join("reference"), &event_files(&sim), as_of, &dir);

    let expected = expected_keys(&planted);
    let found = firing_keys(&firing);
    let missing: Vec<_> = expected.difference(&found).collect();
    let unplanned: Vec<_> = found.difference(&expected).collect();
    assert!(missing.is_empty() && unplanned.is_empty(), "missing {missing:#?}\nunplanned {unplanned:#?}");

    // Severities where the simulator fixed them.
    for e in planted["expected_firing"].as_array().into_iter().flatten() {
        let Some(severity) = e["severity"].as_str() else { continue };
        let name = e["alertname"].as_str().unwrap_or("");
        let key = {
            let k: Vec<String> = key_labels(name).iter().map(|l| format!("{l}={}", e["key"][*l].as_str().unwrap_or(""))).collect();
            format!("{name} {}", k.join(","))
        };
        let alert = firing.iter().find(|a| alert_key(a, key_labels(name)) == key).expect("found above");
        assert_eq!(alert["severity"], severity, "{key}: {}", e["behaviour"]);
    }
    for name in ["SelectedProductNotEntered", "ProcurementBehindSchedule", "NonSelectedShareHigh", "OrderUndelivered", "SupplyBreak", "PaymentOverdue", "ComplaintOverdue"] {
        assert!(firing.iter().any(|a| a["alertname"] == name), "no {name} fired");
    }
    // The mess was rejected with the planted reasons, one dead letter each, never dropped.
    let mut reasons = std::collections::BTreeMap::<String, u64>::new();
    for d in &dead {
        *reasons.entry(d["reason"].as_str().unwrap_or("?").to_string()).or_default() += 1;
    }
    let expected: std::collections::BTreeMap<String, u64> = planted["expected_dead_letter"]
        .as_object()
        .expect("planted.json has expected_dead_letter")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(reasons, expected);
    for reason in ["malformed_json", "unknown_type", "missing_field", "bad_value", "too_large", "unknown_institution", "unknown_product", "orphan"] {
        assert!(reasons.contains_key(reason), "no {reason} in the dead letters: {reasons:?}");
    }
    assert!(dead.iter().all(|d| d["raw"].is_string() || d["raw_base64"].is_string()), "a dead letter lost its bytes");
}

/// Every non-empty line of the simulated event files, as bytes: the
/// simulator writes some that are not UTF-8 on purpose.
fn event_lines(sim: &Path) -> Vec<Vec<u8>> {
    event_files(sim)
        .iter()
        .flat_map(|f| std::fs::read(f).expect("event file").split(|b| *b == b'\n').map(<[u8]>::to_vec).collect::<Vec<_>>())
        .filter(|l| !l.is_empty())
        .collect()
}

/// A deterministic shuffle (SplitMix64), so a failure can be reproduced.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        items.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

#[test]
fn shuffled_events_give_identical_firing_sets() {
    let dir = scratch("shuffled");
    let sim = dir.join("sim");
    simulate_small(&sim, 5);
    let mut lines = event_lines(&sim);
    shuffle(&mut lines, 42);
    // Deal the shuffled lines into three files of different sizes.
    let shuffled: Vec<String> = (0..3).map(|i| dir.join(format!("shuffled-{i}.ndjson")).display().to_string()).collect();
    let mut parts = vec![Vec::new(), Vec::new(), Vec::new()];
    for (i, line) in lines.iter().enumerate() {
        parts[(i * 7 / 3) % 3].extend_from_slice(line);
        parts[(i * 7 / 3) % 3].push(b'\n');
    }
    for (path, text) in shuffled.iter().zip(&parts) {
        std::fs::write(path, text).expect("write shuffled file");
    }
    let planted = planted(&sim);
    let end = planted["as_of"].as_str().expect("as_of");
    let start = planted["window_start"].as_str().expect("window_start");
    let start_day = chrono::DateTime::parse_from_rfc3339(start).expect("window_start is RFC 3339");
    // Two instants, each two replays of the province: the end, and
    // mid-period while many lines are still open.
    let instants = [end.to_string(), (start_day + chrono::Duration::days(35) + chrono::Duration::hours(13)).to_rfc3339()];
    for as_of in &instants {
        let a = dir.join("ordered");
        let b = dir.join("shuffled");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let (fa, da) = replay_as_of(&sim.join("reference"), &event_files(&sim), as_of, &a);
        let (fb, db) = replay_as_of(&sim.join("reference"), &shuffled, as_of, &b);
        assert!(!fa.is_empty(), "nothing fires at {as_of}: the comparison would prove nothing");
        assert_eq!(fa, fb, "firing sets differ at {as_of}");
        let reasons = |d: &[Value]| {
            let mut r: Vec<String> = d.iter().map(|x| x["reason"].as_str().unwrap_or("").to_string()).collect();
            r.sort();
            r
        };
        assert_eq!(reasons(&da), reasons(&db), "rejections differ at {as_of}");
    }
}

#[test]
fn bad_reference_data_exits_non_zero_with_a_one_line_reason() {
    let dir = scratch("badref");
    let sim = dir.join("sim");
    simulate_small(&sim, 3);
    let products = sim.join("reference").join("products.csv");
    let text = std::fs::read_to_string(&products).unwrap();
    let broken = text.replacen(",drug,", ",medicine,", 1);
    std::fs::write(&products, broken).unwrap();
    let out = run(&["replay", "--reference", &sim.join("reference").display().to_string(), "--events", &event_files(&sim)[0]]);
    assert_eq!(out.status.code(), Some(1), "a runtime failure exits 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or("");
    assert!(first.contains("products.csv:") && first.contains("category"), "first line: {first}");
    // `check` finds the same without replaying anything, and a usage error exits 2.
    let out = run(&["check", "--reference", &sim.join("reference").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("products.csv:"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(run(&["replay", "--no-such-flag"]).status.code(), Some(2));

    std::fs::write(&products, text).unwrap();
    let out = run_ok(&["check", "--reference", &sim.join("reference").display().to_string()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(": ok (") && said.contains(" institutions, "), "{said}");
    let config = dir.join("vbp-watch.toml");
    std::fs::write(&config, format!("reference = {:?}\n[kafka]\nbootstrap_servers = \"127.0.0.1:9092\"\n", sim.join("reference").display().to_string())).unwrap();
    let out = run_ok(&["check", "--config", &config.display().to_string()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("brokers 127.0.0.1:9092") && said.matches(": ok (").count() == 2, "{said}");
    std::fs::write(&config, "tick = 0\n").unwrap();
    let out = run(&["check", "--config", &config.display().to_string()]);
    assert!(out.status.code() == Some(1) && String::from_utf8_lossy(&out.stderr).contains("tick"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["replay", "--reference", &sim.join("reference").display().to_string(), "--events", "/nonexistent.ndjson"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().next().unwrap_or("").contains("/nonexistent.ndjson"), "{stderr}");
}

#[test]
fn sql_queries_the_state_tables_as_of_t() {
    let dir = scratch("sql");
    let sim = dir.join("sim");
    simulate_small(&sim, 2);
    let reference = sim.join("reference").display().to_string();
    let files = event_files(&sim);
    // The query comes first: --events takes every value after it.
    let sql = |query: &'static str| {
        let mut args = vec!["sql", query, "--format", "csv", "--reference", &reference, "--as-of", "2026-02-01T00:00:00+08:00", "--events"];
        args.extend(files.iter().map(String::as_str));
        run(&args)
    };
    let out = sql("SELECT COUNT(*) AS agreements, SUM(CASE WHEN purchased_base_units > 0 THEN 1 ELSE 0 END) AS buying FROM agreement_progress");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("agreements,buying"));
    let row: Vec<u64> = lines.next().expect("one row").split(',').map(|v| v.parse().expect("a count")).collect();
    let agreements_csv = std::fs::read_to_string(sim.join("reference").join("agreements.csv")).unwrap();
    assert_eq!(row[0], agreements_csv.lines().count() as u64 - 1, "one row per agreement");
    assert!(row[1] > 0 && row[1] < row[0], "some but not all agreements bought by February: {row:?}");

    // Open order lines as of T never include a line placed after T.
    let out = sql("SELECT COUNT(*) AS late FROM open_order_lines WHERE placed_at > TIMESTAMP '2026-02-01T00:00:00+08:00'");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().nth(1), Some("0"), "{}", String::from_utf8_lossy(&out.stderr));

    // The report's rows: every agreement in force in exactly one outcome.
    let out = sql("SELECT SUM(agreements) AS a, SUM(zero + behind + over + normal) AS b, COUNT(*) AS n FROM report_rows");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let row: Vec<u64> = text.lines().nth(1).expect("one row").split(',').map(|v| v.parse().expect("a count")).collect();
    assert!(row[0] > 0 && row[0] == row[1] && row[2] > 0, "report_rows: {text}");
    // The circular's rankings of the province: at most 10 lines each.
    let out = sql("SELECT ranking, MAX(rank) AS n FROM circular_rankings WHERE scope_code LIKE '%0000' GROUP BY ranking ORDER BY ranking");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rankings: Vec<(String, u64)> =
        text.lines().skip(1).map(|l| l.split_once(',').map(|(r, n)| (r.to_string(), n.parse().unwrap())).unwrap()).collect();
    assert!(rankings.iter().any(|(r, _)| r == "delivery") && rankings.iter().all(|(_, n)| (1..=10).contains(n)), "{text}");

    let out = sql("SELECT no_such_column FROM agreement_progress");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_column"));
}

/// Replays `events` with `--threads N` and returns the bytes of the
/// transition, firing and dead-letter files.
fn replay_files(reference: &Path, events: &[String], as_of: &str, threads: usize, out: &Path) -> [Vec<u8>; 3] {
    replay_with(reference, events, as_of, threads, true, out).0
}

/// [`replay_files`], with or without `--alerts-out` (its bytes are then
/// empty), and what the run printed.
fn replay_with(
    reference: &Path,
    events: &[String],
    as_of: &str,
    threads: usize,
    alerts_out: bool,
    out: &Path,
) -> ([Vec<u8>; 3], String) {
    std::fs::create_dir_all(out).unwrap();
    let files = ["alerts.ndjson", "firing.ndjson", "dead-letter.ndjson"].map(|f| out.join(f));
    let mut args = vec!["replay".to_string(), "--reference".into(), reference.display().to_string(), "--events".into()];
    args.extend(events.iter().cloned());
    args.extend(["--as-of".into(), as_of.into(), "--threads".into(), threads.to_string()]);
    for (flag, file) in ["--alerts-out", "--firing-out", "--dead-letter"].iter().zip(&files).skip(usize::from(!alerts_out)) {
        args.extend([flag.to_string(), file.display().to_string()]);
    }
    let output = run_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (files.map(|f| std::fs::read(f).unwrap_or_default()), printed)
}

/// The number of evaluations a replay's summary reports.
fn evaluations(printed: &str) -> u64 {
    let (_, after) = printed.split_once("evaluations ").expect("the summary reports its evaluations");
    let (_, count) = after.split_once('(').expect("evaluations (N)");
    count.split(')').next().and_then(|n| n.parse().ok()).expect("a count of evaluations")
}

#[test]
fn replay_as_of_without_alerts_out_evaluates_once_and_writes_the_same_firing_and_dead_letters() {
    let dir = scratch("as-of-once");
    let sim = dir.join("sim");
    simulate_small(&sim, 11);
    let planted = planted(&sim);
    let as_of = planted["as_of"].as_str().expect("as_of");
    let at = chrono::DateTime::parse_from_rfc3339(as_of).unwrap();
    // A delivery whose order comes 10 days later in event time: it waits,
    // a midnight 7 days on expires it as an orphan, and the order then
    // applies alone. Passing the midnights must expire it just the same.
    let order: Value = event_lines(&sim)
        .iter()
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .find(|e| e["type"] == "order.placed")
        .expect("an order");
    let stamp = |days: i64| (at - chrono::Duration::days(days)).to_rfc3339();
    let late = dir.join("late.ndjson");
    let mut late_order = order.clone();
    for (field, value) in [("event_id", "late-order"), ("order_id", "LATE-1")] {
        late_order[field] = value.into();
    }
    late_order["occurred_at"] = stamp(20).into();
    let delivery = serde_json::json!({"event_id": "early-delivery", "type": "delivery.received", "occurred_at": stamp(30),
        "delivery_id": "LATE-D1", "order_id": "LATE-1", "quantity_packs": "1", "distributor": "早到配送企业"});
    std::fs::write(&late, format!("{delivery}\n{late_order}\n")).unwrap();
    let mut events = event_files(&sim);
    events.push(late.display().to_string());

    let reference = sim.join("reference");
    let (every, printed_every) = replay_with(&reference, &events, as_of, 1, true, &dir.join("every"));
    let (once, printed_once) = replay_with(&reference, &events, as_of, 1, false, &dir.join("once"));
    assert!(evaluations(&printed_every) > 30, "{printed_every}");
    assert_eq!(evaluations(&printed_once), 1, "{printed_once}");
    let [_, firing, dead] = &every;
    assert!(firing.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() > 10, "too few alerts to compare");
    let orphan = String::from_utf8_lossy(dead).lines().any(|l| l.contains("LATE-D1") && l.contains("\"orphan\""));
    assert!(orphan, "the early delivery is not an orphan");
    assert!(once[1] == *firing, "--as-of alone fires other alerts than with --alerts-out");
    assert!(once[2] == *dead, "--as-of alone writes other dead letters than with --alerts-out");
}

#[test]
fn three_threads_on_shuffled_events_write_the_bytes_one_thread_writes() {
    let dir = scratch("threads");
    let sim = dir.join("sim");
    simulate_small(&sim, 7);
    let planted = planted(&sim);
    let as_of = planted["as_of"].as_str().expect("as_of");
    // The files as simulated, and all their lines shuffled into one file:
    // deliveries, acceptances and payments then come before their orders,
    // and each must still reach its order's shard.
    let mut lines = event_lines(&sim);
    shuffle(&mut lines, 7);
    let shuffled = dir.join("shuffled.ndjson");
    std::fs::write(&shuffled, lines.join(&b'\n')).unwrap();
    // The shuffled file at three threads is the harder case of the two
    // (every kind of event before its order, on an uneven split); the
    // engine's property test (pipeline/tests/shards.rs) covers two.
    let inputs = [("shuffled", vec![shuffled.display().to_string()], 3)];
    for (name, events, threads) in inputs {
        let one = replay_files(&sim.join("reference"), &events, as_of, 1, &dir.join(format!("{name}-1")));
        let [transitions, firing, dead] = &one;
        let count = |bytes: &[u8]| bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
        assert!(count(transitions) > 10 && count(firing) > 10, "{name}: too few alerts to compare");
        assert!(count(dead) > 10, "{name}: too few dead letters to compare");
        assert!(String::from_utf8_lossy(firing).contains("\"SupplyBreak\""), "{name}: no supply break to compare");
        let many = replay_files(&sim.join("reference"), &events, as_of, threads, &dir.join(format!("{name}-{threads}")));
        for (what, (a, b)) in ["transitions", "firing", "dead letters"].iter().zip(one.iter().zip(&many)) {
            assert!(a == b, "{name}: --threads {threads} writes other {what} than --threads 1");
        }
    }
}

/// One retention rule in every mode: `sql` (and `report`) pass the same
/// midnights as `replay`, so a delivery held longer than the orphan
/// timeout expires in all of them, and the order it was for stays open.
#[test]
fn sql_expires_an_orphan_at_the_same_midnight_as_replay() {
    let dir = scratch("sql-orphan");
    let sim = dir.join("sim");
    simulate_small(&sim, 2);
    let reference = sim.join("reference");
    let first = |file: &str| -> String {
        let text = std::fs::read_to_string(reference.join(file)).unwrap();
        text.lines().nth(1).and_then(|l| l.split(',').next()).unwrap().to_string()
    };
    let (institution, product) = (first("institutions.csv"), first("products.csv"));
    let events = dir.join("events.ndjson");
    let lines = [
        // The delivery comes 15 days before its order: past the 7-day orphan timeout.
        r#"{"event_id":"d1","type":"delivery.received","occurred_at":"2026-01-05T09:00:00+08:00","delivery_id":"D1","order_id":"O1","quantity_packs":"10","distributor":"陕西医药"}"#.to_string(),
        format!(r#"{{"event_id":"o1","type":"order.placed","occurred_at":"2026-01-20T09:00:00+08:00","order_id":"O1","institution_code":"{institution}","product_code":"{product}","quantity_packs":"10","unit_price":"1"}}"#),
    ];
    std::fs::write(&events, lines.join("\n") + "\n").unwrap();
    let (reference, events) = (reference.display().to_string(), events.display().to_string());
    let (_, dead) = replay_as_of(Path::new(&reference), &[events.clone()], "2026-01-25T00:00:00+08:00", &dir);
    assert_eq!(dead.iter().map(|d| d["reason"].as_str().unwrap_or("")).collect::<Vec<_>>(), ["orphan"]);
    let out = run_ok(&["sql", "SELECT outstanding_packs FROM open_order_lines WHERE order_id = 'O1'", "--format", "csv", "--reference", &reference, "--as-of", "2026-01-25T00:00:00+08:00", "--events", &events]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().nth(1).map(|v| v.parse::<f64>().unwrap()), Some(10.0), "the order is still open in sql: {text}");
}

/// The sum of every sample of `name` in a Prometheus text exposition.
fn metric_sum(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn replay_writes_the_metrics_live_mode_serves_and_they_add_up_to_its_summary() {
    let dir = scratch("replay-metrics");
    let sim = dir.join("sim");
    simulate_small(&sim, 5);
    let as_of = planted(&sim)["as_of"].as_str().expect("as_of").to_string();
    let (metrics, dead) = (dir.join("replay.prom"), dir.join("dead-letter.ndjson"));
    let mut args = vec!["replay".to_string(), "--reference".into(), sim.join("reference").display().to_string(), "--events".into()];
    args.extend(event_files(&sim));
    args.extend(["--as-of".into(), as_of, "--dead-letter".into(), dead.display().to_string()]);
    args.extend(["--metrics-out".into(), metrics.display().to_string()]);
    let output = run_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let printed = String::from_utf8_lossy(&output.stderr).to_string();
    let exposition = std::fs::read_to_string(&metrics).expect("--metrics-out was written");

    let read: f64 = printed.split_once("read ").and_then(|(_, r)| r.split(' ').next()?.parse().ok()).expect("read N lines");
    assert_eq!(metric_sum(&exposition, "vbp_events_total"), read, "every line read has one outcome:\n{exposition}");
    let dead_letters = ndjson(&dead).len() as f64;
    assert!(dead_letters > 0.0, "the simulator plants bad lines");
    assert_eq!(metric_sum(&exposition, "vbp_rejected_total"), dead_letters, "one rejection counted per dead letter");
    for series in ["vbp_events_total{outcome=\"applied\",topic=\"orders.ndjson\"}", "vbp_build_info{version=", "process_resident_memory_bytes "] {
        assert!(exposition.contains(series), "lacks {series}:\n{exposition}");
    }
    let (passed, said) = vbp_tests::observability::lint_metrics(&exposition);
    assert!(passed && said.trim().is_empty(), "promtool check metrics:\n{said}");
}
