//! The schema files are well-formed 2020-12 schemas, and every example in
//! `examples/` validates against its schema and (for events) decodes to the
//! typed value written out here by hand.

mod common;

use std::str::FromStr;

use chrono::DateTime;
use rust_decimal::Decimal;
use serde_json::Value;
use vbp_schemas::{
    decode, DeadLetter, DecodeLimits, DeliveryAccepted, DeliveryReceived, Event, EventBody,
    OrderCancelled, OrderPlaced, PaymentMade, Reason, Source,
};

use common::{examples_dir, read_json, schema_documents, Schemas};

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn at(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

const ORDER: &str = "ORD-H61030500017-20260302-001";
const DELIVERY: &str = "DLV-20260303-61-00093";
const INSTITUTION: &str = "H61030500017";

/// (example file, its schema, the event it must decode to).
fn event_examples() -> Vec<(&'static str, &'static str, Event)> {
    vec![
        (
            "order.placed.json",
            "order.placed.schema.json",
            Event {
                event_id: "evt-20260302-0000417".into(),
                occurred_at: at("2026-03-02T09:15:00+08:00"),
                body: EventBody::OrderPlaced(OrderPlaced {
                    order_id: ORDER.into(),
                    institution_code: INSTITUTION.into(),
                    product_code: "XC10AAA124A001010100874".into(),
                    quantity_packs: dec("120"),
                    unit_price: dec("4.35"),
                    special_service: false,
                }),
            },
        ),
        (
            "order.cancelled.json",
            "order.cancelled.schema.json",
            Event {
                event_id: "evt-20260303-0000102".into(),
                occurred_at: at("2026-03-03T14:02:31+08:00"),
                body: EventBody::OrderCancelled(OrderCancelled {
                    order_id: ORDER.into(),
                    quantity_packs: dec("20"),
                }),
            },
        ),
        (
            "delivery.received.json",
            "delivery.received.schema.json",
            Event {
                event_id: "evt-20260303-0000388".into(),
                occurred_at: at("2026-03-03T16:40:00.250+08:00"),
                body: EventBody::DeliveryReceived(DeliveryReceived {
                    delivery_id: DELIVERY.into(),
                    order_id: ORDER.into(),
                    quantity_packs: dec("100"),
                    distributor: "国药控股陕西有限公司".into(),
                }),
            },
        ),
        (
            "delivery.accepted.json",
            "delivery.accepted.schema.json",
            Event {
                event_id: "evt-20260304-0000051".into(),
                occurred_at: at("2026-03-04T10:05:12+08:00"),
                body: EventBody::DeliveryAccepted(DeliveryAccepted {
                    delivery_id: DELIVERY.into(),
                    order_id: ORDER.into(),
                    accepted_quantity_packs: dec("100"),
                    amount: dec("435.00"),
                }),
            },
        ),
        (
            "payment.made.json",
            "payment.made.schema.json",
            Event {
                event_id: "evt-20260415-0000007".into(),
                occurred_at: at("2026-04-15T11:30:00+08:00"),
                body: EventBody::PaymentMade(PaymentMade {
                    payment_id: "PAY-H61030500017-202604-0012".into(),
                    institution_code: INSTITUTION.into(),
                    delivery_id: DELIVERY.into(),
                    amount: dec("435"),
                }),
            },
        ),
    ]
}

#[test]
fn schema_files_are_2020_12_with_ids_and_pass_the_meta_schema() {
    let docs = schema_documents();
    assert!(
        docs.len() >= 8,
        "expected the 8 schema files, found {:?}",
        docs.keys()
    );
    for (name, doc) in &docs {
        assert_eq!(
            doc["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        let id = doc["$id"].as_str().unwrap_or_else(|| panic!("{name}: $id"));
        assert!(
            id.ends_with(&format!("/{name}")),
            "{name}: $id {id} should end with the file name"
        );
        assert!(
            jsonschema::meta::is_valid(doc),
            "{name} fails the 2020-12 meta-schema"
        );
    }
}

#[test]
fn event_schemas_allow_extra_fields_explicitly() {
    let docs = schema_documents();
    for t in vbp_schemas::EventType::ALL {
        let doc = &docs[&format!("{}.schema.json", t.as_str())];
        assert_eq!(
            doc["additionalProperties"],
            Value::Bool(true),
            "{}",
            t.as_str()
        );
        assert_eq!(doc["properties"]["type"]["const"], t.as_str());
    }
}

#[test]
fn event_examples_validate_and_decode_to_the_expected_value() {
    let schemas = Schemas::load();
    for (file, schema, expected) in event_examples() {
        let path = examples_dir().join(file);
        let instance = read_json(&path);
        assert!(
            schemas.is_valid(schema, &instance),
            "{file}: {:?}",
            schemas.errors(schema, &instance)
        );
        assert!(
            schemas.is_valid("event.schema.json", &instance),
            "{file} vs event.schema.json"
        );
        let bytes = std::fs::read(&path).unwrap();
        let decoded =
            decode(&bytes, &DecodeLimits::default()).unwrap_or_else(|r| panic!("{file}: {r}"));
        assert_eq!(decoded, expected, "{file}");
        assert_eq!(
            decoded.body.event_type().as_str(),
            instance["type"],
            "{file}"
        );
    }
}

#[test]
fn each_event_example_fails_the_other_types_schemas() {
    let schemas = Schemas::load();
    for (file, own, _) in event_examples() {
        let instance = read_json(&examples_dir().join(file));
        for (_, other, _) in event_examples() {
            if other != own {
                assert!(
                    !schemas.is_valid(other, &instance),
                    "{file} should not pass {other}"
                );
            }
        }
    }
}

#[test]
fn scale_of_decimal_strings_is_kept() {
    let bytes = std::fs::read(examples_dir().join("delivery.accepted.json")).unwrap();
    let event = decode(&bytes, &DecodeLimits::default()).unwrap();
    let EventBody::DeliveryAccepted(accepted) = event.body else {
        panic!("wrong type")
    };
    assert_eq!(accepted.amount.to_string(), "435.00");
}

#[test]
fn alert_example_validates() {
    let schemas = Schemas::load();
    let alert = read_json(&examples_dir().join("alert.json"));
    assert!(
        schemas.is_valid("alert.schema.json", &alert),
        "{:?}",
        schemas.errors("alert.schema.json", &alert)
    );
}

#[test]
fn alert_schema_holds_labels_to_the_alert() {
    let schemas = Schemas::load();
    let alert = read_json(&examples_dir().join("alert.json"));
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut a = alert.clone();
        f(&mut a);
        schemas.is_valid("alert.schema.json", &a)
    };
    assert!(
        !mutate(&|a| a["labels"]["severity"] = "warning".into()),
        "label severity must match"
    );
    assert!(
        !mutate(&|a| a["labels"]["alertname"] = "SupplyBreak".into()),
        "label alertname must match"
    );
    assert!(
        !mutate(&|a| {
            a["labels"].as_object_mut().unwrap().remove("product_code");
        }),
        "key label required"
    );
    assert!(!mutate(&|a| a["status"] = "pending".into()));
    assert!(!mutate(&|a| a["alertname"] = "Unknown".into()));
    assert!(!mutate(&|a| a["labels"]["division_code"] = "6103".into()));
    assert!(
        !mutate(&|a| a["labels"]["extra"] = 5.into()),
        "labels are strings"
    );
    assert!(
        !mutate(&|a| a["at"] = "2026-03-11T00:00:00".into()),
        "offset required"
    );
    assert!(mutate(&|a| {
        a["severity"] = "warning".into();
        a["labels"]["severity"] = "warning".into();
    }));
    assert!(mutate(&|a| a["status"] = "resolved".into()));
    // SupplyBreak is keyed by city and product and is always critical.
    let supply_break = |severity: &str| {
        mutate(&|a| {
            a["alertname"] = "SupplyBreak".into();
            a["labels"]["alertname"] = "SupplyBreak".into();
            a["severity"] = severity.into();
            a["labels"]["severity"] = severity.into();
        })
    };
    assert!(supply_break("critical"));
    assert!(!supply_break("warning"));
}

#[test]
fn dead_letter_example_validates_and_parses() {
    let schemas = Schemas::load();
    let path = examples_dir().join("dead-letter.json");
    let record = read_json(&path);
    assert!(
        schemas.is_valid("dead-letter.schema.json", &record),
        "{:?}",
        schemas.errors("dead-letter.schema.json", &record)
    );
    let line = std::fs::read_to_string(&path).unwrap();
    let dl = DeadLetter::from_json_line(line.trim_end()).unwrap();
    assert_eq!(dl.reason, Reason::BadValue);
    assert_eq!(
        dl.source,
        Source::File {
            file: "events/orders.ndjson".into(),
            line: 1024
        }
    );
    // The example is what the pipeline would really write for that input.
    let rejection = decode(&dl.raw, &DecodeLimits::default()).unwrap_err();
    assert_eq!(rejection.reason, dl.reason);
    assert_eq!(rejection.detail, dl.detail);
    assert_eq!(
        DeadLetter::new(rejection, dl.source.clone(), dl.raw.clone()).to_json_line(),
        line.trim_end()
    );
}
