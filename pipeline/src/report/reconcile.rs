//! `report --reconcile OFFICIAL`: where an official report in the same 23
//! columns differs from ours, row by row and cell by cell, so that a centre
//! finds the gaps in the platform's feed.
//!
//! Both sides are brought to the CSV's text first: dates `YYYY-MM-DD`,
//! counts as integers, percentages of 100 with 2 decimals. In an `.xlsx` a
//! numeric percentage cell is a fraction (what a percent-formatted cell
//! holds: 0.7479 is 74.79 %) and a text one may end in `%`; in a CSV a
//! percentage is a number of 100 (`74.79`) or ends in `%`. Rows are matched
//! by (医疗机构编码, 批次名称, 批次开始时间).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx};
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use vbp_detectors::report::{Cell, Kind, ReportRow, HEADERS, KINDS};

use super::ReportError;

/// One row's 23 cells as canonical text.
pub type Cells = Vec<String>;

/// What identifies a row on both sides.
pub type RowKey = (String, String, String);

/// One difference between our report and the official one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// A row only we have.
    OnlyOurs { key: RowKey, name: String },
    /// A row only the official report has (its line in the file).
    OnlyOfficial { key: RowKey, name: String, line: usize },
    /// A cell that differs (column index 0–22).
    Cell { key: RowKey, name: String, column: usize, ours: String, official: String },
}

/// A file's 23-column rows, canonical, with their line (1-based, the
/// header is line 1).
pub struct Official {
    pub rows: Vec<(usize, Cells)>,
}

fn key_of(cells: &[String]) -> RowKey {
    (cells[1].clone(), cells[3].clone(), cells[4].clone())
}

/// Our rows in the same canonical text.
pub fn ours(rows: &[ReportRow]) -> Vec<Cells> {
    rows.iter().map(|r| r.cells().iter().map(Cell::text).collect()).collect()
}

/// Every row and cell that differs, in our row order, then the rows only
/// the official report has, in its order.
pub fn differences(ours: &[Cells], official: &Official) -> Vec<Difference> {
    let theirs: BTreeMap<RowKey, &(usize, Cells)> = official.rows.iter().map(|r| (key_of(&r.1), r)).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for row in ours {
        let key = key_of(row);
        let name = row[0].clone();
        match theirs.get(&key) {
            None => out.push(Difference::OnlyOurs { key, name }),
            Some((_, their)) => {
                seen.insert(key.clone());
                for (column, (a, b)) in row.iter().zip(their.iter()).enumerate() {
                    if a != b {
                        let (ours, official) = (a.clone(), b.clone());
                        out.push(Difference::Cell { key: key.clone(), name: name.clone(), column, ours, official });
                    }
                }
            }
        }
    }
    for (line, row) in &official.rows {
        let key = key_of(row);
        if !seen.contains(&key) {
            out.push(Difference::OnlyOfficial { key, name: row[0].clone(), line: *line });
        }
    }
    out
}

