//! The Kafka settings every Kafka client of the pipeline shares (the input
//! consumer, the dead-letter producer, the facts topic): brokers, security,
//! group, topics. `[kafka]` of `deploy/vbp-watch.toml`; each setting also
//! as `VBP_KAFKA_…` (see `live::config`).

use std::collections::BTreeMap;
use std::path::PathBuf;

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
    /// Supply complaints (SPEC §4), keyed by institution like the others.
    pub complaints_topic: String,
    pub dead_letter_topic: String,
    /// The overdue facts every instance publishes for the supply-break
    /// stage of the others (`assignment = "group"` only; compacted, as
    /// many partitions as you like; deploy/SCALING.md).
    pub facts_topic: String,
    pub security_protocol: SecurityProtocol,
    /// `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`…, passed to librdkafka
    /// as `sasl.mechanism` (it names the ones it supports).
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    /// Better given as `VBP_KAFKA_SASL_PASSWORD` than written in the file.
    pub sasl_password: Option<String>,
    pub ssl_ca_location: Option<PathBuf>,
    pub ssl_certificate_location: Option<PathBuf>,
    pub ssl_key_location: Option<PathBuf>,
    /// Any other librdkafka property, passed as is.
    pub extra: BTreeMap<String, String>,
}

/// `kafka.security_protocol`. Every build links OpenSSL, so SASL/SCRAM
/// and TLS are always there (tested against tansu: SCRAM-SHA-512).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// librdkafka's `security.protocol`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }
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
            complaints_topic: "vbp.complaints".into(),
            dead_letter_topic: "vbp.dead-letter".into(),
            facts_topic: "vbp.facts".into(),
            security_protocol: SecurityProtocol::Plaintext,
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
            ssl_certificate_location: None,
            ssl_key_location: None,
            extra: BTreeMap::new(),
        }
    }
}

/// The librdkafka settings shared by the consumer and the producer:
/// servers, security (SASL, TLS) and any extra property.
pub fn client_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &kafka.bootstrap_servers);
    config.set("security.protocol", kafka.security_protocol.as_str());
    let text = [
        ("sasl.mechanism", &kafka.sasl_mechanism),
        ("sasl.username", &kafka.sasl_username),
        ("sasl.password", &kafka.sasl_password),
    ];
    for (key, value) in text {
        if let Some(value) = value {
            config.set(key, value);
        }
    }
    let paths = [
        ("ssl.ca.location", &kafka.ssl_ca_location),
        ("ssl.certificate.location", &kafka.ssl_certificate_location),
        ("ssl.key.location", &kafka.ssl_key_location),
    ];
    for (key, path) in paths {
        if let Some(path) = path {
            config.set(key, path.display().to_string());
        }
    }
    for (key, value) in &kafka.extra {
        config.set(key, value);
    }
    config
}
