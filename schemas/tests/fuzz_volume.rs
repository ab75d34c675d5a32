//! Volume fuzzing of the event decoder (issue 16 part 5): `decode` under a
//! structure-aware generator, for as many executions as `PROPTEST_CASES`
//! asks (256 in CI's `cargo test`; 10,000,000 in `tests/fuzz-volume.sh`).
//!
//! Every case starts from a valid event of one of the eight types — every
//! field generated, in a random order, with random spacing, escapes and
//! spellings of its decimals — and applies 0 to 5 mutations: first to the
//! fields (a value replaced by a hostile token, a field dropped, repeated,
//! renamed or added), then to the bytes (a bit flipped, bytes inserted,
//! deleted, repeated, the text cut short or spliced onto another event).
//! So most executions get past the JSON parser into the field checks,
//! which random bytes almost never reach.
//!
//! What is checked, beyond "never panics": an unmutated event decodes to
//! exactly the event it was generated from; anything accepted satisfies
//! SPEC §4 (signs, fen, lengths, the `occurred_at` window, the size
//! limit); anything refused has one of the decoder's five reasons, a
//! detail, and makes a dead letter that reads back intact.
//!
//! The executions are counted here, not assumed from the case count, and
//! printed at the end with the wall time and the rate.

mod byte_edit;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use rust_decimal::Decimal;
use byte_edit::ByteEdit;
use vbp_schemas::{
    decode, ComplaintFiled, ComplaintKind, ComplaintReplied, ComplaintResolved, DeadLetter, DecodeLimits,
    DeliveryAccepted, DeliveryReceived, Event, EventBody, OccurredWindow, OrderCancelled, OrderPlaced, PaymentMade,
    Reason, Source,
};

/// Calls of `decode`, across every thread of this binary.
static EXECUTIONS: AtomicU64 = AtomicU64::new(0);

/// Outcomes: accepted, then refused by each of the decoder's reasons, so
/// the report shows how deep the executions went (a malformed-JSON
/// rejection stops at the parser; a bad value got through every field
/// before it).
static OUTCOMES: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
const OUTCOME_NAMES: [&str; 6] = ["accepted", "malformed_json", "unknown_type", "missing_field", "bad_value", "too_large"];

// ---------------------------------------------------------------------------
// Valid events.

/// One member of the object as written: the key's JSON text (quotes and
/// any escapes included) and the value's JSON text.
#[derive(Debug, Clone)]
struct Field {
    key: String,
    value: String,
}

fn field(key: &str, value: String) -> Field {
    Field { key: format!("\"{key}\""), value }
}

/// A valid event as fields, and the event it must decode to.
#[derive(Debug, Clone)]
struct Valid {
    fields: Vec<Field>,
    expected: Event,
}

