//! The decoder and `json/event.schema.json` agree: for a few thousand
//! mutations of the valid examples, the decoder accepts ⇔ the schema
//! validates.
//!
//! What the schema cannot express, and the decoder checks in addition (see
//! `known_disagreements`):
//! - the size limit (`too_large`): no keyword constrains a whole message;
//! - repeated keys: a parsed JSON value keeps only one of them;
//! - the range of `rust_decimal` (at most 28 decimal places, magnitude
//!   below 2^96 ≈ 7.9e28);
//! - exactness of JSON numbers with more significant digits than an `f64`
//!   holds (~15–17): schema validators compare such numbers as floats.
//!
//! Everything else — required fields, null as missing, types, signs, the
//! 2-decimal rule for money, the timestamp shape and calendar validity,
//! the eight type names, extra fields allowed — is in both.

mod common;

use vbp_schemas::{decode, DecodeLimits};

use common::{examples_dir, Schemas};

/// An event as an ordered list of (key, JSON text of the value), so numbers
/// keep the exact token we wrote.
type Fields = Vec<(String, String)>;

fn render(fields: &Fields) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// The examples, split into fields (their values re-serialized by serde_json,
/// which keeps their meaning).
fn bases() -> Vec<Fields> {
    [
        "order.placed",
        "order.cancelled",
        "delivery.received",
        "delivery.accepted",
        "payment.made",
        "complaint.filed",
        "complaint.replied",
        "complaint.resolved",
    ]
    .iter()
    .map(|t| {
        let text = std::fs::read_to_string(examples_dir().join(format!("{t}.json"))).unwrap();
        let raw: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
        raw.into_iter().map(|(k, v)| (k, v.to_string())).collect()
    })
    .collect()
}

/// Values tried in every field: each is right for some field and wrong for
/// others, and many sit on a boundary of a rule.
const VALUES: &[&str] = &[
    // JSON types
    "null",
    "true",
    "false",
    "[]",
    "{}",
    "[\"1\"]",
    "{\"v\":1}",
    // numbers
    "0",
    "-0",
    "1",
    "-1",
    "0.5",
    "12.5",
    "4.35",
    "4.350",
    "4.355",
    "0.01",
    "0.001",
    "-0.01",
    "1e2",
    "1E-2",
    "1.5e1",
    "12e-3",
    "435e-2",
    "120",
    "1e-28",
    "0.0000000000000000000000000001",
    // decimal strings
    "\"\"",
    "\"0\"",
    "\"-0\"",
    "\"0.00\"",
    "\"1\"",
    "\"-1\"",
    "\"0.5\"",
    "\"4.35\"",
    "\"4.350\"",
    "\"4.355\"",
    "\"0.01\"",
    "\"0.010\"",
    "\"0.001\"",
    "\"007\"",
    "\"1e2\"",
    "\"+1\"",
    "\" 1\"",
    "\"1 \"",
    "\"1.\"",
    "\".5\"",
    "\"NaN\"",
    "\"Infinity\"",
    "\"1,000\"",
    "\"０\"",
    // strings
    "\"abc\"",
    "\"H61030500017\"",
    "\"中文\"",
    "\"a\\\"b\"",
    "\"\\u0041\"",
    "\"true\"",
    // type names
    "\"order.placed\"",
    "\"order.cancelled\"",
    "\"delivery.received\"",
    "\"delivery.accepted\"",
    "\"payment.made\"",
    "\"complaint.filed\"",
    "\"complaint.replied\"",
    "\"complaint.resolved\"",
    "\"order.shipped\"",
    // complaint kinds
    "\"not_delivered\"",
    "\"short_delivery\"",
    "\"quality\"",
    "\"other\"",
    "\"Quality\"",
    "\"not delivered\"",
    // dates
    "\"2026-10-12\"",
    "\"2024-02-29\"",
    "\"2026-02-29\"",
    "\"2026-13-01\"",
    "\"2026-1-5\"",
    "\"20261012\"",
    "\"2026-10-12T00:00:00+08:00\"",
    "\" 2026-10-12\"",
    "\"Order.Placed\"",
    // timestamps
    "\"2026-03-02T09:15:00+08:00\"",
    "\"2026-03-02T09:15:00Z\"",
    "\"2026-03-02t09:15:00z\"",
    "\"2026-03-02T09:15:00.5+08:00\"",
    "\"2026-03-02T09:15:00.123456789-05:30\"",
    "\"2024-02-29T00:00:00+08:00\"",
    "\"2026-03-02T09:15:00+23:59\"",
    "\"2026-03-02T09:15:00-00:01\"",
    "\"9999-12-31T23:59:59Z\"",
    "\"2026-03-02T09:15:00\"",
    "\"2026-03-02 09:15:00+08:00\"",
    "\"2026-03-02\"",
    "\"2026-03-02T09:15:00-00:00\"",
    "\"2026-03-02T09:15:00+24:00\"",
    "\"2026-03-02T09:15:00+08:60\"",
    "\"2026-02-29T00:00:00+08:00\"",
    "\"2026-04-31T00:00:00+08:00\"",
    "\"2026-12-31T23:59:60Z\"",
    "\"2026-03-02T09:15:00.1234567891Z\"",
    "\"2026-03-02T09:15:00+0800\"",
    "\"2026-03-02T09:15:00.+08:00\"",
    "\"2026-03-02T24:00:00Z\"",
    "\"2026-00-02T09:15:00Z\"",
    "\"2026-03-00T09:15:00Z\"",
    "\"+2026-03-02T09:15:00Z\"",
];

