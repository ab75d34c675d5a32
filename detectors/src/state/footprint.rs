//! How many bytes of heap the state takes, by part — the figures of
//! BENCHMARKS.md (bytes per agreement, per order line).
//!
//! Counted from the layout rather than measured from the allocator, so it
//! can run on a live state without a counting allocator: a hash table is
//! `buckets × (entry + 1 control byte)`, with hashbrown's buckets the
//! power of two above capacity × 8/7; a heap string is its capacity
//! rounded up to glibc's 16-byte chunks, plus the 8-byte chunk header.

use std::mem::size_of;

use super::{DigestMap, IdMap, Purchases, State};

/// Heap bytes of the state, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateBytes {
    /// Purchase sums per agreement and per institution × group window,
    /// with their lookups.
    pub purchases: usize,
    /// Open order lines, by id.
    pub orders: usize,
    /// Deliveries not yet accepted or owing money, by id.
    pub deliveries: usize,
    /// Finished order lines, folded under their id's digest.
    pub finished_orders: usize,
    /// Finished deliveries, folded under their id's digest.
    pub finished_deliveries: usize,
    /// Supply complaints, by id, with their texts.
    pub complaints: usize,
    /// The days of purchases the window rules read (6.6, 6.8).
    pub recent: usize,
    /// Who delivered what last, by institution × product.
    pub distributors: usize,
}

/// Heap bytes of one allocation of `len` bytes (none for an empty one).
pub fn allocation_bytes(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        (len + 8).div_ceil(16) * 16
    }
}

/// Heap bytes of a hash table's own allocation: `capacity` entries of
/// `entry` bytes, laid out as hashbrown does.
pub fn table_bytes(capacity: usize, entry: usize) -> usize {
    let buckets = if capacity == 0 { 0 } else { (capacity * 8 / 7).next_power_of_two() };
    allocation_bytes(buckets * (entry + 1))
}

/// Heap bytes of a B-tree map of `len` entries of `entry` bytes each,
/// estimated as the standard library lays it out when built in order:
/// leaves of 11 entries, full but the last, and one internal node (with 12
/// edges) per 12 children. A map of up to 11 entries is one leaf.
pub fn btree_bytes(len: usize, entry: usize) -> usize {
    const CAPACITY: usize = 11;
    let leaf = CAPACITY * entry + 16;
    let (mut nodes, mut bytes) = (len.div_ceil(CAPACITY), 0);
    bytes += nodes * leaf;
    while nodes > 1 {
        nodes = nodes.div_ceil(CAPACITY + 1);
        bytes += nodes * (leaf + (CAPACITY + 1) * size_of::<usize>());
    }
    bytes
}

/// Heap bytes of a map of texts: its nodes and its strings' capacities
/// (without the allocator's rounding, unlike [`allocation_bytes`]).
pub fn text_map_bytes(map: &std::collections::BTreeMap<String, String>) -> usize {
    btree_bytes(map.len(), 2 * size_of::<String>()) + map.iter().map(|(k, v)| k.capacity() + v.capacity()).sum::<usize>()
}

/// Heap bytes of an id-keyed map, with `inner` the heap bytes a value owns.
pub fn id_map_bytes<V>(map: &IdMap<V>, inner: impl Fn(&V) -> usize) -> usize {
    let table = table_bytes(map.capacity(), size_of::<(String, V)>());
    table + map.iter().map(|(key, value)| allocation_bytes(key.capacity()) + inner(value)).sum::<usize>()
}

/// Heap bytes of a digest-keyed map (its values own no heap).
pub fn digest_map_bytes<V>(map: &DigestMap<V>) -> usize {
    table_bytes(map.capacity(), size_of::<(u128, V)>())
}

impl Purchases {
    fn heap_bytes(&self) -> usize {
        let vec = |len: usize, item: usize| allocation_bytes(len * item);
        let lookups: usize =
            self.lookup_sizes().into_iter().map(|(entries, entry, values)| table_bytes(entries, entry) + values).sum();
        vec(self.per_agreement.capacity(), size_of::<rust_decimal::Decimal>())
            + vec(self.windows.capacity(), size_of::<super::GroupWindow>())
            + vec(self.selected_amounts.capacity(), size_of::<rust_decimal::Decimal>())
            + table_bytes(self.bought.capacity(), size_of::<((u32, crate::reference::ProductId), super::Bought)>())
            + table_bytes(self.period_end_days.capacity(), size_of::<((u32, chrono::NaiveDate), rust_decimal::Decimal)>())
            + lookups
    }
}

impl State {
    /// Heap bytes of each part of the state.
    pub fn heap_bytes(&self) -> StateBytes {
        StateBytes {
            purchases: self.purchases.heap_bytes(),
            orders: id_map_bytes(&self.orders, |_| 0),
            deliveries: id_map_bytes(&self.deliveries, |d| allocation_bytes(d.order_id.capacity())),
            finished_orders: digest_map_bytes(&self.finished_orders),
            finished_deliveries: digest_map_bytes(&self.finished_deliveries),
            complaints: id_map_bytes(&self.complaints, |c| c.text.as_ref().map_or(0, |t| allocation_bytes(t.capacity()))),
            recent: table_bytes(self.recent.capacity(), size_of::<(super::DayKey, super::DayTally)>()),
            distributors: self.distributors.heap_bytes(),
        }
    }
}
