//! `vbp-watch simulate`: determinism, layout, event validity and the
//! planted set's coverage.

mod simulate_common;

use std::collections::{BTreeMap, HashSet};

use simulate_common::{planted, read, simulate, valid_event, TempOut, FILES};

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let (a, b, c) = (TempOut::new("seed-a"), TempOut::new("seed-b"), TempOut::new("seed-c"));
    simulate(a.path(), 7, &[]);
    simulate(b.path(), 7, &[]);
    simulate(c.path(), 8, &[]);
    for f in FILES {
        let (x, y) = (read(&a.path().join(f)), read(&b.path().join(f)));
        assert!(x == y, "{f} differs between two runs with seed 7");
    }
    let differing = FILES.iter().filter(|f| read(&a.path().join(f)) != read(&c.path().join(f))).count();
    // The calendar and the division list are the same for every seed.
    assert!(differing >= FILES.len() - 2, "seed 8 should change nearly every file, changed {differing}");
    assert_ne!(read(&a.path().join("events/orders.ndjson")), read(&c.path().join("events/orders.ndjson")));
}

#[test]
fn reference_files_have_the_spec_headers() {
    let out = TempOut::new("headers");
    simulate(out.path(), 1, &[]);
    let expected: &[(&str, &str)] = &[
        ("divisions.csv", "division_code,name"),
        ("institutions.csv", "institution_code,name,division_code,level"),
        (
            "products.csv",
            "product_code,generic_name,dosage_form,spec,enterprise,category,batch,group_id,family_id,selected,backup_supplier,base_units_per_pack,selected_price_per_base_unit",
        ),
        ("agreements.csv", "agreement_id,institution_code,family_id,period_start,period_end,agreed_base_units"),
        ("calendar.csv", "date,kind"),
        ("exemptions.csv", "exemption_id,institution_code,group_id,valid_from,valid_to,reason"),
    ];
    for (file, header) in expected {
        let text = String::from_utf8(read(&out.path().join("reference").join(file))).expect("UTF-8");
        assert_eq!(text.lines().next(), Some(*header), "{file}");
        assert!(text.lines().count() > 1, "{file} has rows");
    }
    // Codes have the national shapes (SPEC §2).
    let mut rdr = csv::Reader::from_path(out.path().join("reference/products.csv")).expect("products.csv");
    for r in rdr.records() {
        let r = r.expect("row");
        let code = &r[0];
        match &r[5] {
            "drug" => assert!(code.len() == 23 && code.starts_with('X'), "{code}"),
            "consumable" => assert!(code.len() == 27 && code.starts_with('C'), "{code}"),
            other => panic!("category {other}"),
        }
    }
    let mut rdr = csv::Reader::from_path(out.path().join("reference/institutions.csv")).expect("institutions.csv");
    for r in rdr.records() {
        let r = r.expect("row");
        assert!(r[0].len() == 12 && r[0].starts_with('H') && r[0][1..7] == r[2], "{:?}", r);
    }
    // The Spring Festival 2026 arrangement is there.
    let cal = String::from_utf8(read(&out.path().join("reference/calendar.csv"))).expect("UTF-8");
    for row in
        ["2026-02-14,workday", "2026-02-16,holiday", "2026-02-23,holiday", "2026-02-28,workday", "2025-10-08,holiday"]
    {
        assert!(cal.lines().any(|l| l == row), "calendar.csv lacks {row}");
    }
    assert!(!cal.contains("2026-02-15"), "weekend days off are not listed");
}

