//! The mess of real feeds that is not tied to one institution's orders:
//! malformed lines, events for unknown institutions and products, orphan
//! deliveries whose order never comes, and one oversized message.
//!
//! Each line is counted by the reason the engine must give when it rejects
//! it (SPEC §4), so the dead-letter output can be checked exactly.

use std::collections::{BTreeMap, HashSet};

use super::catalogue::Catalogue;
use super::clock::{local_date, local_midnight, TimeFormatter, CST_OFFSET_SECS, DAY, HOUR};
use super::events::{Ctx, HOURS};
use super::json;
use super::rng::{mix, Rng};

/// A line injected by the writer after the workers' lines of its hour.
pub struct MessLine {
    pub day: u32,
    pub hour: u8,
    pub topic: u8,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct MessCounts {
    /// Lines the decoder rejects, by expected reason code.
    pub malformed_by_reason: BTreeMap<&'static str, u64>,
    /// Finer breakdown by what is wrong, for the report.
    pub malformed_by_kind: BTreeMap<&'static str, u64>,
    pub unknown_institution: u64,
    pub unknown_product: u64,
    /// Orphan events (deliveries and acceptances of orders that never come),
    /// all at least 8 days before as_of, so rejected by then.
    pub orphan_events: u64,
    pub orphan_deliveries: u64,
    pub too_large: u64,
}

impl MessCounts {
    pub fn malformed_lines(&self) -> u64 {
        self.malformed_by_reason.values().sum()
    }
}

/// (what is wrong, expected reason)
const MALFORMED_KINDS: &[(&str, &str)] = &[
    ("truncated", "malformed_json"),
    ("unknown_type", "unknown_type"),
    ("missing_product_code", "missing_field"),
    ("negative_quantity", "bad_value"),
    ("missing_closing_brace", "malformed_json"),
    ("impossible_date", "bad_value"),
    ("missing_occurred_at", "missing_field"),
    ("money_three_decimals", "bad_value"),
    ("repeated_key", "malformed_json"),
    ("unknown_type_2", "unknown_type"),
    ("offset_missing", "bad_value"),
    ("special_service_not_bool", "bad_value"),
    ("zero_quantity", "bad_value"),
    ("missing_delivery_id", "missing_field"),
];

struct Gen<'a> {
    ctx: &'a Ctx<'a>,
    rng: Rng,
    tf: TimeFormatter,
    salt: u64,
    next: u64,
    lines: Vec<MessLine>,
    counts: MessCounts,
}

