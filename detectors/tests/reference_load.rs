//! A valid reference directory loads completely, with ids, lookups, the
//! division hierarchy, derived groups and families, and the calendar.

#[path = "fixtures/support.rs"]
mod support;

use std::collections::HashMap;
use std::fs;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use support::{TempDir, FILES};
use vbp_detectors::calendar::Calendar;
use vbp_detectors::reference::{Category, Level, ReferenceData};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

fn loaded() -> ReferenceData {
    let dir = TempDir::valid("loaded");
    match dir.load() {
        Ok(data) => data,
        Err(e) => panic!("the valid fixture must load:\n{e:#}"),
    }
}

#[test]
fn valid_fixture_loads_every_record() {
    let data = loaded();
    assert_eq!(data.divisions.len(), 6);
    assert_eq!(data.institutions.len(), 5);
    assert_eq!(data.products.len(), 6);
    assert_eq!(data.groups.len(), 2);
    assert_eq!(data.families.len(), 3);
    assert_eq!(data.agreements.len(), 3);
    assert_eq!(data.exemptions.len(), 1);
}

#[test]
fn ids_index_vectors_and_lookups_find_codes() {
    let data = loaded();
    for (i, institution) in data.institutions.iter().enumerate() {
        assert_eq!(
            data.institution(&institution.code).map(|id| id.index()),
            Some(i)
        );
    }
    for (i, product) in data.products.iter().enumerate() {
        assert_eq!(data.product(&product.code).map(|id| id.index()), Some(i));
    }
    for (i, group) in data.groups.iter().enumerate() {
        assert_eq!(data.group(&group.group_id).map(|id| id.index()), Some(i));
    }
    for (i, family) in data.families.iter().enumerate() {
        assert_eq!(data.family(&family.family_id).map(|id| id.index()), Some(i));
    }
    for (i, agreement) in data.agreements.iter().enumerate() {
        assert_eq!(
            data.agreement(&agreement.agreement_id).map(|id| id.index()),
            Some(i)
        );
    }
    assert_eq!(data.exemption("E1").map(|id| id.index()), Some(0));
    assert_eq!(data.institution("H00000000000"), None);
    assert_eq!(data.product(""), None);
}

#[test]
fn institutions_carry_their_city_and_province() {
    let data = loaded();
    let id = data.institution("H61030500017").unwrap();
    let inst = &data.institutions[id.index()];
    assert_eq!(inst.name, "凤翔区人民医院");
    assert_eq!(inst.division_code, "610305");
    assert_eq!(inst.city_code, "610300");
    assert_eq!(inst.province_code, "610000");
    assert_eq!(inst.level, Level::Secondary);
    // Columns in another order, an extra column, a quoted comma, padding.
    let first = &data.institutions[data.institution("H61030200001").unwrap().index()];
    assert_eq!(first.name, "宝鸡市中心医院,西院");
    assert_eq!(first.level, Level::Tertiary);
    let pharmacy = &data.institutions[data.institution("P61011300300").unwrap().index()];
    assert_eq!(pharmacy.division_code, "610113");
    assert_eq!(pharmacy.level, Level::Pharmacy);
}

#[test]
fn divisions_name_and_hierarchy() {
    let data = loaded();
    let divisions = &data.divisions;
    // The BOM of divisions.csv did not end up in the first column's name.
    assert_eq!(divisions.name("610305"), Some("凤翔区"));
    assert_eq!(divisions.name("610300"), Some("宝鸡市"));
    assert_eq!(divisions.name("999999"), None);
    assert_eq!(divisions.city_of("610305").as_deref(), Some("610300"));
    assert_eq!(divisions.province_of("610305").as_deref(), Some("610000"));
    assert_eq!(divisions.city_of("610300").as_deref(), Some("610300"));
    assert_eq!(divisions.city_of("61030"), None);
    let codes: Vec<&str> = divisions
        .list()
        .iter()
        .map(|(code, _)| code.as_str())
        .collect();
    assert_eq!(
        codes,
        ["610000", "610100", "610113", "610300", "610302", "610305"]
    );
}

