//! The circular as a printable page: the province, then city by city, each
//! with the rankings seed 002 二(九) names and a chart where one reads
//! better than a table. Print CSS lays it out on A4, a city per page.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use rust_decimal::Decimal;
use vbp_detectors::circular::{Circular, Counts, Ranked, Section};
use vbp_detectors::report::Outcome;

use super::svg;

const STYLE: &str = "body{font-family:'Noto Serif CJK SC','Noto Sans CJK SC',serif;margin:2em auto;max-width:820px;color:#111;line-height:1.6}\
h1{font-size:1.6em;text-align:center;margin:.2em 0}.sub{text-align:center;color:#444;margin:0 0 1.5em}\
h2{font-size:1.25em;border-bottom:2px solid #2a5d9f;padding-bottom:.2em;margin-top:1.6em}h3{font-size:1.05em;margin:1.2em 0 .4em}\
table{border-collapse:collapse;width:100%;font-size:.85em;margin:.3em 0 .8em}th,td{border:1px solid #999;padding:2px 5px;text-align:left}\
th{background:#eef2f8}td.n{text-align:right;white-space:nowrap}p.none{color:#666;font-style:italic}\
.draft{color:#b00;text-align:center;font-weight:bold}svg.chart{display:block;margin:.4em 0}\
section.city{page-break-before:always;break-before:page}tr{break-inside:avoid}\
@page{size:A4;margin:16mm 14mm}@media print{body{margin:0;max-width:none}}";

/// The whole circular; `final_` when evaluated at the quarter's last instant.
pub fn render(circular: &Circular, final_: bool) -> Markup {
    let province = &circular.province;
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { (province.name) (circular.quarter.chinese()) "集中带量采购执行情况通报" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "关于" (circular.quarter.chinese()) (province.name) "国家组织药品和医用耗材集中带量采购执行情况的通报" }
                p.sub { "（征求意见稿） 评价时点：" (circular.at.format("%Y年%m月%d日 %H:%M:%S").to_string()) "（北京时间）" }
                @if !final_ {
                    p.draft { "本季度尚未结束，以下为截至评价时点的阶段性数据。" }
                }
                p { "根据国家医保局关于做好国家组织药品和医用耗材集中带量采购执行工作的要求（每月监测、季度通报、年度考核），现将"
                    (circular.quarter.chinese()) "全省集采执行情况通报如下。数据来自省级采购平台的订单、配送、回款和投诉事件，口径与《国采地区带量执行报表》一致，特需医疗订单不计。" }
                (section(province, "一", true))
                @for (i, city) in circular.cities.iter().enumerate() {
                    section.city {
                        h2 { (chinese_number(i + 2)) "、" (city.name) "执行情况" }
                        (body(city, false))
                    }
                }
                p { "请各地医保部门对照通报，督促执行不力的医疗机构和配送不力的企业限期整改，整改情况纳入年度考核。" }
            }
        }
    }
}

fn section(s: &Section, number: &str, province: bool) -> Markup {
    html! {
        section.province {
            h2 { (number) "、" (s.name) "总体情况" }
            (body(s, province))
        }
    }
}

