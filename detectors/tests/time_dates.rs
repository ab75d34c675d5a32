//! China Standard Time dates, month addition and 次月底, checked on named
//! cases from SPEC and the brief, exhaustively over 2025–2028 against an
//! independent day-counting implementation, and by property tests.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use vbp_detectors::time::{
    add_months_clamped, end_of_next_month, local_date, local_midnight, parse_date,
    payment_overdue_from, CST,
};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn instant(rfc3339: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap()
}

// ------------------------------------------------------------ naive model

/// Gregorian leap year, written out rather than taken from chrono.
fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => unreachable!(),
    }
}

/// (year, month) `n` months after (year, month).
fn month_plus(year: i32, month: u32, n: u32) -> (i32, u32) {
    let zero_based = year * 12 + (month as i32 - 1) + n as i32;
    (
        zero_based.div_euclid(12),
        zero_based.rem_euclid(12) as u32 + 1,
    )
}

fn naive_add_months(d: NaiveDate, n: u32) -> (i32, u32, u32) {
    let (y, m) = month_plus(d.year(), d.month(), n);
    (y, m, d.day().min(days_in_month(y, m)))
}

fn naive_end_of_next_month(d: NaiveDate) -> (i32, u32, u32) {
    let (y, m) = month_plus(d.year(), d.month(), 1);
    (y, m, days_in_month(y, m))
}

fn ymd(d: NaiveDate) -> (i32, u32, u32) {
    (d.year(), d.month(), d.day())
}

