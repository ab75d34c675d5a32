//! Roll-ups for the provincial centre's dashboards (issue: "business
//! gauges by district, city and province"): agreement-weighted purchase
//! progress against the time-proportional schedule, non-selected share,
//! open and overdue order lines, overdue payment amounts, and the on-time
//! delivery rate (配送率) of each enterprise in each city.
//!
//! Computed in the same DataFusion session as the rules, per district; the
//! city and province figures are sums of their districts, so every level
//! agrees with the one below it. Floats are fine here: these are gauges for
//! people, never thresholds.

use std::collections::BTreeMap;

use datafusion::error::DataFusionError;

use crate::rules::Evaluation;

/// The sums of one division (district, city or province).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DivisionFigures {
    /// Base units agreed by the agreements in force at T.
    pub agreed_units: f64,
    /// Base units purchased under them.
    pub purchased_units: f64,
    /// Base units the time-proportional schedule expects by T (序时进度).
    pub scheduled_units: f64,
    pub selected_units: f64,
    pub non_selected_units: f64,
    pub open_order_lines: f64,
    pub overdue_order_lines: f64,
    /// Yuan outstanding on deliveries past 次月底.
    pub overdue_payment_yuan: f64,
}

/// On-time delivery of one enterprise in one city over the last 30 days.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryRate {
    pub due_lines: f64,
    pub on_time_lines: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollups {
    /// By (level, division code), level `district`, `city` or `province`.
    pub divisions: BTreeMap<(&'static str, String), DivisionFigures>,
    /// By (enterprise, city code).
    pub delivery: BTreeMap<(String, String), DeliveryRate>,
}

impl Rollups {
    /// Adds another shard's figures: every figure is a sum, so the sums of
    /// the shards' sums are the whole state's.
    pub fn add(&mut self, other: Rollups) {
        for (key, mut figures) in other.divisions {
            let sum = self.divisions.entry(key).or_default();
            for (_, field) in COLUMNS {
                *field(sum) += *field(&mut figures);
            }
        }
        for (key, rate) in other.delivery {
            let sum = self.delivery.entry(key).or_default();
            sum.due_lines += rate.due_lines;
            sum.on_time_lines += rate.on_time_lines;
        }
    }
}

/// The per-district sums, one query each.
fn queries(eval: &Evaluation) -> [(&'static str, String); 4] {
    let (today, at) = (eval.today_days(), eval.at_micros());
    [
        (
            "progress",
            format!(
                "SELECT division_code, city_code, province_code,
                        SUM(CAST(agreed_base_units AS DOUBLE)) AS agreed_units,
                        SUM(CAST(purchased_base_units AS DOUBLE)) AS purchased_units,
                        SUM(CAST(agreed_base_units AS DOUBLE) * ({today} - CAST(period_start AS INT) + 1)
                            / (CAST(period_end AS INT) - CAST(period_start AS INT) + 1)) AS scheduled_units
                 FROM agreement_progress
                 WHERE CAST(period_start AS INT) <= {today} AND CAST(period_end AS INT) >= {today}
                 GROUP BY division_code, city_code, province_code"
            ),
        ),
        (
            // Each institution × group counted once, from its earliest window started by T.
            "share",
            format!(
                "WITH first AS (
                     SELECT institution_code, group_id, MIN(window_start) AS window_start
                     FROM group_windows WHERE CAST(window_start AS INT) <= {today}
                     GROUP BY institution_code, group_id)
                 SELECT g.division_code, g.city_code, g.province_code,
                        SUM(CAST(g.selected_units AS DOUBLE)) AS selected_units,
                        SUM(CAST(g.non_selected_units AS DOUBLE)) AS non_selected_units
                 FROM group_windows g
                 JOIN first f ON g.institution_code = f.institution_code AND g.group_id = f.group_id
                                 AND g.window_start = f.window_start
                 GROUP BY g.division_code, g.city_code, g.province_code"
            ),
        ),
        (
            "lines",
            format!(
                "SELECT division_code, city_code, province_code,
                        CAST(COUNT(*) AS DOUBLE) AS open_order_lines,
                        CAST(SUM(CASE WHEN CAST(deadline AS BIGINT) < {at} THEN 1 ELSE 0 END) AS DOUBLE) AS overdue_order_lines
                 FROM open_order_lines
                 GROUP BY division_code, city_code, province_code"
            ),
        ),
        (
            "payments",
            format!(
                "SELECT division_code, city_code, province_code,
                        SUM(CAST(outstanding AS DOUBLE)) AS overdue_payment_yuan
                 FROM unpaid_deliveries WHERE CAST(overdue_from AS INT) <= {today}
                 GROUP BY division_code, city_code, province_code"
            ),
        ),
    ]
}

const COLUMNS: [(&str, fn(&mut DivisionFigures) -> &mut f64); 8] = [
    ("agreed_units", |f| &mut f.agreed_units),
    ("purchased_units", |f| &mut f.purchased_units),
    ("scheduled_units", |f| &mut f.scheduled_units),
    ("selected_units", |f| &mut f.selected_units),
    ("non_selected_units", |f| &mut f.non_selected_units),
    ("open_order_lines", |f| &mut f.open_order_lines),
    ("overdue_order_lines", |f| &mut f.overdue_order_lines),
    ("overdue_payment_yuan", |f| &mut f.overdue_payment_yuan),
];

pub async fn compute(eval: &Evaluation<'_>) -> Result<Rollups, DataFusionError> {
    let mut rollups = Rollups::default();
    for (_, sql) in queries(eval) {
        let rows = eval.query(&sql).await?;
        for row in rows.iter() {
            let codes = [
                ("district", row.text("division_code")?),
                ("city", row.text("city_code")?),
                ("province", row.text("province_code")?),
            ];
            for (column, field) in COLUMNS {
                let Ok(value) = row.float(column) else { continue };
                for (level, code) in &codes {
                    *field(rollups.divisions.entry((*level, code.clone())).or_default()) += value;
                }
            }
        }
    }
    let rows = eval
        .query(
            "SELECT enterprise, city_code, CAST(COUNT(*) AS DOUBLE) AS due_lines,
                    CAST(SUM(CASE WHEN on_time THEN 1 ELSE 0 END) AS DOUBLE) AS on_time_lines
             FROM due_order_lines GROUP BY enterprise, city_code",
        )
        .await?;
    for row in rows.iter() {
        let rate = DeliveryRate { due_lines: row.float("due_lines")?, on_time_lines: row.float("on_time_lines")? };
        rollups.delivery.insert((row.text("enterprise")?, row.text("city_code")?), rate);
    }
    Ok(rollups)
}
