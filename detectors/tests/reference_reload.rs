//! Carrying a state onto changed reference data (issue 16, part 1): one
//! test per thing a reload must keep, count or say.

mod support;

use proptest::prelude::*;
use support::*;
use vbp_detectors::alert::Alert;
use vbp_detectors::reference::{ReferenceData, ReferenceKeys, Remap};
use vbp_detectors::state::{Carried, Micros, State};
use vbp_schemas::{ComplaintKind, Event};

const H1: &str = "H61030500001";
const H2: &str = "H61030500002";
const H3: &str = "H61030200003";
const H5: &str = "H61011300005";

/// Reference data from the fixture's files, with some replaced.
fn data(institutions: &str, products: &str, agreements: &str) -> ReferenceData {
    ReferenceData::from_csv_texts([
        ("divisions.csv", DIVISIONS),
        ("institutions.csv", institutions),
        ("products.csv", products),
        ("agreements.csv", agreements),
        ("exemptions.csv", EXEMPTIONS),
        ("calendar.csv", "date,kind\n"),
        ("substitutes.csv", SUBSTITUTES),
        ("enterprises.csv", ENTERPRISES),
    ])
    .unwrap_or_else(|e| panic!("fixture does not load:\n{e}"))
}

/// A CSV text with its data rows in reverse order: every dense id moves.
fn reversed(csv: &str) -> String {
    let mut lines: Vec<&str> = csv.lines().collect();
    let header = lines.remove(0);
    lines.reverse();
    format!("{header}\n{}\n", lines.join("\n"))
}

/// `state` (built with `old`) carried onto `new`, nothing forgotten yet.
fn carry(old: &ReferenceData, state: State, new: &ReferenceData) -> (State, Carried) {
    let keys = ReferenceKeys::of(old);
    state.carried(&keys, new, &Remap::between(&keys, new), Micros::MIN)
}

fn sorted(mut alerts: Vec<Alert>) -> Vec<Alert> {
    alerts.sort_by(Alert::cmp_id);
    alerts
}

/// Orders, a cancellation, deliveries accepted (folded) and not, a payment
/// and a complaint, across three institutions and three groups.
fn business() -> Vec<Event> {
    vec![
        order("o1", "2026-01-05T09:00:00+08:00", H1, "SEL", "100", "5"),
        order("o2", "2026-01-06T09:00:00+08:00", H1, "NS", "900", "9"),
        cancel("o2", "2026-01-07T09:00:00+08:00", "100"),
        received("d1", "o1", "2026-01-06T10:00:00+08:00", "100"),
        accepted("d1", "o1", "2026-01-07T10:00:00+08:00", "100", "500"),
        paid("p1", H1, "d1", "2026-01-20T10:00:00+08:00", "200"),
        order("o3", "2026-01-08T09:00:00+08:00", H3, "STENT", "10", "700"),
        order("o4", "2026-01-09T09:00:00+08:00", H2, "SUB", "800", "12"),
        complaint("k1", "2026-01-10T09:00:00+08:00", H3, "STENT", ComplaintKind::NotDelivered, Some("未到货")),
    ]
}

const INSTANTS: [&str; 3] = ["2026-02-01T00:00:00+08:00", "2026-03-16T12:00:00+08:00", "2026-06-30T23:59:59+08:00"];

#[test]
fn rows_in_another_order_move_every_id_and_the_state_follows_the_codes() {
    let old = reference();
    let new = data(&reversed(INSTITUTIONS), &reversed(PRODUCTS), &reversed(AGREEMENTS));
    assert_ne!(old.institution(H1), new.institution(H1), "the fixture must move ids");
    let (carried, said) = carry(&old, state(&old, &business()), &new);
    let direct = state(&new, &business());
    for at in INSTANTS {
        assert_eq!(sorted(alerts_at(&new, &carried, at)), sorted(alerts_at(&new, &direct, at)), "at {at}");
    }
    let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 16).unwrap();
    let report = |s: &State| vbp_detectors::report::rows(&new, &[&s.purchases], today, |_| true);
    assert_eq!(report(&carried), report(&direct));
    assert_eq!(said.agreements_kept, 3);
    assert_eq!((said.agreements_counted, said.agreements_dropped, said.dropped_total()), (0, 0, 0), "{said:?}");
    assert!(said.estimates.is_empty() && said.changed_products.is_empty(), "{said:?}");
}

