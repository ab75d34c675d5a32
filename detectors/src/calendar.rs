//! The China working-day calendar: Monday–Friday, minus the State Council's
//! holidays, plus its make-up working days (调休).
//!
//! Seed 002 二(八) gives enterprises 5 *working days* to fix a supply problem,
//! so `OrderUndelivered` (SPEC §6.3) counts working days between a delivery
//! deadline and the evaluation date, for every open alert at every
//! evaluation. Around Spring Festival and National Day the State Council moves
//! whole weeks (a Saturday becomes a working day, a Monday a day off), so plain
//! weekday arithmetic would be wrong by up to five days exactly when supply
//! problems peak.
//!
//! The calendar ships the arrangements published for 2025 and 2026
//! (`schemas/data/cn-holidays.csv`, embedded at compile time); the reference
//! directory's `calendar.csv` is applied on top, so a province can add a later
//! year or a local day off without a new build.
//!
//! Counting is O(log n) in the number of listed dates for any pair of dates:
//! weekdays are counted in closed form and each listed date contributes a
//! correction of −1, 0 or +1 kept as a running sum, so there is no table whose
//! range could be left and no slow path.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Weekday};

use vbp_schemas::reference_files::shipped_holidays;

pub use vbp_schemas::reference_files::{DayKind, UnknownDayKind};

/// A listed date whose working status differs from the Monday–Friday rule,
/// with the running total of such differences up to and including it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Correction {
    date: NaiveDate,
    /// Σ (working − weekday) over corrections up to this one: −1 for each
    /// weekday holiday, +1 for each weekend workday.
    cumulative: i64,
}

/// Which days are working days in mainland China.
///
/// A working day is a Monday–Friday not listed as [`DayKind::Holiday`], or a
/// date listed as [`DayKind::Workday`] (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Every listed date, one kind per date.
    listed: BTreeMap<NaiveDate, DayKind>,
    /// The listed dates that change the Monday–Friday answer, sorted by date.
    corrections: Vec<Correction>,
}

impl Default for Calendar {
    /// The shipped State Council calendar: the safe default, since a bare
    /// weekend calendar would misplace every holiday week.
    fn default() -> Self {
        Self::shipped()
    }
}

impl Calendar {
    /// Monday–Friday only, with no holiday listed: the base that
    /// [`Calendar::with_overrides`] builds on, and a neutral calendar for tests.
    pub fn weekends_only() -> Self {
        Self::from_listed(BTreeMap::new())
    }

    /// The State Council arrangements for 2025 and 2026 (国办发明电〔2024〕12号,
    /// 国办发明电〔2025〕7号), embedded from `schemas/data/cn-holidays.csv`.
    ///
    /// The file is part of the source tree and is parsed once per process;
    /// the `calendar_shipped` test keeps it well formed, so the panic below
    /// can only be reached by a broken build, never by input.
    ///
    /// # Panics
    /// If the embedded `cn-holidays.csv` is malformed (a build defect).
    pub fn shipped() -> Self {
        static SHIPPED: OnceLock<Calendar> = OnceLock::new();
        SHIPPED
            .get_or_init(|| {
                let entries = shipped_holidays().unwrap_or_else(|problem| {
                    panic!("schemas/data/cn-holidays.csv is malformed: {problem}")
                });
                Self::weekends_only().with_overrides(entries)
            })
            .clone()
    }

    /// This calendar with `overrides` applied on top, in order: a listed date
    /// takes the override's kind, and for a date given twice the later entry
    /// wins, as for rows of `calendar.csv`.
    #[must_use]
    pub fn with_overrides(self, overrides: impl IntoIterator<Item = (NaiveDate, DayKind)>) -> Self {
        let mut listed = self.listed;
        listed.extend(overrides);
        Self::from_listed(listed)
    }

