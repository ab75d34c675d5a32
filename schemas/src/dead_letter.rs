//! The record a rejected input becomes (SPEC §4, §9).
//!
//! SPEC §4: a rejected event "is never silently dropped: it goes to the
//! dead-letter output … with the original bytes, the source position and a
//! reason code". So the record keeps the input byte for byte: as `raw` text
//! when it is UTF-8 (readable, greppable), else as `raw_base64` (standard
//! alphabet, padded), because JSON cannot carry arbitrary bytes.
//!
//! The wire form is a derived serde struct, written and read the same way;
//! its keys keep a reader-friendly order (`reason`, `detail`, `source`,
//! `raw`). `json/dead-letter.schema.json` describes it.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::reason::{Reason, Rejection};

/// Where a rejected input came from, so it can be found and replayed.
/// On the wire the variant is told by its keys (`file`, `topic` or
/// `alertmanager`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Source {
    /// A line of an NDJSON file; `line` counts from 1.
    File { file: String, line: u64 },
    /// A Kafka record.
    Kafka {
        topic: String,
        partition: i32,
        offset: i64,
    },
    /// An alert that Alertmanager refused (`raw` is the alert as posted);
    /// `alertmanager` is the endpoint that answered.
    Alertmanager { alertmanager: String },
}

impl fmt::Display for Source {
    /// `orders.ndjson:12` or `vbp.orders/3@1234`, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File { file, line } => write!(f, "{file}:{line}"),
            Source::Kafka {
                topic,
                partition,
                offset,
            } => write!(f, "{topic}/{partition}@{offset}"),
            Source::Alertmanager { alertmanager } => write!(f, "{alertmanager}"),
        }
    }
}

/// One rejected input: why, where from, and its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub reason: Reason,
    /// The rejection's sentence, e.g. "field `quantity_packs`: must be > 0, got \"-3\"".
    pub detail: String,
    pub source: Source,
    /// The original message, byte for byte.
    pub raw: Vec<u8>,
}

/// Why a dead-letter line could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterParseError {
    #[error("not a dead-letter JSON object: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unknown reason code {0:?}")]
    UnknownReason(String),
    #[error("`raw_base64` is not standard base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("exactly one of `raw` and `raw_base64` must be present")]
    RawPresence,
}

impl DeadLetter {
    pub fn new(rejection: Rejection, source: Source, raw: impl Into<Vec<u8>>) -> Self {
        DeadLetter {
            reason: rejection.reason,
            detail: rejection.detail,
            source,
            raw: raw.into(),
        }
    }

    /// One JSON object, no trailing newline:
    /// `{"reason":…,"detail":…,"source":{…},"raw":…}` (or `"raw_base64":…`).
    pub fn to_json_line(&self) -> String {
        let (raw, raw_base64) = match std::str::from_utf8(&self.raw) {
            Ok(text) => (Some(text), None),
            Err(_) => (None, Some(BASE64.encode(&self.raw))),
        };
        let wire = WireOut { reason: self.reason.code(), detail: &self.detail, source: &self.source, raw, raw_base64 };
        // Strings, integers and a derived enum: serialising to a String
        // cannot fail, so the fallback is never written.
        serde_json::to_string(&wire).unwrap_or_else(|e| format!("{{\"reason\":\"{}\",\"detail\":\"unwritable: {e}\"}}", wire.reason))
    }

    /// Reads back a line written by [`DeadLetter::to_json_line`] (tools,
    /// tests, re-processing). Unknown extra keys are ignored.
    pub fn from_json_line(line: &str) -> Result<DeadLetter, DeadLetterParseError> {
        let wire: WireIn = serde_json::from_str(line)?;
        let reason = Reason::from_code(&wire.reason)
            .ok_or_else(|| DeadLetterParseError::UnknownReason(wire.reason.clone()))?;
        let raw = match (wire.raw, wire.raw_base64) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(b64)) => BASE64.decode(b64)?,
            _ => return Err(DeadLetterParseError::RawPresence),
        };
        Ok(DeadLetter { reason, detail: wire.detail, source: wire.source, raw })
    }
}

