//! Reference data that changes while running (deploy/RUNBOOK.md, "Changing
//! the reference data"): on SIGHUP, on `POST /-/reload` with the token, and
//! on a restart with changed files.
//!
//! The new files are validated completely first; a directory with any
//! problem keeps the old data running and answers every problem. Valid
//! files carry the state across ([`Engine::reload`]): purchases and open
//! lines keep counting, an agreement added mid-period is counted from the
//! open order lines (or the answer says why its count may be short), and
//! what a removal orphans is logged, counted in `vbp_reference_dropped_total`
//! and answered — never dropped in silence.

use std::sync::Arc;

use prometheus::{IntCounterVec, IntGauge, Opts};
use serde::Serialize;
use vbp_detectors::reference::ReferenceData;
use vbp_detectors::state::Carried;

use crate::checkpoint::reference_fingerprint;

/// What one reload did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// The new data runs; the state was carried across.
    Applied { seconds: f64, carried: Carried },
    /// The files are those already running.
    Unchanged,
    /// The files have problems; the old data keeps running.
    Refused { problems: Vec<String> },
}

impl ReloadOutcome {
    pub const fn label(&self) -> &'static str {
        match self {
            ReloadOutcome::Applied { .. } => "applied",
            ReloadOutcome::Unchanged => "unchanged",
            ReloadOutcome::Refused { .. } => "refused",
        }
    }
}

/// New reference data, read and checked, with its fingerprint.
pub struct Loaded {
    pub reference: Arc<ReferenceData>,
    pub fingerprint: u64,
}

/// Reads `dir` whole, or every problem in it.
pub fn load(dir: &std::path::Path) -> Result<Loaded, Vec<String>> {
    // The fingerprint first: files changing while read are caught by the
    // next reload, never half-applied.
    let fingerprint = reference_fingerprint(dir).map_err(|e| vec![e.to_string()])?;
    let reference = ReferenceData::load(dir).map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    Ok(Loaded { reference: Arc::new(reference), fingerprint })
}

/// The reload series.
#[derive(Clone)]
pub struct ReloadMetrics {
    reloads: IntCounterVec,
    dropped: IntCounterVec,
    estimated: IntGauge,
    loaded_at: IntGauge,
}

impl ReloadMetrics {
    pub fn register(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        let metrics = ReloadMetrics {
            reloads: IntCounterVec::new(
                Opts::new("vbp_reference_reloads_total", "Reference reloads by outcome (applied, unchanged, refused)"),
                &["outcome"],
            )?,
            dropped: IntCounterVec::new(
                Opts::new(
                    "vbp_reference_dropped_total",
                    "State records dropped by a reload or restart because their institution or product left the reference data",
                ),
                &["kind"],
            )?,
            estimated: IntGauge::new(
                "vbp_reference_estimated_agreements",
                "Agreements added by the last reload whose purchased units may be short (counted from open order lines)",
            )?,
            loaded_at: IntGauge::new("vbp_reference_loaded_timestamp_seconds", "When the running reference data was loaded")?,
        };
        registry.register(Box::new(metrics.reloads.clone()))?;
        registry.register(Box::new(metrics.dropped.clone()))?;
        registry.register(Box::new(metrics.estimated.clone()))?;
        registry.register(Box::new(metrics.loaded_at.clone()))?;
        for outcome in ["applied", "unchanged", "refused"] {
            metrics.reloads.with_label_values(&[outcome]);
        }
        metrics.loaded_now();
        Ok(metrics)
    }

    pub fn loaded_now(&self) {
        self.loaded_at.set(chrono::Utc::now().timestamp());
    }

    /// Counts an outcome, and logs it with everything a person must know.
    pub fn record(&self, why: &str, outcome: &ReloadOutcome) {
        self.reloads.with_label_values(&[outcome.label()]).inc();
        match outcome {
            ReloadOutcome::Applied { seconds, carried } => {
                self.loaded_now();
                self.carried(carried);
                tracing::info!("reference data reloaded ({why}) in {seconds:.2} s: {}", carried.summary());
            }
            ReloadOutcome::Unchanged => tracing::info!("reference data unchanged ({why}); nothing to reload"),
            ReloadOutcome::Refused { problems } => {
                tracing::error!(
                    "reference data NOT reloaded ({why}): {} problems; the data loaded before keeps running. {}",
                    problems.len(),
                    problems.join("; ")
                );
            }
        }
    }

    /// Counts and logs what a carry could not take across whole (a reload,
    /// or a restart with changed files).
    pub fn carried(&self, carried: &Carried) {
        for (kind, n) in &carried.dropped {
            self.dropped.with_label_values(&[kind]).inc_by(*n);
        }
        self.estimated.set(carried.estimates.len() as i64);
        if !carried.removed_institutions.is_empty() || !carried.removed_products.is_empty() {
            tracing::warn!(
                institutions = ?carried.removed_institutions,
                products = ?carried.removed_products,
                "the reference data no longer has what the state named: {} records dropped ({:?})",
                carried.dropped_total(),
                carried.dropped
            );
        }
        const SHOWN: usize = 20;
        for e in carried.estimates.iter().take(SHOWN) {
            tracing::warn!(
                "agreement {} added or changed: {} base units counted from open order lines, may be short: {}",
                e.agreement_id,
                e.counted_units,
                e.reason
            );
        }
        if carried.estimates.len() > SHOWN {
            tracing::warn!("and {} more agreements whose count may be short", carried.estimates.len() - SHOWN);
        }
        if !carried.changed_products.is_empty() {
            tracing::warn!(
                products = ?carried.changed_products,
                "products changed group, family, selection or base units: what they added before stays counted the old way"
            );
        }
    }
}
