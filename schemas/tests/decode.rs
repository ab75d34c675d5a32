//! Decoder behaviour a producer or an operator relies on: the exact
//! rejection messages, the size limit, tolerated framing, defaults.

use std::str::FromStr;

use rust_decimal::Decimal;
use vbp_schemas::{decode, DecodeLimits, EventBody, EventType, Reason, Rejection};

const ORDER_PLACED: &str = r#"{"event_id":"evt-1","type":"order.placed","occurred_at":"2026-03-02T09:15:00+08:00","order_id":"ORD-1","institution_code":"H61030500017","product_code":"XC10AAA124A001010100874","quantity_packs":"120","unit_price":"4.35"}"#;

fn reject(text: &str) -> Rejection {
    decode(text.as_bytes(), &DecodeLimits::default()).expect_err(text)
}

/// The order with `key` set to the JSON text `value` (the old value, if
/// any, is kept under another name so the key is not repeated).
fn with(key: &str, value: &str) -> String {
    let marker = format!("\"{key}\":");
    if ORDER_PLACED.contains(&marker) {
        ORDER_PLACED.replacen(&marker, &format!("{marker}{value},\"_old\":"), 1)
    } else {
        ORDER_PLACED.replacen('}', &format!(",{marker}{value}}}"), 1)
    }
}

#[test]
fn every_decoder_reason_is_produced() {
    let small = DecodeLimits {
        max_message_bytes: 10,
        ..DecodeLimits::default()
    };
    let cases = [
        (
            decode(ORDER_PLACED.as_bytes(), &small).unwrap_err(),
            Reason::TooLarge,
        ),
        (reject("{"), Reason::MalformedJson),
        (
            reject(&ORDER_PLACED.replace("order.placed", "order.shipped")),
            Reason::UnknownType,
        ),
        (
            reject(&ORDER_PLACED.replace("\"unit_price\"", "\"price\"")),
            Reason::MissingField,
        ),
        (reject(&with("quantity_packs", "\"-3\"")), Reason::BadValue),
    ];
    for (rejection, reason) in cases {
        assert_eq!(rejection.reason, reason, "{rejection}");
    }
}

#[test]
fn details_say_field_rule_and_value() {
    let cases = [
        (with("quantity_packs", "\"-3\""), "field `quantity_packs`: must be > 0, got \"-3\""),
        (with("quantity_packs", "0"), "field `quantity_packs`: must be > 0, got 0"),
        (with("unit_price", "-0.01"), "field `unit_price`: must be ≥ 0, got -0.01"),
        (with("unit_price", "\"4.355\""), "field `unit_price`: must have at most 2 decimal places (yuan to the fen), got \"4.355\""),
        (ORDER_PLACED.replace(",\"unit_price\":\"4.35\"", ""), "field `unit_price`: missing or null; it is required for order.placed"),
        (with("event_id", "null"), "field `event_id`: missing or null; it is required for every event"),
        (with("order_id", "\"\""), "field `order_id`: must be a non-empty string, got \"\""),
        (with("special_service", "\"yes\""), "field `special_service`: must be true or false (a JSON boolean), got \"yes\""),
        (
            with("occurred_at", "\"2026-03-02T09:15:00\""),
            "field `occurred_at`: has no UTC offset; add Z or ±hh:mm (China Standard Time is +08:00), e.g. \"2026-03-02T09:15:00+08:00\", got \"2026-03-02T09:15:00\"",
        ),
        (
            with("type", "\"order.shipped\""),
            "field `type`: must be one of order.placed, order.cancelled, delivery.received, delivery.accepted, payment.made, complaint.filed, complaint.replied, complaint.resolved; got \"order.shipped\"",
        ),
    ];
    for (input, detail) in cases {
        assert_eq!(reject(&input).detail, detail);
    }
}

