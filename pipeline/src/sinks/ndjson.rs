//! NDJSON files for alert transitions, firing alerts and dead letters.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// An output file that cannot be created or written.
#[derive(Debug, thiserror::Error)]
pub enum NdjsonSinkError {
    #[error("cannot create {}: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

type Result<T, E = NdjsonSinkError> = std::result::Result<T, E>;

/// An optional NDJSON output file: writing to `None` does nothing, so the
/// drivers need no `if` at every write.
pub struct NdjsonSink {
    out: Option<(BufWriter<File>, PathBuf)>,
    pub lines: u64,
}

impl NdjsonSink {
    pub fn create(path: Option<&Path>) -> Result<Self> {
        let out = match path {
            Some(p) => {
                let file = File::create(p).map_err(|source| NdjsonSinkError::Create { path: p.to_path_buf(), source })?;
                Some((BufWriter::with_capacity(1 << 16, file), p.to_path_buf()))
            }
            None => None,
        };
        Ok(NdjsonSink { out, lines: 0 })
    }

    pub fn write_line(&mut self, line: &str) -> Result<()> {
        self.lines += 1;
        if let Some((w, path)) = &mut self.out {
            w.write_all(line.as_bytes())
                .and_then(|_| w.write_all(b"\n"))
                .map_err(|source| NdjsonSinkError::Write { path: path.clone(), source })?;
        }
        Ok(())
    }

    pub fn finish(&mut self) -> Result<()> {
        if let Some((w, path)) = &mut self.out {
            w.flush().map_err(|source| NdjsonSinkError::Write { path: path.clone(), source })?;
        }
        Ok(())
    }
}
