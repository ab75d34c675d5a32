//! SPEC 6.3 — `SupplyBreak` (疑似断供).
//!
//! When 3 or more distinct institutions of one city have an overdue line
//! for the same product, the problem is the supply, not one hospital: one
//! incident per product and city for on-call staff, naming the enterprise,
//! the institutions waiting, the packs outstanding and the oldest deadline.

//!
//! The rule runs in two stages so that it holds however the institutions
//! are spread over threads or instances (ARCHITECTURE, "Keyed parallelism"):
//! whoever holds an institution's state computes its [`OverdueFact`]s, one
//! per product with an overdue line ([`facts`]); whoever answers for a
//! (city, product) gathers the facts of every institution of the city and
//! counts them ([`from_facts`]).

use std::collections::BTreeMap;

use datafusion::error::DataFusionError;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::undelivered::{evidence_ctes, evidence_joins, overdue_lines_sql, Evidence};
use super::{alert, labels, Evaluation};
use crate::alert::{Alert, AlertName, Severity};
use crate::config::DetectorConfig;
use crate::reference::ReferenceData;
use crate::state::Micros;

/// One institution's overdue lines of one product at T: what the
/// supply-break stage needs of the institution's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueFact {
    pub city_code: String,
    pub product_code: String,
    pub institution_code: String,
    pub province_code: String,
    pub enterprise: String,
    /// Packs outstanding over the institution's overdue lines of the product.
    pub outstanding_packs: Decimal,
    /// The oldest overdue line's delivery deadline, epoch microseconds.
    pub oldest_deadline: Micros,
    /// The institution's complaints about the product still open at T.
    #[serde(default)]
    pub open_complaints: i64,
    /// Whether the institution already bought the agreed volume of the
    /// product's family (约定采购量完成后不配送).
    #[serde(default)]
    pub bought_agreed: bool,
}

impl OverdueFact {
    /// The supply-break key this fact counts towards.
    pub fn stage_key(&self) -> (&str, &str) {
        (&self.city_code, &self.product_code)
    }
}

fn facts_sql(eval: &Evaluation) -> String {
    format!(
        "WITH overdue AS ({overdue}),
        per AS (
            SELECT city_code, province_code, product_code, institution_code,
                   MIN(enterprise) AS enterprise, SUM(outstanding_packs) AS outstanding_packs,
                   MIN(deadline) AS oldest_deadline
            FROM overdue
            GROUP BY city_code, province_code, product_code, institution_code
        ),
        {evidence}
        SELECT per.*, COALESCE(oc.open_complaints, 0) AS open_complaints,
               COALESCE(ad.bought_agreed, false) AS bought_agreed
        FROM per {joins}
        ORDER BY city_code, product_code, institution_code",
        overdue = overdue_lines_sql(eval),
        evidence = evidence_ctes(eval),
        joins = evidence_joins("per"),
    )
}

/// The overdue facts of the institutions this state answers for, sorted
/// by (city, product, institution).
pub async fn facts(eval: &Evaluation<'_>) -> Result<Vec<OverdueFact>, DataFusionError> {
    let rows = eval.query(&facts_sql(eval)).await?;
    rows.iter()
        .map(|row| {
            Ok(OverdueFact {
                city_code: row.text("city_code")?,
                product_code: row.text("product_code")?,
                institution_code: row.text("institution_code")?,
                province_code: row.text("province_code")?,
                enterprise: row.text("enterprise")?,
                outstanding_packs: row.decimal("outstanding_packs")?,
                oldest_deadline: row.instant("oldest_deadline")?.timestamp_micros(),
                open_complaints: row.int("open_complaints")?,
                bought_agreed: row.bool("bought_agreed")?,
            })
        })
        .collect()
}

