//! Input that reaches the state's arithmetic: beyond an exact decimal's
//! range it is a `bad_value`, never a panic, and nothing is half counted.

mod support;

use rust_decimal::Decimal;
use support::*;
use vbp_detectors::reference::ReferenceData;
use vbp_detectors::state::{Outcome, State};
use vbp_schemas::Reason;

const H1: &str = "H61030500001";

/// The tiny province with product SEL holding `units` base units a pack
/// (beyond what the loader accepts, as a hand-built reference could).
fn with_base_units(units: &str) -> ReferenceData {
    let mut r = reference();
    let sel = r.products.iter_mut().find(|p| p.code == "SEL").unwrap();
    sel.base_units_per_pack = d(units);
    r
}

fn reason(outcome: Outcome) -> Option<Reason> {
    match outcome {
        Outcome::Rejected(r) => Some(r.reason),
        _ => None,
    }
}

#[test]
fn an_order_whose_base_units_overflow_a_decimal_is_a_bad_value() {
    let r = with_base_units("100000000000000000000");
    let mut state = State::new(&r);
    let order = order("o1", "2026-01-05T09:00:00+08:00", H1, "SEL", "1000000000", "1");
    assert_eq!(reason(state.apply(&r, &order)), Some(Reason::BadValue));
    assert!(!state.has_order("o1"), "a rejected order is not kept");
}

#[test]
fn an_order_that_would_overflow_a_purchase_sum_is_a_bad_value_and_leaves_the_sums_alone() {
    // One billion packs of this product is just inside Decimal::MAX; two are not.
    let r = with_base_units("79228162514264337593");
    let mut state = State::new(&r);
    let first = order("o1", "2026-01-05T09:00:00+08:00", H1, "SEL", "1000000000", "1");
    assert!(matches!(state.apply(&r, &first), Outcome::Applied));
    let before = state.purchases.per_agreement.clone();
    assert_ne!(before, vec![Decimal::ZERO; before.len()], "the first order counts");
    let second = order("o2", "2026-01-06T09:00:00+08:00", H1, "SEL", "1000000000", "1");
    assert_eq!(reason(state.apply(&r, &second)), Some(Reason::BadValue));
    assert_eq!(state.purchases.per_agreement, before);
}

#[test]
fn a_quantity_with_more_decimal_places_than_the_tables_keep_is_a_bad_value() {
    let r = reference();
    let mut state = State::new(&r);
    let tiny = order("o1", "2026-01-05T09:00:00+08:00", H1, "SEL", "0.0000001", "1");
    let Outcome::Rejected(rejection) = state.apply(&r, &tiny) else { panic!("applied") };
    assert_eq!(rejection.reason, Reason::BadValue);
    assert!(rejection.detail.contains("more than 6 decimal places"), "{rejection}");
    let fine = order("o2", "2026-01-05T09:00:00+08:00", H1, "SEL", "0.000001", "1");
    assert!(matches!(state.apply(&r, &fine), Outcome::Applied));
}