/// The differences as a table for a terminal, one line each.
pub fn table(differences: &[Difference]) -> String {
    let mut out = format!("{} differences\n", differences.len());
    for d in differences {
        let line = match d {
            Difference::OnlyOurs { key, name } => format!("{} {name} {} {}: only in ours", key.0, key.1, key.2),
            Difference::OnlyOfficial { key, name, line } => {
                format!("{} {name} {} {}: only in the official report (line {line})", key.0, key.1, key.2)
            }
            Difference::Cell { key, name, column, ours, official } => format!(
                "{} {name} {} {}: {} ours {ours} official {official}",
                key.0, key.1, key.2, HEADERS[*column]
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The differences as a CSV (UTF-8 with a BOM) for the person who follows
/// them up.
pub fn csv(differences: &[Difference]) -> Vec<u8> {
    let mut out = super::files::BOM.to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let _ = w.write_record(["医疗机构编码", "医疗机构", "批次名称", "批次开始时间", "差异", "列", "本系统", "官方报表"]);
        for d in differences {
            let (key, name, what, column, ours, official) = match d {
                Difference::OnlyOurs { key, name } => (key, name, "仅本系统有".to_string(), "", "", ""),
                Difference::OnlyOfficial { key, name, line } => (key, name, format!("仅官方报表有（第{line}行）"), "", "", ""),
                Difference::Cell { key, name, column, ours, official } => {
                    (key, name, "数值不同".to_string(), HEADERS[*column], ours.as_str(), official.as_str())
                }
            };
            let _ = w.write_record([&key.0, name, &key.1, &key.2, &what, column, ours, official]);
        }
        let _ = w.flush();
    }
    out
}

/// Reads an official report (`.xlsx` or `.csv`) in the 23-column layout.
pub fn read(path: &Path) -> Result<Official, ReportError> {
    let rows = match super::Format::of(path)? {
        super::Format::Xlsx => read_xlsx(path)?,
        super::Format::Csv => read_csv(path)?,
    };
    let bad = |line: usize, message: String| ReportError::Official { path: path.to_path_buf(), line, message };
    let Some((_, header)) = rows.first() else {
        return Err(bad(1, "the file is empty; expected the 23 headers of SPEC §10".into()));
    };
    for (column, expected) in HEADERS.iter().enumerate() {
        let found = header.get(column).map(|h| h.text.trim()).unwrap_or("");
        if found != *expected {
            return Err(bad(1, format!("column {} is headed `{found}`, expected `{expected}`", column + 1)));
        }
    }
    let mut canonical = Vec::new();
    let mut problems = Vec::new();
    for (line, raw) in rows.into_iter().skip(1) {
        if raw.iter().all(|c| c.text.trim().is_empty()) {
            continue;
        }
        let cells: Result<Cells, String> = (0..HEADERS.len())
            .map(|column| {
                let cell = raw.get(column).cloned().unwrap_or_default();
                canonical_cell(&cell, KINDS[column]).map_err(|m| format!("column {} ({}): {m}", column + 1, HEADERS[column]))
            })
            .collect();
        match cells {
            Ok(cells) => canonical.push((line, cells)),
            Err(message) => problems.push(format!("{}:{line}: {message}", path.display())),
        }
    }
    if !problems.is_empty() {
        return Err(ReportError::OfficialCells { path: path.to_path_buf(), problems });
    }
    Ok(Official { rows: canonical })
}

/// A cell as read, before it is made canonical.
#[derive(Debug, Clone, Default)]
struct RawCell {
    text: String,
    /// A numeric cell of a spreadsheet (a percentage is then a fraction,
    /// a date an Excel serial day).
    number: Option<f64>,
}

fn read_csv(path: &Path) -> Result<Vec<(usize, Vec<RawCell>)>, ReportError> {
    let bytes = std::fs::read(path).map_err(|e| ReportError::Read { path: path.to_path_buf(), source: e })?;
    let body = bytes.strip_prefix(super::files::BOM).unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| ReportError::Official { path: path.to_path_buf(), line: index + 1, message: e.to_string() })?;
        rows.push((index + 1, record.iter().map(|t| RawCell { text: t.to_string(), number: None }).collect()));
    }
    Ok(rows)
}

fn read_xlsx(path: &Path) -> Result<Vec<(usize, Vec<RawCell>)>, ReportError> {
    let bad = |message: String| ReportError::Official { path: path.to_path_buf(), line: 0, message };
    let mut workbook: Xlsx<_> = calamine::open_workbook(path).map_err(|e| bad(format!("not a readable .xlsx: {e}")))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| bad("the workbook has no sheet".into()))?
        .map_err(|e| bad(format!("the first sheet cannot be read: {e}")))?;
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    Ok(range
        .rows()
        .enumerate()
        .map(|(index, row)| {
            let cells = row
                .iter()
                .map(|data| match data {
                    Data::Int(n) => RawCell { text: n.to_string(), number: Some(*n as f64) },
                    Data::Float(f) => RawCell { text: f.to_string(), number: Some(*f) },
                    Data::DateTime(d) => RawCell { text: d.as_f64().to_string(), number: Some(d.as_f64()) },
                    Data::Empty => RawCell::default(),
                    other => RawCell { text: other.to_string(), number: None },
                })
                .collect();
            (first_row + index + 1, cells)
        })
        .collect())
}

