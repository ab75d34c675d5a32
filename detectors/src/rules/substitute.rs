//! SPEC 6.6 — `SubstituteSurge` (可替代产品采购量异常增长, seeds 002 二(九),
//! 003 三(五)).
//!
//! An institution that must buy a group's selected products can dodge its
//! agreement by buying another generic name for the same use. For every
//! institution and group with substitutes under an agreement active on
//! date(T): recent = yuan of its non-special orders for the group's
//! substitutes in the 30 days date(T) − 29 … date(T); baseline = yuan in the
//! 90 days before those, divided by 3. From 5,000 yuan recent: critical at
//! ≥ 4 × baseline, warning at ≥ 2 × baseline or when the baseline is 0.
//! Compared as 3 × recent against r × the 90 days' yuan, so no division
//! can move a value across a threshold.

use datafusion::error::DataFusionError;
use rust_decimal::Decimal;

use super::{institution_words, alert, decimal_literal, labels, Evaluation, Row};
use crate::alert::{Alert, AlertName, Severity};

fn sql(eval: &Evaluation) -> String {
    let c = &eval.config.substitute;
    format!(
        "WITH active AS (
            SELECT DISTINCT institution_code, group_id, division_code, city_code, province_code
            FROM agreement_progress
            WHERE CAST(period_start AS INT) <= {today} AND {today} <= CAST(period_end AS INT)
        ),
        bought AS (
            SELECT r.institution_code, s.group_id,
                   SUM(CASE WHEN CAST(r.order_date AS INT) >= {today} - 29 THEN r.substitute_amount ELSE 0 END) AS recent,
                   SUM(CASE WHEN CAST(r.order_date AS INT) < {today} - 29 THEN r.substitute_amount ELSE 0 END) AS earlier,
                   COUNT(DISTINCT CASE WHEN CAST(r.order_date AS INT) >= {today} - 29 AND r.substitute_amount > 0
                                       THEN r.product_code END) AS products_bought
            FROM recent_purchases r JOIN substitutes s ON s.product_code = r.product_code
            WHERE CAST(r.order_date AS INT) BETWEEN {today} - 119 AND {today}
            GROUP BY r.institution_code, s.group_id
        ),
        judged AS (
            SELECT a.*, b.recent, b.earlier, b.products_bought, CASE
                WHEN b.earlier > 0 AND 3 * b.recent >= {critical} * b.earlier THEN 'critical'
                WHEN b.earlier = 0 OR 3 * b.recent >= {warning} * b.earlier THEN 'warning'
            END AS verdict
            FROM active a JOIN bought b ON b.institution_code = a.institution_code AND b.group_id = a.group_id
            WHERE b.recent >= {min_recent}
        ),
        names AS (
            SELECT group_id, MIN(generic_name) AS generic_name FROM products WHERE selected GROUP BY group_id
        )
        SELECT j.*, n.generic_name, i.name AS institution_name
        FROM judged j
        JOIN names n ON n.group_id = j.group_id
        JOIN institutions i ON i.institution_code = j.institution_code
        WHERE j.verdict IS NOT NULL",
        today = eval.today_days(),
        critical = decimal_literal(c.critical_ratio),
        warning = decimal_literal(c.warning_ratio),
        min_recent = decimal_literal(c.min_recent_amount),
    )
}

pub async fn evaluate(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    let rows = eval.query(&sql(eval)).await?;
    rows.iter().map(|row| to_alert(eval, &row)).collect()
}

fn to_alert(eval: &Evaluation, row: &Row) -> Result<Alert, DataFusionError> {
    let c = &eval.config.substitute;
    let critical = row.text("verdict")? == "critical";
    let recent = row.decimal("recent")?.round_dp(2);
    let earlier = row.decimal("earlier")?;
    let baseline = (earlier / Decimal::from(3)).round_dp(2);
    let labels = labels([
        ("institution_code", row.text("institution_code")?),
        ("group_id", row.text("group_id")?),
        ("division_code", row.text("division_code")?),
        ("city_code", row.text("city_code")?),
        ("province_code", row.text("province_code")?),
    ]);
    let who = institution_words(row)?;
    let group = row.text("generic_name")?;
    let (severity, factor) = if critical { (Severity::Critical, c.critical_ratio) } else { (Severity::Warning, c.warning_ratio) };
    let against = if earlier.is_zero() {
        "此前 90 天未采购可替代产品".to_string()
    } else {
        format!("为基线的 {} 倍（{factor} 倍起为{}）", (recent / baseline.max(Decimal::new(1, 2))).round_dp(2), if critical { "严重" } else { "预警" })
    };
    let mut notes = std::collections::BTreeMap::new();
    notes.insert("institution_name".into(), row.text("institution_name")?);
    notes.insert("summary".into(), format!("{who}{group}可替代产品采购金额异常增长至 {recent:.2} 元"));
    notes.insert(
        "description".into(),
        format!(
            "近 30 天（{} 至 {}）采购 {group}（组 {}）的可替代产品 {} 种，合计 {recent:.2} 元；前 90 天月均基线 {baseline:.2} 元，{against}。请核查是否以可替代产品规避中选产品约定采购量。",
            eval.today - chrono::Duration::days(29),
            eval.today,
            row.text("group_id")?,
            row.int("products_bought")?,
        ),
    );
    notes.insert("recent_amount".into(), format!("{recent:.2}"));
    notes.insert("baseline_amount".into(), format!("{baseline:.2}"));
    let threshold = format!("近 30 天 ≥ {} 元且 ≥ {factor} × 基线（或基线为 0）", c.min_recent_amount);
    Ok(alert(AlertName::SubstituteSurge, severity, labels, notes, recent, threshold))
}
