//! Why an input was rejected: the reason codes of SPEC §4.

use std::fmt;

/// A reason code carried by every dead-letter record.
///
/// The decoder produces the first five; the engine, which knows the
/// reference data and the state, the next five; the Alertmanager sink the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    MalformedJson,
    UnknownType,
    MissingField,
    BadValue,
    TooLarge,
    UnknownInstitution,
    UnknownProduct,
    Orphan,
    OverCancel,
    OverPayment,
    /// Not an input but an output: an alert Alertmanager answered with a
    /// 4xx (it will not take it however often it is sent).
    RefusedByAlertmanager,
}

impl Reason {
    pub const ALL: [Reason; 11] = [
        Reason::MalformedJson,
        Reason::UnknownType,
        Reason::MissingField,
        Reason::BadValue,
        Reason::TooLarge,
        Reason::UnknownInstitution,
        Reason::UnknownProduct,
        Reason::Orphan,
        Reason::OverCancel,
        Reason::OverPayment,
        Reason::RefusedByAlertmanager,
    ];

    /// The code as written in dead-letter records and metric labels.
    pub fn code(self) -> &'static str {
        match self {
            Reason::MalformedJson => "malformed_json",
            Reason::UnknownType => "unknown_type",
            Reason::MissingField => "missing_field",
            Reason::BadValue => "bad_value",
            Reason::TooLarge => "too_large",
            Reason::UnknownInstitution => "unknown_institution",
            Reason::UnknownProduct => "unknown_product",
            Reason::Orphan => "orphan",
            Reason::OverCancel => "over_cancel",
            Reason::OverPayment => "over_payment",
            Reason::RefusedByAlertmanager => "refused_by_alertmanager",
        }
    }

    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A rejected input: the reason code and a sentence a person can act on
/// ("field `quantity_packs`: must be > 0, got \"-3\"").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reason,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for Rejection {}
