//! `vbp-watch report` on the simulated province (SPEC §10): every cell of
//! the CSV against an independent computation written here from the raw
//! reference CSVs and event lines; the .xlsx read back; `--reconcile`
//! against a doctored copy; `--division`.
//!
//! The independent computation trusts the pipeline only for which lines it
//! rejected (the dead-letter file names them by file and line): everything
//! else — dedup by event_id, event time up to T, special service,
//! cancellations, units, amounts, windows, the four outcomes, rounding — is
//! done again here, with none of the detectors' code.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;
use vbp_tests::*;

/// A CSV file as maps from header to cell.
fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().expect("a header row").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            headers.iter().zip(r.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
        })
        .collect()
}

fn dec(s: &str) -> Decimal {
    s.trim().parse().unwrap_or_else(|e| panic!("`{s}`: {e}"))
}

fn json_dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => dec(s),
        Value::Number(n) => dec(&n.to_string()),
        _ => Decimal::ZERO,
    }
}

fn local_day(t: &str) -> NaiveDate {
    let t = DateTime::parse_from_rfc3339(t).expect("an RFC 3339 instant");
    t.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap()).date_naive()
}

fn pct(part: Decimal, whole: Decimal) -> String {
    let mut p = (part * Decimal::from(100) / whole).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    p.rescale(2);
    p.to_string()
}

struct Product {
    group: String,
    family: String,
    batch: String,
    selected: bool,
    base: Decimal,
}

struct Order {
    institution: String,
    product: String,
    day: NaiveDate,
    packs: Decimal,
    price: Decimal,
    special: bool,
}