#[test]
fn malformed_details_locate_the_problem() {
    assert_eq!(reject("").detail, "empty message: expected one JSON object");
    assert_eq!(
        reject("[1]").detail,
        "expected one JSON object, got an array"
    );
    assert!(reject(&format!("{ORDER_PLACED}x"))
        .detail
        .contains("trailing characters at line 1 column"));
    let not_utf8 = decode(b"{\"event_id\":\"\xff\"}", &DecodeLimits::default()).unwrap_err();
    assert_eq!(not_utf8.reason, Reason::MalformedJson);
    assert_eq!(
        not_utf8.detail,
        "not UTF-8: invalid byte sequence at byte offset 13"
    );
    let duplicate = reject(&ORDER_PLACED.replacen('{', "{\"order_id\":\"ORD-2\",", 1));
    assert!(
        duplicate.detail.contains("duplicate field `order_id`"),
        "{}",
        duplicate.detail
    );
}

#[test]
fn long_values_are_cut_in_details() {
    let long = format!("\"{}\"", "中".repeat(5_000));
    let detail = reject(&with("quantity_packs", &long)).detail;
    assert!(detail.len() < 400, "{} bytes", detail.len());
    assert!(
        detail.ends_with(&format!("… ({} bytes)", long.len())),
        "{detail}"
    );
}

#[test]
fn size_limit_default_and_boundary() {
    assert_eq!(DecodeLimits::default().max_message_bytes, 65_536);
    let pad = |total: usize| {
        let head = ORDER_PLACED.trim_end_matches('}').to_owned() + ",\"note\":\"";
        let fill = total - head.len() - 2;
        format!("{head}{}\"}}", "x".repeat(fill))
    };
    let at_limit = pad(65_536);
    assert_eq!(at_limit.len(), 65_536);
    assert!(decode(at_limit.as_bytes(), &DecodeLimits::default()).is_ok());
    let over = pad(65_537);
    let rejection = decode(over.as_bytes(), &DecodeLimits::default()).unwrap_err();
    assert_eq!(rejection.reason, Reason::TooLarge);
    assert_eq!(
        rejection.detail,
        "message is 65537 bytes, more than the limit of 65536 bytes; not parsed"
    );
}

#[test]
fn size_is_checked_before_anything_else() {
    let garbage = vec![0xffu8; 300];
    let limits = DecodeLimits {
        max_message_bytes: 256,
        ..DecodeLimits::default()
    };
    assert_eq!(
        decode(&garbage, &limits).unwrap_err().reason,
        Reason::TooLarge
    );
    let raised = DecodeLimits {
        max_message_bytes: 1 << 20,
        ..DecodeLimits::default()
    };
    let big = ORDER_PLACED.replacen('}', &format!(",\"note\":\"{}\"}}", "x".repeat(100_000)), 1);
    assert!(decode(big.as_bytes(), &raised).is_ok());
}

#[test]
fn framing_whitespace_is_tolerated() {
    for text in [
        format!("{ORDER_PLACED}\n"),
        format!("{ORDER_PLACED}\r\n"),
        format!("  {ORDER_PLACED}\t"),
    ] {
        assert!(
            decode(text.as_bytes(), &DecodeLimits::default()).is_ok(),
            "{text:?}"
        );
    }
    let spaced = ORDER_PLACED.replace("\"quantity_packs\":\"120\"", "\"quantity_packs\" :  120 ");
    let event = decode(spaced.as_bytes(), &DecodeLimits::default()).unwrap();
    let EventBody::OrderPlaced(order) = event.body else {
        panic!()
    };
    assert_eq!(order.quantity_packs, Decimal::from(120));
}

#[test]
fn special_service_defaults_to_false() {
    let flag = |text: &str| match decode(text.as_bytes(), &DecodeLimits::default())
        .unwrap()
        .body
    {
        EventBody::OrderPlaced(o) => o.special_service,
        _ => panic!(),
    };
    assert!(!flag(ORDER_PLACED));
    let add = |v: &str| ORDER_PLACED.replacen('}', &format!(",\"special_service\":{v}}}"), 1);
    assert!(!flag(&add("null")));
    assert!(!flag(&add("false")));
    assert!(flag(&add("true")));
}

