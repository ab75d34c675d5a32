//! NDJSON files for alert transitions, firing alerts and dead letters.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// An optional NDJSON output file: writing to `None` does nothing, so the
/// drivers need no `if` at every write.
pub struct NdjsonSink {
    out: Option<(BufWriter<File>, String)>,
    pub lines: u64,
}

impl NdjsonSink {
    pub fn create(path: Option<&Path>) -> Result<Self> {
        let out = match path {
            Some(p) => {
                let file = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
                Some((BufWriter::with_capacity(1 << 16, file), p.display().to_string()))
            }
            None => None,
        };
        Ok(NdjsonSink { out, lines: 0 })
    }

    pub fn write_line(&mut self, line: &str) -> Result<()> {
        self.lines += 1;
        if let Some((w, name)) = &mut self.out {
            w.write_all(line.as_bytes()).and_then(|_| w.write_all(b"\n")).with_context(|| format!("cannot write {name}"))?;
        }
        Ok(())
    }

    pub fn finish(&mut self) -> Result<()> {
        if let Some((w, name)) = &mut self.out {
            w.flush().with_context(|| format!("cannot write {name}"))?;
        }
        Ok(())
    }
}