/// The report rows at T computed from the raw files, as the CSV's cells.
fn expected_report(sim: &Path, as_of: &str, dead: &[Value]) -> Vec<Vec<String>> {
    let reference = sim.join("reference");
    let divisions: HashMap<String, String> =
        csv_rows(&reference.join("divisions.csv")).into_iter().map(|r| (r["division_code"].clone(), r["name"].clone())).collect();
    let institutions: HashMap<String, (String, String)> = csv_rows(&reference.join("institutions.csv"))
        .into_iter()
        .map(|r| (r["institution_code"].clone(), (r["name"].clone(), r["division_code"].clone())))
        .collect();
    let products: BTreeMap<String, Product> = csv_rows(&reference.join("products.csv"))
        .into_iter()
        .map(|r| {
            let p = Product {
                group: r["group_id"].clone(),
                family: r["family_id"].clone(),
                batch: r["batch"].clone(),
                selected: r["selected"] == "true",
                base: dec(&r["base_units_per_pack"]),
            };
            (r["product_code"].clone(), p)
        })
        .collect();
    let substitutes_path = reference.join("substitutes.csv");
    let substitutes: Vec<(String, String)> = if substitutes_path.exists() {
        csv_rows(&substitutes_path).into_iter().map(|r| (r["group_id"].clone(), r["product_code"].clone())).collect()
    } else {
        Vec::new()
    };
    let family_batch: HashMap<&str, &str> =
        products.values().filter(|p| !p.family.is_empty()).map(|p| (p.family.as_str(), p.batch.as_str())).collect();
    let family_group: HashMap<&str, &str> =
        products.values().filter(|p| !p.family.is_empty()).map(|p| (p.family.as_str(), p.group.as_str())).collect();

    // The accepted events up to T: not dead-lettered, first of each id.
    let rejected: HashSet<(String, u64)> = dead
        .iter()
        .filter_map(|d| Some((d["source"]["file"].as_str()?.to_string(), d["source"]["line"].as_u64()?)))
        .collect();
    let t = DateTime::parse_from_rfc3339(as_of).expect("as_of");
    let mut seen_ids = HashSet::new();
    let mut orders: HashMap<String, Order> = HashMap::new();
    let mut cancelled: HashMap<String, Decimal> = HashMap::new();
    for file in event_files(sim) {
        let text = std::fs::read(&file).expect("an events file");
        for (index, line) in text.split(|&b| b == b'\n').enumerate() {
            if rejected.contains(&(file.clone(), index as u64 + 1)) || line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let event: Value = serde_json::from_slice(line).unwrap_or_else(|e| panic!("{file}:{}: accepted but {e}", index + 1));
            let at = event["occurred_at"].as_str().expect("occurred_at");
            if DateTime::parse_from_rfc3339(at).expect("an instant") > t || !seen_ids.insert(event["event_id"].to_string()) {
                continue;
            }
            match event["type"].as_str() {
                Some("order.placed") => {
                    let order = Order {
                        institution: event["institution_code"].as_str().unwrap_or("").to_string(),
                        product: event["product_code"].as_str().unwrap_or("").to_string(),
                        day: local_day(at),
                        packs: json_dec(&event["quantity_packs"]),
                        price: json_dec(&event["unit_price"]),
                        special: event["special_service"].as_bool().unwrap_or(false),
                    };
                    orders.insert(event["order_id"].as_str().unwrap_or("").to_string(), order);
                }
                Some("order.cancelled") => {
                    let id = event["order_id"].as_str().unwrap_or("").to_string();
                    *cancelled.entry(id).or_default() += json_dec(&event["quantity_packs"]);
                }
                _ => {}
            }
        }
    }
    // (institution, product) → [(day, units, amount)] of non-special orders.
    let mut bought: HashMap<(&str, &str), Vec<(NaiveDate, Decimal, Decimal)>> = HashMap::new();
    for (id, o) in &orders {
        if o.special {
            continue;
        }
        let packs = o.packs - cancelled.get(id).copied().unwrap_or_default();
        let base = products[&o.product].base;
        bought.entry((o.institution.as_str(), o.product.as_str())).or_default().push((o.day, packs * base, packs * o.price));
    }
    let since = |inst: &str, product: &str, from: NaiveDate, to: NaiveDate| -> (Decimal, Decimal) {
        bought.get(&(inst, product)).into_iter().flatten().filter(|(d, _, _)| from <= *d && *d <= to).fold(
            (Decimal::ZERO, Decimal::ZERO),
            |(u, a), (_, units, amount)| (u + units, a + amount),
        )
    };

    let today = local_day(as_of);
    type Key = (String, String, String, NaiveDate, NaiveDate);
    let mut rows: BTreeMap<Key, Vec<(String, Decimal)>> = BTreeMap::new();
    for a in csv_rows(&reference.join("agreements.csv")) {
        let (start, end) = (a["period_start"].parse().unwrap(), a["period_end"].parse().unwrap());
        if !(start <= today && today <= end) {
            continue;
        }
        let inst = a["institution_code"].clone();
        let division = institutions[&inst].1.clone();
        let batch = family_batch[a["family_id"].as_str()].to_string();
        rows.entry((division, inst, batch, start, end)).or_default().push((a["family_id"].clone(), dec(&a["agreed_base_units"])));
    }
    let mut out = Vec::new();
    for ((division, inst, batch, start, end), agreements) in rows {
        let elapsed = Decimal::from((today - start).num_days() + 1);
        let total = Decimal::from((end - start).num_days() + 1);
        let groups: BTreeSet<&str> = agreements.iter().map(|(f, _)| family_group[f.as_str()]).collect();
        let (mut ns_total, mut ns_bought, mut ns_over_units, mut ns_over_amount) = (0, 0, 0, 0);
        let mut over_groups = BTreeSet::new();
        for g in &groups {
            let (mut sel_units, mut sel_amount) = (Decimal::ZERO, Decimal::ZERO);
            for (code, p) in products.iter().filter(|(_, p)| p.group == *g && p.selected) {
                let (u, a) = since(&inst, code, start, today);
                let _ = p;
                sel_units += u;
                sel_amount += a;
            }
            for (code, _) in products.iter().filter(|(_, p)| p.group == *g && !p.selected) {
                ns_total += 1;
                let (u, a) = since(&inst, code, start, today);
                ns_bought += usize::from(u > Decimal::ZERO);
                if u > sel_units {
                    ns_over_units += 1;
                    over_groups.insert(*g);
                }
                ns_over_amount += usize::from(a > sel_amount);
            }
        }
        let subs: BTreeSet<&str> =
            substitutes.iter().filter(|(g, _)| groups.contains(g.as_str())).map(|(_, p)| p.as_str()).collect();
        let subs_bought = subs.iter().filter(|p| since(&inst, p, start, today).0 > Decimal::ZERO).count();
        let (mut zero, mut behind, mut over, mut normal, mut behind_over) = (0, 0, 0, 0, 0);
        for (family, agreed) in &agreements {
            let purchased: Decimal = products
                .iter()
                .filter(|(_, p)| &p.family == family)
                .map(|(code, _)| since(&inst, code, start, end.min(today)).0)
                .sum();
            let is_behind = purchased / agreed < elapsed / total;
            if purchased.is_zero() {
                zero += 1;
            } else if is_behind {
                behind += 1;
            } else if purchased > *agreed {
                over += 1;
            } else {
                normal += 1;
            }
            if is_behind && over_groups.contains(family_group[family.as_str()]) {
                behind_over += 1;
            }
        }
        let n = Decimal::from(agreements.len());
        let share = |c: usize| pct(Decimal::from(c), n);
        out.push(vec![
            institutions[&inst].0.clone(),
            inst.clone(),
            divisions[&division].clone(),
            batch,
            start.to_string(),
            end.to_string(),
            pct(elapsed, total),
            agreements.len().to_string(),
            zero.to_string(),
            share(zero),
            behind.to_string(),
            share(behind),
            over.to_string(),
            share(over),
            normal.to_string(),
            share(normal),
            ns_total.to_string(),
            ns_bought.to_string(),
            ns_over_units.to_string(),
            ns_over_amount.to_string(),
            subs.len().to_string(),
            subs_bought.to_string(),
            behind_over.to_string(),
        ]);
    }
    out
}

