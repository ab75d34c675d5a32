//! SPEC 6.3 — `OrderUndelivered`.
//!
//! An order line is overdue at T when T is past its delivery deadline
//! (order time + 48 hours by default, per category) and packs are still
//! outstanding (ordered − cancelled − delivered). One alert per institution
//! and product with an overdue line: critical once the oldest overdue
//! deadline is 5 or more working days before date(T) — the 5-working-day
//! limit for fixing a supply problem (seed 002 二(八)) — counted as working
//! days d with date(deadline) < d ≤ date(T), on the shipped calendar.

use datafusion::error::DataFusionError;
use rust_decimal::Decimal;

use super::{institution_words, product_words, alert, labels, Evaluation, Row};
use crate::alert::{Alert, AlertName, Severity};

/// The overdue lines of T, shared with the supply-break rule.
pub fn overdue_lines_sql(eval: &Evaluation) -> String {
    format!("SELECT * FROM open_order_lines WHERE CAST(deadline AS BIGINT) < {}", eval.at_micros())
}

/// The evidence a supply problem needs besides its lines, per institution
/// and product, shared with the supply-break rule: `open_complaints`, its
/// complaints about the product still open at T, and `bought_agreed`,
/// whether it already bought the agreed volume of the product's family
/// under an agreement active on date(T) (约定采购量完成后不配送, seed 002 三(二)).
pub fn evidence_ctes(eval: &Evaluation) -> String {
    format!(
        "open_complaints AS (
            SELECT institution_code, product_code, COUNT(*) AS open_complaints
            FROM complaints
            WHERE CAST(filed_at AS BIGINT) <= {at} AND (resolved_at IS NULL OR CAST(resolved_at AS BIGINT) > {at})
            GROUP BY institution_code, product_code
        ),
        agreed_done AS (
            SELECT a.institution_code, p.product_code,
                   MAX(CASE WHEN a.purchased_base_units >= a.agreed_base_units THEN 1 ELSE 0 END) = 1 AS bought_agreed
            FROM agreement_progress a JOIN products p ON p.family_id = a.family_id
            WHERE CAST(a.period_start AS INT) <= {today} AND {today} <= CAST(a.period_end AS INT)
            GROUP BY a.institution_code, p.product_code
        )",
        at = eval.at_micros(),
        today = eval.today_days(),
    )
}

/// The joins that add [`evidence_ctes`] to rows of `alias` keyed by
/// institution and product.
pub fn evidence_joins(alias: &str) -> String {
    format!(
        "LEFT JOIN open_complaints oc ON oc.institution_code = {alias}.institution_code AND oc.product_code = {alias}.product_code
        LEFT JOIN agreed_done ad ON ad.institution_code = {alias}.institution_code AND ad.product_code = {alias}.product_code"
    )
}

fn sql(eval: &Evaluation) -> String {
    format!(
        "WITH overdue AS ({overdue}),
        per_product AS (
            SELECT institution_code, product_code, division_code, city_code, province_code,
                   MIN(enterprise) AS enterprise, COUNT(*) AS overdue_lines,
                   SUM(outstanding_packs) AS outstanding_packs,
                   MIN(deadline) AS oldest_deadline, MIN(deadline_date) AS oldest_deadline_date
            FROM overdue
            GROUP BY institution_code, product_code, division_code, city_code, province_code
        ),
        {evidence}
        SELECT p.*, i.name AS institution_name, pr.generic_name, pr.spec,
               COALESCE(oc.open_complaints, 0) AS open_complaints, COALESCE(ad.bought_agreed, false) AS bought_agreed
        FROM per_product p
        JOIN institutions i ON i.institution_code = p.institution_code
        JOIN products pr ON pr.product_code = p.product_code
        {joins}",
        overdue = overdue_lines_sql(eval),
        evidence = evidence_ctes(eval),
        joins = evidence_joins("p"),
    )
}

