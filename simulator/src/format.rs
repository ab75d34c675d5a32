//! One event as an NDJSON line, written by hand (see `json`).

use super::clock::TimeFormatter;
use super::events::{Ctx, Ev, Kind};
use super::json;
use super::rng::mix;

fn push_id(out: &mut Vec<u8>, prefix: &[u8], inst_code: &str, n: u32) {
    out.push(b'"');
    out.extend_from_slice(prefix);
    out.extend_from_slice(inst_code.as_bytes());
    out.push(b'-');
    json::push_padded(out, u64::from(n), 7);
    out.push(b'"');
}

/// One event as a JSON line (with the newline).
pub(super) fn format_event(ctx: &Ctx<'_>, tf: &mut TimeFormatter, salt: u64, out: &mut Vec<u8>, ev: &Ev) {
    let inst_code = ctx.pop.institutions[ev.inst as usize].code.as_str();
    out.extend_from_slice(b"{\"event_id\":\"");
    json::push_uuid(out, mix(ev.seq ^ salt), mix(ev.seq.wrapping_add(salt)));
    out.extend_from_slice(b"\",\"type\":\"");
    let ty: &[u8] = match ev.kind {
        Kind::Placed { .. } => b"order.placed",
        Kind::Cancelled { .. } => b"order.cancelled",
        Kind::Received { .. } => b"delivery.received",
        Kind::Accepted { .. } => b"delivery.accepted",
        Kind::Payment { .. } => b"payment.made",
    };
    out.extend_from_slice(ty);
    out.push(b'"');
    json::push_time(out, tf, ev.t);
    match ev.kind {
        Kind::Placed { order, product, qty, price_fen, special } => {
            json::push_key(out, "order_id", false);
            push_id(out, b"PO-", inst_code, order);
            json::push_key(out, "institution_code", false);
            json::push_plain_str(out, inst_code);
            json::push_key(out, "product_code", false);
            json::push_plain_str(out, &ctx.cat.products[product as usize].code);
            json::push_key(out, "quantity_packs", false);
            json::push_qty(out, qty, ev.qty_str);
            json::push_key(out, "unit_price", false);
            out.push(b'"');
            json::push_money(out, price_fen);
            out.push(b'"');
            match special {
                1 => out.extend_from_slice(b",\"special_service\":false"),
                2 => out.extend_from_slice(b",\"special_service\":true"),
                _ => {}
            }
        }
        Kind::Cancelled { order, qty } => {
            json::push_key(out, "order_id", false);
            push_id(out, b"PO-", inst_code, order);
            json::push_key(out, "quantity_packs", false);
            json::push_qty(out, qty, ev.qty_str);
        }
        Kind::Received { order, delivery, qty, distributor } => {
            json::push_key(out, "delivery_id", false);
            push_id(out, b"DL-", inst_code, delivery);
            json::push_key(out, "order_id", false);
            push_id(out, b"PO-", inst_code, order);
            json::push_key(out, "quantity_packs", false);
            json::push_qty(out, qty, ev.qty_str);
            json::push_key(out, "distributor", false);
            json::push_plain_str(out, &ctx.pop.distributors[distributor as usize]);
        }
        Kind::Accepted { order, delivery, qty, amount_fen } => {
            json::push_key(out, "delivery_id", false);
            push_id(out, b"DL-", inst_code, delivery);
            json::push_key(out, "order_id", false);
            push_id(out, b"PO-", inst_code, order);
            json::push_key(out, "accepted_quantity_packs", false);
            json::push_qty(out, qty, ev.qty_str);
            json::push_key(out, "amount", false);
            out.push(b'"');
            json::push_money(out, amount_fen);
            out.push(b'"');
        }
        Kind::Payment { payment, delivery, amount_fen } => {
            json::push_key(out, "payment_id", false);
            push_id(out, b"PY-", inst_code, payment);
            json::push_key(out, "institution_code", false);
            json::push_plain_str(out, inst_code);
            json::push_key(out, "delivery_id", false);
            push_id(out, b"DL-", inst_code, delivery);
            json::push_key(out, "amount", false);
            out.push(b'"');
            json::push_money(out, amount_fen);
            out.push(b'"');
        }
    }
    out.extend_from_slice(b"}\n");
}