/// The JSON text of a string, with non-ASCII characters sometimes written
/// as `\uXXXX` escapes (surrogate pairs beyond the BMP), which sends the
/// decoder down its unescaping path.
fn json_string(s: &str, escape_non_ascii: bool) -> String {
    let plain = serde_json::to_string(s).unwrap_or_default();
    if !escape_non_ascii {
        return plain;
    }
    let mut out = String::with_capacity(plain.len() * 2);
    for c in plain.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// A non-empty id or code: mostly platform-like, sometimes any printable
/// text, sometimes quotes, backslashes and control characters (escaped).
fn text_value() -> impl Strategy<Value = (String, String)> {
    let text = prop_oneof![
        6 => "[A-Za-z0-9._:-]{1,24}",
        2 => "\\PC{1,12}",
        1 => "[\"\\\\\n\t\u{1}\u{7f}a中😀]{1,6}",
    ];
    (text, any::<bool>()).prop_map(|(s, escape)| {
        let json = json_string(&s, escape);
        (s, json)
    })
}

/// `occurred_at`: RFC 3339 with an explicit offset, inside the default
/// window whatever the offset (years 2001–2098).
fn instant() -> impl Strategy<Value = (DateTime<FixedOffset>, String)> {
    let date = (2001i32..=2098, 1u32..=12, 1u32..=28);
    let time = (0u32..24, 0u32..60, 0u32..60, prop::option::of("[0-9]{1,9}"));
    let offset = prop_oneof![
        Just("Z".to_owned()),
        Just("z".to_owned()),
        Just("+08:00".to_owned()),
        (any::<bool>(), 0u32..=14, prop::sample::select(&[0u32, 30, 45][..])).prop_map(|(minus, h, m)| {
            let sign = if minus && (h, m) != (0, 0) { '-' } else { '+' };
            format!("{sign}{h:02}:{m:02}")
        }),
    ];
    (date, time, offset, any::<bool>()).prop_map(|((y, mo, d), (h, mi, s, frac), offset, lower_t)| {
        let t = if lower_t { 't' } else { 'T' };
        let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
        let text = format!("{y:04}-{mo:02}-{d:02}{t}{h:02}:{mi:02}:{s:02}{frac}{offset}");
        let at = DateTime::parse_from_rfc3339(&text).expect("generated instants are RFC 3339");
        (at, format!("\"{text}\""))
    })
}

/// What a numeric field must satisfy.
#[derive(Debug, Clone, Copy)]
enum Num {
    /// > 0, any scale up to 6.
    Quantity,
    /// ≥ 0, any scale up to 6.
    QuantityOrZero,
    /// ≥ 0, at most 2 decimal places.
    Money,
    /// > 0, at most 2 decimal places.
    PositiveMoney,
}

/// A valid decimal for `num`, in one of its spellings: a string, a plain
/// number, an exponent, trailing zeros (`"12.500"` is 12.50 yuan).
fn decimal(num: Num) -> impl Strategy<Value = (Decimal, String)> {
    let (min, max_scale) = match num {
        Num::Quantity => (1u64, 6u32),
        Num::QuantityOrZero => (0, 6),
        Num::Money => (0, 2),
        Num::PositiveMoney => (1, 2),
    };
    let mantissa = prop_oneof![min..1_000u64, min..1_000_000_000_000u64];
    (mantissa, 0..=max_scale, 0u8..5, 0usize..4).prop_map(|(m, scale, spelling, zeros)| {
        let value = Decimal::new(m as i64, scale);
        let text = match spelling {
            0 => format!("\"{value}\""),
            1 => value.to_string(),
            2 => format!("{m}e-{scale}"),
            // No padding after a zero mantissa: `00E-1` is not a JSON number.
            3 => {
                let zeros = if m == 0 { 0 } else { zeros };
                format!("{m}{}E-{}", "0".repeat(zeros), scale as usize + zeros)
            }
            _ => {
                let plain = value.to_string();
                let padded = if plain.contains('.') { plain + &"0".repeat(zeros + 1) } else { format!("{plain}.{}", "0".repeat(zeros + 1)) };
                format!("\"{padded}\"")
            }
        };
        (value, text)
    })
}

fn kind() -> impl Strategy<Value = ComplaintKind> {
    prop::sample::select(&ComplaintKind::ALL[..])
}

/// A complaint's optional text: absent, null, short, or exactly at the
/// 2,000-character limit.
fn complaint_text() -> impl Strategy<Value = (Option<String>, Option<String>)> {
    prop_oneof![
        2 => Just((None, None)),
        1 => Just((None, Some("null".to_owned()))),
        6 => ("\\PC{0,40}", any::<bool>()).prop_map(|(s, escape)| {
            let json = json_string(&s, escape);
            (Some(s), Some(json))
        }),
        1 => prop::sample::select(&['a', '中', '😀'][..]).prop_map(|c| {
            let s: String = std::iter::repeat_n(c, ComplaintFiled::MAX_TEXT_CHARS).collect();
            let json = json_string(&s, false);
            (Some(s), Some(json))
        }),
    ]
}

fn date() -> impl Strategy<Value = (NaiveDate, String)> {
    (1900i32..=2199, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| {
        let date = NaiveDate::from_ymd_opt(y, m, d).expect("day ≤ 28 exists");
        (date, format!("\"{}\"", date.format("%Y-%m-%d")))
    })
}

fn common() -> impl Strategy<Value = ((String, String), (DateTime<FixedOffset>, String))> {
    (text_value(), instant())
}

fn assemble(
    ((id, id_json), (at, at_json)): ((String, String), (DateTime<FixedOffset>, String)),
    kind: &str,
    mut fields: Vec<Field>,
    body: EventBody,
) -> Valid {
    fields.push(field("event_id", id_json));
    fields.push(field("type", format!("\"{kind}\"")));
    fields.push(field("occurred_at", at_json));
    Valid { fields, expected: Event { event_id: id, occurred_at: at, body } }
}

fn order_placed() -> impl Strategy<Value = Valid> {
    let flag = prop_oneof![Just(None), Just(Some("null")), Just(Some("true")), Just(Some("false"))];
    (common(), text_value(), text_value(), text_value(), decimal(Num::Quantity), decimal(Num::Money), flag).prop_map(
        |(c, (order, order_j), (inst, inst_j), (product, product_j), (q, q_j), (p, p_j), flag)| {
            let mut fields = vec![
                field("order_id", order_j),
                field("institution_code", inst_j),
                field("product_code", product_j),
                field("quantity_packs", q_j),
                field("unit_price", p_j),
            ];
            if let Some(flag) = flag {
                fields.push(field("special_service", flag.to_owned()));
            }
            let body = EventBody::OrderPlaced(OrderPlaced {
                order_id: order,
                institution_code: inst,
                product_code: product,
                quantity_packs: q,
                unit_price: p,
                special_service: flag == Some("true"),
            });
            assemble(c, "order.placed", fields, body)
        },
    )
}

fn order_cancelled() -> impl Strategy<Value = Valid> {
    (common(), text_value(), decimal(Num::Quantity)).prop_map(|(c, (order, order_j), (q, q_j))| {
        let fields = vec![field("order_id", order_j), field("quantity_packs", q_j)];
        assemble(c, "order.cancelled", fields, EventBody::OrderCancelled(OrderCancelled { order_id: order, quantity_packs: q }))
    })
}

fn delivery_received() -> impl Strategy<Value = Valid> {
    (common(), text_value(), text_value(), decimal(Num::Quantity), text_value()).prop_map(
        |(c, (delivery, delivery_j), (order, order_j), (q, q_j), (distributor, distributor_j))| {
            let fields = vec![
                field("delivery_id", delivery_j),
                field("order_id", order_j),
                field("quantity_packs", q_j),
                field("distributor", distributor_j),
            ];
            let body = EventBody::DeliveryReceived(DeliveryReceived { delivery_id: delivery, order_id: order, quantity_packs: q, distributor });
            assemble(c, "delivery.received", fields, body)
        },
    )
}

fn delivery_accepted() -> impl Strategy<Value = Valid> {
    (common(), text_value(), text_value(), decimal(Num::QuantityOrZero), decimal(Num::Money)).prop_map(
        |(c, (delivery, delivery_j), (order, order_j), (q, q_j), (amount, amount_j))| {
            let fields = vec![
                field("delivery_id", delivery_j),
                field("order_id", order_j),
                field("accepted_quantity_packs", q_j),
                field("amount", amount_j),
            ];
            let body = EventBody::DeliveryAccepted(DeliveryAccepted {
                delivery_id: delivery,
                order_id: order,
                accepted_quantity_packs: q,
                amount,
            });
            assemble(c, "delivery.accepted", fields, body)
        },
    )
}

fn payment_made() -> impl Strategy<Value = Valid> {
    (common(), text_value(), text_value(), text_value(), decimal(Num::PositiveMoney)).prop_map(
        |(c, (payment, payment_j), (inst, inst_j), (delivery, delivery_j), (amount, amount_j))| {
            let fields = vec![
                field("payment_id", payment_j),
                field("institution_code", inst_j),
                field("delivery_id", delivery_j),
                field("amount", amount_j),
            ];
            let body = EventBody::PaymentMade(PaymentMade { payment_id: payment, institution_code: inst, delivery_id: delivery, amount });
            assemble(c, "payment.made", fields, body)
        },
    )
}

fn complaint_filed() -> impl Strategy<Value = Valid> {
    (common(), text_value(), text_value(), text_value(), kind(), complaint_text()).prop_map(
        |(c, (complaint, complaint_j), (inst, inst_j), (product, product_j), kind, (text, text_j))| {
            let mut fields = vec![
                field("complaint_id", complaint_j),
                field("institution_code", inst_j),
                field("product_code", product_j),
                field("kind", format!("\"{}\"", kind.as_str())),
            ];
            if let Some(text_j) = text_j {
                fields.push(field("text", text_j));
            }
            let body = EventBody::ComplaintFiled(ComplaintFiled { complaint_id: complaint, institution_code: inst, product_code: product, kind, text });
            assemble(c, "complaint.filed", fields, body)
        },
    )
}

fn complaint_replied() -> impl Strategy<Value = Valid> {
    (common(), text_value(), date()).prop_map(|(c, (complaint, complaint_j), (promised_by, date_j))| {
        let fields = vec![field("complaint_id", complaint_j), field("promised_by", date_j)];
        assemble(c, "complaint.replied", fields, EventBody::ComplaintReplied(ComplaintReplied { complaint_id: complaint, promised_by }))
    })
}

fn complaint_resolved() -> impl Strategy<Value = Valid> {
    (common(), text_value()).prop_map(|(c, (complaint, complaint_j))| {
        let fields = vec![field("complaint_id", complaint_j)];
        assemble(c, "complaint.resolved", fields, EventBody::ComplaintResolved(ComplaintResolved { complaint_id: complaint }))
    })
}

/// A valid event of any type, its fields shuffled, sometimes with fields
/// no type uses (which must be ignored whatever they hold).
fn valid_event() -> impl Strategy<Value = Valid> {
    let event = prop_oneof![
        order_placed().boxed(),
        order_cancelled().boxed(),
        delivery_received().boxed(),
        delivery_accepted().boxed(),
        payment_made().boxed(),
        complaint_filed().boxed(),
        complaint_replied().boxed(),
        complaint_resolved().boxed(),
    ];
    let extra = prop::collection::vec(("_?[a-z]{1,10}_x", json_value()), 0..3);
    (event.boxed(), extra)
        .prop_flat_map(|(mut valid, extra)| {
            valid.fields.extend(extra.into_iter().map(|(key, value)| field(&key, value)));
            Just(valid.fields.clone()).prop_shuffle().prop_map(move |fields| Valid { fields, expected: valid.expected.clone() })
        })
        .boxed()
}

/// Any JSON value, small: what a producer may put in a field we ignore.
fn json_value() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        "-?(0|[1-9][0-9]{0,4})(\\.[0-9]{1,3})?([eE][-+]?[0-9]{1,3})?",
        "\\PC{0,8}".prop_map(|s| json_string(&s, false)),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z]{1,4}", inner), 0..4)
                .prop_map(|v| format!("{{{}}}", v.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(","))),
        ]
    })
    .boxed()
}

