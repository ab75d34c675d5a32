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
use crate::sources::kafka::{client_config, KafkaConfig, KafkaOrigin};

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

pub struct DeadLetterTopic {
    producer: FutureProducer,
    topic: String,
    pending: Vec<DeliveryFuture>,
    pub sent: u64,
}

impl DeadLetterTopic {
    pub fn create(kafka: &KafkaConfig) -> Result<Self> {
        let producer: FutureProducer = client_config(kafka)
            .set("message.timeout.ms", "0")
            .set("acks", "all")
            .set("enable.idempotence", "false")
            .create()
            .map_err(DeadLetterTopicError::Create)?;
        Ok(DeadLetterTopic { producer, topic: kafka.dead_letter_topic.clone(), pending: Vec::new(), sent: 0 })
    }

    /// Queues one dead letter, keyed like the message it rejects.
    pub fn send(&mut self, origin: &KafkaOrigin, rejection: Rejection) -> Result<()> {
        let source = Source::Kafka { topic: origin.topic.clone(), partition: origin.partition, offset: origin.offset };
        let letter = DeadLetter::new(rejection, source, origin.raw.as_slice());
        self.queue(&letter.to_json_line(), origin.key.as_deref(), &letter.source.to_string())
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
