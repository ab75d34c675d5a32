//! SPEC 6.4 — `PaymentOverdue`.
//!
//! "结清时间不得超过交货验收合格后次月底": an accepted delivery owes its
//! amount until the end of the month after the month of acceptance and is
//! overdue from the first instant of the month after that (accepted
//! 2026-01-31 → overdue from 2026-03-01T00:00+08:00). One alert per
//! institution with an overdue delivery still owing money; critical once the
//! oldest has been overdue 30 days or more.

use datafusion::error::DataFusionError;

use super::{institution_words, alert, labels, Evaluation, Row};
use crate::alert::{Alert, AlertName, Severity};

fn sql(eval: &Evaluation) -> String {
    format!(
        "WITH overdue AS (
            SELECT institution_code, division_code, city_code, province_code,
                   COUNT(*) AS overdue_deliveries, SUM(outstanding) AS overdue_amount,
                   MIN(overdue_from) AS first_overdue, MIN(accepted_on) AS oldest_accepted
            FROM unpaid_deliveries
            WHERE CAST(overdue_from AS INT) <= {today}
            GROUP BY institution_code, division_code, city_code, province_code
        )
        SELECT o.*, {today} - CAST(o.first_overdue AS INT) AS days_overdue, i.name AS institution_name
        FROM overdue o JOIN institutions i ON i.institution_code = o.institution_code",
        today = eval.today_days(),
    )
}

pub async fn evaluate(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    let rows = eval.query(&sql(eval)).await?;
    rows.iter().map(|row| to_alert(eval, &row)).collect()
}

fn to_alert(eval: &Evaluation, row: &Row) -> Result<Alert, DataFusionError> {
    let limit = eval.config.payment.critical_days_overdue;
    let days = row.int("days_overdue")?;
    let severity = if days >= limit { Severity::Critical } else { Severity::Warning };
    let amount = row.decimal("overdue_amount")?.round_dp(2);
    let count = row.int("overdue_deliveries")?;
    let labels = labels([
        ("institution_code", row.text("institution_code")?),
        ("division_code", row.text("division_code")?),
        ("city_code", row.text("city_code")?),
        ("province_code", row.text("province_code")?),
    ]);
    let who = institution_words(row)?;
    let mut notes = std::collections::BTreeMap::new();
    notes.insert("institution_name".into(), row.text("institution_name")?);
    notes.insert("summary".into(), format!("{who}货款逾期未结清 {amount} 元"));
    notes.insert(
        "description".into(),
        format!(
            "{count} 笔已验收配送超过次月底仍未结清，合计 {amount} 元；最早一笔 {} 验收，自 {} 起逾期，已逾期 {days} 天（{limit} 天起为严重）。",
            row.date("oldest_accepted")?,
            row.date("first_overdue")?,
        ),
    );
    notes.insert("overdue_deliveries".into(), count.to_string());
    notes.insert("overdue_amount".into(), format!("{amount:.2}"));
    notes.insert("days_overdue".into(), days.to_string());
    let threshold = format!("次月底未结清；逾期 {limit} 天起为严重");
    Ok(alert(AlertName::PaymentOverdue, severity, labels, notes, amount, threshold))
}
