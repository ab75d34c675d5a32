//! SPEC 6.2 — `NonSelectedShareHigh`.
//!
//! For an institution and a generic group (同品种) in which it holds an
//! active agreement, over the window from the earliest such period start to
//! T: share = non-selected units / (selected + non-selected units), judged
//! once the window holds at least 100 units. Backup-supplier products,
//! products no dearer per base unit than the cheapest selected one, and
//! orders under a verified supply exemption were already left out of the
//! non-selected units when the orders arrived (seed 002 二(四)).
//! "原则上非中选产品使用量不得超过中选产品使用量": over 0.5 is critical, over 0.3 a warning.

use datafusion::error::DataFusionError;

use super::{institution_words, alert, decimal_literal, labels, percent, ratio, Evaluation, Row};
use crate::alert::{Alert, AlertName, Severity};

fn sql(eval: &Evaluation) -> String {
    let today = eval.today_days();
    let c = &eval.config.non_selected;
    format!(
        "WITH windows AS (
            SELECT institution_code, group_id, MIN(period_start) AS window_start
            FROM agreement_progress
            WHERE CAST(period_start AS INT) <= {today} AND {today} <= CAST(period_end AS INT)
            GROUP BY institution_code, group_id
        ),
        shares AS (
            SELECT g.*, g.selected_units + g.non_selected_units AS total_units
            FROM group_windows g
            JOIN windows w ON w.institution_code = g.institution_code
                          AND w.group_id = g.group_id AND w.window_start = g.window_start
        ),
        groups AS (
            SELECT group_id, MIN(generic_name) AS generic_name FROM products GROUP BY group_id
        )
        SELECT s.*, gr.generic_name, i.name AS institution_name,
               CASE WHEN s.non_selected_units > {critical} * s.total_units THEN 'critical' ELSE 'warning' END AS verdict
        FROM shares s
        JOIN groups gr ON gr.group_id = s.group_id
        JOIN institutions i ON i.institution_code = s.institution_code
        WHERE s.total_units >= {min_total} AND s.non_selected_units > {warning} * s.total_units",
        critical = decimal_literal(c.critical_share),
        warning = decimal_literal(c.warning_share),
        min_total = decimal_literal(c.min_total_units),
    )
}

pub async fn evaluate(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    let rows = eval.query(&sql(eval)).await?;
    rows.iter().map(|row| to_alert(eval, &row)).collect()
}

fn to_alert(eval: &Evaluation, row: &Row) -> Result<Alert, DataFusionError> {
    let c = &eval.config.non_selected;
    let selected = row.decimal("selected_units")?;
    let non_selected = row.decimal("non_selected_units")?;
    let total = row.decimal("total_units")?;
    let share = ratio(non_selected, total);
    let (severity, limit) =
        if row.text("verdict")? == "critical" { (Severity::Critical, c.critical_share) } else { (Severity::Warning, c.warning_share) };
    let labels = labels([
        ("institution_code", row.text("institution_code")?),
        ("group_id", row.text("group_id")?),
        ("division_code", row.text("division_code")?),
        ("city_code", row.text("city_code")?),
        ("province_code", row.text("province_code")?),
    ]);
    let mut notes = std::collections::BTreeMap::new();
    let who = institution_words(row)?;
    let generic = row.text("generic_name")?;
    notes.insert("institution_name".into(), row.text("institution_name")?);
    notes.insert("summary".into(), format!("{who}{generic}非中选产品占比 {} 偏高", percent(share)));
    notes.insert(
        "description".into(),
        format!(
            "同品种 {}（{generic}）自 {} 起：中选产品 {selected} 基本单位，非中选产品 {non_selected} 基本单位（不含备供企业、价格不高于中选价及核实断供期间的采购），非中选占比 {}，超过 {}。",
            row.text("group_id")?,
            row.date("window_start")?,
            percent(share),
            percent(limit),
        ),
    );
    notes.insert("selected_units".into(), selected.to_string());
    notes.insert("non_selected_units".into(), non_selected.to_string());
    Ok(alert(AlertName::NonSelectedShareHigh, severity, labels, notes, share, format!("占比 > {limit}")))
}