fn body(s: &Section, province: bool) -> Markup {
    let part = if province { "地市" } else { "区县" };
    html! {
        (counts_paragraph(&s.counts))
        h3 { "（一）分" (part) "执行情况" }
        (svg::outcomes(&s.parts.iter().map(|(_, name, c)| (name.clone(), c.outcomes)).collect::<Vec<_>>()))
        table.parts {
            tr { th { (part) } th { "报表行" } th { "签约产品" } @for o in Outcome::ALL { th { (o.chinese()) } } }
            @for (_, name, c) in &s.parts {
                tr { td { (name) } td.n { (c.rows) } td.n { (c.agreements) }
                    @for o in Outcome::ALL { td.n { (count_of(c, o)) "（" (c.share(o).to_string()) "%）" } } }
            }
        }
        @if !s.poorest.is_empty() {
            p.poorest { "执行不力（零采购与低于序时进度的签约产品占比最高）的" (part) "："
                @for (i, (name, share)) in s.poorest.iter().enumerate() {
                    (name) "（" (share.to_string()) "%）" (if i + 1 < s.poorest.len() { "、" } else { "。" })
                }
            }
        }
        h3 { "（二）采购进度滞后的医疗机构（完成序时进度比例最低的前10家）" }
        (ranking(&s.behind, "完成序时进度"))
        h3 { "（三）配送率低的企业（近30日按时足量配送的订单行占比，由低到高）" }
        @if s.delivery.is_empty() {
            p.none { "近30日无到期订单行。" }
        } @else {
            (svg::bars(&s.delivery.iter().map(|d| (d.enterprise.clone(), f(d.rate), format!("{}% {}", d.rate, grade(d.rate)), grade_colour(d.rate))).collect::<Vec<_>>(), 100.0))
            table {
                tr { th { "企业" } th { "到期订单行" } th { "按时足量" } th { "配送率" } th { "评价" } }
                @for d in &s.delivery {
                    tr { td { (d.enterprise) } td.n { (d.due_lines) } td.n { (d.on_time_lines) } td.n { (d.rate.to_string()) "%" } td { (grade(d.rate)) } }
                }
            }
        }
        h3 { "（四）非中选产品采购量占比高的医疗机构（前10家）" }
        (ranking(&s.non_selected, "非中选占比"))
        h3 { "（五）可替代产品采购量异常增长的医疗机构（前10家）" }
        (ranking(&s.substitutes, "环比增长"))
        h3 { "（六）货款逾期未结清（次月底前未结清）" }
        p { "共 " (s.overdue_total.1) " 家医疗机构逾期，合计 " (s.overdue_total.0.to_string()) " 元。" }
        (ranking(&s.overdue, "逾期金额"))
        h3 { "（七）本季度预警" }
        @if s.fired.is_empty() {
            p.none { "本季度无预警。" }
        } @else {
            table {
                tr { th { "预警" } th { "严重" } th { "预警" } th { "合计" } }
                @for name in vbp_detectors::alert::AlertName::ALL {
                    @let critical = s.fired.get(&(name, vbp_detectors::alert::Severity::Critical)).copied().unwrap_or(0);
                    @let warning = s.fired.get(&(name, vbp_detectors::alert::Severity::Warning)).copied().unwrap_or(0);
                    @if critical + warning > 0 {
                        tr { td { (name.chinese()) } td.n { (critical) } td.n { (warning) } td.n { (critical + warning) } }
                    }
                }
            }
            p { "按首次触发所在周统计：" }
            (svg::weekly(&s.weekly.iter().map(|(d, n)| (d.format("%m-%d").to_string(), *n)).collect::<Vec<_>>()))
        }
    }
}

fn counts_paragraph(c: &Counts) -> Markup {
    html! {
        p.counts {
            "截至评价时点，" (c.institutions) " 家医疗机构共 " (c.rows) " 个报表行、签约产品 " (c.agreements) " 个：其中"
            @for (i, o) in Outcome::ALL.iter().enumerate() {
                (o.chinese()) " " (count_of(c, *o)) " 个（" (c.share(*o).to_string()) "%）" (if i < 3 { "，" } else { "。" })
            }
        }
    }
}

fn ranking(items: &[Ranked], figure: &str) -> Markup {
    html! {
        @if items.is_empty() {
            p.none { "无。" }
        } @else {
            table.ranking {
                tr { th { "序号" } th { "医疗机构" } th { "地区" } th { (figure) } th { "说明" } }
                @for (i, r) in items.iter().enumerate() {
                    tr { td.n { (i + 1) } td { (r.institution_name) } td { (r.division_name) } td.n { (r.shown) } td { (r.detail) } }
                }
            }
        }
    }
}

fn count_of(c: &Counts, outcome: Outcome) -> u32 {
    Outcome::ALL.iter().position(|o| *o == outcome).map_or(0, |i| c.outcomes[i])
}

/// SPEC 6.3's grades of an on-time rate.
fn grade(rate: Decimal) -> &'static str {
    if rate >= Decimal::from(95) {
        "正常"
    } else if rate >= Decimal::from(90) {
        "一般"
    } else {
        "差"
    }
}

fn grade_colour(rate: Decimal) -> &'static str {
    match grade(rate) {
        "正常" => "#27ae60",
        "一般" => "#e67e22",
        _ => "#c0392b",
    }
}

fn f(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(0.0)
}

fn chinese_number(n: usize) -> String {
    const DIGITS: [&str; 11] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];
    match n {
        0..=10 => DIGITS[n].to_string(),
        11..=19 => format!("十{}", DIGITS[n - 10]),
        20..=99 => format!("{}十{}", DIGITS[n / 10], if n % 10 == 0 { "" } else { DIGITS[n % 10] }),
        _ => n.to_string(),
    }
}
