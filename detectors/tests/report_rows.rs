//! One test per SPEC §10 boundary of the execution report, on the tiny
//! province of `support`: G1's selected SEL/SEL28 (family F1, 第十批国采)
//! against its non-selected NS, BAK (backup) and CHEAP, with SUB (group
//! G3) a substitute of G1; G2's STENT (family F2, another batch).

mod support;

use rust_decimal::Decimal;
use support::*;
use vbp_detectors::report::{rows, Cell, ReportRow};
use vbp_detectors::state::State;
use vbp_detectors::time::local_date;

const H1: &str = "H61030500001";
const H3: &str = "H61030200003";

fn report(reference: &vbp_detectors::reference::ReferenceData, state: &State, at: &str) -> Vec<ReportRow> {
    rows(reference, &[&state.purchases], local_date(t(at)), |_| true)
}

fn row<'a>(rows: &'a [ReportRow], institution: &str, start: &str) -> &'a ReportRow {
    rows.iter()
        .find(|r| r.institution_code == institution && r.period_start.to_string() == start)
        .unwrap_or_else(|| panic!("no row for {institution} from {start} in {rows:#?}"))
}

fn pct(s: &str) -> Decimal {
    d(s)
}

#[test]
fn a_period_starting_on_t_s_date_is_in_the_report_with_one_day_elapsed() {
    let reference = reference();
    let rows = report(&reference, &state(&reference, &[]), "2026-12-31T00:00:00+08:00");
    let a2 = row(&rows, "H61030500002", "2026-12-31");
    assert_eq!(a2.schedule_pct, pct("0.27"), "1 of 365 days");
    assert_eq!((a2.agreements, a2.zero, a2.zero_pct), (1, 1, pct("100.00")));
}

#[test]
fn t_on_a_period_s_last_day_counts_the_whole_period_and_the_day_after_drops_the_row() {
    let reference = reference();
    let state = state(&reference, &[order("o1", "2026-06-01T09:00:00+08:00", H1, "SEL", "3650", "5")]);
    let last_day = report(&reference, &state, "2026-12-31T23:59:59+08:00");
    let a1 = row(&last_day, H1, "2026-01-01");
    assert_eq!(a1.schedule_pct, pct("100.00"));
    // 36,500 of 36,500 units: progress = schedule = 1 is normal, not behind, not over.
    assert_eq!((a1.zero, a1.behind, a1.over, a1.normal), (0, 0, 0, 1));
    let next_day = report(&reference, &state, "2027-01-01T00:00:00+08:00");
    assert!(next_day.iter().all(|r| r.institution_code != H1), "{next_day:#?}");
}

#[test]
fn special_service_orders_count_nowhere_and_cancelled_packs_are_taken_out() {
    let reference = reference();
    let events = [
        special(order("sp", "2026-02-01T09:00:00+08:00", H1, "SEL", "10000", "5")),
        order("o1", "2026-02-01T09:00:00+08:00", H1, "SEL", "100", "5"),
        cancel("o1", "2026-02-02T09:00:00+08:00", "40"),
        special(order("sp-ns", "2026-02-01T09:00:00+08:00", H1, "NS", "100", "9")),
    ];
    let state = state(&reference, &events);
    // 60 packs × 10 = 600 of 36,500 units on 2026-07-02 (schedule 50.14 %): behind.
    let a1 = row(&report(&reference, &state, "2026-07-02T12:00:00+08:00"), H1, "2026-01-01").clone();
    assert_eq!((a1.zero, a1.behind, a1.normal), (0, 1, 0));
    assert_eq!(a1.non_selected_bought, 0, "the special-service NS order is not counted");
    assert_eq!(state.purchases.per_agreement[0], d("600"));
}

#[test]
fn a_cancelled_order_in_full_leaves_the_agreement_at_zero_purchase() {
    let reference = reference();
    let events =
        [order("o1", "2026-02-01T09:00:00+08:00", H1, "SEL", "100", "5"), cancel("o1", "2026-02-01T10:00:00+08:00", "100")];
    let a1 = row(&report(&reference, &state(&reference, &events), "2026-03-01T00:00:00+08:00"), H1, "2026-01-01").clone();
    assert_eq!((a1.zero, a1.zero_pct), (1, pct("100.00")));
}

