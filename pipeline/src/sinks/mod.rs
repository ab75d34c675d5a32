//! Where results go: NDJSON files (replay, and the live transition log),
//! the dead-letter topic, Alertmanager.

pub mod alertmanager;
pub mod dead_letter_topic;
pub mod ndjson;

pub use ndjson::NdjsonSink;
