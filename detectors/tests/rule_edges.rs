//! One test per rule edge of SPEC §6, on the tiny province of `support`.

mod support;

use support::*;
use vbp_detectors::alert::{AlertName::*, Severity::*};

const H1: &str = "H61030500001";
const H2: &str = "H61030500002";
const H3: &str = "H61030200003";
const H4: &str = "H61030200004";
const H5: &str = "H61011300005";

// ---- 6.1 schedule: A1 is H1 × F1, 2026 whole year, 36,500 units agreed.
// On 2026-01-30 (elapsed 30 of 365) the schedule is 3,000 units:
// critical below 1,500, warning below 2,400.

fn schedule_at(events: &[vbp_schemas::Event], at: &str) -> Vec<vbp_detectors::alert::Severity> {
    let r = reference();
    let s = state(&r, events);
    of(&alerts_at(&r, &s, at), ProcurementBehindSchedule)
        .into_iter()
        .filter(|(_, a)| a.labels["agreement_id"] == "A1")
        .map(|(severity, _)| severity)
        .collect()
}

#[test]
fn no_schedule_alert_before_30_elapsed_days() {
    let events = [order("o1", "2026-01-02T09:00:00+08:00", H1, "SEL", "1", "5")];
    assert_eq!(schedule_at(&events, "2026-01-29T23:59:59+08:00"), vec![]);
    assert_eq!(schedule_at(&events, "2026-01-30T00:00:00+08:00"), vec![Critical]);
}

#[test]
fn progress_exactly_half_the_schedule_is_a_warning_not_critical() {
    let at = "2026-01-30T12:00:00+08:00";
    assert_eq!(schedule_at(&[order("o1", "2026-01-02T09:00:00+08:00", H1, "SEL", "150", "5")], at), vec![Warning]);
    assert_eq!(schedule_at(&[order("o1", "2026-01-02T09:00:00+08:00", H1, "SEL", "149", "5")], at), vec![Critical]);
}

#[test]
fn progress_exactly_0_8_of_the_schedule_raises_nothing() {
    let at = "2026-01-30T12:00:00+08:00";
    // 100 packs of 10 + 50 packs of 28: specs of one family add up in base units.
    let family = [
        order("o1", "2026-01-02T09:00:00+08:00", H1, "SEL", "100", "5"),
        order("o2", "2026-01-03T09:00:00+08:00", H1, "SEL28", "50", "14"),
    ];
    assert_eq!(schedule_at(&family, at), vec![]);
    assert_eq!(schedule_at(&[order("o1", "2026-01-02T09:00:00+08:00", H1, "SEL", "239", "5")], at), vec![Warning]);
}

#[test]
fn cancelled_packs_and_special_service_orders_do_not_count() {
    let at = "2026-01-30T12:00:00+08:00";
    let cancelled = [
        order("o1", "2026-01-02T09:00:00+08:00", H1, "SEL", "250", "5"),
        cancel("o1", "2026-01-03T09:00:00+08:00", "11"),
    ];
    assert_eq!(schedule_at(&cancelled, at), vec![Warning]);
    let special_only = [special(order("o1", "2026-01-02T09:00:00+08:00", H1, "SEL", "300", "5"))];
    assert_eq!(schedule_at(&special_only, at), vec![Critical]);
}

#[test]
fn orders_before_the_period_start_do_not_count() {
    let before = [order("o1", "2025-12-31T23:59:59+08:00", H1, "SEL", "300", "5")];
    assert_eq!(schedule_at(&before, "2026-01-30T12:00:00+08:00"), vec![Critical]);
}

#[test]
fn not_entered_from_two_months_after_start_with_month_end_clamping() {
    // A2 starts 2026-12-31: two months later is 2027-02-28 (no Feb 31).
    let r = reference();
    let s = state(&r, &[]);
    let before = alerts_at(&r, &s, "2027-02-27T23:59:59+08:00");
    assert!(of(&before, SelectedProductNotEntered).is_empty());
    let a2: Vec<_> = of(&before, ProcurementBehindSchedule)
        .into_iter()
        .filter(|(_, a)| a.labels["agreement_id"] == "A2")
        .collect();
    assert_eq!(a2.len(), 1, "59 days in with nothing bought is behind schedule");
    let on = alerts_at(&r, &s, "2027-02-28T00:00:00+08:00");
    let not_entered = of(&on, SelectedProductNotEntered);
    assert_eq!(not_entered.len(), 1);
    let (severity, alert) = &not_entered[0];
    assert_eq!(*severity, Critical);
    assert_eq!(alert.labels["agreement_id"], "A2");
    assert_eq!(alert.labels["institution_code"], H2);
    assert_eq!(alert.labels["family_id"], "F1");
    assert_eq!(alert.labels["division_code"], "610305");
    assert_eq!(alert.labels["city_code"], "610300");
    assert_eq!(alert.labels["province_code"], "610000");
    assert!(of(&on, ProcurementBehindSchedule).iter().all(|(_, a)| a.labels["agreement_id"] != "A2"));
}

