//! `vbp-watch check`: validates a live configuration (file, environment
//! and flags, as `vbp-watch run` would read them) and the reference data it
//! names, or a reference directory alone, without running anything — as
//! `promtool check` and `vector validate` do. Every problem is listed at
//! once, with its file, line and column.

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
}

/// Checks, and says what was found good; an error lists what is not.
pub fn run(options: &CheckOptions, env: impl Fn(&str) -> Option<String>) -> Result<String> {
    let mut said = String::new();
    let reference_dir = match (&options.config, &options.reference) {
        (None, None) => bail!("give --config FILE (a vbp-watch run configuration) or --reference DIR (reference data) to check"),
        (Some(path), reference) => {
            let flags = RunFlags { config: Some(path.clone()), reference: reference.clone(), ..RunFlags::default() };
            let config = LiveConfig::load(&flags, env)?;
            said.push_str(&format!(
                "{}: ok (brokers {}, group {}, topics {}, state in {}, http on {})\n",
                path.display(),
                config.kafka.bootstrap_servers,
                config.kafka.group_id,
                config.input_topics().join(", "),
                config.state_dir.display(),
                config.http_listen
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
