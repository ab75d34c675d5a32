//! Fuzzes the date arithmetic and the working-day count with dates derived
//! from the input bytes, checking invariants that hold for every date:
//!
//! - `add_months_clamped` lands in the right month, on the same day or that
//!   month's last day, never before its input;
//! - `end_of_next_month` is the last day of the following month, and
//!   `payment_overdue_from` is local midnight of the day after it;
//! - `working_days_after_until` is additive over adjacent ranges, zero for
//!   reversed ones, at most the number of days, and equal to a day-by-day
//!   count over short ranges, with random overrides applied;
//! - `parse_date` never panics, and reads back what `Display` writes.

#![no_main]

use chrono::{Datelike, Days, NaiveDate};
use libfuzzer_sys::fuzz_target;
use vbp_detectors::calendar::{Calendar, DayKind};
use vbp_detectors::time::{
    add_months_clamped, end_of_next_month, local_date, local_midnight, parse_date,
    payment_overdue_from,
};

/// Reads numbers off the input; past its end, reads zeros.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((first, rest)) => {
                self.0 = rest;
                *first
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid constant date")
}

/// Mostly a date of 1900–2149, where real data lives; sometimes any date
/// chrono can represent, to reach the ends of its range.
fn date(b: &mut Bytes<'_>) -> NaiveDate {
    if b.u8() < 224 {
        ymd(1900, 1, 1) + Days::new(u64::from(b.u32() % 91_311))
    } else {
        let days = (b.u32() as i32) % 95_000_000;
        NaiveDate::from_num_days_from_ce_opt(days).unwrap_or(NaiveDate::MAX)
    }
}

/// Months since year 0 of `d`'s month.
fn month_index(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

/// The date of `year`-`month` with `day`, clamped to the month's last day;
/// `None` outside chrono's range.
fn clamped(year: i64, month: u32, day: u32) -> Option<NaiveDate> {
    let year = i32::try_from(year).ok()?;
    let last = (28..=31)
        .rev()
        .find(|last| NaiveDate::from_ymd_opt(year, month, *last).is_some())?;
    NaiveDate::from_ymd_opt(year, month, day.min(last))
}

/// (year, month) `n` months after the month of `d`.
fn month_after(d: NaiveDate, n: u32) -> (i64, u32) {
    let target = month_index(d) + i64::from(n);
    (target.div_euclid(12), target.rem_euclid(12) as u32 + 1)
}

fn check_add_months(d: NaiveDate, months: u32) {
    let r = add_months_clamped(d, months);
    let (year, month) = month_after(d, months);
    let expected = clamped(year, month, d.day()).unwrap_or(NaiveDate::MAX);
    assert_eq!(r, expected, "{d} + {months} months");
    assert!(r >= d);
}

fn check_end_of_next_month(d: NaiveDate) {
    let deadline = end_of_next_month(d);
    let (year, month) = month_after(d, 1);
    let expected = clamped(year, month, 31).unwrap_or(NaiveDate::MAX);
    assert_eq!(deadline, expected, "次月底 of {d}");
    assert!(deadline > d || d == NaiveDate::MAX);
    let overdue = payment_overdue_from(d);
    if let (Some(day_after), true) = (deadline.succ_opt(), d.year().abs() < 200_000) {
        assert_eq!(
            day_after.day(),
            1,
            "次月底 of {d} = {deadline} is a month's last day"
        );
        assert_eq!(overdue, local_midnight(day_after));
        assert_eq!(local_date(overdue), day_after);
    }
}

fn check_working_days(calendar: &Calendar, mut dates: [NaiveDate; 3]) {
    dates.sort();
    let [a, b, c] = dates;
    let wd = |x, y| calendar.working_days_after_until(x, y);
    assert_eq!(
        wd(a, b) + wd(b, c),
        wd(a, c),
        "additivity over {a}, {b}, {c}"
    );
    if a < c {
        assert_eq!(wd(c, a), 0);
    }
    assert_eq!(wd(b, b), 0);
    let span = (c - a).num_days();
    assert!(i64::from(wd(a, c)) <= span);
    if span <= 1_000 {
        let by_day = a
            .iter_days()
            .skip(1)
            .take_while(|d| *d <= c)
            .filter(|d| calendar.is_working_day(*d))
            .count();
        assert_eq!(wd(a, c) as usize, by_day, "({a}, {c}]");
    }
}

/// Up to 64 overrides within 2020–2031, so they fall inside the ranges.
fn overrides(b: &mut Bytes<'_>) -> Vec<(NaiveDate, DayKind)> {
    let mut list = Vec::new();
    while !b.is_empty() && list.len() < 64 {
        let raw = b.u16();
        let day = ymd(2020, 1, 1) + Days::new(u64::from(raw >> 4));
        let kind = if raw & 1 == 0 {
            DayKind::Holiday
        } else {
            DayKind::Workday
        };
        list.push((day, kind));
    }
    list
}

fn check_parse(data: &[u8], d: NaiveDate) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_date(text);
    }
    if (0..=9999).contains(&d.year()) {
        assert_eq!(parse_date(&d.to_string()), Ok(d));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let dates = [date(&mut b), date(&mut b), date(&mut b)];
    let months = u32::from(b.u16());
    for d in dates {
        check_add_months(d, months);
        check_add_months(d, months % 25);
        check_end_of_next_month(d);
    }
    check_parse(data, dates[0]);
    let calendar = Calendar::shipped().with_overrides(overrides(&mut b));
    check_working_days(&calendar, dates);
    // Near each other too, where the day-by-day comparison applies.
    let near = |d: NaiveDate, k: u8| d.checked_add_days(Days::new(u64::from(k))).unwrap_or(d);
    check_working_days(
        &calendar,
        [
            dates[0],
            near(dates[0], data.len() as u8),
            near(dates[0], months as u8),
        ],
    );
});
