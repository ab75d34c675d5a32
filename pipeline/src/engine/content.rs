//! What is remembered of an event's content under its `event_id`, so that
//! a resend (the same content: counted and ignored) is told from another
//! event reusing the id (rejected).
//!
//! The digest is SipHash-1-3 over every decoded field: strings with their
//! length, decimals with their scale (`1.0` and `1.00` differ, as their
//! text does), the instant with its offset. It is computed for every event
//! and compared only when an id repeats.
//!
//! Checkpoints before v9 hold a digest of the event's `Debug` text instead
//! (the first way, which cost about a sixth of a replay's time in
//! formatting). The top bit tells the two apart: set for the field digest,
//! cleared on every digest a v8 checkpoint brings ([`legacy`]), whose
//! repeats are then compared the old way.

use std::hash::Hasher;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use siphasher::sip::SipHasher13;
use vbp_schemas::{Event, EventBody};

/// The top bit: set on a field digest, clear on a legacy one.
const FIELDS: u64 = 1 << 63;

/// The digest of `event`'s content, stable across runs and builds.
pub fn digest(event: &Event) -> u64 {
    let mut h = Feed(SipHasher13::new());
    h.text(&event.event_id);
    h.instant(&event.occurred_at);
    match &event.body {
        EventBody::OrderPlaced(e) => {
            h.tag(1);
            h.texts(&[&e.order_id, &e.institution_code, &e.product_code]);
            h.decimals(&[e.quantity_packs, e.unit_price]);
            h.tag(u8::from(e.special_service));
        }
        EventBody::OrderCancelled(e) => {
            h.tag(2);
            h.text(&e.order_id);
            h.decimals(&[e.quantity_packs]);
        }
        EventBody::DeliveryReceived(e) => {
            h.tag(3);
            h.texts(&[&e.delivery_id, &e.order_id, &e.distributor]);
            h.decimals(&[e.quantity_packs]);
        }
        EventBody::DeliveryAccepted(e) => {
            h.tag(4);
            h.texts(&[&e.delivery_id, &e.order_id]);
            h.decimals(&[e.accepted_quantity_packs, e.amount]);
        }
        EventBody::PaymentMade(e) => {
            h.tag(5);
            h.texts(&[&e.payment_id, &e.institution_code, &e.delivery_id]);
            h.decimals(&[e.amount]);
        }
        EventBody::ComplaintFiled(e) => {
            h.tag(6);
            h.texts(&[&e.complaint_id, &e.institution_code, &e.product_code, e.kind.as_str()]);
            match &e.text {
                Some(text) => {
                    h.tag(1);
                    h.text(text);
                }
                None => h.tag(0),
            }
        }
        EventBody::ComplaintReplied(e) => {
            h.tag(7);
            h.text(&e.complaint_id);
            h.date(e.promised_by);
        }
        EventBody::ComplaintResolved(e) => {
            h.tag(8);
            h.text(&e.complaint_id);
        }
    }
    h.0.finish() | FIELDS
}

/// Whether `event`, whose [`digest`] is `digest`, has the content that
/// `remembered` was taken from.
pub fn same(remembered: u64, event: &Event, digest: u64) -> bool {
    if remembered & FIELDS != 0 {
        remembered == digest
    } else {
        remembered == legacy_digest(event)
    }
}

/// A digest as a v8 checkpoint holds it, marked as such.
pub fn legacy(remembered: u64) -> u64 {
    remembered & !FIELDS
}

/// The digest checkpoints before v9 kept, marked as legacy.
fn legacy_digest(event: &Event) -> u64 {
    legacy(debug_text_digest(event))
}

/// SipHash-1-3 of the event's `Debug` text, as v8 remembered it.
pub(super) fn debug_text_digest(event: &Event) -> u64 {
    struct Hashing(SipHasher13);
    impl std::fmt::Write for Hashing {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    let mut hashing = Hashing(SipHasher13::new());
    let _ = std::fmt::write(&mut hashing, format_args!("{event:?}"));
    hashing.0.finish()
}

/// The fields fed one by one, each delimited so that no two events feed
/// the same bytes.
struct Feed(SipHasher13);

impl Feed {
    fn tag(&mut self, tag: u8) {
        self.0.write_u8(tag);
    }

    fn text(&mut self, text: &str) {
        self.0.write_usize(text.len());
        self.0.write(text.as_bytes());
    }

    fn texts(&mut self, texts: &[&str]) {
        for text in texts {
            self.text(text);
        }
    }

    /// Mantissa, scale and sign: `1.0` and `1.00` feed different bytes.
    fn decimals(&mut self, values: &[Decimal]) {
        for value in values {
            self.0.write(&value.serialize());
        }
    }

    fn instant(&mut self, at: &DateTime<FixedOffset>) {
        self.0.write_i64(at.timestamp());
        self.0.write_u32(at.timestamp_subsec_nanos());
        self.0.write_i32(at.offset().local_minus_utc());
    }

    fn date(&mut self, date: NaiveDate) {
        self.0.write_i32(date.to_epoch_days());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vbp_schemas::{decode, DecodeLimits};

    fn event(line: &str) -> Event {
        decode(line.as_bytes(), &DecodeLimits::default()).expect("a valid event")
    }

    const PLACED: &str = r#"{"event_id":"e1","type":"order.placed","occurred_at":"2026-03-02T09:00:00+08:00","order_id":"O1","institution_code":"H1","product_code":"P1","quantity_packs":"10","unit_price":"2.50"}"#;

    #[test]
    fn the_same_event_has_the_same_digest_and_any_other_field_another() {
        let d = digest(&event(PLACED));
        assert_eq!(d, digest(&event(PLACED)));
        for changed in [
            PLACED.replace(r#""O1""#, r#""O2""#),
            PLACED.replace(r#""10""#, r#""10.0""#),
            PLACED.replace(r#""2.50""#, r#""2.5""#),
            PLACED.replace("09:00:00+08:00", "01:00:00+00:00"),
            PLACED.replace("}", r#","special_service":true}"#),
            PLACED.replace(r#""H1","product_code":"P1""#, r#""H1P","product_code":"1""#),
        ] {
            assert_ne!(digest(&event(&changed)), d, "{changed}");
        }
    }

    #[test]
    fn a_digest_a_v8_checkpoint_brings_is_compared_the_old_way() {
        let placed = event(PLACED);
        let resent = legacy(legacy_digest(&placed));
        assert!(same(resent, &placed, digest(&placed)));
        let other = event(&PLACED.replace(r#""10""#, r#""11""#));
        assert!(!same(resent, &other, digest(&other)));
        assert!(same(digest(&placed), &placed, digest(&placed)));
        assert!(!same(digest(&placed), &other, digest(&other)));
    }
}
