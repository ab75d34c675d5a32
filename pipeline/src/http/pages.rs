//! The pages of one alert and one incident (SPEC §12), the acknowledgement
//! form's target, the login form, and what every page shares: the frame,
//! the words and the numbers as a bureau officer reads them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use chrono::{DateTime, FixedOffset};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use vbp_detectors::alert::{Alert, AlertName, Severity};
use vbp_detectors::evidence::{packs, percent, yuan, AlertEvidence};

use super::access::{cookie_value, Viewer, COOKIE};
use super::{Answer, Command, Peer, Question, Shared};
use crate::runner::{AlertAnswer, AlertPage};

/// The style every console page shares.
pub const STYLE: &str = "body{font-family:'Noto Sans CJK SC',sans-serif;margin:0;color:#222;background:#f6f7f9}\
header{background:#1f3a5f;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}\
header a{color:#dfe8f5;text-decoration:none}header h1{font-size:20px;margin:0}main{padding:12px 20px}\
section{background:#fff;border:1px solid #dde2e8;border-radius:4px;padding:12px 16px;margin-bottom:14px}\
h2{font-size:17px;margin:0 0 10px}h3{font-size:15px;margin:12px 0 6px}table{border-collapse:collapse;width:100%;font-size:13px}\
td,th{border-bottom:1px solid #e5e8ec;padding:5px 6px;text-align:left;vertical-align:top}th{background:#f0f3f6}\
td.num{text-align:right;white-space:nowrap}.sev{padding:1px 6px;border-radius:3px;color:#fff;font-size:12px;white-space:nowrap}\
.sev.critical{background:#c0392b}.sev.warning{background:#e67e22}.muted{color:#667}.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;font-size:14px}\
.facts dt{color:#556}.facts dd{margin:0}form.filters{display:flex;gap:10px;flex-wrap:wrap;align-items:end;font-size:13px}\
form.filters label{display:flex;flex-direction:column}.charts{display:flex;gap:18px;flex-wrap:wrap}.ack{background:#eef7ee;border-left:4px solid #27ae60;padding:8px 12px}\
.unack{background:#fdf2e9;border-left:4px solid #e67e22;padding:8px 12px}.pager a{margin-right:8px}";

/// A page in the console's frame: title, the viewer, the navigation.
pub fn frame(title: &str, viewer: &Viewer, at: Option<DateTime<FixedOffset>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "集采执行监测" }
                    a href="/" { "预警控制台" }
                    a href="/history" { "预警历史" }
                    a href="/report" { "执行报表" }
                    @if viewer.sees_province() { a href="/circular" { "季度通报" } }
                    span.muted style="color:#c9d6e8" {
                        (viewer_words(viewer))
                        @if let Some(at) = at { " · 评估时刻 " (at.format("%Y-%m-%d %H:%M:%S")) "（北京时间）" }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn viewer_words(viewer: &Viewer) -> String {
    match viewer {
        Viewer::Local => "本机访问（未配置令牌）".into(),
        Viewer::Scraper => "指标采集".into(),
        Viewer::Province => "省级".into(),
        Viewer::Bureau { division_code } => format!("医保局 {division_code}"),
    }
}

/// 严重 / 预警, coloured.
pub fn severity(s: Severity) -> Markup {
    html! { span class={ "sev " (s.as_str()) } { (s.chinese()) } }
}

/// The measured value as the rule means it.
pub fn measured(alert: &Alert) -> String {
    let value: rust_decimal::Decimal = alert.value.parse().unwrap_or_default();
    match alert.name {
        AlertName::SelectedProductNotEntered => "未采购".into(),
        AlertName::ProcurementBehindSchedule => format!("进度 {}", percent(value)),
        AlertName::NonSelectedShareHigh => format!("占比 {}", percent(value)),
        AlertName::OrderUndelivered => format!("超时 {value} 个工作日"),
        AlertName::ComplaintOverdue => format!("逾期 {value} 个工作日"),
        AlertName::SupplyBreak => format!("{value} 家机构"),
        AlertName::PaymentOverdue | AlertName::PriceAboveSelected | AlertName::SubstituteSurge => yuan(value),
        AlertName::PeriodEndStockpiling => format!("{} 基本单位", packs(value)),
        AlertName::AlertsAbridged => format!("{value} 条"),
    }
}

/// The console filtered to the alerts an `AlertsAbridged` alert counts
/// (its rule in its district, or city for supply breaks).
fn counted_alerts(alert: &Alert) -> Option<String> {
    if alert.name != AlertName::AlertsAbridged {
        return None;
    }
    let rule = alert.labels.get("rule")?;
    let place = ["division_code", "city_code"].into_iter().find_map(|l| alert.labels.get(l).map(|code| format!("{l}={code}")))?;
    Some(format!("/?alertname={rule}&{place}"))
}

/// How long since `since`, in days and hours.
pub fn duration_words(seconds: i64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60);
    match (days, hours) {
        (0, 0) => format!("{minutes} 分钟"),
        (0, h) => format!("{h} 小时 {minutes} 分"),
        (d, h) => format!("{d} 天 {h} 小时"),
    }
}

