//! SPEC 6.5 — `ComplaintOverdue`.
//!
//! "企业应在2个工作日内回复，5个工作日内解决" (seed 002 二(八)). W_n(d) is the
//! n-th working day strictly after date d, on the shipped calendar. A
//! complaint filed at t_f and not resolved by T is a warning when nobody
//! replied by T and date(T) > W_2(date(t_f)); it is critical once date(T)
//! is past its fix deadline: min(`promised_by`, W_5(date of the first
//! reply)) when replied, else W_7(date(t_f)) — the bureau must step in.

use datafusion::error::DataFusionError;
use rust_decimal::Decimal;

use super::{institution_words, product_words, alert, labels, Evaluation, Row};
use crate::alert::{Alert, AlertName, Severity};

fn sql(eval: &Evaluation) -> String {
    format!(
        "WITH open AS (
            SELECT c.*, COALESCE(CAST(c.replied_at AS BIGINT) <= {at}, false) AS replied
            FROM complaints c
            WHERE CAST(c.filed_at AS BIGINT) <= {at}
              AND (c.resolved_at IS NULL OR CAST(c.resolved_at AS BIGINT) > {at})
        ),
        judged AS (
            SELECT *, CASE WHEN replied THEN fix_by_replied ELSE fix_by_unreplied END AS fix_by FROM open
        ),
        late AS (
            SELECT *, CASE
                WHEN CAST(fix_by AS INT) < {today} THEN 'critical'
                WHEN NOT replied AND CAST(reply_by AS INT) < {today} THEN 'warning'
            END AS verdict
            FROM judged
        )
        SELECT l.*, CASE WHEN verdict = 'critical' THEN fix_by ELSE reply_by END AS missed,
               i.name AS institution_name, p.generic_name, p.spec
        FROM late l
        JOIN institutions i ON i.institution_code = l.institution_code
        JOIN products p ON p.product_code = l.product_code
        WHERE l.verdict IS NOT NULL",
        at = eval.at_micros(),
        today = eval.today_days(),
    )
}

pub async fn evaluate(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    let rows = eval.query(&sql(eval)).await?;
    rows.iter().map(|row| to_alert(eval, &row)).collect()
}

fn to_alert(eval: &Evaluation, row: &Row) -> Result<Alert, DataFusionError> {
    let c = &eval.config.complaint;
    let critical = row.text("verdict")? == "critical";
    let missed = row.date("missed")?;
    let late = eval.reference.calendar.working_days_after_until(missed, eval.today);
    let kind = vbp_schemas::ComplaintKind::from_wire(&row.text("kind")?).map_or("其他", |k| k.chinese());
    let text = row.text("text")?;
    let labels = labels([
        ("complaint_id", row.text("complaint_id")?),
        ("institution_code", row.text("institution_code")?),
        ("product_code", row.text("product_code")?),
        ("enterprise", row.text("enterprise")?),
        ("division_code", row.text("division_code")?),
        ("city_code", row.text("city_code")?),
        ("province_code", row.text("province_code")?),
    ]);
    let who = institution_words(row)?;
    let what = product_words(row)?;
    let (severity, finding, threshold) = if critical {
        let basis = if row.bool("replied")? {
            format!("承诺 {} 与回复后第 {} 个工作日取早者", row.date("promised_by")?, c.fix_working_days)
        } else {
            format!("未回复，投诉后第 {} 个工作日", c.unreplied_fix_working_days)
        };
        (Severity::Critical, format!("承诺时限内未解决（解决时限 {missed}，{basis}），需监管部门介入"), format!("解决时限 {missed}"))
    } else {
        let limit = c.reply_working_days;
        (Severity::Warning, format!("企业未在{limit}个工作日内回复（回复时限 {missed}）"), format!("回复时限 {missed}"))
    };
    let quoted = if text.is_empty() { String::new() } else { format!("：“{text}”") };
    let mut notes = std::collections::BTreeMap::new();
    notes.insert("institution_name".into(), row.text("institution_name")?);
    notes.insert("summary".into(), format!("{who}对{what}的投诉{finding}"));
    notes.insert(
        "description".into(),
        format!(
            "投诉 {}（{kind}）于 {} 提出{quoted}。{finding}，截至 {} 已超过 {late} 个工作日。",
            row.text("complaint_id")?,
            row.date("filed_on")?,
            eval.today,
        ),
    );
    notes.insert("kind".into(), kind.to_string());
    notes.insert("missed_deadline".into(), missed.to_string());
    notes.insert("working_days_late".into(), late.to_string());
    Ok(alert(AlertName::ComplaintOverdue, severity, labels, notes, Decimal::from(late), threshold))
}
