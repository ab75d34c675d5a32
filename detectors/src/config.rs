//! Detector thresholds (SPEC §6). Every default is SPEC's; a TOML table
//! `[detectors]` in the pipeline config overrides any of them.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// All thresholds of the six rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    pub schedule: ScheduleConfig,
    pub non_selected: NonSelectedConfig,
    pub delivery: DeliveryConfig,
    pub payment: PaymentConfig,
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
    }

    #[test]
    fn toml_overrides_only_what_it_names() {
        let c = DetectorConfig::from_toml("[non_selected]\nwarning_share = \"0.25\"\n").unwrap();
        assert_eq!(c.non_selected.warning_share, Decimal::new(25, 2));
        assert_eq!(c.non_selected.critical_share, Decimal::new(5, 1));
        assert!(DetectorConfig::from_toml("[schedule]\nbogus = 1\n").is_err());
    }
}
