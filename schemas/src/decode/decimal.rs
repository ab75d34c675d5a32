//! Exact decimal parsing of the text of a JSON number or decimal string.
//!
//! Why not `Decimal::from_scientific`: it parses the part before the exponent
//! with the *rounding* `from_str`, so a mantissa with more than 28 digits
//! would be rounded silently, and it refuses exponents it could represent
//! (`100e-29`). SPEC §4 says amounts are parsed exactly, so this module does
//! the one thing needed — digits, point, exponent → (mantissa, scale) — and
//! hands the result to [`Decimal::try_from_i128_with_scale`], which refuses
//! anything it cannot hold. No floating point is involved anywhere, and no
//! input can make it panic or allocate.

use rust_decimal::Decimal;

/// Why a text is not an acceptable decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalError {
    /// Not of the form `-?digits(.digits)?` (plus `[eE][+-]?digits` when
    /// exponents are allowed).
    Syntax,
    /// Well-formed but beyond what [`Decimal`] holds exactly: more than 28
    /// significant decimal places or a magnitude ≥ 2^96.
    OutOfRange,
}

/// A parsed decimal and whether its text carried a minus sign (so `-0` can
/// be told apart from `0`, which [`Decimal`] equality cannot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedDecimal {
    pub value: Decimal,
    pub minus_sign: bool,
}

/// The pieces of `-?int(.frac)?(e±exp)?`, as byte slices of the input.
struct Parts<'a> {
    minus_sign: bool,
    int: &'a [u8],
    frac: &'a [u8],
    /// The exponent, saturated at ±[`EXPONENT_CAP`].
    exponent: i64,
}

/// Exponents beyond this are out of range for any non-zero mantissa that
/// fits in a message, so saturating here loses nothing.
const EXPONENT_CAP: i64 = 1_000_000;

/// The most significant digits a [`Decimal`] mantissa can have (2^96 − 1 has 29).
const MAX_DIGITS: usize = 29;

/// Parses `text` exactly. `allow_exponent` is true for JSON number tokens and
/// false for decimal strings, which are plain notation only.
pub(crate) fn parse_decimal(
    text: &str,
    allow_exponent: bool,
) -> Result<ParsedDecimal, DecimalError> {
    let parts = split(text.as_bytes(), allow_exponent)?;
    let value = to_decimal(&parts)?;
    Ok(ParsedDecimal {
        value,
        minus_sign: parts.minus_sign,
    })
}

/// Checks the syntax and splits it into its parts.
fn split(bytes: &[u8], allow_exponent: bool) -> Result<Parts<'_>, DecimalError> {
    let (minus_sign, rest) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    let (int, rest) = take_digits(rest);
    if int.is_empty() {
        return Err(DecimalError::Syntax);
    }
    let (frac, rest) = match rest.split_first() {
        Some((b'.', after_point)) => {
            let (frac, rest) = take_digits(after_point);
            if frac.is_empty() {
                return Err(DecimalError::Syntax);
            }
            (frac, rest)
        }
        _ => (&[][..], rest),
    };
    let (exponent, rest) = match rest.split_first() {
        Some((b'e' | b'E', after_e)) if allow_exponent => parse_exponent(after_e)?,
        _ => (0, rest),
    };
    if !rest.is_empty() {
        return Err(DecimalError::Syntax);
    }
    Ok(Parts {
        minus_sign,
        int,
        frac,
        exponent,
    })
}

/// Splits off the leading ASCII digits.
fn take_digits(bytes: &[u8]) -> (&[u8], &[u8]) {
    let n = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    bytes.split_at(n)
}

/// Parses `[+-]?digits` after the `e`, saturating at ±[`EXPONENT_CAP`].
fn parse_exponent(bytes: &[u8]) -> Result<(i64, &[u8]), DecimalError> {
    let (negative, rest) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    let (digits, rest) = take_digits(rest);
    if digits.is_empty() {
        return Err(DecimalError::Syntax);
    }
    let magnitude = digits.iter().fold(0i64, |acc, d| {
        (acc * 10 + i64::from(d - b'0')).min(EXPONENT_CAP)
    });
    Ok((if negative { -magnitude } else { magnitude }, rest))
}

