//! What stands behind an alert's number (SPEC §12): the order lines,
//! deliveries, payments, purchases and complaints a bureau or on-call
//! officer needs to act, read from the state at the instant asked, in the
//! words of the pages.
//!
//! Each alert name has its own evidence; all of it is facts (label, value)
//! and tables, so one template shows them all. Rows of institutions a
//! viewer may not see are left out, and counted ([`AlertEvidence::hidden`]).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::alert::{Alert, AlertName};
use crate::config::DetectorConfig;
use crate::reference::{Institution, InstitutionId, ProductId, ReferenceData};
use crate::state::{Micros, OrderLine, State};
use crate::tables::{delivery_deadline, local_date_of_micros};
use crate::time::in_china;

/// How recent a delivery must be for its hospital to "still receive" a
/// product (the incident view's 仍正常到货的机构).
pub const STILL_RECEIVING_DAYS: i64 = 30;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlertEvidence {
    /// (label, value), in reading order.
    pub facts: Vec<(String, String)>,
    pub tables: Vec<EvidenceTable>,
    /// Rows left out because their institution is not the viewer's.
    pub hidden: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceTable {
    pub title: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// What the evidence is read from: every shard's state, at one instant.
pub struct Scene<'a> {
    pub reference: &'a ReferenceData,
    pub states: Vec<&'a State>,
    pub config: &'a DetectorConfig,
    pub at: DateTime<FixedOffset>,
    /// Whether the viewer may see an institution's rows.
    pub visible: &'a dyn Fn(&Institution) -> bool,
}

/// Yuan as people write them: `¥1,234.56`.
pub fn yuan(amount: Decimal) -> String {
    let cents = amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let text = format!("{:.2}", cents.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}¥{grouped}.{fraction}", if cents.is_sign_negative() && !cents.is_zero() { "-" } else { "" })
}

/// A share as a percentage with 2 decimals: `20.82%` (`—` beyond what a
/// decimal holds).
pub fn percent(share: Decimal) -> String {
    match share.checked_mul(Decimal::ONE_HUNDRED) {
        Some(p) => format!("{:.2}%", p.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)),
        None => "—".to_string(),
    }
}

/// A quantity without trailing zeros.
pub fn packs(q: Decimal) -> String {
    q.normalize().to_string()
}

/// An instant as a person in China reads it: `2026-03-16 09:05`.
pub fn local_time(micros: Micros) -> String {
    in_china(micros).format("%Y-%m-%d %H:%M").to_string()
}

