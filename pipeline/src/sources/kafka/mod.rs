//! Kafka source: a consumer group on the three input topics (SPEC §4).
//!
//! Offsets are never committed automatically: the live driver commits them
//! only after the checkpoint holding the state they produced is durable.
//! The consumer therefore resumes at or before what the checkpoint covers,
//! and [`Positions`] skips what was already applied — that is what makes a
//! crash at any instant neither lose nor double-count an event.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

pub mod config;

pub use config::{client_config, Assignment, KafkaConfig};

use crate::throttle::Throttle;

/// Where a message came from, with its bytes: what a dead letter and a
/// waiting event need to be written or decoded again after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaOrigin {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub raw: Vec<u8>,
}

impl crate::runner::RawMessage for KafkaOrigin {
    fn raw(&self) -> &[u8] {
        &self.raw
    }
}


/// The next offset to apply of every (topic, partition) seen: the
/// checkpoint's record of how far the state goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Positions {
    next: BTreeMap<(String, i32), i64>,
}

impl Positions {
    pub fn advance(&mut self, topic: &str, partition: i32, offset: i64) {
        let next = self.next.entry((topic.to_string(), partition)).or_insert(0);
        *next = (*next).max(offset + 1);
    }

    pub fn next(&self, topic: &str, partition: i32) -> Option<i64> {
        self.next.get(&(topic.to_string(), partition)).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&(String, i32), &i64)> {
        self.next.iter()
    }
}

/// The broker's watermarks of every partition, as librdkafka's statistics
/// last reported them (every `statistics.interval.ms`): lag is read from
/// here without a blocking request in the consuming loop.
pub struct WatermarkContext {
    high: Mutex<HashMap<(String, i32), i64>>,
    /// Bumped at every rebalance: the streams of reassigned partitions must
    /// be checked again against where the state ends.
    generation: AtomicU64,
    /// Where this instance's state ends in each partition (the next offset
    /// to apply), kept current by the driver: a partition assigned by a
    /// rebalance starts there, or at offset 0 when the state holds nothing
    /// of it — not where the group last committed.
    resume_at: Mutex<HashMap<(String, i32), i64>>,
    /// The last rebalance assigned this member no partition at all (more
    /// members than partitions), as opposed to a rebalance in progress.
    assigned_nothing: std::sync::atomic::AtomicBool,
    /// A broker of the cluster was up at librdkafka's last statistics.
    reachable: std::sync::atomic::AtomicBool,
}

/// Every Kafka client's trouble in this process (the consumer, the
/// dead-letter and facts producers, the facts reader): librdkafka reports
/// each reconnect attempt of each client, so with the broker down they
/// share one line per backoff step ([`Throttle`]).
pub static KAFKA_TROUBLE: Throttle = Throttle::new("Kafka");

/// librdkafka's warnings and errors through [`KAFKA_TROUBLE`], the rest
/// at debug level.
fn log_through_throttle(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error | RDKafkaLogLevel::Warning => {
            KAFKA_TROUBLE.warn(format_args!("{facility}: {message}"))
        }
        _ => tracing::debug!(target: "librdkafka", "{facility}: {message}"),
    }
}

/// The context of the clients that need no other hook (the dead-letter
/// and facts producers, the facts reader): their logs go through
/// [`KAFKA_TROUBLE`] rather than librdkafka's default, one line per retry.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThrottledLog;

impl ClientContext for ThrottledLog {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_through_throttle(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        trouble(error, reason);
    }
}

/// A client's error, through [`KAFKA_TROUBLE`]; the end of a partition
/// (the facts reader asks to hear of it) is no trouble.
fn trouble(error: KafkaError, reason: &str) {
    let end_of_partition = matches!(error, KafkaError::PartitionEOF(_) | KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF));
    if !end_of_partition {
        KAFKA_TROUBLE.warn(format_args!("{error}: {reason}"));
    }
}

impl ConsumerContext for ThrottledLog {}

impl rdkafka::producer::ProducerContext for ThrottledLog {
    type DeliveryOpaque = ();