/// Who or what an alert is about, in words.
pub fn subject(alert: &Alert) -> String {
    let note = |k: &str| alert.annotations.get(k).cloned().unwrap_or_default();
    let label = |k: &str| alert.labels.get(k).cloned().unwrap_or_default();
    match alert.name {
        AlertName::SupplyBreak => format!("{} · {}", label("product_code"), label("enterprise")),
        AlertName::ComplaintOverdue => format!("投诉 {}", label("complaint_id")),
        AlertName::AlertsAbridged => {
            let rule = AlertName::parse(&label("rule")).map_or_else(|| label("rule"), |r| r.chinese().to_string());
            let district = label("division_code");
            format!("{rule} · {}", if district.is_empty() { label("city_code") } else { district })
        }
        _ => {
            let name = note("institution_name");
            if name.is_empty() { label("institution_code") } else { format!("{name}（{}）", label("institution_code")) }
        }
    }
}

fn evidence_markup(evidence: &AlertEvidence) -> Markup {
    html! {
        @if !evidence.facts.is_empty() {
            dl.facts { @for (k, v) in &evidence.facts { dt { (k) } dd { (v) } } }
        }
        @for table in &evidence.tables {
            h3 { (table.title) " " span.muted { "（" (table.rows.len()) " 行）" } }
            @if table.rows.is_empty() { p.muted { "无" } } @else {
                table {
                    tr { @for h in &table.headers { th { (h) } } }
                    @for row in &table.rows { tr { @for cell in row { td { (cell) } } } }
                }
            }
        }
        @if evidence.hidden > 0 { p.muted { "另有 " (evidence.hidden) " 条记录属于其他辖区，未显示。" } }
    }
}

fn alert_head(page: &AlertPage, names: &BTreeMap<String, String>) -> Markup {
    let a = &page.alert;
    let note = |k: &str| a.annotations.get(k).cloned().unwrap_or_default();
    let place = |l: &str| a.labels.get(l).map(|code| format!("{}（{code}）", names.get(code).map_or("", String::as_str))).unwrap_or_default();
    html! {
        section {
            h2 { (severity(a.severity)) " " (a.name.chinese()) " " span.muted { (a.name.as_str()) } }
            p { strong { (note("summary")) } }
            p { (note("description")) }
            dl.facts {
                dt { "对象" } dd { (subject(a)) }
                dt { "地区" } dd { (place("city_code")) @if a.labels.get("division_code") != a.labels.get("city_code") { " " (place("division_code")) } }
                dt { "测量值" } dd { (measured(a)) }
                dt { "阈值" } dd { (note("threshold")) }
                dt { "开始时间" } dd { (page.since.format("%Y-%m-%d %H:%M")) "（已持续 " (duration_words((page.at - page.since).num_seconds())) "）" }
                dt { "评估时刻" } dd { (page.at.format("%Y-%m-%d %H:%M:%S")) span.muted { "（证据为打开本页时的状态，可能含此后到达的事件）" } }
            }
            @if let Some((fp, summary)) = &page.part_of {
                p.unack { "此预警属于疑似断供事件，Alertmanager 已将其并入该事件通知：" a href={ "/incidents/" (fp) } { (summary) } }
            }
            @if !page.history.is_empty() {
                h3 { "级别变化" }
                table {
                    tr { th { "级别" } th { "触发" } th { "解除" } th { "持续" } }
                    @for e in &page.history {
                        tr { td { (severity(e.severity)) } td { (e.fired_at.format("%Y-%m-%d %H:%M")) }
                             td { @match e.resolved_at { Some(r) => (r.format("%Y-%m-%d %H:%M")), None => "仍在触发" } }
                             td.num { (duration_words(e.seconds)) } }
                    }
                }
            }
            details { summary.muted { "原始字段（labels / annotations）" }
                table { @for (k, v) in a.all_labels().iter().chain(a.annotations.iter()) { tr { td { code { (k) } } td { (v) } } } }
            }
        }
    }
}

