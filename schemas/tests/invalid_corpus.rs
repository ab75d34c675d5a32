//! `examples/invalid/<reason>__<what>.{json,bin}`: each file is rejected
//! with the reason in its name, every decoder reason is covered, and the
//! JSON Schema rejects the same files — except the few it cannot see.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use vbp_schemas::{decode, DecodeLimits, Reason};

use common::{invalid_dir, Schemas};

/// The reasons the decoder produces (the others need reference data or state).
const DECODER_REASONS: [Reason; 5] = [
    Reason::MalformedJson,
    Reason::UnknownType,
    Reason::MissingField,
    Reason::BadValue,
    Reason::TooLarge,
];

/// Corpus files the schema accepts although the decoder rejects them, and why
/// no JSON Schema can do better. Anything not listed here must be rejected
/// by both.
const SCHEMA_CANNOT_SEE: [(&str, &str); 5] = [
    (
        "malformed_json__duplicate_key.json",
        "a parsed JSON value keeps one of the repeated keys",
    ),
    (
        "too_large__padded_order.json",
        "JSON Schema has no keyword for the size of the whole message",
    ),
    (
        "bad_value__quantity_out_of_range_number.json",
        "rust_decimal range (< 2^96) is not expressible",
    ),
    (
        "bad_value__quantity_out_of_range_string.json",
        "rust_decimal range (< 2^96) is not expressible",
    ),
    (
        "bad_value__quantity_too_many_decimal_places.json",
        "rust_decimal scale (≤ 28) is not expressible",
    ),
];

fn corpus() -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(invalid_dir())
        .expect("examples/invalid exists")
        .map(|e| e.expect("dir entry").path())
        .map(|p| {
            (
                p.file_name()
                    .and_then(|n| n.to_str())
                    .expect("utf-8 name")
                    .to_owned(),
                p,
            )
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "corpus looks truncated: {} files",
        files.len()
    );
    files
}

fn expected_reason(name: &str) -> Reason {
    let code = name
        .split_once("__")
        .unwrap_or_else(|| panic!("{name}: expected <reason>__<what>.json"))
        .0;
    Reason::from_code(code).unwrap_or_else(|| panic!("{name}: unknown reason code {code}"))
}

#[test]
fn every_corpus_file_is_rejected_with_the_reason_in_its_name() {
    let mut failures = Vec::new();
    for (name, path) in corpus() {
        let bytes = std::fs::read(&path).unwrap();
        let expected = expected_reason(&name);
        match decode(&bytes, &DecodeLimits::default()) {
            Ok(event) => failures.push(format!("{name}: accepted as {event:?}")),
            Err(r) if r.reason != expected => failures.push(format!("{name}: {r}")),
            Err(r) => assert!(!r.detail.is_empty(), "{name}: empty detail"),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_covers_every_decoder_reason() {
    let covered: BTreeSet<Reason> = corpus()
        .iter()
        .map(|(name, _)| expected_reason(name))
        .collect();
    for reason in DECODER_REASONS {
        assert!(covered.contains(&reason), "no corpus file for {reason}");
    }
    assert!(
        corpus().iter().any(|(name, _)| name.ends_with(".bin")),
        "no non-UTF-8 sample"
    );
}

#[test]
fn schema_rejects_the_corpus_too() {
    let schemas = Schemas::load();
    let mut failures = Vec::new();
    for (name, path) in corpus() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        }; // not UTF-8: no JSON value at all
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        }; // not JSON
        let valid = schemas.is_valid("event.schema.json", &value);
        let exempt = SCHEMA_CANNOT_SEE.iter().any(|(n, _)| *n == name);
        if valid != exempt {
            failures.push(format!(
                "{name}: schema valid = {valid}, listed as schema-blind = {exempt}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_field_details_name_the_field() {
    for (name, path) in corpus() {
        let Some(what) = name.strip_prefix("missing_field__") else {
            continue;
        };
        let detail = decode(&std::fs::read(&path).unwrap(), &DecodeLimits::default())
            .unwrap_err()
            .detail;
        let field = [
            "event_id",
            "type",
            "occurred_at",
            "order_id",
            "institution_code",
            "product_code",
            "accepted_quantity_packs",
            "quantity_packs",
            "unit_price",
            "distributor",
            "delivery_id",
            "payment_id",
            "amount",
        ]
        .into_iter()
        .find(|f| what.contains(f))
        .unwrap_or_else(|| panic!("{name}: which field?"));
        assert!(detail.contains(&format!("`{field}`")), "{name}: {detail}");
    }
}
