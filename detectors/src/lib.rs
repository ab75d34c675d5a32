//! Domain logic of vbp-watch: what the notices require, with no I/O besides
//! DataFusion.
//!
//! - [`reference`]: the six reference CSV files of SPEC §3, loaded whole or not at all;
//! - [`calendar`], [`time`]: China Standard Time and the State Council working-day calendar;
//! - [`state`]: the cumulative, order-independent state the events build (SPEC §6 sums);
//! - [`tables`]: that state as Arrow tables registered in a DataFusion session;
//! - [`rules`]: the six alert rules of SPEC §6, one module each, as SQL over the tables;
//! - [`rollups`]: district, city and province figures for the dashboards;
//! - [`alert`]: alert objects and their lifecycle (SPEC §7);
//! - [`config`]: thresholds, SPEC's defaults unless configured.

pub mod alert;
pub mod calendar;
pub mod config;
pub mod reference;
pub mod rollups;
pub mod rules;
pub mod state;
pub mod tables;
pub mod time;

/// A hash map for the lookups done for every event (codes, ids, keys):
/// foldhash rather than std's SipHash — several times faster on short keys,
/// and seeded per map so keys cannot be chosen to collide.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
