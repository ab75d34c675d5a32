//! Working-day counting: hand-counted holiday weeks, overrides, and property
//! tests against a day-by-day count.

#[path = "fixtures/support.rs"]
mod support;

use std::collections::HashMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use proptest::prelude::*;
use vbp_detectors::calendar::{Calendar, DayKind};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Counts working days in (from, to] one day at a time with `is_working`.
fn day_by_day(from: NaiveDate, to: NaiveDate, is_working: impl Fn(NaiveDate) -> bool) -> u32 {
    from.iter_days()
        .skip(1)
        .take_while(|d| *d <= to)
        .filter(|d| is_working(*d))
        .count() as u32
}

// ------------------------------------------------------------ Spring Festival 2026

#[test]
fn spring_festival_2026() {
    let cal = Calendar::shipped();
    // From Fri 2026-02-13 to Fri 2026-02-27, days d with 13 < d ≤ 27:
    //   Sat 14 make-up workday ........................ 1
    //   Sun 15 off (first day of the block)
    //   Mon 16 – Fri 20 holidays
    //   Sat 21, Sun 22 weekend inside the block
    //   Mon 23 holiday (last day of the block)
    //   Tue 24, Wed 25, Thu 26, Fri 27 ................ 4
    // = 5 (a weekday-only count would say 10).
    assert_eq!(
        cal.working_days_after_until(date(2026, 2, 13), date(2026, 2, 27)),
        5
    );
    assert_eq!(
        Calendar::weekends_only().working_days_after_until(date(2026, 2, 13), date(2026, 2, 27)),
        10
    );
    // Across the Sat 28 make-up day, to Mon 2026-03-02: the 5 above,
    // + Sat Feb 28 (worked) + Mon Mar 2; Sun Mar 1 is off = 7.
    assert_eq!(
        cal.working_days_after_until(date(2026, 2, 13), date(2026, 3, 2)),
        7
    );
    // Fri 27 → Sat 28: only the make-up Saturday = 1; → Sun Mar 1: still 1.
    assert_eq!(
        cal.working_days_after_until(date(2026, 2, 27), date(2026, 2, 28)),
        1
    );
    assert_eq!(
        cal.working_days_after_until(date(2026, 2, 27), date(2026, 3, 1)),
        1
    );
    // A delivery deadline on Thu Feb 12 evaluated on Wed Feb 25: Fri 13,
    // Sat 14 (make-up), Tue 24, Wed 25 = 4, below the 5-day limit; counting
    // weekdays it would be 9 and wrongly critical.
    assert_eq!(
        cal.working_days_after_until(date(2026, 2, 12), date(2026, 2, 25)),
        4
    );
}

// ------------------------------------------------------------ National Day 2026

#[test]
fn national_day_2026() {
    let cal = Calendar::shipped();
    // From Wed 2026-09-30 to Mon 2026-10-12, days d with Sep 30 < d ≤ Oct 12:
    //   Thu 1, Fri 2 holidays; Sat 3, Sun 4 weekend in the block;
    //   Mon 5, Tue 6, Wed 7 holidays
    //   Thu 8, Fri 9 .................................. 2
    //   Sat 10 make-up workday ........................ 1
    //   Sun 11 off
    //   Mon 12 ........................................ 1
    // = 4.
    assert_eq!(
        cal.working_days_after_until(date(2026, 9, 30), date(2026, 10, 12)),
        4
    );
    // From Fri 2026-09-18 to Wed 2026-09-30:
    //   Sat 19 off; Sun 20 make-up workday ............ 1
    //   Mon 21 – Thu 24 ............................... 4
    //   Fri 25 中秋 holiday; Sat 26, Sun 27 off
    //   Mon 28, Tue 29, Wed 30 ........................ 3
    // = 8; so Sep 18 → Oct 12 = 8 + 4 = 12.
    assert_eq!(
        cal.working_days_after_until(date(2026, 9, 18), date(2026, 9, 30)),
        8
    );
    assert_eq!(
        cal.working_days_after_until(date(2026, 9, 18), date(2026, 10, 12)),
        12
    );
    assert!(cal.is_working_day(date(2026, 9, 20)));
    assert!(cal.is_working_day(date(2026, 10, 10)));
    assert!(!cal.is_working_day(date(2026, 10, 11)));
}

#[test]
fn empty_and_reversed_ranges_count_zero() {
    let cal = Calendar::shipped();
    assert_eq!(
        cal.working_days_after_until(date(2026, 3, 2), date(2026, 3, 2)),
        0
    );
    assert_eq!(
        cal.working_days_after_until(date(2026, 3, 9), date(2026, 3, 2)),
        0
    );
}

// ------------------------------------------------------------ overrides

#[test]
fn overrides_change_the_count() {
    let shipped = Calendar::shipped();
    let (from, to) = (date(2026, 9, 30), date(2026, 10, 12));
    assert_eq!(shipped.working_days_after_until(from, to), 4);
    // A local extra day off on Fri Oct 9: one fewer.
    let local = shipped
        .clone()
        .with_overrides([(date(2026, 10, 9), DayKind::Holiday)]);
    assert_eq!(local.working_days_after_until(from, to), 3);
    // Working Sun Oct 11 as well: back to 4.
    let local = local.with_overrides(vec![(date(2026, 10, 11), DayKind::Workday)]);
    assert_eq!(local.working_days_after_until(from, to), 4);
    // A shipped holiday turned into a workday (Thu Oct 1): one more.
    let local = shipped
        .clone()
        .with_overrides([(date(2026, 10, 1), DayKind::Workday)]);
    assert_eq!(local.working_days_after_until(from, to), 5);
    // Neutral overrides: a holiday on a Sunday, a workday on a Monday.
    let neutral = shipped.clone().with_overrides([
        (date(2026, 10, 11), DayKind::Holiday),
        (date(2026, 10, 12), DayKind::Workday),
    ]);
    assert_eq!(neutral.working_days_after_until(from, to), 4);
}

