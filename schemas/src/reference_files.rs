//! The reference directory's contract (SPEC §3): each file's name and the
//! columns it must have, the `YYYY-MM-DD` spelling of dates, and the shipped
//! State Council working-day arrangements (`data/cn-holidays.csv`).
//!
//! Two independent parties follow it: the loader in `vbp-detectors`, which
//! checks every row, and the simulator, which writes a province. Keeping the
//! contract here lets the simulator depend on this crate alone, so Cargo
//! keeps its expectations independent of the rules they check.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// One reference file: its name inside the directory and the columns its
/// header must have (extra columns are allowed; SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub file: &'static str,
    pub columns: &'static [&'static str],
}

pub const DIVISIONS: Layout = Layout { file: "divisions.csv", columns: &["division_code", "name"] };

pub const INSTITUTIONS: Layout =
    Layout { file: "institutions.csv", columns: &["institution_code", "name", "division_code", "level"] };

pub const PRODUCTS: Layout = Layout {
    file: "products.csv",
    columns: &[
        "product_code",
        "generic_name",
        "dosage_form",
        "spec",
        "enterprise",
        "category",
        "batch",
        "group_id",
        "family_id",
        "selected",
        "backup_supplier",
        "base_units_per_pack",
        "selected_price_per_base_unit",
    ],
};

pub const AGREEMENTS: Layout = Layout {
    file: "agreements.csv",
    columns: &["agreement_id", "institution_code", "family_id", "period_start", "period_end", "agreed_base_units"],
};

pub const CALENDAR: Layout = Layout { file: "calendar.csv", columns: &["date", "kind"] };

pub const EXEMPTIONS: Layout = Layout {
    file: "exemptions.csv",
    columns: &["exemption_id", "institution_code", "group_id", "valid_from", "valid_to", "reason"],
};

/// Products outside a group that can replace its products (optional).
pub const SUBSTITUTES: Layout = Layout { file: "substitutes.csv", columns: &["group_id", "product_code"] };

/// Each enterprise's contact for supply problems (optional).
pub const ENTERPRISES: Layout = Layout { file: "enterprises.csv", columns: &["enterprise", "contact", "phone"] };

/// Every file, in loading and reporting order.
pub const LAYOUTS: [Layout; 8] =
    [DIVISIONS, INSTITUTIONS, PRODUCTS, AGREEMENTS, CALENDAR, EXEMPTIONS, SUBSTITUTES, ENTERPRISES];

/// The layout of `file`, if it is one of [`LAYOUTS`].
pub fn layout(file: &str) -> Option<Layout> {
    LAYOUTS.into_iter().find(|l| l.file == file)
}

/// Why a text is not a `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateParseError {
    /// Not ten characters of the form `dddd-dd-dd`.
    Format(String),
    /// Well formed but not a day of the calendar, such as `2026-02-30`.
    NoSuchDate(String),
}

impl fmt::Display for DateParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format(text) => write!(f, "expected a date as YYYY-MM-DD, got {text:?}"),
            Self::NoSuchDate(text) => write!(f, "{text:?} is not a day of the calendar"),
        }
    }
}

impl std::error::Error for DateParseError {}

/// Parses a date written exactly as `YYYY-MM-DD` (SPEC §3).
///
/// Stricter than chrono's `%Y-%m-%d`, which also accepts `2026-2-1` or a
/// signed year: reference data is compared and keyed by its text elsewhere
/// (exports, alerts), so one spelling per date avoids two spellings of the
/// same day. Surrounding whitespace is not accepted either; the CSV loader
/// trims fields before calling this.
///
/// # Errors
/// [`DateParseError::Format`] when the text is not `dddd-dd-dd`,
/// [`DateParseError::NoSuchDate`] for a day that does not exist.
pub fn parse_date(text: &str) -> Result<NaiveDate, DateParseError> {
    let bytes = text.as_bytes();
    let well_formed = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !well_formed {
        return Err(DateParseError::Format(text.to_owned()));
    }
    let number = |range: std::ops::Range<usize>| -> u32 {
        bytes[range].iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
    };
    // Four digits always fit an i32; the error arm only satisfies the types.
    let year = i32::try_from(number(0..4)).map_err(|_| DateParseError::Format(text.to_owned()))?;
    NaiveDate::from_ymd_opt(year, number(5..7), number(8..10)).ok_or_else(|| DateParseError::NoSuchDate(text.to_owned()))
}

