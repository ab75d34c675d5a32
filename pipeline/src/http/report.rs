//! The execution report in live and demo mode (SPEC §10): `GET /api/report`
//! (the rows as JSON), `GET /report` (a page with filters and downloads),
//! and `GET /report.xlsx` / `GET /report.csv` (the files `vbp-watch report`
//! writes). All take `division_code=` (a district) or `city_code=` (a
//! whole city); the rows are those of the last evaluation instant T, which
//! the driver publishes with the alerts.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::Extension;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use vbp_detectors::report::{Cell, Outcome, ReportRow, HEADERS, KINDS};
use vbp_detectors::time::local_date;

use super::access::Viewer;
use super::{Peer, Shared};
use crate::report::{encode, Format};

/// The report rows of one evaluation instant.
#[derive(Debug, Clone)]
pub struct PublishedReport {
    pub at: DateTime<FixedOffset>,
    pub rows: Arc<Vec<ReportRow>>,
}

/// Rows shown on one page of `/report` (the files hold them all).
const PAGE_ROWS: usize = 200;

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    as_of: Option<String>,
    division_code: Option<String>,
    city_code: Option<String>,
    page: Option<usize>,
}

/// A request the report cannot answer, with the reason shown to the user.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

/// The rows a query asks for, with T: a bureau's own rows only (all of
/// them when it names no division), 403 for another division's.
fn select(shared: &Shared, query: &ReportQuery, viewer: &Viewer) -> Result<(DateTime<FixedOffset>, Vec<ReportRow>), Refusal> {
    for code in [non_empty(&query.division_code), non_empty(&query.city_code)].into_iter().flatten() {
        if !viewer.sees_division(code) {
            return Err(Refusal(StatusCode::FORBIDDEN, format!("division `{code}` is not this token's")));
        }
    }
    let (at, rows) = select_rows(shared, query)?;
    let mine = |r: &ReportRow| viewer.division().is_none_or(|d| r.division_code == d || r.city_code == d);
    Ok((at, rows.into_iter().filter(mine).collect()))
}

fn select_rows(shared: &Shared, query: &ReportQuery) -> Result<(DateTime<FixedOffset>, Vec<ReportRow>), Refusal> {
    let Some(published) = shared.report() else {
        return Err(Refusal(StatusCode::SERVICE_UNAVAILABLE, "no evaluation yet: the report is there after the first one".into()));
    };
    if let Some(as_of) = query.as_of.as_deref().filter(|s| !s.is_empty()) {
        let asked = DateTime::parse_from_rfc3339(as_of)
            .map_err(|e| Refusal(StatusCode::BAD_REQUEST, format!("as_of `{as_of}` is not an RFC 3339 instant: {e}")))?;
        if local_date(asked) != local_date(published.at) {
            let message = format!(
                "this instance holds the report of its last evaluation, {}; the report as of another day comes from \
                 `vbp-watch report --as-of {as_of}` over the events",
                published.at.to_rfc3339()
            );
            return Err(Refusal(StatusCode::UNPROCESSABLE_ENTITY, message));
        }
    }
    let known = |code: &str| !shared.division_name(code).is_empty();
    let rows = match (non_empty(&query.division_code), non_empty(&query.city_code)) {
        (Some(_), Some(_)) => return Err(Refusal(StatusCode::BAD_REQUEST, "give division_code or city_code, not both".into())),
        (Some(code), None) if known(code) => published.rows.iter().filter(|r| r.division_code == code).cloned().collect(),
        (None, Some(code)) if known(code) => published.rows.iter().filter(|r| r.city_code == code).cloned().collect(),
        (Some(code), None) | (None, Some(code)) => {
            return Err(Refusal(StatusCode::NOT_FOUND, format!("division `{code}` is not in divisions.csv")))
        }
        (None, None) => published.rows.as_ref().clone(),
    };
    Ok((published.at, rows))
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}

/// Who asks, or the refusal.
fn viewer(shared: &Shared, headers: &HeaderMap, peer: Option<Extension<Peer>>) -> Result<Viewer, Response> {
    shared.viewer(headers, peer.map(|p| p.0))
}