pub async fn evaluate(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    let rows = eval.query(&sql(eval)).await?;
    rows.iter().map(|row| to_alert(eval, &row)).collect()
}

fn to_alert(eval: &Evaluation, row: &Row) -> Result<Alert, DataFusionError> {
    let limit = eval.config.delivery.critical_working_days;
    // In closed form on the shipped calendar, whatever the dates: a table
    // of days would leave out a line dated outside it.
    let late = i64::from(eval.reference.calendar.working_days_after_until(row.date("oldest_deadline_date")?, eval.today));
    let severity = if late >= i64::from(limit) { Severity::Critical } else { Severity::Warning };
    let outstanding = row.decimal("outstanding_packs")?;
    let oldest = row.instant("oldest_deadline")?.to_rfc3339();
    let labels = labels([
        ("institution_code", row.text("institution_code")?),
        ("product_code", row.text("product_code")?),
        ("enterprise", row.text("enterprise")?),
        ("division_code", row.text("division_code")?),
        ("city_code", row.text("city_code")?),
        ("province_code", row.text("province_code")?),
    ]);
    let who = institution_words(row)?;
    let what = product_words(row)?;
    let mut notes = std::collections::BTreeMap::new();
    notes.insert("institution_name".into(), row.text("institution_name")?);
    notes.insert("summary".into(), format!("{who}订购的{what}超时未配送"));
    notes.insert(
        "description".into(),
        format!(
            "{} 个订单行超过配送时限仍未送达，未送达 {outstanding} 包装；最早的配送时限 {oldest}，至今已过 {late} 个工作日（{limit} 个工作日起为严重）。",
            row.int("overdue_lines")?,
        ),
    );
    let evidence = Evidence {
        contact: eval.reference.enterprise(&row.text("enterprise")?).map(|e| format!("{} {}", e.contact, e.phone)),
        open_complaints: row.int("open_complaints")?,
        bought_agreed: row.bool("bought_agreed")?,
    };
    if let Some(description) = notes.get_mut("description") {
        description.push_str(&evidence.words());
    }
    evidence.annotate(&mut notes);
    notes.insert("overdue_lines".into(), row.int("overdue_lines")?.to_string());
    notes.insert("outstanding_packs".into(), outstanding.to_string());
    notes.insert("oldest_deadline".into(), oldest);
    let threshold = format!("超过配送时限；{limit} 个工作日起为严重");
    Ok(alert(AlertName::OrderUndelivered, severity, labels, notes, Decimal::from(late), threshold))
}

/// What a bureau needs besides the lines to act on a supply problem (the
/// issue of supply breaks and their triage): whom to call, whether the
/// hospital already complained, and whether it has bought its agreed volume.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evidence {
    /// The enterprise's contact from `enterprises.csv`: "name phone".
    pub contact: Option<String>,
    /// Complaints about the product still open at T.
    pub open_complaints: i64,
    /// The agreed volume of the product's family is bought already.
    pub bought_agreed: bool,
}

impl Evidence {
    /// The sentence added to a description.
    pub fn words(&self) -> String {
        let mut words = String::new();
        if let Some(contact) = &self.contact {
            words.push_str(&format!("企业联系人：{contact}。"));
        }
        if self.open_complaints > 0 {
            words.push_str(&format!("平台上有 {} 条未解决的投诉。", self.open_complaints));
        }
        if self.bought_agreed {
            words.push_str("该机构已完成约定采购量，须核查是否存在约定采购量完成后不配送。");
        }
        words
    }

    /// The same as annotations, for machines.
    pub fn annotate(&self, notes: &mut std::collections::BTreeMap<String, String>) {
        if let Some(contact) = &self.contact {
            notes.insert("enterprise_contact".into(), contact.clone());
        }
        notes.insert("open_complaints".into(), self.open_complaints.to_string());
        notes.insert("bought_agreed".into(), self.bought_agreed.to_string());
    }
}