impl Gen<'_> {
    fn event_id(&mut self, out: &mut Vec<u8>) {
        // Ids from a range no institution uses (institution numbers < 2^20).
        let seq = (0xFFF0_0000u64 << 32) | self.next;
        self.next += 1;
        json::push_uuid(out, mix(seq ^ self.salt), mix(seq.wrapping_add(self.salt)));
    }

    /// A random instant in the window, at least `min_before` seconds before as_of.
    fn instant(&mut self, min_before: i64) -> Option<i64> {
        let start = local_midnight(self.ctx.window_start) + HOUR;
        let end = self.ctx.as_of - min_before;
        (end > start).then(|| self.rng.range(start, end - 1))
    }

    fn push(&mut self, t: i64, topic: u8, bytes: Vec<u8>) {
        let day = (local_date(t) - self.ctx.events_start).num_days() as u32;
        let hour = ((t + CST_OFFSET_SECS).rem_euclid(DAY) / HOUR) as u8;
        debug_assert!((hour as usize) < HOURS);
        self.lines.push(MessLine { day, hour, topic, bytes });
    }

    /// A well-formed order.placed line (without newline).
    fn order_line(&mut self, t: i64, inst_code: &str, product_code: &str, extra: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(300);
        out.extend_from_slice(b"{\"event_id\":\"");
        self.event_id(&mut out);
        out.extend_from_slice(b"\",\"type\":\"order.placed\"");
        json::push_time(&mut out, &mut self.tf, t);
        let order = 9_500_000 + self.next;
        out.extend_from_slice(format!(",\"order_id\":\"PO-{inst_code}-{order:07}\"").as_bytes());
        out.extend_from_slice(
            format!(",\"institution_code\":\"{inst_code}\",\"product_code\":\"{product_code}\"").as_bytes(),
        );
        let qty = self.rng.range(2, 60);
        out.extend_from_slice(
            format!(
                ",\"quantity_packs\":{qty},\"unit_price\":\"{}.{:02}\"",
                self.rng.range(1, 300),
                self.rng.range(0, 99)
            )
            .as_bytes(),
        );
        out.extend_from_slice(extra.as_bytes());
        out.push(b'}');
        out
    }

    fn random_inst(&mut self) -> usize {
        self.rng.below(self.ctx.pop.institutions.len() as u64) as usize
    }

    fn random_product(&mut self) -> usize {
        self.rng.below(self.ctx.cat.products.len() as u64) as usize
    }

    fn malformed(&mut self, k: usize) {
        let Some(t) = self.instant(HOUR) else { return };
        let (kind, reason) = MALFORMED_KINDS[k % MALFORMED_KINDS.len()];
        let i = self.random_inst();
        let p = self.random_product();
        let inst = self.ctx.pop.institutions[i].code.clone();
        let prod = self.ctx.cat.products[p].code.clone();
        let good = self.order_line(t, &inst, &prod, "");
        let text = String::from_utf8(good).expect("ASCII line");
        let mut topic = 0u8;
        let line: Vec<u8> = match kind {
            "truncated" => {
                let cut = text.len() / 2 + self.rng.below((text.len() / 3) as u64) as usize;
                text.as_bytes()[..cut].to_vec()
            }
            "missing_closing_brace" => text.as_bytes()[..text.len() - 1].to_vec(),
            "repeated_key" => text.replacen(",\"unit_price\"", ",\"quantity_packs\":3,\"unit_price\"", 1).into_bytes(),
            "unknown_type" => text.replace("\"order.placed\"", "\"order.modified\"").into_bytes(),
            "unknown_type_2" => {
                topic = 1;
                text.replace("\"order.placed\"", "\"delivery.returned\"").into_bytes()
            }
            "missing_product_code" => {
                let start = text.find(",\"product_code\"").expect("field present");
                let end = start + 1 + text[start + 1..].find(',').expect("next field");
                format!("{}{}", &text[..start], &text[end..]).into_bytes()
            }
            "missing_occurred_at" => {
                let start = text.find(",\"occurred_at\"").expect("field present");
                let end = start + 1 + text[start + 1..].find(',').expect("next field");
                format!("{}{}", &text[..start], &text[end..]).into_bytes()
            }
            "negative_quantity" => replace_value(&text, "quantity_packs", "\"-3\""),
            "zero_quantity" => replace_value(&text, "quantity_packs", "0"),
            "money_three_decimals" => replace_value(&text, "unit_price", "\"12.345\""),
            "special_service_not_bool" => {
                let mut v = text.into_bytes();
                v.pop();
                v.extend_from_slice(b",\"special_service\":\"yes\"}");
                v
            }
            "impossible_date" => {
                let d = local_date(t);
                let bad = format!("\"{}-02-30T10:15:00+08:00\"", chrono::Datelike::year(&d));
                replace_value(&text, "occurred_at", &bad)
            }
            "offset_missing" => {
                let start = text.find("+08:00").expect("offset present");
                format!("{}{}", &text[..start], &text[start + 6..]).into_bytes()
            }
            "missing_delivery_id" => {
                topic = 1;
                let mut out = Vec::new();
                out.extend_from_slice(b"{\"event_id\":\"");
                self.event_id(&mut out);
                out.extend_from_slice(b"\",\"type\":\"delivery.received\"");
                json::push_time(&mut out, &mut self.tf, t);
                out.extend_from_slice(format!(",\"order_id\":\"PO-{inst}-9400001\",\"quantity_packs\":5,\"distributor\":\"陕西秦川医药物流有限公司\"}}").as_bytes());
                out
            }
            _ => unreachable!("every kind is listed"),
        };
        let mut line = line;
        line.push(b'\n');
        self.push(t, topic, line);
        *self.counts.malformed_by_reason.entry(reason).or_default() += 1;
        *self.counts.malformed_by_kind.entry(kind).or_default() += 1;
    }
}

fn replace_value(text: &str, key: &str, value: &str) -> Vec<u8> {
    let pat = format!("\"{key}\":");
    let start = text.find(&pat).expect("field present") + pat.len();
    let rest = &text[start..];
    let end = if let Some(stripped) = rest.strip_prefix('"') {
        start + 1 + stripped.find('"').expect("closing quote") + 1
    } else {
        start + rest.find([',', '}']).expect("end of value")
    };
    format!("{}{}{}", &text[..start], value, &text[end..]).into_bytes()
}