/// Every (city, product) where at least `supply_break_institutions`
/// distinct institutions have an overdue fact. Each institution's facts
/// come once (a map keyed by institution, or one state's sorted output).
pub fn from_facts<'f>(
    facts: impl IntoIterator<Item = &'f OverdueFact>,
    reference: &ReferenceData,
    config: &DetectorConfig,
) -> Vec<Alert> {
    let mut by_key: BTreeMap<(&str, &str), Vec<&OverdueFact>> = BTreeMap::new();
    for f in facts {
        by_key.entry(f.stage_key()).or_default().push(f);
    }
    let min = config.delivery.supply_break_institutions;
    by_key
        .into_values()
        .filter(|group| group.len() >= min as usize)
        .map(|mut group| {
            group.sort_by(|a, b| a.institution_code.cmp(&b.institution_code));
            to_alert(&group, reference, min)
        })
        .collect()
}

/// The alert of one (city, product) from its institutions' facts, sorted
/// by institution code.
fn to_alert(group: &[&OverdueFact], reference: &ReferenceData, min: u32) -> Alert {
    let first = group[0];
    let count = group.len();
    let outstanding = group.iter().map(|f| f.outstanding_packs).sum::<Decimal>().normalize();
    let oldest = group.iter().map(|f| f.oldest_deadline).min().unwrap_or(first.oldest_deadline);
    let oldest = chrono::DateTime::from_timestamp_micros(oldest).unwrap_or_default().with_timezone(&crate::time::CST).to_rfc3339();
    let enterprise = group.iter().map(|f| f.enterprise.as_str()).min().unwrap_or_default().to_string();
    let institutions = group.iter().map(|f| f.institution_code.as_str()).collect::<Vec<_>>().join(",");
    let city = first.city_code.clone();
    let city_name = reference.divisions.name(&city).unwrap_or_default().to_string();
    let (generic_name, spec) = reference
        .product(&first.product_code)
        .map(|id| &reference.products[id.index()])
        .map(|p| (p.generic_name.clone(), p.spec.clone()))
        .unwrap_or_default();
    let labels = labels([
        ("city_code", city.clone()),
        ("product_code", first.product_code.clone()),
        ("enterprise", enterprise.clone()),
        // A supply break is a city incident: it routes to the city bureau
        // and to provincial on-call, never to a single district.
        ("division_code", city),
        ("province_code", first.province_code.clone()),
    ]);
    let what = format!("{generic_name} {spec}（{enterprise}）");
    let mut notes = std::collections::BTreeMap::new();
    notes.insert("summary".into(), format!("{city_name}疑似断供：{what}，{count} 家医疗机构超时未到货"));
    notes.insert(
        "description".into(),
        format!(
            "{city_name} 的 {count} 家医疗机构（{institutions}）均有超过配送时限未送达的订单，合计未送达 {outstanding} 包装，最早配送时限 {oldest}。请联系中选企业 {enterprise} 核实供应情况，必要时启动备供机制。",
        ),
    );
    let bought: Vec<&str> = group.iter().filter(|f| f.bought_agreed).map(|f| f.institution_code.as_str()).collect();
    let evidence = Evidence {
        contact: reference.enterprise(&enterprise).map(|e| format!("{} {}", e.contact, e.phone)),
        open_complaints: group.iter().map(|f| f.open_complaints).sum(),
        bought_agreed: false,
    };
    if let Some(description) = notes.get_mut("description") {
        description.push_str(&evidence.words());
        if !bought.is_empty() {
            description.push_str(&format!("其中 {} 家（{}）已完成约定采购量，须核查是否存在约定采购量完成后不配送。", bought.len(), bought.join(",")));
        }
    }
    evidence.annotate(&mut notes);
    notes.remove("bought_agreed");
    notes.insert("bought_agreed_institutions".into(), bought.join(","));
    notes.insert("institutions".into(), institutions);
    notes.insert("outstanding_packs".into(), outstanding.to_string());
    notes.insert("oldest_deadline".into(), oldest);
    alert(AlertName::SupplyBreak, Severity::Critical, labels, notes, Decimal::from(count), format!("≥ {min} 家医疗机构"))
}

/// Both stages in one: the supply breaks among the institutions this
/// state answers for (one process that answers for all of them).
pub async fn evaluate(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    Ok(from_facts(&facts(eval).await?, eval.reference, eval.config))
}
