//! Hand-written JSON for the event lines.
//!
//! Province scale writes tens of millions of lines; building a
//! `serde_json::Value` per event would dominate the run time. Every value
//! written here is a code, an id, a decimal or a fixed word, so no string
//! escaping is needed except for distributor names, which are checked once
//! (`push_str_checked`).

use super::clock::TimeFormatter;

/// Appends the decimal digits of `v`.
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `v` zero-padded to `width` digits.
pub fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut x = v;
    let mut i = buf.len();
    while x > 0 {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    let digits = buf.len() - i;
    let start = buf.len() - digits.max(width);
    out.extend_from_slice(&buf[start..]);
}

/// Appends fen as a yuan decimal with exactly two places: 12345 → 123.45.
pub fn push_money(out: &mut Vec<u8>, fen: i64) {
    debug_assert!(fen >= 0);
    push_u64(out, (fen / 100) as u64);
    out.push(b'.');
    push_padded(out, (fen % 100) as u64, 2);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut Vec<u8>, v: u64, digits: u32) {
    for k in (0..digits).rev() {
        out.push(HEX[((v >> (4 * k)) & 0xf) as usize]);
    }
}

/// A UUID-shaped event id. All 64 bits of `unique` appear in it, so
/// distinct `unique` values give distinct ids; `salt` fills the rest.
pub fn push_uuid(out: &mut Vec<u8>, unique: u64, salt: u64) {
    push_hex(out, unique >> 32, 8);
    out.push(b'-');
    push_hex(out, (unique >> 16) & 0xffff, 4);
    out.extend_from_slice(b"-4");
    push_hex(out, salt & 0xfff, 3);
    out.push(b'-');
    push_hex(out, 0x8000 | ((salt >> 12) & 0x3fff), 4);
    out.push(b'-');
    push_hex(out, unique & 0xffff, 4);
    push_hex(out, (salt >> 32) & 0xffff_ffff, 8);
}

/// `"key":` with the opening comma when not first.
pub fn push_key(out: &mut Vec<u8>, key: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A string value known to need no escaping.
pub fn push_plain_str(out: &mut Vec<u8>, s: &str) {
    debug_assert!(!s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20));
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// A quantity of packs, as a JSON number or a decimal string.
pub fn push_qty(out: &mut Vec<u8>, packs: i64, as_string: bool) {
    if as_string {
        out.push(b'"');
        push_u64(out, packs as u64);
        out.push(b'"');
    } else {
        push_u64(out, packs as u64);
    }
}

/// `"occurred_at":"…+08:00"`.
pub fn push_time(out: &mut Vec<u8>, tf: &mut TimeFormatter, t: i64) {
    push_key(out, "occurred_at", false);
    out.push(b'"');
    tf.push(out, t);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        push_money(&mut v, 5);
        v.push(b' ');
        push_money(&mut v, 123_456);
        v.push(b' ');
        push_padded(&mut v, 42, 7);
        v.push(b' ');
        push_u64(&mut v, 0);
        assert_eq!(String::from_utf8(v).unwrap(), "0.05 1234.56 0000042 0");
    }

    #[test]
    fn uuid_shape() {
        let mut v = Vec::new();
        push_uuid(&mut v, 0x0123_4567_89ab_cdef, 0xffff_ffff_ffff_ffff);
        let s = String::from_utf8(v).unwrap();
        assert_eq!(s.len(), 36);
        assert!(s.starts_with("01234567-89ab-4"));
        assert_eq!(&s[24..28], "cdef");
    }
}
