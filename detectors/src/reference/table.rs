//! Reading one reference CSV file: header by name, rows with their line,
//! and typed field access that records a problem instead of failing.
//!
//! Columns are found by header name, in any order, extra columns ignored
//! (SPEC §3), so a platform export with more columns loads as it is. Every
//! field is trimmed: spreadsheets pad cells, and a trailing space in a code
//! would otherwise make an unknown-institution error no one can see.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;
use csv::StringRecord;
use rust_decimal::Decimal;

use super::error::ReferenceProblem;
use crate::time::parse_date;

/// Where the files come from: a directory, or texts in memory.
pub(crate) enum Source<'a> {
    /// Files inside a directory.
    Dir(&'a Path),
    /// File name → content.
    Texts(&'a HashMap<&'a str, &'a str>),
}

impl Source<'_> {
    /// The open file, `Ok(None)` when it does not exist.
    fn open(&self, file: &str) -> Result<Option<Box<dyn Read + '_>>, String> {
        match self {
            Source::Dir(dir) => {
                let path = dir.join(file);
                match File::open(&path) {
                    Ok(f) => Ok(Some(Box::new(io::BufReader::new(f)))),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(format!("cannot open {}: {e}", path.display())),
                }
            }
            Source::Texts(texts) => Ok(texts
                .get(file)
                .map(|text| Box::new(text.as_bytes()) as Box<dyn Read>)),
        }
    }

    /// Where a missing file was looked for, for the message.
    fn describe(&self, file: &str) -> String {
        match self {
            Source::Dir(dir) => dir.join(file).display().to_string(),
            Source::Texts(_) => file.to_owned(),
        }
    }
}

/// What one reference file must look like.
pub(crate) struct TableSpec {
    /// The file's name and the columns that must be in its header
    /// (values may still be optional).
    pub layout: vbp_schemas::reference_files::Layout,
    /// Whether a missing file is a problem (`false`: absent means empty).
    pub required: bool,
    /// Whether lines starting with `#` are comments. Only for `calendar.csv`,
    /// so the shipped `cn-holidays.csv`, which documents its source in such
    /// lines, can be copied in as it is; no date starts with `#`.
    pub comments: bool,
}

/// Collects problems across all files.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<ReferenceProblem>);

impl Problems {
    /// Records one problem.
    pub fn push(&mut self, file: &str, line: Option<u64>, column: Option<&str>, message: String) {
        self.0.push(ReferenceProblem {
            file: file.to_owned(),
            line,
            column: column.map(str::to_owned),
            message,
        });
    }

    /// The number recorded so far; a row is valid when parsing it added none.
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// Whether none was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All problems, ordered by the position of their file in `file_order`,
    /// then by line; problems of one line keep the order they were found in.
    pub fn into_sorted(self, file_order: &[&str]) -> Vec<ReferenceProblem> {
        let mut problems = self.0;
        problems.sort_by_key(|p| {
            let file = file_order
                .iter()
                .position(|f| *f == p.file)
                .unwrap_or(usize::MAX);
            (file, p.line)
        });
        problems
    }
}

/// One data row being parsed, with where it is for problem reports.
pub(crate) struct Row<'r, 'p> {
    file: &'static str,
    line: u64,
    record: &'r StringRecord,
    /// Position in `record` of each `TableSpec::columns` entry.
    positions: &'r [usize],
    columns: &'static [&'static str],
    problems: &'p mut Problems,
}

