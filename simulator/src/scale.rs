//! How big each scale is.
//!
//! Small is sized for the test suite, which replays it: a few hundred
//! institutions, tens of groups, well under 300,000 events. Province is
//! SPEC §8's large province: 20,000 institutions, 600 groups of about 3,000
//! products, about 500,000 agreements and ~50 million order lines a year.

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
    /// ten days, so stock bought ahead never runs far past consumption).
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
    }
}
