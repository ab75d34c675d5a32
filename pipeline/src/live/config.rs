//! The configuration of `vbp-watch run` (SPEC §9): a TOML file, then
//! `VBP_…` environment variables, then command-line flags, each overriding
//! the one before. `deploy/vbp-watch.toml` is the annotated example.
//!
//! Every setting has an environment name derived from its path in the file
//! (`[kafka] group_id` → `VBP_KAFKA_GROUP_ID`), so an operator never has to
//! guess which ones exist: all of them do.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use url::Url;
use vbp_detectors::config::DetectorConfig;

pub use crate::sources::kafka::config::{Assignment, KafkaConfig, SecurityProtocol};

/// Why `vbp-watch run` refuses its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid TOML: {source}", path.display())]
    Toml {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// A setting of the file or of a `VBP_` variable, shown with its key.
    #[error("bad configuration (file or VBP_ variable): {0}")]
    Setting(#[source] toml::de::Error),
    #[error("{setting} `{url}` must be an http:// or https:// URL")]
    NotHttp { setting: &'static str, url: Url },
    #[error("{setting} = {value} is out of range: give 1 to {max}")]
    OutOfRange { setting: &'static str, value: u32, max: u32 },
    #[error("the configuration cannot be written out to check it: {0}")]
    Internal(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// Directory of the reference CSV files (SPEC §3).
    pub reference: PathBuf,
    /// Where checkpoints are written (atomically) and read back on start.
    pub state_dir: PathBuf,
    /// Address of /metrics, /healthz and /api/alerts; loopback by default.
    pub http_listen: SocketAddr,
    /// Between evaluations (SPEC §5: 10 s).
    #[serde(rename = "tick_seconds", with = "seconds")]
    pub tick: Duration,
    /// Between checkpoints while events flow.
    #[serde(rename = "checkpoint_seconds", with = "seconds")]
    pub checkpoint_every: Duration,
    /// Messages longer than this many bytes are rejected as `too_large`.
    pub max_message_bytes: usize,
    /// Shards of the state (by the Kafka key), applied and evaluated on as
    /// many threads; default 1 (deploy/SCALING.md has the measured trade).
    /// A checkpoint keeps the number it was written with.
    pub threads: NonZeroUsize,
    /// While the consumer is behind the end of its partitions it applies
    /// events without evaluating, so a catch-up after downtime raises no
    /// alert from half-read state; past this long it evaluates anyway.
    #[serde(rename = "max_evaluation_delay_seconds", with = "seconds")]
    pub max_evaluation_delay: Duration,
    /// Pins the evaluation instant T (RFC 3339) instead of the wall clock:
    /// for drills and tests that replay a known period through Kafka.
    pub evaluate_at: Option<DateTime<FixedOffset>>,
    /// Appends every alert transition (SPEC §7 object plus `seq`) here.
    pub transitions_file: Option<PathBuf>,
    /// `/readyz` answers 503 while Alertmanager has not accepted more than
    /// this many alert transitions.
    pub ready_max_undelivered_alerts: usize,
    /// Who may see and change what over HTTP (tokens).
    pub access: crate::http::access::AccessConfig,
    /// On-call triage: acknowledgements, escalation, history (SPEC §12).
    pub triage: TriageConfig,
    pub kafka: KafkaConfig,
    pub alertmanager: AlertmanagerConfig,
    pub detectors: DetectorConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URL, e.g. `http://127.0.0.1:9093`; absent: alerts are only
    /// served at /api/alerts and written to `transitions_file`.
    pub url: Option<Url>,
    /// Between re-sends of firing alerts (`endsAt` is 4 ahead).
    #[serde(rename = "resend_seconds", with = "seconds")]
    pub resend: Duration,
    /// This pipeline's address as bureaus reach it, for `generatorURL`;
    /// absent: `http://<http_listen>`.
    pub external_url: Option<Url>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriageConfig {
    /// An incident nobody acknowledged for this long is sent again with
    /// `escalated="true"`, which deploy/alertmanager.yml routes to the
    /// provincial duty officer.
    pub escalate_after_minutes: u32,
    /// How long an acknowledgement's silence lasts unless the form says.
    pub acknowledge_hours: u32,
    /// How long resolved alerts stay in the history.
    pub history_days: u32,
}

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig { escalate_after_minutes: 30, acknowledge_hours: 24, history_days: crate::runner::HISTORY_DAYS }
    }
}

/// A duration written as whole seconds, at least 1.
mod seconds {
    use std::time::Duration;

    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match u64::deserialize(d)? {
            0 => Err(D::Error::custom("must be at least 1 second")),
            n => Ok(Duration::from_secs(n)),
        }
    }
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            reference: PathBuf::from("reference"),
            state_dir: PathBuf::from("state"),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            tick: Duration::from_secs(10),
            checkpoint_every: Duration::from_secs(5),
            max_message_bytes: vbp_schemas::DecodeLimits::default().max_message_bytes,
            threads: crate::replay::DEFAULT_THREADS,
            max_evaluation_delay: Duration::from_secs(300),
            evaluate_at: None,
            transitions_file: None,
            ready_max_undelivered_alerts: crate::http::READY_MAX_UNDELIVERED,
            access: Default::default(),
            triage: TriageConfig::default(),
            kafka: KafkaConfig::default(),
            alertmanager: AlertmanagerConfig::default(),
            detectors: DetectorConfig::default(),
        }
    }
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        AlertmanagerConfig { url: None, resend: Duration::from_secs(60), external_url: None }
    }
}