    /// Whether people work on `d`: a Monday–Friday not listed as a holiday, or
    /// a date listed as a workday.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.listed.get(&d) {
            Some(kind) => *kind == DayKind::Workday,
            None => is_weekday(d),
        }
    }

    /// The kind `d` is listed with, if any.
    pub fn listed_kind(&self, d: NaiveDate) -> Option<DayKind> {
        self.listed.get(&d).copied()
    }

    /// Every listed date with its kind, in date order.
    pub fn listed(&self) -> impl Iterator<Item = (NaiveDate, DayKind)> + '_ {
        self.listed.iter().map(|(date, kind)| (*date, *kind))
    }

    /// The number of working days `d` with `from < d ≤ to`; 0 when `to ≤ from`.
    ///
    /// This is how SPEC §6.3 counts the 5-working-day limit: a deadline on a
    /// Friday evaluated the next Monday is 1 working day late, not 3. Runs in
    /// O(log n) for n listed dates, for any pair of dates.
    pub fn working_days_after_until(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        if to <= from {
            return 0;
        }
        let weekdays = weekdays_before(day_index(to) + 1) - weekdays_before(day_index(from) + 1);
        let corrections = self.cumulative_correction(to) - self.cumulative_correction(from);
        // Mathematically in 0..=(to − from); the fallbacks only guard the types.
        u32::try_from(weekdays + corrections).unwrap_or(u32::MAX)
    }

    /// W_n(d) of SPEC 6.5: the n-th working day strictly after `d` (W_0 is
    /// `d`). Steps day by day: n is a few days and the longest run of days
    /// off is a holiday week. A calendar with no working day for ten years
    /// after `d` answers the day ten years on, never loops forever.
    pub fn nth_working_day_after(&self, d: NaiveDate, n: u32) -> NaiveDate {
        let mut day = d;
        let mut left = n;
        for _ in 0..3_660 {
            if left == 0 {
                return day;
            }
            day = day.succ_opt().unwrap_or(day);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// Σ of the corrections of listed dates ≤ `d`.
    fn cumulative_correction(&self, d: NaiveDate) -> i64 {
        let upto = self.corrections.partition_point(|c| c.date <= d);
        upto.checked_sub(1)
            .and_then(|last| self.corrections.get(last))
            .map_or(0, |c| c.cumulative)
    }

    /// Builds the correction index of `listed`.
    fn from_listed(listed: BTreeMap<NaiveDate, DayKind>) -> Self {
        let mut cumulative = 0;
        let corrections = listed
            .iter()
            .filter_map(|(date, kind)| {
                let delta = match (kind, is_weekday(*date)) {
                    (DayKind::Holiday, true) => -1,
                    (DayKind::Workday, false) => 1,
                    _ => return None,
                };
                cumulative += delta;
                Some(Correction {
                    date: *date,
                    cumulative,
                })
            })
            .collect();
        Self {
            listed,
            corrections,
        }
    }
}

/// Monday to Friday.
fn is_weekday(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Days since Monday 0001-01-01 (proleptic Gregorian), so that index ≡ 0
/// (mod 7) is a Monday. Negative before that day.
fn day_index(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 1
}

/// The number of Monday–Fridays among day indices `0..n` (negative when
/// n < 0: minus the count in `n..0`), so that the count in `a..b` is
/// `weekdays_before(b) − weekdays_before(a)` for any a ≤ b.
fn weekdays_before(n: i64) -> i64 {
    5 * n.div_euclid(7) + n.rem_euclid(7).min(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_index_zero_mod_seven_is_monday() {
        for offset in 0..400 {
            let d = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(offset);
            assert_eq!(
                day_index(d).rem_euclid(7) == 0,
                d.weekday() == Weekday::Mon,
                "{d}"
            );
        }
    }

    #[test]
    fn weekdays_before_is_consistent_across_zero() {
        for a in -30..30 {
            for b in a..a + 30 {
                let naive = (a..b).filter(|j: &i64| j.rem_euclid(7) < 5).count() as i64;
                assert_eq!(weekdays_before(b) - weekdays_before(a), naive, "{a}..{b}");
            }
        }
    }

    #[test]
    fn shipped_calendar_lists_the_file() {
        assert!(Calendar::shipped().listed().count() > 40);
    }
}