// ---------------------------------------------------------------------------
// Mutations.

/// Every key any type uses, for renames and additions.
const KEYS: &[&str] = &[
    "event_id",
    "type",
    "occurred_at",
    "order_id",
    "institution_code",
    "product_code",
    "quantity_packs",
    "unit_price",
    "special_service",
    "delivery_id",
    "distributor",
    "accepted_quantity_packs",
    "amount",
    "payment_id",
    "complaint_id",
    "kind",
    "text",
    "promised_by",
];

/// Values that have broken, or could break, a JSON decoder or a decimal,
/// date or timestamp parser.
const TOKENS: &[&str] = &[
    "null", "true", "false", "0", "-0", "\"-0\"", "\"0\"", "0.000", "\"0.00\"", "-1", "\"-1\"", "1e2", "1E+2", "1e-2",
    "1e999999", "-1e-999999", "1e-28", "1e-29", "0e999999999999999999999", "1e9223372036854775807",
    "1e-9223372036854775808", "79228162514264337593543950335", "79228162514264337593543950336",
    "\"79228162514264337593543950335.000\"", "0.0000000000000000000000000001", "1000000001", "\"1000000000.000001\"",
    "12.5", "\"12.50\"", "\"12.505\"", "\"4.355\"", "\".5\"", "\"5.\"", "\"+5\"", "\"1_000\"", "\" 1\"", "\"1 \"",
    "\"0x10\"", "\"NaN\"", "NaN", "Infinity", "-Infinity", "\"1e2\"", "[]", "{}", "[1]", "{\"a\":1}", "\"\"", "\" \"",
    "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud83d\\ude00\"", "\"\\ud83dx\"", "\"\\\"\"", "\"\\\\\"", "\"中\"",
    "\"2026-03-02T09:15:00+08:00\"", "\"2026-03-02T09:15:00\"", "\"2026-03-02 09:15:00+08:00\"",
    "\"2026-03-02T09:15:00-00:00\"", "\"2026-03-02T09:15:60Z\"", "\"2026-02-29T00:00:00Z\"",
    "\"2024-02-29T00:00:00Z\"", "\"1999-12-31T23:59:59+08:00\"", "\"2000-01-01T00:00:00+08:00\"",
    "\"2100-01-01T00:00:00+08:00\"", "\"2100-01-01T00:00:00.000000001+08:00\"", "\"9999-12-31T23:59:59Z\"",
    "\"0000-01-01T00:00:00Z\"", "\"2026-03-02T09:15:00.1234567891Z\"", "\"2026-03-02T09:15:00+24:00\"",
    "\"2026-03-02T09:15:00+23:59\"", "\"2026-03-02T09:15:00+0800\"", "\"2026-03-02\"", "\"2026-02-30\"",
    "\"2026-13-01\"", "\"+2026-01-01\"", "\"262143-01-01\"", "\"２０２６-03-02\"", "\"order.placed\"",
    "\"order.cancelled\"", "\"delivery.received\"", "\"delivery.accepted\"", "\"payment.made\"",
    "\"complaint.filed\"", "\"complaint.replied\"", "\"complaint.resolved\"", "\"ORDER.PLACED\"", "\"quality\"",
    "\"not_delivered\"", "\"QUALITY\"",
];

