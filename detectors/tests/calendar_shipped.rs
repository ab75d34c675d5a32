//! The shipped State Council arrangements (schemas/data/cn-holidays.csv) are exactly
//! those of 国办发明电〔2024〕12号 (2025) and 国办发明电〔2025〕7号 (2026).

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};
use vbp_detectors::calendar::{Calendar, DayKind};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

type Ymd = (i32, u32, u32);

/// Holiday blocks (first and last day off, inclusive) as the notices state them.
const BLOCKS: &[(Ymd, Ymd)] = &[
    ((2025, 1, 1), (2025, 1, 1)),   // 元旦
    ((2025, 1, 28), (2025, 2, 4)),  // 春节
    ((2025, 4, 4), (2025, 4, 6)),   // 清明节
    ((2025, 5, 1), (2025, 5, 5)),   // 劳动节
    ((2025, 5, 31), (2025, 6, 2)),  // 端午节
    ((2025, 10, 1), (2025, 10, 8)), // 国庆节、中秋节
    ((2026, 1, 1), (2026, 1, 3)),   // 元旦
    ((2026, 2, 15), (2026, 2, 23)), // 春节
    ((2026, 4, 4), (2026, 4, 6)),   // 清明节
    ((2026, 5, 1), (2026, 5, 5)),   // 劳动节
    ((2026, 6, 19), (2026, 6, 21)), // 端午节
    ((2026, 9, 25), (2026, 9, 27)), // 中秋节
    ((2026, 10, 1), (2026, 10, 7)), // 国庆节
];

/// Make-up working days (调休上班), all on weekends.
const MAKE_UP: &[Ymd] = &[
    (2025, 1, 26),
    (2025, 2, 8),
    (2025, 4, 27),
    (2025, 9, 28),
    (2025, 10, 11),
    (2026, 1, 4),
    (2026, 2, 14),
    (2026, 2, 28),
    (2026, 5, 9),
    (2026, 9, 20),
    (2026, 10, 10),
];

fn days_off() -> BTreeSet<NaiveDate> {
    BLOCKS
        .iter()
        .flat_map(|&((y1, m1, d1), (y2, m2, d2))| {
            let last = date(y2, m2, d2);
            date(y1, m1, d1).iter_days().take_while(move |d| *d <= last)
        })
        .collect()
}

fn make_up() -> BTreeSet<NaiveDate> {
    MAKE_UP.iter().map(|&(y, m, d)| date(y, m, d)).collect()
}

#[test]
fn every_day_of_every_block_is_off() {
    let calendar = Calendar::shipped();
    for d in days_off() {
        assert!(!calendar.is_working_day(d), "{d} is a day off");
    }
}

#[test]
fn every_make_up_day_is_a_weekend_day_worked() {
    let calendar = Calendar::shipped();
    for d in make_up() {
        assert!(is_weekend(d), "{d} should be a weekend day");
        assert!(calendar.is_working_day(d), "{d} is worked");
    }
}

#[test]
fn listed_dates_are_exactly_weekday_holidays_and_weekend_workdays() {
    let expected_holidays: BTreeSet<NaiveDate> =
        days_off().into_iter().filter(|d| !is_weekend(*d)).collect();
    let calendar = Calendar::shipped();
    let listed_holidays: BTreeSet<NaiveDate> = calendar
        .listed()
        .filter(|(_, kind)| *kind == DayKind::Holiday)
        .map(|(d, _)| d)
        .collect();
    let listed_workdays: BTreeSet<NaiveDate> = calendar
        .listed()
        .filter(|(_, kind)| *kind == DayKind::Workday)
        .map(|(d, _)| d)
        .collect();
    assert_eq!(listed_holidays, expected_holidays);
    assert_eq!(listed_workdays, make_up());
}

#[test]
fn every_other_day_follows_the_monday_to_friday_rule() {
    let calendar = Calendar::shipped();
    let (off, worked) = (days_off(), make_up());
    for d in date(2025, 1, 1)
        .iter_days()
        .take_while(|d| d.year() <= 2026)
    {
        if !off.contains(&d) && !worked.contains(&d) {
            assert_eq!(calendar.is_working_day(d), !is_weekend(d), "{d}");
        }
    }
}

#[test]
fn working_days_per_year() {
    let calendar = Calendar::shipped();
    // 2025: 261 Monday–Fridays (365 days = 52 weeks + Wednesday Jan 1), minus
    // 18 weekday holidays (元旦 1, 春节 6, 清明 1, 劳动节 3, 端午 1, 国庆中秋 6),
    // plus 5 make-up weekend days = 248.
    assert_eq!(
        calendar.working_days_after_until(date(2024, 12, 31), date(2025, 12, 31)),
        248
    );
    // 2026: 261 Monday–Fridays (52 weeks + Thursday Jan 1), minus 19 weekday
    // holidays (元旦 2, 春节 6, 清明 1, 劳动节 3, 端午 1, 中秋 1, 国庆 5), plus 6
    // make-up weekend days = 248.
    assert_eq!(
        calendar.working_days_after_until(date(2025, 12, 31), date(2026, 12, 31)),
        248
    );
}

#[test]
fn outside_2025_2026_only_weekends_are_off() {
    let calendar = Calendar::shipped();
    // 2027 has no arrangement shipped: Jan 1 2027 (a Friday) is a working day
    // until a calendar.csv says otherwise.
    assert!(calendar.is_working_day(date(2027, 1, 1)));
    assert!(!calendar.is_working_day(date(2024, 12, 28)));
}
