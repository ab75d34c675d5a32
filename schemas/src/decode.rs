//! Bytes → [`Event`] or [`Rejection`]: the gate every input passes (SPEC §4).
//!
//! The decoder is the only place raw producer bytes are interpreted, so it
//! must accept exactly what `json/event.schema.json` accepts (the schema
//! tests hold the two together) and it must never panic: a panic here would
//! stop the pipeline, and SPEC §4 says a bad input never does.
//!
//! Checks, in order, each with its reason code:
//!
//! 1. size ([`Reason::TooLarge`]), before anything is parsed, so a huge
//!    message costs nothing;
//! 2. UTF-8, one JSON object, nothing after it, no repeated key
//!    ([`Reason::MalformedJson`]);
//! 3. `type` is one of the eight ([`Reason::UnknownType`]);
//! 4. every field the type requires is present and not null
//!    ([`Reason::MissingField`]), checked field by field in SPEC order
//!    together with
//! 5. its value ([`Reason::BadValue`]).
//!
//! Fields a type does not use are ignored whatever they hold, so producers
//! can add fields without breaking this consumer (forward compatibility).
//!
//! Speed: the object is deserialized once into [`RawEvent`], a flat struct
//! of borrowed [`RawValue`]s — no tree, no buffering of an internally tagged
//! enum — and each field is then interpreted according to `type`. Strings
//! without escapes are sliced out of the input; decimals are parsed from the
//! token text by [`decimal::parse_decimal`], never through `f64`.

mod decimal;
mod timestamp;

use std::borrow::Cow;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::{
    ComplaintFiled, ComplaintKind, ComplaintReplied, ComplaintResolved, DeliveryAccepted,
    DeliveryReceived, Event, EventBody, EventType, OrderCancelled, OrderPlaced, PaymentMade,
};
use crate::reason::{Reason, Rejection};
use decimal::{parse_decimal, DecimalError};

/// Limits applied before any parsing, and the instants an event may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Larger messages are rejected as `too_large` without being parsed. An
    /// event is ~250 bytes; the default leaves room for generous extra
    /// fields while bounding the work one message can cause.
    pub max_message_bytes: usize,
    /// `occurred_at` outside it is a `bad_value`.
    pub occurred_at: OccurredWindow,
}

impl DecodeLimits {
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 65_536;
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_message_bytes: Self::DEFAULT_MAX_MESSAGE_BYTES,
            occurred_at: OccurredWindow::default(),
        }
    }
}

/// The instants `occurred_at` may take, both ends included. A year such as
/// 1900 or 9999 is a typing error that would otherwise make replay
/// evaluate every midnight since, or orphan what waits in live mode.
///
/// Default: from 2000-01-01 00:00 to 2100-01-01 00:00 China Standard Time,
/// fixed, so a replay of the same files gives the same answer on any day;
/// live mode bounds the end by the wall clock instead
/// ([`Latest::AheadOfNow`], one day ahead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OccurredWindow {
    pub earliest: chrono::DateTime<chrono::Utc>,
    pub latest: Latest,
}

/// The end of an [`OccurredWindow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latest {
    /// A fixed instant.
    At(chrono::DateTime<chrono::Utc>),
    /// The wall clock at decoding plus this much (producers' clocks drift).
    AheadOfNow(chrono::TimeDelta),
}

impl OccurredWindow {
    /// 2000-01-01T00:00:00+08:00.
    pub const DEFAULT_EARLIEST_SECONDS: i64 = 946_656_000;
    /// 2100-01-01T00:00:00+08:00.
    pub const DEFAULT_LATEST_SECONDS: i64 = 4_102_416_000;

    /// Live mode's window: the default start, and one day past the wall clock.
    pub fn live() -> Self {
        OccurredWindow {
            latest: Latest::AheadOfNow(chrono::TimeDelta::days(1)),
            ..OccurredWindow::default()
        }
    }

    /// Why `at` is outside the window, if it is.
    fn check(&self, at: chrono::DateTime<chrono::FixedOffset>) -> Result<(), String> {
        let latest = match self.latest {
            Latest::At(latest) => latest,
            Latest::AheadOfNow(ahead) => chrono::Utc::now() + ahead,
        };
        let cst = |t: chrono::DateTime<chrono::Utc>| match chrono::FixedOffset::east_opt(8 * 3600) {
            Some(cst) => t.with_timezone(&cst).to_rfc3339(),
            None => t.to_rfc3339(),
        };
        if at < self.earliest || at > latest {
            let (earliest, latest) = (cst(self.earliest), cst(latest));
            return Err(format!("must lie from {earliest} to {latest}"));
        }
        Ok(())
    }
}