/// Turns the parts into a [`Decimal`] with the same value, keeping the
/// written scale when it fits (so `"12.50"` stays `12.50`) and otherwise
/// dropping trailing zeros, which carry no value, until it does.
fn to_decimal(parts: &Parts<'_>) -> Result<Decimal, DecimalError> {
    // value = digits × 10^(−scale), digits = int ++ frac.
    let scale = parts.frac.len() as i64 - parts.exponent;
    let digits = Digits {
        int: parts.int,
        frac: parts.frac,
    };
    let leading_zeros = digits.leading_zeros();
    if leading_zeros == digits.len() {
        // Zero, whatever its exponent: keep a representable scale.
        return zero_with_scale(scale.clamp(0, i64::from(Decimal::MAX_SCALE)));
    }
    let significant = digits.len() - leading_zeros;
    // Dropping zeros below scale 0 would only turn them into padding.
    let max_drop = digits
        .trailing_zeros()
        .min(usize::try_from(scale).unwrap_or(0));
    let min_drop = usize::try_from(scale - i64::from(Decimal::MAX_SCALE)).unwrap_or(0);
    if min_drop > max_drop {
        return Err(DecimalError::OutOfRange);
    }
    [min_drop, max_drop]
        .into_iter()
        .find_map(|drop| {
            let mantissa = Mantissa {
                digits: &digits,
                skip: leading_zeros,
                take: significant - drop,
            };
            mantissa.to_decimal(scale - drop as i64, parts.minus_sign)
        })
        .ok_or(DecimalError::OutOfRange)
}

/// `take` digits after `skip` leading ones, as the mantissa of a decimal.
struct Mantissa<'d, 'a> {
    digits: &'d Digits<'a>,
    skip: usize,
    take: usize,
}

impl Mantissa<'_, '_> {
    /// `None` when the value does not fit a [`Decimal`] at this scale.
    fn to_decimal(&self, scale: i64, negative: bool) -> Option<Decimal> {
        // A negative scale means whole zeros to append: 12e3 = 12000.
        let padding = usize::try_from(-scale).unwrap_or(0);
        if self.take + padding > MAX_DIGITS || scale > i64::from(Decimal::MAX_SCALE) {
            return None;
        }
        // At most 29 digits: < 10^29, far inside i128.
        let magnitude = self
            .digits
            .iter()
            .skip(self.skip)
            .take(self.take)
            .chain(std::iter::repeat_n(0u8, padding))
            .fold(0i128, |acc, d| acc * 10 + i128::from(d));
        let signed = if negative { -magnitude } else { magnitude };
        let scale = u32::try_from(scale.max(0)).ok()?;
        Decimal::try_from_i128_with_scale(signed, scale).ok()
    }
}

fn zero_with_scale(scale: i64) -> Result<Decimal, DecimalError> {
    let scale = u32::try_from(scale).map_err(|_| DecimalError::OutOfRange)?;
    Decimal::try_from_i128_with_scale(0, scale).map_err(|_| DecimalError::OutOfRange)
}

/// The integer and fraction digits seen as one digit string, without copying.
struct Digits<'a> {
    int: &'a [u8],
    frac: &'a [u8],
}