/// A small simulated province (seed 11) in a fresh directory: (the
/// directory, the simulation, the simulator's `as_of`).
fn simulated(name: &str) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let dir = scratch(name);
    let sim = dir.join("sim");
    simulate_small(&sim, 11);
    let planted: Value = serde_json::from_slice(&std::fs::read(sim.join("planted.json")).unwrap()).unwrap();
    let as_of = planted["as_of"].as_str().expect("as_of").to_string();
    (dir, sim, as_of)
}

/// Runs `report` with `extra` arguments; returns stderr.
fn report(sim: &Path, as_of: &str, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["report".to_string(), "--reference".into(), sim.join("reference").display().to_string(), "--events".into()];
    args.extend(event_files(sim));
    args.extend(["--as-of".into(), as_of.into(), "--out".into(), out.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    String::from_utf8_lossy(&run_ok(&args).stderr).into_owned()
}

fn written_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let bytes = std::fs::read(path).expect("the report file");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "the CSV starts with a BOM");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let headers = reader.headers().expect("headers").iter().map(String::from).collect();
    let rows = reader.records().map(|r| r.expect("a record").iter().map(String::from).collect()).collect();
    (headers, rows)
}

#[test]
fn every_cell_of_the_simulated_province_s_report_equals_an_independent_computation_from_the_raw_events() {
    let (dir, sim, as_of) = simulated("report-cells");
    let (_, dead) = replay_as_of(&sim.join("reference"), &event_files(&sim), &as_of, &dir);
    let out = dir.join("report.csv");
    report(&sim, &as_of, &out, &[]);
    let (headers, rows) = written_csv(&out);
    assert_eq!(headers, vbp_detectors::report::HEADERS);
    let expected = expected_report(&sim, &as_of, &dead);
    assert_eq!(rows.len(), expected.len(), "row count");
    for (ours, theirs) in rows.iter().zip(&expected) {
        for (column, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(a, b, "column {} ({}) of {ours:?}", column + 1, headers[column]);
        }
    }
    // The province is not trivial: every outcome and column is exercised.
    let sum = |column: usize| -> u64 { rows.iter().map(|r| r[column].parse::<u64>().unwrap()).sum() };
    for (column, what) in [(8, "zero"), (10, "behind"), (12, "over"), (14, "normal"), (17, "non-selected bought"), (18, "non-selected over by units"), (19, "non-selected over by amount"), (21, "substitutes bought"), (22, "behind and non-selected over")] {
        assert!(sum(column) > 0, "no row has any {what} (column {})", column + 1);
    }
    let batches: BTreeSet<&String> = rows.iter().map(|r| &r[3]).collect();
    assert!(batches.len() >= 2, "several batches: {batches:?}");
}

