//! Fixed-point numbers for the hot path. A [`Px`] or [`Qty`] is an `i64` count of 10^-8 units, so every price and
//! quantity Bulwark accepts has at most [`FIXED_DECIMALS`] decimals and magnitude below about 9.2e10. Arithmetic
//! is exact integer arithmetic; products go through `i128` into [`Notional`]. `rust_decimal` is used only at the
//! edges (JSON, TOML, FIX text) and converted once, with a typed error for anything that does not fit.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Decimal places carried by every fixed-point value.
pub const FIXED_DECIMALS: u32 = 8;
/// Raw units per whole unit (10^FIXED_DECIMALS).
pub const FIXED_SCALE: i64 = 100_000_000;

/// Why text or a decimal could not become a fixed-point value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FixedError {
    #[error("empty value")]
    Empty,
    #[error("not a decimal number")]
    NotANumber,
    #[error("more than {FIXED_DECIMALS} decimal places")]
    TooPrecise,
    #[error("out of range")]
    OutOfRange,
}

/// Parses decimal text exactly (plain or scientific notation); rejects NaN, infinities and empty text.
pub fn parse_decimal(text: &str) -> Result<Decimal, FixedError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(FixedError::Empty);
    }
    let valid_chars = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if !valid_chars || !text.bytes().any(|b| b.is_ascii_digit()) {
        return Err(FixedError::NotANumber);
    }
    if text.contains(['e', 'E']) {
        // Exponents beyond what a Decimal can hold are out of range, not malformed.
        return Decimal::from_scientific(text).map_err(|_| FixedError::OutOfRange);
    }
    match Decimal::from_str_exact(text) {
        Ok(d) => Ok(d),
        Err(rust_decimal::Error::Underflow) => Err(FixedError::TooPrecise),
        Err(rust_decimal::Error::ExceedsMaximumPossibleValue)
        | Err(rust_decimal::Error::LessThanMinimumPossibleValue) => Err(FixedError::OutOfRange),
        Err(_) => match Decimal::from_str(text) {
            // from_str_exact refuses more than 28 significant digits; any such text is too precise for us.
            Ok(_) => Err(FixedError::TooPrecise),
            Err(_) => Err(FixedError::NotANumber),
        },
    }
}

fn raw_from_decimal(d: Decimal) -> Result<i64, FixedError> {
    let d = d.normalize();
    if d.scale() > FIXED_DECIMALS {
        return Err(FixedError::TooPrecise);
    }
    d.checked_mul(Decimal::from(FIXED_SCALE))
        .and_then(|v| v.to_i64())
        .ok_or(FixedError::OutOfRange)
}

fn decimal_from_raw(raw: i64) -> Decimal {
    Decimal::new(raw, FIXED_DECIMALS).normalize()
}

