//! The supply-break stage: the one rule that no single institution's state
//! can answer (SPEC §6.3 `SupplyBreak`: 3 or more institutions of a city
//! overdue on one product), keyed by (city, product) instead of by
//! institution (ARCHITECTURE, "Keyed parallelism").
//!
//! ```text
//! shard (institutions it answers for) ── OverdueFacts ──► stage (city, product) ── SupplyBreak
//!   one process: the facts are handed over in memory
//!   N instances: each publishes its facts on `vbp.facts` (compacted, key
//!   city|product|institution) and reads everyone's back ([`topic`])
//! ```
//!
//! Each instance answers for the (city, product) keys that Kafka's
//! partitioner puts on the input partitions it owns, so every supply break
//! is raised by exactly one instance, whichever instances hold the
//! hospitals. The stage keeps no state of its own besides what it heard:
//! what an instance publishes is the difference between its own facts and
//! what the topic already says of its institutions, so a restart, a crash
//! between two publications or a partition moving to another instance
//! leaves the topic right after the next evaluation.

pub mod topic;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use vbp_detectors::alert::Alert;
use vbp_detectors::config::DetectorConfig;
use vbp_detectors::reference::ReferenceData;
use vbp_detectors::rules::supply_break::{self, OverdueFact};

use crate::sources::kafka::partition_of;

/// (city, product, institution): one fact's identity, and its key on the topic.
pub type FactKey = (String, String, String);

fn key_of(f: &OverdueFact) -> FactKey {
    (f.city_code.clone(), f.product_code.clone(), f.institution_code.clone())
}

/// One change of the facts: what `vbp.facts` carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FactChange {
    /// The institution is overdue on the product, as this fact says.
    Upsert(OverdueFact),
    /// It is no longer (a tombstone on the topic).
    Remove(FactKey),
}

impl FactChange {
    pub fn key(&self) -> FactKey {
        match self {
            FactChange::Upsert(f) => key_of(f),
            FactChange::Remove(k) => k.clone(),
        }
    }
}

/// Which (city, product) keys an instance answers for: those Kafka's
/// partitioner puts on the input partitions it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwnership {
    pub partitions: BTreeSet<i32>,
    pub count: usize,
}

impl KeyOwnership {
    pub fn owns(&self, city: &str, product: &str) -> bool {
        let key = format!("{city}|{product}");
        self.partitions.contains(&(partition_of(key.as_bytes(), self.count) as i32))
    }
}

/// The facts heard from every instance, and the keys this one answers for.
#[derive(Debug, Clone, Default)]
pub struct SupplyStage {
    heard: BTreeMap<FactKey, OverdueFact>,
    /// `None`: every key (one process, or an instance owning every partition).
    ownership: Option<KeyOwnership>,
}

impl SupplyStage {
    pub fn set_ownership(&mut self, ownership: Option<KeyOwnership>) {
        self.ownership = ownership;
    }

    /// Whether this instance raises the supply break of (city, product).
    pub fn owns(&self, city: &str, product: &str) -> bool {
        self.ownership.as_ref().is_none_or(|o| o.owns(city, product))
    }

    /// Takes one change read back from the topic (anyone's, our own included).
    pub fn hear(&mut self, change: FactChange) {
        match change {
            FactChange::Upsert(f) => {
                self.heard.insert(key_of(&f), f);
            }
            FactChange::Remove(key) => {
                self.heard.remove(&key);
            }
        }
    }

    /// Facts heard, for the pages and tests.
    pub fn heard(&self) -> impl Iterator<Item = &OverdueFact> {
        self.heard.values()
    }

    /// The supply breaks this instance raises at T: over its own facts
    /// (`local`, every institution it answers for) and the facts heard of
    /// the institutions it does not answer for, on the keys it owns.
    pub fn alerts(
        &self,
        local: &[OverdueFact],
        answers_for: impl Fn(&str) -> bool,
        reference: &ReferenceData,
        config: &DetectorConfig,
    ) -> Vec<Alert> {
        let heard = self.heard.values().filter(|f| !answers_for(&f.institution_code));
        let facts = local.iter().chain(heard).filter(|f| self.owns(&f.city_code, &f.product_code));
        supply_break::from_facts(facts, reference, config)
    }

    /// What to publish so that the topic says of the institutions this
    /// instance answers for exactly `local`: upserts of the new and changed
    /// facts (of every fact when `all`, a periodic refresh in case the
    /// topic's retention removed some), removals of those that no longer
    /// hold. Sorted by key.
    pub fn to_publish(&self, local: &[OverdueFact], answers_for: impl Fn(&str) -> bool, all: bool) -> Vec<FactChange> {
        let mut changes = Vec::new();
        let wanted: BTreeMap<FactKey, &OverdueFact> = local.iter().map(|f| (key_of(f), f)).collect();
        for (key, fact) in &wanted {
            if all || self.heard.get(key) != Some(*fact) {
                changes.push(FactChange::Upsert((*fact).clone()));
            }
        }
        for (key, fact) in &self.heard {
            if answers_for(&fact.institution_code) && !wanted.contains_key(key) {
                changes.push(FactChange::Remove(key.clone()));
            }
        }
        changes.sort_by_key(FactChange::key);
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn fact(city: &str, product: &str, institution: &str, packs: i64) -> OverdueFact {
        OverdueFact {
            city_code: city.into(),
            product_code: product.into(),
            institution_code: institution.into(),
            province_code: "610000".into(),
            enterprise: "E".into(),
            outstanding_packs: Decimal::from(packs),
            oldest_deadline: 0,
            open_complaints: 0,
            bought_agreed: false,
        }
    }

    #[test]
    fn publishing_sends_only_what_the_topic_does_not_say_yet() {
        let mut stage = SupplyStage::default();
        let mine = |i: &str| i.starts_with('A');
        let local = vec![fact("6101", "P", "A1", 5), fact("6101", "P", "A2", 3)];
        let first = stage.to_publish(&local, mine, false);
        assert_eq!(first.len(), 2);
        for c in first {
            stage.hear(c);
        }
        assert!(stage.to_publish(&local, mine, false).is_empty(), "nothing changed");
        assert_eq!(stage.to_publish(&local, mine, true).len(), 2, "a refresh sends every fact again");
        // Another instance's fact is never removed by this one.
        stage.hear(FactChange::Upsert(fact("6101", "P", "B1", 1)));
        let later = vec![fact("6101", "P", "A1", 6)];
        assert_eq!(
            stage.to_publish(&later, mine, false),
            vec![FactChange::Upsert(fact("6101", "P", "A1", 6)), FactChange::Remove(("6101".into(), "P".into(), "A2".into()))]
        );
    }

    #[test]
    fn ownership_of_a_key_follows_the_partition_of_city_and_product() {
        let all: BTreeSet<i32> = (0..4).collect();
        let mut owners = 0;
        for p in 0..4 {
            let one = KeyOwnership { partitions: [p].into(), count: 4 };
            owners += usize::from(one.owns("6101", "XP1"));
        }
        assert_eq!(owners, 1, "exactly one partition's owner raises a key");
        assert!(KeyOwnership { partitions: all, count: 4 }.owns("6101", "XP1"));
    }
}