// ---- 6.2 non-selected share in G1 for H1 (window from 2026-01-01).

fn share_at(events: &[vbp_schemas::Event]) -> Vec<vbp_detectors::alert::Severity> {
    let r = reference();
    let s = state(&r, events);
    severities(&alerts_at(&r, &s, "2026-03-20T12:00:00+08:00"), NonSelectedShareHigh)
}

fn sel(id: &str, packs: &str) -> vbp_schemas::Event {
    order(id, "2026-03-01T09:00:00+08:00", H1, "SEL", packs, "5.00")
}

fn ns(id: &str, product: &str, packs: &str, price: &str) -> vbp_schemas::Event {
    order(id, "2026-03-02T09:00:00+08:00", H1, product, packs, price)
}

#[test]
fn share_exactly_0_3_raises_nothing_and_above_is_a_warning() {
    assert_eq!(share_at(&[sel("s", "7"), ns("n", "NS", "3", "9.00")]), vec![]);
    assert_eq!(share_at(&[sel("s", "7"), ns("n", "NS", "4", "9.00")]), vec![Warning]);
}

#[test]
fn share_exactly_0_5_is_a_warning_and_above_is_critical() {
    assert_eq!(share_at(&[sel("s", "5"), ns("n", "NS", "5", "9.00")]), vec![Warning]);
    assert_eq!(share_at(&[sel("s", "5"), ns("n", "NS", "6", "9.00")]), vec![Critical]);
}

#[test]
fn fewer_than_100_units_are_not_judged() {
    assert_eq!(share_at(&[sel("s", "4"), ns("n", "NS", "5", "9.00")]), vec![]);
    assert_eq!(share_at(&[sel("s", "4"), ns("n", "NS", "6", "9.00")]), vec![Critical]);
}

#[test]
fn backup_supplier_and_no_dearer_products_are_left_out() {
    assert_eq!(share_at(&[sel("s", "5"), ns("n", "BAK", "50", "9.00")]), vec![]);
    // 5.00 a pack of 10 is exactly the selected 0.50 a tablet: left out.
    assert_eq!(share_at(&[sel("s", "5"), ns("n", "CHEAP", "50", "5.00")]), vec![]);
    assert_eq!(share_at(&[sel("s", "5"), ns("n", "CHEAP", "50", "5.01")]), vec![Critical]);
}

#[test]
fn orders_inside_an_exemption_window_are_left_out() {
    let on = |day: &str| order("n", &format!("2026-03-{day}T09:00:00+08:00"), H1, "NS", "50", "9.00");
    assert_eq!(share_at(&[sel("s", "5"), on("10")]), vec![]);
    assert_eq!(share_at(&[sel("s", "5"), on("12")]), vec![]);
    assert_eq!(share_at(&[sel("s", "5"), on("13")]), vec![Critical]);
    assert_eq!(share_at(&[sel("s", "5"), on("09")]), vec![Critical]);
}

#[test]
fn special_service_non_selected_orders_are_left_out() {
    assert_eq!(share_at(&[sel("s", "5"), special(ns("n", "NS", "50", "9.00"))]), vec![]);
}

// ---- 6.3 deliveries.

#[test]
fn the_48_hour_deadline_holds_to_the_second() {
    let r = reference();
    let s = state(&r, &[order("o1", "2026-03-02T10:00:00+08:00", H1, "SEL", "10", "5")]);
    assert!(of(&alerts_at(&r, &s, "2026-03-04T10:00:00+08:00"), OrderUndelivered).is_empty());
    let late = of(&alerts_at(&r, &s, "2026-03-04T10:00:01+08:00"), OrderUndelivered);
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].0, Warning);
    assert_eq!(late[0].1.labels["product_code"], "SEL");
    assert_eq!(late[0].1.labels["enterprise"], "甲制药");
    assert_eq!(late[0].1.annotations["outstanding_packs"], "10");
}