/// Fields added to every base: some belong to other types, with values
/// wrong for them, to check they are ignored (forward compatibility).
const EXTRA_FIELDS: &[(&str, &str)] = &[
    ("note", "\"rush\""),
    ("schema_version", "2"),
    ("institution_code", "5"),
    ("distributor", "null"),
    ("amount", "\"-1\""),
    ("special_service", "\"yes\""),
];

/// Complaint texts at and past the 2,000-character limit, in characters
/// of three bytes each (the limit counts characters, not bytes).
fn long_texts() -> Vec<String> {
    [1_999, 2_000, 2_001]
        .iter()
        .map(|&n| serde_json::to_string(&"供".repeat(n)).unwrap())
        .collect()
}

fn mutations() -> Vec<(String, String)> {
    let mut cases = Vec::new();
    let long = long_texts();
    for base in bases() {
        let kind = base
            .iter()
            .find(|(k, _)| k == "type")
            .map(|(_, v)| v.clone())
            .unwrap();
        cases.push((format!("{kind} as is"), render(&base)));
        for i in 0..base.len() {
            let mut without = base.clone();
            let (key, _) = without.remove(i);
            cases.push((format!("{kind} without {key}"), render(&without)));
            for value in VALUES.iter().copied().chain(long.iter().map(String::as_str)) {
                let mut changed = base.clone();
                changed[i].1 = (*value).to_owned();
                cases.push((format!("{kind} {key}={value}"), render(&changed)));
            }
        }
        for value in VALUES
            .iter()
            .filter(|_| base.iter().all(|(k, _)| k != "special_service"))
        {
            let mut with_flag = base.clone();
            with_flag.push(("special_service".into(), (*value).to_owned()));
            cases.push((
                format!("{kind} special_service={value}"),
                render(&with_flag),
            ));
        }
        for (key, value) in EXTRA_FIELDS {
            if base.iter().all(|(k, _)| k != key) {
                let mut extended = base.clone();
                extended.push(((*key).to_owned(), (*value).to_owned()));
                cases.push((format!("{kind} +{key}={value}"), render(&extended)));
            }
        }
    }
    cases
}

/// The default limits with every instant accepted: the window of
/// `occurred_at` is the pipeline's configuration, which no schema states.
fn every_instant() -> DecodeLimits {
    let window = vbp_schemas::OccurredWindow {
        earliest: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        latest: vbp_schemas::Latest::At(chrono::DateTime::<chrono::Utc>::MAX_UTC),
    };
    DecodeLimits { occurred_at: window, ..DecodeLimits::default() }
}

#[test]
fn decoder_accepts_exactly_what_the_schema_validates() {
    let schemas = Schemas::load();
    let cases = mutations();
    assert!(cases.len() > 1000, "only {} cases", cases.len());
    let (mut accepted, mut disagreements) = (0, Vec::new());
    for (what, text) in &cases {
        let instance: serde_json::Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
        let schema_ok = schemas.is_valid("event.schema.json", &instance);
        let decoded = decode(text.as_bytes(), &every_instant());
        accepted += usize::from(decoded.is_ok());
        if schema_ok != decoded.is_ok() {
            disagreements.push(format!(
                "{what}: schema {} / decoder {:?}",
                if schema_ok {
                    "valid".to_owned()
                } else {
                    format!(
                        "invalid {:?}",
                        schemas.errors("event.schema.json", &instance)
                    )
                },
                decoded.map(|_| "accepted").map_err(|r| r.to_string()),
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} disagree:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
    // The set must exercise both sides, not just reject everything.
    assert!(
        accepted > 200 && accepted < cases.len() - 500,
        "accepted {accepted} of {}",
        cases.len()
    );
}

#[test]
fn known_disagreements_are_only_these() {
    let schemas = Schemas::load();
    let base = render(&bases()[0]);
    let with = |key: &str, value: &str| {
        base.replacen(
            &format!("\"{key}\":"),
            &format!("\"{key}\":{value},\"_was\":"),
            1,
        )
    };
    let cases = [
        ("decimal out of range", with("quantity_packs", "1e30")),
        (
            "decimal beyond 28 places",
            with("quantity_packs", "\"0.00000000000000000000000000001\""),
        ),
        (
            "number beyond f64 precision",
            with("unit_price", "4.3500000000000000001"),
        ),
        // serde_json keeps the last of repeated keys, so the bad one goes first.
        (
            "repeated key",
            base.replacen('{', "{\"unit_price\":\"-1\",", 1),
        ),
    ];
    for (what, text) in cases {
        let instance: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            schemas.is_valid("event.schema.json", &instance),
            "{what}: schema should (wrongly) accept {text}"
        );
        assert!(
            decode(text.as_bytes(), &DecodeLimits::default()).is_err(),
            "{what}: decoder must reject"
        );
    }
    // Size: the schema never sees it; the decoder rejects before parsing.
    let small = DecodeLimits {
        max_message_bytes: 64,
        ..DecodeLimits::default()
    };
    assert!(decode(base.as_bytes(), &small).is_err());
}
