//! Time in the simulated province: China Standard Time, the State Council
//! holiday arrangements, and the month arithmetic SPEC §6 uses.
//!
//! Instants are `i64` seconds since the Unix epoch; the simulator never
//! needs sub-second precision and integer seconds make event ordering and
//! the "≤ T" cut exact. Dates are `chrono::NaiveDate` in CST.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// UTC+08:00, no daylight saving (SPEC §5).
pub const CST_OFFSET_SECS: i64 = 8 * 3600;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

/// `date(t)`: the CST calendar date of instant `t`.
pub fn local_date(t: i64) -> NaiveDate {
    let days = (t + CST_OFFSET_SECS).div_euclid(DAY);
    NaiveDate::from_num_days_from_ce_opt((days + 719_163) as i32).expect("date in range")
}

/// 00:00+08:00 of `d`.
pub fn local_midnight(d: NaiveDate) -> i64 {
    (d.num_days_from_ce() as i64 - 719_163) * DAY - CST_OFFSET_SECS
}

/// Builds a date from known-good constants.
pub fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid constant date")
}

/// `d` + `months` calendar months, a missing day becoming the month's last
/// (2026-12-31 + 2 = 2027-02-28), as SPEC §6.1 says.
pub fn add_months_clamped(d: NaiveDate, months: u32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + months as i32;
    let (y, m0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
    let last = last_day_of_month(y, m0 + 1);
    ymd(y, m0 + 1, d.day().min(last))
}

pub fn last_day_of_month(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (ymd(ny, nm, 1) - Duration::days(1)).day()
}

pub fn first_of_month(d: NaiveDate) -> NaiveDate {
    ymd(d.year(), d.month(), 1)
}

/// The first date on which a delivery accepted on `accepted` is overdue:
/// the first day of the month after 次月底 (SPEC §6.4).
pub fn payment_overdue_from(accepted: NaiveDate) -> NaiveDate {
    add_months_clamped(first_of_month(accepted), 2)
}

/// Kind of a listed calendar date (`calendar.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// A Monday–Friday off.
    Holiday,
    /// A Saturday or Sunday worked (调休).
    Workday,
}

impl DayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The working-day calendar, as written to `calendar.csv`.
#[derive(Debug, Clone)]
pub struct Calendar {
    listed: BTreeMap<NaiveDate, DayKind>,
}

impl Calendar {
    /// The 2025–2026 State Council arrangements, from the calendar the
    /// contract ships (`schemas/data/cn-holidays.csv`): one source of truth
    /// for the holidays, while the simulator's own date arithmetic stays
    /// independent of the code it checks.
    ///
    /// # Errors
    /// When the shipped file is malformed (a build defect).
    pub fn china_2025_2026() -> anyhow::Result<Calendar> {
        use vbp_schemas::reference_files::{shipped_holidays, DayKind as Kind};
        let listed = shipped_holidays()
            .map_err(|e| anyhow::anyhow!("schemas/data/cn-holidays.csv: {e}"))?
            .into_iter()
            .map(|(d, k)| (d, if k == Kind::Holiday { DayKind::Holiday } else { DayKind::Workday }))
            .collect();
        Ok(Calendar { listed })
    }

    /// Rows of `calendar.csv`, in date order.
    pub fn rows(&self) -> impl Iterator<Item = (NaiveDate, DayKind)> + '_ {
        self.listed.iter().map(|(d, k)| (*d, *k))
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.listed.get(&d) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !is_weekend(d),
        }
    }

    /// Working days `d` with `from < d ≤ to` (SPEC §6.3); 0 when `to ≤ from`.
    /// A plain loop: the simulator calls it a handful of times.
    pub fn working_days_after_until(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n = 0;
        let mut d = from + Duration::days(1);
        while d <= to {
            n += u32::from(self.is_working_day(d));
            d += Duration::days(1);
        }
        n
    }

    /// How busy ordering is on `d`, relative to a working day: hospitals
    /// order less at weekends and much less over the Spring Festival.
    pub fn order_activity(&self, d: NaiveDate) -> f64 {
        if self.is_working_day(d) {
            1.0
        } else if self.listed.get(&d) == Some(&DayKind::Holiday) {
            0.25
        } else {
            0.35
        }
    }
}

/// Formats instants as RFC 3339 with `+08:00`, caching the date part.
#[derive(Debug, Default)]
pub struct TimeFormatter {
    day: i64,
    date: [u8; 10],
}

impl TimeFormatter {
    pub fn new() -> Self {
        TimeFormatter { day: i64::MIN, date: [0; 10] }
    }

    /// Appends `YYYY-MM-DDThh:mm:ss+08:00`.
    pub fn push(&mut self, out: &mut Vec<u8>, t: i64) {
        let local = t + CST_OFFSET_SECS;
        let day = local.div_euclid(DAY);
        if day != self.day {
            let d = local_date(t);
            let s = format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
            self.date.copy_from_slice(s.as_bytes());
            self.day = day;
        }
        let secs = local.rem_euclid(DAY);
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        out.extend_from_slice(&self.date);
        out.extend_from_slice(&[
            b'T',
            b'0' + (h / 10) as u8,
            b'0' + (h % 10) as u8,
            b':',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b':',
            b'0' + (s / 10) as u8,
            b'0' + (s % 10) as u8,
        ]);
        out.extend_from_slice(b"+08:00");
    }
}

/// RFC 3339 text of an instant (for planted.json and messages).
pub fn rfc3339(t: i64) -> String {
    let mut out = Vec::with_capacity(25);
    TimeFormatter::new().push(&mut out, t);
    String::from_utf8(out).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let d = ymd(2026, 2, 17);
        let t = local_midnight(d);
        assert_eq!(local_date(t), d);
        assert_eq!(local_date(t - 1), ymd(2026, 2, 16));
        assert_eq!(rfc3339(t), "2026-02-17T00:00:00+08:00");
    }

    #[test]
    fn month_rules() {
        assert_eq!(add_months_clamped(ymd(2026, 12, 31), 2), ymd(2027, 2, 28));
        assert_eq!(payment_overdue_from(ymd(2026, 1, 31)), ymd(2026, 3, 1));
        assert_eq!(payment_overdue_from(ymd(2025, 12, 5)), ymd(2026, 2, 1));
    }

    #[test]
    fn spring_festival_2026() {
        let c = Calendar::china_2025_2026().unwrap();
        assert!(c.is_working_day(ymd(2026, 2, 14)));
        assert!(!c.is_working_day(ymd(2026, 2, 16)));
        assert!(!c.is_working_day(ymd(2026, 2, 23)));
        assert!(c.is_working_day(ymd(2026, 2, 28)));
        // Deadline on Sat 14 Feb (worked); the next working day is Tue 24 Feb.
        assert_eq!(c.working_days_after_until(ymd(2026, 2, 14), ymd(2026, 2, 24)), 1);
    }
}