    /// Delivery is awaited through each record's future (dead letters) or
    /// not at all (facts, published again at the next refresh).
    fn delivery(&self, _: &rdkafka::producer::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

impl Default for WatermarkContext {
    fn default() -> Self {
        WatermarkContext {
            high: Mutex::default(),
            generation: AtomicU64::default(),
            resume_at: Mutex::default(),
            assigned_nothing: Default::default(),
            reachable: Default::default(),
        }
    }
}

impl ClientContext for WatermarkContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_through_throttle(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        trouble(error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        // Node ids below 0 are the bootstrap entries, not cluster members.
        let up = statistics.brokers.values().any(|b| b.nodeid >= 0 && b.state == "UP");
        self.reachable.store(up, Ordering::SeqCst);
        if up {
            KAFKA_TROUBLE.recovered();
        }
        let Ok(mut high) = self.high.lock() else { return };
        for (topic, t) in statistics.topics {
            // Partition -1 is librdkafka's internal "unassigned" queue.
            for (partition, p) in t.partitions.into_iter().filter(|(id, p)| *id >= 0 && p.hi_offset >= 0) {
                high.insert((topic.clone(), partition), p.hi_offset);
            }
        }
    }
}

impl WatermarkContext {
    /// `partitions`, each with the offset where the state ends (0 where it
    /// holds nothing of it) — or, for those in `targets`, that offset.
    fn starts(&self, partitions: &TopicPartitionList, targets: &HashMap<(String, i32), i64>) -> TopicPartitionList {
        let resume_at = self.resume_at.lock().map(|r| r.clone()).unwrap_or_default();
        let mut starts = TopicPartitionList::new();
        for e in partitions.elements() {
            let key = (e.topic().to_string(), e.partition());
            let next = targets.get(&key).or_else(|| resume_at.get(&key)).copied().unwrap_or(0);
            if let Err(err) = starts.add_partition_offset(e.topic(), e.partition(), Offset::Offset(next)) {
                tracing::warn!("cannot set the start of {}/{}: {err}", e.topic(), e.partition());
            }
        }
        starts
    }
}

impl ConsumerContext for WatermarkContext {
    /// Assigns each newly assigned partition again with the offset where the
    /// state ends. Seeking after the first message arrived instead left a
    /// member of a split group (tansu 0.6) without messages for good.
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let Rebalance::Assign(assigned) = rebalance else { return };
        self.assigned_nothing.store(assigned.count() == 0, Ordering::SeqCst);
        let starts = self.starts(assigned, &HashMap::new());
        if let Err(err) = consumer.assign(&starts) {
            tracing::warn!("cannot start the assigned partitions where the state ends: {err}; the first message will seek");
        }
    }
}

/// The consumer group member.
pub struct KafkaSource {
    consumer: Arc<StreamConsumer<WatermarkContext>>,
    /// How far each partition's stream is checked against the state, since
    /// the rebalance generation `streams_generation`.
    streams: HashMap<(String, i32), Stream>,
    streams_generation: u64,
    /// Bumped at every successful [`KafkaSource::seek`], which assigns every
    /// owned partition again: what the driver holds of the old streams is stale.
    reassignments: u64,
}

/// Where a partition's stream stands against the state (see `KafkaSource::continues`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    /// Moved to where the state ends (`None`: the partition's start); the
    /// next message is trusted if it does not start past that.
    Moved(Option<i64>),
    Verified,
}



/// How far behind the end of one partition the pipeline is; `None` until
/// the broker's high watermark is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub lag: Option<i64>,
}

/// What the broker or librdkafka refused, and what the source was doing.
#[derive(Debug, thiserror::Error)]
#[error("cannot {doing}: {source} (check [kafka] bootstrap_servers, the topics and this client's rights)")]
pub struct KafkaSourceError {
    doing: String,
    #[source]
    source: KafkaError,
}

type Result<T, E = KafkaSourceError> = std::result::Result<T, E>;

/// Names what failed, for `map_err`.
fn doing(what: impl Into<String>) -> impl FnOnce(KafkaError) -> KafkaSourceError {
    let doing = what.into();
    move |source| KafkaSourceError { doing, source }
}

