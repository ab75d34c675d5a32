//! `occurred_at`: RFC 3339 with an explicit offset (SPEC §4).
//!
//! chrono's parser alone is more lenient than the contract: it accepts a
//! space for `T`, any number of fraction digits, the leap second `:60` and
//! `-00:00`, which RFC 3339 §4.3 defines as "offset unknown" — the opposite
//! of explicit. So the shape is checked here first, byte by byte, exactly as
//! the `occurred_at` pattern in `json/common.schema.json` does, and chrono
//! then checks the calendar (no 30 February).

use chrono::{DateTime, FixedOffset};

/// What a producer should write, for the rejection message.
pub(crate) const EXAMPLE: &str = "2026-03-02T09:15:00+08:00";

/// Parses an `occurred_at` value, or says in a phrase what is wrong with it.
pub(crate) fn parse_occurred_at(text: &str) -> Result<DateTime<FixedOffset>, String> {
    let bytes = text.as_bytes();
    let (date_time, rest) = bytes.split_at_checked(19).ok_or_else(not_rfc3339)?;
    check_date_time(date_time)?;
    let offset = skip_fraction(rest)?;
    check_offset(offset)?;
    DateTime::parse_from_rfc3339(text).map_err(|e| format!("is not a valid date-time ({e})"))
}

fn not_rfc3339() -> String {
    format!("must be an RFC 3339 date-time with an explicit offset, e.g. \"{EXAMPLE}\"")
}

/// `YYYY-MM-DDThh:mm:ss`, with the field ranges the schema pattern has.
fn check_date_time(b: &[u8]) -> Result<(), String> {
    const TEMPLATE: &[u8; 19] = b"dddd-dd-ddTdd:dd:dd";
    let shape_ok = b.len() == TEMPLATE.len()
        && b.iter().zip(TEMPLATE).all(|(&c, &t)| match t {
            b'd' => c.is_ascii_digit(),
            b'T' => c == b'T' || c == b't',
            _ => c == t,
        });
    if !shape_ok {
        return Err(not_rfc3339());
    }
    let field = |at: usize| two_digits(b, at);
    let in_range = (1..=12).contains(&field(5))
        && (1..=31).contains(&field(8))
        && field(11) <= 23
        && field(14) <= 59;
    if !in_range {
        return Err(not_rfc3339());
    }
    if field(17) > 59 {
        return Err(
            "must not be a leap second (:60); write :59.999999999 or the next second".to_owned(),
        );
    }
    Ok(())
}

/// Skips an optional `.` and 1–9 digits (chrono keeps nanoseconds, no more).
fn skip_fraction(rest: &[u8]) -> Result<&[u8], String> {
    let Some(after_point) = rest.strip_prefix(b".") else {
        return Ok(rest);
    };
    let digits = after_point
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if !(1..=9).contains(&digits) {
        return Err("must have 1 to 9 digits of fractional seconds".to_owned());
    }
    Ok(after_point.get(digits..).unwrap_or_default())
}

/// `Z`, `z` or `±hh:mm`, but not `-00:00` (offset unknown).
fn check_offset(offset: &[u8]) -> Result<(), String> {
    match offset {
        b"Z" | b"z" => Ok(()),
        [] => Err(format!("has no UTC offset; add Z or ±hh:mm (China Standard Time is +08:00), e.g. \"{EXAMPLE}\"")),
        b"-00:00" => Err("has offset -00:00, which RFC 3339 defines as \"offset unknown\"; write Z or +00:00".to_owned()),
        [b'+' | b'-', h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) => {
            let hours = (h1 - b'0') * 10 + (h2 - b'0');
            let minutes = (m1 - b'0') * 10 + (m2 - b'0');
            if hours <= 23 && minutes <= 59 {
                Ok(())
            } else {
                Err("has an offset beyond ±23:59".to_owned())
            }
        }
        _ => Err(not_rfc3339()),
    }
}

/// The two-digit number at `at`; the shape check made sure both are digits.
fn two_digits(b: &[u8], at: usize) -> u32 {
    let digit = |i: usize| b.get(i).map_or(0, |c| u32::from(c.wrapping_sub(b'0')));
    digit(at) * 10 + digit(at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_explicit_offsets() {
        for ok in [
            "2026-03-02T09:15:00+08:00",
            "2026-03-02T01:15:00Z",
            "2026-03-02t01:15:00z",
            "2026-03-02T09:15:00.123456789+08:00",
            "2026-03-02T09:15:00.5-05:30",
            "2024-02-29T00:00:00+00:00",
        ] {
            assert!(parse_occurred_at(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn same_instant_whatever_the_offset() {
        let a = parse_occurred_at("2026-03-02T09:15:00+08:00").unwrap();
        let b = parse_occurred_at("2026-03-02T01:15:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.offset().local_minus_utc(), 8 * 3600);
    }

    #[test]
    fn rejects_what_the_contract_does_not_allow() {
        for bad in [
            "2026-03-02T09:15:00",
            "2026-03-02 09:15:00+08:00",
            "2026-03-02",
            "2026-03-02T09:15+08:00",
            "2026-03-02T09:15:00.+08:00",
            "2026-03-02T09:15:00.1234567891+08:00",
            "2026-03-02T09:15:00-00:00",
            "2026-03-02T09:15:00+24:00",
            "2026-03-02T09:15:00+0800",
            "2026-02-30T09:15:00+08:00",
            "2025-02-29T09:15:00+08:00",
            "2026-12-31T23:59:60Z",
            "2026-13-01T00:00:00Z",
            "2026-03-02T24:00:00Z",
            "26-03-02T09:15:00Z",
            "",
            "２０２６-03-02T09:15:00Z",
        ] {
            assert!(parse_occurred_at(bad).is_err(), "{bad}");
        }
    }
}
