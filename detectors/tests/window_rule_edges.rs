//! One test per SPEC boundary of the four rules of 6.5–6.8, on the tiny
//! province of `support`, with the shipped State Council calendar.
//!
//! National Day 2026: 10-01 … 10-07 off (10-03/04 a weekend), 09-20 (Sun)
//! and 10-10 (Sat) worked. Spring Festival 2026: 02-16 … 02-23 off,
//! 02-14 (Sat) and 02-28 (Sat) worked.

mod support;

use support::*;
use vbp_detectors::alert::{Alert, AlertName::*, Severity, Severity::*};
use vbp_schemas::ComplaintKind;

const H1: &str = "H61030500001";
const H2: &str = "H61030500002";

fn at(events: &[vbp_schemas::Event], when: &str, name: vbp_detectors::alert::AlertName) -> Vec<(Severity, Alert)> {
    let r = reference();
    of(&alerts_at(&r, &state(&r, events), when), name)
}

fn severities_at(events: &[vbp_schemas::Event], when: &str, name: vbp_detectors::alert::AlertName) -> Vec<Severity> {
    at(events, when, name).into_iter().map(|(s, _)| s).collect()
}

// ---- 6.5 the complaint clock ------------------------------------------

fn filed_on_national_day_eve() -> vbp_schemas::Event {
    complaint("C1", "2026-09-30T10:20:00+08:00", H1, "SEL", ComplaintKind::NotDelivered, Some("订单至今未配送"))
}

#[test]
fn w2_across_national_day_2026_is_october_9_so_the_warning_starts_on_the_10th() {
    let events = [filed_on_national_day_eve()];
    assert_eq!(severities_at(&events, "2026-10-09T23:59:59+08:00", ComplaintOverdue), vec![]);
    let fired = at(&events, "2026-10-10T00:00:00+08:00", ComplaintOverdue);
    assert_eq!(fired.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![Warning]);
    let alert = &fired[0].1;
    assert_eq!(alert.labels["complaint_id"], "C1");
    assert_eq!(alert.labels["enterprise"], "甲制药");
    assert_eq!(alert.annotations["missed_deadline"], "2026-10-09");
    // 10-10 is a make-up Saturday: one working day late already.
    assert_eq!(alert.annotations["working_days_late"], "1");
    assert!(alert.annotations["description"].contains("未配送"), "{}", alert.annotations["description"]);
    assert!(alert.annotations["description"].contains("订单至今未配送"));
}

#[test]
fn w2_across_spring_festival_2026_is_february_24() {
    let events = [complaint("C1", "2026-02-13T09:00:00+08:00", H1, "SEL", ComplaintKind::Quality, None)];
    assert_eq!(severities_at(&events, "2026-02-24T12:00:00+08:00", ComplaintOverdue), vec![]);
    assert_eq!(severities_at(&events, "2026-02-25T00:00:00+08:00", ComplaintOverdue), vec![Warning]);
}

#[test]
fn an_unreplied_complaint_turns_critical_after_w7() {
    // W_7(09-30) = 10-15 (10-08, 09, 10, 12, 13, 14, 15).
    let events = [filed_on_national_day_eve()];
    assert_eq!(severities_at(&events, "2026-10-15T23:59:59+08:00", ComplaintOverdue), vec![Warning]);
    let fired = at(&events, "2026-10-16T08:00:00+08:00", ComplaintOverdue);
    assert_eq!(fired[0].0, Critical);
    assert_eq!(fired[0].1.annotations["missed_deadline"], "2026-10-15");
    assert_eq!(fired[0].1.annotations["working_days_late"], "1");
}

#[test]
fn a_reply_stops_the_warning_and_promised_by_later_than_w5_of_the_reply_does_not_extend_the_deadline() {
    // Replied 10-09, promising 10-30; W_5(10-09) = 10-15 is sooner and counts.
    let events = [filed_on_national_day_eve(), replied("C1", "2026-10-09T16:00:00+08:00", "2026-10-30")];
    assert_eq!(severities_at(&events, "2026-10-12T12:00:00+08:00", ComplaintOverdue), vec![]);
    assert_eq!(severities_at(&events, "2026-10-15T23:59:59+08:00", ComplaintOverdue), vec![]);
    let fired = at(&events, "2026-10-16T00:00:00+08:00", ComplaintOverdue);
    assert_eq!(fired.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![Critical]);
    assert_eq!(fired[0].1.annotations["missed_deadline"], "2026-10-15");
}

