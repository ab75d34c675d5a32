//! The typed events of SPEC §4.
//!
//! These types are what the decoder produces and what the engine consumes.
//! They mirror the JSON Schema files in `schemas/json/` field for field; the
//! schema tests keep the two in step.

use chrono::{DateTime, FixedOffset};
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

/// The five event types of SPEC §4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    OrderPlaced(OrderPlaced),
    OrderCancelled(OrderCancelled),
    DeliveryReceived(DeliveryReceived),
    DeliveryAccepted(DeliveryAccepted),
    PaymentMade(PaymentMade),
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

/// The `type` field's values, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    OrderPlaced,
    OrderCancelled,
    DeliveryReceived,
    DeliveryAccepted,
    PaymentMade,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        EventType::OrderPlaced,
        EventType::OrderCancelled,
        EventType::DeliveryReceived,
        EventType::DeliveryAccepted,
        EventType::PaymentMade,
    ];

    /// The wire name, as in the `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderPlaced => "order.placed",
            EventType::OrderCancelled => "order.cancelled",
            EventType::DeliveryReceived => "delivery.received",
            EventType::DeliveryAccepted => "delivery.accepted",
            EventType::PaymentMade => "payment.made",
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
            EventBody::PaymentMade(_) => None,
        }
    }
}