fn every_day(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

// ------------------------------------------------------------ CST

#[test]
fn cst_is_utc_plus_eight() {
    assert_eq!(CST.local_minus_utc(), 28_800);
}

#[test]
fn local_date_is_the_date_in_china() {
    // 20:00 UTC on Jan 31 is 04:00 on Feb 1 in Beijing.
    assert_eq!(
        local_date(instant("2026-01-31T20:00:00Z")),
        date(2026, 2, 1)
    );
    assert_eq!(
        local_date(instant("2026-01-31T15:59:59Z")),
        date(2026, 1, 31)
    );
    assert_eq!(
        local_date(instant("2026-01-31T16:00:00Z")),
        date(2026, 2, 1)
    );
    assert_eq!(
        local_date(instant("2026-01-31T23:59:59+08:00")),
        date(2026, 1, 31)
    );
    assert_eq!(
        local_date(instant("2026-01-31T11:00:00-05:00")),
        date(2026, 2, 1)
    );
    assert_eq!(
        local_date(Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap()),
        date(2027, 1, 1)
    );
}

#[test]
fn local_midnight_is_zero_hours_plus_eight() {
    let t = local_midnight(date(2026, 3, 1));
    assert_eq!(t.to_rfc3339(), "2026-03-01T00:00:00+08:00");
    assert_eq!(t, instant("2026-02-28T16:00:00Z"));
}

// ------------------------------------------------------------ named cases

#[test]
fn add_months_clamps_to_the_last_day() {
    // SPEC §6.1 and the brief.
    assert_eq!(add_months_clamped(date(2026, 12, 31), 2), date(2027, 2, 28));
    assert_eq!(add_months_clamped(date(2028, 12, 31), 2), date(2029, 2, 28));
    assert_eq!(add_months_clamped(date(2027, 12, 31), 2), date(2028, 2, 29));
    assert_eq!(add_months_clamped(date(2026, 1, 31), 1), date(2026, 2, 28));
    assert_eq!(add_months_clamped(date(2026, 8, 31), 1), date(2026, 9, 30));
    assert_eq!(add_months_clamped(date(2026, 1, 1), 2), date(2026, 3, 1));
    assert_eq!(add_months_clamped(date(2026, 5, 15), 0), date(2026, 5, 15));
    assert_eq!(add_months_clamped(date(2028, 2, 29), 12), date(2029, 2, 28));
}

#[test]
fn end_of_next_month_named_cases() {
    assert_eq!(end_of_next_month(date(2026, 1, 31)), date(2026, 2, 28));
    assert_eq!(end_of_next_month(date(2026, 1, 1)), date(2026, 2, 28));
    assert_eq!(end_of_next_month(date(2026, 12, 31)), date(2027, 1, 31));
    assert_eq!(end_of_next_month(date(2027, 12, 15)), date(2028, 1, 31));
    assert_eq!(end_of_next_month(date(2028, 1, 31)), date(2028, 2, 29));
    // Feb 28 of a leap year: next month is March.
    assert_eq!(end_of_next_month(date(2028, 2, 28)), date(2028, 3, 31));
    assert_eq!(end_of_next_month(date(2028, 2, 29)), date(2028, 3, 31));
}

#[test]
fn payment_overdue_from_named_cases() {
    // SPEC §6.4: accepted 2026-01-31 → overdue from 2026-03-01T00:00+08:00.
    assert_eq!(
        payment_overdue_from(date(2026, 1, 31)).to_rfc3339(),
        "2026-03-01T00:00:00+08:00"
    );
    // Feb 28 of a leap year: deadline 2028-03-31, overdue from April 1.
    assert_eq!(
        payment_overdue_from(date(2028, 2, 28)).to_rfc3339(),
        "2028-04-01T00:00:00+08:00"
    );
    // Dec 31: deadline Jan 31 of the next year, overdue from Feb 1.
    assert_eq!(
        payment_overdue_from(date(2026, 12, 31)).to_rfc3339(),
        "2027-02-01T00:00:00+08:00"
    );
    // Jan 31 of a leap year: deadline Feb 29, overdue from Mar 1.
    assert_eq!(
        payment_overdue_from(date(2028, 1, 31)).to_rfc3339(),
        "2028-03-01T00:00:00+08:00"
    );
}

#[test]
fn the_deadline_day_is_still_in_time() {
    let overdue = payment_overdue_from(date(2026, 1, 31));
    let last_second = instant("2026-02-28T23:59:59+08:00");
    assert!(last_second < overdue);
    assert!(
        instant("2026-02-28T16:00:00Z") >= overdue,
        "= 2026-03-01T00:00+08:00"
    );
}

// ------------------------------------------------------------ exhaustive

#[test]
fn add_months_matches_naive_model_for_every_day_2025_to_2028() {
    for d in every_day(date(2025, 1, 1), date(2028, 12, 31)) {
        for n in 0..=36 {
            assert_eq!(
                ymd(add_months_clamped(d, n)),
                naive_add_months(d, n),
                "{d} + {n} months"
            );
        }
    }
}

#[test]
fn end_of_next_month_and_overdue_match_naive_model_for_every_day_2025_to_2028() {
    for d in every_day(date(2025, 1, 1), date(2028, 12, 31)) {
        let deadline = end_of_next_month(d);
        assert_eq!(ymd(deadline), naive_end_of_next_month(d), "次月底 of {d}");
        let (y, m) = month_plus(d.year(), d.month(), 2);
        let expected = CST.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap();
        assert_eq!(
            payment_overdue_from(d),
            expected,
            "overdue from, accepted {d}"
        );
        assert_eq!(
            local_date(payment_overdue_from(d)),
            deadline.succ_opt().unwrap()
        );
    }
}

// ------------------------------------------------------------ parsing

#[test]
fn parse_date_accepts_only_yyyy_mm_dd() {
    assert_eq!(parse_date("2026-01-31"), Ok(date(2026, 1, 31)));
    assert_eq!(parse_date("2028-02-29"), Ok(date(2028, 2, 29)));
    for bad in [
        "",
        "2026-1-31",
        "2026-01-31T00:00",
        "26-01-31",
        "2026/01/31",
        "2026-01-3a",
        "2027-02-29",
    ] {
        assert!(parse_date(bad).is_err(), "{bad:?}");
    }
    let message = parse_date("2026-02-30").unwrap_err().to_string();
    assert!(message.contains("2026-02-30"), "{message}");
}

// ------------------------------------------------------------ properties

proptest! {
    #[test]
    fn local_date_brackets_the_instant(secs in 1_577_836_800i64..1_893_456_000) {
        let t = Utc.timestamp_opt(secs, 0).unwrap();
        let d = local_date(t);
        let midnight = local_midnight(d);
        prop_assert!(midnight <= t);
        prop_assert!(t < midnight + Duration::days(1));
        prop_assert_eq!(local_date(t.with_timezone(&FixedOffset::west_opt(5 * 3600).unwrap())), d);
    }

    #[test]
    fn parse_date_round_trips_display(days in 0u64..365 * 200) {
        let d = date(1950, 1, 1) + chrono::Days::new(days);
        prop_assert_eq!(parse_date(&d.to_string()), Ok(d));
    }

    #[test]
    fn add_months_composes_without_clamping_earlier(days in 0u64..365 * 50, a in 0u32..60, b in 0u32..60) {
        let d = date(2000, 1, 1) + chrono::Days::new(days);
        // Clamping only ever lowers the day, so adding in two steps can land
        // on an earlier day than adding at once, never a later one, and in
        // the same month.
        let once = add_months_clamped(d, a + b);
        let twice = add_months_clamped(add_months_clamped(d, a), b);
        prop_assert_eq!((once.year(), once.month()), (twice.year(), twice.month()));
        prop_assert!(twice <= once);
        if d.day() <= 28 {
            prop_assert_eq!(once, twice);
        }
    }
}