impl KafkaSource {
    pub fn subscribe(kafka: &KafkaConfig, topics: &[&str], stats_interval: Duration) -> Result<Self> {
        let consumer: StreamConsumer<WatermarkContext> = client_config(kafka)
            .set("group.id", &kafka.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("statistics.interval.ms", stats_interval.as_millis().max(100).to_string())
            .create_with_context(WatermarkContext::default())
            .map_err(doing("create the Kafka consumer"))?;
        if kafka.assignment == Assignment::All {
            let mut list = TopicPartitionList::new();
            for topic in topics {
                let metadata = consumer
                    .fetch_metadata(Some(topic), Duration::from_secs(30))
                    .map_err(doing(format!("read the partitions of {topic}")))?;
                for t in metadata.topics().iter().filter(|t| t.name() == *topic) {
                    for p in t.partitions() {
                        // The committed offset, else auto.offset.reset (earliest).
                        list.add_partition_offset(topic, p.id(), Offset::Stored).map_err(doing("list the input partitions"))?;
                    }
                }
            }
            consumer.assign(&list).map_err(doing("assign the input partitions"))?;
        } else {
            consumer.subscribe(topics).map_err(doing("subscribe to the input topics"))?;
        }
        Ok(KafkaSource { consumer: Arc::new(consumer), streams: HashMap::new(), streams_generation: 0, reassignments: 0 })
    }

    /// The next message, owned. Errors are the broker's (connection lost,
    /// unknown topic…): librdkafka retries by itself, the caller logs them.
    pub async fn recv(&self) -> Result<KafkaOrigin, KafkaError> {
        let message = self.consumer.recv().await?;
        Ok(KafkaOrigin {
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            raw: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        })
    }

    /// Commits `positions` for the partitions this member owns. Asynchronous:
    /// a failed commit only means a restart re-reads (and skips) a little more.
    pub fn commit(&self, positions: &Positions) -> Result<()> {
        let owned = self.consumer.assignment().map_err(doing("read the partition assignment"))?;
        let mut list = TopicPartitionList::new();
        for ((topic, partition), next) in positions.iter() {
            if owned.find_partition(topic, *partition).is_some() {
                list.add_partition_offset(topic, *partition, Offset::Offset(*next)).map_err(doing("list the offsets to commit"))?;
            }
        }
        if list.count() > 0 {
            self.consumer.commit(&list, CommitMode::Async).map_err(doing("commit offsets"))?;
        }
        Ok(())
    }

    /// The partitions of `topic` this member owns now.
    pub fn owned_partitions(&self, topic: &str) -> Result<BTreeSet<i32>> {
        let owned = self.consumer.assignment().map_err(doing("read the partition assignment"))?;
        Ok(owned.elements_for_topic(topic).iter().map(|e| e.partition()).collect())
    }

    /// How many partitions `topic` has (a metadata request: call rarely).
    pub fn partition_count(&self, topic: &str) -> Result<usize> {
        let metadata = tokio::task::block_in_place(|| self.consumer.fetch_metadata(Some(topic), Duration::from_secs(10)))
            .map_err(doing(format!("read the metadata of {topic}")))?;
        Ok(metadata.topics().iter().find(|t| t.name() == topic).map_or(0, |t| t.partitions().len()))
    }

    /// Records where the state ends in a partition (the next offset to
    /// apply), for the next rebalance to start it there.
    pub fn resume_at(&self, topic: &str, partition: i32, next: i64) {
        if let Ok(mut resume_at) = self.consumer.context().resume_at.lock() {
            resume_at.insert((topic.to_string(), partition), next);
        }
    }

    /// How many rebalances this member has been through.
    pub fn generation(&self) -> u64 {
        self.consumer.context().generation.load(Ordering::SeqCst)
    }

    /// How many times [`KafkaSource::seek`] assigned every owned partition again.
    pub fn reassignments(&self) -> u64 {
        self.reassignments
    }

    /// Whether the group's last rebalance gave this member no partition
    /// (it then answers for no one), rather than none being assigned yet.
    pub fn assigned_nothing(&self) -> bool {
        self.consumer.context().assigned_nothing.load(Ordering::SeqCst)
    }

    /// Moves the fetch position of one partition to `offset` (`None`:
    /// offset 0, where retention having removed it the reset policy,
    /// earliest, applies) — a partition must resume where this instance's
    /// state ends, not where the group committed.
    ///
    /// It assigns the whole assignment again, every other partition where
    /// the state ends, rather than calling `seek`: after a seek, tansu 0.6
    /// left a member without messages for good (the stall the rebalance
    /// callback avoids the same way). librdkafka drops what it had fetched
    /// of the reassigned partitions; the driver skips what it re-reads.
    ///
    /// Every other partition is fetched again too, so its stream is no
    /// longer verified: one still being moved restarts at its own target
    /// (not where the state ends: that would undo a move to the start), any
    /// other where the state ends, and its next message is checked again
    /// (tansu answers a fetch inside a record batch from the next batch).
    pub fn seek(&mut self, topic: &str, partition: i32, offset: Option<i64>) -> Result<()> {
        let owned = self.consumer.assignment().map_err(doing("read the partition assignment"))?;
        let mut targets: HashMap<(String, i32), i64> = self
            .streams
            .iter()
            .filter_map(|(key, stream)| match stream {
                Stream::Moved(target) => Some((key.clone(), target.unwrap_or(0))),
                Stream::Verified => None,
            })
            .collect();
        targets.insert((topic.to_string(), partition), offset.unwrap_or(0));
        let starts = self.consumer.context().starts(&owned, &targets);
        self.consumer.assign(&starts).map_err(doing(format!("move {topic}/{partition} to offset {}", offset.unwrap_or(0))))?;
        self.streams.retain(|_, stream| matches!(stream, Stream::Moved(_)));
        self.reassignments += 1;
        Ok(())
    }

    /// Whether a message continues the state that `positions` describe. The first message
    /// of a partition after an assignment may start elsewhere than the state
    /// ends (the group committed further, or nothing of it was ever read
    /// here): the partition is then moved to where the state ends, and the
    /// first message after that move is trusted, offset gaps included
    /// (compaction and transaction markers leave gaps in real logs).
    pub fn continues(&mut self, positions: &Positions, topic: &str, partition: i32, offset: i64) -> bool {
        let generation = self.generation();
        if generation != self.streams_generation {
            self.streams.clear();
            self.streams_generation = generation;
        }
        let key = (topic.to_string(), partition);
        let expected = positions.next(topic, partition);
        match self.streams.get(&key).copied() {
            Some(Stream::Verified) => return true,
            Some(Stream::Moved(Some(target))) if offset > target => {
                // The broker answered the seek from a later record batch
                // (tansu does, for an offset inside a batch): read the whole
                // partition again; what the state has is skipped.
                tracing::warn!(topic, partition, from = offset, to = target, "the broker skipped past the seek; reading the partition from its start");
                if self.try_seek(topic, partition, None) {
                    self.streams.insert(key, Stream::Moved(None));
                }
                return false;
            }
            Some(Stream::Moved(_)) => {
                self.streams.insert(key, Stream::Verified);
                return true;
            }
            None => {}
        }
        let starts_right = match expected {
            Some(next) => offset <= next,
            None => offset == 0,
        };
        if starts_right {
            self.streams.insert(key, Stream::Verified);
            return true;
        }
        tracing::info!(topic, partition, from = offset, to = ?expected, "moving a partition to where the state ends");
        if self.try_seek(topic, partition, expected) {
            self.streams.insert(key, Stream::Moved(expected));
        }
        false
    }

    /// Seeks, or says why not: the next message of the partition tries again.
    fn try_seek(&mut self, topic: &str, partition: i32, offset: Option<i64>) -> bool {
        match self.seek(topic, partition, offset) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("{e:#}; trying again at the next message");
                false
            }
        }
    }

    /// Whether a broker of the cluster was up at librdkafka's last
    /// statistics (every tick): `/readyz` is not ready while none is.
    pub fn broker_reachable(&self) -> bool {
        self.consumer.context().reachable.load(Ordering::SeqCst)
    }

    /// Where the consumer's errors are logged (one line per backoff step,
    /// shared with every other Kafka client of the process).
    pub fn trouble(&self) -> &'static Throttle {
        &KAFKA_TROUBLE
    }

    /// Whether the state holds every message of every owned partition, as
    /// the broker says now: librdkafka's statistics report a partition's
    /// high watermark from its last fetch, up to a tick and a fetch wait
    /// old, and a burst produced meanwhile (orders of a later day before
    /// the deliveries of an earlier one) would be taken for caught up — and
    /// the orphan clock would then expire what waits for the burst's rest.
    ///
    /// One ListOffsets request asks for every owned partition's end
    /// (`offsets_for_times` at `Offset::End`): a request per partition waits
    /// behind the consumer's long-polling fetch on the same connection,
    /// and twelve of them held the run loop about 4 s a tick on tansu.
    pub fn confirm_caught_up(&self, positions: &Positions) -> Result<bool> {
        let mut ends = self.consumer.assignment().map_err(doing("read the partition assignment"))?;
        ends.set_all_offsets(Offset::End).map_err(doing("ask for the ends of the owned partitions"))?;
        let ends = tokio::task::block_in_place(|| self.consumer.offsets_for_times(ends, Duration::from_secs(5)))
            .map_err(doing("read the ends of the owned partitions"))?;
        for e in ends.elements() {
            e.error().map_err(doing(format!("read the end of {}/{}", e.topic(), e.partition())))?;
            // No end given is no confirmation: the next tick asks again.
            let Offset::Offset(high) = e.offset() else { return Ok(false) };
            if high > positions.next(e.topic(), e.partition()).unwrap_or(0) {
                return Ok(false);
            }
        }
        Ok(!ends.elements().is_empty())
    }

    /// Lag of every owned partition: the last reported high watermark
    /// minus the next offset the state needs (nothing read yet: all of it).
    pub fn lag(&self, positions: &Positions) -> Result<Vec<PartitionLag>> {
        let owned = self.consumer.assignment().map_err(doing("read the partition assignment"))?;
        let high = self.consumer.context().high.lock().map(|h| h.clone()).unwrap_or_default();
        Ok(owned
            .elements()
            .iter()
            .map(|e| {
                let key = (e.topic().to_string(), e.partition());
                let lag = high.get(&key).map(|h| (h - positions.next(&key.0, key.1).unwrap_or(0)).max(0));
                PartitionLag { topic: key.0, partition: key.1, lag }
            })
            .collect())
    }
}

