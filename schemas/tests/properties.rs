//! Properties of the decoder over generated inputs: it never panics, what
//! it accepts satisfies SPEC §4, decimals round-trip exactly, and it keeps
//! agreeing with the schema on randomly mutated events.

mod common;

use proptest::prelude::*;
use rust_decimal::Decimal;
use vbp_schemas::{decode, DecodeLimits, Event, EventBody, Reason};

use common::Schemas;

const ORDER_PLACED: &str = r#"{"event_id":"evt-1","type":"order.placed","occurred_at":"2026-03-02T09:15:00+08:00","order_id":"ORD-1","institution_code":"H61030500017","product_code":"XC10AAA124A001010100874","quantity_packs":"120","unit_price":"4.35"}"#;

/// What every accepted event must satisfy, whatever the input was.
fn assert_invariants(event: &Event) {
    let money_ok = |d: Decimal| d >= Decimal::ZERO && d.normalize().scale() <= 2;
    assert!(!event.event_id.is_empty());
    match &event.body {
        EventBody::OrderPlaced(e) => {
            assert!(e.quantity_packs > Decimal::ZERO);
            assert!(money_ok(e.unit_price));
            assert!(
                !e.order_id.is_empty()
                    && !e.institution_code.is_empty()
                    && !e.product_code.is_empty()
            );
        }
        EventBody::OrderCancelled(e) => {
            assert!(e.quantity_packs > Decimal::ZERO && !e.order_id.is_empty())
        }
        EventBody::DeliveryReceived(e) => {
            assert!(e.quantity_packs > Decimal::ZERO);
            assert!(!e.distributor.is_empty() && !e.delivery_id.is_empty());
        }
        EventBody::DeliveryAccepted(e) => {
            assert!(e.accepted_quantity_packs >= Decimal::ZERO);
            assert!(money_ok(e.amount));
        }
        EventBody::PaymentMade(e) => assert!(e.amount > Decimal::ZERO && money_ok(e.amount)),
        EventBody::ComplaintFiled(e) => {
            assert!(!e.complaint_id.is_empty() && !e.institution_code.is_empty() && !e.product_code.is_empty());
            assert!(e.text.as_ref().is_none_or(|t| t.chars().count() <= 2_000));
        }
        EventBody::ComplaintReplied(e) => assert!(!e.complaint_id.is_empty()),
        EventBody::ComplaintResolved(e) => assert!(!e.complaint_id.is_empty()),
    }
}

/// Pieces of events, right and wrong, glued at random into JSON-ish text.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    " ",
    "\n",
    "null",
    "true",
    "false",
    "\"event_id\"",
    "\"type\"",
    "\"occurred_at\"",
    "\"order_id\"",
    "\"institution_code\"",
    "\"product_code\"",
    "\"quantity_packs\"",
    "\"unit_price\"",
    "\"special_service\"",
    "\"delivery_id\"",
    "\"distributor\"",
    "\"accepted_quantity_packs\"",
    "\"amount\"",
    "\"payment_id\"",
    "\"order.placed\"",
    "\"order.cancelled\"",
    "\"delivery.received\"",
    "\"delivery.accepted\"",
    "\"payment.made\"",
    "\"2026-03-02T09:15:00+08:00\"",
    "\"2026-03-02T09:15:00\"",
    "\"H61030500017\"",
    "\"XC10AAA124A001010100874\"",
    "\"x\"",
    "\"\"",
    "0",
    "-0",
    "1",
    "-3",
    "\"-3\"",
    "12.5",
    "\"12.50\"",
    "1e2",
    "1e999999",
    "-1e-999999",
    "0.001",
    "\"4.355\"",
    "79228162514264337593543950336",
    "\"NaN\"",
    "NaN",
    "中",
    "\u{0}",
    "\u{feff}",
];

fn fragment_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..40)
        .prop_map(|parts| parts.concat())
}

