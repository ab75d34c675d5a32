//! The Kafka settings every Kafka client of the pipeline shares (the input
//! consumer, the dead-letter producer, the facts topic): brokers, security,
//! group, topics. `[kafka]` of `deploy/vbp-watch.toml`; each setting also
//! as `VBP_KAFKA_…` (see `live::config`).

use std::collections::BTreeMap;

use rdkafka::config::ClientConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    pub group_id: String,
    /// Who reads which partitions.
    pub assignment: Assignment,
    pub orders_topic: String,
    pub deliveries_topic: String,
    pub payments_topic: String,
    pub dead_letter_topic: String,
    /// The overdue facts every instance publishes for the supply-break
    /// stage of the others (`assignment = "group"` only; compacted, as
    /// many partitions as you like; deploy/SCALING.md).
    pub facts_topic: String,
    /// `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl` (ssl needs the
    /// `tls` build feature).
    pub security_protocol: String,
    /// `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`; empty when not SASL.
    pub sasl_mechanism: String,
    pub sasl_username: String,
    /// Better given as `VBP_KAFKA_SASL_PASSWORD` than written in the file.
    pub sasl_password: String,
    pub ssl_ca_location: String,
    pub ssl_certificate_location: String,
    pub ssl_key_location: String,
    /// Any other librdkafka property, passed as is.
    pub extra: BTreeMap<String, String>,
}

/// `kafka.assignment`: who reads which partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Assignment {
    /// Partitions assigned by the consumer group (scale-out, see
    /// deploy/SCALING.md); instances share supply breaks on the facts topic.
    Group,
    /// This instance reads every partition of the three topics itself: a
    /// single instance on a broker whose group coordinator does not evict
    /// members that died without leaving.
    All,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: "127.0.0.1:9092".into(),
            group_id: "vbp-watch".into(),
            assignment: Assignment::Group,
            orders_topic: "vbp.orders".into(),
            deliveries_topic: "vbp.deliveries".into(),
            payments_topic: "vbp.payments".into(),
            dead_letter_topic: "vbp.dead-letter".into(),
            facts_topic: "vbp.facts".into(),
            security_protocol: "plaintext".into(),
            sasl_mechanism: String::new(),
            sasl_username: String::new(),
            sasl_password: String::new(),
            ssl_ca_location: String::new(),
            ssl_certificate_location: String::new(),
            ssl_key_location: String::new(),
            extra: BTreeMap::new(),
        }
    }
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