/// Bytes inserted at random places.
const INSERTS: &[&[u8]] = &[
    b"{", b"}", b"[", b"]", b",", b":", b"\"", b"\\", b"\\u", b"\\ud800", b" ", b"\n", b"\r\n", b"\t", b"\0",
    b"\xEF\xBB\xBF", b"\xff", b"\xc3", b"\xe4\xb8", b"\xed\xa0\x80", b"null", b"1e99999", b"-", b".", b"e", b"0",
    b"9", b",\"type\":\"order.placed\"", b",\"amount\":\"1\"", b"}{}",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// The value of field `field` (modulo their number) becomes `value`.
    SetValue { field: usize, value: String },
    Remove { field: usize },
    /// The field written twice (a repeated key is refused).
    Duplicate { field: usize },
    /// The key becomes `key` (a JSON text: known, escaped or random).
    Rename { field: usize, key: String },
    Add { key: String, value: String },
    Bytes(ByteEdit),
    /// The text up to `at` followed by another valid event from `from`.
    Splice { at: usize, from: usize, other: usize },
}

impl Mutation {
    fn is_on_fields(&self) -> bool {
        matches!(self, Mutation::SetValue { .. } | Mutation::Remove { .. } | Mutation::Duplicate { .. } | Mutation::Rename { .. } | Mutation::Add { .. })
    }
}