#[test]
fn an_agreement_added_mid_period_counts_the_open_order_lines_exactly_when_none_finished() {
    let old = reference();
    let with_a4 = format!("{AGREEMENTS}A4,{H5},F1,2026-01-01,2026-12-31,3650\n");
    let new = data(INSTITUTIONS, PRODUCTS, &with_a4);
    // H5 bought before its agreement existed; nothing of it finished.
    let events = [order("o9", "2026-01-03T09:00:00+08:00", H5, "SEL28", "10", "14")];
    let (carried, said) = carry(&old, state(&old, &events), &new);
    let a4 = new.agreement("A4").unwrap();
    assert_eq!(carried.purchases.per_agreement[a4.index()], d("280"));
    assert_eq!(said.agreements_counted, 1);
    assert!(said.estimates.is_empty(), "nothing finished since its start: exact ({said:?})");
    let direct = state(&new, &events);
    for at in INSTANTS {
        assert_eq!(sorted(alerts_at(&new, &carried, at)), sorted(alerts_at(&new, &direct, at)), "at {at}");
    }
}

#[test]
fn an_agreement_added_after_lines_of_its_family_finished_is_counted_short_and_says_why() {
    let old = reference();
    let with_a4 = format!("{AGREEMENTS}A4,{H5},F1,2026-01-01,2026-12-31,3650\n");
    let new = data(INSTITUTIONS, PRODUCTS, &with_a4);
    let events = [
        order("o8", "2026-01-02T09:00:00+08:00", H5, "SEL", "5", "5"),
        received("d8", "o8", "2026-01-02T15:00:00+08:00", "5"),
        accepted("d8", "o8", "2026-01-03T09:00:00+08:00", "5", "25"),
        order("o9", "2026-01-03T09:00:00+08:00", H5, "SEL28", "10", "14"),
    ];
    let (carried, said) = carry(&old, state(&old, &events), &new);
    let a4 = new.agreement("A4").unwrap();
    // o8 folded when accepted: only o9's 280 units are still readable.
    assert_eq!(carried.purchases.per_agreement[a4.index()], d("280"));
    assert_eq!(said.estimates.len(), 1, "{said:?}");
    let estimate = &said.estimates[0];
    assert_eq!((estimate.agreement_id.as_str(), estimate.counted_units), ("A4", d("280")));
    assert!(estimate.reason.contains("1 finished order lines since 2026-01-01"), "{}", estimate.reason);
}

#[test]
fn an_agreement_whose_start_is_past_the_retention_may_be_short_even_with_no_finished_line() {
    let old = reference();
    let with_a4 = format!("{AGREEMENTS}A4,{H5},F1,2026-01-01,2026-12-31,3650\n");
    let new = data(INSTITUTIONS, PRODUCTS, &with_a4);
    let state = state(&old, &[order("o9", "2026-01-03T09:00:00+08:00", H5, "SEL28", "10", "14")]);
    let keys = ReferenceKeys::of(&old);
    let forgotten_before = t("2026-03-01T00:00:00+08:00").timestamp_micros();
    let (_, said) = state.carried(&keys, &new, &Remap::between(&keys, &new), forgotten_before);
    assert_eq!(said.estimates.len(), 1, "{said:?}");
    assert!(said.estimates[0].reason.contains("past the retention"), "{}", said.estimates[0].reason);
}

#[test]
fn a_changed_agreed_volume_keeps_the_purchased_units() {
    let old = reference();
    let new = data(INSTITUTIONS, PRODUCTS, &AGREEMENTS.replace("36500", "73000"));
    let (carried, said) = carry(&old, state(&old, &business()), &new);
    assert_eq!(carried.purchases.per_agreement[new.agreement("A1").unwrap().index()], d("1000"));
    assert_eq!((said.agreements_kept, said.agreements_counted), (3, 0));
}

#[test]
fn a_changed_period_is_counted_again_from_the_open_lines() {
    let old = reference();
    let new = data(INSTITUTIONS, PRODUCTS, &AGREEMENTS.replace("A1,H61030500001,F1,2026-01-01", "A1,H61030500001,F1,2026-01-06"));
    let events = [
        order("o1", "2026-01-05T09:00:00+08:00", H1, "SEL", "100", "5"),
        order("o2", "2026-01-07T09:00:00+08:00", H1, "SEL", "7", "5"),
    ];
    let (carried, said) = carry(&old, state(&old, &events), &new);
    // The order of 01-05 is before the new start: only 70 units count.
    assert_eq!(carried.purchases.per_agreement[new.agreement("A1").unwrap().index()], d("70"));
    assert_eq!((said.agreements_kept, said.agreements_counted, said.agreements_dropped), (2, 1, 1), "{said:?}");
    assert!(said.estimates.is_empty(), "{said:?}");
}

