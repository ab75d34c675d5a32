//! One test per kind of reference-data problem: each breaks the small valid
//! fixture in one place and checks the file, line, column and message, and,
//! where it matters, that nothing else is reported (no follow-on noise).
//!
//! Line numbers refer to `tests/fixtures/reference-small` (header = line 1);
//! an appended row of a file with n data rows is on line n + 2.

#[path = "fixtures/support.rs"]
mod support;

use support::{check, only, TempDir};
use vbp_detectors::reference::{ReferenceErrors, ReferenceProblem};

const PRODUCTS_HEADER: &str = "product_code,generic_name,dosage_form,spec,enterprise,category,batch,group_id,family_id,selected,backup_supplier,base_units_per_pack,selected_price_per_base_unit";

/// A selected product row of group G-ATV and family F-ATV-A, with `field`
/// replaced; fields are named as in the header.
fn product_row(overrides: &[(&str, &str)]) -> String {
    let mut fields = vec![
        ("product_code", "XNEW"),
        ("generic_name", "阿托伐他汀钙片"),
        ("dosage_form", "片剂"),
        ("spec", "40mg*7"),
        ("enterprise", "甲制药有限公司"),
        ("category", "drug"),
        ("batch", "第十批国采"),
        ("group_id", "G-ATV"),
        ("family_id", "F-ATV-A"),
        ("selected", "true"),
        ("backup_supplier", "false"),
        ("base_units_per_pack", "14"),
        ("selected_price_per_base_unit", "0.11"),
    ];
    for (name, value) in overrides {
        let field = fields.iter_mut().find(|(n, _)| n == name).unwrap();
        field.1 = value;
    }
    fields.iter().map(|(_, v)| *v).collect::<Vec<_>>().join(",")
}

/// Appends a product row (line 8) and returns the load errors.
fn with_product(overrides: &[(&str, &str)]) -> ReferenceErrors {
    let dir = TempDir::valid("product");
    dir.append("products.csv", &product_row(overrides));
    dir.errors()
}

// ---------------------------------------------------------------- files

#[test]
fn missing_required_file() {
    let dir = TempDir::valid("missing-file");
    dir.remove("products.csv");
    let errors = dir.errors();
    // Agreements and exemptions refer to families and groups of products.csv;
    // those references are not reported as unknown on top.
    let problem = only(&errors);
    check(
        problem,
        "products.csv",
        None,
        None,
        "required file is missing",
    );
    assert!(problem
        .message
        .contains(&*dir.path().join("products.csv").to_string_lossy()));
}

#[test]
fn missing_directory_reports_each_required_file() {
    let dir = TempDir::new("no-such-dir");
    let missing = dir.path().join("absent");
    let errors = vbp_detectors::reference::ReferenceData::load(&missing).unwrap_err();
    let files: Vec<&str> = errors.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "divisions.csv",
            "institutions.csv",
            "products.csv",
            "agreements.csv"
        ]
    );
}

#[test]
fn missing_column() {
    let dir = TempDir::valid("missing-column");
    dir.write(
        "institutions.csv",
        "institution_code,name,division_code\nH61030200001,宝鸡市中心医院,610302\n",
    );
    let errors = dir.errors();
    let problem = only(&errors);
    check(
        problem,
        "institutions.csv",
        Some(1),
        Some("level"),
        "missing column",
    );
}

#[test]
fn empty_file() {
    let dir = TempDir::valid("empty-file");
    dir.write("agreements.csv", "");
    let errors = dir.errors();
    check(
        only(&errors),
        "agreements.csv",
        Some(1),
        None,
        "the file is empty",
    );
}

#[test]
fn repeated_column_in_header() {
    let dir = TempDir::valid("repeated-column");
    dir.write(
        "exemptions.csv",
        "exemption_id,institution_code,group_id,valid_from,valid_to,reason,group_id\n",
    );
    let errors = dir.errors();
    check(
        only(&errors),
        "exemptions.csv",
        Some(1),
        Some("group_id"),
        "more than once",
    );
}

#[test]
fn malformed_row_with_wrong_number_of_fields() {
    let dir = TempDir::valid("malformed");
    // An unquoted comma in the name shifts every later field.
    dir.append(
        "institutions.csv",
        "宝鸡市妇幼保健院,本院,H61030200002,tertiary,610302,",
    );
    let errors = dir.errors();
    check(
        only(&errors),
        "institutions.csv",
        Some(7),
        None,
        "6 fields where the header has 5",
    );
}