#[test]
fn partial_delivery_leaves_the_rest_overdue_and_a_full_one_clears_it() {
    let r = reference();
    let placed = order("o1", "2026-03-02T10:00:00+08:00", H1, "SEL", "10", "5");
    let part = received("d1", "o1", "2026-03-03T10:00:00+08:00", "6");
    let s = state(&r, &[placed.clone(), part.clone()]);
    let late = of(&alerts_at(&r, &s, "2026-03-05T10:00:00+08:00"), OrderUndelivered);
    assert_eq!(late[0].1.annotations["outstanding_packs"], "4");
    let s = state(&r, &[placed.clone(), part, received("d2", "o1", "2026-03-04T09:00:00+08:00", "4")]);
    assert!(of(&alerts_at(&r, &s, "2026-03-05T10:00:00+08:00"), OrderUndelivered).is_empty());
    let s = state(&r, &[placed, cancel("o1", "2026-03-03T10:00:00+08:00", "10")]);
    assert!(of(&alerts_at(&r, &s, "2026-03-05T10:00:00+08:00"), OrderUndelivered).is_empty());
}

#[test]
fn five_working_days_across_national_day_2026() {
    // Deadline 2026-09-30 09:00. Oct 1–7 are off; working days after Sep 30:
    // Oct 8 (1), Oct 9 (2), Sat Oct 10 make-up day (3), Oct 12 (4), Oct 13 (5).
    let r = reference();
    let s = state(&r, &[order("o1", "2026-09-28T09:00:00+08:00", H1, "SEL", "10", "5")]);
    assert_eq!(severities(&alerts_at(&r, &s, "2026-10-12T23:59:59+08:00"), OrderUndelivered), vec![Warning]);
    let on = alerts_at(&r, &s, "2026-10-13T00:00:00+08:00");
    assert_eq!(severities(&on, OrderUndelivered), vec![Critical]);
    assert_eq!(on.iter().find(|a| a.name == OrderUndelivered).unwrap().value, "5");
}

#[test]
fn an_undelivered_line_outside_2000_to_2100_still_fires_and_counts_its_working_days() {
    let r = reference();
    for (placed, at) in [("1999-12-20T09:00:00+08:00", "2000-01-10T00:00:00+08:00"), ("2101-03-01T09:00:00+08:00", "2101-03-20T00:00:00+08:00")] {
        let s = state(&r, &[order("o1", placed, H1, "SEL", "10", "5")]);
        let alerts = alerts_at(&r, &s, at);
        assert_eq!(severities(&alerts, OrderUndelivered), vec![Critical], "placed {placed}");
    }
}

#[test]
fn supply_break_needs_three_institutions_of_one_city() {
    let r = reference();
    let o = |id, inst| order(id, "2026-03-02T10:00:00+08:00", inst, "SEL", "10", "5");
    let at = "2026-03-05T10:00:00+08:00";
    // Two in 宝鸡市 and one in 西安市: no break.
    let s = state(&r, &[o("o1", H1), o("o2", H3), o("o5", H5)]);
    assert!(of(&alerts_at(&r, &s, at), SupplyBreak).is_empty());
    let s = state(&r, &[o("o1", H1), o("o2", H3), o("o3", H4), o("o5", H5)]);
    let alerts = alerts_at(&r, &s, at);
    let breaks = of(&alerts, SupplyBreak);
    assert_eq!(breaks.len(), 1);
    let (severity, alert) = &breaks[0];
    assert_eq!(*severity, Critical);
    assert_eq!(alert.labels["city_code"], "610300");
    assert_eq!(alert.labels["product_code"], "SEL");
    assert_eq!(alert.annotations["institutions"], format!("{H3},{H4},{H1}"));
    assert_eq!(alert.annotations["outstanding_packs"], "30");
    assert_eq!(alert.value, "3");
    assert_eq!(of(&alerts, OrderUndelivered).len(), 4);
}

// ---- 6.4 payments.

fn delivered_and_accepted(accepted_at: &str, amount: &str) -> Vec<vbp_schemas::Event> {
    vec![
        order("o1", "2026-01-20T09:00:00+08:00", H1, "SEL", "10", "5"),
        received("d1", "o1", "2026-01-21T09:00:00+08:00", "10"),
        accepted("d1", "o1", accepted_at, "10", amount),
    ]
}