#[test]
fn removing_an_institution_drops_its_records_counts_them_and_names_it() {
    let old = reference();
    let without_h3: String = INSTITUTIONS.lines().filter(|l| !l.starts_with(H3)).map(|l| format!("{l}\n")).collect();
    let agreements: String = AGREEMENTS.lines().filter(|l| !l.contains(H3)).map(|l| format!("{l}\n")).collect();
    let new = data(&without_h3, PRODUCTS, &agreements);
    let (carried, said) = carry(&old, state(&old, &business()), &new);
    assert_eq!(said.removed_institutions.iter().collect::<Vec<_>>(), vec![H3]);
    assert_eq!(said.dropped.get("open order lines"), Some(&1), "{said:?}");
    assert_eq!(said.dropped.get("complaints"), Some(&1), "{said:?}");
    assert_eq!(said.agreements_dropped, 1, "A3 went with its institution");
    assert!(carried.orders.values().all(|l| new.institutions[l.institution.index()].code != H3));
    assert!(said.summary().contains("1 open order lines") && said.summary().contains("1 removed institutions"), "{}", said.summary());
}

#[test]
fn removing_a_product_drops_its_lines_and_report_sums_and_names_it() {
    let old = reference();
    let products: String = PRODUCTS.lines().filter(|l| !l.starts_with("NS,")).map(|l| format!("{l}\n")).collect();
    let new = data(INSTITUTIONS, &products, AGREEMENTS);
    let (_, said) = carry(&old, state(&old, &business()), &new);
    assert_eq!(said.removed_products.iter().collect::<Vec<_>>(), vec!["NS"]);
    assert_eq!(said.dropped.get("open order lines"), Some(&1), "{said:?}");
    assert_eq!(said.dropped.get("report sums of removed products"), Some(&1), "{said:?}");
}

#[test]
fn a_product_that_changes_its_base_units_is_named() {
    let old = reference();
    let new = data(INSTITUTIONS, &PRODUCTS.replace("SEL28,阿托伐他汀钙片,片剂,20mg*28,甲制药,drug,第十批国采,G1,F1,true,false,28", "SEL28,阿托伐他汀钙片,片剂,20mg*28,甲制药,drug,第十批国采,G1,F1,true,false,30"), AGREEMENTS);
    let (_, said) = carry(&old, state(&old, &business()), &new);
    assert_eq!(said.changed_products, vec!["SEL28".to_string()]);
}

#[test]
fn the_checkpoint_form_refuses_ids_its_own_keys_never_issued() {
    let old = reference();
    let state = state(&old, &business());
    let mut keys = ReferenceKeys::of(&old);
    keys.institutions.truncate(1);
    let err = state.restored_onto(&keys, &old, Micros::MIN).unwrap_err();
    assert!(err.contains("ids"), "{err}");
}

/// A random order's fields: institution, product, day of January, packs,
/// whether it is delivered and accepted (so folded).
fn an_order() -> impl Strategy<Value = (usize, usize, u32, u32, bool)> {
    (0usize..5, 0usize..8, 1u32..28, 1u32..400, any::<bool>())
}

proptest! {
    // Each case evaluates every rule six times (about 2 s in a debug
    // build): 16 cases a run, new ones every run.
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Whatever the order of the rows in the files, a state carried onto
    /// them answers exactly as one built under them.
    #[test]
    fn reordered_rows_never_change_an_answer(orders in prop::collection::vec(an_order(), 0..25), flip in any::<[bool; 3]>()) {
        let institutions = ["H61030500001", "H61030500002", "H61030200003", "H61030200004", "H61011300005"];
        let products = ["SEL", "SEL28", "NS", "BAK", "CHEAP", "STENT", "SUB", "PEN"];
        let mut events = Vec::new();
        for (n, (i, p, day, packs, settle)) in orders.iter().enumerate() {
            let (id, at) = (format!("o{n}"), format!("2026-01-{day:02}T09:00:00+08:00"));
            events.push(order(&id, &at, institutions[*i], products[*p], &packs.to_string(), "3"));
            if *settle {
                let later = format!("2026-01-{day:02}T15:00:00+08:00");
                events.push(received(&format!("d{n}"), &id, &later, &packs.to_string()));
                events.push(accepted(&format!("d{n}"), &id, &later, &packs.to_string(), "1"));
            }
        }
        events.sort_by_key(|e| e.occurred_at);
        let pick = |flip: bool, csv: &str| if flip { reversed(csv) } else { csv.to_string() };
        let old = reference();
        let new = data(&pick(flip[0], INSTITUTIONS), &pick(flip[1], PRODUCTS), &pick(flip[2], AGREEMENTS));
        let (carried, said) = carry(&old, state(&old, &events), &new);
        prop_assert_eq!(said.dropped_total(), 0);
        let direct = state(&new, &events);
        for at in INSTANTS {
            prop_assert_eq!(sorted(alerts_at(&new, &carried, at)), sorted(alerts_at(&new, &direct, at)));
        }
    }
}
