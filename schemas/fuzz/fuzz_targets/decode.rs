//! Fuzz the decoder: no input may panic it, and whatever it accepts must
//! satisfy the SPEC §4 rules it claims to enforce.
//!
//! Seed corpus: `cp ../examples/*.json ../examples/invalid/* corpus/decode/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;
use vbp_schemas::{decode, DeadLetter, DecodeLimits, EventBody, Source};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits::default();
    match decode(data, &limits) {
        Ok(event) => check_accepted(data, &event.body, &event.event_id),
        Err(rejection) => {
            assert!(!rejection.detail.is_empty());
            // Every rejection must make a dead letter that reads back intact.
            let letter = DeadLetter::new(
                rejection,
                Source::File {
                    file: "fuzz".into(),
                    line: 1,
                },
                data,
            );
            let back =
                DeadLetter::from_json_line(&letter.to_json_line()).expect("dead letter reads back");
            assert_eq!(back, letter);
        }
    }
});

fn check_accepted(data: &[u8], body: &EventBody, event_id: &str) {
    assert!(data.len() <= DecodeLimits::default().max_message_bytes);
    assert!(std::str::from_utf8(data).is_ok());
    assert!(!event_id.is_empty());
    let money = |d: Decimal| d >= Decimal::ZERO && d.normalize().scale() <= 2;
    match body {
        EventBody::OrderPlaced(e) => {
            assert!(e.quantity_packs > Decimal::ZERO);
            assert!(money(e.unit_price));
            assert!(
                !e.order_id.is_empty()
                    && !e.institution_code.is_empty()
                    && !e.product_code.is_empty()
            );
        }
        EventBody::OrderCancelled(e) => assert!(e.quantity_packs > Decimal::ZERO),
        EventBody::DeliveryReceived(e) => {
            assert!(e.quantity_packs > Decimal::ZERO);
            assert!(!e.distributor.is_empty());
        }
        EventBody::DeliveryAccepted(e) => {
            assert!(e.accepted_quantity_packs >= Decimal::ZERO);
            assert!(money(e.amount));
        }
        EventBody::PaymentMade(e) => assert!(e.amount > Decimal::ZERO && money(e.amount)),
    }
}