impl Default for OccurredWindow {
    fn default() -> Self {
        let instant = |seconds| chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default();
        OccurredWindow {
            earliest: instant(Self::DEFAULT_EARLIEST_SECONDS),
            latest: Latest::At(instant(Self::DEFAULT_LATEST_SECONDS)),
        }
    }
}

/// Decodes one message (a Kafka record value or an NDJSON line, with or
/// without its line ending) into a typed [`Event`].
///
/// Never panics, whatever the bytes; every failure is a [`Rejection`] whose
/// detail names the field, the rule and the offending value.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Event, Rejection> {
    check_size(bytes, limits)?;
    let text = std::str::from_utf8(bytes).map_err(|e| {
        malformed(format!(
            "not UTF-8: invalid byte sequence at byte offset {}",
            e.valid_up_to()
        ))
    })?;
    let raw = parse_object(text)?;
    let event_type = event_type(raw.kind)?;
    let event_id = text_field("event_id", COMMON, raw.event_id)?;
    let occurred_at = occurred_at_field(raw.occurred_at, &limits.occurred_at)?;
    let body = match event_type {
        EventType::OrderPlaced => EventBody::OrderPlaced(order_placed(&raw)?),
        EventType::OrderCancelled => EventBody::OrderCancelled(order_cancelled(&raw)?),
        EventType::DeliveryReceived => EventBody::DeliveryReceived(delivery_received(&raw)?),
        EventType::DeliveryAccepted => EventBody::DeliveryAccepted(delivery_accepted(&raw)?),
        EventType::PaymentMade => EventBody::PaymentMade(payment_made(&raw)?),
        EventType::ComplaintFiled => EventBody::ComplaintFiled(complaint_filed(&raw)?),
        EventType::ComplaintReplied => EventBody::ComplaintReplied(complaint_replied(&raw)?),
        EventType::ComplaintResolved => EventBody::ComplaintResolved(complaint_resolved(&raw)?),
    };
    Ok(Event {
        event_id,
        occurred_at,
        body,
    })
}

/// Every field any event type uses, as unparsed JSON. `None` when absent or
/// `null` (serde maps `null` to `None`), which SPEC treats alike.
///
/// Every field is a [`RawValue`], strings included, so that a field of the
/// wrong JSON type is reported as `bad_value` for that field (not as a parse
/// error), and a field some *other* type uses is ignored whatever it holds.
#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow)]
    event_id: Option<&'a RawValue>,
    #[serde(borrow, rename = "type")]
    kind: Option<&'a RawValue>,
    #[serde(borrow)]
    occurred_at: Option<&'a RawValue>,
    #[serde(borrow)]
    order_id: Option<&'a RawValue>,
    #[serde(borrow)]
    institution_code: Option<&'a RawValue>,
    #[serde(borrow)]
    product_code: Option<&'a RawValue>,
    #[serde(borrow)]
    quantity_packs: Option<&'a RawValue>,
    #[serde(borrow)]
    unit_price: Option<&'a RawValue>,
    #[serde(borrow)]
    special_service: Option<&'a RawValue>,
    #[serde(borrow)]
    delivery_id: Option<&'a RawValue>,
    #[serde(borrow)]
    distributor: Option<&'a RawValue>,
    #[serde(borrow)]
    accepted_quantity_packs: Option<&'a RawValue>,
    #[serde(borrow)]
    amount: Option<&'a RawValue>,
    #[serde(borrow)]
    payment_id: Option<&'a RawValue>,
    #[serde(borrow)]
    complaint_id: Option<&'a RawValue>,
    /// A complaint's `kind` (the event's own kind is `type`).
    #[serde(borrow, rename = "kind")]
    complaint_kind: Option<&'a RawValue>,
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    #[serde(borrow)]
    promised_by: Option<&'a RawValue>,
}

// ---------------------------------------------------------------------------
// Per-type assembly: which fields each type requires, in SPEC §4 order.

/// Used in "required for …" messages for the fields every event has.
const COMMON: &str = "every event";

