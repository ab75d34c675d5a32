//! China Standard Time and the date arithmetic the notices are written in.
//!
//! Every rule of SPEC §6 speaks of calendar dates in China ("次月底", "执行第3个月起",
//! "5个工作日"), while events carry instants with whatever offset the sender
//! used. This module is the one place where an instant becomes a date: always
//! in China Standard Time, UTC+08:00, which has had no daylight saving since
//! 1991, so a fixed offset is exact for every date the pipeline meets.
//!
//! All functions are total: none panics, whatever date it is given. Near the
//! ends of chrono's range (years ±262,000), where a result cannot be
//! represented, they saturate to the last representable value; reference data
//! and events only carry four-digit years, far from those ends.


use chrono::{DateTime, Datelike, FixedOffset, Months, NaiveDate, NaiveTime, TimeZone, Utc};

/// Seconds east of UTC of China Standard Time.
const CST_OFFSET_SECS: i32 = 8 * 3600;

/// China Standard Time, UTC+08:00 (北京时间), the zone of every calendar rule.
pub const CST: FixedOffset = match FixedOffset::east_opt(CST_OFFSET_SECS) {
    Some(offset) => offset,
    // Evaluated at compile time: 8 h is within ±24 h, so this arm cannot be taken.
    None => panic!("UTC+08:00 is a valid offset"),
};

/// The same offset as [`CST`], for callers that prefer a function.
pub const fn cst() -> FixedOffset {
    CST
}

/// `date(t)` of SPEC §5: the calendar date in China of the instant `t`.
///
/// An order placed at `2026-01-31T20:00:00Z` was placed on 2026-02-01 in China,
/// and that is the date the notices count from.
pub fn local_date(t: DateTime<impl TimeZone>) -> NaiveDate {
    t.with_timezone(&CST).date_naive()
}

/// An instant in epoch microseconds, in China Standard Time: for the words
/// a person reads. Saturates to chrono's ends outside its range.
pub fn in_china(micros: i64) -> DateTime<FixedOffset> {
    let utc = DateTime::from_timestamp_micros(micros)
        .unwrap_or(if micros < 0 { DateTime::<Utc>::MIN_UTC } else { DateTime::<Utc>::MAX_UTC });
    utc.with_timezone(&CST)
}

/// The first instant of the date `d` in China: `d`T00:00:00+08:00.
///
/// Replay mode evaluates at every local midnight, and "overdue from" instants
/// are local midnights. Saturates to chrono's earliest instant for a date so
/// close to `NaiveDate::MIN` that its midnight in China precedes it in UTC.
pub fn local_midnight(d: NaiveDate) -> DateTime<FixedOffset> {
    CST.from_local_datetime(&d.and_time(NaiveTime::MIN))
        .single()
        .unwrap_or_else(|| DateTime::<Utc>::MIN_UTC.with_timezone(&CST))
}

/// `d` plus `months` calendar months; a day missing in the target month
/// becomes that month's last day.
///
/// Used for "执行第3个月起" (seed 002 二(二)): a selected product not yet bought
/// is flagged from `period_start` + 2 months. An agreement starting on the 31st
/// would otherwise skip a short month, so the date is clamped, as SPEC §6.1
/// fixes: 2026-12-31 + 2 months = 2027-02-28; 2027-12-31 + 2 = 2028-02-29.
/// Saturates to `NaiveDate::MAX` past the end of chrono's range.
pub fn add_months_clamped(d: NaiveDate, months: u32) -> NaiveDate {
    d.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// 次月底: the last day of the calendar month after the month of `d`.
///
/// The payment deadline of the notices, "结清时间不得超过交货验收合格后次月底"
/// (seeds 000 三(五), 001 三(五), 003 三(四)): goods accepted on any day of
/// January must be paid by the end of February, whatever the day in January.
/// Examples: 2026-01-31 → 2026-02-28; 2026-12-31 → 2027-01-31;
/// 2028-01-31 → 2028-02-29. Saturates to `NaiveDate::MAX` at the end of range.
pub fn end_of_next_month(d: NaiveDate) -> NaiveDate {
    first_of_month(d)
        .checked_add_months(Months::new(2))
        .and_then(|first_after| first_after.pred_opt())
        .unwrap_or(NaiveDate::MAX)
}

/// The first instant at which a delivery accepted on `accepted` is overdue:
/// local midnight of the day after its 次月底 deadline.
///
/// The deadline day itself is still in time ("不得超过…次月底"), so the
/// delivery becomes overdue at 00:00+08:00 on the first of the following
/// month: accepted 2026-01-31 → overdue from 2026-03-01T00:00:00+08:00.
pub fn payment_overdue_from(accepted: NaiveDate) -> DateTime<FixedOffset> {
    let deadline = end_of_next_month(accepted);
    match deadline.succ_opt() {
        Some(first_overdue_day) => local_midnight(first_overdue_day),
        None => DateTime::<Utc>::MAX_UTC.with_timezone(&CST),
    }
}

/// The first day of the month of `d`.
fn first_of_month(d: NaiveDate) -> NaiveDate {
    // Day 1 exists in every month, so `with_day(1)` cannot fail; `d` is the
    // (unreachable) fallback rather than a panic.
    d.with_day(1).unwrap_or(d)
}

pub use vbp_schemas::reference_files::{parse_date, DateParseError};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_eight_hours_east() {
        assert_eq!(CST.local_minus_utc(), 8 * 3600);
        assert_eq!(cst(), CST);
    }

    #[test]
    fn extremes_do_not_panic() {
        assert_eq!(add_months_clamped(NaiveDate::MAX, 1), NaiveDate::MAX);
        assert_eq!(end_of_next_month(NaiveDate::MAX), NaiveDate::MAX);
        let _ = payment_overdue_from(NaiveDate::MAX);
        let _ = local_midnight(NaiveDate::MIN);
        let _ = payment_overdue_from(NaiveDate::MIN);
    }
}
