//! Identifiers. Accounts and symbols are dense `u32` indices into the configured catalog, resolved from names
//! at the edge (an unknown name never reaches the sequencer). Every boot journals the catalog's names, so a
//! journal written under one configuration replays under another by name. Order ids are assigned by the
//! sequencer in journal order. Client order ids are short inline ASCII strings so that events stay `Copy`.

use serde::{Serialize, Serializer};
use std::fmt;

/// Index of an account in the configured catalog.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct AccountId(pub u32);

/// Index of a symbol (instrument) in the configured catalog.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct SymbolId(pub u32);

/// Sequencer-assigned order id, dense from 1 in journal order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct OrderId(pub u64);

impl OrderId {
    /// The deterministic client order id sent to venues for this order (journaled implicitly by the id).
    pub fn venue_client_order_id(self) -> String {
        format!("BW-{}", self.0)
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Longest client order id accepted, in bytes.
pub const CL_ORD_ID_LEN_MAX: usize = 36;

/// Why a client order id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClOrdIdError {
    #[error("client_order_id is empty")]
    Empty,
    #[error("client_order_id is longer than {CL_ORD_ID_LEN_MAX} bytes")]
    TooLong,
    #[error("client_order_id may hold only printable ASCII without spaces")]
    BadChar,
}

/// A client order id: 1 to [`CL_ORD_ID_LEN_MAX`] bytes of printable, non-space ASCII, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClOrdId {
    len: u8,
    bytes: [u8; CL_ORD_ID_LEN_MAX],
}

impl ClOrdId {
    pub fn try_new(text: &str) -> Result<Self, ClOrdIdError> {
        let raw = text.as_bytes();
        if raw.is_empty() {
            return Err(ClOrdIdError::Empty);
        }
        if raw.len() > CL_ORD_ID_LEN_MAX {
            return Err(ClOrdIdError::TooLong);
        }
        if !raw.iter().all(|b| b.is_ascii_graphic()) {
            return Err(ClOrdIdError::BadChar);
        }
        let mut bytes = [0u8; CL_ORD_ID_LEN_MAX];
        bytes[..raw.len()].copy_from_slice(raw);
        Ok(ClOrdId {
            len: raw.len() as u8,
            bytes,
        })
    }
    /// A decimal id for `n` (placeholders, generated ids).
    pub fn from_index(n: u64) -> ClOrdId {
        let mut bytes = [0u8; CL_ORD_ID_LEN_MAX];
        let mut digits = [0u8; 20];
        let mut v = n;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (v % 10) as u8;
            len += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for i in 0..len {
            bytes[i] = digits[len - 1 - i];
        }
        ClOrdId {
            len: len as u8,
            bytes,
        }
    }

    /// The id's bytes (printable ASCII).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn as_str(&self) -> &str {
        // Invariant: constructed only from printable ASCII, which is valid UTF-8.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for ClOrdId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClOrdId({})", self.as_str())
    }
}
impl fmt::Display for ClOrdId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl Serialize for ClOrdId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_index_is_the_decimal_text() {
        assert_eq!(ClOrdId::from_index(0).as_str(), "0");
        assert_eq!(ClOrdId::from_index(1_234_567).as_str(), "1234567");
        assert_eq!(
            ClOrdId::from_index(u64::MAX).as_str(),
            "18446744073709551615"
        );
    }

    #[test]
    fn cl_ord_id_validation() {
        assert_eq!(ClOrdId::try_new("ORD-1").unwrap().as_str(), "ORD-1");
        assert_eq!(ClOrdId::try_new(""), Err(ClOrdIdError::Empty));
        assert_eq!(ClOrdId::try_new("a b"), Err(ClOrdIdError::BadChar));
        assert_eq!(ClOrdId::try_new("é"), Err(ClOrdIdError::BadChar));
        assert_eq!(
            ClOrdId::try_new(&"x".repeat(CL_ORD_ID_LEN_MAX + 1)),
            Err(ClOrdIdError::TooLong)
        );
    }
}
