//! SPEC 6.8 — `PriceAboveSelected` (严格执行中选价格，不得再次议价, seed 003
//! 三(二)).
//!
//! The selected price per pack is the selected price per base unit × base
//! units per pack, rounded half-up to the fen
//! ([`Product::selected_price_per_pack`](crate::reference::Product)). For
//! every institution and selected product with non-special orders in the 30
//! days date(T) − 29 … date(T) above that price and not cancelled in full:
//! overcharge = Σ (unit_price − selected price per pack) × (packs −
//! cancelled). Critical from 1,000 yuan, else a warning. The sums are kept
//! per order date as orders and cancellations apply (`recent_purchases`).

use datafusion::error::DataFusionError;

use super::{institution_words, product_words, alert, decimal_literal, labels, Evaluation, Row};
use crate::alert::{Alert, AlertName, Severity};

fn sql(eval: &Evaluation) -> String {
    format!(
        "WITH over AS (
            SELECT institution_code, product_code, division_code, city_code, province_code,
                   SUM(overcharge) AS overcharge, SUM(overpriced_packs) AS packs,
                   SUM(overpriced_orders) AS orders, MAX(highest_price) AS highest_price,
                   MIN(order_date) AS first_date, MAX(order_date) AS last_date
            FROM recent_purchases
            WHERE CAST(order_date AS INT) BETWEEN {today} - 29 AND {today} AND overpriced_orders > 0
            GROUP BY institution_code, product_code, division_code, city_code, province_code
        )
        SELECT o.*, o.overcharge >= {critical} AS critical, p.generic_name, p.spec, p.enterprise, p.group_id,
               i.name AS institution_name
        FROM over o
        JOIN products p ON p.product_code = o.product_code
        JOIN institutions i ON i.institution_code = o.institution_code
        WHERE o.overcharge > 0",
        today = eval.today_days(),
        critical = decimal_literal(eval.config.price.critical_overcharge),
    )
}

pub async fn evaluate(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    let rows = eval.query(&sql(eval)).await?;
    rows.iter().map(|row| to_alert(eval, &row)).collect()
}

fn to_alert(eval: &Evaluation, row: &Row) -> Result<Alert, DataFusionError> {
    let critical_from = eval.config.price.critical_overcharge;
    let severity = if row.bool("critical")? { Severity::Critical } else { Severity::Warning };
    let overcharge = row.decimal("overcharge")?.round_dp(2);
    let code = row.text("product_code")?;
    let selected = eval
        .reference
        .product(&code)
        .and_then(|id| eval.reference.products[id.index()].selected_price_per_pack())
        .unwrap_or_default();
    let labels = labels([
        ("institution_code", row.text("institution_code")?),
        ("product_code", code),
        ("group_id", row.text("group_id")?),
        ("enterprise", row.text("enterprise")?),
        ("division_code", row.text("division_code")?),
        ("city_code", row.text("city_code")?),
        ("province_code", row.text("province_code")?),
    ]);
    let who = institution_words(row)?;
    let what = product_words(row)?;
    let orders = row.int("orders")?;
    let packs = row.decimal("packs")?;
    let mut notes = std::collections::BTreeMap::new();
    notes.insert("institution_name".into(), row.text("institution_name")?);
    notes.insert("summary".into(), format!("{who}高于中选价格采购{what}，多付 {overcharge:.2} 元"));
    notes.insert(
        "description".into(),
        format!(
            "近 30 天（{} 至 {}）有 {orders} 笔订单（下单于 {} 至 {}）以高于中选价格（每包装 {selected:.2} 元）的价格采购，共 {packs} 包装，最高单价 {:.2} 元，合计多付 {overcharge:.2} 元（{critical_from} 元起为严重）。中选价格不得再次议价，请核查。",
            eval.today - chrono::Duration::days(29),
            eval.today,
            row.date("first_date")?,
            row.date("last_date")?,
            row.decimal("highest_price")?,
        ),
    );
    notes.insert("overcharge".into(), format!("{overcharge:.2}"));
    notes.insert("selected_price_per_pack".into(), format!("{selected:.2}"));
    notes.insert("overpriced_orders".into(), orders.to_string());
    notes.insert("overpriced_packs".into(), packs.to_string());
    let threshold = format!("高于中选价格 {selected:.2} 元/包装；多付 {critical_from} 元起为严重");
    Ok(alert(AlertName::PriceAboveSelected, severity, labels, notes, overcharge, threshold))
}