/// Builds the mess lines for the run, sorted by (day, hour, topic).
pub fn build(ctx: &Ctx<'_>, cat: &Catalogue, expected_lines: u64) -> (Vec<MessLine>, MessCounts) {
    let mut g = Gen {
        ctx,
        rng: Rng::for_stream(ctx.seed, 20, 0),
        tf: TimeFormatter::new(),
        salt: mix(ctx.seed ^ 0x005E_ED0F_E7E7),
        next: 0,
        lines: Vec::new(),
        counts: MessCounts::default(),
    };
    let n_malformed = ((expected_lines as f64 * ctx.scale.malformed_rate) as usize).max(MALFORMED_KINDS.len());
    for k in 0..n_malformed {
        g.malformed(k);
    }
    // One line that is not UTF-8 (a producer with the wrong encoding).
    if let Some(t) = g.instant(HOUR) {
        let mut line = b"{\"event_id\":\"".to_vec();
        g.event_id(&mut line);
        line.extend_from_slice(b"\",\"type\":\"order.placed\",\"note\":\"");
        line.extend_from_slice(&[0xC9, 0xC2, 0xCE, 0xF7]); // 陕西 in GBK
        line.extend_from_slice(b"\"}\n");
        g.push(t, 0, line);
        *g.counts.malformed_by_reason.entry("malformed_json").or_default() += 1;
        *g.counts.malformed_by_kind.entry("not_utf8").or_default() += 1;
    }

    let known_inst: HashSet<&str> = ctx.pop.institutions.iter().map(|i| i.code.as_str()).collect();
    let known_prod: HashSet<&str> = cat.products.iter().map(|p| p.code.as_str()).collect();
    // Orders from an institution not (yet) in the reference data.
    for k in 0..3 {
        let Some(t) = g.instant(HOUR) else { break };
        let d = &ctx.pop.districts[g.rng.below(ctx.pop.districts.len() as u64) as usize];
        let code = format!("H{}9{:04}", d.code, 100 + k);
        if known_inst.contains(code.as_str()) {
            continue;
        }
        let p = g.random_product();
        let prod = cat.products[p].code.clone();
        let mut line = g.order_line(t, &code, &prod, "");
        line.push(b'\n');
        g.push(t, 0, line);
        g.counts.unknown_institution += 1;
    }
    // Orders for a product code not in the catalogue.
    for k in 0..2 {
        let Some(t) = g.instant(HOUR) else { break };
        let i = g.random_inst();
        let base = &cat.products[g.random_product()].code;
        let code = format!("{}{:05}", &base[..base.len() - 5], 99_990 + k);
        if known_prod.contains(code.as_str()) {
            continue;
        }
        let inst = ctx.pop.institutions[i].code.clone();
        let mut line = g.order_line(t, &inst, &code, "");
        line.push(b'\n');
        g.push(t, 0, line);
        g.counts.unknown_product += 1;
    }
    // Orphans: deliveries (two of them also accepted) of orders that never
    // come, at least 8 days before as_of so the 7-day orphan timeout has
    // passed by then.
    for k in 0..3u32 {
        let Some(t) = g.instant(8 * DAY) else { break };
        let i = g.random_inst();
        let inst = ctx.pop.institutions[i].code.clone();
        let distributor = ctx.pop.distributors[ctx.pop.institutions[i].distributor as usize].clone();
        let order = 9_000_001 + k;
        let delivery = 9_000_001 + k;
        let mut line = b"{\"event_id\":\"".to_vec();
        g.event_id(&mut line);
        line.extend_from_slice(b"\",\"type\":\"delivery.received\"");
        json::push_time(&mut line, &mut g.tf, t);
        line.extend_from_slice(
            format!(
                ",\"delivery_id\":\"DL-{inst}-{delivery:07}\",\"order_id\":\"PO-{inst}-{order:07}\",\"quantity_packs\":\"12\",\"distributor\":\"{distributor}\"}}\n"
            )
            .as_bytes(),
        );
        g.push(t, 1, line);
        g.counts.orphan_events += 1;
        g.counts.orphan_deliveries += 1;
        if k < 2 {
            let ta = t + 3 * HOUR;
            let mut line = b"{\"event_id\":\"".to_vec();
            g.event_id(&mut line);
            line.extend_from_slice(b"\",\"type\":\"delivery.accepted\"");
            json::push_time(&mut line, &mut g.tf, ta);
            line.extend_from_slice(
                format!(
                    ",\"delivery_id\":\"DL-{inst}-{delivery:07}\",\"order_id\":\"PO-{inst}-{order:07}\",\"accepted_quantity_packs\":12,\"amount\":\"345.60\"}}\n"
                )
                .as_bytes(),
            );
            g.push(ta, 1, line);
            g.counts.orphan_events += 1;
        }
    }
    // One message over the 64 KiB limit (a producer attaching a scan).
    if let Some(t) = g.instant(HOUR) {
        let d = &ctx.pop.districts[0];
        let code = format!("H{}99999", d.code);
        let prod = cat.products[0].code.clone();
        let remark = format!(",\"remark\":\"{}\"", "附件扫描件".repeat(5_000));
        let mut line = g.order_line(t, &code, &prod, &remark);
        line.push(b'\n');
        g.push(t, 0, line);
        g.counts.too_large += 1;
    }
    g.lines.sort_by_key(|l| (l.day, l.hour, l.topic));
    (g.lines, g.counts)
}