#[test]
fn invalid_utf8_is_reported_and_later_rows_still_checked() {
    let dir = TempDir::valid("utf8");
    let mut content = std::fs::read(dir.path().join("divisions.csv")).unwrap();
    content.extend_from_slice(b"610303,\xb3\xc2\xb2\xd6\xc7\xf8\n"); // 陈仓区 in GBK
    content.extend_from_slice(b"61030X,bad\n");
    dir.write("divisions.csv", content);
    let errors = dir.errors();
    assert_eq!(errors.len(), 2, "{errors:#}");
    check(
        &errors.problems[0],
        "divisions.csv",
        Some(8),
        None,
        "not valid UTF-8",
    );
    check(
        &errors.problems[1],
        "divisions.csv",
        Some(9),
        Some("division_code"),
        "6-digit",
    );
}

#[test]
fn one_bad_utf8_byte_in_an_institution_is_one_problem_not_one_per_reference() {
    let dir = TempDir::valid("utf8-institution");
    let mut content = std::fs::read(dir.path().join("institutions.csv")).unwrap();
    content.extend_from_slice(b"\xb1\xa6\xbc\xa6\xca\xd0\xb5\xda\xc8\xfd\xd2\xbd\xd4\xba,H61030200009,secondary,610302,\n");
    dir.write("institutions.csv", content);
    dir.append("agreements.csv", "A9,H61030200009,F-ATV-A,2026-01-01,2026-12-31,100");
    dir.append("agreements.csv", "A10,H61030200009,F-ATV-B,2026-01-01,2026-12-31,100");
    let errors = dir.errors();
    check(only(&errors), "institutions.csv", Some(7), None, "not valid UTF-8");
}

#[test]
fn line_numbers_count_physical_lines_of_quoted_newlines() {
    let dir = TempDir::valid("multiline");
    dir.append(
        "institutions.csv",
        "\"宝鸡市\n妇幼保健院\",H61030200002,tertiary,610302,",
    );
    dir.append(
        "institutions.csv",
        "宝鸡市第三医院,H61030200003,quaternary,610302,",
    );
    let errors = dir.errors();
    check(
        only(&errors),
        "institutions.csv",
        Some(9),
        Some("level"),
        "quaternary",
    );
}

// ---------------------------------------------------------------- values

#[test]
fn empty_required_field() {
    let dir = TempDir::valid("empty-field");
    dir.append("institutions.csv", ",H61030200002,tertiary,610302,");
    let errors = dir.errors();
    check(
        only(&errors),
        "institutions.csv",
        Some(7),
        Some("name"),
        "is empty",
    );
}

#[test]
fn bad_decimal() {
    for bad in ["abc", "1_000", "1e3", "1,5", ".5", "0x10", "1.2.3"] {
        let quoted = format!("\"{bad}\"");
        let errors = with_product(&[("base_units_per_pack", &quoted)]);
        check(
            only(&errors),
            "products.csv",
            Some(8),
            Some("base_units_per_pack"),
            "expected a decimal",
        );
    }
}

#[test]
fn decimal_out_of_range() {
    let errors = with_product(&[(
        "selected_price_per_base_unit",
        "123456789012345678901234567890",
    )]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("selected_price_per_base_unit"),
        "cannot be represented exactly",
    );
}

#[test]
fn non_positive_base_units_per_pack() {
    for bad in ["0", "-7", "0.000"] {
        let errors = with_product(&[("base_units_per_pack", bad)]);
        check(
            only(&errors),
            "products.csv",
            Some(8),
            Some("base_units_per_pack"),
            "greater than 0",
        );
    }
}

#[test]
fn non_positive_selected_price() {
    let errors = with_product(&[("selected_price_per_base_unit", "0")]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("selected_price_per_base_unit"),
        "greater than 0",
    );
}

#[test]
fn negative_or_huge_agreed_volume() {
    for (volume, needle) in [("-1", "must not be negative"), ("100000000000000000000000", "must be at most 1000000000000000")] {
        let dir = TempDir::valid("bad-volume");
        dir.append("agreements.csv", &format!("A4,H61030200001,F-ATV-A,2026-01-01,2026-12-31,{volume}"));
        check(only(&dir.errors()), "agreements.csv", Some(5), Some("agreed_base_units"), needle);
    }
}

#[test]
fn base_units_per_pack_and_price_beyond_their_bounds() {
    for (column, value) in [
        ("base_units_per_pack", "100000000000000000000"),
        ("selected_price_per_base_unit", "1000000.01"),
    ] {
        let errors = with_product(&[(column, value)]);
        check(only(&errors), "products.csv", Some(8), Some(column), "must be at most 1000000");
    }
}