/// A value for a field: a hostile token, a decimal of any size and shape,
/// a timestamp or date of any shape, a random string, deep nesting.
fn hostile_value() -> BoxedStrategy<String> {
    prop_oneof![
        6 => prop::sample::select(TOKENS).prop_map(str::to_owned),
        3 => "-?[0-9]{1,40}(\\.[0-9]{0,40})?([eE][-+]?[0-9]{1,22})?",
        2 => "-?[0-9]{1,32}(\\.[0-9]{1,32})?".prop_map(|s| format!("\"{s}\"")),
        2 => "[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2})?(\\.[0-9]{0,12})?([Zz]|[-+][0-9]{2}:?[0-9]{2})?)?"
            .prop_map(|s| format!("\"{s}\"")),
        2 => ("\\PC{0,20}", any::<bool>()).prop_map(|(s, escape)| json_string(&s, escape)),
        1 => json_value(),
        1 => (1usize..300).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        1 => (1usize..300).prop_map(|depth| format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))),
    ]
    .boxed()
}

fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(|k| format!("\"{k}\"")),
        // The same key spelled with escapes: serde_json unescapes keys.
        2 => prop::sample::select(KEYS).prop_map(|k| format!("\"{}\"", k.replace('_', "\\u005f").replacen('e', "\\u0065", 1))),
        1 => prop::sample::select(KEYS).prop_map(|k| format!("\"{}\"", k.to_uppercase())),
        2 => "\\PC{0,10}".prop_map(|s| json_string(&s, false)),
        1 => prop::sample::select(&["1", "null", "\"type", "type", "\"\"", "[]"][..]).prop_map(str::to_owned),
    ]
}

