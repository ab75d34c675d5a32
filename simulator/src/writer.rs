//! Writes the three topic files: two workers generate, this thread
//! interleaves their hour blocks (and the mess lines) in a fixed order and
//! streams them to large buffered files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::sync_channel;

use anyhow::{anyhow, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use super::events::{Ctx, HourChunk, Stats, Worker, WorkerResult, HOURS, TOPICS, TOPIC_FILES};
use super::mess::MessLine;

/// Always two partitions, whatever the machine: the output must not depend
/// on the number of cores.
pub const WORKERS: usize = 2;

pub struct Written {
    pub results: Vec<WorkerResult>,
    pub bytes: u64,
    pub lines: u64,
}

pub fn write_events(ctx: &Ctx<'_>, mess: &[MessLine], dir: &Path, show_progress: bool) -> Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut files = Vec::with_capacity(TOPICS);
    for name in TOPIC_FILES {
        let path = dir.join(name);
        let f = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        // Hour blocks of a busy day are larger than the buffer and go
        // straight to the file (BufWriter bypasses its buffer for them);
        // small blocks and mess lines are gathered.
        files.push((BufWriter::with_capacity(1 << 20, f), path));
    }
    let bar = if show_progress { ProgressBar::new(u64::from(ctx.n_days)) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} simulating day {pos}/{len} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut bytes = 0u64;
    let mut lines = 0u64;
    let mut mess_at = 0usize;
    let results = std::thread::scope(|s| -> Result<Vec<WorkerResult>> {
        let mut rxs = Vec::new();
        let mut returns = Vec::new();
        let mut handles = Vec::new();
        for part in 0..WORKERS {
            let (tx, rx) = sync_channel::<HourChunk>(8);
            // Written chunks travel back so their buffers are reused.
            let (back_tx, back_rx) = sync_channel::<HourChunk>(8);
            rxs.push(rx);
            returns.push(back_tx);
            handles.push(s.spawn(move || {
                let mut w = Worker::new(ctx, part, WORKERS);
                for day in 0..ctx.n_days {
                    if !w.run_day(day, &mut || back_rx.try_recv().ok(), &mut |c| tx.send(c).is_ok()) {
                        break;
                    }
                }
                w.finish()
            }));
        }
        let mut mess_buf = Vec::new();
        for day in 0..ctx.n_days {
            let day_mess_start = mess_at;
            while mess_at < mess.len() && mess[mess_at].day == day {
                mess_at += 1;
            }
            let day_mess = &mess[day_mess_start..mess_at];
            for hour in 0..HOURS {
                let mut chunks = Vec::with_capacity(WORKERS);
                for (part, rx) in rxs.iter().enumerate() {
                    chunks.push(rx.recv().map_err(|_| anyhow!("generator worker {part} stopped early"))?);
                }
                // Per topic file: worker 0's lines of the hour, worker 1's,
                // then the mess lines of the hour.
                for (topic, (file, path)) in files.iter_mut().enumerate() {
                    for c in &chunks {
                        bytes += c.bufs[topic].len() as u64;
                        file.write_all(&c.bufs[topic]).with_context(|| format!("cannot write {}", path.display()))?;
                    }
                    mess_buf.clear();
                    for m in day_mess.iter().filter(|m| m.topic as usize == topic && m.hour as usize == hour) {
                        mess_buf.extend_from_slice(&m.bytes);
                        lines += 1;
                    }
                    bytes += mess_buf.len() as u64;
                    file.write_all(&mess_buf).with_context(|| format!("cannot write {}", path.display()))?;
                }
                for (c, back) in chunks.into_iter().zip(&returns) {
                    lines += c.lines;
                    // A full return queue just means the worker allocates afresh.
                    let _ = back.try_send(c);
                }
            }
            bar.inc(1);
        }
        drop(rxs);
        drop(returns);
        let mut out = Vec::new();
        for h in handles {
            out.push(h.join().map_err(|_| anyhow!("a generator worker panicked"))?);
        }
        Ok(out)
    })?;
    bar.finish_and_clear();
    for (file, path) in &mut files {
        file.flush().with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Written { results, bytes, lines })
}

/// Sums the workers' statistics.
pub fn total_stats(results: &[WorkerResult]) -> Stats {
    let mut s = Stats::default();
    for r in results {
        s.add(&r.stats);
    }
    s
}
