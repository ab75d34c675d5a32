//! Shared helpers for the end-to-end tests: find the built `vbp-watch`,
//! run it, read its NDJSON outputs.

pub mod broker;
pub mod live;
pub mod observability;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The workspace root (this crate lives in `tests/`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The `vbp-watch` binary built by `tests/run.sh` (or `cargo build`):
/// `$VBP_WATCH_BIN`, else the debug build in the target directory.
pub fn vbp_watch() -> PathBuf {
    if let Some(bin) = std::env::var_os("VBP_WATCH_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"));
    let bin = target.join("debug").join("vbp-watch");
    assert!(bin.exists(), "{} is missing: build it first (cargo build -p vbp-watch, or run tests/run.sh)", bin.display());
    bin
}

/// Runs `vbp-watch` with `args`; panics with its stderr when it fails.
pub fn run_ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "vbp-watch {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn run(args: &[&str]) -> Output {
    Command::new(vbp_watch()).args(args).output().unwrap_or_else(|e| panic!("cannot run vbp-watch: {e}"))
}

/// A loopback port that is free now, chosen *below* the kernel's
/// ephemeral range (`net.ipv4.ip_local_port_range`).
///
/// Why not port 0: the tests stop and restart servers on the same port
/// (Alertmanager, tansu, vbp-watch). While a server is down, the clients
/// retrying it, or any other outgoing connection, may be given that very
/// port as their local end (on loopback a client can even connect to
/// itself), and the restart then fails with "address already in use".
/// Ports under the ephemeral range are never handed out to clients.
pub fn free_port() -> u16 {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let bounds: Vec<u32> = range.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    let (ephemeral_low, ephemeral_high) = match bounds[..] {
        [low, high] => (low, high),
        _ => (32768, 60999),
    };
    // Below the ephemeral range if there is room, else above it.
    let (low, high) = if ephemeral_low > 11_000 { (10_000, ephemeral_low) } else { (ephemeral_high + 1, 65_536) };
    if high > low {
        for attempt in 0..1000u64 {
            let random = RandomState::new().hash_one((attempt, std::process::id()));
            let port = (u64::from(low) + random % u64::from(high - low)) as u16;
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    // No room outside the ephemeral range: any free port.
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// A fresh directory under the target dir, removed first if present.
pub fn scratch(name: &str) -> PathBuf {
    let dir = workspace().join("target").join("e2e").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Every line of an NDJSON file, parsed.
pub fn ndjson(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: bad line {l}: {e}", path.display())))
        .collect()
}

/// The three event files a simulation writes.
pub fn event_files(sim: &Path) -> Vec<String> {
    ["orders", "deliveries", "payments", "complaints"]
        .iter()
        .map(|t| sim.join("events").join(format!("{t}.ndjson")).display().to_string())
        .collect()
}

/// Simulates a small province with `seed` into `dir`.
pub fn simulate_small(dir: &Path, seed: u64) {
    run_ok(&["simulate", "--out", &dir.display().to_string(), "--scale", "small", "--seed", &seed.to_string()]);
}

/// Simulates a small province with `seed` into `dir` and returns the
/// `as_of` instant its `planted.json` names (what the tests evaluate at).
pub fn simulate_small_as_of(dir: &Path, seed: u64) -> String {
    simulate_small(dir, seed);
    let planted = std::fs::read_to_string(dir.join("planted.json")).unwrap_or_else(|e| panic!("planted.json: {e}"));
    let planted: Value = serde_json::from_str(&planted).expect("planted.json is JSON");
    planted["as_of"].as_str().expect("planted.json names as_of").to_string()
}

/// Replays `events` with `--as-of` and returns (firing alerts, dead letters).
pub fn replay_as_of(reference: &Path, events: &[String], as_of: &str, out: &Path) -> (Vec<Value>, Vec<Value>) {
    let firing = out.join("firing.ndjson");
    let dead = out.join("dead-letter.ndjson");
    let alerts = out.join("alerts.ndjson");
    let mut args = vec!["replay".to_string(), "--reference".into(), reference.display().to_string(), "--events".into()];
    args.extend(events.iter().cloned());
    args.extend([
        "--as-of".into(),
        as_of.into(),
        "--firing-out".into(),
        firing.display().to_string(),
        "--dead-letter".into(),
        dead.display().to_string(),
        "--alerts-out".into(),
        alerts.display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok(&args);
    (ndjson(&firing), ndjson(&dead))
}

/// The identity of an alert object: alertname and its key labels.
pub fn alert_key(alert: &Value, key_labels: &[&str]) -> String {
    let labels = &alert["labels"];
    let key: Vec<String> = key_labels.iter().map(|l| format!("{l}={}", labels[*l].as_str().unwrap_or(""))).collect();
    format!("{} {}", alert["alertname"].as_str().unwrap_or(""), key.join(","))
}

/// SPEC §6 key labels of each alert name.
pub fn key_labels(alertname: &str) -> &'static [&'static str] {
    vbp_detectors::alert::AlertName::parse(alertname)
        .unwrap_or_else(|| panic!("unknown alertname {alertname}"))
        .key_labels()
}
