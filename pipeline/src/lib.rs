//! The vbp-watch pipeline as a library: the engine, its drivers (replay,
//! demo, live), sources, sinks, checkpoints and the HTTP pages. The
//! `vbp-watch` binary (`main.rs`) only parses the command line and
//! dispatches here, so tests call the same code the binary runs.
//!
//! ```text
//! sources ─► engine ─► sinks
//! (NDJSON,    (dedup, hold, state,   (transition NDJSON, dead letters,
//!  Kafka)      evaluate, alert book)  Alertmanager, /api/alerts, /metrics)
//! ```
//!
//! The simulated province is a crate of its own (`vbp-simulator`).

pub mod check;
pub mod checkpoint;
pub mod circular;
pub mod demo;
pub mod engine;
pub mod footprint;
pub mod http;
pub mod live;
pub mod metrics;
pub mod replay;
pub mod report;
pub mod runner;
pub mod sinks;
pub mod sources;
pub mod sql;
pub mod stage;
pub mod throttle;
pub mod triage;
