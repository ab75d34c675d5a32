//! `vbp.facts`: the overdue facts of every instance, for the supply-break
//! stage of every other (see the module above).
//!
//! One message per fact, key `["city","product","institution"]` (JSON), so
//! a compacted topic keeps the latest of each; the value is the fact as
//! JSON, or empty (a tombstone) when it no longer holds. Every instance
//! reads every partition from the start with a consumer of its own (no
//! group, nothing committed): the topic *is* the stage's state, so a
//! restart reads it again instead of checkpointing it. Before the first
//! evaluation the instance reads to the end of the topic, so a restored
//! supply break is not resolved for want of facts not read yet.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{FactChange, FactKey, SupplyStage};
use crate::sources::kafka::{client_config, KafkaConfig, ThrottledLog};

/// What stops the facts topic from being used; each says what to check.
#[derive(Debug, thiserror::Error)]
pub enum FactsTopicError {
    #[error("cannot create the {what} of the facts topic: {source}")]
    Client {
        what: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("cannot read the partitions of {topic}: {source} (is the broker up, and the topic created like the input topics?)")]
    Metadata {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("topic {topic} has no partitions: create it (compacted) like the input topics, see deploy/SCALING.md")]
    Missing { topic: String },
    #[error("cannot read {topic}: {source}")]
    Read {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot queue a fact on {topic}: {source}")]
    Publish {
        topic: String,
        #[source]
        source: KafkaError,
    },
}

pub struct FactsTopic {
    topic: String,
    producer: ThreadedProducer<ThrottledLog>,
    consumer: BaseConsumer<ThrottledLog>,
    /// Messages that were not facts (another writer on the topic).
    pub unreadable: u64,
    last_refresh: Instant,
}

/// How often every fact is published again, not only the changes: a topic
/// left on delete retention (or compacted too eagerly) loses facts that
/// did not change for that long, and every reader would miss them.
const REFRESH_EVERY: Duration = Duration::from_secs(3600);

impl FactsTopic {
    /// Connects, and assigns every partition of the topic from its start.
    pub fn open(kafka: &KafkaConfig) -> Result<Self, FactsTopicError> {
        let topic = kafka.facts_topic.clone();
        let producer: ThreadedProducer<ThrottledLog> = client_config(kafka)
            .set("message.timeout.ms", "0")
            .set("acks", "all")
            .create_with_context(ThrottledLog)
            .map_err(|source| FactsTopicError::Client { what: "producer", source })?;
        let consumer: BaseConsumer<ThrottledLog> = client_config(kafka)
            .set("group.id", format!("{}-facts", kafka.group_id))
            .set("enable.auto.commit", "false")
            // The start reads to the end of every partition; an empty or
            // compacted one says so with an end-of-partition event.
            .set("enable.partition.eof", "true")
            .create_with_context(ThrottledLog)
            .map_err(|source| FactsTopicError::Client { what: "consumer", source })?;
        let metadata_error = |source: KafkaError| FactsTopicError::Metadata { topic: topic.clone(), source };
        let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(30)).map_err(metadata_error)?;
        let mut list = TopicPartitionList::new();
        for t in metadata.topics().iter().filter(|t| t.name() == topic) {
            for p in t.partitions() {
                list.add_partition_offset(&topic, p.id(), Offset::Beginning).map_err(metadata_error)?;
            }
        }
        if list.count() == 0 {
            return Err(FactsTopicError::Missing { topic: topic.clone() });
        }
        consumer.assign(&list).map_err(metadata_error)?;
        Ok(FactsTopic { topic, producer, consumer, unreadable: 0, last_refresh: Instant::now() })
    }

    /// Reads until every partition is read to the end it had when called,
    /// or `limit` passes (then says so and goes on: later reads catch up).
    pub fn catch_up(&mut self, stage: &mut SupplyStage, limit: Duration) -> Result<usize, FactsTopicError> {
        let started = Instant::now();
        let name = self.topic.clone();
        let read_error = |source: KafkaError| FactsTopicError::Read { topic: name.clone(), source };
        let mut ends = Vec::new();
        let assigned = self.consumer.assignment().map_err(read_error)?;
        for e in assigned.elements() {
            let (_, high) =
                self.consumer.fetch_watermarks(&self.topic, e.partition(), Duration::from_secs(10)).map_err(read_error)?;
            ends.push((e.partition(), high));
        }
        let mut heard = 0;
        let mut at_end = std::collections::BTreeSet::new();
        loop {
            let positions = self.consumer.position().map_err(read_error)?;
            let done = ends.iter().all(|(partition, high)| {
                let at = positions.find_partition(&self.topic, *partition).map(|e| e.offset());
                *high == 0 || at_end.contains(partition) || matches!(at, Some(Offset::Offset(o)) if o >= *high)
            });
            if done {
                return Ok(heard);
            }
            if started.elapsed() > limit {
                tracing::warn!(topic = %self.topic, "facts topic not read to its end within {limit:?}; going on");
                return Ok(heard);
            }
            match self.poll(stage, Duration::from_millis(100)) {
                Polled::Fact => heard += 1,
                Polled::End(partition) => {
                    at_end.insert(partition);
                }
                Polled::Nothing => {}
            }
        }
    }

