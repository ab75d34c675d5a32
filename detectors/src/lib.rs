//! Domain logic of vbp-watch: what the notices require, with no I/O besides
//! DataFusion.
//!
//! - [`reference`]: the six reference CSV files of SPEC §3, loaded whole or not at all;
//! - [`calendar`], [`time`]: China Standard Time and the State Council working-day calendar;
//! - [`state`]: the cumulative, order-independent state the events build (SPEC §6 sums);
//! - [`tables`]: that state as Arrow tables registered in a DataFusion session;
//! - [`rules`]: the six alert rules of SPEC §6, one module each, as SQL over the tables;
//! - [`circular`]: the quarterly circular of SPEC §11, from the report and the detectors;
//! - [`report`]: the monthly execution report of SPEC §10 (23 columns);
//! - [`rollups`]: district, city and province figures for the dashboards;
//! - [`alert`]: alert objects and their lifecycle (SPEC §7);
//! - [`evidence`]: what stands behind an alert's number, for its page (SPEC §12);
//! - [`config`]: thresholds, SPEC's defaults unless configured.

pub mod abridge;
pub mod alert;
pub mod calendar;
pub mod circular;
pub mod config;
pub mod evidence;
pub mod reference;
pub mod report;
pub mod rollups;
pub mod rules;
pub mod state;
pub mod tables;
pub mod time;

/// A hash map for the lookups done for every event (codes, ids, keys):
/// foldhash rather than std's SipHash — several times faster on short keys,
/// and seeded per map so keys cannot be chosen to collide.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Reads a [`FastMap`] back from a checkpoint at its full size at once.
///
/// Why: serde's own map impl reserves at most about 1 MiB up front (it
/// cannot trust a length it reads), so a map of millions of entries grows
/// by doubling, holding the old table and the new one at each step. At
/// province scale presizing lowers the restore's peak RSS by 0.5 GB (10.86
/// → 10.32 GB in `vbp-watch footprint`; the time hardly changes: the cost
/// is first-touching the memory, BENCHMARKS.md). A checkpoint is our own
/// file, written atomically, so its length is trusted up to
/// [`presized::MAX_ENTRIES`].
///
/// Use on a field: `#[serde(deserialize_with = "crate::presized::deserialize")]`.
pub mod presized {
    use std::fmt;
    use std::hash::Hash;
    use std::marker::PhantomData;

    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

    use super::FastMap;

    /// The most entries reserved ahead of reading them (a damaged length
    /// costs no more than this; larger maps still grow as they read).
    pub const MAX_ENTRIES: usize = 1 << 26;

    thread_local! {
        static BODY_BYTES: std::cell::Cell<usize> = const { std::cell::Cell::new(MAX_ENTRIES) };
    }

    /// Runs `read` over a body of `bytes` bytes: no map reserves more
    /// entries ahead than the body has bytes (each entry takes at least
    /// one), so a damaged length costs memory in proportion to the file,
    /// not to the number it claims.
    pub fn within<R>(bytes: usize, read: impl FnOnce() -> R) -> R {
        let before = BODY_BYTES.replace(bytes);
        let result = read();
        BODY_BYTES.set(before);
        result
    }

    pub fn deserialize<'de, D, K, V>(deserializer: D) -> Result<FastMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
    {
        deserializer.deserialize_map(Presized(PhantomData))
    }

    struct Presized<K, V>(PhantomData<(K, V)>);

    impl<'de, K, V> Visitor<'de> for Presized<K, V>
    where
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
    {
        type Value = FastMap<K, V>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let capacity = access.size_hint().unwrap_or(0).min(MAX_ENTRIES).min(BODY_BYTES.get());
            let mut map = FastMap::with_capacity_and_hasher(capacity, Default::default());
            while let Some((key, value)) = access.next_entry()? {
                map.insert(key, value);
            }
            Ok(map)
        }
    }
}