fn payment_at(events: &[vbp_schemas::Event], at: &str) -> Vec<(vbp_detectors::alert::Severity, String)> {
    let r = reference();
    let s = state(&r, events);
    of(&alerts_at(&r, &s, at), PaymentOverdue).into_iter().map(|(sev, a)| (sev, a.annotations["overdue_amount"].clone())).collect()
}

#[test]
fn accepted_on_january_31_is_overdue_from_march_1() {
    let events = delivered_and_accepted("2026-01-31T15:00:00+08:00", "1234.56");
    assert_eq!(payment_at(&events, "2026-02-28T23:59:59+08:00"), vec![]);
    assert_eq!(payment_at(&events, "2026-03-01T00:00:00+08:00"), vec![(Warning, "1234.56".into())]);
    assert_eq!(payment_at(&events, "2026-03-30T23:59:59+08:00"), vec![(Warning, "1234.56".into())]);
    assert_eq!(payment_at(&events, "2026-03-31T00:00:00+08:00"), vec![(Critical, "1234.56".into())]);
}

#[test]
fn acceptance_date_is_taken_in_china_standard_time() {
    // 2026-01-31T20:00Z is 2026-02-01 04:00 in Beijing: 次月底 is March 31.
    let events = delivered_and_accepted("2026-01-31T20:00:00Z", "100.00");
    assert_eq!(payment_at(&events, "2026-03-31T23:59:59+08:00"), vec![]);
    assert_eq!(payment_at(&events, "2026-04-01T00:00:00+08:00"), vec![(Warning, "100.00".into())]);
}

#[test]
fn accepted_on_december_31_is_overdue_from_february_1() {
    let mut events = delivered_and_accepted("2026-12-31T10:00:00+08:00", "10.00");
    events[0] = order("o1", "2026-12-20T09:00:00+08:00", H1, "SEL", "10", "5");
    events[1] = received("d1", "o1", "2026-12-21T09:00:00+08:00", "10");
    assert_eq!(payment_at(&events, "2027-01-31T23:59:59+08:00"), vec![]);
    assert_eq!(payment_at(&events, "2027-02-01T00:00:00+08:00"), vec![(Warning, "10.00".into())]);
}

#[test]
fn partial_payments_leave_the_cents_owed() {
    let mut events = delivered_and_accepted("2026-01-31T15:00:00+08:00", "1234.56");
    events.push(paid("p1", H1, "d1", "2026-02-10T10:00:00+08:00", "1000.00"));
    events.push(paid("p2", H1, "d1", "2026-02-20T10:00:00+08:00", "234.55"));
    assert_eq!(payment_at(&events, "2026-03-01T00:00:00+08:00"), vec![(Warning, "0.01".into())]);
    events.push(paid("p3", H1, "d1", "2026-02-27T10:00:00+08:00", "0.01"));
    assert_eq!(payment_at(&events, "2026-03-01T00:00:00+08:00"), vec![]);
}

#[test]
fn paying_more_than_is_owed_is_rejected_as_over_payment() {
    let r = reference();
    let mut s = state(&r, &delivered_and_accepted("2026-01-31T15:00:00+08:00", "10.00"));
    let outcome = s.apply(&r, &paid("p1", H1, "d1", "2026-02-10T10:00:00+08:00", "10.01"));
    let vbp_detectors::state::Outcome::Rejected(rejection) = outcome else { panic!("{outcome:?}") };
    assert_eq!(rejection.reason, vbp_schemas::Reason::OverPayment);
}

#[test]
fn cancelling_more_than_is_undelivered_is_rejected_as_over_cancel() {
    let r = reference();
    let mut s = state(
        &r,
        &[order("o1", "2026-03-02T10:00:00+08:00", H1, "SEL", "10", "5"), received("d1", "o1", "2026-03-03T10:00:00+08:00", "6")],
    );
    let outcome = s.apply(&r, &cancel("o1", "2026-03-03T11:00:00+08:00", "5"));
    let vbp_detectors::state::Outcome::Rejected(rejection) = outcome else { panic!("{outcome:?}") };
    assert_eq!(rejection.reason, vbp_schemas::Reason::OverCancel);
    assert_eq!(s.apply(&r, &cancel("o1", "2026-03-03T11:00:00+08:00", "4")), vbp_detectors::state::Outcome::Applied);
}