#[test]
fn later_override_for_the_same_date_wins() {
    let d = date(2027, 1, 1);
    let cal = Calendar::shipped().with_overrides([(d, DayKind::Holiday), (d, DayKind::Workday)]);
    assert!(cal.is_working_day(d));
    let cal = Calendar::shipped().with_overrides([(d, DayKind::Workday), (d, DayKind::Holiday)]);
    assert!(!cal.is_working_day(d));
}

#[test]
fn calendar_csv_overrides_change_the_result() {
    let dir = support::TempDir::valid("calendar-count");
    dir.write(
        "calendar.csv",
        "date,kind\n2026-10-09,holiday\n2027-02-08,holiday\n2027-02-06,workday\n",
    );
    let data = dir.load().unwrap();
    let shipped = Calendar::shipped();
    let (from, to) = (date(2026, 9, 30), date(2026, 10, 12));
    assert_eq!(shipped.working_days_after_until(from, to), 4);
    assert_eq!(data.calendar.working_days_after_until(from, to), 3);
    // A year the shipped file does not cover: Mon 2027-02-08 off, Sat 02-06 worked.
    let (from, to) = (date(2027, 2, 5), date(2027, 2, 9));
    assert_eq!(
        shipped.working_days_after_until(from, to),
        2,
        "Mon 8, Tue 9"
    );
    assert_eq!(
        data.calendar.working_days_after_until(from, to),
        2,
        "Sat 6, Tue 9"
    );
    assert_eq!(
        data.calendar
            .working_days_after_until(date(2027, 2, 7), date(2027, 2, 8)),
        0
    );
}

// ------------------------------------------------------------ far dates

#[test]
fn far_dates_count_like_day_by_day() {
    let cal = Calendar::shipped();
    for start in [
        date(1, 1, 1),
        date(1999, 12, 25),
        date(2101, 1, 1),
        date(9999, 12, 1),
        date(-500, 3, 1),
    ] {
        let end = start + Days::new(40);
        let expected = day_by_day(start, end, |d| cal.is_working_day(d));
        assert_eq!(
            cal.working_days_after_until(start, end),
            expected,
            "{start}"
        );
    }
    // Whole chrono range: no overflow, no panic; about 5/7 of the days.
    let all = cal.working_days_after_until(NaiveDate::MIN, NaiveDate::MAX);
    let days = (NaiveDate::MAX - NaiveDate::MIN).num_days() as f64;
    assert!((f64::from(all) / days - 5.0 / 7.0).abs() < 1e-6);
}

// ------------------------------------------------------------ properties

fn date_in(years: std::ops::RangeInclusive<i32>) -> impl Strategy<Value = NaiveDate> {
    let first = date(*years.start(), 1, 1);
    let span = (date(*years.end(), 12, 31) - first).num_days() as u64;
    (0..=span).prop_map(move |n| first + Days::new(n))
}

fn kind() -> impl Strategy<Value = DayKind> {
    prop_oneof![Just(DayKind::Holiday), Just(DayKind::Workday)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn shipped_count_agrees_with_day_by_day(a in date_in(2024..=2028), b in date_in(2024..=2028)) {
        let cal = Calendar::shipped();
        let expected = day_by_day(a, b, |d| cal.is_working_day(d));
        prop_assert_eq!(cal.working_days_after_until(a, b), expected);
    }

    #[test]
    fn overridden_count_agrees_with_an_independent_model(
        overrides in prop::collection::vec((date_in(2024..=2028), kind()), 0..60),
        a in date_in(2024..=2028),
        b in date_in(2024..=2028),
    ) {
        // Model: the rule of SPEC §3 written directly, later entries winning.
        let listed: HashMap<NaiveDate, DayKind> = overrides.iter().copied().collect();
        let model = |d: NaiveDate| match listed.get(&d) {
            Some(kind) => *kind == DayKind::Workday,
            None => !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
        };
        let cal = Calendar::weekends_only().with_overrides(overrides);
        prop_assert_eq!(cal.working_days_after_until(a, b), day_by_day(a, b, model));
        prop_assert_eq!(cal.is_working_day(a), model(a));
    }

    #[test]
    fn counts_add_up_over_adjacent_ranges(
        a in date_in(2024..=2028),
        b in date_in(2024..=2028),
        c in date_in(2024..=2028),
    ) {
        let cal = Calendar::shipped();
        let mut v = [a, b, c];
        v.sort();
        let [a, b, c] = v;
        let wd = |x, y| cal.working_days_after_until(x, y);
        prop_assert_eq!(wd(a, b) + wd(b, c), wd(a, c));
        prop_assert_eq!(wd(c, a), 0);
        if let Some(next) = b.succ_opt() {
            prop_assert_eq!(wd(b, next), u32::from(cal.is_working_day(next)));
        }
    }
}