#[test]
fn the_xlsx_reads_back_with_the_23_headers_and_the_csv_s_values_and_reconcile_lists_exactly_what_was_changed() {
    let (dir, sim, as_of) = simulated("report-xlsx");
    let (csv_path, xlsx_path) = (dir.join("r.csv"), dir.join("r.xlsx"));
    report(&sim, &as_of, &csv_path, &[]);
    report(&sim, &as_of, &xlsx_path, &[]);
    let (_, csv_rows) = written_csv(&csv_path);

    use calamine::{Data, Reader};
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&xlsx_path).expect("a readable .xlsx");
    let range = workbook.worksheet_range_at(0).expect("one sheet").expect("readable");
    let mut sheet = range.rows();
    let header: Vec<String> = sheet.next().expect("a header row").iter().map(|c| c.to_string()).collect();
    assert_eq!(header, vbp_detectors::report::HEADERS);
    let mut count = 0;
    for (cells, expected) in sheet.zip(&csv_rows) {
        count += 1;
        for (column, (cell, text)) in cells.iter().zip(expected).enumerate() {
            let read = match (column, cell) {
                (4 | 5, Data::DateTime(d)) => {
                    let day = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap() + chrono::Duration::days(d.as_f64() as i64);
                    day.to_string()
                }
                (4 | 5, other) => panic!("column {} is not a date cell: {other:?}", column + 1),
                (6 | 9 | 11 | 13 | 15, Data::Float(f)) => pct(Decimal::try_from(*f).unwrap(), Decimal::ONE),
                (_, Data::Float(f)) => format!("{f}"),
                (_, other) => other.to_string(),
            };
            assert_eq!(&read, text, "row {count} column {}", column + 1);
        }
    }
    assert_eq!(count, csv_rows.len());

    // A doctored official copy: three cells changed, one row removed, one added.
    let official = dir.join("official.csv");
    let mut doctored = csv_rows.clone();
    doctored[0][8] = (doctored[0][8].parse::<u32>().unwrap() + 1).to_string();
    doctored[1][6] = "12.34%".into();
    let last = doctored.len() - 1;
    doctored[last][17] = "99".into();
    let removed = doctored.remove(2);
    let mut extra = doctored[0].clone();
    extra[1] = "H99999999999".into();
    doctored.push(extra);
    {
        let mut w = csv::Writer::from_path(&official).unwrap();
        w.write_record(vbp_detectors::report::HEADERS).unwrap();
        for r in &doctored {
            w.write_record(r).unwrap();
        }
    }
    let differences = dir.join("differences.csv");
    let printed = report(
        &sim,
        &as_of,
        &dir.join("again.xlsx"),
        &["--reconcile", &official.display().to_string(), "--reconcile-out", &differences.display().to_string()],
    );
    assert!(printed.contains("5 differences"), "{printed}");
    let listed = csv_rows_of(&differences);
    let kinds: Vec<(String, String, String)> =
        listed.iter().map(|r| (r["医疗机构编码"].clone(), r["差异"].clone(), r["列"].clone())).collect();
    let code = |i: usize| csv_rows[i][1].clone();
    let expected = [
        (code(0), "数值不同".to_string(), "零采购产品数".to_string()),
        (code(1), "数值不同".to_string(), "序时进度".to_string()),
        (removed[1].clone(), "仅本系统有".to_string(), String::new()),
        (code(last), "数值不同".to_string(), "采购非中选产品数".to_string()),
        ("H99999999999".to_string(), format!("仅官方报表有（第{}行）", doctored.len() + 1), String::new()),
    ];
    assert_eq!(kinds, expected);
    assert_eq!(listed[1]["官方报表"], "12.34");

    // An official file in another layout is refused with the column that differs.
    std::fs::write(dir.join("bad.csv"), "医疗机构,编码\n").unwrap();
    let mut args = vec!["report".to_string(), "--reference".into(), sim.join("reference").display().to_string(), "--events".into()];
    args.extend(event_files(&sim));
    args.extend(["--as-of".into(), as_of.clone(), "--out".into(), dir.join("x.csv").display().to_string()]);
    args.extend(["--reconcile".into(), dir.join("bad.csv").display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("column 2 is headed `编码`, expected `医疗机构编码`"), "{stderr}");
}

fn csv_rows_of(path: &Path) -> Vec<HashMap<String, String>> {
    let (headers, rows) = written_csv(path);
    rows.into_iter().map(|r| headers.iter().cloned().zip(r).collect()).collect()
}

