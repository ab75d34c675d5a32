//! How big each scale is, and how much of it misbehaves.
//!
//! Small is sized for the test suite, which replays it: a few hundred
//! institutions, tens of groups, well under 300,000 events. Province is
//! SPEC §8's large province: 20,000 institutions, 600 groups of about 3,000
//! products, about 500,000 agreements and ~50 million order lines a year.
//! Both plant a handful of misbehaving institutions in a clean province, so
//! only ~15–20 alerts fire at `as_of`.
//!
//! Region is a tenth of a province over ten months (~2,000 institutions,
//! 60 groups, ~1 million events) where misbehaviour is widespread, as in a
//! real 季度通报: a share of the agreements behind schedule, hundreds of
//! late payers, stuck deliveries ([`Widespread`], planted by
//! `widespread.rs`). Thousands of alerts fire at `as_of`, so it benchmarks
//! evaluation when alerts are the rule rather than the exception.

use super::institutions::Level;

#[derive(Debug, Clone)]
pub struct ScaleConfig {
    pub name: &'static str,
    /// Generic groups in the catalogue (the hand-set ones come first).
    pub groups: usize,
    /// Default number of simulated days from 2026-01-01.
    pub default_days: u32,
    pub levels: [LevelConfig; 5],
    /// Malformed lines per emitted line (~0.1 %).
    pub malformed_rate: f64,
    /// Exact duplicate lines per emitted event.
    pub duplicate_rate: f64,
    /// The longest a background supply goes between orders, in days
    /// (village clinics of the region scale restock every five or six weeks).
    pub longest_supply_interval: i64,
    /// Misbehaviour spread over the population (region scale only).
    pub widespread: Option<Widespread>,
}

/// How much of the population misbehaves, on top of the hand-planted
/// behaviours every scale has. Shares are per mille, drawn with the run's
/// seed; every planted ratio and time stays far from SPEC §6's thresholds.
#[derive(Debug, Clone)]
pub struct Widespread {
    /// Institutions that buy less than their agreements need (laggards).
    pub laggard_pm: u32,
    /// Of a laggard's groups, those whose agreements fall behind schedule.
    pub lagging_group_pm: u32,
    /// Of the laggards, those far behind (critical) rather than somewhat (warning).
    pub far_behind_pm: u32,
    /// Institution × group agreements signed and never bought (中选产品未进院).
    pub never_started_pm: u32,
    /// Institutions paying 40–80 days after the 次月底 deadline.
    pub late_payer_pm: u32,
    /// Institution × group pairs buying a high share of a non-selected product.
    pub non_selected_plants: usize,
    /// Order lines never delivered, each for its own institution × product.
    pub stuck_lines: usize,
    /// Products stuck at three or four institutions of one city (疑似断供).
    pub supply_breaks: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct LevelConfig {
    pub level: Level,
    /// How many institutions of this level in the province. For small scale
    /// the count is per district (or per city for tertiary) instead, see
    /// `institutions::build`.
    pub count: usize,
    /// Order lines per working day. Each group of the basket is bought
    /// every `basket / lines_per_day` days (at least daily, at most every
    /// `longest_supply_interval` days, so stock bought ahead never runs far
    /// past consumption).
    pub lines_per_day: f64,
    /// Groups in an institution's basket (capped by what exists).
    pub basket: usize,
    /// Packs per order line (drugs), inclusive range.
    pub packs: (i64, i64),
}

pub fn small() -> ScaleConfig {
    ScaleConfig {
        name: "small",
        groups: 0,
        default_days: 75,
        levels: [
            LevelConfig { level: Level::Tertiary, count: 20, lines_per_day: 10.0, basket: 100, packs: (20, 200) },
            LevelConfig { level: Level::Secondary, count: 107, lines_per_day: 2.5, basket: 18, packs: (10, 80) },
            LevelConfig { level: Level::Primary, count: 107, lines_per_day: 0.5, basket: 5, packs: (2, 20) },
            LevelConfig { level: Level::Private, count: 15, lines_per_day: 0.8, basket: 8, packs: (5, 40) },
            LevelConfig { level: Level::Pharmacy, count: 35, lines_per_day: 0.5, basket: 5, packs: (3, 20) },
        ],
        malformed_rate: 0.001,
        duplicate_rate: 0.002,
        longest_supply_interval: 10,
        widespread: None,
    }
}

pub fn province() -> ScaleConfig {
    ScaleConfig {
        name: "province",
        groups: 600,
        default_days: 31,
        levels: [
            LevelConfig { level: Level::Tertiary, count: 300, lines_per_day: 150.0, basket: 300, packs: (20, 200) },
            LevelConfig { level: Level::Secondary, count: 1_700, lines_per_day: 36.0, basket: 100, packs: (10, 80) },
            LevelConfig { level: Level::Primary, count: 12_000, lines_per_day: 3.0, basket: 12, packs: (2, 20) },
            LevelConfig { level: Level::Private, count: 2_000, lines_per_day: 3.5, basket: 20, packs: (5, 40) },
            LevelConfig { level: Level::Pharmacy, count: 4_000, lines_per_day: 2.5, basket: 15, packs: (3, 20) },
        ],
        malformed_rate: 0.001,
        duplicate_rate: 0.001,
        longest_supply_interval: 10,
        widespread: None,
    }
}

/// A tenth of a province (the level mix of [`province`] at ~1/10) over ten
/// months, with misbehaviour spread over it; sized for ~1 million events.
pub fn region() -> ScaleConfig {
    ScaleConfig {
        name: "region",
        groups: 60,
        default_days: 300,
        levels: [
            LevelConfig { level: Level::Tertiary, count: 30, lines_per_day: 4.0, basket: 60, packs: (20, 200) },
            LevelConfig { level: Level::Secondary, count: 170, lines_per_day: 1.0, basket: 25, packs: (10, 80) },
            LevelConfig { level: Level::Primary, count: 1_200, lines_per_day: 0.25, basket: 6, packs: (2, 20) },
            LevelConfig { level: Level::Private, count: 200, lines_per_day: 0.5, basket: 10, packs: (5, 40) },
            LevelConfig { level: Level::Pharmacy, count: 400, lines_per_day: 0.25, basket: 5, packs: (3, 20) },
        ],
        malformed_rate: 0.001,
        duplicate_rate: 0.001,
        longest_supply_interval: 40,
        widespread: Some(Widespread {
            laggard_pm: 400,
            lagging_group_pm: 520,
            far_behind_pm: 450,
            never_started_pm: 30,
            late_payer_pm: 250,
            non_selected_plants: 40,
            stuck_lines: 700,
            supply_breaks: 4,
        }),
    }
}