fn order_placed(raw: &RawEvent<'_>) -> Result<OrderPlaced, Rejection> {
    const BY: &str = "order.placed";
    Ok(OrderPlaced {
        order_id: text_field("order_id", BY, raw.order_id)?,
        institution_code: text_field("institution_code", BY, raw.institution_code)?,
        product_code: text_field("product_code", BY, raw.product_code)?,
        quantity_packs: decimal_field("quantity_packs", BY, raw.quantity_packs, Rule::QUANTITY)?,
        unit_price: decimal_field("unit_price", BY, raw.unit_price, Rule::MONEY)?,
        special_service: flag_field("special_service", raw.special_service)?,
    })
}

fn order_cancelled(raw: &RawEvent<'_>) -> Result<OrderCancelled, Rejection> {
    const BY: &str = "order.cancelled";
    Ok(OrderCancelled {
        order_id: text_field("order_id", BY, raw.order_id)?,
        quantity_packs: decimal_field("quantity_packs", BY, raw.quantity_packs, Rule::QUANTITY)?,
    })
}

fn delivery_received(raw: &RawEvent<'_>) -> Result<DeliveryReceived, Rejection> {
    const BY: &str = "delivery.received";
    Ok(DeliveryReceived {
        delivery_id: text_field("delivery_id", BY, raw.delivery_id)?,
        order_id: text_field("order_id", BY, raw.order_id)?,
        quantity_packs: decimal_field("quantity_packs", BY, raw.quantity_packs, Rule::QUANTITY)?,
        distributor: text_field("distributor", BY, raw.distributor)?,
    })
}

fn delivery_accepted(raw: &RawEvent<'_>) -> Result<DeliveryAccepted, Rejection> {
    const BY: &str = "delivery.accepted";
    Ok(DeliveryAccepted {
        delivery_id: text_field("delivery_id", BY, raw.delivery_id)?,
        order_id: text_field("order_id", BY, raw.order_id)?,
        accepted_quantity_packs: decimal_field(
            "accepted_quantity_packs",
            BY,
            raw.accepted_quantity_packs,
            Rule::QUANTITY_OR_ZERO,
        )?,
        amount: decimal_field("amount", BY, raw.amount, Rule::MONEY)?,
    })
}

fn payment_made(raw: &RawEvent<'_>) -> Result<PaymentMade, Rejection> {
    const BY: &str = "payment.made";
    Ok(PaymentMade {
        payment_id: text_field("payment_id", BY, raw.payment_id)?,
        institution_code: text_field("institution_code", BY, raw.institution_code)?,
        delivery_id: text_field("delivery_id", BY, raw.delivery_id)?,
        amount: decimal_field("amount", BY, raw.amount, Rule::POSITIVE_MONEY)?,
    })
}

fn complaint_filed(raw: &RawEvent<'_>) -> Result<ComplaintFiled, Rejection> {
    const BY: &str = "complaint.filed";
    Ok(ComplaintFiled {
        complaint_id: text_field("complaint_id", BY, raw.complaint_id)?,
        institution_code: text_field("institution_code", BY, raw.institution_code)?,
        product_code: text_field("product_code", BY, raw.product_code)?,
        kind: kind_field(raw.complaint_kind)?,
        text: complaint_text_field(raw.text)?,
    })
}

fn complaint_replied(raw: &RawEvent<'_>) -> Result<ComplaintReplied, Rejection> {
    const BY: &str = "complaint.replied";
    Ok(ComplaintReplied {
        complaint_id: text_field("complaint_id", BY, raw.complaint_id)?,
        promised_by: date_field("promised_by", BY, raw.promised_by)?,
    })
}

fn complaint_resolved(raw: &RawEvent<'_>) -> Result<ComplaintResolved, Rejection> {
    const BY: &str = "complaint.resolved";
    Ok(ComplaintResolved {
        complaint_id: text_field("complaint_id", BY, raw.complaint_id)?,
    })
}

// ---------------------------------------------------------------------------
// Envelope checks.

fn check_size(bytes: &[u8], limits: &DecodeLimits) -> Result<(), Rejection> {
    if bytes.len() > limits.max_message_bytes {
        return Err(Rejection::new(
            Reason::TooLarge,
            format!(
                "message is {} bytes, more than the limit of {} bytes; not parsed",
                bytes.len(),
                limits.max_message_bytes
            ),
        ));
    }
    Ok(())
}