#[test]
fn bad_date() {
    for (bad, needle) in [
        ("2026-2-01", "YYYY-MM-DD"),
        ("2026/02/01", "YYYY-MM-DD"),
        ("20260201", "YYYY-MM-DD"),
        ("2026-02-30", "not a day of the calendar"),
        ("2025-02-29", "not a day of the calendar"),
    ] {
        let dir = TempDir::valid("bad-date");
        dir.append(
            "agreements.csv",
            &format!("A4,H61030200001,F-ATV-A,{bad},2026-12-31,100"),
        );
        let errors = dir.errors();
        check(
            only(&errors),
            "agreements.csv",
            Some(5),
            Some("period_start"),
            needle,
        );
    }
}

#[test]
fn period_end_before_period_start() {
    let dir = TempDir::valid("period");
    dir.append(
        "agreements.csv",
        "A4,H61030200001,F-ATV-A,2026-07-01,2026-06-30,100",
    );
    let errors = dir.errors();
    check(
        only(&errors),
        "agreements.csv",
        Some(5),
        Some("period_end"),
        "before period_start 2026-07-01",
    );
}

#[test]
fn one_day_period_is_valid() {
    let dir = TempDir::valid("one-day");
    dir.append(
        "agreements.csv",
        "A4,H61030200001,F-ATV-A,2026-07-01,2026-07-01,100",
    );
    dir.append(
        "exemptions.csv",
        "E2,H61030200001,G-ATV,2026-07-01,2026-07-01,断供",
    );
    assert!(dir.load().is_ok());
}

#[test]
fn valid_to_before_valid_from() {
    let dir = TempDir::valid("validity");
    dir.append(
        "exemptions.csv",
        "E2,H61030200001,G-ATV,2026-03-31,2026-03-01,断供",
    );
    let errors = dir.errors();
    check(
        only(&errors),
        "exemptions.csv",
        Some(3),
        Some("valid_to"),
        "before valid_from 2026-03-31",
    );
}

#[test]
fn bad_level() {
    let dir = TempDir::valid("level");
    dir.append(
        "institutions.csv",
        "宝鸡市第三医院,H61030200003,Tertiary,610302,",
    );
    let errors = dir.errors();
    check(
        only(&errors),
        "institutions.csv",
        Some(7),
        Some("level"),
        "expected one of tertiary, secondary, primary, private, pharmacy, got \"Tertiary\"",
    );
}

#[test]
fn bad_category() {
    let errors = with_product(&[("category", "device")]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("category"),
        "expected one of drug, consumable",
    );
}

#[test]
fn bad_boolean() {
    let errors = with_product(&[("selected", "yes")]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("selected"),
        "expected true or false, got \"yes\"",
    );
    let errors = with_product(&[("backup_supplier", "1")]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("backup_supplier"),
        "expected true or false",
    );
}

#[test]
fn bad_calendar_kind_and_date() {
    let dir = TempDir::valid("calendar");
    dir.append("calendar.csv", "2026-10-10,rest");
    dir.append("calendar.csv", "2026-10-32,holiday");
    let errors = dir.errors();
    assert_eq!(errors.len(), 2, "{errors:#}");
    // Line 1 of the fixture's calendar.csv is a comment: the header is line 2.
    check(
        &errors.problems[0],
        "calendar.csv",
        Some(5),
        Some("kind"),
        "expected `holiday` or `workday`",
    );
    check(
        &errors.problems[1],
        "calendar.csv",
        Some(6),
        Some("date"),
        "2026-10-32",
    );
}

// ---------------------------------------------------------------- duplicates

#[test]
fn duplicate_codes_in_every_file() {
    let cases = [
        (
            "divisions.csv",
            "610305,凤翔区",
            8,
            "division_code",
            "already defined on line 7",
        ),
        (
            "institutions.csv",
            "凤翔区人民医院,H61030500017,secondary,610305,",
            7,
            "institution_code",
            "line 3",
        ),
        ("products.csv", "", 8, "product_code", "line 2"),
        (
            "agreements.csv",
            "A2,H61030500017,F-ATV-B,2027-01-01,2027-12-31,1",
            5,
            "agreement_id",
            "line 3",
        ),
        (
            "exemptions.csv",
            "E1,H61030500017,G-ATV,2026-05-01,2026-05-31,断供",
            3,
            "exemption_id",
            "line 2",
        ),
    ];
    for (file, row, line, column, needle) in cases {
        let dir = TempDir::valid("duplicate");
        let row = if file == "products.csv" {
            product_row(&[("product_code", "XC10AAA124A001010100874")])
        } else {
            row.to_owned()
        };
        dir.append(file, &row);
        let errors = dir.errors();
        let problem = only(&errors);
        check(problem, file, Some(line), Some(column), "duplicate");
        check(problem, file, Some(line), Some(column), needle);
    }
}

