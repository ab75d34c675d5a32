//! Codes defined by one file and referred to by others.
//!
//! A registry remembers every code a file defines, valid row or not, so that
//! a row with a problem is reported once, at its own line, and not again at
//! every row of another file that refers to it.

use std::collections::HashMap;

use super::table::Row;

/// The state of one defined code.
#[derive(Debug, Clone, Copy)]
enum Entry<Id> {
    /// Defined on `line`, but the defining row has a problem (or is still
    /// being parsed).
    Broken { line: u64 },
    /// Defined on `line` by a valid row, with its dense id.
    Valid { id: Id, line: u64 },
}

impl<Id> Entry<Id> {
    fn line(&self) -> u64 {
        match self {
            Self::Broken { line } | Self::Valid { line, .. } => *line,
        }
    }
}

/// The codes of one key column of one file.
#[derive(Debug)]
pub(crate) struct Registry<Id> {
    /// The defining file, for messages.
    file: &'static str,
    /// The defining column, for messages.
    column: &'static str,
    /// Whether the defining file was read; when not, references into it are
    /// not checked (its absence is already reported).
    readable: bool,
    entries: HashMap<String, Entry<Id>>,
}

impl<Id: Copy> Registry<Id> {
    /// An empty registry of `column` in `file`.
    pub fn new(file: &'static str, column: &'static str) -> Self {
        Self {
            file,
            column,
            readable: true,
            entries: HashMap::new(),
        }
    }

    /// Records whether the defining file could be read.
    pub fn set_readable(&mut self, readable: bool) {
        self.readable = readable;
    }

    /// Claims `key` for the current row; a duplicate is reported in the
    /// row's key column and returns `false`.
    pub fn claim(&mut self, row: &mut Row<'_, '_>, key: &str) -> bool {
        if let Some(first) = self.entries.get(key) {
            let message = format!(
                "duplicate {} {key:?}: already defined on line {}",
                self.column,
                first.line()
            );
            row.problem(self.column, message);
            return false;
        }
        self.entries
            .insert(key.to_owned(), Entry::Broken { line: row.line() });
        true
    }

    /// Notes that `key` appears on `line` without claiming it, for codes that
    /// many rows share (a product's `group_id`, `family_id`).
    pub fn note(&mut self, key: &str, line: u64) {
        if !self.entries.contains_key(key) {
            self.entries.insert(key.to_owned(), Entry::Broken { line });
        }
    }

    /// Marks `key` as defined by a valid row with dense id `id`.
    pub fn confirm(&mut self, key: &str, id: Id) {
        if let Some(entry) = self.entries.get_mut(key) {
            *entry = Entry::Valid {
                id,
                line: entry.line(),
            };
        }
    }

    /// The dense id of `key`, when a valid row defines it.
    pub fn valid(&self, key: &str) -> Option<Id> {
        match self.entries.get(key)? {
            Entry::Valid { id, .. } => Some(*id),
            Entry::Broken { .. } => None,
        }
    }

    /// Resolves a reference in `column` of the current row. An unknown code is
    /// reported there; a code whose defining row is broken, or a reference into
    /// an unreadable file, yields `None` silently (already reported).
    pub fn resolve(&self, row: &mut Row<'_, '_>, column: &str, key: &str) -> Option<Id> {
        match self.entries.get(key) {
            Some(Entry::Valid { id, .. }) => Some(*id),
            Some(Entry::Broken { .. }) => None,
            None => {
                if self.readable {
                    let message = format!(
                        "unknown {} {key:?}: not listed in {}",
                        self.column, self.file
                    );
                    row.problem(column, message);
                }
                None
            }
        }
    }

    /// Whether `key` is defined, by a valid row or not.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Code → id of the valid rows, for the lookups of `ReferenceData`.
    pub fn into_index(self) -> crate::FastMap<String, Id> {
        self.entries
            .into_iter()
            .filter_map(|(key, entry)| match entry {
                Entry::Valid { id, .. } => Some((key, id)),
                Entry::Broken { .. } => None,
            })
            .collect()
    }
}

/// The dense id for the next element of a vector of length `len`, or a
/// problem when the file has more rows than a `u32` id can number.
pub(crate) fn next_id(row: &mut Row<'_, '_>, column: &str, len: usize) -> Option<u32> {
    let id = u32::try_from(len).ok();
    if id.is_none() {
        row.problem(
            column,
            "too many rows: at most 4,294,967,295 are supported".to_owned(),
        );
    }
    id
}