/// A valid event with one field set to a generated value.
fn mutated_order() -> impl Strategy<Value = String> {
    let field = proptest::sample::select(
        &[
            "event_id",
            "type",
            "occurred_at",
            "order_id",
            "institution_code",
            "product_code",
            "quantity_packs",
            "unit_price",
            "special_service",
        ][..],
    );
    let number = "-?(0|[1-9][0-9]{0,6})(\\.[0-9]{1,4})?([eE][-+]?[0-9])?";
    let value = prop_oneof![
        number.prop_map(|n| n.to_string()),
        "-?[0-9]{1,6}(\\.[0-9]{0,4})?".prop_map(|s| format!("\"{s}\"")),
        "[ -~]{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("[]".to_owned()),
    ];
    (field, value).prop_map(|(field, value)| {
        let marker = format!("\"{field}\":");
        if ORDER_PLACED.contains(&marker) {
            // The new value goes first; serde_json keeps the last repeated
            // key, so drop the old one by renaming it.
            ORDER_PLACED.replacen(&marker, &format!("{marker}{value},\"_old_{field}\":"), 1)
        } else {
            ORDER_PLACED.replacen('}', &format!(",{marker}{value}}}"), 1)
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(event) = decode(&bytes, &DecodeLimits::default()) {
            assert_invariants(&event);
        }
    }

    #[test]
    fn fragment_soup_never_panics(text in fragment_soup()) {
        if let Ok(event) = decode(text.as_bytes(), &DecodeLimits::default()) {
            assert_invariants(&event);
        }
    }

    /// Corrupting a valid event by one byte, or cutting it short, is never
    /// a panic.
    #[test]
    fn damaged_events_never_panic(at in 0usize..ORDER_PLACED.len(), byte in any::<u8>(), cut in any::<bool>()) {
        let mut bytes = ORDER_PLACED.as_bytes().to_vec();
        if cut { bytes.truncate(at) } else if let Some(b) = bytes.get_mut(at) { *b = byte }
        if let Ok(event) = decode(&bytes, &DecodeLimits::default()) {
            assert_invariants(&event);
        }
    }

    /// Money with ≤ 2 decimal places, up to the full 96-bit range, comes back
    /// exactly whether written as a string, a plain number or in exponent
    /// form — which an f64 could not do beyond 15–17 digits.
    #[test]
    fn money_round_trips_exactly(mantissa in 0u128..(1u128 << 96), scale in 0u32..=2) {
        let expected = Decimal::from_i128_with_scale(mantissa as i128, scale);
        let spellings = [
            format!("\"{expected}\""),
            expected.to_string(),
            format!("{mantissa}e-{scale}"),
            format!("{mantissa}0E-{}", scale + 1),
        ];
        for spelling in spellings {
            let text = ORDER_PLACED.replace("\"4.35\"", &spelling);
            let event = decode(text.as_bytes(), &DecodeLimits::default())
                .unwrap_or_else(|r| panic!("{spelling}: {r}"));
            let EventBody::OrderPlaced(order) = event.body else { panic!("type changed") };
            prop_assert_eq!(order.unit_price, expected, "{}", spelling);
        }
    }

    /// Quantities may have any scale Decimal holds.
    #[test]
    fn quantities_round_trip_exactly(mantissa in 1i64..i64::MAX, scale in 0u32..=28) {
        let expected = Decimal::new(mantissa, scale);
        for spelling in [format!("\"{expected}\""), expected.to_string(), format!("{mantissa}e-{scale}")] {
            let text = ORDER_PLACED.replace("\"120\"", &spelling);
            let event = decode(text.as_bytes(), &DecodeLimits::default())
                .unwrap_or_else(|r| panic!("{spelling}: {r}"));
            let EventBody::OrderPlaced(order) = event.body else { panic!("type changed") };
            prop_assert_eq!(order.quantity_packs, expected, "{}", spelling);
        }
    }

    /// More than 2 decimal places of value is always refused for money.
    #[test]
    fn sub_fen_money_is_refused(mantissa in 1u64..u64::MAX, scale in 3u32..=10) {
        let value = Decimal::from_i128_with_scale(i128::from(mantissa), scale);
        prop_assume!(value.normalize().scale() > 2);
        for spelling in [format!("\"{value}\""), value.to_string()] {
            let text = ORDER_PLACED.replace("\"4.35\"", &spelling);
            let rejection = decode(text.as_bytes(), &DecodeLimits::default()).unwrap_err();
            prop_assert_eq!(rejection.reason, Reason::BadValue);
            prop_assert!(rejection.detail.contains("2 decimal places"), "{}", rejection.detail);
        }
    }

    #[test]
    fn size_limit_is_exact(limit in 0usize..400) {
        let limits = DecodeLimits { max_message_bytes: limit, ..DecodeLimits::default() };
        let result = decode(ORDER_PLACED.as_bytes(), &limits);
        let too_large = matches!(&result, Err(r) if r.reason == Reason::TooLarge);
        prop_assert_eq!(too_large, ORDER_PLACED.len() > limit);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// Random single-field mutations (short numbers only, so the known
    /// range/precision disagreements cannot arise): decoder ⇔ schema.
    #[test]
    fn random_mutations_agree_with_the_schema(text in mutated_order()) {
        thread_local!(static SCHEMAS: Schemas = Schemas::load());
        let instance: serde_json::Value = serde_json::from_str(&text).expect("mutations are JSON");
        let schema_ok = SCHEMAS.with(|s| s.is_valid("event.schema.json", &instance));
        let decoded = decode(text.as_bytes(), &DecodeLimits::default());
        prop_assert_eq!(schema_ok, decoded.is_ok(), "{} → {:?}", text, decoded.err());
    }
}
