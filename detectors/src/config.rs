//! Detector thresholds (SPEC §6). Every default is SPEC's; a TOML table
//! `[detectors]` in the pipeline config overrides any of them.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// All thresholds of the ten rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    pub schedule: ScheduleConfig,
    pub non_selected: NonSelectedConfig,
    pub delivery: DeliveryConfig,
    pub payment: PaymentConfig,
    pub complaint: ComplaintConfig,
    pub substitute: SubstituteConfig,
    pub stockpiling: StockpilingConfig,
    pub price: PriceConfig,
    pub alerts: AlertsConfig,
}

/// How many alerts of one rule in one division keep their full words
/// ([`crate::abridge`]); the rest fire abridged under one summary alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    pub worded_per_division: usize,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig { worded_per_division: 500 }
    }
}

/// 6.5 the complaint clock (seed 002 二(八)), in working days W_n.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplaintConfig {
    /// `warning` when not replied by the end of W_n(date filed).
    pub reply_working_days: u32,
    /// A reply's own fix limit: W_n(date replied), or the promised date if sooner.
    pub fix_working_days: u32,
    /// The fix limit of a complaint never replied to: W_n(date filed).
    pub unreplied_fix_working_days: u32,
}

/// 6.6 substitute purchases against their baseline (30 days against the
/// 90 before, divided by 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubstituteConfig {
    /// No alert below this many yuan in the 30 recent days.
    pub min_recent_amount: Decimal,
    /// `warning` when recent ≥ this × baseline (or the baseline is 0).
    pub warning_ratio: Decimal,
    /// `critical` when recent ≥ this × baseline.
    pub critical_ratio: Decimal,
}

/// 6.7 purchases in a period's last 30 days against the agreed pace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StockpilingConfig {
    /// Fires when the last 30 days' units > this × the 30-day pace.
    pub pace_ratio: Decimal,
    /// `critical` when the whole period's units > this × the agreed units.
    pub critical_purchased_ratio: Decimal,
}

/// 6.8 orders above the selected price in the last 30 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PriceConfig {
    /// `critical` when the overcharge is at least this many yuan.
    pub critical_overcharge: Decimal,
}

impl Default for ComplaintConfig {
    fn default() -> Self {
        ComplaintConfig { reply_working_days: 2, fix_working_days: 5, unreplied_fix_working_days: 7 }
    }
}

impl Default for SubstituteConfig {
    fn default() -> Self {
        SubstituteConfig {
            min_recent_amount: Decimal::new(5_000, 0),
            warning_ratio: Decimal::new(2, 0),
            critical_ratio: Decimal::new(4, 0),
        }
    }
}

impl Default for StockpilingConfig {
    fn default() -> Self {
        StockpilingConfig { pace_ratio: Decimal::new(3, 0), critical_purchased_ratio: Decimal::new(12, 1) }
    }
}

impl Default for PriceConfig {
    fn default() -> Self {
        PriceConfig { critical_overcharge: Decimal::new(1_000, 0) }
    }
}

/// 6.1 purchase progress against the time-proportional schedule (序时进度).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// No schedule alert before this many elapsed days of the period.
    pub min_elapsed_days: i64,
    /// `critical` when progress < this × schedule.
    pub critical_ratio: Decimal,
    /// `warning` when progress < this × schedule.
    pub warning_ratio: Decimal,
    /// `SelectedProductNotEntered` from period_start + this many calendar
    /// months ("执行第3个月起").
    pub not_entered_after_months: u32,
}

/// 6.2 share of non-selected products within a generic group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NonSelectedConfig {
    /// `critical` when share > this.
    pub critical_share: Decimal,
    /// `warning` when share > this.
    pub warning_share: Decimal,
    /// No share alert below this many base units in the window.
    pub min_total_units: Decimal,
}

/// 6.3 delivery deadlines and supply breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Hours from order to delivery deadline for drugs.
    pub drug_deadline_hours: i64,
    /// Hours from order to delivery deadline for consumables.
    pub consumable_deadline_hours: i64,
    /// `critical` when the oldest overdue deadline is this many working days
    /// before date(T) (seed 002 二(八): fixed within 5 working days).
    pub critical_working_days: u32,
    /// `SupplyBreak` when at least this many institutions of a city wait.
    pub supply_break_institutions: u32,
}

/// 6.4 payment deadlines (次月底).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentConfig {
    /// `critical` when the oldest overdue delivery is this many days overdue.
    pub critical_days_overdue: i64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            min_elapsed_days: 30,
            critical_ratio: Decimal::new(5, 1),
            warning_ratio: Decimal::new(8, 1),
            not_entered_after_months: 2,
        }
    }
}

impl Default for NonSelectedConfig {
    fn default() -> Self {
        NonSelectedConfig {
            critical_share: Decimal::new(5, 1),
            warning_share: Decimal::new(3, 1),
            min_total_units: Decimal::new(100, 0),
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            drug_deadline_hours: 48,
            consumable_deadline_hours: 48,
            critical_working_days: 5,
            supply_break_institutions: 3,
        }
    }
}

impl Default for PaymentConfig {
    fn default() -> Self {
        PaymentConfig { critical_days_overdue: 30 }
    }
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            schedule: ScheduleConfig::default(),
            non_selected: NonSelectedConfig::default(),
            delivery: DeliveryConfig::default(),
            payment: PaymentConfig::default(),
            complaint: ComplaintConfig::default(),
            substitute: SubstituteConfig::default(),
            stockpiling: StockpilingConfig::default(),
            price: PriceConfig::default(),
            alerts: AlertsConfig::default(),
        }
    }
}

impl DetectorConfig {
    /// Parses a TOML document holding these fields at its top level.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_specs() {
        let c = DetectorConfig::default();
        assert_eq!(c.schedule.min_elapsed_days, 30);
        assert_eq!(c.schedule.critical_ratio.to_string(), "0.5");
        assert_eq!(c.non_selected.warning_share.to_string(), "0.3");
        assert_eq!(c.delivery.drug_deadline_hours, 48);
        assert_eq!(c.payment.critical_days_overdue, 30);
        assert_eq!((c.complaint.reply_working_days, c.complaint.fix_working_days, c.complaint.unreplied_fix_working_days), (2, 5, 7));
        assert_eq!(c.substitute.min_recent_amount.to_string(), "5000");
        assert_eq!(c.stockpiling.critical_purchased_ratio.to_string(), "1.2");
        assert_eq!(c.price.critical_overcharge.to_string(), "1000");
    }

    #[test]
    fn toml_overrides_only_what_it_names() {
        let c = DetectorConfig::from_toml("[non_selected]\nwarning_share = \"0.25\"\n").unwrap();
        assert_eq!(c.non_selected.warning_share, Decimal::new(25, 2));
        assert_eq!(c.non_selected.critical_share, Decimal::new(5, 1));
        assert!(DetectorConfig::from_toml("[schedule]\nbogus = 1\n").is_err());
    }
}
