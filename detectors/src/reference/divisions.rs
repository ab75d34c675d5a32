//! Administrative divisions (GB/T 2260) and the province/city/district
//! hierarchy of SPEC §2.
//!
//! Alerts are routed by division: a district bureau gets its institutions'
//! alerts, a city bureau its city's (SPEC §7). The hierarchy is read off the
//! code itself — province = first 2 digits + `0000`, city = first 4 + `00` —
//! and `divisions.csv` supplies the names, so every city and province above a
//! listed code must be listed too, or its alerts would carry no name.

use std::collections::HashMap;

use super::registry::Registry;
use super::table::{read_table, Problems, Source, TableSpec};

pub(crate) const SPEC: TableSpec = TableSpec {
    layout: vbp_schemas::reference_files::DIVISIONS,
    required: true,
    comments: false,
};

/// Whether `code` has the shape of a GB/T 2260 code: exactly 6 ASCII digits.
pub fn is_division_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The city code of a division code (first 4 digits + `00`), or `None` when
/// `code` is not 6 digits. A city code is its own city (`610300` → `610300`),
/// and so, by the same rule, is a province code (`610000` → `610000`).
pub fn city_code_of(code: &str) -> Option<String> {
    is_division_code(code).then(|| format!("{}00", &code[..4]))
}

/// The province code of a division code (first 2 digits + `0000`), or `None`
/// when `code` is not 6 digits.
pub fn province_code_of(code: &str) -> Option<String> {
    is_division_code(code).then(|| format!("{}0000", &code[..2]))
}

/// The divisions of `divisions.csv`: code → name, and the hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Divisions {
    /// (code, name), sorted by code, so a province comes before its cities
    /// and a city before its districts.
    list: Vec<(String, String)>,
    /// Code → position in `list`.
    index: HashMap<String, usize>,
}

impl Divisions {
    /// Builds the table from (code, name) pairs; a later pair for the same
    /// code replaces an earlier one. Codes are not checked here: the loader
    /// does that, with line numbers.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut by_code: HashMap<String, String> = pairs.into_iter().collect();
        let mut list: Vec<(String, String)> = by_code.drain().collect();
        list.sort();
        let index = list
            .iter()
            .enumerate()
            .map(|(i, (code, _))| (code.clone(), i))
            .collect();
        Self { list, index }
    }

    /// The name of a listed division.
    pub fn name(&self, code: &str) -> Option<&str> {
        let i = *self.index.get(code)?;
        self.list.get(i).map(|(_, name)| name.as_str())
    }

    /// Whether `code` is listed.
    pub fn contains(&self, code: &str) -> bool {
        self.index.contains_key(code)
    }

    /// The city code of `code` by the SPEC §2 rule, whether listed or not;
    /// `None` when `code` is not 6 digits.
    pub fn city_of(&self, code: &str) -> Option<String> {
        city_code_of(code)
    }

    /// The province code of `code` by the SPEC §2 rule, whether listed or
    /// not; `None` when `code` is not 6 digits.
    pub fn province_of(&self, code: &str) -> Option<String> {
        province_code_of(code)
    }

    /// Every (code, name), sorted by code.
    pub fn list(&self) -> &[(String, String)] {
        &self.list
    }

    /// The number of listed divisions.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether none is listed.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// `divisions.csv`, loaded: the table and the registry of its codes.
pub(crate) struct Loaded {
    pub divisions: Divisions,
    pub codes: Registry<()>,
}

/// Reads `divisions.csv` and checks that every listed code's city and
/// province are listed too.
pub(crate) fn read(source: &Source<'_>, problems: &mut Problems) -> Loaded {
    let mut codes = Registry::new(SPEC.layout.file, "division_code");
    let mut rows: Vec<(String, String, u64)> = Vec::new();
    let readable = read_table(source, &SPEC, problems, |row| {
        let before = row.problem_count();
        let code = row.required("division_code");
        let name = row.required("name");
        let Some(code) = code else { return };
        if !is_division_code(code) {
            row.problem(
                "division_code",
                format!("expected a 6-digit GB/T 2260 code such as 610305, got {code:?}"),
            );
            return;
        }
        if !codes.claim(row, code) {
            return;
        }
        if let (Some(name), true) = (name, row.problem_count() == before) {
            codes.confirm(code, ());
            rows.push((code.to_owned(), name.to_owned(), row.line()));
        }
    });
    codes.set_readable(readable);
    check_hierarchy(&rows, &codes, problems);
    let divisions = Divisions::from_pairs(rows.into_iter().map(|(code, name, _)| (code, name)));
    Loaded { divisions, codes }
}

/// Every listed code's city and province must be listed.
fn check_hierarchy(rows: &[(String, String, u64)], codes: &Registry<()>, problems: &mut Problems) {
    for (code, _, line) in rows {
        let parents = [
            ("city", city_code_of(code)),
            ("province", province_code_of(code)),
        ];
        for (level, parent) in parents {
            let Some(parent) = parent else { continue };
            if !codes.contains(&parent) {
                let message = format!(
                    "the {level} {parent} of {code} is not listed; add a row for it so alerts can name it"
                );
                problems.push(SPEC.layout.file, Some(*line), Some("division_code"), message);
            }
        }
    }
}