/// A cell in the CSV's text for its column's kind.
fn canonical_cell(cell: &RawCell, kind: Kind) -> Result<String, String> {
    let text = cell.text.trim();
    match kind {
        Kind::Text => Ok(match cell.number {
            // A code typed as a number: 6101000001.0 → 6101000001.
            Some(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", n as i64),
            _ => text.to_string(),
        }),
        Kind::Date => match cell.number {
            Some(serial) => excel_date(serial).map(|d| d.to_string()).ok_or_else(|| format!("{serial} is not a date")),
            None => parse_date(text).map(|d| d.to_string()).ok_or_else(|| format!("`{text}` is not a YYYY-MM-DD date")),
        },
        Kind::Count => {
            let n: Decimal = decimal(cell).ok_or_else(|| format!("`{text}` is not a count"))?;
            if !n.fract().is_zero() || n.is_sign_negative() {
                return Err(format!("`{text}` is not a whole count"));
            }
            Ok(n.trunc().to_string())
        }
        Kind::Percent => {
            let pct = match (text.strip_suffix('%'), cell.number) {
                (Some(number), _) => number.trim().parse::<Decimal>().ok(),
                (None, Some(fraction)) => Decimal::try_from(fraction).ok().map(|f| f * Decimal::ONE_HUNDRED),
                (None, None) => text.parse::<Decimal>().ok(),
            }
            .ok_or_else(|| format!("`{text}` is not a percentage"))?;
            let mut pct = pct.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            pct.rescale(2);
            Ok(pct.to_string())
        }
    }
}

fn decimal(cell: &RawCell) -> Option<Decimal> {
    match cell.number {
        Some(n) => Decimal::try_from(n).ok(),
        None => cell.text.trim().parse().ok(),
    }
}

/// `YYYY-MM-DD`, or `YYYY/MM/DD` as spreadsheets often write it.
fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(text, "%Y/%m/%d")).ok()
}

/// An Excel serial day (1900 system, dates from 1900-03-01 on).
fn excel_date(serial: f64) -> Option<NaiveDate> {
    if !(61.0..2_958_466.0).contains(&serial) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_signed(chrono::Duration::days(serial.floor() as i64))
}

/// Where the differences' CSV goes when `--reconcile-out` is not given:
/// beside the report, `NAME.reconcile.csv`.
pub fn default_out(report: &Path) -> PathBuf {
    let stem = report.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    report.with_file_name(format!("{stem}.reconcile.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str, number: Option<f64>) -> RawCell {
        RawCell { text: text.into(), number }
    }

    #[test]
    fn a_percentage_reads_the_same_from_a_fraction_a_number_of_100_or_text_with_a_percent_sign() {
        for cell in [raw("0.7479", Some(0.7479)), raw("74.79", None), raw("74.79%", None), raw(" 74.790 % ", None)] {
            assert_eq!(canonical_cell(&cell, Kind::Percent).as_deref(), Ok("74.79"), "{cell:?}");
        }
    }

    #[test]
    fn a_date_reads_the_same_from_a_serial_day_or_text() {
        assert_eq!(canonical_cell(&raw("46023", Some(46023.0)), Kind::Date).as_deref(), Ok("2026-01-01"));
        assert_eq!(canonical_cell(&raw("2026/01/01", None), Kind::Date).as_deref(), Ok("2026-01-01"));
        assert!(canonical_cell(&raw("1 Jan", None), Kind::Date).is_err());
    }

    #[test]
    fn a_count_must_be_whole_and_a_numeric_code_loses_its_point() {
        assert_eq!(canonical_cell(&raw("3", Some(3.0)), Kind::Count).as_deref(), Ok("3"));
        assert!(canonical_cell(&raw("2.5", None), Kind::Count).is_err());
        assert_eq!(canonical_cell(&raw("6101000001", Some(6101000001.0)), Kind::Text).as_deref(), Ok("6101000001"));
    }
}
