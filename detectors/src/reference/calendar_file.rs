//! `calendar.csv`: the province's additions to the shipped State Council
//! calendar (a later year, a local day off). Optional: absent means the
//! shipped calendar as it is.

use chrono::NaiveDate;

use crate::calendar::{Calendar, DayKind};

use super::table::{read_table, Problems, Source, TableSpec};

pub(crate) const SPEC: TableSpec = TableSpec {
    layout: vbp_schemas::reference_files::CALENDAR,
    required: false,
    comments: true,
};

/// Reads `calendar.csv` and applies its rows, in file order, on top of the
/// shipped calendar: for a date listed twice the later row wins.
pub(crate) fn read(source: &Source<'_>, problems: &mut Problems) -> Calendar {
    let mut overrides: Vec<(NaiveDate, DayKind)> = Vec::new();
    read_table(source, &SPEC, problems, |row| {
        let date = row.date("date");
        let kind = row.parsed::<DayKind>("kind");
        if let (Some(date), Some(kind)) = (date, kind) {
            overrides.push((date, kind));
        }
    });
    Calendar::shipped().with_overrides(overrides)
}