#[test]
fn later_calendar_row_for_same_date_wins() {
    let dir = TempDir::valid("calendar-repeat");
    dir.append("calendar.csv", "2026-10-09,workday");
    let data = dir.load().unwrap();
    let friday = chrono::NaiveDate::from_ymd_opt(2026, 10, 9).unwrap();
    assert!(data.calendar.is_working_day(friday));
}

// ---------------------------------------------------------------- divisions

#[test]
fn bad_division_code_format() {
    for bad in ["61030", "6103050", "61030A", "６１０３０５"] {
        let dir = TempDir::valid("division-format");
        dir.append("divisions.csv", &format!("{bad},某区"));
        let errors = dir.errors();
        check(
            only(&errors),
            "divisions.csv",
            Some(8),
            Some("division_code"),
            "6-digit",
        );
    }
}

#[test]
fn division_whose_city_or_province_is_not_listed() {
    let dir = TempDir::valid("division-parent");
    dir.append("divisions.csv", "610402,秦都区"); // 咸阳市 610400 not listed
    dir.append("divisions.csv", "620102,城关区"); // neither 620100 nor 620000
    let errors = dir.errors();
    assert_eq!(errors.len(), 3, "{errors:#}");
    check(
        &errors.problems[0],
        "divisions.csv",
        Some(8),
        Some("division_code"),
        "the city 610400 of 610402 is not listed",
    );
    check(
        &errors.problems[1],
        "divisions.csv",
        Some(9),
        Some("division_code"),
        "the city 620100",
    );
    check(
        &errors.problems[2],
        "divisions.csv",
        Some(9),
        Some("division_code"),
        "the province 620000",
    );
}

#[test]
fn institution_with_bad_or_unknown_division() {
    let dir = TempDir::valid("institution-division");
    dir.append("institutions.csv", "某医院,H61030200002,tertiary,610399,");
    dir.append("institutions.csv", "某医院,H61030200003,tertiary,6103,");
    let errors = dir.errors();
    assert_eq!(errors.len(), 2, "{errors:#}");
    check(
        &errors.problems[0],
        "institutions.csv",
        Some(7),
        Some("division_code"),
        "unknown division_code \"610399\": not listed in divisions.csv",
    );
    check(
        &errors.problems[1],
        "institutions.csv",
        Some(8),
        Some("division_code"),
        "6-digit",
    );
}

// ---------------------------------------------------------------- references

#[test]
fn agreement_for_unknown_institution_or_family() {
    let dir = TempDir::valid("agreement-refs");
    dir.append(
        "agreements.csv",
        "A4,H99999999999,F-ATV-A,2026-01-01,2026-12-31,100",
    );
    dir.append(
        "agreements.csv",
        "A5,H61030200001,F-NONE,2026-01-01,2026-12-31,100",
    );
    let errors = dir.errors();
    assert_eq!(errors.len(), 2, "{errors:#}");
    check(
        &errors.problems[0],
        "agreements.csv",
        Some(5),
        Some("institution_code"),
        "unknown institution_code \"H99999999999\": not listed in institutions.csv",
    );
    check(
        &errors.problems[1],
        "agreements.csv",
        Some(6),
        Some("family_id"),
        "unknown family_id \"F-NONE\": not listed in products.csv",
    );
}

#[test]
fn exemption_for_unknown_institution_or_group() {
    let dir = TempDir::valid("exemption-refs");
    dir.append(
        "exemptions.csv",
        "E2,H99999999999,G-ATV,2026-03-01,2026-03-31,断供",
    );
    dir.append(
        "exemptions.csv",
        "E3,H61030200001,G-NONE,2026-03-01,2026-03-31,断供",
    );
    let errors = dir.errors();
    assert_eq!(errors.len(), 2, "{errors:#}");
    check(
        &errors.problems[0],
        "exemptions.csv",
        Some(3),
        Some("institution_code"),
        "unknown institution_code",
    );
    check(
        &errors.problems[1],
        "exemptions.csv",
        Some(4),
        Some("group_id"),
        "unknown group_id \"G-NONE\"",
    );
}