/// A mutation of the fields (applied before rendering).
fn field_mutation() -> BoxedStrategy<Mutation> {
    let at = any::<usize>();
    prop_oneof![
        6 => (at, hostile_value()).prop_map(|(field, value)| Mutation::SetValue { field, value }),
        2 => at.prop_map(|field| Mutation::Remove { field }),
        1 => at.prop_map(|field| Mutation::Duplicate { field }),
        2 => (at, key_text()).prop_map(|(field, key)| Mutation::Rename { field, key }),
        1 => (key_text(), hostile_value()).prop_map(|(key, value)| Mutation::Add { key, value }),
    ]
    .boxed()
}

/// A mutation of the rendered bytes.
fn byte_mutation() -> BoxedStrategy<Mutation> {
    let inserted = prop_oneof![prop::sample::select(INSERTS).prop_map(<[u8]>::to_vec), prop::collection::vec(any::<u8>(), 1..8)].boxed();
    let at = any::<usize>();
    prop_oneof![
        8 => ByteEdit::strategy(inserted, 15, 63).prop_map(Mutation::Bytes),
        1 => (at, at, at).prop_map(|(at, from, other)| Mutation::Splice { at, from, other }),
    ]
    .boxed()
}

/// Which limits the case decodes under.
#[derive(Debug, Clone, Copy)]
enum Limits {
    Default,
    /// Live mode's window (its end moves with the wall clock).
    Live,
    /// A maximum size near the message's own (in bytes beyond or short of it).
    Size(i32),
}

#[derive(Debug, Clone)]
struct Case {
    valid: Valid,
    mutations: Vec<Mutation>,
    /// Spacing: after `:`, after `,`, before and after the object.
    spacing: [u8; 4],
    limits: Limits,
}

fn case() -> impl Strategy<Value = Case> {
    // A fifth of the cases unmutated (checked against the generated event);
    // most of the rest change fields only, so that they reach the field
    // checks: a damaged byte mostly stops at the JSON parser.
    let mutations = prop_oneof![
        1 => Just(Vec::new()),
        3 => prop::collection::vec(field_mutation(), 1..=4),
        1 => (prop::collection::vec(field_mutation(), 0..=2), prop::collection::vec(byte_mutation(), 1..=3))
            .prop_map(|(mut fields, bytes)| {
                fields.extend(bytes);
                fields
            }),
    ];
    let limits = prop_oneof![
        12 => Just(Limits::Default),
        2 => Just(Limits::Live),
        1 => (-8i32..8).prop_map(Limits::Size),
    ];
    (valid_event(), mutations, any::<[u8; 4]>(), limits).prop_map(|(valid, mutations, spacing, limits)| Case { valid, mutations, spacing, limits })
}

const SPACES: [&str; 8] = ["", "", "", "", " ", "\n", "\t", " \r\n "];

fn render(fields: &[Field], spacing: [u8; 4]) -> Vec<u8> {
    let space = |i: usize| SPACES[usize::from(spacing[i]) % SPACES.len()];
    let members: Vec<String> = fields.iter().map(|f| format!("{}:{}{}", f.key, space(0), f.value)).collect();
    format!("{}{{{}}}{}", space(2), members.join(&format!(",{}", space(1))), space(3)).into_bytes()
}

