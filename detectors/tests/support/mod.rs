//! A tiny province for rule tests: reference CSVs written to a temp dir and
//! loaded through the real loader, and event builders.
#![allow(dead_code)]

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use vbp_detectors::alert::{Alert, AlertName, Severity};
use vbp_detectors::config::DetectorConfig;
use vbp_detectors::reference::ReferenceData;
use vbp_detectors::rules::evaluate_all;
use vbp_detectors::state::{Outcome, State};
use vbp_schemas::*;

pub const DIVISIONS: &str = "division_code,name
610000,陕西省
610300,宝鸡市
610302,渭滨区
610305,凤翔区
610100,西安市
610113,雁塔区
";

pub const INSTITUTIONS: &str = "institution_code,name,division_code,level
H61030500001,凤翔区人民医院,610305,secondary
H61030500002,凤翔区中医医院,610305,secondary
H61030200003,渭滨区人民医院,610302,secondary
H61030200004,宝鸡市中心医院,610302,tertiary
H61011300005,雁塔区医院,610113,secondary
";

/// Group G1 (阿托伐他汀钙片): selected SEL (family F1, 10 tablets a pack at
/// 0.50 yuan a tablet), non-selected NS (0.90 a tablet), backup BAK, and
/// CHEAP (0.40 a tablet, below the selected price). Group G2: selected
/// consumable STENT.
pub const PRODUCTS: &str = "product_code,generic_name,dosage_form,spec,enterprise,category,batch,group_id,family_id,selected,backup_supplier,base_units_per_pack,selected_price_per_base_unit
SEL,阿托伐他汀钙片,片剂,20mg*10,甲制药,drug,第十批国采,G1,F1,true,false,10,0.50
SEL28,阿托伐他汀钙片,片剂,20mg*28,甲制药,drug,第十批国采,G1,F1,true,false,28,0.50
NS,阿托伐他汀钙片,片剂,20mg*10,乙制药,drug,,G1,,false,false,10,
BAK,阿托伐他汀钙片,片剂,20mg*10,丙制药,drug,,G1,,false,true,10,
CHEAP,阿托伐他汀钙片,片剂,20mg*10,丁制药,drug,,G1,,false,false,10,
STENT,冠脉支架,支架,3.0*18mm,戊医疗,consumable,国家组织冠脉支架集采,G2,F2,true,false,1,700
SUB,瑞舒伐他汀钙片,片剂,10mg*10,己制药,drug,,G3,,false,false,10,
PEN,注射用青霉素钠,注射剂,0.5g*10,庚制药,drug,第九批国采,G4,F4,true,false,10,0.0125
";

/// SUB (another generic name, group G3) can replace G1's statins.
pub const SUBSTITUTES: &str = "group_id,product_code
G1,SUB
";

pub const ENTERPRISES: &str = "enterprise,contact,phone
甲制药,王经理,029-88886666
";

pub const AGREEMENTS: &str = "agreement_id,institution_code,family_id,period_start,period_end,agreed_base_units
A1,H61030500001,F1,2026-01-01,2026-12-31,36500
A2,H61030500002,F1,2026-12-31,2027-12-30,1000
A3,H61030200003,F2,2026-01-01,2026-12-31,100
";

pub const EXEMPTIONS: &str = "exemption_id,institution_code,group_id,valid_from,valid_to,reason
E1,H61030500001,G1,2026-03-10,2026-03-12,中选企业供应不足经核实
";

pub fn reference() -> ReferenceData {
    reference_with(AGREEMENTS)
}