impl Scene<'_> {
    fn today(&self) -> NaiveDate {
        crate::time::local_date(self.at)
    }

    fn institution(&self, code: &str) -> Option<(InstitutionId, &Institution)> {
        let id = self.reference.institution(code)?;
        Some((id, &self.reference.institutions[id.index()]))
    }

    fn product(&self, code: &str) -> Option<ProductId> {
        self.reference.product(code)
    }

    fn division_name(&self, code: &str) -> String {
        self.reference.divisions.name(code).unwrap_or_default().to_string()
    }

    /// The evidence of `alert` (its labels say whose), for the viewer.
    pub fn evidence(&self, alert: &Alert) -> AlertEvidence {
        let label = |l: &str| alert.labels.get(l).map_or("", String::as_str);
        let mut out = AlertEvidence::default();
        match alert.name {
            AlertName::OrderUndelivered => self.undelivered(label("institution_code"), label("product_code"), &mut out),
            AlertName::SupplyBreak => self.supply_break(alert, &mut out),
            AlertName::PaymentOverdue => self.payments(label("institution_code"), &mut out),
            AlertName::ProcurementBehindSchedule | AlertName::SelectedProductNotEntered | AlertName::PeriodEndStockpiling => {
                self.agreement(label("agreement_id"), &mut out)
            }
            AlertName::NonSelectedShareHigh | AlertName::SubstituteSurge => {
                self.group_window(label("institution_code"), label("group_id"), alert.name, &mut out)
            }
            AlertName::ComplaintOverdue => self.complaint(label("complaint_id"), &mut out),
            AlertName::PriceAboveSelected => self.overpriced(label("institution_code"), label("product_code"), &mut out),
            // Its evidence is the alerts it counts, listed in the console.
            AlertName::AlertsAbridged => {}
        }
        out
    }

    /// Open lines of `institution` for `product` (any product: `None`),
    /// overdue ones only when `overdue`, oldest deadline first.
    fn lines(&self, institution: InstitutionId, product: Option<ProductId>, overdue: bool) -> Vec<(&str, &OrderLine, Micros, &State)> {
        let at = self.at.timestamp_micros();
        let mut lines: Vec<(&str, &OrderLine, Micros, &State)> = self
            .states
            .iter()
            .flat_map(|s| s.orders.iter().map(move |(id, l)| (id.as_str(), l, *s)))
            .filter(|(_, l, _)| l.institution == institution && product.is_none_or(|p| l.product == p))
            .filter(|(_, l, _)| !l.special_service && l.outstanding() > Decimal::ZERO)
            .map(|(id, l, s)| (id, l, delivery_deadline(self.config, self.reference.products[l.product.index()].category, l.placed_at), s))
            .filter(|(_, _, deadline, _)| !overdue || *deadline < at)
            .collect();
        lines.sort_by_key(|(id, l, deadline, _)| (*deadline, l.placed_at, id.to_string()));
        lines
    }

    /// A table of order lines, with who last delivered each.
    fn lines_table(&self, title: String, lines: &[(&str, &OrderLine, Micros, &State)]) -> EvidenceTable {
        let rows = lines
            .iter()
            .map(|(id, l, deadline, state)| {
                let late = self.reference.calendar.working_days_after_until(local_date_of_micros(*deadline), self.today());
                let by = l.delivered_by.or_else(|| state.distributors.latest(l.institution, l.product));
                let distributor = match (by, l.delivered_by.is_some()) {
                    (Some(d), true) => state.distributors.name(d.by).to_string(),
                    (Some(d), false) => format!("{}（近期配送该产品）", state.distributors.name(d.by)),
                    (None, _) => "—".to_string(),
                };
                vec![
                    id.to_string(),
                    self.reference.products[l.product.index()].code.clone(),
                    local_time(l.placed_at),
                    packs(l.packs),
                    packs(l.cancelled),
                    packs(l.delivered),
                    packs(l.outstanding()),
                    local_time(*deadline),
                    if *deadline < self.at.timestamp_micros() { late.to_string() } else { "未到期".to_string() },
                    distributor,
                ]
            })
            .collect();
        EvidenceTable {
            title,
            headers: vec!["订单号", "产品编码", "下单时间", "订购(包装)", "已取消", "已送达", "未送达", "配送时限", "超时工作日", "配送企业"],
            rows,
        }
    }

    fn complaints_table(&self, product: ProductId, institutions: &dyn Fn(InstitutionId) -> bool, out: &mut AlertEvidence) {
        let at = self.at.timestamp_micros();
        let mut rows: Vec<(Micros, Vec<String>)> = Vec::new();
        for state in &self.states {
            for (id, c) in state.complaints.iter().filter(|(_, c)| c.product == product && institutions(c.institution) && c.filed_at <= at) {
                let inst = &self.reference.institutions[c.institution.index()];
                if !(self.visible)(inst) {
                    out.hidden += 1;
                    continue;
                }
                let status = match (c.resolved_at.filter(|r| *r <= at), c.reply.filter(|r| r.replied_at <= at)) {
                    (Some(r), _) => format!("{} 已解决", local_time(r)),
                    (None, Some(r)) => format!("已回复，承诺 {} 前解决", r.promised_by),
                    (None, None) => "未回复".to_string(),
                };
                rows.push((
                    c.filed_at,
                    vec![id.clone(), format!("{}（{}）", inst.name, inst.code), local_time(c.filed_at), kind_words(c.kind).into(), c.text.clone().unwrap_or_default(), status],
                ));
            }
        }
        rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        out.tables.push(EvidenceTable {
            title: "关于该产品的投诉".into(),
            headers: vec!["投诉编号", "医疗机构", "提交时间", "类型", "内容", "处理情况"],
            rows: rows.into_iter().map(|(_, r)| r).collect(),
        });
    }

    fn contact(&self, enterprise: &str, out: &mut AlertEvidence) {
        out.facts.push(("中选企业".into(), enterprise.to_string()));
        let contact = self.reference.enterprise(enterprise).map_or("enterprises.csv 未登记".to_string(), |e| format!("{} {}", e.contact, e.phone));
        out.facts.push(("企业联系人".into(), contact));
    }

    fn undelivered(&self, institution: &str, product: &str, out: &mut AlertEvidence) {
        let (Some((id, inst)), Some(p)) = (self.institution(institution), self.product(product)) else { return };
        if !(self.visible)(inst) {
            out.hidden += 1;
            return;
        }
        self.contact(&self.reference.products[p.index()].enterprise, out);
        let lines = self.lines(id, Some(p), true);
        out.tables.push(self.lines_table(format!("{} 超过配送时限未送达的订单行", inst.name), &lines));
        self.complaints_table(p, &|i| i == id, out);
    }

    fn supply_break(&self, alert: &Alert, out: &mut AlertEvidence) {
        let label = |l: &str| alert.labels.get(l).map_or("", String::as_str);
        let Some(p) = self.product(label("product_code")) else { return };
        let product = &self.reference.products[p.index()];
        let city = label("city_code");
        self.contact(&product.enterprise, out);
        out.facts.push(("产品".into(), format!("{} {} {}（{}）", product.generic_name, product.dosage_form, product.spec, product.code)));
        out.facts.push(("城市".into(), format!("{}（{city}）", self.division_name(city))));
        let affected: Vec<&str> = alert.annotations.get("institutions").map(|s| s.split(',').filter(|c| !c.is_empty()).collect()).unwrap_or_default();
        let mut waiting_packs = Decimal::ZERO;
        for code in &affected {
            let Some((id, inst)) = self.institution(code) else { continue };
            if !(self.visible)(inst) {
                out.hidden += 1;
                continue;
            }
            let lines = self.lines(id, Some(p), true);
            waiting_packs += lines.iter().map(|(_, l, _, _)| l.outstanding()).sum::<Decimal>();
            let oldest = lines.first().map(|(_, _, d, _)| local_time(*d)).unwrap_or_default();
            let title = format!("{}（{}，{}）：{} 个订单行未送达，最早配送时限 {oldest}", inst.name, inst.code, self.division_name(&inst.division_code), lines.len());
            out.tables.push(self.lines_table(title, &lines));
        }
        out.facts.push(("受影响医疗机构".into(), format!("{} 家", affected.len())));
        out.facts.push(("未送达合计".into(), format!("{} 包装", packs(waiting_packs))));
        // The city's other hospitals whose latest delivery of the product is recent.
        let since = self.at.timestamp_micros() - STILL_RECEIVING_DAYS * 86_400_000_000;
        let mut receiving: Vec<(Micros, Vec<String>)> = Vec::new();
        for state in &self.states {
            for (id, delivered) in state.distributors.of_product(p).filter(|(_, d)| d.at >= since && d.at <= self.at.timestamp_micros()) {
                let inst = &self.reference.institutions[id.index()];
                if inst.city_code != city || affected.contains(&inst.code.as_str()) {
                    continue;
                }
                if !(self.visible)(inst) {
                    out.hidden += 1;
                    continue;
                }
                receiving.push((
                    delivered.at,
                    vec![inst.code.clone(), inst.name.clone(), self.division_name(&inst.division_code), local_time(delivered.at), state.distributors.name(delivered.by).to_string()],
                ));
            }
        }
        receiving.sort_by(|a, b| (std::cmp::Reverse(a.0), &a.1).cmp(&(std::cmp::Reverse(b.0), &b.1)));
        out.tables.push(EvidenceTable {
            title: format!("同城仍正常到货的医疗机构（近 {STILL_RECEIVING_DAYS} 天有到货）"),
            headers: vec!["机构编码", "医疗机构", "区县", "最近到货", "配送企业"],
            rows: receiving.into_iter().map(|(_, r)| r).collect(),
        });
        let in_city = |i: InstitutionId| self.reference.institutions[i.index()].city_code == city;
        self.complaints_table(p, &in_city, out);
    }

    fn payments(&self, institution: &str, out: &mut AlertEvidence) {
        let Some((id, inst)) = self.institution(institution) else { return };
        if !(self.visible)(inst) {
            out.hidden += 1;
            return;
        }
        let today = self.today();
        let mut rows: Vec<(NaiveDate, Vec<String>)> = Vec::new();
        let mut total = Decimal::ZERO;
        for state in &self.states {
            for (delivery_id, d) in state.deliveries.iter().filter(|(_, d)| d.institution == id && d.outstanding() > Decimal::ZERO) {
                let Some(a) = d.accepted.as_ref().filter(|a| a.overdue_on <= today) else { continue };
                total += d.outstanding();
                rows.push((
                    a.overdue_on,
                    vec![
                        delivery_id.clone(),
                        d.order_id.clone(),
                        self.reference.products[d.product.index()].code.clone(),
                        a.accepted_on.to_string(),
                        a.overdue_on.to_string(),
                        (today - a.overdue_on).num_days().to_string(),
                        yuan(a.amount),
                        yuan(d.paid),
                        yuan(d.outstanding()),
                        state.distributors.name(d.distributor).to_string(),
                    ],
                ));
            }
        }
        rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        out.facts.push(("逾期未结清合计".into(), yuan(total)));
        out.facts.push(("逾期笔数".into(), rows.len().to_string()));
        out.tables.push(EvidenceTable {
            title: format!("{} 超过次月底未结清的配送", inst.name),
            headers: vec!["配送单号", "订单号", "产品编码", "验收日期", "逾期起始", "已逾期(天)", "验收金额", "已付", "未付", "配送企业"],
            rows: rows.into_iter().map(|(_, r)| r).collect(),
        });
    }

    fn agreement(&self, agreement_id: &str, out: &mut AlertEvidence) {
        let Some(aid) = self.reference.agreement(agreement_id) else { return };
        let a = &self.reference.agreements[aid.index()];
        let inst = &self.reference.institutions[a.institution.index()];
        if !(self.visible)(inst) {
            out.hidden += 1;
            return;
        }
        let purchased = self
            .states
            .iter()
            .map(|s| s.purchases.per_agreement.get(aid.index()).copied().unwrap_or_default())
            .try_fold(Decimal::ZERO, Decimal::checked_add)
            .unwrap_or(Decimal::MAX);
        let today = self.today();
        let total = (a.period_end - a.period_start).num_days() + 1;
        let elapsed = ((today - a.period_start).num_days() + 1).clamp(0, total);
        let schedule = Decimal::from(elapsed) / Decimal::from(total.max(1));
        // Checked: a tiny agreed volume and large purchases leave a decimal's range.
        let progress = purchased.checked_div(a.agreed_base_units).unwrap_or(Decimal::MAX);
        out.facts.extend([
            ("协议编号".into(), a.agreement_id.clone()),
            ("医疗机构".into(), format!("{}（{}）", inst.name, inst.code)),
            ("协议期".into(), format!("{} 至 {}（第 {elapsed} 天，共 {total} 天）", a.period_start, a.period_end)),
            ("约定采购量(基本单位)".into(), packs(a.agreed_base_units)),
            ("已采购(基本单位)".into(), packs(purchased)),
            ("序时进度".into(), percent(schedule)),
            ("采购进度".into(), percent(progress)),
            ("按序时应采购(基本单位)".into(), a.agreed_base_units.checked_mul(schedule).map_or("—".into(), |u| packs(u.round_dp(2)))),
        ]);
        let family: Vec<ProductId> =
            (0..self.reference.products.len()).map(|i| ProductId(i as u32)).filter(|p| self.reference.products[p.index()].family == Some(a.family)).collect();
        out.tables.push(EvidenceTable {
            title: "该品种的中选产品".into(),
            headers: vec!["产品编码", "通用名", "规格", "企业", "每包装基本单位", "中选价(元/基本单位)"],
            rows: family
                .iter()
                .map(|p| {
                    let p = &self.reference.products[p.index()];
                    vec![
                        p.code.clone(),
                        p.generic_name.clone(),
                        p.spec.clone(),
                        p.enterprise.clone(),
                        packs(p.base_units_per_pack),
                        p.selected_price_per_base_unit.map(packs).unwrap_or_default(),
                    ]
                })
                .collect(),
        });
        let mut days: Vec<(NaiveDate, Decimal)> = self
            .states
            .iter()
            .flat_map(|s| s.purchases.period_end_days.iter())
            .filter(|((a2, _), _)| *a2 as usize == aid.index())
            .map(|((_, d), u)| (*d, *u))
            .collect();
        days.sort();
        if !days.is_empty() {
            out.tables.push(EvidenceTable {
                title: "协议期最后 30 天的逐日采购(基本单位)".into(),
                headers: vec!["日期", "采购量"],
                rows: days.into_iter().map(|(d, u)| vec![d.to_string(), packs(u)]).collect(),
            });
        }
        let lines: Vec<_> = family.iter().flat_map(|p| self.lines(a.institution, Some(*p), false)).collect();
        out.tables.push(self.lines_table("该机构该品种未完成的订单行".into(), &lines));
    }

    fn group_window(&self, institution: &str, group: &str, name: AlertName, out: &mut AlertEvidence) {
        let (Some((id, inst)), Some(g)) = (self.institution(institution), self.reference.group(group)) else { return };
        if !(self.visible)(inst) {
            out.hidden += 1;
            return;
        }
        out.facts.push(("医疗机构".into(), format!("{}（{}）", inst.name, inst.code)));
        out.facts.push(("同品种组".into(), group.to_string()));
        if name == AlertName::SubstituteSurge {
            let mut by_product: BTreeMap<(ProductId, NaiveDate), Decimal> = BTreeMap::new();
            for state in &self.states {
                for ((_, p, day), tally) in state.recent.iter().filter(|((i, p, _), t)| *i == id && !t.amount.is_zero() && self.substitutes(g, *p)) {
                    *by_product.entry((*p, *day)).or_default() += tally.amount;
                }
            }
            let today = self.today();
            let recent: Decimal = by_product.iter().filter(|((_, d), _)| (today - *d).num_days() < 30).map(|(_, a)| *a).sum();
            out.facts.push(("近 30 天可替代产品采购额".into(), yuan(recent)));
            out.tables.push(EvidenceTable {
                title: "可替代产品逐日采购额（近 120 天）".into(),
                headers: vec!["日期", "产品编码", "通用名", "金额"],
                rows: by_product
                    .into_iter()
                    .rev()
                    .map(|((p, d), amount)| {
                        let p = &self.reference.products[p.index()];
                        vec![d.to_string(), p.code.clone(), p.generic_name.clone(), yuan(amount)]
                    })
                    .collect(),
            });
            return;
        }
        let mut rows = Vec::new();
        for state in &self.states {
            for (index, w) in state.purchases.windows.iter().enumerate().filter(|(_, w)| w.institution == id && w.group == g) {
                let total = w.selected_units.checked_add(w.non_selected_units).unwrap_or(Decimal::MAX);
                let share = w.non_selected_units.checked_div(total).unwrap_or(Decimal::ZERO);
                out.facts.push((format!("自 {} 起", w.start), format!("中选 {}，非中选 {}（计入占比），占比 {}", packs(w.selected_units), packs(w.non_selected_units), percent(share))));
                for ((_, p), bought) in state.purchases.bought.iter().filter(|((wi, _), _)| *wi as usize == index) {
                    let p = &self.reference.products[p.index()];
                    if p.group != g {
                        continue;
                    }
                    rows.push(vec![w.start.to_string(), p.code.clone(), p.enterprise.clone(), packs(bought.units), yuan(bought.amount), if p.backup_supplier { "备供企业" } else { "" }.to_string()]);
                }
            }
        }
        rows.sort();
        out.tables.push(EvidenceTable {
            title: "采购的非中选产品（原始执行数，未扣除备供、低价与豁免）".into(),
            headers: vec!["窗口起始", "产品编码", "企业", "基本单位", "金额", "备注"],
            rows,
        });
    }

    fn substitutes(&self, group: crate::reference::GroupId, product: ProductId) -> bool {
        self.reference.substitutes.iter().any(|s| s.group == group && s.product == product)
    }

    fn complaint(&self, complaint_id: &str, out: &mut AlertEvidence) {
        for state in &self.states {
            let Some(c) = state.complaints.get(complaint_id) else { continue };
            let inst = &self.reference.institutions[c.institution.index()];
            if !(self.visible)(inst) {
                out.hidden += 1;
                return;
            }
            let product = &self.reference.products[c.product.index()];
            out.facts.extend([
                ("投诉编号".into(), complaint_id.to_string()),
                ("医疗机构".into(), format!("{}（{}）", inst.name, inst.code)),
                ("产品".into(), format!("{} {}（{}）", product.generic_name, product.spec, product.code)),
                ("类型".into(), kind_words(c.kind).into()),
                ("内容".into(), c.text.clone().unwrap_or_default()),
                ("提交时间".into(), local_time(c.filed_at)),
                ("回复".into(), c.reply.map_or("未回复".into(), |r| format!("{} 回复，承诺 {} 前解决", local_time(r.replied_at), r.promised_by))),
            ]);
            self.contact(&product.enterprise, out);
            let lines = self.lines(c.institution, Some(c.product), false);
            out.tables.push(self.lines_table("该机构该产品未完成的订单行".into(), &lines));
            return;
        }
    }

    fn overpriced(&self, institution: &str, product: &str, out: &mut AlertEvidence) {
        let (Some((id, inst)), Some(p)) = (self.institution(institution), self.product(product)) else { return };
        if !(self.visible)(inst) {
            out.hidden += 1;
            return;
        }
        let selected = self.reference.products[p.index()].selected_price_per_pack();
        out.facts.push(("中选价(元/包装)".into(), selected.map(yuan).unwrap_or_default()));
        let mut rows: Vec<(NaiveDate, Vec<String>)> = Vec::new();
        for state in &self.states {
            for ((_, _, day), t) in state.recent.iter().filter(|((i, q, _), t)| *i == id && *q == p && !t.overpriced_packs.is_zero()) {
                rows.push((*day, vec![day.to_string(), packs(t.overpriced_packs), yuan(t.highest_price), yuan(t.overcharge)]));
            }
        }
        rows.sort_by(|a, b| b.0.cmp(&a.0));
        out.tables.push(EvidenceTable {
            title: "高于中选价的逐日采购".into(),
            headers: vec!["日期", "包装数", "最高单价", "超出金额"],
            rows: rows.into_iter().map(|(_, r)| r).collect(),
        });
    }
}

fn kind_words(kind: vbp_schemas::ComplaintKind) -> &'static str {
    use vbp_schemas::ComplaintKind::*;
    match kind {
        NotDelivered => "未配送",
        ShortDelivery => "配送不足",
        Quality => "质量问题",
        Other => "其他",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_shares_read_as_people_write_them() {
        assert_eq!(yuan("1234567.891".parse().unwrap()), "¥1,234,567.89");
        assert_eq!(yuan("0.5".parse().unwrap()), "¥0.50");
        assert_eq!(yuan("-12.345".parse().unwrap()), "-¥12.35");
        assert_eq!(yuan("100".parse().unwrap()), "¥100.00");
        assert_eq!(percent("0.2082".parse().unwrap()), "20.82%");
        assert_eq!(percent("1".parse().unwrap()), "100.00%");
        assert_eq!(packs("5.000".parse().unwrap()), "5");
        assert_eq!(percent(Decimal::MAX), "—", "no panic beyond a decimal's range");
    }
}