/// Parses the one JSON object the message must be.
///
/// The first-byte check matters beyond the message: serde's derived
/// `Deserialize` for a struct also accepts a JSON *array* of its fields in
/// order, which is not an event.
fn parse_object(text: &str) -> Result<RawEvent<'_>, Rejection> {
    let start = text.trim_start_matches([' ', '\t', '\n', '\r']);
    match start.as_bytes().first() {
        Some(b'{') => {}
        None => return Err(malformed("empty message: expected one JSON object")),
        Some(&first) => {
            return Err(malformed(format!(
                "expected one JSON object, got {}",
                describe_start(first)
            )))
        }
    }
    serde_json::from_str(text).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "ambiguous JSON object",
            _ => "not valid JSON",
        };
        malformed(format!("{what}: {e}"))
    })
}

fn describe_start(first: u8) -> &'static str {
    match first {
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => "text that is not JSON",
    }
}

fn event_type(value: Option<&RawValue>) -> Result<EventType, Rejection> {
    let raw = required("type", COMMON, value)?;
    json_str(raw)
        .and_then(|s| EventType::from_wire(&s))
        .ok_or_else(|| {
            Rejection::new(
                Reason::UnknownType,
                format!(
                "field `type`: must be one of order.placed, order.cancelled, delivery.received, \
                 delivery.accepted, payment.made, complaint.filed, complaint.replied, \
                 complaint.resolved; got {}",
                snippet(raw.get())
            ),
            )
        })
}

fn occurred_at_field(
    value: Option<&RawValue>,
    window: &OccurredWindow,
) -> Result<chrono::DateTime<chrono::FixedOffset>, Rejection> {
    const NAME: &str = "occurred_at";
    let raw = required(NAME, COMMON, value)?;
    let text = json_str(raw).ok_or_else(|| {
        bad_value(
            NAME,
            format!("must be a string like \"{}\"", timestamp::EXAMPLE),
            raw,
        )
    })?;
    let at = timestamp::parse_occurred_at(&text).map_err(|problem| bad_value(NAME, problem, raw))?;
    window.check(at).map_err(|problem| bad_value(NAME, problem, raw))?;
    Ok(at)
}

// ---------------------------------------------------------------------------
// Field interpreters.

/// A required field: present and not null.
fn required<'a>(
    name: &'static str,
    required_by: &'static str,
    value: Option<&'a RawValue>,
) -> Result<&'a RawValue, Rejection> {
    value.ok_or_else(|| {
        Rejection::new(
            Reason::MissingField,
            format!("field `{name}`: missing or null; it is required for {required_by}"),
        )
    })
}

/// A required non-empty string (ids, codes, the distributor's name).
fn text_field(
    name: &'static str,
    required_by: &'static str,
    value: Option<&RawValue>,
) -> Result<String, Rejection> {
    let raw = required(name, required_by, value)?;
    match json_str(raw) {
        Some(s) if !s.is_empty() => Ok(s.into_owned()),
        _ => Err(bad_value(name, "must be a non-empty string", raw)),
    }
}

/// `kind` of a complaint: one of [`ComplaintKind::ALL`].
fn kind_field(value: Option<&RawValue>) -> Result<ComplaintKind, Rejection> {
    let raw = required("kind", "complaint.filed", value)?;
    json_str(raw)
        .and_then(|s| ComplaintKind::from_wire(&s))
        .ok_or_else(|| {
            bad_value(
                "kind",
                "must be one of not_delivered, short_delivery, quality, other",
                raw,
            )
        })
}

/// `text` of a complaint: optional (absent or null is `None`), a string of
/// at most [`ComplaintFiled::MAX_TEXT_CHARS`] characters (Unicode scalar
/// values, as JSON Schema's `maxLength` counts them).
fn complaint_text_field(value: Option<&RawValue>) -> Result<Option<String>, Rejection> {
    let Some(raw) = value else {
        return Ok(None);
    };
    let Some(text) = json_str(raw) else {
        return Err(bad_value("text", "must be a string", raw));
    };
    if text.chars().count() > ComplaintFiled::MAX_TEXT_CHARS {
        let rule = format!(
            "must be at most {} characters",
            ComplaintFiled::MAX_TEXT_CHARS
        );
        return Err(bad_value("text", rule, raw));
    }
    Ok(Some(text.into_owned()))
}

/// A required calendar date written `YYYY-MM-DD`, spelled as the
/// reference files spell dates ([`crate::reference_files::parse_date`]).
fn date_field(
    name: &'static str,
    required_by: &'static str,
    value: Option<&RawValue>,
) -> Result<chrono::NaiveDate, Rejection> {
    let raw = required(name, required_by, value)?;
    let text = json_str(raw).ok_or_else(|| bad_value(name, "must be a string like \"2026-10-09\"", raw))?;
    crate::reference_files::parse_date(&text).map_err(|problem| bad_value(name, problem, raw))
}