/// The flags of `vbp-watch run` that override the file (SPEC §9). Each
/// also reads the variable the file's setting is named after (shown in
/// `--help`); the file's other settings take theirs the same way.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunFlags {
    /// TOML configuration file (see deploy/vbp-watch.toml).
    #[arg(long, env = "VBP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Kafka brokers, host:port[,host:port…] ([kafka] bootstrap_servers).
    #[arg(long, env = "VBP_KAFKA_BOOTSTRAP_SERVERS")]
    pub bootstrap_servers: Option<String>,
    /// The consumer group ([kafka] group_id).
    #[arg(long, env = "VBP_KAFKA_GROUP_ID")]
    pub group_id: Option<String>,
    /// Directory of the reference CSV files (SPEC §3).
    #[arg(long, env = "VBP_REFERENCE")]
    pub reference: Option<PathBuf>,
    /// Where checkpoints are written.
    #[arg(long, env = "VBP_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Alertmanager to push alerts to, e.g. http://127.0.0.1:9093.
    #[arg(long, env = "VBP_ALERTMANAGER_URL")]
    pub alertmanager_url: Option<Url>,
    /// Address of /metrics, /healthz, the pages and the API [default: 127.0.0.1:9464].
    #[arg(long, env = "VBP_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
}

impl LiveConfig {
    /// File, then environment, then flags.
    pub fn load(flags: &RunFlags, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut merged: toml::Table = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                toml::from_str(&text).map_err(|source| ConfigError::Toml { path: path.clone(), source })?
            }
            None => toml::Table::new(),
        };
        let settings = serde_json::to_value(LiveConfig::default()).map_err(|e| ConfigError::Internal(e.to_string()))?;
        apply_env(&mut merged, &settings, &mut Vec::new(), &env);
        // Parsed from text, so that a bad value is shown with its key.
        let merged = toml::to_string(&merged).map_err(|e| ConfigError::Internal(e.to_string()))?;
        let mut config: LiveConfig = toml::from_str(&merged).map_err(ConfigError::Setting)?;
        let f = flags.clone();
        if let Some(v) = f.bootstrap_servers { config.kafka.bootstrap_servers = v; }
        if let Some(v) = f.group_id { config.kafka.group_id = v; }
        if let Some(v) = f.reference { config.reference = v; }
        if let Some(v) = f.state_dir { config.state_dir = v; }
        if let Some(v) = f.alertmanager_url { config.alertmanager.url = Some(v); }
        if let Some(v) = f.http_listen { config.http_listen = v; }
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let t = &self.triage;
        for (setting, value, max) in [
            ("triage.history_days", t.history_days, 36_500),
            ("triage.acknowledge_hours", t.acknowledge_hours, 24 * 365),
            ("triage.escalate_after_minutes", t.escalate_after_minutes, 60 * 24 * 365),
        ] {
            if value == 0 || value > max {
                return Err(ConfigError::OutOfRange { setting, value, max });
            }
        }
        for (setting, url) in [("alertmanager.url", &self.alertmanager.url), ("alertmanager.external_url", &self.alertmanager.external_url)] {
            if let Some(url) = url.as_ref().filter(|u| !matches!(u.scheme(), "http" | "https")) {
                return Err(ConfigError::NotHttp { setting, url: url.clone() });
            }
        }
        Ok(())
    }

    /// The base of `generatorURL`s.
    pub fn external_url(&self) -> String {
        match &self.alertmanager.external_url {
            Some(url) => url.as_str().trim_end_matches('/').to_string(),
            None => format!("http://{}", self.http_listen),
        }
    }

    /// The four input topics.
    pub fn input_topics(&self) -> [&str; 4] {
        [&self.kafka.orders_topic, &self.kafka.deliveries_topic, &self.kafka.payments_topic, &self.kafka.complaints_topic]
    }
}