/// The record as written.
#[derive(Serialize)]
struct WireOut<'a> {
    reason: &'a str,
    detail: &'a str,
    source: &'a Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_base64: Option<String>,
}

/// The record as read.
#[derive(Deserialize)]
struct WireIn {
    reason: String,
    /// Optional on reading, so records from a producer that wrote only
    /// SPEC §9's `reason`, `source` and `raw` can still be read.
    #[serde(default)]
    detail: String,
    source: Source,
    raw: Option<String>,
    raw_base64: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(raw: &[u8], source: Source) -> DeadLetter {
        DeadLetter {
            reason: Reason::BadValue,
            detail: "field `quantity_packs`: must be > 0, got \"-3\"".into(),
            source,
            raw: raw.to_vec(),
        }
    }

    #[test]
    fn utf8_raw_is_kept_as_text() {
        let dl = letter(
            b"{\"a\":\"\xe4\xb8\xad\tb\"}",
            Source::File {
                file: "orders.ndjson".into(),
                line: 7,
            },
        );
        let line = dl.to_json_line();
        assert_eq!(
            line,
            r#"{"reason":"bad_value","detail":"field `quantity_packs`: must be > 0, got \"-3\"","source":{"file":"orders.ndjson","line":7},"raw":"{\"a\":\"中\tb\"}"}"#
        );
        assert_eq!(DeadLetter::from_json_line(&line).unwrap(), dl);
    }

    #[test]
    fn non_utf8_raw_is_base64() {
        let dl = letter(
            &[0xff, 0x00, b'{'],
            Source::Kafka {
                topic: "vbp.orders".into(),
                partition: 3,
                offset: 42,
            },
        );
        let line = dl.to_json_line();
        assert!(
            line.ends_with(
                r#""source":{"topic":"vbp.orders","partition":3,"offset":42},"raw_base64":"/wB7"}"#
            ),
            "{line}"
        );
        assert_eq!(DeadLetter::from_json_line(&line).unwrap(), dl);
    }

    #[test]
    fn reading_back_refuses_ambiguous_records() {
        let both = r#"{"reason":"bad_value","source":{"file":"f","line":1},"raw":"x","raw_base64":"eA=="}"#;
        assert!(matches!(
            DeadLetter::from_json_line(both),
            Err(DeadLetterParseError::RawPresence)
        ));
        let unknown = r#"{"reason":"nope","source":{"file":"f","line":1},"raw":"x"}"#;
        assert!(matches!(
            DeadLetter::from_json_line(unknown),
            Err(DeadLetterParseError::UnknownReason(_))
        ));
    }

    #[test]
    fn source_display() {
        assert_eq!(
            Source::File {
                file: "a.ndjson".into(),
                line: 3
            }
            .to_string(),
            "a.ndjson:3"
        );
        assert_eq!(
            Source::Kafka {
                topic: "vbp.orders".into(),
                partition: 1,
                offset: 9
            }
            .to_string(),
            "vbp.orders/1@9"
        );
    }

    #[test]
    fn an_alert_refused_by_alertmanager_reads_back() {
        let dl = DeadLetter {
            reason: Reason::RefusedByAlertmanager,
            detail: "Alertmanager answered 400 Bad Request: invalid label set".into(),
            source: Source::Alertmanager { alertmanager: "http://127.0.0.1:9093/api/v2/alerts".into() },
            raw: br#"{"labels":{"alertname":"PaymentOverdue"}}"#.to_vec(),
        };
        let line = dl.to_json_line();
        assert!(line.contains(r#""source":{"alertmanager":"http://127.0.0.1:9093/api/v2/alerts"}"#), "{line}");
        assert_eq!(DeadLetter::from_json_line(&line).unwrap(), dl);
    }

    #[test]
    fn control_characters_are_escaped() {
        let dl = letter(b"a\x01\x1fb\r\n", Source::File { file: "f".into(), line: 1 });
        let line = dl.to_json_line();
        assert!(line.ends_with(r#""raw":"a\u0001\u001fb\r\n"}"#), "{line}");
        assert_eq!(DeadLetter::from_json_line(&line).unwrap(), dl);
    }
}