#[test]
fn escaped_strings_are_unescaped_and_offsets_kept() {
    let text = with("order_id", r#""ORD-\u0031\"\\\/""#).replace("+08:00", "-05:30");
    let event = decode(text.as_bytes(), &DecodeLimits::default()).unwrap();
    assert_eq!(event.body.order_id(), Some("ORD-1\"\\/"));
    assert_eq!(
        event.occurred_at.offset().local_minus_utc(),
        -(5 * 3600 + 1800)
    );
    assert_eq!(event.occurred_at.to_rfc3339(), "2026-03-02T09:15:00-05:30");
}

#[test]
fn extra_fields_are_ignored_whatever_they_hold() {
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let text = ORDER_PLACED.replacen(
        '}',
        &format!(
            ",\"delivery_id\":5,\"amount\":{{\"x\":[1,2]}},\"schema_version\":2,\"trace\":{deep}}}"
        ),
        1,
    );
    let event = decode(text.as_bytes(), &DecodeLimits::default()).unwrap();
    assert_eq!(event.body.event_type(), EventType::OrderPlaced);
}

#[test]
fn each_type_decodes_from_numbers_too() {
    let lines = [
        r#"{"event_id":"e2","type":"order.cancelled","occurred_at":"2026-03-03T14:02:31Z","order_id":"ORD-1","quantity_packs":2.5}"#,
        r#"{"event_id":"e3","type":"delivery.received","occurred_at":"2026-03-03T16:40:00+08:00","delivery_id":"D-1","order_id":"ORD-1","quantity_packs":1e2,"distributor":"国药控股陕西有限公司"}"#,
        r#"{"event_id":"e4","type":"delivery.accepted","occurred_at":"2026-03-04T10:05:12+08:00","delivery_id":"D-1","order_id":"ORD-1","accepted_quantity_packs":0,"amount":0}"#,
        r#"{"event_id":"e5","type":"payment.made","occurred_at":"2026-04-15T11:30:00+08:00","payment_id":"P-1","institution_code":"H61030500017","delivery_id":"D-1","amount":0.01}"#,
    ];
    let amounts: Vec<Decimal> = lines
        .iter()
        .map(|l| {
            match decode(l.as_bytes(), &DecodeLimits::default())
                .unwrap_or_else(|r| panic!("{l}: {r}"))
                .body
            {
                EventBody::OrderCancelled(e) => e.quantity_packs,
                EventBody::DeliveryReceived(e) => e.quantity_packs,
                EventBody::DeliveryAccepted(e) => e.amount,
                EventBody::PaymentMade(e) => e.amount,
                other => unreachable!("{other:?}"),
            }
        })
        .collect();
    let expected: Vec<Decimal> = ["2.5", "100", "0", "0.01"]
        .iter()
        .map(|s| Decimal::from_str(s).unwrap())
        .collect();
    assert_eq!(amounts, expected);
}

#[test]
fn money_trailing_zeros_are_value_not_precision() {
    for spelling in ["\"4.350\"", "4.350", "435.0e-2", "\"4.35000000\""] {
        let event = decode(
            with("unit_price", spelling).as_bytes(),
            &DecodeLimits::default(),
        )
        .unwrap();
        let EventBody::OrderPlaced(order) = event.body else {
            panic!()
        };
        assert_eq!(
            order.unit_price,
            Decimal::from_str("4.35").unwrap(),
            "{spelling}"
        );
    }
}

#[test]
fn a_complaint_decodes_with_its_kind_text_and_promised_date() {
    let filed = r#"{"event_id":"c1","type":"complaint.filed","occurred_at":"2026-09-30T10:20:00+08:00","complaint_id":"C-1","institution_code":"H1","product_code":"P1","kind":"short_delivery","text":"只送到一半"}"#;
    let replied = r#"{"event_id":"c2","type":"complaint.replied","occurred_at":"2026-10-09T16:05:00+08:00","complaint_id":"C-1","promised_by":"2026-10-12"}"#;
    let resolved = r#"{"event_id":"c3","type":"complaint.resolved","occurred_at":"2026-10-12T11:40:00+08:00","complaint_id":"C-1","text":null}"#;
    let limits = DecodeLimits::default();
    match decode(filed.as_bytes(), &limits).unwrap().body {
        EventBody::ComplaintFiled(e) => {
            assert_eq!((e.complaint_id.as_str(), e.kind), ("C-1", vbp_schemas::ComplaintKind::ShortDelivery));
            assert_eq!(e.text.as_deref(), Some("只送到一半"));
        }
        other => panic!("{other:?}"),
    }
    match decode(replied.as_bytes(), &limits).unwrap().body {
        EventBody::ComplaintReplied(e) => assert_eq!(e.promised_by.to_string(), "2026-10-12"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(decode(resolved.as_bytes(), &limits).unwrap().body, EventBody::ComplaintResolved(_)));
}

#[test]
fn a_complaint_with_a_bad_kind_date_or_overlong_text_is_a_bad_value_naming_the_field() {
    let limits = DecodeLimits::default();
    let base = r#"{"event_id":"c1","type":"complaint.filed","occurred_at":"2026-09-30T10:20:00+08:00","complaint_id":"C-1","institution_code":"H1","product_code":"P1","kind":"KIND"}"#;
    let err = decode(base.replace("KIND", "late").as_bytes(), &limits).unwrap_err();
    assert_eq!(err.reason, vbp_schemas::Reason::BadValue);
    assert!(err.detail.contains("field `kind`"), "{}", err.detail);
    let long = base.replace(r#""kind":"KIND""#, &format!(r#""kind":"other","text":"{}""#, "断".repeat(2_001)));
    assert!(decode(long.as_bytes(), &limits).unwrap_err().detail.contains("field `text`: must be at most 2000 characters"));
    let replied = r#"{"event_id":"c2","type":"complaint.replied","occurred_at":"2026-10-09T16:05:00+08:00","complaint_id":"C-1","promised_by":"DATE"}"#;
    for bad in ["2026-02-30", "2026-1-5", "2026-10-12T00:00:00+08:00"] {
        let err = decode(replied.replace("DATE", bad).as_bytes(), &limits).unwrap_err();
        assert!(err.detail.contains("field `promised_by`"), "{bad}: {}", err.detail);
    }
    let missing = r#"{"event_id":"c3","type":"complaint.resolved","occurred_at":"2026-10-12T11:40:00+08:00"}"#;
    assert_eq!(decode(missing.as_bytes(), &limits).unwrap_err().reason, vbp_schemas::Reason::MissingField);
}

#[test]
fn occurred_at_outside_2000_to_2100_is_a_bad_value_naming_the_window() {
    for at in ["1900-01-01T00:00:00+08:00", "1999-12-31T23:59:59+08:00", "2100-01-01T00:00:01+08:00", "9999-12-31T00:00:00+08:00"] {
        let r = reject(&ORDER_PLACED.replace("2026-03-02T09:15:00+08:00", at));
        assert_eq!(r.reason, Reason::BadValue, "{at}");
        assert!(r.detail.contains("occurred_at") && r.detail.contains("2000-01-01T00:00:00+08:00"), "{r}");
    }
    for at in ["2000-01-01T00:00:00+08:00", "2099-12-31T16:00:00Z"] {
        assert!(decode(ORDER_PLACED.replace("2026-03-02T09:15:00+08:00", at).as_bytes(), &DecodeLimits::default()).is_ok(), "{at}");
    }
}

#[test]
fn in_live_mode_occurred_at_more_than_a_day_ahead_of_the_wall_clock_is_a_bad_value() {
    let live = DecodeLimits { occurred_at: vbp_schemas::OccurredWindow::live(), ..DecodeLimits::default() };
    let at = |ahead: chrono::TimeDelta| (chrono::Utc::now() + ahead).fixed_offset().to_rfc3339();
    let soon = ORDER_PLACED.replace("2026-03-02T09:15:00+08:00", &at(chrono::TimeDelta::hours(23)));
    assert!(decode(soon.as_bytes(), &live).is_ok());
    let later = ORDER_PLACED.replace("2026-03-02T09:15:00+08:00", &at(chrono::TimeDelta::hours(25)));
    assert_eq!(decode(later.as_bytes(), &live).unwrap_err().reason, Reason::BadValue);
}
