//! `vbp-watch report` (SPEC §10): the execution report as of T, from the
//! engine's state after a replay of the events up to T, written as the
//! `.xlsx` a city system imports or a CSV; `--division` gives the file one
//! bureau receives, `--reconcile` lists where an official report differs.
//!
//! The rows themselves are computed in `vbp_detectors::report`; live and
//! demo mode serve the same rows at `/api/report` and `/report`.

pub mod files;
pub mod reconcile;

use std::path::{Path, PathBuf};
use std::time::Instant;

use vbp_detectors::reference::ReferenceData;
use vbp_detectors::report::ReportRow;
use vbp_detectors::time::local_date;

use crate::replay::{Replay, ReplayOptions};

/// What went wrong with a report's files or its options, in words a user
/// can act on.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}: the report is written as .xlsx or .csv; name the file with one of those extensions")]
    UnknownFormat(PathBuf),
    #[error("division `{0}` is not in divisions.csv; give a district or city code listed there")]
    UnknownDivision(String),
    #[error("`report` needs --as-of T: the report is the one of an instant (SPEC §10)")]
    NoInstant,
    #[error("cannot write the .xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Official { path: PathBuf, line: usize, message: String },
    #[error("{} cells of {path} cannot be read:\n{}", problems.len(), problems.join("\n"))]
    OfficialCells { path: PathBuf, problems: Vec<String> },
}

/// The file formats of a report, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Csv,
}

impl Format {
    pub fn of(path: &Path) -> Result<Format, ReportError> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("xlsx") => Ok(Format::Xlsx),
            Some("csv") => Ok(Format::Csv),
            _ => Err(ReportError::UnknownFormat(path.to_path_buf())),
        }
    }
}

/// The bytes of a report file in `format`.
pub fn encode(rows: &[ReportRow], format: Format) -> Result<Vec<u8>, ReportError> {
    Ok(match format {
        Format::Xlsx => files::xlsx(rows, "带量采购执行报表")?,
        Format::Csv => files::csv(rows),
    })
}

/// The institutions one division's bureau receives (`None`: all), after
/// checking the code is one the reference data lists.
pub fn division_filter<'a>(
    reference: &ReferenceData,
    division: Option<&'a str>,
) -> Result<impl Fn(&vbp_detectors::reference::Institution) -> bool + 'a, ReportError> {
    if let Some(code) = division {
        if !reference.divisions.contains(code) {
            return Err(ReportError::UnknownDivision(code.to_string()));
        }
    }
    Ok(move |i: &vbp_detectors::reference::Institution| division.is_none_or(|code| i.is_in(code)))
}

/// What `vbp-watch report` reads and writes.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub replay: ReplayOptions,
    pub out: PathBuf,
    pub division: Option<String>,
    pub reconcile: Option<PathBuf>,
    pub reconcile_out: Option<PathBuf>,
}

/// What a run did, for the summary on stderr.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    pub rows: usize,
    /// Seconds to compute the rows from the state (the replay not included).
    pub rows_seconds: f64,
    pub differences: Option<Vec<reconcile::Difference>>,
    pub reconcile_out: Option<PathBuf>,
}

impl ReportSummary {
    pub fn render(&self, out: &Path) -> String {
        let mut text = format!("{} rows written to {} ({:.3} s from the state)\n", self.rows, out.display(), self.rows_seconds);
        if let (Some(differences), Some(path)) = (&self.differences, &self.reconcile_out) {
            text.push_str(&reconcile::table(differences));
            text.push_str(&format!("differences written to {}\n", path.display()));
        }
        text
    }
}

/// Replays the events up to `--as-of`, writes the report, and reconciles
/// it when asked.
pub async fn run(options: &ReportOptions) -> anyhow::Result<ReportSummary> {
    let format = Format::of(&options.out)?;
    let at = options.replay.as_of.ok_or(ReportError::NoInstant)?;
    let official = options.reconcile.as_deref().map(reconcile::read).transpose()?;
    let mut replay = Replay::open(&options.replay)?;
    let include = division_filter(replay.engine().reference(), options.division.as_deref())?;
    replay.run(&options.replay).await?;
    replay.finish()?;
    let started = Instant::now();
    let rows = replay.engine().report(local_date(at), include);
    let rows_seconds = started.elapsed().as_secs_f64();
    write(&options.out, &encode(&rows, format)?)?;
    let mut summary = ReportSummary { rows: rows.len(), rows_seconds, differences: None, reconcile_out: None };
    if let Some(official) = official {
        let differences = reconcile::differences(&reconcile::ours(&rows), &official);
        let path = options.reconcile_out.clone().unwrap_or_else(|| reconcile::default_out(&options.out));
        write(&path, &reconcile::csv(&differences))?;
        summary.differences = Some(differences);
        summary.reconcile_out = Some(path);
    }
    Ok(summary)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|source| ReportError::Write { path: path.to_path_buf(), source })
}