#[test]
fn a_division_s_file_holds_its_own_institutions_and_a_city_s_all_of_its_districts() {
    let (dir, sim, as_of) = simulated("report-division");
    let all = dir.join("all.csv");
    report(&sim, &as_of, &all, &[]);
    let (_, rows) = written_csv(&all);
    let institutions: HashMap<String, String> = csv_rows(&sim.join("reference").join("institutions.csv"))
        .into_iter()
        .map(|r| (r["institution_code"].clone(), r["division_code"].clone()))
        .collect();
    let districts: BTreeSet<String> = rows.iter().map(|r| institutions[&r[1]].clone()).collect();
    assert!(districts.len() >= 2, "{districts:?}");
    let district = districts.iter().next().unwrap().clone();
    let city = format!("{}00", &district[..4]);
    for (code, keep) in [(district.clone(), Box::new(|d: &str| d == district) as Box<dyn Fn(&str) -> bool>), (city.clone(), Box::new(|d: &str| d.starts_with(&city[..4])))] {
        let out = dir.join(format!("{code}.csv"));
        report(&sim, &as_of, &out, &["--division", &code]);
        let (_, mine) = written_csv(&out);
        let expected: Vec<&Vec<String>> = rows.iter().filter(|r| keep(&institutions[&r[1]])).collect();
        assert!(!mine.is_empty());
        assert_eq!(mine.iter().collect::<Vec<_>>(), expected, "{code}");
    }
    let out = run(&["report", "--reference", &sim.join("reference").display().to_string(), "--events", &event_files(&sim)[0], "--as-of", &as_of, "--out", &dir.join("x.csv").display().to_string(), "--division", "999999"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("division `999999` is not in divisions.csv"));
}

#[test]
fn the_circular_prints_the_report_s_counts_for_the_quarter_s_last_instant_and_every_ranking() {
    let dir = scratch("circular");
    let sim = dir.join("sim");
    simulate_small(&sim, 11);
    let out = dir.join("circular.html");
    let mut args = vec!["circular".to_string(), "--quarter".into(), "2026Q1".into(), "--reference".into()];
    args.push(sim.join("reference").display().to_string());
    args.push("--events".into());
    args.extend(event_files(&sim));
    args.extend(["--out".into(), out.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok(&args);
    let html = std::fs::read_to_string(&out).expect("the circular");

    // The province's counts are the report's at 2026-03-31T23:59:59.999999+08:00.
    let csv = dir.join("q1.csv");
    report(&sim, "2026-03-31T23:59:59.999999+08:00", &csv, &[]);
    let (_, rows) = written_csv(&csv);
    let sum = |column: usize| -> u64 { rows.iter().map(|r| r[column].parse::<u64>().unwrap()).sum() };
    let institutions: BTreeSet<&String> = rows.iter().map(|r| &r[1]).collect();
    let expected = format!(
        "截至评价时点，{} 家医疗机构共 {} 个报表行、签约产品 {} 个：其中零采购 {} 个",
        institutions.len(),
        rows.len(),
        sum(7),
        sum(8)
    );
    assert!(html.contains(&expected), "the province paragraph says {expected}");
    for (column, words) in [(10, "低于序时进度"), (12, "超量采购"), (14, "正常采购")] {
        assert!(html.contains(&format!("{words} {} 个", sum(column))), "{words} {}", sum(column));
    }
    assert!(html.contains("评价时点：2026年03月31日 23:59:59"), "evaluated at the quarter's last instant");
    assert!(!html.contains("本季度尚未结束"), "a finished quarter is not a draft");
    for heading in ["总体情况", "执行不力", "采购进度滞后的医疗机构", "配送率低的企业", "非中选产品采购量占比高", "可替代产品采购量异常增长", "货款逾期未结清", "本季度预警"] {
        assert!(html.contains(heading), "the circular has {heading}");
    }
    // Every city with report rows has its section, after the province.
    let cities: BTreeSet<String> = rows.iter().map(|r| r[2].clone()).collect();
    assert!(html.matches("<section class=\"city\">").count() >= 2, "city sections");
    assert!(html.contains("@page{size:A4"), "prints on A4");
    assert!(!cities.is_empty());
}
