//! Where events come from. Each source hands the engine raw bytes with a
//! position it can name again in a dead-letter record.

pub mod kafka;
pub mod ndjson;