#[test]
fn a_promised_date_sooner_than_w5_is_the_deadline() {
    let events = [filed_on_national_day_eve(), replied("C1", "2026-10-09T16:00:00+08:00", "2026-10-12")];
    assert_eq!(severities_at(&events, "2026-10-12T23:59:59+08:00", ComplaintOverdue), vec![]);
    assert_eq!(severities_at(&events, "2026-10-13T00:00:00+08:00", ComplaintOverdue), vec![Critical]);
}

#[test]
fn a_reply_dated_after_the_fix_deadline_sets_a_new_one_from_its_own_date() {
    // No reply by W_7 = 10-15: critical. The reply of 10-20 promises 10-22,
    // which is sooner than W_5(10-20) = 10-27: quiet until 10-22, critical after.
    let events = [filed_on_national_day_eve(), replied("C1", "2026-10-20T09:00:00+08:00", "2026-10-22")];
    assert_eq!(severities_at(&events, "2026-10-19T12:00:00+08:00", ComplaintOverdue), vec![Critical]);
    assert_eq!(severities_at(&events, "2026-10-22T12:00:00+08:00", ComplaintOverdue), vec![]);
    assert_eq!(severities_at(&events, "2026-10-23T00:00:00+08:00", ComplaintOverdue), vec![Critical]);
}

#[test]
fn the_first_reply_counts_whatever_order_the_replies_arrive_in() {
    let first = replied("C1", "2026-10-08T09:00:00+08:00", "2026-10-09");
    let second = replied("C1", "2026-10-09T09:00:00+08:00", "2026-10-30");
    let when = "2026-10-12T12:00:00+08:00";
    let forward = severities_at(&[filed_on_national_day_eve(), first.clone(), second.clone()], when, ComplaintOverdue);
    let backward = severities_at(&[filed_on_national_day_eve(), second, first], when, ComplaintOverdue);
    assert_eq!(forward, vec![Critical]);
    assert_eq!(backward, forward);
}

#[test]
fn a_complaint_resolved_exactly_at_t_is_not_overdue_at_t() {
    let events = [filed_on_national_day_eve(), resolved("C1", "2026-10-16T09:00:00+08:00")];
    assert_eq!(severities_at(&events, "2026-10-16T08:59:59.999999+08:00", ComplaintOverdue), vec![Critical]);
    assert_eq!(severities_at(&events, "2026-10-16T09:00:00+08:00", ComplaintOverdue), vec![]);
}

#[test]
fn a_second_filing_of_a_known_complaint_is_a_bad_value_and_a_reply_before_its_filing_waits() {
    let r = reference();
    let mut s = vbp_detectors::state::State::new(&r);
    let reply = replied("C1", "2026-10-09T16:00:00+08:00", "2026-10-12");
    assert_eq!(
        s.apply(&r, &reply),
        vbp_detectors::state::Outcome::Waiting(vbp_detectors::state::Awaited::Complaint("C1".into()))
    );
    assert_eq!(s.apply(&r, &filed_on_national_day_eve()), vbp_detectors::state::Outcome::Applied);
    match s.apply(&r, &filed_on_national_day_eve()) {
        vbp_detectors::state::Outcome::Rejected(rejection) => {
            assert_eq!(rejection.reason, vbp_schemas::Reason::BadValue);
            assert!(rejection.detail.contains("already filed"), "{}", rejection.detail);
        }
        other => panic!("{other:?}"),
    }
}

// ---- 6.6 substitutes: SUB replaces G1, A1 (H1 × F1) is active in 2026 ----
// T = 2026-06-30: recent is 06-01 … 06-30, the baseline window 03-03 … 05-31.

const SURGE_AT: &str = "2026-06-30T20:00:00+08:00";

fn sub(id: &str, day: &str, yuan_per_pack: &str, packs: &str) -> vbp_schemas::Event {
    order(id, &format!("{day}T10:00:00+08:00"), H1, "SUB", packs, yuan_per_pack)
}

#[test]
fn a_substitute_baseline_of_0_warns_from_exactly_5000_yuan() {
    assert_eq!(severities_at(&[sub("s1", "2026-06-15", "100", "50")], SURGE_AT, SubstituteSurge), vec![Warning]);
    assert_eq!(severities_at(&[sub("s1", "2026-06-15", "99.99", "50")], SURGE_AT, SubstituteSurge), vec![]);
}