impl<'r> Row<'r, '_> {
    /// The 1-based line the record starts on.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Records a problem in `column` of this row.
    pub fn problem(&mut self, column: &str, message: String) {
        self.problems
            .push(self.file, Some(self.line), Some(column), message);
    }

    /// The number of problems recorded so far (in all files).
    pub fn problem_count(&self) -> usize {
        self.problems.count()
    }

    /// The trimmed text of `column`, possibly empty.
    ///
    /// `column` must be one of the table's spec columns; any other name reads
    /// as empty, which the tests of each table would catch.
    pub fn text(&self, column: &str) -> &'r str {
        self.columns
            .iter()
            .position(|c| *c == column)
            .and_then(|i| self.positions.get(i))
            .and_then(|&pos| self.record.get(pos))
            .unwrap_or_default()
    }

    /// The text of `column`, `None` when empty.
    pub fn optional(&self, column: &str) -> Option<&'r str> {
        Some(self.text(column)).filter(|t| !t.is_empty())
    }

    /// The text of `column`; an empty value is a problem.
    pub fn required(&mut self, column: &str) -> Option<&'r str> {
        let text = self.optional(column);
        if text.is_none() {
            self.problem(column, "is empty; a value is required".to_owned());
        }
        text
    }

    /// A required value of a type parsed with `FromStr` (enumerations).
    pub fn parsed<T>(&mut self, column: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let text = self.required(column)?;
        text.parse::<T>()
            .map_err(|e| self.problem(column, e.to_string()))
            .ok()
    }

    /// A required `true`/`false`. Case is ignored: spreadsheet programs
    /// rewrite `true` as `TRUE` when they save a CSV file.
    pub fn boolean(&mut self, column: &str) -> Option<bool> {
        let text = self.required(column)?;
        if text.eq_ignore_ascii_case("true") {
            Some(true)
        } else if text.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            self.problem(column, format!("expected true or false, got {text:?}"));
            None
        }
    }

    /// A required `YYYY-MM-DD` date.
    pub fn date(&mut self, column: &str) -> Option<NaiveDate> {
        let text = self.required(column)?;
        parse_date(text)
            .map_err(|e| self.problem(column, e.to_string()))
            .ok()
    }

    /// A required exact decimal.
    pub fn decimal(&mut self, column: &str) -> Option<Decimal> {
        let text = self.required(column)?;
        self.decimal_text(column, text)
    }

    /// An exact decimal when the field is not empty.
    pub fn optional_decimal(&mut self, column: &str) -> Option<Decimal> {
        let text = self.optional(column)?;
        self.decimal_text(column, text)
    }

    fn decimal_text(&mut self, column: &str, text: &str) -> Option<Decimal> {
        parse_decimal(text)
            .map_err(|e| self.problem(column, e))
            .ok()
    }
}

/// Parses a plain decimal: optional `-`, digits, optionally `.` and digits.
///
/// Exact (`rust_decimal`, never binary floating point, so 0.1 + 0.2 sums to
/// 0.3 in progress ratios), and stricter than `Decimal::from_str_exact`, which
/// also takes `1_000`: in a hand-edited file such forms are more likely
/// mistakes than intent.
pub(crate) fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !frac.is_none_or(digits) {
        return Err(format!(
            "expected a decimal number such as 12 or 0.5, got {text:?}"
        ));
    }
    Decimal::from_str_exact(text)
        .map_err(|e| format!("{text:?} cannot be represented exactly ({e})"))
}

/// A file whose header passed: the position of each spec column.
struct Header {
    positions: Vec<usize>,
}

/// Reads `spec.layout.file` from `source`, calling `on_row` for every well-formed
/// data row. Returns whether the file could be read with all its columns —
/// when not, other files' references into it are not checked, since every
/// one of them would be reported unknown.
pub(crate) fn read_table(
    source: &Source<'_>,
    spec: &TableSpec,
    problems: &mut Problems,
    mut on_row: impl FnMut(&mut Row<'_, '_>),
) -> bool {
    let reader = match source.open(spec.layout.file) {
        Ok(Some(reader)) => reader,
        Ok(None) if !spec.required => return true,
        Ok(None) => {
            let message = format!(
                "required file is missing (looked for {})",
                source.describe(spec.layout.file)
            );
            problems.push(spec.layout.file, None, None, message);
            return false;
        }
        Err(message) => {
            problems.push(spec.layout.file, None, None, message);
            return false;
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(spec.comments.then_some(b'#'))
        .from_reader(reader);
    let Some(header) = read_header(&mut reader, spec, problems) else {
        return false;
    };
    let width = reader.headers().map_or(0, StringRecord::len);
    let mut bytes = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut bytes) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if report_csv_error(spec.layout.file, &e, problems) {
                    continue;
                }
                break;
            }
        }
        let record = text_record(spec.layout.file, std::mem::take(&mut bytes), problems);
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != width {
            let message = format!(
                "malformed row: {} fields where the header has {width} (a comma inside a value must be quoted)",
                record.len()
            );
            problems.push(spec.layout.file, Some(line), None, message);
            continue;
        }
        let mut row = Row {
            file: spec.layout.file,
            line,
            record: &record,
            positions: &header.positions,
            columns: spec.layout.columns,
            problems,
        };
        on_row(&mut row);
    }
    true
}