/// Valid events to splice onto, one of each type.
fn splice_sources() -> &'static [Vec<u8>] {
    static SOURCES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SOURCES.get_or_init(|| {
        let mut runner = TestRunner::deterministic();
        (0..32)
            .map(|_| {
                let valid = valid_event().new_tree(&mut runner).expect("a valid event").current();
                render(&valid.fields, [0; 4])
            })
            .collect()
    })
}

fn apply_to_fields(fields: &mut Vec<Field>, mutation: &Mutation) {
    let n = fields.len();
    match mutation {
        Mutation::SetValue { field, value } if n > 0 => fields[field % n].value = value.clone(),
        Mutation::Remove { field } if n > 0 => {
            fields.remove(field % n);
        }
        Mutation::Duplicate { field } if n > 0 => {
            let copy = fields[field % n].clone();
            fields.push(copy);
        }
        Mutation::Rename { field, key } if n > 0 => fields[field % n].key = key.clone(),
        Mutation::Add { key, value } => fields.push(Field { key: key.clone(), value: value.clone() }),
        _ => {}
    }
}

fn apply_to_bytes(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let n = bytes.len();
    let clamp = |at: usize| if n == 0 { 0 } else { at % (n + 1) };
    match mutation {
        Mutation::Bytes(edit) => edit.apply(bytes),
        Mutation::Splice { at, from, other } => {
            let sources = splice_sources();
            let source = &sources[other % sources.len()];
            let from = from % (source.len() + 1);
            bytes.truncate(clamp(*at));
            bytes.extend_from_slice(&source[from..]);
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// One execution and its checks.

fn limits_of(limits: Limits, len: usize) -> DecodeLimits {
    match limits {
        Limits::Default => DecodeLimits::default(),
        Limits::Live => DecodeLimits { occurred_at: OccurredWindow::live(), ..DecodeLimits::default() },
        Limits::Size(delta) => DecodeLimits {
            max_message_bytes: usize::try_from(len as i64 + i64::from(delta)).unwrap_or(0),
            ..DecodeLimits::default()
        },
    }
}

/// What every accepted event satisfies (SPEC §4), whatever the input.
fn check_accepted(bytes: &[u8], limits: &DecodeLimits, event: &Event) -> Result<(), TestCaseError> {
    let money = |d: Decimal| d >= Decimal::ZERO && d.normalize().scale() <= 2;
    let text = |s: &str| !s.is_empty();
    prop_assert!(bytes.len() <= limits.max_message_bytes);
    prop_assert!(std::str::from_utf8(bytes).is_ok());
    prop_assert!(text(&event.event_id));
    let earliest = limits.occurred_at.earliest;
    prop_assert!(event.occurred_at >= earliest, "{} before {}", event.occurred_at, earliest);
    if limits.occurred_at == OccurredWindow::default() {
        let latest = DateTime::from_timestamp(OccurredWindow::DEFAULT_LATEST_SECONDS, 0).unwrap_or_default();
        prop_assert!(event.occurred_at <= latest, "{} after {}", event.occurred_at, latest);
    }
    let ok = match &event.body {
        EventBody::OrderPlaced(e) => {
            e.quantity_packs > Decimal::ZERO && money(e.unit_price) && text(&e.order_id) && text(&e.institution_code) && text(&e.product_code)
        }
        EventBody::OrderCancelled(e) => e.quantity_packs > Decimal::ZERO && text(&e.order_id),
        EventBody::DeliveryReceived(e) => {
            e.quantity_packs > Decimal::ZERO && text(&e.distributor) && text(&e.delivery_id) && text(&e.order_id)
        }
        EventBody::DeliveryAccepted(e) => {
            e.accepted_quantity_packs >= Decimal::ZERO && money(e.amount) && text(&e.delivery_id) && text(&e.order_id)
        }
        EventBody::PaymentMade(e) => {
            e.amount > Decimal::ZERO && money(e.amount) && text(&e.payment_id) && text(&e.institution_code) && text(&e.delivery_id)
        }
        EventBody::ComplaintFiled(e) => {
            text(&e.complaint_id)
                && text(&e.institution_code)
                && text(&e.product_code)
                && e.text.as_ref().is_none_or(|t| t.chars().count() <= ComplaintFiled::MAX_TEXT_CHARS)
        }
        EventBody::ComplaintReplied(e) => text(&e.complaint_id),
        EventBody::ComplaintResolved(e) => text(&e.complaint_id),
    };
    prop_assert!(ok, "accepted an event SPEC §4 refuses: {:?}", event);
    Ok(())
}

fn execute(case: &Case) -> Result<(), TestCaseError> {
    let mut fields = case.valid.fields.clone();
    for m in case.mutations.iter().filter(|m| m.is_on_fields()) {
        apply_to_fields(&mut fields, m);
    }
    let mut bytes = render(&fields, case.spacing);
    let rendered_len = bytes.len();
    for m in case.mutations.iter().filter(|m| !m.is_on_fields()) {
        apply_to_bytes(&mut bytes, m);
    }
    let limits = limits_of(case.limits, rendered_len);
    EXECUTIONS.fetch_add(1, Ordering::Relaxed);
    let result = decode(&bytes, &limits);
    let too_large = bytes.len() > limits.max_message_bytes;
    let outcome = match &result {
        Ok(_) => 0,
        Err(r) => match r.reason {
            Reason::MalformedJson => 1,
            Reason::UnknownType => 2,
            Reason::MissingField => 3,
            Reason::BadValue => 4,
            _ => 5,
        },
    };
    OUTCOMES[outcome].fetch_add(1, Ordering::Relaxed);
    match &result {
        Ok(event) => check_accepted(&bytes, &limits, event)?,
        Err(rejection) => {
            prop_assert!(
                matches!(rejection.reason, Reason::MalformedJson | Reason::UnknownType | Reason::MissingField | Reason::BadValue | Reason::TooLarge),
                "not a decoder reason: {:?}",
                rejection.reason
            );
            prop_assert_eq!(rejection.reason == Reason::TooLarge, too_large, "{}", rejection);
            prop_assert!(!rejection.detail.is_empty());
            let letter = DeadLetter::new(rejection.clone(), Source::File { file: "fuzz.ndjson".into(), line: 1 }, bytes.clone());
            let back = DeadLetter::from_json_line(&letter.to_json_line());
            prop_assert!(back.as_ref().is_ok_and(|b| *b == letter), "dead letter does not read back: {:?}", back);
        }
    }
    if case.mutations.is_empty() && !too_large && matches!(case.limits, Limits::Default | Limits::Size(_)) {
        // Unmutated and within the size limit: exactly the generated event.
        match result {
            Ok(event) => prop_assert_eq!(event, case.valid.expected.clone()),
            Err(rejection) => {
                return Err(TestCaseError::fail(format!("a valid event was refused: {rejection}\n{}", String::from_utf8_lossy(&bytes))))
            }
        }
    }
    Ok(())
}

#[test]
fn decoder_under_volume_fuzzing() {
    let config = Config {
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..Config::default()
    };
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let started = Instant::now();
    let slowest_nanos = AtomicU64::new(0);
    let result = runner.run(&case(), |case| {
        let t = Instant::now();
        let outcome = execute(&case);
        slowest_nanos.fetch_max(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        outcome
    });
    let slowest = Duration::from_nanos(slowest_nanos.load(Ordering::Relaxed));
    let seconds = started.elapsed().as_secs_f64();
    let executions = EXECUTIONS.load(Ordering::Relaxed);
    let outcomes: Vec<String> =
        OUTCOME_NAMES.iter().zip(&OUTCOMES).map(|(name, n)| format!("{name}={}", n.load(Ordering::Relaxed))).collect();
    println!(
        "fuzz-volume decoder: executions={executions} cases={cases} seconds={seconds:.3} rate={:.0}/s slowest_ms={:.2} ({})",
        executions as f64 / seconds.max(1e-9),
        slowest.as_secs_f64() * 1e3,
        outcomes.join(" ")
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(executions >= u64::from(cases), "{executions} executions for {cases} cases");
}