/// What a listed date of the calendar is, overriding the Monday–Friday rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DayKind {
    /// A day off (放假). Listed for weekdays; harmless on a weekend day.
    Holiday,
    /// A working day (上班), listed for the weekend days worked in exchange (调休).
    Workday,
}

impl DayKind {
    /// The spelling used in `calendar.csv`: `holiday` or `workday`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Holiday => "holiday",
            Self::Workday => "workday",
        }
    }
}

impl fmt::Display for DayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is neither `holiday` nor `workday`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownDayKind(pub String);

impl fmt::Display for UnknownDayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected `holiday` or `workday`, got {:?}", self.0)
    }
}

impl std::error::Error for UnknownDayKind {}

impl FromStr for DayKind {
    type Err = UnknownDayKind;

    /// Exact, lower-case spellings only, as SPEC §3 writes them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "holiday" => Ok(Self::Holiday),
            "workday" => Ok(Self::Workday),
            other => Err(UnknownDayKind(other.to_owned())),
        }
    }
}

/// The State Council arrangements for 2025 and 2026 (国办发明电〔2024〕12号,
/// 国办发明电〔2025〕7号) as shipped: `date,kind,name`, a header row, `#`
/// lines are comments. Also valid as a reference directory's `calendar.csv`.
pub const SHIPPED_HOLIDAYS_CSV: &str = include_str!("../data/cn-holidays.csv");

/// The dates listed in [`SHIPPED_HOLIDAYS_CSV`], in file order.
///
/// # Errors
/// The first malformed line, as `line N: …` (a build defect: the file is part
/// of the source tree and a test keeps it well formed).
pub fn shipped_holidays() -> Result<Vec<(NaiveDate, DayKind)>, String> {
    let mut header_seen = false;
    let mut entries = Vec::new();
    for (i, line) in SHIPPED_HOLIDAYS_CSV.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        let mut fields = line.split(',').map(str::trim);
        let (date, kind) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
        let date = parse_date(date).map_err(|e| format!("line {}: {e}", i + 1))?;
        let kind = kind.parse::<DayKind>().map_err(|e| format!("line {}: {e}", i + 1))?;
        entries.push((date, kind));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_calendar_parses_and_lists_both_years() {
        let entries = shipped_holidays().unwrap();
        assert!(entries.len() > 40);
        let years: std::collections::BTreeSet<i32> = entries.iter().map(|(d, _)| chrono::Datelike::year(d)).collect();
        assert_eq!(years.into_iter().collect::<Vec<_>>(), vec![2025, 2026]);
        assert!(entries.contains(&(NaiveDate::from_ymd_opt(2026, 2, 14).unwrap(), DayKind::Workday)));
    }

    #[test]
    fn parse_date_is_strict() {
        assert_eq!(parse_date("2026-02-28"), Ok(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()));
        for bad in ["2026-2-28", "+2026-02-28", " 2026-02-28", "２０２６-02-28"] {
            assert!(matches!(parse_date(bad), Err(DateParseError::Format(_))), "{bad:?}");
        }
        for bad in ["2026-02-30", "2026-13-01"] {
            assert!(matches!(parse_date(bad), Err(DateParseError::NoSuchDate(_))), "{bad:?}");
        }
    }

    #[test]
    fn every_layout_is_found_by_its_file_name() {
        for l in LAYOUTS {
            assert_eq!(layout(l.file), Some(l));
        }
        assert_eq!(layout("nope.csv"), None);
    }
}