#[test]
fn reference_to_a_broken_row_is_reported_once() {
    let dir = TempDir::valid("broken-target");
    // Line 3's institution gets a bad level; agreements A2 and A3 and
    // exemption E1 refer to it and must not add "unknown" problems.
    dir.replace(
        "institutions.csv",
        "H61030500017,secondary",
        "H61030500017,second",
    );
    let errors = dir.errors();
    check(
        only(&errors),
        "institutions.csv",
        Some(3),
        Some("level"),
        "\"second\"",
    );
}

// ---------------------------------------------------------------- products

#[test]
fn selected_product_without_price() {
    let errors = with_product(&[("selected_price_per_base_unit", "")]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("selected_price_per_base_unit"),
        "a selected product needs its selected price",
    );
}

#[test]
fn selected_product_without_family() {
    let errors = with_product(&[("family_id", "")]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("family_id"),
        "a selected product needs a family_id",
    );
}

#[test]
fn selected_product_without_batch() {
    let errors = with_product(&[("batch", "")]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("batch"),
        "a selected product needs its batch",
    );
}

#[test]
fn non_selected_product_with_family() {
    let errors = with_product(&[("selected", "false"), ("selected_price_per_base_unit", "")]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("family_id"),
        "a non-selected product belongs to no family",
    );
}

#[test]
fn non_selected_product_with_selected_price() {
    let errors = with_product(&[("selected", "false"), ("family_id", "")]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("selected_price_per_base_unit"),
        "only selected products have a selected price",
    );
}

#[test]
fn family_spanning_several_groups() {
    let errors = with_product(&[("group_id", "G-OTHER")]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("group_id"),
        "family \"F-ATV-A\" spans several groups: \"G-ATV\" (line 2) and \"G-OTHER\"",
    );
}

#[test]
fn family_spanning_several_enterprises() {
    let errors = with_product(&[("enterprise", "乙制药有限公司")]);
    check(
        only(&errors),
        "products.csv",
        Some(8),
        Some("enterprise"),
        "spans several enterprises: \"甲制药有限公司\" (line 2) and \"乙制药有限公司\"",
    );
}

#[test]
fn header_only_products_with_agreements_reports_unknown_families() {
    let dir = TempDir::valid("no-products");
    dir.write("products.csv", format!("{PRODUCTS_HEADER}\n"));
    let errors = dir.errors();
    let families: Vec<u64> = errors
        .iter()
        .filter(|p| p.file == "agreements.csv")
        .filter_map(|p| p.line)
        .collect();
    assert_eq!(families, [2, 3, 4], "{errors:#}");
    assert!(errors
        .iter()
        .any(|p| p.file == "exemptions.csv" && p.column.as_deref() == Some("group_id")));
}

// ---------------------------------------------------------------- reporting

#[test]
fn all_problems_are_reported_at_once_in_file_order() {
    let dir = TempDir::valid("all-at-once");
    dir.append(
        "exemptions.csv",
        "E2,H61030200001,G-ATV,2026-03-31,2026-03-01,断供",
    );
    dir.append(
        "agreements.csv",
        "A4,H61030200001,F-ATV-A,2026-01-01,2026-12-31,-5",
    );
    dir.append(
        "products.csv",
        &product_row(&[("category", "device"), ("selected", "maybe")]),
    );
    dir.append("institutions.csv", "某医院,H61030200002,tertiary,610399,");
    let errors = dir.errors();
    let places: Vec<(&str, Option<u64>, Option<&str>)> = errors
        .iter()
        .map(|p| (p.file.as_str(), p.line, p.column.as_deref()))
        .collect();
    assert_eq!(
        places,
        [
            ("institutions.csv", Some(7), Some("division_code")),
            ("products.csv", Some(8), Some("category")),
            ("products.csv", Some(8), Some("selected")),
            ("agreements.csv", Some(5), Some("agreed_base_units")),
            ("exemptions.csv", Some(3), Some("valid_to")),
        ]
    );
}

