//! SPEC 6.1 — `SelectedProductNotEntered` and `ProcurementBehindSchedule`.
//!
//! For every agreement active on date(T): schedule (序时进度) = elapsed /
//! total days of the period; progress = base units purchased / agreed.
//! Nothing bought from the third month of execution on (seed 002 二(二))
//! is `SelectedProductNotEntered`; otherwise, from 30 elapsed days, progress
//! below 0.5 × schedule is critical and below 0.8 × schedule a warning.

use datafusion::error::DataFusionError;
use rust_decimal::Decimal;

use super::{institution_words, agreement_labels, alert, decimal_literal, percent, ratio, Evaluation, Row, FAMILIES};
use crate::alert::{Alert, AlertName, Severity};

/// Active agreements with their verdict; `verdict` is NULL when all is well.
fn sql(eval: &Evaluation) -> String {
    let today = eval.today_days();
    let c = &eval.config.schedule;
    format!(
        "WITH active AS (
            SELECT a.*,
                   {today} - CAST(a.period_start AS INT) + 1 AS elapsed_days,
                   CAST(a.period_end AS INT) - CAST(a.period_start AS INT) + 1 AS total_days
            FROM agreement_progress a
            WHERE CAST(a.period_start AS INT) <= {today} AND {today} <= CAST(a.period_end AS INT)
        ),
        judged AS (
            SELECT *, CASE
                WHEN purchased_base_units = 0 AND {today} >= CAST(not_entered_from AS INT) THEN 'not_entered'
                WHEN elapsed_days >= {min_elapsed}
                     AND purchased_base_units * total_days < {critical} * agreed_base_units * elapsed_days THEN 'critical'
                WHEN elapsed_days >= {min_elapsed}
                     AND purchased_base_units * total_days < {warning} * agreed_base_units * elapsed_days THEN 'warning'
            END AS verdict
            FROM active
        ),
        {families}
        SELECT j.*, f.generic_name, f.enterprise, i.name AS institution_name
        FROM judged j
        JOIN families f ON f.family_id = j.family_id
        JOIN institutions i ON i.institution_code = j.institution_code
        WHERE j.verdict IS NOT NULL",
        families = FAMILIES,
        min_elapsed = c.min_elapsed_days,
        critical = decimal_literal(c.critical_ratio),
        warning = decimal_literal(c.warning_ratio),
    )
}

pub async fn evaluate(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    let rows = eval.query(&sql(eval)).await?;
    rows.iter().map(|row| to_alert(eval, &row)).collect()
}

fn to_alert(eval: &Evaluation, row: &Row) -> Result<Alert, DataFusionError> {
    let c = &eval.config.schedule;
    let verdict = row.text("verdict")?;
    let purchased = row.decimal("purchased_base_units")?;
    let agreed = row.decimal("agreed_base_units")?;
    let elapsed = Decimal::from(row.int("elapsed_days")?);
    let total = Decimal::from(row.int("total_days")?);
    let progress = ratio(purchased, agreed);
    let schedule = ratio(elapsed, total);
    let who = institution_words(row)?;
    let what = format!("{}（{}）", row.text("generic_name")?, row.text("enterprise")?);
    let labels = agreement_labels(row)?;
    let period = format!("{} 至 {}", row.date("period_start")?, row.date("period_end")?);
    let mut notes = std::collections::BTreeMap::new();
    notes.insert("institution_name".to_string(), row.text("institution_name")?);
    notes.insert("schedule".to_string(), schedule.to_string());
    notes.insert("purchased_base_units".to_string(), purchased.to_string());
    notes.insert("agreed_base_units".to_string(), agreed.to_string());
    if verdict == "not_entered" {
        notes.insert("summary".into(), format!("{who}中选产品{what}未进院"));
        notes.insert(
            "description".into(),
            format!(
                "协议 {}（执行期 {period}）自 {} 起满 {} 个月仍无采购记录（已采购 0，约定 {agreed} 基本单位）。请督促医疗机构完成中选产品进院采购。",
                row.text("agreement_id")?,
                row.date("period_start")?,
                c.not_entered_after_months,
            ),
        );
        let threshold = format!("执行第{}个月起采购量为 0（自 {} 起）", c.not_entered_after_months + 1, row.date("not_entered_from")?);
        return Ok(alert(AlertName::SelectedProductNotEntered, Severity::Critical, labels, notes, Decimal::ZERO, threshold));
    }
    let (severity, factor) =
        if verdict == "critical" { (Severity::Critical, c.critical_ratio) } else { (Severity::Warning, c.warning_ratio) };
    notes.insert("summary".into(), format!("{who}采购{what}进度 {} 落后序时进度 {}", percent(progress), percent(schedule)));
    notes.insert(
        "description".into(),
        format!(
            "协议 {}（执行期 {period}，第 {elapsed}/{total} 天）：已采购 {purchased} 基本单位，约定 {agreed}，采购进度 {}，序时进度 {}，低于序时进度的 {factor} 倍（{}）。",
            row.text("agreement_id")?,
            percent(progress),
            percent(schedule),
            percent(factor * schedule),
        ),
    );
    let threshold = format!("{factor} × 序时进度 = {}", (factor * schedule).round_dp(4));
    Ok(alert(AlertName::ProcurementBehindSchedule, severity, labels, notes, progress, threshold))
}