#[test]
fn every_event_line_is_valid_or_a_counted_malformed_line() {
    let out = TempOut::new("lines");
    simulate(out.path(), 3, &[]);
    let p = planted(out.path());
    let mut malformed = 0u64;
    let mut too_large = 0u64;
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut ids: HashSet<String> = HashSet::new();
    let mut duplicates = 0u64;
    let mut lines = 0u64;
    for f in ["orders", "deliveries", "payments", "complaints"] {
        let bytes = read(&out.path().join(format!("events/{f}.ndjson")));
        assert!(bytes.ends_with(b"\n"), "{f}.ndjson ends with a newline");
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            lines += 1;
            if line.len() > 65_536 {
                too_large += 1;
                continue;
            }
            match valid_event(line) {
                Some(v) => {
                    let ty = v["type"].as_str().expect("checked").to_string();
                    let id = v["event_id"].as_str().expect("checked").to_string();
                    if !seen.insert(line.to_vec()) {
                        duplicates += 1;
                        continue;
                    }
                    assert!(ids.insert(id.clone()), "event_id {id} reused for different content");
                    *by_type.entry(ty).or_default() += 1;
                }
                None => malformed += 1,
            }
        }
    }
    let mess = &p["mess"];
    assert_eq!(malformed, mess["malformed_lines"].as_u64().expect("count"), "malformed lines");
    assert_eq!(duplicates, mess["duplicates"].as_u64().expect("count"), "duplicate lines");
    assert_eq!(too_large, mess["too_large"].as_u64().expect("count"));
    // ~0.1 % malformed.
    assert!(malformed * 2_000 > lines && malformed * 300 < lines, "{malformed} malformed of {lines}");
    // Valid events = the generator's counts + the planted unknown/orphan ones.
    let ev = &p["events"];
    let extra_orders = mess["unknown_institution"].as_u64().unwrap() + mess["unknown_product"].as_u64().unwrap();
    assert_eq!(by_type["order.placed"], ev["order.placed"].as_u64().unwrap() + extra_orders);
    assert_eq!(by_type["order.cancelled"], ev["order.cancelled"].as_u64().unwrap());
    assert_eq!(by_type["payment.made"], ev["payment.made"].as_u64().unwrap());
    let orphans = mess["orphans_expected"].as_u64().unwrap();
    assert_eq!(
        by_type["delivery.received"] + by_type["delivery.accepted"],
        ev["delivery.received"].as_u64().unwrap() + ev["delivery.accepted"].as_u64().unwrap() + orphans
    );
    let total: u64 = by_type.values().sum();
    assert!(total < 300_000, "small scale stays small: {total} events");
    for k in ["partial_deliveries", "cancellations", "partial_payments", "out_of_order", "duplicates"] {
        assert!(mess[k].as_u64().unwrap() > 0, "mess has {k}");
    }
}

#[test]
fn planted_lists_every_alertname_and_the_traps() {
    let out = TempOut::new("planted");
    simulate(out.path(), 1, &[]);
    let p = planted(out.path());
    assert_eq!(p["as_of"], "2026-03-17T00:00:00+08:00");
    assert_eq!(p["window_start"], "2026-01-01T00:00:00+08:00");
    let firing = p["expected_firing"].as_array().expect("array");
    for name in [
        "ProcurementBehindSchedule",
        "SelectedProductNotEntered",
        "NonSelectedShareHigh",
        "OrderUndelivered",
        "SupplyBreak",
        "PaymentOverdue",
        "ComplaintOverdue",
        "SubstituteSurge",
        "PeriodEndStockpiling",
        "PriceAboveSelected",
    ] {
        assert!(firing.iter().any(|a| a["alertname"] == name), "no {name} planted");
    }
    for sev in ["critical", "warning"] {
        for name in [
            "ProcurementBehindSchedule",
            "NonSelectedShareHigh",
            "OrderUndelivered",
            "PaymentOverdue",
            "ComplaintOverdue",
            "SubstituteSurge",
            "PeriodEndStockpiling",
            "PriceAboveSelected",
        ] {
            assert!(firing.iter().any(|a| a["alertname"] == name && a["severity"] == sev), "no {sev} {name}");
        }
    }
    for a in firing {
        assert!(!a["behaviour"].as_str().unwrap().starts_with("UNPLANNED"), "unplanned alert: {a}");
        let key = a["key"].as_object().expect("key");
        let name = vbp_detectors::alert::AlertName::parse(a["alertname"].as_str().unwrap()).expect("a known alertname");
        let mut want = name.key_labels().to_vec();
        want.sort();
        let mut got: Vec<&str> = key.keys().map(|k| k.as_str()).collect();
        got.sort();
        assert_eq!(got, want, "{a}");
        assert!(key.values().all(|v| !v.as_str().unwrap().is_empty()), "{a}");
    }
    assert!(p["notes"]["missed"].as_array().unwrap().is_empty(), "{}", p["notes"]);
    assert!(p["notes"]["severity_changed"].as_array().unwrap().is_empty(), "{}", p["notes"]);
    let traps = p["traps"].as_array().expect("traps");
    assert!(traps.len() >= 5, "backup, cheap, equal price, exemption, special service, two-institution traps");
    for t in traps {
        assert!(
            !firing.iter().any(|a| a["alertname"] == t["must_not_fire"] && a["key"] == t["key"]),
            "a trap fires: {t}"
        );
    }
}

#[test]
fn days_override_changes_the_window() {
    let out = TempOut::new("days");
    simulate(out.path(), 2, &["--days", "20"]);
    let p = planted(out.path());
    assert_eq!(p["as_of"], "2026-01-21T00:00:00+08:00");
    // Too early for schedule checks (30 days) and for "not entered" (two
    // months): those plants are reported as missed, never as wrong alerts.
    let firing = p["expected_firing"].as_array().expect("array");
    assert!(!firing.iter().any(|a| a["alertname"] == "ProcurementBehindSchedule"));
    assert!(firing.iter().all(|a| !a["behaviour"].as_str().unwrap().starts_with("UNPLANNED")), "{firing:?}");
}