    /// Whether the next publication should carry every fact (hourly).
    pub fn refresh_due(&mut self) -> bool {
        let due = self.last_refresh.elapsed() >= REFRESH_EVERY;
        if due {
            self.last_refresh = Instant::now();
        }
        due
    }

    /// Takes every fact already fetched, without waiting.
    pub fn drain(&mut self, stage: &mut SupplyStage) -> usize {
        let mut heard = 0;
        loop {
            match self.poll(stage, Duration::ZERO) {
                Polled::Fact => heard += 1,
                Polled::End(_) => {}
                Polled::Nothing => return heard,
            }
        }
    }

    fn poll(&mut self, stage: &mut SupplyStage, wait: Duration) -> Polled {
        match self.consumer.poll(wait) {
            Some(Ok(message)) => {
                match decode(message.key(), message.payload()) {
                    Some(change) => stage.hear(change),
                    None => {
                        self.unreadable += 1;
                        tracing::warn!(topic = %self.topic, offset = message.offset(), "a message on the facts topic is not a fact; ignored");
                    }
                }
                Polled::Fact
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => Polled::End(partition),
            Some(Err(e)) => {
                // With the broker down this comes at every tick: one line
                // per backoff step with the other clients' trouble.
                crate::sources::kafka::KAFKA_TROUBLE.warn(format_args!("reading {}: {e}", self.topic));
                Polled::Nothing
            }
            None => Polled::Nothing,
        }
    }

    /// Queues the changes; librdkafka delivers them in the background and
    /// retries until the broker has them (a lost one is sent again by a
    /// later evaluation, which publishes whatever the topic lacks). While
    /// earlier changes are still in flight (the broker away) nothing more is
    /// queued: the next evaluation after they land works out what is left,
    /// so an outage does not pile up copies of the same facts.
    pub fn publish(&self, changes: &[FactChange]) -> Result<(), FactsTopicError> {
        if self.producer.in_flight_count() > 0 {
            return Ok(());
        }
        for change in changes {
            // Strings, a decimal and an integer: serialising cannot fail.
            let key = serde_json::to_string(&change.key()).unwrap_or_default();
            let value = match change {
                FactChange::Upsert(fact) => Some(serde_json::to_string(fact).unwrap_or_default()),
                FactChange::Remove(_) => None,
            };
            let mut record: BaseRecord<'_, str, str> = BaseRecord::to(&self.topic).key(&key);
            if let Some(value) = &value {
                record = record.payload(value);
            }
            self.producer
                .send(record)
                .map_err(|(source, _)| FactsTopicError::Publish { topic: self.topic.clone(), source })?;
        }
        Ok(())
    }
}

/// What one poll of the facts consumer gave.
enum Polled {
    /// A message (a fact, a tombstone, or something ignored).
    Fact,
    /// The end of a partition, as it stands now.
    End(i32),
    Nothing,
}

/// A message of the topic as a change: a fact, or a tombstone.
fn decode(key: Option<&[u8]>, payload: Option<&[u8]>) -> Option<FactChange> {
    let key: FactKey = serde_json::from_slice(key?).ok()?;
    match payload {
        None | Some([]) => Some(FactChange::Remove(key)),
        Some(bytes) => {
            let fact: vbp_detectors::rules::supply_break::OverdueFact = serde_json::from_slice(bytes).ok()?;
            let matches = (fact.city_code.as_str(), fact.product_code.as_str(), fact.institution_code.as_str())
                == (key.0.as_str(), key.1.as_str(), key.2.as_str());
            matches.then_some(FactChange::Upsert(fact))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fact_and_a_tombstone_read_back_and_a_stranger_does_not() {
        let fact = vbp_detectors::rules::supply_break::OverdueFact {
            city_code: "610100".into(),
            product_code: "P1".into(),
            institution_code: "H1".into(),
            province_code: "610000".into(),
            enterprise: "E".into(),
            outstanding_packs: rust_decimal::Decimal::new(125, 1),
            oldest_deadline: 1_767_000_000_000_000,
            open_complaints: 2,
            bought_agreed: true,
        };
        let key = serde_json::to_vec(&FactChange::Upsert(fact.clone()).key()).unwrap();
        let value = serde_json::to_vec(&fact).unwrap();
        assert_eq!(decode(Some(&key), Some(&value)), Some(FactChange::Upsert(fact.clone())));
        assert_eq!(decode(Some(&key), None), Some(FactChange::Remove(("610100".into(), "P1".into(), "H1".into()))));
        assert_eq!(decode(Some(b"nope"), Some(&value)), None);
        let other_key = serde_json::to_vec(&("610100", "P1", "H2")).unwrap();
        assert_eq!(decode(Some(&other_key), Some(&value)), None, "a value under another key is not trusted");
    }
}
