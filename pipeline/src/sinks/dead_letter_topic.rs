//! The dead-letter topic (`vbp.dead-letter`): every rejected message, with
//! its reason, its topic/partition/offset and its original bytes (SPEC §4).
//!
//! Sends are asynchronous; [`DeadLetterTopic::flush`] waits for the broker
//! to acknowledge them, and the live driver calls it before each
//! checkpoint, so an offset is never committed past a rejection the broker
//! has not stored. Messages never expire in the producer queue: while the
//! broker is away they wait, and checkpoints wait with them.

use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use vbp_schemas::{DeadLetter, Rejection, Source};

use crate::engine::Rejected;
use crate::runner::DeadLetterSink;
use crate::sources::kafka::{client_config, KafkaConfig, KafkaOrigin, ThrottledLog};

/// What stops dead letters from reaching the topic.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterTopicError {
    #[error("cannot create the dead-letter producer (check [kafka] bootstrap_servers and security): {0}")]
    Create(#[source] KafkaError),
    #[error("cannot queue a dead letter for {what}: {source}")]
    Queue {
        what: String,
        #[source]
        source: KafkaError,
    },
    #[error("the broker refused a dead letter (does the dead-letter topic exist and may this client write to it?): {0}")]
    Refused(#[source] KafkaError),
    #[error("the dead-letter producer shut down")]
    ShutDown,
}

type Result<T, E = DeadLetterTopicError> = std::result::Result<T, E>;

/// The largest dead-letter record sent: under the broker's default
/// `message.max.bytes` (1 MB) with room for the key and headers.
pub const MAX_RECORD_BYTES: usize = 900 * 1024;

/// The dead letter as a JSON line of at most `limit` bytes: all of `raw`
/// when it fits, else its first bytes, halved until the line fits (JSON
/// escapes a control byte as 6 characters and base64 grows other bytes by
/// a third, so the cut is found by trying), with the cut said in `detail`.
pub fn fitted(rejection: Rejection, source: Source, raw: &[u8], limit: usize) -> String {
    let mut kept = raw.len().min(crate::runner::DEAD_LETTER_RAW_BYTES as usize);
    loop {
        let mut cut = rejection.clone();
        if kept < raw.len() {
            cut.detail.push_str(&format!(" (this dead letter keeps the first {kept} of the message's {} bytes)", raw.len()));
        }
        let line = DeadLetter::new(cut, source.clone(), &raw[..kept]).to_json_line();
        if line.len() <= limit || kept == 0 {
            return line;
        }
        kept /= 2;
    }
}

pub struct DeadLetterTopic {
    producer: FutureProducer<ThrottledLog>,
    topic: String,
    pending: Vec<DeliveryFuture>,
    pub sent: u64,
}

impl DeadLetterTopic {
    pub fn create(kafka: &KafkaConfig) -> Result<Self> {
        let producer: FutureProducer<ThrottledLog> = client_config(kafka)
            .set("message.timeout.ms", "0")
            .set("acks", "all")
            .set("enable.idempotence", "false")
            .create_with_context(ThrottledLog)
            .map_err(DeadLetterTopicError::Create)?;
        Ok(DeadLetterTopic { producer, topic: kafka.dead_letter_topic.clone(), pending: Vec::new(), sent: 0 })
    }

    /// Queues one dead letter, keyed like the message it rejects. The raw
    /// bytes kept are cut until the record fits the broker's limit (a
    /// refused record would stop the pipeline at that offset for good),
    /// and the dead letter says how much it keeps.
    pub fn send(&mut self, origin: &KafkaOrigin, rejection: Rejection) -> Result<()> {
        let source = Source::Kafka { topic: origin.topic.clone(), partition: origin.partition, offset: origin.offset };
        let line = fitted(rejection, source, &origin.raw, MAX_RECORD_BYTES);
        self.queue(&line, origin.key.as_deref(), &format!("{}/{}@{}", origin.topic, origin.partition, origin.offset))
    }

    fn queue(&mut self, line: &str, key: Option<&[u8]>, what: &str) -> Result<()> {
        let mut record: FutureRecord<'_, [u8], str> = FutureRecord::to(&self.topic).payload(line);
        if let Some(key) = key {
            record = record.key(key);
        }
        match self.producer.send_result(record) {
            Ok(delivery) => {
                self.pending.push(delivery);
                self.sent += 1;
                Ok(())
            }
            Err((source, _)) => Err(DeadLetterTopicError::Queue { what: what.to_string(), source }),
        }
    }

    /// Waits up to `timeout` for every queued dead letter to be stored.
    /// `Ok(false)` when some are still in flight (broker away): try again.
    pub async fn flush(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = tokio::time::Instant::now() + timeout;
        while let Some(delivery) = self.pending.last_mut() {
            match tokio::time::timeout_at(deadline, delivery).await {
                Err(_) => return Ok(false),
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err((e, _)))) => return Err(DeadLetterTopicError::Refused(e)),
                Ok(Err(_)) => return Err(DeadLetterTopicError::ShutDown),
            }
            self.pending.pop();
        }
        Ok(true)
    }
}

impl DeadLetterSink<KafkaOrigin> for DeadLetterTopic {
    type Error = DeadLetterTopicError;

    fn write(&mut self, rejected: Rejected<KafkaOrigin>) -> Result<()> {
        self.send(&rejected.origin, rejected.rejection)
    }

    fn write_record(&mut self, record: &DeadLetter) -> Result<()> {
        self.queue(&record.to_json_line(), None, &record.source.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vbp_schemas::Reason;

    fn rejection() -> Rejection {
        Rejection { reason: Reason::TooLarge, detail: "message of 5000000 bytes".into() }
    }

    fn source() -> Source {
        Source::Kafka { topic: "vbp.orders".into(), partition: 0, offset: 7 }
    }

    #[test]
    fn a_dead_letter_of_a_huge_message_fits_the_broker_and_says_what_it_keeps() {
        // Control bytes: JSON writes each as \u00XX, six times its size.
        let raw = vec![1u8; 5_000_000];
        let line = fitted(rejection(), source(), &raw, MAX_RECORD_BYTES);
        assert!(line.len() <= MAX_RECORD_BYTES, "{} bytes", line.len());
        assert!(line.contains("keeps the first") && line.contains("of the message's 5000000 bytes"), "{}", &line[..300]);
        let letter: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(letter["reason"], "too_large");
    }

    #[test]
    fn a_dead_letter_that_fits_keeps_every_byte() {
        let raw = b"{\"type\":\"order.placed\"".to_vec();
        let line = fitted(rejection(), source(), &raw, MAX_RECORD_BYTES);
        assert!(!line.contains("keeps the first"));
        let letter: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(letter["raw"], String::from_utf8(raw).unwrap());
    }
}