#[test]
fn recent_exactly_twice_the_baseline_warns_and_exactly_four_times_is_critical() {
    // Baseline = 7,500 / 3 = 2,500: recent 5,000 is exactly 2×.
    let twice = [sub("b1", "2026-04-01", "100", "75"), sub("s1", "2026-06-15", "100", "50")];
    let fired = at(&twice, SURGE_AT, SubstituteSurge);
    assert_eq!(fired.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![Warning]);
    assert_eq!(fired[0].1.annotations["baseline_amount"], "2500.00");
    assert_eq!(fired[0].1.annotations["recent_amount"], "5000.00");
    // Just under 2×: nothing.
    let under = [sub("b1", "2026-04-01", "100.01", "75"), sub("s1", "2026-06-15", "100", "50")];
    assert_eq!(severities_at(&under, SURGE_AT, SubstituteSurge), vec![]);
    // Baseline = 3,750 / 3 = 1,250: recent 5,000 is exactly 4×.
    let four = [sub("b1", "2026-04-01", "100", "37.5"), sub("s1", "2026-06-15", "100", "50")];
    assert_eq!(severities_at(&four, SURGE_AT, SubstituteSurge), vec![Critical]);
}

#[test]
fn the_30_day_window_starts_on_t_minus_29_and_the_baseline_ends_the_day_before() {
    assert_eq!(severities_at(&[sub("s1", "2026-06-01", "100", "50")], SURGE_AT, SubstituteSurge), vec![Warning]);
    assert_eq!(severities_at(&[sub("s1", "2026-05-31", "100", "50")], SURGE_AT, SubstituteSurge), vec![]);
    // The baseline's first day is T − 119 = 03-03; 03-02 is in no window.
    let first = [sub("b1", "2026-03-03", "100", "75"), sub("s1", "2026-06-30", "100", "50")];
    let before = [sub("b1", "2026-03-02", "100", "75"), sub("s1", "2026-06-30", "100", "50")];
    assert_eq!(at(&first, SURGE_AT, SubstituteSurge)[0].1.annotations["baseline_amount"], "2500.00");
    assert_eq!(at(&before, SURGE_AT, SubstituteSurge)[0].1.annotations["baseline_amount"], "0.00");
}

#[test]
fn substitutes_need_an_active_agreement_and_special_service_or_cancelled_packs_do_not_count() {
    // H2's agreement A2 starts 2026-12-31: not active in June.
    let other = [order("s1", "2026-06-15T10:00:00+08:00", H2, "SUB", "100", "100")];
    assert_eq!(severities_at(&other, SURGE_AT, SubstituteSurge), vec![]);
    assert_eq!(severities_at(&[special(sub("s1", "2026-06-15", "100", "50"))], SURGE_AT, SubstituteSurge), vec![]);
    let cancelled = [sub("s1", "2026-06-15", "100", "60"), cancel("s1", "2026-06-16T10:00:00+08:00", "11")];
    assert_eq!(severities_at(&cancelled, SURGE_AT, SubstituteSurge), vec![]);
}

// ---- 6.7 stockpiling: A1 is 36,500 units over 365 days, pace 3,000 a
// month; recent must exceed 9,000 units (900 packs of SEL).

#[test]
fn recent_exactly_three_times_the_pace_is_not_stockpiling() {
    let when = "2026-12-31T12:00:00+08:00";
    assert_eq!(severities_at(&[order("o1", "2026-12-15T09:00:00+08:00", H1, "SEL", "900", "5")], when, PeriodEndStockpiling), vec![]);
    let fired = at(&[order("o1", "2026-12-15T09:00:00+08:00", H1, "SEL", "901", "5")], when, PeriodEndStockpiling);
    assert_eq!(fired.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![Warning]);
    assert_eq!(fired[0].1.annotations["recent_base_units"], "9010");
    assert_eq!(fired[0].1.labels["agreement_id"], "A1");
}

#[test]
fn stockpiling_is_critical_once_the_period_exceeds_1_2_times_the_agreed_units() {
    let when = "2026-12-31T12:00:00+08:00";
    // 34,790 + 9,010 = 43,800 = 1.2 × 36,500 exactly: still a warning.
    let at_limit = [order("o0", "2026-06-01T09:00:00+08:00", H1, "SEL", "3479", "5"), order("o1", "2026-12-15T09:00:00+08:00", H1, "SEL", "901", "5")];
    assert_eq!(severities_at(&at_limit, when, PeriodEndStockpiling), vec![Warning]);
    let over = [order("o0", "2026-06-01T09:00:00+08:00", H1, "SEL", "3480", "5"), order("o1", "2026-12-15T09:00:00+08:00", H1, "SEL", "901", "5")];
    assert_eq!(severities_at(&over, when, PeriodEndStockpiling), vec![Critical]);
}