/// Sets every setting that has a `VBP_<PATH>` variable. `settings` is the
/// default configuration as JSON, where an absent optional setting is a
/// `null` leaf, so every setting has its variable. A value is read as TOML
/// (numbers, booleans) unless the setting is text or optional.
fn apply_env(table: &mut toml::Table, settings: &serde_json::Value, path: &mut Vec<String>, env: &impl Fn(&str) -> Option<String>) {
    let Some(settings) = settings.as_object() else { return };
    for (key, default) in settings {
        path.push(key.to_uppercase());
        if default.is_object() {
            let inner = table.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(inner) = inner {
                apply_env(inner, default, path, env);
            }
        } else if let Some(text) = env(&format!("VBP_{}", path.join("_"))) {
            let value = match text.parse::<toml::Value>() {
                Ok(parsed) if !(default.is_string() || default.is_null()) => parsed,
                _ => toml::Value::String(text),
            };
            table.insert(key.clone(), value);
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_then_flags() {
        let dir = std::env::temp_dir().join(format!("vbp-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("run.toml");
        std::fs::write(&file, "tick_seconds = 3\n[kafka]\ngroup_id = \"from-file\"\nbootstrap_servers = \"file:1\"\n[detectors.payment]\ncritical_days_overdue = 40\n").unwrap();
        let env = |name: &str| match name {
            "VBP_KAFKA_GROUP_ID" => Some("from-env".to_string()),
            "VBP_CHECKPOINT_SECONDS" => Some("7".to_string()),
            "VBP_KAFKA_SASL_PASSWORD" => Some("123".to_string()),
            _ => None,
        };
        let flags = RunFlags { config: Some(file), bootstrap_servers: Some("flag:2".into()), ..RunFlags::default() };
        let c = LiveConfig::load(&flags, env).unwrap();
        assert_eq!(c.tick, Duration::from_secs(3));
        assert_eq!(c.checkpoint_every, Duration::from_secs(7));
        assert_eq!(c.kafka.group_id, "from-env");
        assert_eq!(c.kafka.bootstrap_servers, "flag:2");
        // A numeric-looking secret stays a string.
        assert_eq!(c.kafka.sasl_password.as_deref(), Some("123"));
        assert_eq!(c.detectors.payment.critical_days_overdue, 40);
        assert_eq!(c.kafka.orders_topic, "vbp.orders");
    }

    #[test]
    fn the_annotated_example_is_valid() {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/vbp-watch.toml");
        let flags = RunFlags { config: Some(example.into()), ..RunFlags::default() };
        let c = LiveConfig::load(&flags, |_| None).unwrap();
        assert_eq!(c.state_dir, PathBuf::from("/var/lib/vbp-watch"));
        assert_eq!(c.kafka.dead_letter_topic, "vbp.dead-letter");
    }

    #[test]
    fn unknown_settings_and_bad_clock_are_refused() {
        let dir = std::env::temp_dir().join(format!("vbp-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("run.toml");
        std::fs::write(&file, "tick_secs = 3\n").unwrap();
        let flags = RunFlags { config: Some(file.clone()), ..RunFlags::default() };
        assert!(LiveConfig::load(&flags, |_| None).is_err());
        std::fs::write(&file, "[kafka]\nassignment = \"some\"\n").unwrap();
        let err = LiveConfig::load(&flags, |_| None).unwrap_err();
        assert!(format!("{err:#}").contains("group"), "names the choices: {err:#}");
        std::fs::write(&file, "evaluate_at = \"2026-03-01\"\n").unwrap();
        let err = LiveConfig::load(&flags, |_| None).unwrap_err();
        assert!(format!("{err:#}").contains("evaluate_at"), "{err:#}");
        std::fs::write(&file, "tick_seconds = 0\n").unwrap();
        let err = LiveConfig::load(&flags, |_| None).unwrap_err();
        assert!(format!("{err:#}").contains("tick_seconds") && format!("{err:#}").contains("at least 1"), "{err:#}");
        let err = LiveConfig::load(&RunFlags::default(), |n| (n == "VBP_ALERTMANAGER_URL").then(|| "9093".into())).unwrap_err();
        assert!(format!("{err:#}").contains("url"), "{err:#}");
    }

    #[test]
    fn optional_settings_are_absent_by_default_and_each_has_its_variable() {
        let c = LiveConfig::load(&RunFlags::default(), |_| None).unwrap();
        assert_eq!((c.evaluate_at, c.transitions_file.clone(), c.alertmanager.url.clone()), (None, None, None));
        assert_eq!(c.external_url(), "http://127.0.0.1:9464");
        let env = |name: &str| match name {
            "VBP_EVALUATE_AT" => Some("2026-03-16T00:00:00+08:00".to_string()),
            "VBP_TRANSITIONS_FILE" => Some("/var/log/t.ndjson".to_string()),
            "VBP_ALERTMANAGER_URL" => Some("http://am:9093".to_string()),
            "VBP_ALERTMANAGER_EXTERNAL_URL" => Some("https://vbp.example.cn/".to_string()),
            "VBP_KAFKA_SECURITY_PROTOCOL" => Some("sasl_ssl".to_string()),
            "VBP_KAFKA_SASL_MECHANISM" => Some("SCRAM-SHA-512".to_string()),
            _ => None,
        };
        let c = LiveConfig::load(&RunFlags::default(), env).unwrap();
        assert_eq!(c.evaluate_at.map(|t| t.to_rfc3339()).as_deref(), Some("2026-03-16T00:00:00+08:00"));
        assert_eq!(c.transitions_file, Some(PathBuf::from("/var/log/t.ndjson")));
        assert_eq!(c.alertmanager.url.as_ref().map(Url::as_str), Some("http://am:9093/"));
        assert_eq!(c.external_url(), "https://vbp.example.cn");
        assert_eq!(c.kafka.security_protocol, SecurityProtocol::SaslSsl);
        assert_eq!(c.kafka.sasl_mechanism.as_deref(), Some("SCRAM-SHA-512"));
    }
}
