//! Live mode's own series: what came in from Kafka and what became of it,
//! how far behind the broker the consumer runs, and the checkpoints. Live
//! registers them in the pipeline's registry and is the only one to touch
//! them; each method is named for what happened.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, IntGaugeVec, Opts};

use crate::engine::Fate;

#[derive(Clone)]
pub struct LiveMetrics {
    /// `vbp_events_total`, in the registry every mode shares.
    events: crate::metrics::Metrics,
    consumer_lag: IntGaugeVec,
    broker_errors: IntCounter,
    checkpoint_seconds: Histogram,
    checkpoint_bytes: IntGauge,
    checkpoints: IntCounter,
    checkpoint_failures: IntCounter,
}

impl LiveMetrics {
    pub fn register(shared: &crate::metrics::Metrics) -> prometheus::Result<Self> {
        let registry = &shared.registry;
        let metrics = LiveMetrics {
            events: shared.clone(),
            consumer_lag: IntGaugeVec::new(
                Opts::new("vbp_consumer_lag_messages", "Messages between the pipeline's position and the end of the partition"),
                &["topic", "partition"],
            )?,
            broker_errors: IntCounter::new("vbp_broker_errors_total", "Errors reported by the Kafka client")?,
            checkpoint_seconds: Histogram::with_opts(
                HistogramOpts::new("vbp_checkpoint_duration_seconds", "Time to write one checkpoint durably")
                    .buckets(vec![0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            )?,
            checkpoint_bytes: IntGauge::new("vbp_checkpoint_bytes", "Size of the last checkpoint")?,
            checkpoints: IntCounter::new("vbp_checkpoints_total", "Checkpoints written")?,
            checkpoint_failures: IntCounter::new(
                "vbp_checkpoint_failures_total",
                "Checkpoints that could not be written (a full disk): the last good one is kept",
            )?,
        };
        registry.register(Box::new(metrics.consumer_lag.clone()))?;
        registry.register(Box::new(metrics.broker_errors.clone()))?;
        registry.register(Box::new(metrics.checkpoint_seconds.clone()))?;
        registry.register(Box::new(metrics.checkpoint_bytes.clone()))?;
        registry.register(Box::new(metrics.checkpoints.clone()))?;
        registry.register(Box::new(metrics.checkpoint_failures.clone()))?;
        Ok(metrics)
    }

    /// A message was taken, with its fate.
    pub fn taken(&self, topic: &str, fate: Fate) {
        self.events.taken(topic, fate.as_str(), 1);
    }

    /// A message before this instance's position was skipped (read again
    /// after a seek or a rebalance).
    pub fn skipped(&self, topic: &str) {
        self.events.taken(topic, "skipped", 1);
    }

    /// A partition's lag; `None` when the broker did not say (shown as −1).
    pub fn lag(&self, topic: &str, partition: i32, lag: Option<i64>) {
        self.consumer_lag.with_label_values(&[topic, &partition.to_string()]).set(lag.unwrap_or(-1));
    }

    pub fn broker_error(&self) {
        self.broker_errors.inc();
    }

    /// A checkpoint was restored on start.
    pub fn restored(&self, bytes: usize) {
        self.checkpoint_bytes.set(bytes as i64);
    }

    /// A checkpoint could not be written.
    pub fn checkpoint_failed(&self) {
        self.checkpoint_failures.inc();
    }

    /// A checkpoint was written durably.
    pub fn checkpointed(&self, bytes: usize, seconds: f64) {
        self.checkpoint_seconds.observe(seconds);
        self.checkpoint_bytes.set(bytes as i64);
        self.checkpoints.inc();
    }
}
