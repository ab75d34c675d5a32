//! The configuration of `vbp-watch run` (SPEC §9): a TOML file, then
//! `VBP_…` environment variables, then command-line flags, each overriding
//! the one before. `deploy/vbp-watch.toml` is the annotated example.
//!
//! Every setting has an environment name derived from its path in the file
//! (`[kafka] group_id` → `VBP_KAFKA_GROUP_ID`), so an operator never has to
//! guess which ones exist: all of them do.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use vbp_detectors::config::DetectorConfig;

pub use crate::sources::kafka::config::{Assignment, KafkaConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// Directory of the reference CSV files (SPEC §3).
    pub reference: PathBuf,
    /// Where checkpoints are written (atomically) and read back on start.
    pub state_dir: PathBuf,
    /// Address of /metrics, /healthz and /api/alerts; loopback by default.
    pub http_listen: String,
    /// Seconds between evaluations (SPEC §5: 10).
    pub tick_seconds: u64,
    /// Seconds between checkpoints while events flow.
    pub checkpoint_seconds: u64,
    /// Messages longer than this many bytes are rejected as `too_large`.
    pub max_message_bytes: usize,
    /// While the consumer is behind the end of its partitions it applies
    /// events without evaluating, so a catch-up after downtime raises no
    /// alert from half-read state; past this many seconds it evaluates anyway.
    pub max_evaluation_delay_seconds: u64,
    /// Pins the evaluation instant T (RFC 3339) instead of the wall clock:
    /// for drills and tests that replay a known period through Kafka.
    pub evaluate_at: String,
    /// Appends every alert transition (SPEC §7 object plus `seq`) here.
    pub transitions_file: String,
    pub kafka: KafkaConfig,
    pub alertmanager: AlertmanagerConfig,
    pub detectors: DetectorConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URL, e.g. `http://127.0.0.1:9093`; empty: alerts are only
    /// served at /api/alerts and written to `transitions_file`.
    pub url: String,
    /// Seconds between re-sends of firing alerts (`endsAt` is 4 ahead).
    pub resend_seconds: u64,
    /// This pipeline's address as bureaus reach it, for `generatorURL`;
    /// empty: `http://<http_listen>`.
    pub external_url: String,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            reference: PathBuf::from("reference"),
            state_dir: PathBuf::from("state"),
            http_listen: "127.0.0.1:9464".into(),
            tick_seconds: 10,
            checkpoint_seconds: 5,
            max_message_bytes: vbp_schemas::DecodeLimits::default().max_message_bytes,
            max_evaluation_delay_seconds: 300,
            evaluate_at: String::new(),
            transitions_file: String::new(),
            kafka: KafkaConfig::default(),
            alertmanager: AlertmanagerConfig::default(),
            detectors: DetectorConfig::default(),
        }
    }
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        AlertmanagerConfig { url: String::new(), resend_seconds: 60, external_url: String::new() }
    }
}

/// The flags of `vbp-watch run` that override the file (SPEC §9).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunFlags {
    /// TOML configuration file (see deploy/vbp-watch.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub bootstrap_servers: Option<String>,
    #[arg(long)]
    pub group_id: Option<String>,
    #[arg(long)]
    pub reference: Option<PathBuf>,
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    #[arg(long)]
    pub alertmanager_url: Option<String>,
    #[arg(long)]
    pub http_listen: Option<String>,
}

impl LiveConfig {
    /// File, then environment, then flags.
    pub fn load(flags: &RunFlags, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let text = match &flags.config {
            Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
            None => String::new(),
        };
        let file: toml::Table = toml::from_str(&text).context("the configuration is not valid TOML")?;
        let mut merged = toml::Table::try_from(LiveConfig::default()).context("default configuration")?;
        merge(&mut merged, file);
        apply_env(&mut merged, &mut Vec::new(), &env)?;
        let mut config: LiveConfig =
            toml::Value::Table(merged).try_into().context("bad configuration (file or VBP_ variable)")?;
        let f = flags.clone();
        if let Some(v) = f.bootstrap_servers { config.kafka.bootstrap_servers = v; }
        if let Some(v) = f.group_id { config.kafka.group_id = v; }
        if let Some(v) = f.reference { config.reference = v; }
        if let Some(v) = f.state_dir { config.state_dir = v; }
        if let Some(v) = f.alertmanager_url { config.alertmanager.url = v; }
        if let Some(v) = f.http_listen { config.http_listen = v; }
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        if self.tick_seconds == 0 || self.checkpoint_seconds == 0 || self.alertmanager.resend_seconds == 0 {
            bail!("tick_seconds, checkpoint_seconds and alertmanager.resend_seconds must be at least 1");
        }
        self.pinned_clock()?;
        Ok(())
    }

    /// `evaluate_at`, parsed; `None` means the wall clock.
    pub fn pinned_clock(&self) -> Result<Option<DateTime<FixedOffset>>> {
        if self.evaluate_at.is_empty() {
            return Ok(None);
        }
        DateTime::parse_from_rfc3339(&self.evaluate_at)
            .map(Some)
            .with_context(|| format!("evaluate_at `{}` is not an RFC 3339 instant with an offset", self.evaluate_at))
    }

    /// The base of `generatorURL`s.
    pub fn external_url(&self) -> String {
        if self.alertmanager.external_url.is_empty() {
            format!("http://{}", self.http_listen)
        } else {
            self.alertmanager.external_url.trim_end_matches('/').to_string()
        }
    }

    /// The three input topics.
    pub fn input_topics(&self) -> [&str; 3] {
        [&self.kafka.orders_topic, &self.kafka.deliveries_topic, &self.kafka.payments_topic]
    }
}

/// Overlays `over` onto `base`, table by table.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Replaces every leaf setting that has a `VBP_<PATH>` variable. A value
/// is read as TOML (numbers, booleans) and else taken as a string.
fn apply_env(table: &mut toml::Table, path: &mut Vec<String>, env: &impl Fn(&str) -> Option<String>) -> Result<()> {
    for (key, value) in table.iter_mut() {
        path.push(key.to_uppercase());
        if let toml::Value::Table(inner) = value {
            apply_env(inner, path, env)?;
        } else {
            let name = format!("VBP_{}", path.join("_"));
            if let Some(text) = env(&name) {
                *value = match (&*value, text.parse::<toml::Value>()) {
                    (toml::Value::String(_), _) | (_, Err(_)) => toml::Value::String(text),
                    (_, Ok(parsed)) => parsed,
                };
            }
        }
        path.pop();
    }
    Ok(())
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
        assert_eq!(c.tick_seconds, 3);
        assert_eq!(c.checkpoint_seconds, 7);
        assert_eq!(c.kafka.group_id, "from-env");
        assert_eq!(c.kafka.bootstrap_servers, "flag:2");
        // A numeric-looking secret stays a string.
        assert_eq!(c.kafka.sasl_password, "123");
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
    }
}