pub fn reference_with(agreements: &str) -> ReferenceData {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "vbp-rules-{}-{}",
        std::process::id(),
        std::thread::current().name().unwrap_or("t").replace("::", "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        ("divisions.csv", DIVISIONS),
        ("institutions.csv", INSTITUTIONS),
        ("products.csv", PRODUCTS),
        ("agreements.csv", agreements),
        ("exemptions.csv", EXEMPTIONS),
        ("calendar.csv", "date,kind\n"),
        ("substitutes.csv", SUBSTITUTES),
        ("enterprises.csv", ENTERPRISES),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    ReferenceData::load(&dir).unwrap_or_else(|e| panic!("fixture does not load:\n{e}"))
}

pub fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn d(s: &str) -> rust_decimal::Decimal {
    s.parse().unwrap()
}

fn event(id: &str, at: &str, body: EventBody) -> Event {
    Event { event_id: id.to_string(), occurred_at: t(at), body }
}

pub fn order(id: &str, at: &str, inst: &str, product: &str, packs: &str, price: &str) -> Event {
    event(
        &format!("e-{id}"),
        at,
        EventBody::OrderPlaced(OrderPlaced {
            order_id: id.into(),
            institution_code: inst.into(),
            product_code: product.into(),
            quantity_packs: d(packs),
            unit_price: d(price),
            special_service: false,
        }),
    )
}

pub fn special(mut e: Event) -> Event {
    if let EventBody::OrderPlaced(o) = &mut e.body {
        o.special_service = true;
    }
    e
}

pub fn cancel(order_id: &str, at: &str, packs: &str) -> Event {
    event(
        &format!("c-{order_id}-{at}"),
        at,
        EventBody::OrderCancelled(OrderCancelled { order_id: order_id.into(), quantity_packs: d(packs) }),
    )
}

pub fn received(delivery: &str, order_id: &str, at: &str, packs: &str) -> Event {
    event(
        &format!("r-{delivery}"),
        at,
        EventBody::DeliveryReceived(DeliveryReceived {
            delivery_id: delivery.into(),
            order_id: order_id.into(),
            quantity_packs: d(packs),
            distributor: "陕西医药配送".into(),
        }),
    )
}

pub fn accepted(delivery: &str, order_id: &str, at: &str, packs: &str, amount: &str) -> Event {
    event(
        &format!("a-{delivery}"),
        at,
        EventBody::DeliveryAccepted(DeliveryAccepted {
            delivery_id: delivery.into(),
            order_id: order_id.into(),
            accepted_quantity_packs: d(packs),
            amount: d(amount),
        }),
    )
}

pub fn paid(payment: &str, inst: &str, delivery: &str, at: &str, amount: &str) -> Event {
    event(
        &format!("p-{payment}"),
        at,
        EventBody::PaymentMade(PaymentMade {
            payment_id: payment.into(),
            institution_code: inst.into(),
            delivery_id: delivery.into(),
            amount: d(amount),
        }),
    )
}

pub fn complaint(id: &str, at: &str, inst: &str, product: &str, kind: ComplaintKind, text: Option<&str>) -> Event {
    event(
        &format!("e-{id}"),
        at,
        EventBody::ComplaintFiled(ComplaintFiled {
            complaint_id: id.into(),
            institution_code: inst.into(),
            product_code: product.into(),
            kind,
            text: text.map(Into::into),
        }),
    )
}

pub fn replied(id: &str, at: &str, promised_by: &str) -> Event {
    let promised_by = chrono::NaiveDate::parse_from_str(promised_by, "%Y-%m-%d").unwrap();
    event(&format!("e-{id}-reply-{at}"), at, EventBody::ComplaintReplied(ComplaintReplied { complaint_id: id.into(), promised_by }))
}

pub fn resolved(id: &str, at: &str) -> Event {
    event(&format!("e-{id}-resolved-{at}"), at, EventBody::ComplaintResolved(ComplaintResolved { complaint_id: id.into() }))
}

/// A state built from events that must all apply.
pub fn state(reference: &ReferenceData, events: &[Event]) -> State {
    let mut state = State::new(reference);
    for e in events {
        let outcome = state.apply(reference, e);
        assert_eq!(outcome, Outcome::Applied, "event {} did not apply", e.event_id);
    }
    state
}

/// Alerts holding at `at` with default thresholds.
pub fn alerts_at(reference: &ReferenceData, state: &State, at: &str) -> Vec<Alert> {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(evaluate_all(reference, state, &DetectorConfig::default(), t(at))).unwrap()
}

/// (alertname, severity) of the alerts of one name.
pub fn of(alerts: &[Alert], name: AlertName) -> Vec<(Severity, Alert)> {
    alerts.iter().filter(|a| a.name == name).map(|a| (a.severity, a.clone())).collect()
}

pub fn severities(alerts: &[Alert], name: AlertName) -> Vec<Severity> {
    of(alerts, name).into_iter().map(|(s, _)| s).collect()
}
