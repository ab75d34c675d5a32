//! `GET /`: the console a bureau officer works from. The alerts firing at
//! the last evaluation that the viewer may see, filtered by city, district,
//! rule and severity; supply-break incidents first, each with the
//! undelivered-order alerts it stands for nested under it (Alertmanager
//! inhibits those); three charts (by district, by rule, the last 30 days);
//! and the list in pages of [`PAGE`] rows, so 10,000 alerts stay fast.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;
use vbp_detectors::alert::{AlertName, Severity};

use super::pages::{frame, measured, nested_under, severity, since_words, subject};
use super::{Answer, Peer, PublishedAlert, Question, Shared};
use crate::circular::svg;

/// Rows of the list on one page.
pub const PAGE: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    city_code: Option<String>,
    division_code: Option<String>,
    alertname: Option<String>,
    severity: Option<String>,
    page: Option<usize>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl Filters {
    fn wants(&self, a: &PublishedAlert) -> bool {
        let label = |l: &str| a.alert.labels.get(l).map_or("", String::as_str);
        given(&self.city_code).is_none_or(|c| label("city_code") == c)
            && given(&self.division_code).is_none_or(|d| label("division_code") == d)
            && given(&self.alertname).is_none_or(|n| a.alert.name.as_str() == n)
            && given(&self.severity).is_none_or(|s| a.alert.severity.as_str() == s)
    }

    /// The query string of these filters on page `page`.
    fn link(&self, page: usize) -> String {
        let mut parts = vec![format!("page={page}")];
        for (k, v) in [("city_code", &self.city_code), ("division_code", &self.division_code), ("alertname", &self.alertname), ("severity", &self.severity)] {
            if let Some(v) = given(v) {
                parts.push(format!("{k}={v}"));
            }
        }
        format!("/?{}", parts.join("&"))
    }
}