/// `GET /api/report`: the rows as JSON, with T in `X-Report-As-Of`.
pub async fn api(State(shared): State<Arc<Shared>>, Query(query): Query<ReportQuery>, headers: HeaderMap, peer: Option<Extension<Peer>>) -> Response {
    let viewer = match viewer(&shared, &headers, peer) {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    match select(&shared, &query, &viewer) {
        Ok((at, rows)) => with_as_of(Json(rows).into_response(), at),
        Err(refusal) => refusal.into_response(),
    }
}

/// `GET /report.xlsx` and `GET /report.csv`: the file a bureau receives.
pub async fn file(shared: Arc<Shared>, query: ReportQuery, format: Format, viewer: Result<Viewer, Response>) -> Response {
    let viewer = match viewer {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    let (at, rows) = match select(&shared, &query, &viewer) {
        Ok(selected) => selected,
        Err(refusal) => return refusal.into_response(),
    };
    let bytes = match encode(&rows, format) {
        Ok(bytes) => bytes,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let (kind, extension) = match format {
        Format::Xlsx => ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let scope = non_empty(&query.division_code).or(non_empty(&query.city_code)).or(viewer.division()).unwrap_or("province");
    let name = format!("attachment; filename=\"report-{scope}-{}.{extension}\"", local_date(at));
    let headers = [(header::CONTENT_TYPE, kind.to_string()), (header::CONTENT_DISPOSITION, name)];
    with_as_of((headers, bytes).into_response(), at)
}

pub async fn xlsx(State(shared): State<Arc<Shared>>, Query(query): Query<ReportQuery>, headers: HeaderMap, peer: Option<Extension<Peer>>) -> Response {
    let viewer = viewer(&shared, &headers, peer);
    file(shared, query, Format::Xlsx, viewer).await
}

pub async fn csv(State(shared): State<Arc<Shared>>, Query(query): Query<ReportQuery>, headers: HeaderMap, peer: Option<Extension<Peer>>) -> Response {
    let viewer = viewer(&shared, &headers, peer);
    file(shared, query, Format::Csv, viewer).await
}

fn with_as_of(mut response: Response, at: DateTime<FixedOffset>) -> Response {
    if let Ok(value) = HeaderValue::from_str(&at.to_rfc3339()) {
        response.headers_mut().insert("x-report-as-of", value);
    }
    response
}

/// `GET /report`: the table with filters, totals and download links.
pub async fn page(State(shared): State<Arc<Shared>>, Query(query): Query<ReportQuery>, headers: HeaderMap, peer: Option<Extension<Peer>>) -> Response {
    let viewer = match viewer(&shared, &headers, peer) {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    match select(&shared, &query, &viewer) {
        Ok((at, rows)) => {
            let names: BTreeMap<String, String> = shared.division_names().into_iter().filter(|(code, _)| viewer.sees_division(code)).collect();
            Html(render(&names, &query, at, &rows).into_string()).into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// The query string of the current filters, for links.
fn filters(query: &ReportQuery) -> String {
    let mut parts = Vec::new();
    if let Some(code) = non_empty(&query.division_code) {
        parts.push(format!("division_code={code}"));
    }
    if let Some(code) = non_empty(&query.city_code) {
        parts.push(format!("city_code={code}"));
    }
    parts.join("&")
}

const STYLE: &str = "body{font-family:'Noto Sans CJK SC','Source Han Sans SC',sans-serif;margin:1.2em;color:#222}\
h1{font-size:1.4em;margin:0 0 .2em}.meta{color:#555;margin:0 0 1em}\
form{display:flex;gap:1em;align-items:end;flex-wrap:wrap;margin:0 0 1em}label{display:flex;flex-direction:column;font-size:.85em;color:#444}\
select,button,a.button{font-size:1em;padding:.3em .6em}a.button{border:1px solid #2a5d9f;border-radius:3px;text-decoration:none;color:#2a5d9f}\
.totals{display:flex;gap:1em;margin:0 0 1em;flex-wrap:wrap}.total{border:1px solid #ccd;border-radius:4px;padding:.5em .9em;min-width:8em}\
.total b{display:block;font-size:1.5em}.zero b{color:#b00}.behind b{color:#b60}.over b{color:#6a3d9a}.normal b{color:#2a7a2a}\
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85em}th,td{border:1px solid #ccc;padding:3px 5px;white-space:nowrap}\
th{background:#dde7f3;position:sticky;top:0;white-space:normal;min-width:4.5em}td.n{text-align:right}tr:nth-child(even) td{background:#f7f9fc}\
.pages{margin:.8em 0}@media print{form,.pages,a.button{display:none}body{margin:0}}";

fn render(names: &BTreeMap<String, String>, query: &ReportQuery, at: DateTime<FixedOffset>, rows: &[ReportRow]) -> Markup {
    let scope = non_empty(&query.division_code).or(non_empty(&query.city_code));
    let scope_name = scope.and_then(|c| names.get(c)).map_or("全省", String::as_str);
    let cities: Vec<(&String, &String)> = names.iter().filter(|(c, _)| c.ends_with("00") && !c.ends_with("0000")).collect();
    let districts: Vec<(&String, &String)> = names.iter().filter(|(c, _)| !c.ends_with("00")).collect();
    let agreements: u32 = rows.iter().map(|r| r.agreements).sum();
    let page = query.page.unwrap_or(1).max(1);
    let pages = rows.len().div_ceil(PAGE_ROWS).max(1);
    let shown = rows.iter().skip((page - 1) * PAGE_ROWS).take(PAGE_ROWS);
    let link = |extra: String| {
        let f = filters(query);
        match (f.is_empty(), extra.is_empty()) {
            (true, _) => format!("?{extra}"),
            (false, true) => format!("?{f}"),
            (false, false) => format!("?{f}&{extra}"),
        }
    };
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { "带量采购执行报表 · " (scope_name) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                h1 { "带量采购执行报表 · " (scope_name) }
                p.meta { "截至 " (at.format("%Y-%m-%d %H:%M").to_string()) "（北京时间），共 " (rows.len()) " 行（医疗机构 × 批次 × 协议期），签约产品 " (agreements) " 个。口径：《国采地区带量执行报表》，特需医疗订单不计。" }
                form method="get" action="/report" {
                    label { "地市"
                        select name="city_code" {
                            option value="" { "全部" }
                            @for (code, name) in &cities {
                                option value=(code) selected[non_empty(&query.city_code) == Some(code.as_str())] { (name) }
                            }
                        }
                    }
                    label { "区县"
                        select name="division_code" {
                            option value="" { "全部" }
                            @for (code, name) in &districts {
                                option value=(code) selected[non_empty(&query.division_code) == Some(code.as_str())] { (name) }
                            }
                        }
                    }
                    button type="submit" { "筛选" }
                    a.button href={ "/report.xlsx" (link(String::new())) } { "下载 Excel" }
                    a.button href={ "/report.csv" (link(String::new())) } { "下载 CSV" }
                }
                div.totals {
                    @for outcome in Outcome::ALL {
                        @let n: u32 = rows.iter().map(|r| r.count(outcome)).sum();
                        div class={ "total " (outcome.as_str()) } {
                            b { (n) }
                            (outcome.chinese()) "产品数 · " (share(n, agreements))
                        }
                    }
                }
                div.scroll {
                    table id="report" {
                        tr { @for h in HEADERS { th { (h) } } }
                        @for row in shown {
                            tr {
                                @for (cell, kind) in row.cells().iter().zip(KINDS) {
                                    @match (cell, kind) {
                                        (Cell::Percent(_), _) => { td.n { (cell.text()) "%" } }
                                        (_, vbp_detectors::report::Kind::Count) => { td.n { (cell.text()) } }
                                        _ => { td { (cell.text()) } }
                                    }
                                }
                            }
                        }
                    }
                }
                @if pages > 1 {
                    p.pages {
                        "第 " (page) " / " (pages) " 页 "
                        @if page > 1 { a href=(link(format!("page={}", page - 1))) { "上一页" } " " }
                        @if page < pages { a href=(link(format!("page={}", page + 1))) { "下一页" } }
                        "（下载文件包含全部行）"
                    }
                }
            }
        }
    }
}

fn share(n: u32, of: u32) -> String {
    if of == 0 {
        return "—".into();
    }
    format!("{:.2}%", vbp_detectors::report::percent(n.into(), of.into()))
}