/// Who asks, and the page of the alert they ask for: 404 when it does
/// not fire, 403 when it is not the viewer's.
async fn ask_page(shared: &Shared, fingerprint: String, headers: &HeaderMap, peer: Option<Extension<Peer>>) -> Result<(Viewer, AlertPage), Response> {
    let viewer = shared.viewer(headers, peer.map(|p| p.0))?;
    match shared.ask(Question::Alert { fingerprint, viewer: viewer.clone() }).await {
        Some(Answer::Alert(AlertAnswer::Page(page))) => Ok((viewer, *page)),
        Some(Answer::Alert(AlertAnswer::NotFiring)) => Err((StatusCode::NOT_FOUND, Html("<p>此预警已解除或不存在 (not firing now)</p>")).into_response()),
        Some(Answer::Alert(AlertAnswer::NotYours)) => Err((StatusCode::FORBIDDEN, Html("<p>此预警不属于您的辖区 (not this token's division)</p>")).into_response()),
        _ => Err((StatusCode::SERVICE_UNAVAILABLE, "the pipeline did not answer in time").into_response()),
    }
}

/// `GET /api/alerts/{fingerprint}`: the alert page's contents as JSON.
pub async fn alert_json(State(shared): State<Arc<Shared>>, Path(fingerprint): Path<String>, headers: HeaderMap, peer: Option<Extension<Peer>>) -> Response {
    match ask_page(&shared, fingerprint, &headers, peer).await {
        Ok((_, page)) => axum::Json(page).into_response(),
        Err(refusal) => refusal,
    }
}

/// `GET /alerts/{fingerprint}`: a firing alert and what stands behind it.
pub async fn alert(State(shared): State<Arc<Shared>>, Path(fingerprint): Path<String>, headers: HeaderMap, peer: Option<Extension<Peer>>) -> Response {
    let (viewer, page) = match ask_page(&shared, fingerprint, &headers, peer).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    if page.alert.name == AlertName::SupplyBreak {
        return Redirect::to(&format!("/incidents/{}", page.fingerprint)).into_response();
    }
    let body = html! {
        (alert_head(&page, &shared.division_names()))
        section {
            h2 { "证据" }
            @if let Some(href) = counted_alerts(&page.alert) { p { a href=(href) { "控制台中本条汇总的全部预警" } } }
            (evidence_markup(&page.evidence))
        }
    };
    Html(frame(&format!("{} · {}", page.alert.name.chinese(), subject(&page.alert)), &viewer, Some(page.at), body).into_string()).into_response()
}

/// `GET /incidents/{fingerprint}`: a supply break as on-call staff triage it.
pub async fn incident(State(shared): State<Arc<Shared>>, Path(fingerprint): Path<String>, headers: HeaderMap, peer: Option<Extension<Peer>>) -> Response {
    let (viewer, page) = match ask_page(&shared, fingerprint, &headers, peer).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let Some(incident) = &page.incident else {
        return Redirect::to(&format!("/alerts/{}", page.fingerprint)).into_response();
    };
    let offer = shared.acknowledgement_hours().filter(|_| viewer.may_change_state());
    let now = chrono::Utc::now();
    let body = html! {
        (alert_head(&page, &shared.division_names()))
        section id="acknowledgement" {
            h2 { "确认（值班）" }
            @match &incident.ack {
                Some(ack) if ack.holds(now) => div.ack {
                    "已由 " strong { (ack.by) } " 于 " (ack.at.with_timezone(&vbp_detectors::time::CST).format("%Y-%m-%d %H:%M")) " 确认，静默至 "
                    (ack.until.with_timezone(&vbp_detectors::time::CST).format("%Y-%m-%d %H:%M")) "。"
                    @if !ack.comment.is_empty() { " 说明：" (ack.comment) }
                    " " span.muted { "(Alertmanager silence " (ack.silence_id) ")" }
                },
                Some(ack) => div.unack { "曾由 " (ack.by) " 于 " (ack.at.with_timezone(&vbp_detectors::time::CST).format("%Y-%m-%d %H:%M")) " 确认，确认已失效。" },
                None => div.unack { "尚未确认。" @if incident.escalated { strong { " 已升级至省级值班。" } } },
            }
            @if let Some(hours) = offer {
                form method="post" action={ "/incidents/" (page.fingerprint) "/acknowledge" } style="margin-top:10px;display:flex;gap:10px;flex-wrap:wrap;align-items:end" {
                    label { "确认人 " input name="person" required maxlength="64"; }
                    label { "说明 " input name="comment" maxlength="500" size="40"; }
                    label { "静默时长（小时） " input name="hours" type="number" min="1" max="168" value=(hours); }
                    button type="submit" { "确认此事件" }
                }
            } @else {
                p.muted { "确认需要省级令牌且配置了 Alertmanager。" }
            }
        }
        section id="timeline" {
            h2 { "事件进展（逐日）" }
            @if let Some(timeline) = &incident.timeline { (timeline_chart(timeline)) } @else { p.muted { "尚无记录" } }
        }
        section id="evidence" { h2 { "受影响的医疗机构、同城到货与投诉" } (evidence_markup(&page.evidence)) }
        section id="nested" {
            h2 { "并入此事件的超时未配送预警（" (incident.nested.len()) "）" }
            ul { @for (fp, a) in &incident.nested { li { (severity(a.severity)) " " a href={ "/alerts/" (fp) } { (subject(a)) } " — " (measured(a)) } } }
        }
    };
    let title = format!("疑似断供 · {}", subject(&page.alert));
    Html(frame(&title, &viewer, Some(page.at), body).into_string()).into_response()
}