/// `special_service`: optional, `false` when absent or null.
fn flag_field(name: &'static str, value: Option<&RawValue>) -> Result<bool, Rejection> {
    let Some(raw) = value else {
        return Ok(false);
    };
    match raw.get() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad_value(
            name,
            "must be true or false (a JSON boolean)",
            raw,
        )),
    }
}

/// The constraints SPEC §4 puts on a numeric field.
#[derive(Debug, Clone, Copy)]
struct Rule {
    /// `> 0` when true, `≥ 0` when false. No field may be negative.
    positive: bool,
    /// Money: at most 2 decimal places of *value* (`12.500` is 12.50 yuan).
    money: bool,
}

impl Rule {
    const QUANTITY: Rule = Rule {
        positive: true,
        money: false,
    };
    const QUANTITY_OR_ZERO: Rule = Rule {
        positive: false,
        money: false,
    };
    const MONEY: Rule = Rule {
        positive: false,
        money: true,
    };
    const POSITIVE_MONEY: Rule = Rule {
        positive: true,
        money: true,
    };
}

/// A required decimal: a JSON string in plain notation (`"12.50"`) or a
/// JSON number (`12.5`, `1.25e1`), parsed exactly, then checked by `rule`.
fn decimal_field(
    name: &'static str,
    required_by: &'static str,
    value: Option<&RawValue>,
    rule: Rule,
) -> Result<Decimal, Rejection> {
    let raw = required(name, required_by, value)?;
    let text = raw.get();
    let (parsed, is_string) = match json_str(raw) {
        Some(s) => (parse_decimal(&s, false), true),
        None if starts_like_number(text) => (parse_decimal(text, true), false),
        None => {
            return Err(bad_value(
                name,
                "must be a decimal string like \"12.50\" or a JSON number",
                raw,
            ))
        }
    };
    let parsed = parsed.map_err(|e| match e {
        DecimalError::Syntax => bad_value(
            name,
            "must be a decimal in plain notation like \"12.50\" (no sign, exponent, \
             spaces, NaN or Infinity in a string)",
            raw,
        ),
        DecimalError::OutOfRange => bad_value(
            name,
            "is out of range (at most 28 decimal places and a magnitude below 7.9e28)",
            raw,
        ),
    })?;
    check_rule(
        name,
        rule,
        parsed.value,
        is_string && parsed.minus_sign,
        raw,
    )?;
    Ok(parsed.value)
}

/// Sign and precision checks. A string with a minus sign is refused even
/// for zero (`"-0"`), because the schema's string patterns have no sign; a
/// JSON number `-0` is zero, as for the schema's `minimum: 0`.
fn check_rule(
    name: &'static str,
    rule: Rule,
    value: Decimal,
    signed_string: bool,
    raw: &RawValue,
) -> Result<(), Rejection> {
    if rule.positive && value <= Decimal::ZERO {
        return Err(bad_value(name, "must be > 0", raw));
    }
    if value < Decimal::ZERO || signed_string {
        return Err(bad_value(name, "must be ≥ 0", raw));
    }
    if rule.money && value.scale() > 2 && value.normalize().scale() > 2 {
        return Err(bad_value(
            name,
            "must have at most 2 decimal places (yuan to the fen)",
            raw,
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Small helpers.

/// The value of a JSON string token, borrowed when it has no escapes (the
/// common case), or `None` when the token is not a string.
fn json_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// A JSON number token starts with `-` or a digit; serde_json has already
/// checked the rest of its grammar.
fn starts_like_number(text: &str) -> bool {
    matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9'))
}

fn malformed(detail: impl Into<String>) -> Rejection {
    Rejection::new(Reason::MalformedJson, detail)
}

/// "field `quantity_packs`: must be > 0, got \"-3\"".
fn bad_value(name: &str, rule: impl std::fmt::Display, raw: &RawValue) -> Rejection {
    Rejection::new(
        Reason::BadValue,
        format!("field `{name}`: {rule}, got {}", snippet(raw.get())),
    )
}

/// The offending JSON text, cut to a readable length on a char boundary.
fn snippet(text: &str) -> Cow<'_, str> {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!(
            "{}… ({} bytes)",
            text.get(..cut).unwrap_or(""),
            text.len()
        )),
    }
}
