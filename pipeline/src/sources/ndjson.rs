//! NDJSON files: one event per line (SPEC §9 `--events`).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// An events file that cannot be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum NdjsonSourceError {
    #[error("cannot open events file {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot re-read line {line} of {}: {source}", path.display())]
    Reread {
        path: PathBuf,
        line: u64,
        #[source]
        source: std::io::Error,
    },
}

/// The most [`NdjsonFiles::for_each_raw`] reads at once.
pub const SPAN_BYTES: u64 = 4 << 20;
/// The largest gap between two lines that one read spans.
const GAP_BYTES: u64 = 4096;

/// Where one line sits, so its original bytes can be read again later for
/// a dead-letter record without keeping every line in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineOrigin {
    pub file: u32,
    /// 1-based line number.
    pub line: u64,
    pub offset: u64,
    pub len: u32,
}

/// The UTF-8 byte-order mark some editors write at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The input files of one run, opened once.
pub struct NdjsonFiles {
    paths: Vec<PathBuf>,
    files: Vec<File>,
}

impl NdjsonFiles {
    pub fn open(paths: &[PathBuf]) -> Result<Self, NdjsonSourceError> {
        let files = paths
            .iter()
            .map(|p| File::open(p).map_err(|source| NdjsonSourceError::Open { path: p.clone(), source }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NdjsonFiles { paths: paths.to_vec(), files })
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum()
    }

    pub fn path(&self, origin: &LineOrigin) -> &Path {
        &self.paths[origin.file as usize]
    }

    /// Calls `f` with every non-blank line of every file, without its line
    /// terminator. Blank lines carry no event and are skipped. Stops at the
    /// first error, `f`'s or the file's.
    pub fn for_each_line<E: From<NdjsonSourceError>>(&self, mut f: impl FnMut(LineOrigin, &[u8]) -> Result<(), E>) -> Result<(), E> {
        for (index, file) in self.files.iter().enumerate() {
            let mut reader = BufReader::with_capacity(1 << 20, file);
            let mut buf = Vec::with_capacity(4096);
            let (mut line, mut offset) = (0u64, 0u64);
            loop {
                buf.clear();
                let n = reader
                    .read_until(b'\n', &mut buf)
                    .map_err(|source| NdjsonSourceError::Read { path: self.paths[index].clone(), source })?;
                if n == 0 {
                    break;
                }
                line += 1;
                // A byte-order mark opening a file is not part of its first line.
                let bom = if line == 1 && buf.starts_with(BOM) { BOM.len() } else { 0 };
                let content = trim_line_end(&buf[bom..]);
                if !content.iter().all(u8::is_ascii_whitespace) {
                    let len = u32::try_from(content.len()).unwrap_or(u32::MAX);
                    f(LineOrigin { file: index as u32, line, offset: offset + bom as u64, len }, content)?;
                }
                offset += n as u64;
            }
        }
        Ok(())
    }

    /// Calls `f` with the original bytes of each of `origins`, lines read
    /// earlier and given in file order. Neighbouring lines are fetched with
    /// one read of up to [`SPAN_BYTES`], so a replay of files written in
    /// time order costs a few large reads per day, not one per line.
    pub fn for_each_raw<E: From<NdjsonSourceError>>(
        &self,
        origins: &[LineOrigin],
        mut f: impl FnMut(&LineOrigin, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut buf = Vec::new();
        let mut rest = origins;
        while let Some(first) = rest.first() {
            // A span ends at another file, a step back, SPAN_BYTES, or a gap
            // of more than a page: lines of one day scattered through a file
            // are then read one by one rather than with the lines between.
            let mut reach = first.offset;
            let span = rest
                .iter()
                .take_while(|o| {
                    let end = o.offset + u64::from(o.len);
                    let fits = o.file == first.file && o.offset >= reach && o.offset - reach <= GAP_BYTES && end - first.offset <= SPAN_BYTES;
                    reach = if fits { end } else { reach };
                    fits
                })
                .count()
                .max(1);
            let (lines, tail) = rest.split_at(span);
            let end = lines.iter().map(|o| o.offset + u64::from(o.len)).max().unwrap_or(first.offset);
            buf.resize((end - first.offset) as usize, 0);
            self.files[first.file as usize].read_exact_at(&mut buf, first.offset).map_err(|source| self.reread(first, source))?;
            for origin in lines {
                let at = (origin.offset - first.offset) as usize;
                f(origin, &buf[at..at + origin.len as usize])?;
            }
            rest = tail;
        }
        Ok(())
    }

    /// The original bytes of a line read earlier.
    pub fn raw(&self, origin: &LineOrigin) -> Result<Vec<u8>, NdjsonSourceError> {
        let mut bytes = vec![0; origin.len as usize];
        self.files[origin.file as usize].read_exact_at(&mut bytes, origin.offset).map_err(|source| self.reread(origin, source))?;
        Ok(bytes)
    }

    fn reread(&self, origin: &LineOrigin, source: std::io::Error) -> NdjsonSourceError {
        NdjsonSourceError::Reread { path: self.path(origin).to_path_buf(), line: origin.line, source }
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_positions_and_raw_bytes_come_back() {
        let dir = std::env::temp_dir().join(format!("vbp-ndjson-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.ndjson");
        std::fs::write(&path, b"{\"a\":1}\r\n\n  \n\xff\xfe\n{\"b\":2}").unwrap();
        let files = NdjsonFiles::open(std::slice::from_ref(&path)).unwrap();
        let (mut seen, mut origins) = (Vec::new(), Vec::new());
        files
            .for_each_line(|o, bytes| {
                seen.push((o.line, bytes.to_vec()));
                origins.push(o);
                assert_eq!(files.raw(&o).unwrap(), bytes);
                Ok::<_, NdjsonSourceError>(())
            })
            .unwrap();
        assert_eq!(seen, vec![(1, b"{\"a\":1}".to_vec()), (4, b"\xff\xfe".to_vec()), (5, b"{\"b\":2}".to_vec())]);
        // In file order, and with a gap (line 1 left out), as replay asks.
        let mut again = Vec::new();
        files.for_each_raw(&origins[1..], |o, bytes| Ok::<_, NdjsonSourceError>(again.push((o.line, bytes.to_vec())))).unwrap();
        assert_eq!(again, seen[1..]);
    }
}