/// Outstanding packs (bars) and hospitals waiting (line) by day, as SVG.
fn timeline_chart(timeline: &crate::triage::Timeline) -> Markup {
    let days: Vec<_> = timeline.days.iter().collect();
    let (w, h, left, bottom) = (720.0, 220.0, 50.0, 40.0);
    let max_packs = days.iter().map(|(_, f)| f.outstanding_packs).max().unwrap_or_default();
    let max_packs: f64 = max_packs.to_string().parse::<f64>().unwrap_or(1.0).max(1.0);
    let max_inst = days.iter().map(|(_, f)| f.institutions).max().unwrap_or(1).max(1) as f64;
    let slot = (w - left - 20.0) / days.len().max(1) as f64;
    let y_of = |v: f64, max: f64| h - bottom - (h - bottom - 20.0) * v / max;
    let line: Vec<String> =
        days.iter().enumerate().map(|(i, (_, f))| format!("{:.1},{:.1}", left + slot * (i as f64 + 0.5), y_of(f64::from(f.institutions), max_inst))).collect();
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" width=(w) height=(h) viewBox={ "0 0 " (w) " " (h) } role="img" aria-label="事件逐日进展" {
            line x1=(left) y1=(h - bottom) x2=(w - 10.0) y2=(h - bottom) stroke="#999" {}
            @for (i, (day, f)) in days.iter().enumerate() {
                @let v: f64 = f.outstanding_packs.to_string().parse().unwrap_or(0.0);
                @let x = left + slot * i as f64;
                rect x=(x + slot * 0.15) y=(y_of(v, max_packs)) width=(slot * 0.7) height=((h - bottom) - y_of(v, max_packs)) fill="#e67e22" {
                    title { (day) "：未送达 " (packs(f.outstanding_packs)) " 包装，" (f.institutions) " 家机构" }
                }
                @if days.len() <= 16 || i % (days.len() / 8).max(1) == 0 {
                    text x=(x + slot * 0.5) y=(h - bottom + 14.0) font-size="10" text-anchor="middle" { (day.format("%m-%d")) }
                }
            }
            polyline points=(line.join(" ")) fill="none" stroke="#1f3a5f" stroke-width="2" {}
            text x="4" y="14" font-size="11" fill="#e67e22" { "未送达包装（柱，最高 " (packs(days.iter().map(|(_, f)| f.outstanding_packs).max().unwrap_or_default())) "）" }
            text x=(w - 10.0) y="14" font-size="11" fill="#1f3a5f" text-anchor="end" { "受影响机构数（线，最高 " (max_inst) "）" }
        }
    }
}

/// The acknowledgement form's fields.
#[derive(Debug)]
struct AckForm {
    person: String,
    comment: String,
    hours: Option<u32>,
}

