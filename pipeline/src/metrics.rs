//! The registry behind /metrics (Prometheus text format), with the series
//! every mode shares: rejections, how long evaluations take, how big the
//! state is, what fires, and the provincial centre's figures. Components
//! register their own series in it: the Alertmanager sink
//! ([`SinkMetrics`]) and live mode's Kafka and checkpoint series
//! (`live/metrics.rs`). Label values are bounded sets (topics, partitions,
//! reasons, alert names, severities): no series per institution or product.

use prometheus::Result;
use prometheus::{Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use vbp_detectors::rollups::Rollups;
use vbp_detectors::state::StateSizes;

use crate::sinks::alertmanager::SinkMetrics;

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Inputs by topic (live) or file name (replay, demo) and outcome
    /// (applied, waiting, duplicate, rejected, skipped, after_as_of).
    events: IntCounterVec,
    pub rejected: IntCounterVec,
    pub evaluation_seconds: Histogram,
    pub state_entries: IntGaugeVec,
    pub alerts_firing: IntGaugeVec,
    /// Firing alerts whose words were cut short because their rule fired
    /// too many in one division (`vbp_detectors::abridge`), by name.
    pub alerts_abridged: IntGaugeVec,
    /// Latest `occurred_at` applied, Unix seconds (the event-time watermark).
    pub watermark_seconds: Gauge,
    pub last_evaluation_seconds: Gauge,
    /// The Alertmanager sink's own series.
    pub alertmanager: SinkMetrics,
    business: Business,
}

/// The provincial centre's figures by district, city and province, and
/// delivery by enterprise and city (bounded: divisions × a few series).
#[derive(Clone)]
struct Business {
    progress: GaugeVec,
    schedule: GaugeVec,
    progress_vs_schedule: GaugeVec,
    non_selected_share: GaugeVec,
    open_lines: GaugeVec,
    overdue_lines: GaugeVec,
    overdue_payment: GaugeVec,
    on_time: GaugeVec,
    due_lines: GaugeVec,
    division_info: IntGaugeVec,
    /// The execution report's four counts (SPEC §10) by district × batch.
    report_agreements: IntGaugeVec,
}