#[test]
fn two_periods_of_one_batch_are_two_rows_sorted_by_period_start_each_with_its_own_window() {
    let agreements = "agreement_id,institution_code,family_id,period_start,period_end,agreed_base_units
A1,H61030500001,F1,2026-01-01,2026-12-31,36500
A6,H61030500001,F1,2026-07-01,2027-06-30,3650
";
    let reference = reference_with(agreements);
    let events = [
        order("before", "2026-06-30T09:00:00+08:00", H1, "NS", "5", "9"),
        order("after", "2026-07-01T09:00:00+08:00", H1, "SEL", "100", "5"),
    ];
    let rows = report(&reference, &state(&reference, &events), "2026-07-01T12:00:00+08:00");
    let starts: Vec<String> = rows.iter().filter(|r| r.institution_code == H1).map(|r| r.period_start.to_string()).collect();
    assert_eq!(starts, ["2026-01-01", "2026-07-01"]);
    let (a1, a6) = (row(&rows, H1, "2026-01-01"), row(&rows, H1, "2026-07-01"));
    assert_eq!(a1.batch, a6.batch);
    // NS bought on 06-30 is in A1's window only.
    assert_eq!((a1.non_selected_bought, a6.non_selected_bought), (1, 0));
    // The SEL order of 07-01 counts toward both agreements (6.1): 1,000 units.
    // A6: 1,000 of 3,650 on day 1 of 365 is over schedule but not over volume.
    assert_eq!((a6.behind, a6.normal, a6.over), (0, 1, 0));
    assert_eq!((a1.behind, a1.normal), (1, 0), "1,000 of 36,500 at 49.86 % elapsed");
}

#[test]
fn a_schedule_of_exactly_x_xx5_percent_rounds_half_up() {
    // 32 days: day 1 is 3.125 % → 3.13 (half to even would give 3.12),
    // day 3 is 9.375 % → 9.38.
    let agreements = "agreement_id,institution_code,family_id,period_start,period_end,agreed_base_units
A1,H61030500001,F1,2026-03-01,2026-04-01,320
";
    let reference = reference_with(agreements);
    let empty = state(&reference, &[]);
    assert_eq!(row(&report(&reference, &empty, "2026-03-01T08:00:00+08:00"), H1, "2026-03-01").schedule_pct, pct("3.13"));
    assert_eq!(row(&report(&reference, &empty, "2026-03-03T08:00:00+08:00"), H1, "2026-03-01").schedule_pct, pct("9.38"));
}

#[test]
fn a_share_of_one_in_eight_agreements_is_12_50_and_the_four_counts_add_up() {
    // Eight agreements of H1 in one row (same batch and period): the
    // shares are count ÷ 8, e.g. 1 → 12.50, 3 → 37.50.
    let mut agreements = String::from("agreement_id,institution_code,family_id,period_start,period_end,agreed_base_units\n");
    for i in 0..8 {
        agreements.push_str(&format!("A{i},H61030500001,F1,2026-01-01,2026-12-31,{}\n", 1000 * (i + 1)));
    }
    let reference = reference_with(&agreements);
    let state = state(&reference, &[order("o1", "2026-01-05T09:00:00+08:00", H1, "SEL", "250", "5")]);
    // 2,500 units toward each: on 2026-04-10 (100 of 365 days, 27.40 %),
    // agreements of 1,000 and 2,000 are over, 3,000…8,000 are at 83 %…31 %:
    // all ≥ 27.40 % except none; so 2 over and 6 normal.
    let r = row(&report(&reference, &state, "2026-04-10T12:00:00+08:00"), H1, "2026-01-01").clone();
    assert_eq!((r.agreements, r.zero, r.behind, r.over, r.normal), (8, 0, 0, 2, 6));
    assert_eq!((r.over_pct, r.normal_pct), (pct("25.00"), pct("75.00")));
    // On 2026-12-01 (335 days, 91.78 %): 2,500 ÷ 3,000 = 83 % is behind too.
    let r = row(&report(&reference, &state, "2026-12-01T12:00:00+08:00"), H1, "2026-01-01").clone();
    assert_eq!((r.behind, r.over, r.normal, r.behind_pct), (6, 2, 0, pct("75.00")));
    assert_eq!(r.zero + r.behind + r.over + r.normal, r.agreements);
}

