//! The typed events of SPEC §4.
//!
//! These types are what the decoder produces and what the engine consumes.
//! They mirror the JSON Schema files in `schemas/json/` field for field; the
//! schema tests keep the two in step.

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;

/// One accepted event: the fields every event has, and its typed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unique id; a repeated id is counted and ignored by the engine.
    pub event_id: String,
    /// When it happened, with the offset the producer wrote (mandatory).
    pub occurred_at: DateTime<FixedOffset>,
    pub body: EventBody,
}

/// The eight event types of SPEC §4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    OrderPlaced(OrderPlaced),
    OrderCancelled(OrderCancelled),
    DeliveryReceived(DeliveryReceived),
    DeliveryAccepted(DeliveryAccepted),
    PaymentMade(PaymentMade),
    ComplaintFiled(ComplaintFiled),
    ComplaintReplied(ComplaintReplied),
    ComplaintResolved(ComplaintResolved),
}

/// `order.placed`: an institution orders `quantity_packs` of one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPlaced {
    pub order_id: String,
    pub institution_code: String,
    pub product_code: String,
    /// > 0.
    pub quantity_packs: Decimal,
    /// ≥ 0, yuan per pack, at most 2 decimal places.
    pub unit_price: Decimal,
    /// 特需医疗 / 国际医疗 use: excluded from every execution statistic.
    pub special_service: bool,
}

/// `order.cancelled`: part or all of what is still undelivered is withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCancelled {
    pub order_id: String,
    /// > 0, at most what is still undelivered (checked by the engine).
    pub quantity_packs: Decimal,
}

/// `delivery.received`: the distributor hands over packs of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceived {
    pub delivery_id: String,
    pub order_id: String,
    /// > 0.
    pub quantity_packs: Decimal,
    pub distributor: String,
}

/// `delivery.accepted`: the hospital accepts a delivery (验收合格); this
/// starts the payment clock (次月底).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAccepted {
    pub delivery_id: String,
    pub order_id: String,
    /// ≥ 0.
    pub accepted_quantity_packs: Decimal,
    /// Yuan owed for the accepted packs, ≥ 0, at most 2 decimal places.
    pub amount: Decimal,
}

/// `payment.made`: the institution pays (part of) what a delivery owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMade {
    pub payment_id: String,
    pub institution_code: String,
    pub delivery_id: String,
    /// > 0, at most 2 decimal places.
    pub amount: Decimal,
}

/// `complaint.filed`: an institution reports a supply problem with one
/// product on the platform's exchange module (seed 002 二(八), 004 四(二)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintFiled {
    pub complaint_id: String,
    pub institution_code: String,
    pub product_code: String,
    pub kind: ComplaintKind,
    /// What the institution wrote, at most [`ComplaintFiled::MAX_TEXT_CHARS`]
    /// characters; `None` when absent or null.
    pub text: Option<String>,
}

impl ComplaintFiled {
    /// SPEC §4: `text` holds at most 2,000 characters.
    pub const MAX_TEXT_CHARS: usize = 2_000;
}

/// What a complaint is about. Serialized by its wire name (checkpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintKind {
    NotDelivered,
    ShortDelivery,
    Quality,
    Other,
}

impl ComplaintKind {
    pub const ALL: [ComplaintKind; 4] =
        [ComplaintKind::NotDelivered, ComplaintKind::ShortDelivery, ComplaintKind::Quality, ComplaintKind::Other];

    /// The wire name, as in the `kind` field.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintKind::NotDelivered => "not_delivered",
            ComplaintKind::ShortDelivery => "short_delivery",
            ComplaintKind::Quality => "quality",
            ComplaintKind::Other => "other",
        }
    }

    /// The words a bureau reads.
    pub fn chinese(self) -> &'static str {
        match self {
            ComplaintKind::NotDelivered => "未配送",
            ComplaintKind::ShortDelivery => "配送不足",
            ComplaintKind::Quality => "质量问题",
            ComplaintKind::Other => "其他",
        }
    }

    pub fn from_wire(s: &str) -> Option<ComplaintKind> {
        ComplaintKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// `complaint.replied`: the enterprise answers and commits to a fix date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintReplied {
    pub complaint_id: String,
    /// The fix date the enterprise commits to (a local date).
    pub promised_by: NaiveDate,
}

/// `complaint.resolved`: the problem is fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintResolved {
    pub complaint_id: String,
}

/// The `type` field's values, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    OrderPlaced,
    OrderCancelled,
    DeliveryReceived,
    DeliveryAccepted,
    PaymentMade,
    ComplaintFiled,
    ComplaintReplied,
    ComplaintResolved,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::OrderPlaced,
        EventType::OrderCancelled,
        EventType::DeliveryReceived,
        EventType::DeliveryAccepted,
        EventType::PaymentMade,
        EventType::ComplaintFiled,
        EventType::ComplaintReplied,
        EventType::ComplaintResolved,
    ];

    /// The wire name, as in the `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderPlaced => "order.placed",
            EventType::OrderCancelled => "order.cancelled",
            EventType::DeliveryReceived => "delivery.received",
            EventType::DeliveryAccepted => "delivery.accepted",
            EventType::PaymentMade => "payment.made",
            EventType::ComplaintFiled => "complaint.filed",
            EventType::ComplaintReplied => "complaint.replied",
            EventType::ComplaintResolved => "complaint.resolved",
        }
    }

    pub fn from_wire(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The topic an event of this type is published on (SPEC §4).
    pub fn topic(self) -> &'static str {
        match self {
            EventType::OrderPlaced | EventType::OrderCancelled => "vbp.orders",
            EventType::DeliveryReceived | EventType::DeliveryAccepted => "vbp.deliveries",
            EventType::PaymentMade => "vbp.payments",
            EventType::ComplaintFiled | EventType::ComplaintReplied | EventType::ComplaintResolved => "vbp.complaints",
        }
    }
}

impl EventBody {
    pub fn event_type(&self) -> EventType {
        match self {
            EventBody::OrderPlaced(_) => EventType::OrderPlaced,
            EventBody::OrderCancelled(_) => EventType::OrderCancelled,
            EventBody::DeliveryReceived(_) => EventType::DeliveryReceived,
            EventBody::DeliveryAccepted(_) => EventType::DeliveryAccepted,
            EventBody::PaymentMade(_) => EventType::PaymentMade,
            EventBody::ComplaintFiled(_) => EventType::ComplaintFiled,
            EventBody::ComplaintReplied(_) => EventType::ComplaintReplied,
            EventBody::ComplaintResolved(_) => EventType::ComplaintResolved,
        }
    }

    /// The order this event refers to, if any: the engine holds an event
    /// whose order has not arrived yet (SPEC §4 orphans).
    pub fn order_id(&self) -> Option<&str> {
        match self {
            EventBody::OrderPlaced(e) => Some(&e.order_id),
            EventBody::OrderCancelled(e) => Some(&e.order_id),
            EventBody::DeliveryReceived(e) => Some(&e.order_id),
            EventBody::DeliveryAccepted(e) => Some(&e.order_id),
            EventBody::PaymentMade(_)
            | EventBody::ComplaintFiled(_)
            | EventBody::ComplaintReplied(_)
            | EventBody::ComplaintResolved(_) => None,
        }
    }
}