/// `POST /incidents/{fingerprint}/acknowledge` (the provincial token):
/// the driver creates the Alertmanager silence, then back to the page.
pub async fn acknowledge(State(shared): State<Arc<Shared>>, Path(fingerprint): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    // Who first: a refused request learns nothing of what its form lacks.
    if let Err(refusal) = shared.access().may_change_state(&headers) {
        return refusal;
    }
    let fields: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let hours = match fields.get("hours").filter(|h| !h.is_empty()).map(|h| h.parse::<u32>()) {
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "hours is a whole number of hours").into_response(),
        Some(Ok(h)) => Some(h),
        None => None,
    };
    let form = AckForm { person: fields.get("person").cloned().unwrap_or_default(), comment: fields.get("comment").cloned().unwrap_or_default(), hours };
    let Some(default_hours) = shared.acknowledgement_hours().filter(|_| shared.takes_commands()) else {
        return (StatusCode::CONFLICT, "acknowledging needs vbp-watch run with an Alertmanager").into_response();
    };
    let person = form.person.trim().to_string();
    if person.is_empty() || person.chars().count() > 64 || form.comment.chars().count() > 500 {
        return (StatusCode::BAD_REQUEST, "give who acknowledges (at most 64 characters) and a comment of at most 500").into_response();
    }
    let hours = form.hours.unwrap_or(default_hours).clamp(1, 168);
    let (reply, answer) = tokio::sync::oneshot::channel();
    let command = Command::Acknowledge { fingerprint: fingerprint.clone(), person, comment: form.comment, hours, reply };
    if shared.commands.send(command).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the pipeline is shutting down").into_response();
    }
    match tokio::time::timeout(super::COMMAND_WAIT, answer).await {
        Ok(Ok(Ok(_))) => Redirect::to(&format!("/incidents/{fingerprint}#acknowledgement")).into_response(),
        Ok(Ok(Err(why))) => (StatusCode::UNPROCESSABLE_ENTITY, why).into_response(),
        _ => (StatusCode::GATEWAY_TIMEOUT, "no answer from the pipeline; see its log").into_response(),
    }
}

/// `GET /login`: where a browser gives its token.
pub async fn login_form() -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="zh-CN" { head { meta charset="utf-8"; title { "登录 · 集采执行监测" } style { (PreEscaped(STYLE)) } }
            body { main { section style="max-width:420px;margin:40px auto" {
                h2 { "输入访问令牌" }
                form method="post" action="/login" {
                    p { input type="password" name="token" required size="40" autocomplete="current-password"; }
                    p { button type="submit" { "登录" } }
                }
                p.muted { "省级令牌可查看全省并确认事件；区县、市医保局令牌只能查看本辖区。" }
            } } } }
        }
        .into_string(),
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

/// `POST /login`: a known token becomes the session's cookie — from this
/// site's own login form only (another site cannot log a browser in).
pub async fn login(State(shared): State<Arc<Shared>>, request_headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    if !super::access::same_origin(&request_headers) {
        return (StatusCode::FORBIDDEN, "log in from this site's own /login page").into_response();
    }
    let mut headers = HeaderMap::new();
    let bearer = format!("Bearer {}", form.token.trim());
    let Ok(value) = bearer.parse() else { return (StatusCode::BAD_REQUEST, "not a token").into_response() };
    headers.insert(header::AUTHORIZATION, value);
    match shared.access().viewer(&headers, None) {
        Ok(Viewer::Local) => Redirect::to("/").into_response(),
        Ok(_) => {
            let cookie = format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200", cookie_value(form.token.trim()));
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Err(refusal) => refusal,
    }
}

/// The alerts of a published list grouped for the console: each supply
/// break with the undelivered-order alerts it stands for.
pub fn nested_under(alerts: &[&super::PublishedAlert]) -> BTreeMap<String, Vec<usize>> {
    let mut under: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let breaks: Vec<(&str, (String, String))> =
        alerts.iter().filter_map(|a| crate::triage::incident_key(&a.alert).map(|k| (a.fingerprint.as_str(), k))).collect();
    for (i, a) in alerts.iter().enumerate().filter(|(_, a)| a.alert.name == AlertName::OrderUndelivered) {
        if let Some((fp, _)) = breaks.iter().find(|(_, key)| crate::runner::under(&a.alert, key)) {
            under.entry(fp.to_string()).or_default().push(i);
        }
    }
    under
}

/// Start and end of a published alert's firing, for the console.
pub fn since_words(since: DateTime<FixedOffset>, at: Option<DateTime<FixedOffset>>) -> String {
    let seconds = at.map_or(0, |at| (at - since).num_seconds());
    format!("{}（{}）", since.format("%m-%d %H:%M"), duration_words(seconds))
}