#[test]
fn non_selected_products_compare_with_the_selected_ones_of_their_group_by_units_and_by_amount() {
    let reference = reference();
    let events = [
        // Selected: 10 packs × 10 = 100 units for 50 yuan.
        order("sel", "2026-03-01T09:00:00+08:00", H1, "SEL", "10", "5"),
        // NS: 110 units for 44 yuan: over by units, not by amount; bought
        // during H1's exemption, which the report does not apply.
        order("ns", "2026-03-11T09:00:00+08:00", H1, "NS", "11", "4"),
        // BAK (backup supplier, still counted): 50 units for 60 yuan:
        // over by amount only.
        order("bak", "2026-03-01T09:00:00+08:00", H1, "BAK", "5", "12"),
        // SUB, the substitute of G1.
        order("sub", "2026-03-01T09:00:00+08:00", H1, "SUB", "1", "30"),
    ];
    let r = row(&report(&reference, &state(&reference, &events), "2026-06-01T00:00:00+08:00"), H1, "2026-01-01").clone();
    assert_eq!(r.non_selected_total, 3, "NS, BAK and CHEAP");
    assert_eq!(r.non_selected_bought, 2);
    assert_eq!(r.non_selected_over_units, 1);
    assert_eq!(r.non_selected_over_amount, 1);
    assert_eq!((r.substitutes_total, r.substitutes_bought), (1, 1));
    // A1 is behind (100 of 36,500 units at 41 % elapsed) and G1 has NS over by units.
    assert_eq!((r.behind, r.behind_and_non_selected_over), (1, 1));
}

#[test]
fn a_division_gives_its_own_institutions_and_a_city_all_of_its_districts() {
    let reference = reference();
    let state = state(&reference, &[]);
    let at = local_date(t("2026-12-31T12:00:00+08:00"));
    let codes = |code: &str| -> Vec<String> {
        rows(&reference, &[&state.purchases], at, |i| i.is_in(code)).into_iter().map(|r| r.institution_code).collect()
    };
    assert_eq!(codes("610305"), ["H61030500001", "H61030500002"]);
    assert_eq!(codes("610302"), [H3]);
    assert_eq!(codes("610300"), ["H61030200003", "H61030500001", "H61030500002"], "sorted by division, then institution");
    assert!(codes("610113").is_empty());
}

#[test]
fn shards_add_up_to_the_single_state() {
    let reference = reference();
    let events = [
        order("sel", "2026-03-01T09:00:00+08:00", H1, "SEL", "10", "5"),
        order("ns", "2026-03-11T09:00:00+08:00", H1, "NS", "11", "4"),
        order("st", "2026-03-11T09:00:00+08:00", H3, "STENT", "50", "700"),
    ];
    let whole = state(&reference, &events);
    let (first, second) = (state(&reference, &events[..1]), state(&reference, &events[1..]));
    let at = local_date(t("2026-06-01T00:00:00+08:00"));
    let sharded = rows(&reference, &[&first.purchases, &second.purchases], at, |_| true);
    assert_eq!(sharded, rows(&reference, &[&whole.purchases], at, |_| true));
    let stent = row(&sharded, H3, "2026-01-01");
    assert_eq!((stent.batch.as_str(), stent.normal), ("国家组织冠脉支架集采", 1));
}

#[test]
fn cells_are_written_as_the_csv_writes_them() {
    let reference = reference();
    let rows = report(&reference, &state(&reference, &[]), "2026-12-31T00:00:00+08:00");
    let texts: Vec<String> = row(&rows, "H61030500002", "2026-12-31").cells().iter().map(Cell::text).collect();
    assert_eq!(&texts[..10], ["凤翔区中医医院", "H61030500002", "凤翔区", "第十批国采", "2026-12-31", "2027-12-30", "0.27", "1", "1", "100.00"]);
}