/// Finds the spec columns in the header row; records every missing or
/// repeated column.
fn read_header<R: Read>(
    reader: &mut csv::Reader<R>,
    spec: &TableSpec,
    problems: &mut Problems,
) -> Option<Header> {
    let names = match reader.headers() {
        Ok(names) => names.clone(),
        Err(e) => {
            report_csv_error(spec.layout.file, &e, problems);
            return None;
        }
    };
    if names.iter().all(str::is_empty) {
        let message = format!(
            "the file is empty: its first line must be the header row naming {}",
            spec.layout.columns.join(", ")
        );
        problems.push(spec.layout.file, Some(1), None, message);
        return None;
    }
    let before = problems.count();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (pos, name) in names.iter().enumerate() {
        if seen.insert(name, pos).is_some() && spec.layout.columns.contains(&name) {
            let message = format!("column {name:?} appears more than once in the header");
            problems.push(spec.layout.file, Some(1), Some(name), message);
        }
    }
    let mut positions = Vec::with_capacity(spec.layout.columns.len());
    for column in spec.layout.columns {
        match names.iter().position(|name| name == *column) {
            Some(pos) => positions.push(pos),
            None => {
                let message = format!(
                    "missing column (the header row must name {})",
                    spec.layout.columns.join(", ")
                );
                problems.push(spec.layout.file, Some(1), Some(column), message);
            }
        }
    }
    (problems.count() == before).then_some(Header { positions })
}

/// The record as text. A field that is not UTF-8 is reported, and read with
/// U+FFFD in place of its bad bytes, so that the row still defines its code
/// and the rows of other files referring to it are not reported too: one
/// bad byte, one problem.
fn text_record(file: &str, bytes: csv::ByteRecord, problems: &mut Problems) -> StringRecord {
    StringRecord::from_byte_record(bytes).unwrap_or_else(|e| {
        let field = e.utf8_error().field();
        let bytes = e.into_byte_record();
        problems.push(file, bytes.position().map(csv::Position::line), None, not_utf8(field));
        let mut lossy = StringRecord::from_byte_record_lossy(bytes.clone());
        lossy.set_position(bytes.position().cloned());
        lossy
    })
}

/// The problem of a field (0-based) that is not UTF-8.
fn not_utf8(field: usize) -> String {
    format!("malformed row: field {} is not valid UTF-8 (save the file as UTF-8)", field + 1)
}

/// Records a CSV reader error; returns whether reading can go on with the
/// next record (bad UTF-8 in one record) or must stop (I/O failure).
fn report_csv_error(file: &str, error: &csv::Error, problems: &mut Problems) -> bool {
    let line = error.position().map(csv::Position::line);
    match error.kind() {
        csv::ErrorKind::Utf8 { err, .. } => {
            problems.push(file, line, None, not_utf8(err.field()));
            true
        }
        csv::ErrorKind::Io(e) => {
            problems.push(file, line, None, format!("cannot read the file: {e}"));
            false
        }
        _ => {
            problems.push(file, line, None, format!("malformed row: {error}"));
            true
        }
    }
}