#[test]
fn the_stockpiling_window_is_the_last_30_days_of_the_period_and_the_30_days_before_t() {
    let big = [order("o1", "2026-12-02T09:00:00+08:00", H1, "SEL", "1000", "5")];
    // T = 12-01 is period_end − 30: not yet the period's end.
    assert_eq!(severities_at(&big, "2026-12-02T23:00:00+08:00", PeriodEndStockpiling), vec![Warning]);
    assert_eq!(severities_at(&[order("o1", "2026-12-01T09:00:00+08:00", H1, "SEL", "1000", "5")], "2026-12-01T23:00:00+08:00", PeriodEndStockpiling), vec![]);
    // At T = 12-31 the window starts on 12-02: an order of 12-01 is outside.
    assert_eq!(severities_at(&big, "2026-12-31T23:00:00+08:00", PeriodEndStockpiling), vec![Warning]);
    let day_before = [order("o1", "2026-12-01T09:00:00+08:00", H1, "SEL", "1000", "5")];
    assert_eq!(severities_at(&day_before, "2026-12-31T23:00:00+08:00", PeriodEndStockpiling), vec![]);
    assert_eq!(severities_at(&[special(order("o1", "2026-12-15T09:00:00+08:00", H1, "SEL", "1000", "5"))], "2026-12-31T12:00:00+08:00", PeriodEndStockpiling), vec![]);
}

// ---- 6.8 price: PEN costs 0.0125 a base unit, 10 a pack: 0.125 → 0.13.

#[test]
fn a_selected_price_per_pack_rounds_half_up_so_0_13_is_not_above_it() {
    let when = "2026-06-30T12:00:00+08:00";
    assert_eq!(severities_at(&[order("o1", "2026-06-20T09:00:00+08:00", H1, "PEN", "1000", "0.13")], when, PriceAboveSelected), vec![]);
    let fired = at(&[order("o1", "2026-06-20T09:00:00+08:00", H1, "PEN", "1000", "0.14")], when, PriceAboveSelected);
    assert_eq!(fired.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![Warning]);
    assert_eq!(fired[0].1.annotations["overcharge"], "10.00");
    assert_eq!(fired[0].1.annotations["selected_price_per_pack"], "0.13");
}

#[test]
fn an_overcharge_of_exactly_1000_yuan_is_critical() {
    let when = "2026-06-30T12:00:00+08:00";
    let exactly = [order("o1", "2026-06-20T09:00:00+08:00", H1, "SEL", "1000", "6"), order("o2", "2026-06-21T09:00:00+08:00", H1, "SEL", "1", "5.01")];
    // (6 − 5) × 1,000 + 0.01 × 1 = 1,000.01; without o2 exactly 1,000.
    assert_eq!(severities_at(&exactly[..1], when, PriceAboveSelected), vec![Critical]);
    let fired = at(&exactly, when, PriceAboveSelected);
    assert_eq!(fired[0].1.annotations["overcharge"], "1000.01");
    assert_eq!(fired[0].1.annotations["overpriced_orders"], "2");
    assert_eq!(severities_at(&[order("o1", "2026-06-20T09:00:00+08:00", H1, "SEL", "999", "6")], when, PriceAboveSelected), vec![Warning]);
}

#[test]
fn orders_above_the_price_count_for_30_days_unless_cancelled_in_full_or_special() {
    let when = "2026-06-30T12:00:00+08:00";
    let o = |day: &str| order("o1", &format!("{day}T09:00:00+08:00"), H1, "SEL", "10", "6");
    assert_eq!(severities_at(&[o("2026-06-01")], when, PriceAboveSelected), vec![Warning]);
    assert_eq!(severities_at(&[o("2026-05-31")], when, PriceAboveSelected), vec![]);
    assert_eq!(severities_at(&[o("2026-06-01"), cancel("o1", "2026-06-02T09:00:00+08:00", "10")], when, PriceAboveSelected), vec![]);
    let partly = at(&[o("2026-06-01"), cancel("o1", "2026-06-02T09:00:00+08:00", "4")], when, PriceAboveSelected);
    assert_eq!(partly[0].1.annotations["overcharge"], "6.00");
    assert_eq!(severities_at(&[special(o("2026-06-01"))], when, PriceAboveSelected), vec![]);
}
