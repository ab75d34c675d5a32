//! The live transition log: SPEC §7 objects, one per line, each with the
//! `seq` number the checkpoint gave it. On start it reads the last number
//! written, and [`TransitionLog::write`] skips anything at or below it, so a
//! transition redelivered from a restored checkpoint appears once.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The transition log cannot be read back or appended to.
#[derive(Debug, thiserror::Error)]
#[error("cannot {doing} the transition log {}: {source}", path.display())]
pub struct TransitionLogError {
    doing: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

type Result<T, E = TransitionLogError> = std::result::Result<T, E>;

fn failed(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TransitionLogError {
    let path = path.to_path_buf();
    move |source| TransitionLogError { doing, path, source }
}

pub struct TransitionLog {
    file: Option<(File, PathBuf)>,
    last_seq: u64,
}

impl TransitionLog {
    /// Opens `path` for appending; without one it writes nowhere.
    pub fn open(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else { return Ok(TransitionLog { file: None, last_seq: 0 }) };
        let path = path.to_path_buf();
        let mut last_seq = 0;
        if let Ok(existing) = File::open(&path) {
            for line in BufReader::new(existing).lines() {
                let line = line.map_err(failed("read", &path))?;
                // A line cut short by a crash has no seq and is skipped.
                if let Some(seq) = serde_json::from_str::<serde_json::Value>(&line).ok().and_then(|v| v["seq"].as_u64()) {
                    last_seq = last_seq.max(seq);
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(failed("open", &path))?;
        Ok(TransitionLog { file: Some((file, path)), last_seq })
    }

    /// Appends the lines numbered above the last one written, durably.
    pub fn write(&mut self, lines: &[(u64, String)]) -> Result<()> {
        let Some((file, path)) = &mut self.file else { return Ok(()) };
        let mut text = String::new();
        let mut last = self.last_seq;
        for (seq, line) in lines.iter().filter(|(seq, _)| *seq > self.last_seq) {
            text.push_str(line);
            text.push('\n');
            last = last.max(*seq);
        }
        if !text.is_empty() {
            let before = file.metadata().map(|m| m.len()).map_err(failed("read the length of", path))?;
            if let Err(e) = file.write_all(text.as_bytes()).and_then(|_| file.sync_data()) {
                // A full disk: no half line stays for the next write to
                // follow; these lines are written again then.
                let _ = file.set_len(before);
                return Err(failed("write", path)(e));
            }
        }
        self.last_seq = last;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redelivered_transition_is_written_once() {
        let path = std::env::temp_dir().join(format!("vbp-log-{}.ndjson", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let p = path.display().to_string();
        let mut log = TransitionLog::open(Some(p.as_ref())).unwrap();
        log.write(&[(1, r#"{"seq":1}"#.into()), (2, r#"{"seq":2}"#.into())]).unwrap();
        drop(log);
        let mut log = TransitionLog::open(Some(p.as_ref())).unwrap();
        log.write(&[(2, r#"{"seq":2}"#.into()), (3, r#"{"seq":3}"#.into())]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"seq\":1}\n{\"seq\":2}\n{\"seq\":3}\n");
    }
}
