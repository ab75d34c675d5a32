//! Kafka source: a consumer group on the three input topics (SPEC §4).
//!
//! Offsets are never committed automatically: the live driver commits them
//! only after the checkpoint holding the state they produced is durable.
//! The consumer therefore resumes at or before what the checkpoint covers,
//! and [`Positions`] skips what was already applied — that is what makes a
//! crash at any instant neither lose nor double-count an event.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::statistics::Statistics;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::live::config::KafkaConfig;

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

/// The librdkafka settings shared by the consumer and the producer:
/// servers, security (SASL, TLS) and any extra property.
pub fn client_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &kafka.bootstrap_servers);
    config.set("security.protocol", &kafka.security_protocol);
    let optional = [
        ("sasl.mechanism", &kafka.sasl_mechanism),
        ("sasl.username", &kafka.sasl_username),
        ("sasl.password", &kafka.sasl_password),
        ("ssl.ca.location", &kafka.ssl_ca_location),
        ("ssl.certificate.location", &kafka.ssl_certificate_location),
        ("ssl.key.location", &kafka.ssl_key_location),
    ];
    for (key, value) in optional {
        if !value.is_empty() {
            config.set(key, value);
        }
    }
    for (key, value) in &kafka.extra {
        config.set(key, value);
    }
    config
}

/// The next offset to apply of every (topic, partition) seen: the
/// checkpoint's record of how far the state goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Positions {
    next: BTreeMap<(String, i32), i64>,
}

impl Positions {
    /// Whether the message at `offset` is already in the state.
    pub fn already_applied(&self, topic: &str, partition: i32, offset: i64) -> bool {
        self.next.get(&(topic.to_string(), partition)).is_some_and(|next| offset < *next)
    }

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
#[derive(Default)]
pub struct WatermarkContext {
    high: Mutex<HashMap<(String, i32), i64>>,
}

impl ClientContext for WatermarkContext {
    fn stats(&self, statistics: Statistics) {
        let Ok(mut high) = self.high.lock() else { return };
        for (topic, t) in statistics.topics {
            // Partition -1 is librdkafka's internal "unassigned" queue.
            for (partition, p) in t.partitions.into_iter().filter(|(id, p)| *id >= 0 && p.hi_offset >= 0) {
                high.insert((topic.clone(), partition), p.hi_offset);
            }
        }
    }
}

impl ConsumerContext for WatermarkContext {}

/// The consumer group member.
#[derive(Clone)]
pub struct KafkaSource {
    consumer: Arc<StreamConsumer<WatermarkContext>>,
}

/// How far behind the end of one partition the pipeline is; `None` until
/// the broker's high watermark is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub lag: Option<i64>,
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
            .context("cannot create the Kafka consumer")?;
        consumer.subscribe(topics).context("cannot subscribe to the input topics")?;
        Ok(KafkaSource { consumer: Arc::new(consumer) })
    }

    /// The next message, owned. Errors are the broker's (connection lost,
    /// unknown topic…): librdkafka retries by itself, the caller logs them.
    pub async fn recv(&self) -> Result<KafkaOrigin, rdkafka::error::KafkaError> {
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
        let owned = self.consumer.assignment().context("cannot read the partition assignment")?;
        let mut list = TopicPartitionList::new();
        for ((topic, partition), next) in positions.iter() {
            if owned.find_partition(topic, *partition).is_some() {
                list.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
            }
        }
        if list.count() > 0 {
            self.consumer.commit(&list, CommitMode::Async).context("cannot commit offsets")?;
        }
        Ok(())
    }

    /// Lag of every owned partition: the last reported high watermark
    /// minus the next offset the state needs (nothing read yet: all of it).
    pub fn lag(&self, positions: &Positions) -> Result<Vec<PartitionLag>> {
        let owned = self.consumer.assignment().context("cannot read the partition assignment")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_skip_what_the_state_already_has() {
        let mut p = Positions::default();
        assert!(!p.already_applied("vbp.orders", 0, 0));
        p.advance("vbp.orders", 0, 41);
        assert!(p.already_applied("vbp.orders", 0, 41));
        assert!(!p.already_applied("vbp.orders", 0, 42));
        assert!(!p.already_applied("vbp.orders", 1, 0));
        p.advance("vbp.orders", 0, 3);
        assert_eq!(p.next("vbp.orders", 0), Some(42));
    }
}
