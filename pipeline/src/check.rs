//! `vbp-watch check`: validates a live configuration (file, environment
//! and flags, as `vbp-watch run` would read them) and the reference data it
//! names, or a reference directory alone, without running anything — as
//! `promtool check` and `vector validate` do. Every problem is listed at
//! once, with its file, line and column.
//!
//! `check --ready ADDR` is the probe of a running instance: exit 0 when its
//! `/readyz` says ready, 1 with the reasons otherwise (compose's
//! healthcheck: the image has no shell tools).

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::live::config::{LiveConfig, RunFlags};
use crate::replay::load_reference;

/// What to check.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CheckOptions {
    /// A TOML configuration of `vbp-watch run` (with VBP_… variables applied).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A reference directory (SPEC §3); with --config, instead of the one it names.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// A running instance's HTTP address (e.g. 127.0.0.1:9464): is it ready?
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["config", "reference"])]
    pub ready: Option<std::net::SocketAddr>,
}

/// Checks, and says what was found good; an error lists what is not.
pub async fn run(options: &CheckOptions, env: impl Fn(&str) -> Option<String>) -> Result<String> {
    if let Some(addr) = options.ready {
        return ready(addr).await;
    }
    let mut said = String::new();
    let reference_dir = match (&options.config, &options.reference) {
        (None, None) => bail!("give --config FILE (a vbp-watch run configuration), --reference DIR (reference data) or --ready ADDR (a running instance) to check"),
        (Some(path), reference) => {
            let flags = RunFlags { config: Some(path.clone()), reference: reference.clone(), ..RunFlags::default() };
            let config = LiveConfig::load(&flags, env)?;
            let access = crate::http::access::Access::load(&config.access)?;
            said.push_str(&format!(
                "{}: ok (brokers {}, group {}, topics {}, state in {}, http on {}, {})\n",
                path.display(),
                config.kafka.bootstrap_servers,
                config.kafka.group_id,
                config.input_topics().join(", "),
                config.state_dir.display(),
                config.http_listen,
                if access.allows_changes() { "a provincial token" } else { "no token: nothing changes over HTTP" }
            ));
            config.reference
        }
        (None, Some(reference)) => reference.clone(),
    };
    let reference = load_reference(&reference_dir)?;
    said.push_str(&format!(
        "{}: ok ({} divisions, {} institutions, {} products in {} groups, {} agreements, {} exemptions, {} substitutes, {} enterprises)\n",
        reference_dir.display(),
        reference.divisions.len(),
        reference.institutions.len(),
        reference.products.len(),
        reference.groups.len(),
        reference.agreements.len(),
        reference.exemptions.len(),
        reference.substitutes.len(),
        reference.enterprises.len(),
    ));
    Ok(said)
}

/// `GET http://addr/readyz`: ok when 200, else its reasons.
async fn ready(addr: std::net::SocketAddr) -> Result<String> {
    let url = format!("http://{addr}/readyz");
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build()?;
    let response = client.get(&url).send().await.map_err(|e| anyhow::anyhow!("{url}: no answer ({e})"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() {
        return Ok(format!("{url}: ready\n"));
    }
    let reasons: Vec<&str> = body["reasons"].as_array().map(|r| r.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
    bail!("{url}: not ready ({status}): {}", reasons.join("; "))
}