#[test]
fn display_is_file_line_column_message_one_per_line() {
    let errors = with_product(&[("selected_price_per_base_unit", "")]);
    assert_eq!(
        errors.to_string(),
        "products.csv:8:selected_price_per_base_unit: a selected product needs its selected price per base unit"
    );
    let problem = ReferenceProblem {
        file: "products.csv".into(),
        line: None,
        column: None,
        message: "required file is missing".into(),
    };
    assert_eq!(
        problem.to_string(),
        "products.csv: required file is missing"
    );
    let problem = ReferenceProblem {
        line: Some(3),
        ..problem
    };
    assert_eq!(
        problem.to_string(),
        "products.csv:3: required file is missing"
    );

    let dir = TempDir::valid("display-lines");
    dir.append(
        "agreements.csv",
        "A4,H61030200001,F-ATV-A,2026-01-01,2026-12-31,-5",
    );
    dir.append(
        "agreements.csv",
        "A5,H61030200001,F-ATV-A,2026-01-01,2026-12-31,-6",
    );
    let text = dir.errors().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("agreements.csv:5:agreed_base_units: "));
    assert!(lines[1].starts_with("agreements.csv:6:agreed_base_units: "));
}

#[test]
fn display_summarises_very_long_lists_unless_alternate() {
    let dir = TempDir::valid("display-limit");
    let mut content = std::fs::read_to_string(dir.path().join("agreements.csv")).unwrap();
    for i in 0..250 {
        content.push_str(&format!(
            "X{i},H61030200001,F-ATV-A,2026-01-01,2026-12-31,-1\n"
        ));
    }
    dir.write("agreements.csv", content);
    let errors = dir.errors();
    assert_eq!(errors.len(), 250);
    let short = errors.to_string();
    assert_eq!(short.lines().count(), 201);
    assert!(short.ends_with("… and 50 more problems (250 in all)"));
    assert_eq!(format!("{errors:#}").lines().count(), 250);
    let as_error: &dyn std::error::Error = &errors;
    assert!(as_error.source().is_none());
}

#[test]
fn substitutes_and_enterprises_are_optional_and_load_when_valid() {
    let dir = TempDir::valid("substitutes-valid");
    dir.write("substitutes.csv", "group_id,product_code\nG-ATV,C12345678901234567890123456\n");
    dir.write("enterprises.csv", "enterprise,contact,phone\n甲制药有限公司,王经理,029-88886666\n");
    let data = vbp_detectors::reference::ReferenceData::load(dir.path()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(data.substitutes.len(), 1);
    let substitute = data.product("C12345678901234567890123456").unwrap();
    assert!(data.is_substitute(substitute));
    assert!(!data.is_substitute(data.product("XC10AAA124A001010100874").unwrap()));
    assert_eq!(data.enterprise("甲制药有限公司").map(|e| e.phone.as_str()), Some("029-88886666"));
    assert!(data.enterprise("乙制药有限公司").is_none());
}

#[test]
fn a_substitute_inside_its_own_group_an_unknown_product_or_group_and_a_duplicate_row_are_each_reported() {
    let dir = TempDir::valid("substitutes-bad");
    dir.write(
        "substitutes.csv",
        "group_id,product_code
G-ATV,XC10AAA124A001010100874
G-ATV,XNOPE
G-NONE,C12345678901234567890123456
G-ATV,C12345678901234567890123456
G-ATV,C12345678901234567890123456
",
    );
    let errors = dir.errors();
    assert_eq!(errors.len(), 4, "{errors:#}");
    check(&errors.problems[0], "substitutes.csv", Some(2), Some("product_code"), "must be outside the group it replaces");
    check(&errors.problems[1], "substitutes.csv", Some(3), Some("product_code"), "unknown product_code \"XNOPE\"");
    check(&errors.problems[2], "substitutes.csv", Some(4), Some("group_id"), "unknown group_id \"G-NONE\"");
    check(&errors.problems[3], "substitutes.csv", Some(6), Some("product_code"), "already listed on line 5");
}

#[test]
fn an_enterprise_no_product_names_a_duplicate_and_an_empty_phone_are_each_reported() {
    let dir = TempDir::valid("enterprises-bad");
    dir.write(
        "enterprises.csv",
        "enterprise,contact,phone
甲制药有限公司,王经理,029-88886666
甲制药有限公司,李经理,029-88887777
甲制药,张经理,029-1
乙制药有限公司,赵经理,
",
    );
    let errors = dir.errors();
    assert_eq!(errors.len(), 3, "{errors:#}");
    check(&errors.problems[0], "enterprises.csv", Some(3), Some("enterprise"), "already listed on line 2");
    check(&errors.problems[1], "enterprises.csv", Some(4), Some("enterprise"), "named by no product in products.csv");
    check(&errors.problems[2], "enterprises.csv", Some(5), Some("phone"), "");
}
