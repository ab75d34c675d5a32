//! The event contract of vbp-watch (SPEC §4, §7, §9).
//!
//! - [`event`]: the typed events the engine consumes;
//! - [`decode`]: bytes → typed event or [`Rejection`], never a panic;
//! - [`dead_letter`]: the record a rejected input becomes;
//! - [`reference_files`]: the reference directory's files and columns, the
//!   `YYYY-MM-DD` date spelling and the shipped holiday calendar (SPEC §3);
//! - `json/`: the JSON Schema files these types match.
//!
//! This crate depends on nothing of ours, so producers can use it too.

pub mod dead_letter;
pub mod decode;
pub mod event;
pub mod reason;
pub mod reference_files;

pub use dead_letter::{DeadLetter, DeadLetterParseError, Source};
pub use decode::{decode, DecodeLimits, Latest, OccurredWindow};
pub use event::*;
pub use reason::{Reason, Rejection};
