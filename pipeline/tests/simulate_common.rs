//! Shared by the `simulate_*` tests: runs the built binary's `simulate`.
//!
//! (A bin crate has no library to call, so the tests drive the binary.)

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh output directory under the system temp dir, removed on drop.
pub struct TempOut(pub PathBuf);

impl TempOut {
    pub fn new(name: &str) -> TempOut {
        let dir = std::env::temp_dir().join(format!("vbp-simulate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempOut(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempOut {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `vbp-watch simulate --out DIR --scale small --seed SEED [extra]`.
pub fn simulate(out: &Path, seed: u64, extra: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_vbp-watch"))
        .arg("simulate")
        .arg("--out")
        .arg(out)
        .args(["--scale", "small", "--seed", &seed.to_string()])
        .args(extra)
        .output()
        .expect("run vbp-watch simulate");
    assert!(
        status.status.success(),
        "simulate failed: {}\n{}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
}

pub const FILES: &[&str] = &[
    "reference/divisions.csv",
    "reference/institutions.csv",
    "reference/products.csv",
    "reference/agreements.csv",
    "reference/calendar.csv",
    "reference/exemptions.csv",
    "reference/enterprises.csv",
    "events/orders.ndjson",
    "events/deliveries.ndjson",
    "events/payments.ndjson",
    "events/complaints.ndjson",
    "planted.json",
];

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn planted(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(&dir.join("planted.json"))).expect("planted.json is JSON")
}

/// A JSON object that refuses repeated keys (serde_json's `Value` keeps
/// the last silently; SPEC-conforming decoders reject the message).
struct StrictObject(serde_json::Map<String, serde_json::Value>);

impl<'de> serde::Deserialize<'de> for StrictObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<StrictObject, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                    if out.insert(k.clone(), v).is_some() {
                        return Err(serde::de::Error::custom(format!("repeated key {k}")));
                    }
                }
                Ok(StrictObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Is this line one valid event of SPEC §4 (size, JSON, type, fields,
/// values)? Returns the object.
pub fn valid_event(line: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    if line.len() > 65_536 {
        return None;
    }
    let StrictObject(obj) = serde_json::from_slice(line).ok()?;
    let o = &obj;
    let s = |k: &str| o.get(k).and_then(|x| x.as_str());
    s("event_id")?;
    let t = s("occurred_at")?;
    chrono::DateTime::parse_from_rfc3339(t).ok()?;
    if !t.ends_with("+08:00") {
        return None;
    }
    let dec = |k: &str, positive: bool, money: bool| -> Option<()> {
        let x = o.get(k)?;
        let text = match x {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let d: rust_decimal::Decimal = text.parse().ok()?;
        if d.is_sign_negative() || (positive && d.is_zero()) || (money && d.normalize().scale() > 2) {
            return None;
        }
        Some(())
    };
    let ty = s("type")?;
    match ty {
        "order.placed" => {
            s("order_id")?;
            s("institution_code")?;
            s("product_code")?;
            dec("quantity_packs", true, false)?;
            dec("unit_price", false, true)?;
            if let Some(x) = o.get("special_service") {
                x.as_bool()?;
            }
        }
        "order.cancelled" => {
            s("order_id")?;
            dec("quantity_packs", true, false)?;
        }
        "delivery.received" => {
            s("delivery_id")?;
            s("order_id")?;
            dec("quantity_packs", true, false)?;
            s("distributor")?;
        }
        "delivery.accepted" => {
            s("delivery_id")?;
            s("order_id")?;
            dec("accepted_quantity_packs", false, false)?;
            dec("amount", false, true)?;
        }
        "payment.made" => {
            s("payment_id")?;
            s("institution_code")?;
            s("delivery_id")?;
            dec("amount", true, true)?;
        }
        "complaint.filed" => {
            s("complaint_id")?;
            s("institution_code")?;
            s("product_code")?;
            matches!(s("kind")?, "not_delivered" | "short_delivery" | "quality" | "other").then_some(())?;
            if let Some(text) = o.get("text") {
                (text.as_str()?.chars().count() <= 2_000).then_some(())?;
            }
        }
        "complaint.replied" => {
            s("complaint_id")?;
            chrono::NaiveDate::parse_from_str(s("promised_by")?, "%Y-%m-%d").ok()?;
        }
        "complaint.resolved" => {
            s("complaint_id")?;
        }
        _ => return None,
    }
    Some(obj)
}
