//! SPEC 6.3 — `SupplyBreak` (疑似断供).
//!
//! When 3 or more distinct institutions of one city have an overdue line
//! for the same product, the problem is the supply, not one hospital: one
//! incident per product and city for on-call staff, naming the enterprise,
//! the institutions waiting, the packs outstanding and the oldest deadline.

use datafusion::error::DataFusionError;
use rust_decimal::Decimal;

use super::undelivered::overdue_lines_sql;
use super::{alert, labels, Evaluation, Row};
use crate::alert::{Alert, AlertName, Severity};

fn sql(eval: &Evaluation) -> String {
    format!(
        "WITH overdue AS ({overdue}),
        per_institution AS (
            SELECT city_code, province_code, product_code, institution_code,
                   MIN(enterprise) AS enterprise, SUM(outstanding_packs) AS outstanding_packs,
                   MIN(deadline) AS oldest_deadline
            FROM overdue
            GROUP BY city_code, province_code, product_code, institution_code
        ),
        per_city AS (
            SELECT city_code, province_code, product_code, MIN(enterprise) AS enterprise,
                   COUNT(*) AS institutions, SUM(outstanding_packs) AS outstanding_packs,
                   MIN(oldest_deadline) AS oldest_deadline,
                   string_agg(institution_code, ',' ORDER BY institution_code) AS institution_codes
            FROM per_institution
            GROUP BY city_code, province_code, product_code
            HAVING COUNT(*) >= {min_institutions}
        )
        SELECT c.*, d.name AS city_name, pr.generic_name, pr.spec
        FROM per_city c
        JOIN products pr ON pr.product_code = c.product_code
        LEFT JOIN divisions d ON d.division_code = c.city_code",
        overdue = overdue_lines_sql(eval),
        min_institutions = eval.config.delivery.supply_break_institutions,
    )
}

pub async fn evaluate(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    let rows = eval.query(&sql(eval)).await?;
    rows.iter().map(|row| to_alert(eval, &row)).collect()
}

fn to_alert(eval: &Evaluation, row: &Row) -> Result<Alert, DataFusionError> {
    let count = row.int("institutions")?;
    let outstanding = row.decimal("outstanding_packs")?;
    let oldest = row.instant("oldest_deadline")?.to_rfc3339();
    let institutions = row.text("institution_codes")?;
    let city = row.text("city_code")?;
    let labels = labels([
        ("city_code", city.clone()),
        ("product_code", row.text("product_code")?),
        ("enterprise", row.text("enterprise")?),
        // A supply break is a city incident: it routes to the city bureau
        // and to provincial on-call, never to a single district.
        ("division_code", city),
        ("province_code", row.text("province_code")?),
    ]);
    let what = format!("{} {}（{}）", row.text("generic_name")?, row.text("spec")?, row.text("enterprise")?);
    let mut notes = std::collections::BTreeMap::new();
    notes.insert("summary".into(), format!("{}疑似断供：{what}，{count} 家医疗机构超时未到货", row.text("city_name")?));
    notes.insert(
        "description".into(),
        format!(
            "{} 的 {count} 家医疗机构（{institutions}）均有超过配送时限未送达的订单，合计未送达 {outstanding} 包装，最早配送时限 {oldest}。请联系中选企业 {} 核实供应情况，必要时启动备供机制。",
            row.text("city_name")?,
            row.text("enterprise")?,
        ),
    );
    notes.insert("institutions".into(), institutions);
    notes.insert("outstanding_packs".into(), outstanding.to_string());
    notes.insert("oldest_deadline".into(), oldest);
    let min = eval.config.delivery.supply_break_institutions;
    Ok(alert(AlertName::SupplyBreak, Severity::Critical, labels, notes, Decimal::from(count), format!("≥ {min} 家医疗机构")))
}