/// Kafka's default partitioner (murmur2 of the key, as the Java client and
/// kafka-python compute it): which partition an institution's events are
/// on, so an instance knows which institutions it answers for — including
/// those that never ordered anything (SelectedProductNotEntered).
pub fn partition_of(key: &[u8], partitions: usize) -> usize {
    (murmur2(key) & 0x7fff_ffff) as usize % partitions.max(1)
}

fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rest = chunks.remainder();
    if rest.len() == 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_as_the_java_client_and_kafka_python_do() {
        // Reference values from kafka-python's murmur2 (DefaultPartitioner).
        assert_eq!(murmur2(b"21") as i32, -973932308);
        assert_eq!(murmur2(b"foobar") as i32, -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string") as i32, -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32, -58897971);
        assert_eq!(murmur2(b"abc") as i32, 479470107);
    }

    #[test]
    fn positions_skip_what_the_state_already_has() {
        let mut p = Positions::default();
        assert_eq!(p.next("vbp.orders", 0), None);
        p.advance("vbp.orders", 0, 41);
        assert_eq!(p.next("vbp.orders", 0), Some(42));
        assert_eq!(p.next("vbp.orders", 1), None);
        p.advance("vbp.orders", 0, 3);
        assert_eq!(p.next("vbp.orders", 0), Some(42));
    }
}
