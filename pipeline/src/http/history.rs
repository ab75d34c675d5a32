//! `GET /api/history?alertname=&division_code=&city_code=&from=&to=` and
//! the `/history` page: per alert, when it fired, resolved and changed
//! severity, and for how long — what Alertmanager cannot say
//! (alertmanager#172). A bureau's token sees its own division's only.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, FixedOffset};
use maud::html;
use serde::Deserialize;
use vbp_detectors::alert::AlertName;

use super::pages::{duration_words, frame, severity};
use super::{Answer, Peer, Question, Shared};
use crate::triage::{HistoryQuery, HistoryRow};

/// Rows an answer holds at most.
const LIMIT: usize = 2000;

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    alertname: Option<String>,
    division_code: Option<String>,
    city_code: Option<String>,
    /// RFC 3339 instants, or dates (`from` their first instant, `to` their last).
    from: Option<String>,
    to: Option<String>,
}

fn instant(text: Option<&str>, end_of_day: bool) -> Result<Option<DateTime<FixedOffset>>, String> {
    let Some(text) = text.filter(|t| !t.is_empty()) else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("`{text}` is not an RFC 3339 instant or a date YYYY-MM-DD"))?;
    let day = if end_of_day { date.succ_opt().ok_or_else(|| format!("`{text}` is past the last date there is"))? } else { date };
    Ok(Some(vbp_detectors::time::local_midnight(day)))
}

impl Params {
    fn query(&self) -> Result<HistoryQuery, String> {
        if let Some(name) = self.alertname.as_deref().filter(|n| !n.is_empty()) {
            AlertName::parse(name).ok_or_else(|| format!("alertname `{name}` is not one of the ten alert names"))?;
        }
        Ok(HistoryQuery {
            alertname: self.alertname.clone(),
            division_code: self.division_code.clone(),
            city_code: self.city_code.clone(),
            from: instant(self.from.as_deref(), false)?,
            to: instant(self.to.as_deref(), true)?,
        })
    }
}

/// The rows a request may see, or the refusal.
async fn rows(shared: &Shared, params: &Params, headers: &HeaderMap, peer: Option<Peer>) -> Result<(super::access::Viewer, Vec<HistoryRow>), Response> {
    let viewer = shared.viewer(headers, peer)?;
    let query = params.query().map_err(|e| (StatusCode::BAD_REQUEST, e).into_response())?;
    for code in [&query.division_code, &query.city_code].into_iter().flatten().filter(|c| !c.is_empty()) {
        if !viewer.sees_division(code) {
            return Err((StatusCode::FORBIDDEN, format!("division `{code}` is not this token's")).into_response());
        }
    }
    match shared.ask(Question::History { query, viewer: viewer.clone(), limit: LIMIT }).await {
        Some(Answer::History(rows)) => Ok((viewer, rows)),
        _ => Err((StatusCode::SERVICE_UNAVAILABLE, "the pipeline did not answer in time").into_response()),
    }
}

pub async fn api(State(shared): State<Arc<Shared>>, Query(params): Query<Params>, headers: HeaderMap, peer: Option<Extension<Peer>>) -> Response {
    match rows(&shared, &params, &headers, peer.map(|p| p.0)).await {
        Ok((_, rows)) => Json(rows).into_response(),
        Err(refusal) => refusal,
    }
}

pub async fn page(State(shared): State<Arc<Shared>>, Query(params): Query<Params>, headers: HeaderMap, peer: Option<Extension<Peer>>) -> Response {
    let (viewer, rows) = match rows(&shared, &params, &headers, peer.map(|p| p.0)).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let names = shared.division_names();
    let place = |code: String| format!("{} {code}", names.get(&code).map_or("", String::as_str));
    let body = html! {
        section {
            h2 { "预警历史 " span.muted { (rows.len()) " 条预警" @if rows.len() == LIMIT { "（仅显示最近 " (LIMIT) " 条，请缩小范围）" } } }
            form.filters method="get" action="/history" {
                label { "预警类型" select name="alertname" { option value="" { "全部" } @for n in AlertName::ALL { option value=(n.as_str()) selected[params.alertname.as_deref() == Some(n.as_str())] { (n.chinese()) } } } }
                label { "区县代码" input name="division_code" value=(value(&params.division_code)) size="8"; }
                label { "城市代码" input name="city_code" value=(value(&params.city_code)) size="8"; }
                label { "自" input type="date" name="from" value=(value(&params.from)); }
                label { "至" input type="date" name="to" value=(value(&params.to)); }
                button type="submit" { "查询" }
            }
        }
        section {
            table id="history" {
                tr { th { "预警名称" } th { "对象" } th { "地区" } th { "首次触发" } th { "解除" } th { "累计持续" } th { "经过（级别 · 触发 → 解除）" } }
                @for row in &rows {
                    @let label = |l: &str| row.labels.get(l).cloned().unwrap_or_default();
                    tr.history {
                        td { (row.alertname.chinese()) }
                        td { (row.summary) }
                        td { (place(label("division_code"))) }
                        td { (row.first_fired.format("%Y-%m-%d %H:%M")) }
                        td { @match row.last_resolved { Some(r) => (r.format("%Y-%m-%d %H:%M")), None => "仍在触发" } }
                        td.num { (duration_words(row.seconds)) }
                        td { @for e in &row.episodes {
                            div { (severity(e.severity)) " " (e.fired_at.format("%m-%d %H:%M")) " → "
                                @match e.resolved_at { Some(r) => (r.format("%m-%d %H:%M")), None => "至今" } }
                        } }
                    }
                }
            }
        }
    };
    Html(frame("集采执行监测 · 预警历史", &viewer, shared.published().at, body).into_string()).into_response()
}