impl Business {
    fn new(registry: &Registry) -> Result<Self> {
        let by_division = |name: &str, help: &str| -> Result<GaugeVec> {
            let g = GaugeVec::new(Opts::new(name, help), &["level", "division_code"])?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let by_enterprise = |name: &str, help: &str| -> Result<GaugeVec> {
            let g = GaugeVec::new(Opts::new(name, help), &["enterprise", "city_code"])?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let division_info = IntGaugeVec::new(
            Opts::new("vbp_division_info", "1 for every division, with its name (for dashboard legends)"),
            &["level", "division_code", "name"],
        )?;
        registry.register(Box::new(division_info.clone()))?;
        let report_agreements = IntGaugeVec::new(
            Opts::new(
                "vbp_report_agreements",
                "Agreements in force by the execution report's outcome (zero 零采购, behind 低于序时, over 超量, normal 正常), by district and batch",
            ),
            &["city_code", "division_code", "batch", "outcome"],
        )?;
        registry.register(Box::new(report_agreements.clone()))?;
        Ok(Business {
            progress: by_division("vbp_procurement_progress_ratio", "Purchased / agreed base units of the agreements in force")?,
            schedule: by_division("vbp_procurement_schedule_ratio", "Time-proportional schedule (序时进度), agreement-weighted")?,
            progress_vs_schedule: by_division(
                "vbp_procurement_progress_vs_schedule_ratio",
                "Purchased / base units the schedule expects by now (1 = on schedule)",
            )?,
            non_selected_share: by_division("vbp_non_selected_share_ratio", "Non-selected / all base units counted by SPEC 6.2")?,
            open_lines: by_division("vbp_open_order_lines", "Order lines with packs outstanding")?,
            overdue_lines: by_division("vbp_overdue_order_lines", "Order lines past their delivery deadline with packs outstanding")?,
            overdue_payment: by_division("vbp_overdue_payment_yuan", "Yuan outstanding on deliveries past 次月底")?,
            on_time: by_enterprise("vbp_on_time_delivery_ratio", "Order lines due in the last 30 days delivered in full in time (配送率)")?,
            due_lines: by_enterprise("vbp_due_order_lines", "Order lines due in the last 30 days")?,
            division_info,
            report_agreements,
        })
    }
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 { numerator / denominator } else { 0.0 }
}

impl Metrics {
    pub fn new() -> Result<Self> {
        let registry = Registry::new();
        let events = IntCounterVec::new(
            Opts::new("vbp_events_total", "Input messages or lines by topic (file name in replay and demo) and outcome"),
            &["topic", "outcome"],
        )?;
        let build_info = IntGaugeVec::new(Opts::new("vbp_build_info", "1, with the version of this build"), &["version"])?;
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        registry.register(Box::new(build_info))?;
        // process_cpu_seconds_total, process_resident_memory_bytes, open fds…
        #[cfg(target_os = "linux")]
        registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        registry.register(Box::new(events.clone()))?;
        let rejected =
            IntCounterVec::new(Opts::new("vbp_rejected_total", "Rejected events by SPEC §4 reason"), &["reason"])?;
        let evaluation_seconds = Histogram::with_opts(
            HistogramOpts::new("vbp_evaluation_duration_seconds", "Time to evaluate every rule at one tick")
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        )?;
        let state_entries = IntGaugeVec::new(
            Opts::new("vbp_state_entries", "Entries of the keyed state by kind"),
            &["kind"],
        )?;
        let alerts_firing = IntGaugeVec::new(
            Opts::new("vbp_alerts_firing", "Alerts firing now by name and severity"),
            &["alertname", "severity", "city_code", "division_code"],
        )?;
        let alerts_abridged = IntGaugeVec::new(
            Opts::new("vbp_alerts_abridged", "Firing alerts kept with their summary only: their rule fired too many in one division"),
            &["alertname"],
        )?;
        let watermark_seconds = Gauge::new("vbp_event_time_watermark_seconds", "Latest occurred_at applied, Unix time")?;
        let last_evaluation_seconds =
            Gauge::new("vbp_last_evaluation_timestamp_seconds", "Wall-clock time of the last evaluation, Unix time")?;
        let alertmanager = SinkMetrics::register(&registry)?;
        let business = Business::new(&registry)?;
        registry.register(Box::new(rejected.clone()))?;
        registry.register(Box::new(evaluation_seconds.clone()))?;
        registry.register(Box::new(state_entries.clone()))?;
        registry.register(Box::new(alerts_firing.clone()))?;
        registry.register(Box::new(alerts_abridged.clone()))?;
        registry.register(Box::new(watermark_seconds.clone()))?;
        registry.register(Box::new(last_evaluation_seconds.clone()))?;
        Ok(Metrics {
            registry,
            events,
            rejected,
            evaluation_seconds,
            state_entries,
            alerts_firing,
            alerts_abridged,
            watermark_seconds,
            last_evaluation_seconds,
            alertmanager,
            business,
        })
    }

    /// `n` inputs of `topic` had this outcome.
    pub fn taken(&self, topic: &str, outcome: &str, n: u64) {
        self.events.with_label_values(&[topic, outcome]).inc_by(n);
    }

    /// Names every division once, for dashboard legends.
    pub fn set_division_names(&self, names: &[(String, String)]) {
        for (code, name) in names {
            let level = if code.ends_with("0000") { "province" } else if code.ends_with("00") { "city" } else { "district" };
            self.business.division_info.with_label_values(&[level, code, name]).set(1);
        }
    }

    pub fn set_rollups(&self, rollups: &Rollups) {
        let b = &self.business;
        for ((level, code), f) in &rollups.divisions {
            let labels = [*level, code.as_str()];
            b.progress.with_label_values(&labels).set(ratio(f.purchased_units, f.agreed_units));
            b.schedule.with_label_values(&labels).set(ratio(f.scheduled_units, f.agreed_units));
            b.progress_vs_schedule.with_label_values(&labels).set(ratio(f.purchased_units, f.scheduled_units));
            b.non_selected_share
                .with_label_values(&labels)
                .set(ratio(f.non_selected_units, f.selected_units + f.non_selected_units));
            b.open_lines.with_label_values(&labels).set(f.open_order_lines);
            b.overdue_lines.with_label_values(&labels).set(f.overdue_order_lines);
            b.overdue_payment.with_label_values(&labels).set(f.overdue_payment_yuan);
        }
        // Enterprises with nothing due any more drop out rather than linger.
        b.on_time.reset();
        b.due_lines.reset();
        for ((enterprise, city), d) in &rollups.delivery {
            let labels = [enterprise.as_str(), city.as_str()];
            b.on_time.with_label_values(&labels).set(ratio(d.on_time_lines, d.due_lines));
            b.due_lines.with_label_values(&labels).set(d.due_lines);
        }
    }

    /// The report's four counts by district × batch; a district or batch
    /// with no agreement in force any more drops out.
    pub fn set_report_counts(&self, counts: &std::collections::BTreeMap<vbp_detectors::report::CountKey, [u32; 4]>) {
        let gauge = &self.business.report_agreements;
        gauge.reset();
        for ((city, division, batch), counts) in counts {
            for (outcome, n) in vbp_detectors::report::Outcome::ALL.iter().zip(counts) {
                gauge.with_label_values(&[city.as_str(), division.as_str(), batch.as_str(), outcome.as_str()]).set(i64::from(*n));
            }
        }
    }

    pub fn set_state_sizes(&self, sizes: &StateSizes, held: usize, remembered_ids: usize) {
        let kinds = [
            ("agreements", sizes.agreements),
            ("order_lines", sizes.order_lines),
            ("open_order_lines", sizes.open_order_lines),
            ("deliveries", sizes.deliveries),
            ("unpaid_deliveries", sizes.unpaid_deliveries),
            ("waiting_events", held),
            ("remembered_ids", remembered_ids),
        ];
        for (kind, n) in kinds {
            self.state_entries.with_label_values(&[kind]).set(n as i64);
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("cannot encode metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
