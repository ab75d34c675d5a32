//! Problems found in the reference directory, all reported at once.
//!
//! Reference data is prepared by hand or exported from a provincial platform,
//! and a reload runs against a live pipeline: the person fixing the files needs
//! every problem in one pass, each with the file, line and column to open, not
//! one per attempt.

use std::fmt;

/// One problem in one place of the reference directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceProblem {
    /// The file name inside the reference directory, e.g. `products.csv`.
    pub file: String,
    /// 1-based line where the record starts (the header is line 1); `None`
    /// when the problem concerns the whole file (missing, unreadable).
    pub line: Option<u64>,
    /// The column, by its header name; `None` when the problem is not tied to
    /// one column (a row with the wrong number of fields, a missing file).
    pub column: Option<String>,
    /// What is wrong and, where it helps, what would be right.
    pub message: String,
}

impl fmt::Display for ReferenceProblem {
    /// `file:line:column: message`, leaving out the parts that do not apply,
    /// like compiler diagnostics, so editors and `grep` can jump to it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ":{column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem that kept a reference directory from loading; never empty
/// when returned by the loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceErrors {
    /// In file order (divisions, institutions, products, agreements, calendar,
    /// exemptions), then by line.
    pub problems: Vec<ReferenceProblem>,
}

impl ReferenceErrors {
    /// How many problems `Display` prints before summarising the rest; the
    /// alternate form `{:#}` prints them all. A systematic mistake in a file of
    /// 500,000 agreements should not bury the terminal.
    pub const DISPLAY_LIMIT: usize = 200;

    /// The number of problems.
    pub fn len(&self) -> usize {
        self.problems.len()
    }

    /// Whether there is no problem (never the case for a loader's error).
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problems, in reporting order.
    pub fn iter(&self) -> std::slice::Iter<'_, ReferenceProblem> {
        self.problems.iter()
    }
}

impl<'a> IntoIterator for &'a ReferenceErrors {
    type Item = &'a ReferenceProblem;
    type IntoIter = std::slice::Iter<'a, ReferenceProblem>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Display for ReferenceErrors {
    /// One problem per line, `file:line:column: message`. Shows the first
    /// [`ReferenceErrors::DISPLAY_LIMIT`] then a count of the rest, unless
    /// formatted with `{:#}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if f.alternate() {
            self.problems.len()
        } else {
            self.problems.len().min(Self::DISPLAY_LIMIT)
        };
        for (i, problem) in self.problems.iter().take(shown).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        let hidden = self.problems.len() - shown;
        if hidden > 0 {
            write!(
                f,
                "\n… and {hidden} more problems ({} in all)",
                self.problems.len()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ReferenceErrors {}