#[test]
fn products_groups_and_families() {
    let data = loaded();
    let selected = &data.products[data.product("XC10AAA124A001010100875").unwrap().index()];
    assert!(selected.selected, "TRUE as a spreadsheet writes it");
    assert!(!selected.backup_supplier);
    assert_eq!(selected.base_units_per_pack, dec("14"));
    assert_eq!(selected.selected_price_per_base_unit, Some(dec("0.10")));
    assert_eq!(selected.batch.as_deref(), Some("第十批国采"));
    assert_eq!(selected.category, Category::Drug);
    let family = selected.family.unwrap();
    assert_eq!(data.families[family.index()].family_id, "F-ATV-A");
    assert_eq!(data.families[family.index()].group, selected.group);

    let backup = &data.products[data.product("XC10AAA124A001010399998").unwrap().index()];
    assert!(!backup.selected && backup.backup_supplier);
    assert_eq!(backup.family, None);
    assert_eq!(backup.batch, None);
    assert_eq!(backup.selected_price_per_base_unit, None);
    assert_eq!(backup.group, selected.group);

    let consumable = &data.products[data.product("C12345678901234567890123456").unwrap().index()];
    assert_eq!(consumable.category, Category::Consumable);
    assert_eq!(consumable.dosage_form, "");
    assert_eq!(consumable.selected_price_per_base_unit, Some(dec("1.50")));

    let atv = &data.groups[data.group("G-ATV").unwrap().index()];
    assert_eq!(
        atv.lowest_selected_price_per_base_unit,
        Some(dec("0.10")),
        "min of 0.12, 0.10, 0.15"
    );
    let inf = &data.groups[data.group("G-INF").unwrap().index()];
    assert_eq!(inf.lowest_selected_price_per_base_unit, Some(dec("1.5")));
}

#[test]
fn agreements_and_exemptions_resolve_their_references() {
    let data = loaded();
    let a2 = &data.agreements[data.agreement("A2").unwrap().index()];
    assert_eq!(
        data.institutions[a2.institution.index()].code,
        "H61030500017"
    );
    assert_eq!(data.families[a2.family.index()].family_id, "F-ATV-B");
    assert_eq!(a2.period_start, date(2026, 1, 1));
    assert_eq!(a2.period_end, date(2026, 12, 31));
    assert_eq!(a2.agreed_base_units, dec("10000.5"));
    assert!(a2.covers(date(2026, 12, 31)) && !a2.covers(date(2027, 1, 1)));
    let a3 = &data.agreements[data.agreement("A3").unwrap().index()];
    assert_eq!(
        a3.agreed_base_units,
        Decimal::ZERO,
        "a zero volume is accepted"
    );

    let e1 = &data.exemptions[0];
    assert_eq!(
        data.institutions[e1.institution.index()].code,
        "H61030500017"
    );
    assert_eq!(data.groups[e1.group.index()].group_id, "G-ATV");
    assert_eq!(
        (e1.valid_from, e1.valid_to),
        (date(2026, 3, 1), date(2026, 3, 31))
    );
    assert_eq!(e1.reason, "中选企业断供，经市医保局核实");
    assert!(e1.covers(date(2026, 3, 1)) && e1.covers(date(2026, 3, 31)));
    assert!(!e1.covers(date(2026, 4, 1)));
}

#[test]
fn calendar_is_shipped_plus_calendar_csv() {
    let data = loaded();
    // 2026-10-09 is the Friday between National Day and the Saturday make-up
    // day; calendar.csv makes it a holiday here.
    assert!(!data.calendar.is_working_day(date(2026, 10, 9)));
    assert!(Calendar::shipped().is_working_day(date(2026, 10, 9)));
    // The shipped arrangements are still there.
    assert!(data.calendar.is_working_day(date(2026, 10, 10)));
    assert!(!data.calendar.is_working_day(date(2026, 10, 1)));
}

#[test]
fn optional_files_may_be_absent() {
    let dir = TempDir::valid("optional");
    dir.remove("calendar.csv").remove("exemptions.csv");
    let data = dir.load().unwrap();
    assert!(data.exemptions.is_empty());
    assert_eq!(data.calendar, Calendar::shipped());
}

#[test]
fn optional_files_may_have_a_header_only() {
    let dir = TempDir::valid("header-only");
    dir.write("calendar.csv", "date,kind\n").write(
        "exemptions.csv",
        "exemption_id,institution_code,group_id,valid_from,valid_to,reason\n",
    );
    let data = dir.load().unwrap();
    assert!(data.exemptions.is_empty());
    assert_eq!(data.calendar, Calendar::shipped());
}

#[test]
fn csv_texts_load_like_a_directory() {
    let source =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference-small");
    let texts: HashMap<&str, String> = FILES
        .iter()
        .map(|file| (*file, fs::read_to_string(source.join(file)).unwrap()))
        .collect();
    let data = ReferenceData::from_csv_texts(texts.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
    let from_dir = loaded();
    assert_eq!(data.institutions, from_dir.institutions);
    assert_eq!(data.products, from_dir.products);
    assert_eq!(data.agreements, from_dir.agreements);
    assert_eq!(data.calendar, from_dir.calendar);
}

#[test]
fn shipped_holiday_file_can_serve_as_calendar_csv() {
    let dir = TempDir::valid("shipped-as-calendar");
    let shipped = vbp_schemas::reference_files::SHIPPED_HOLIDAYS_CSV;
    dir.write("calendar.csv", shipped);
    let data = dir.load().unwrap();
    assert_eq!(data.calendar, Calendar::shipped());
}