pub async fn page(State(shared): State<Arc<Shared>>, Query(filters): Query<Filters>, headers: HeaderMap, peer: Option<Extension<Peer>>) -> Response {
    let viewer = match shared.viewer(&headers, peer.map(|p| p.0)) {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    let published = shared.published();
    let names = shared.division_names();
    let name_of = |code: &str| names.get(code).cloned().unwrap_or_else(|| code.to_string());
    let mine: Vec<&PublishedAlert> = published.alerts.iter().filter(|a| viewer.sees_labels(&a.alert.all_labels())).collect();
    let shown: Vec<&PublishedAlert> = mine.iter().copied().filter(|a| filters.wants(a)).collect();
    let nested = nested_under(&shown);
    let nested_index: std::collections::BTreeSet<usize> = nested.values().flatten().copied().collect();
    let incidents: Vec<&PublishedAlert> = shown.iter().copied().filter(|a| a.alert.name == AlertName::SupplyBreak).collect();
    let mut list: Vec<(usize, &PublishedAlert)> =
        shown.iter().copied().enumerate().filter(|(i, a)| a.alert.name != AlertName::SupplyBreak && !nested_index.contains(i)).collect();
    list.sort_by(|(_, a), (_, b)| b.alert.severity.cmp(&a.alert.severity).then(a.since.cmp(&b.since)).then(a.fingerprint.cmp(&b.fingerprint)));
    let pages = list.len().div_ceil(PAGE).max(1);
    let page = filters.page.unwrap_or(1).clamp(1, pages);
    // The trend is the one thing the driver must answer; a busy driver
    // leaves it out rather than holding the page.
    let trend = match shared.ask_within(Question::Trend { viewer: viewer.clone(), days: 30 }, std::time::Duration::from_secs(2)).await {
        Some(Answer::Trend(days)) => days,
        _ => Vec::new(),
    };
    let critical = shown.iter().filter(|a| a.alert.severity == Severity::Critical).count();
    // The choices of the filters: the divisions of the viewer's alerts.
    let cities: BTreeMap<String, String> = mine.iter().filter_map(|a| a.alert.labels.get("city_code")).map(|c| (c.clone(), name_of(c))).collect();
    let districts: BTreeMap<String, String> = mine
        .iter()
        .filter_map(|a| a.alert.labels.get("division_code"))
        .filter(|d| given(&filters.city_code).is_none_or(|c| d.get(..4) == c.get(..4)))
        .map(|d| (d.clone(), name_of(d)))
        .collect();
    let body = html! {
        section {
            h2 { "当前预警 " span id="totals" { (shown.len()) " 条（严重 " (critical) " 条，预警 " (shown.len() - critical) " 条），疑似断供事件 " (incidents.len()) " 起" } }
            form.filters method="get" action="/" {
                label { "城市" select name="city_code" { option value="" { "全部" } @for (c, n) in &cities { option value=(c) selected[given(&filters.city_code) == Some(c.as_str())] { (n) } } } }
                label { "区县" select name="division_code" { option value="" { "全部" } @for (d, n) in &districts { option value=(d) selected[given(&filters.division_code) == Some(d.as_str())] { (n) } } } }
                label { "预警类型" select name="alertname" { option value="" { "全部" } @for n in AlertName::ALL { option value=(n.as_str()) selected[given(&filters.alertname) == Some(n.as_str())] { (n.chinese()) } } } }
                label { "级别" select name="severity" { option value="" { "全部" } option value="critical" selected[given(&filters.severity) == Some("critical")] { "严重" } option value="warning" selected[given(&filters.severity) == Some("warning")] { "预警" } } }
                button type="submit" { "筛选" }
                a href="/" { "清除" }
            }
        }
        section { h2 { "概览" } (charts(&shown, &name_of, &trend)) }
        section id="incidents" {
            h2 { "疑似断供事件（值班处置）" }
            @if incidents.is_empty() { p.muted { "无" } }
            @for a in &incidents {
                div.incident style="margin-bottom:10px" {
                    (severity(a.alert.severity)) " "
                    a href={ "/incidents/" (a.fingerprint) } { (a.alert.annotations.get("summary").cloned().unwrap_or_default()) }
                    " " span.muted { "自 " (since_words(a.since, published.at)) }
                    @if let Some(under) = nested.get(&a.fingerprint) {
                        details { summary { "并入此事件的超时未配送预警 " (under.len()) " 条" }
                            ul { @for i in under { @let n = shown[*i]; li { (severity(n.alert.severity)) " " a href={ "/alerts/" (n.fingerprint) } { (subject(&n.alert)) } " — " (measured(&n.alert)) } } }
                        }
                    }
                }
            }
        }
        section id="alerts" {
            h2 { "预警列表 " span.muted { "第 " (page) " / " (pages) " 页，每页 " (PAGE) " 条" } }
            table {
                tr { th { "级别" } th { "预警名称" } th { "对象" } th { "地区" } th { "摘要" } th { "测量值" } th { "阈值" } th { "开始（持续）" } }
                @for (_, a) in list.iter().skip((page - 1) * PAGE).take(PAGE) {
                    @let label = |l: &str| a.alert.labels.get(l).cloned().unwrap_or_default();
                    tr.alert data-alertname=(a.alert.name.as_str()) data-division=(label("division_code")) {
                        td { (severity(a.alert.severity)) }
                        td { a href={ "/alerts/" (a.fingerprint) } { (a.alert.name.chinese()) } }
                        td { (subject(&a.alert)) }
                        td { (name_of(&label("city_code"))) " " (name_of(&label("division_code"))) }
                        td { (a.alert.annotations.get("summary").cloned().unwrap_or_default()) }
                        td.num { (measured(&a.alert)) }
                        td { (a.alert.annotations.get("threshold").cloned().unwrap_or_default()) }
                        td.num { (since_words(a.since, published.at)) }
                    }
                }
            }
            p.pager {
                @if page > 1 { a href=(filters.link(page - 1)) { "上一页" } }
                @if page < pages { a href=(filters.link(page + 1)) { "下一页" } }
            }
        }
    };
    Html(frame("集采执行监测 · 预警控制台", &viewer, published.at, body).into_string()).into_response()
}

/// Alerts by district (the 15 with most), by rule, and the 30-day trend.
fn charts(shown: &[&PublishedAlert], name_of: &dyn Fn(&str) -> String, trend: &[(chrono::NaiveDate, usize)]) -> Markup {
    let mut by_division: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_rule: BTreeMap<AlertName, usize> = BTreeMap::new();
    for a in shown {
        *by_division.entry(a.alert.labels.get("division_code").cloned().unwrap_or_default()).or_default() += 1;
        *by_rule.entry(a.alert.name).or_default() += 1;
    }
    let mut divisions: Vec<(String, usize)> = by_division.into_iter().collect();
    divisions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    divisions.truncate(15);
    let max = divisions.first().map_or(1, |d| d.1) as f64;
    let division_bars: Vec<(String, f64, String, &str)> = divisions.iter().map(|(d, n)| (name_of(d), *n as f64, n.to_string(), "#1f3a5f")).collect();
    let rule_max = by_rule.values().copied().max().unwrap_or(1) as f64;
    let rule_bars: Vec<(String, f64, String, &str)> = by_rule.iter().map(|(r, n)| (r.chinese().to_string(), *n as f64, n.to_string(), "#8e44ad")).collect();
    // A date under every fifth column: thirty would overlap.
    let days: Vec<(String, u32)> = trend
        .iter()
        .enumerate()
        .map(|(i, (d, n))| (if (trend.len() - 1 - i) % 5 == 0 { d.format("%m-%d").to_string() } else { String::new() }, *n as u32))
        .collect();
    html! {
        div.charts {
            div { h3 { "各区县预警数（前 15）" } (svg::bars(&division_bars, max)) }
            div { h3 { "各类预警数" } (svg::bars(&rule_bars, rule_max)) }
            div { h3 { "近 30 天每日触发中的预警" } @if days.is_empty() { p.muted { "尚无历史" } } @else { (svg::weekly(&days)) } }
        }
    }
}