macro_rules! fixed_type {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(i64);

        impl $name {
            pub const ZERO: $name = $name(0);

            /// Wraps a raw count of 10^-8 units.
            pub const fn from_raw(raw: i64) -> Self {
                $name(raw)
            }
            /// Whole units, for constants and tests.
            pub const fn from_units(units: i64) -> Self {
                $name(units * FIXED_SCALE)
            }
            pub const fn raw(self) -> i64 {
                self.0
            }
            pub fn try_from_decimal(d: Decimal) -> Result<Self, FixedError> {
                raw_from_decimal(d).map($name)
            }
            pub fn to_decimal(self) -> Decimal {
                decimal_from_raw(self.0)
            }
            /// Exact parse of decimal text; see [`parse_decimal`].
            pub fn parse(text: &str) -> Result<Self, FixedError> {
                Self::try_from_decimal(parse_decimal(text)?)
            }
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }
            pub fn checked_add(self, o: Self) -> Option<Self> {
                self.0.checked_add(o.0).map($name)
            }
            pub fn checked_sub(self, o: Self) -> Option<Self> {
                self.0.checked_sub(o.0).map($name)
            }
            /// Number of decimal places actually used (trailing zeros ignored).
            pub fn decimals_used(self) -> u32 {
                let mut raw = self.0;
                let mut decimals = FIXED_DECIMALS;
                while decimals > 0 && raw % 10 == 0 {
                    raw /= 10;
                    decimals -= 1;
                }
                decimals
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.to_decimal(), f)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

fixed_type!(Px, "A price in 10^-8 currency units. Negative prices are representable (some futures) but rejected at edges that forbid them.");
fixed_type!(Qty, "A quantity in 10^-8 units of the instrument (shares, contracts, coins). Signed where it is a position.");

impl Qty {
    pub const fn neg(self) -> Qty {
        Qty(-self.0)
    }
    pub const fn abs(self) -> Qty {
        Qty(self.0.abs())
    }
    pub fn min(self, o: Qty) -> Qty {
        if self.0 <= o.0 {
            self
        } else {
            o
        }
    }
}

/// A money amount in 10^-8 currency units, wide enough for any price x quantity product.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Notional(i128);

impl Notional {
    pub const ZERO: Notional = Notional(0);
    pub const fn from_raw(raw: i128) -> Self {
        Notional(raw)
    }
    pub const fn raw(self) -> i128 {
        self.0
    }
    /// `qty x px`, rounded toward zero at 10^-8.
    pub fn of(qty: Qty, px: Px) -> Notional {
        Notional(i128::from(qty.raw()) * i128::from(px.raw()) / i128::from(FIXED_SCALE))
    }
    pub fn to_decimal(self) -> Decimal {
        // An i128 beyond Decimal's 96-bit mantissa cannot arise from two i64 fixed-point values
        // divided by the scale, but saturate rather than panic if it ever does.
        Decimal::try_from_i128_with_scale(self.0, FIXED_DECIMALS)
            .map(|d| d.normalize())
            .unwrap_or(Decimal::MAX)
    }
    pub fn checked_add(self, o: Notional) -> Option<Notional> {
        self.0.checked_add(o.0).map(Notional)
    }
}

impl std::ops::Add for Notional {
    type Output = Notional;
    fn add(self, o: Notional) -> Notional {
        Notional(self.0 + o.0)
    }
}
impl std::ops::Sub for Notional {
    type Output = Notional;
    fn sub(self, o: Notional) -> Notional {
        Notional(self.0 - o.0)
    }
}

impl fmt::Display for Notional {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_decimal(), f)
    }
}
impl fmt::Debug for Notional {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Notional({self})")
    }
}
impl Serialize for Notional {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(Qty::parse("100").unwrap(), Qty::from_units(100));
        assert_eq!(Px::parse("190.25").unwrap().raw(), 19_025_000_000);
        assert_eq!(Px::parse("0.00000001").unwrap().raw(), 1);
        assert_eq!(Px::parse("1.000000000000").unwrap(), Px::from_units(1));
        assert_eq!(Qty::parse("1e3").unwrap(), Qty::from_units(1000));
    }

    #[test]
    fn rejects_what_does_not_fit() {
        assert_eq!(Qty::parse(""), Err(FixedError::Empty));
        assert_eq!(Qty::parse("NaN"), Err(FixedError::NotANumber));
        assert_eq!(Qty::parse("inf"), Err(FixedError::NotANumber));
        assert_eq!(Qty::parse("1.2.3"), Err(FixedError::NotANumber));
        assert_eq!(Qty::parse("0.000000001"), Err(FixedError::TooPrecise));
        assert_eq!(Qty::parse("1e400"), Err(FixedError::OutOfRange));
        assert_eq!(
            Qty::parse("99999999999999999999"),
            Err(FixedError::OutOfRange)
        );
        assert_eq!(
            Qty::parse("1.00000000000000000000000000001"),
            Err(FixedError::TooPrecise)
        );
    }

    #[test]
    fn notional_is_exact() {
        let n = Notional::of(Qty::from_units(5_000), Px::parse("200.01").unwrap());
        assert_eq!(n.to_decimal().to_string(), "1000050");
        assert_eq!(Px::parse("190.50").unwrap().to_string(), "190.5");
        assert_eq!(Px::parse("190.50").unwrap().decimals_used(), 1);
    }
}