impl Digits<'_> {
    fn len(&self) -> usize {
        self.int.len() + self.frac.len()
    }

    /// Digit values 0–9, most significant first.
    fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        self.int.iter().chain(self.frac).map(|d| d - b'0')
    }

    fn leading_zeros(&self) -> usize {
        self.iter().take_while(|&d| d == 0).count()
    }

    fn trailing_zeros(&self) -> usize {
        self.int
            .iter()
            .chain(self.frac)
            .rev()
            .take_while(|&&d| d == b'0')
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn num(text: &str) -> Result<Decimal, DecimalError> {
        parse_decimal(text, true).map(|p| p.value)
    }

    #[test]
    fn plain_and_scientific_forms() {
        assert_eq!(num("12.5"), Ok(dec("12.5")));
        assert_eq!(num("12.50").map(|d| d.scale()), Ok(2));
        assert_eq!(num("1e2"), Ok(dec("100")));
        assert_eq!(num("1E+2"), Ok(dec("100")));
        assert_eq!(num("125e-2"), Ok(dec("1.25")));
        assert_eq!(num("0.0125e2"), Ok(dec("1.25")));
        assert_eq!(num("-3"), Ok(dec("-3")));
        assert_eq!(num("100e-29"), Ok(dec("0.000000000000000000000000001")));
        assert_eq!(num("0e999999999999999999999"), Ok(Decimal::ZERO));
        assert_eq!(num("0.1000000000000000000000000000000000"), Ok(dec("0.1")));
        assert_eq!(num("79228162514264337593543950335"), Ok(Decimal::MAX));
        assert_eq!(num("79228162514264337593543950335.000"), Ok(Decimal::MAX));
        assert_eq!(num("792281625142643375935439503350e-1"), Ok(Decimal::MAX));
        assert_eq!(num("12.50").map(|d| d.to_string()), Ok("12.50".to_owned()));
    }

    #[test]
    fn out_of_range_is_refused_not_rounded() {
        assert_eq!(
            num("79228162514264337593543950336"),
            Err(DecimalError::OutOfRange)
        );
        assert_eq!(num("1e29"), Err(DecimalError::OutOfRange));
        assert_eq!(num("1e-29"), Err(DecimalError::OutOfRange));
        assert_eq!(
            num("1.00000000000000000000000000001"),
            Err(DecimalError::OutOfRange)
        );
        assert_eq!(
            num("1e9999999999999999999999999"),
            Err(DecimalError::OutOfRange)
        );
    }

    #[test]
    fn syntax_errors() {
        for text in [
            "", "-", ".5", "5.", "+5", "1e", "1e+", "0x10", "1_000", " 1", "1 ", "NaN", "Infinity",
            "1.2.3",
        ] {
            assert_eq!(num(text), Err(DecimalError::Syntax), "{text:?}");
        }
        assert_eq!(parse_decimal("1e2", false), Err(DecimalError::Syntax));
    }

    #[test]
    fn minus_zero_keeps_its_sign_flag() {
        let parsed = parse_decimal("-0.00", false).unwrap();
        assert!(parsed.minus_sign);
        assert!(parsed.value.is_zero());
    }

    proptest! {
        /// rust_decimal's own exact parser is the oracle for plain notation.
        #[test]
        fn agrees_with_from_str_exact(int in "-?[0-9]{1,30}", frac in proptest::option::of("[0-9]{1,30}")) {
            let text = match &frac { Some(f) => format!("{int}.{f}"), None => int.clone() };
            let ours = parse_decimal(&text, false).map(|p| p.value);
            if let Ok(theirs) = Decimal::from_str_exact(&text) {
                prop_assert_eq!(ours, Ok(theirs));
            }
        }

        /// Moving the point into the exponent never changes the value:
        /// `m × 10^-s` written as `m000e-(s+3)` is still `m × 10^-s`.
        #[test]
        fn exponent_shifts_the_point(mantissa in any::<i64>(), scale in 0u32..=10, shift in 0usize..=10) {
            let exact = Decimal::new(mantissa, scale);
            let sign = if mantissa < 0 { "-" } else { "" };
            let zeros = "0".repeat(shift);
            let text = format!("{sign}{}{zeros}e-{}", mantissa.unsigned_abs(), scale as usize + shift);
            prop_assert_eq!(num(&text), Ok(exact));
        }

        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = parse_decimal(&text, true);
        }
    }
}
