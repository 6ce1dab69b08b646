//! Orders and their one state machine (ARCHITECTURE §4), shared by every venue:
//! `PendingNew -> New -> PartiallyFilled -> Filled`, with `Rejected`, `PendingCancel -> Canceled`,
//! `PendingReplace -> Replaced` and `Expired`. [`OrderStatus::can_become`] is the whole transition table;
//! callers treat an illegal transition from their own logic as a programmer error and one reported by a venue
//! as an anomaly to count.

use crate::fixed::{Notional, Px, Qty};
use crate::ids::{AccountId, ClOrdId, OrderId, SymbolId};
use serde::Serialize;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Side {
    Buy = 1,
    Sell = 2,
}

impl Side {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Side::Buy),
            2 => Some(Side::Sell),
            _ => None,
        }
    }
    /// +1 for buys, -1 for sells.
    pub const fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum OrdType {
    Market = 1,
    Limit = 2,
}

impl OrdType {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(OrdType::Market),
            2 => Some(OrdType::Limit),
            _ => None,
        }
    }
}

/// Time in force.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Tif {
    Day = 1,
    Gtc = 2,
    Ioc = 3,
    Fok = 4,
}

impl Tif {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Tif::Day),
            2 => Some(Tif::Gtc),
            3 => Some(Tif::Ioc),
            4 => Some(Tif::Fok),
            _ => None,
        }
    }
}

/// Which edge an order came from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Ingress {
    Rest = 1,
    Fix = 2,
    Webhook = 3,
    Binary = 4,
    Strategy = 5,
    Risk = 6,
}

impl Ingress {
    pub fn from_u8(v: u8) -> Option<Self> {
        [
            Self::Rest,
            Self::Fix,
            Self::Webhook,
            Self::Binary,
            Self::Strategy,
            Self::Risk,
        ]
        .into_iter()
        .find(|i| *i as u8 == v)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum OrderStatus {
    PendingNew = 1,
    New = 2,
    PartiallyFilled = 3,
    Filled = 4,
    Rejected = 5,
    PendingCancel = 6,
    Canceled = 7,
    PendingReplace = 8,
    Replaced = 9,
    Expired = 10,
}

impl OrderStatus {
    /// Terminal states accept no further transition.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Filled | Self::Rejected | Self::Canceled | Self::Replaced | Self::Expired
        )
    }

    /// Whether the order may still trade at the venue.
    pub const fn is_working(self) -> bool {
        !self.is_terminal()
    }

    /// The transition table of ARCHITECTURE §4.
    pub const fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (
                PendingNew,
                New | Rejected | PartiallyFilled | Filled | Canceled | PendingCancel | Expired
            ) | (
                New,
                PartiallyFilled | Filled | PendingCancel | PendingReplace | Canceled | Expired
            ) | (
                PartiallyFilled,
                PartiallyFilled | Filled | PendingCancel | PendingReplace | Canceled | Expired
            ) | (
                PendingCancel,
                Canceled | PartiallyFilled | Filled | New | Expired
            ) | (
                PendingReplace,
                Replaced | New | PartiallyFilled | Filled | Canceled
            )
        )
    }
}

/// Error for a transition the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("order {order:?}: illegal transition {from:?} -> {to:?}")]
pub struct IllegalTransition {
    pub order: OrderId,
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// One order as the sequencer knows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct Order {
    pub id: OrderId,
    pub account: AccountId,
    pub symbol: SymbolId,
    pub side: Side,
    pub ord_type: OrdType,
    pub tif: Tif,
    pub qty: Qty,
    pub limit_px: Option<Px>,
    pub cl_ord_id: ClOrdId,
    pub ingress: Ingress,
    pub status: OrderStatus,
    pub cum_qty: Qty,
    /// Sum of fill qty x fill px, for the average price.
    pub cum_notional: Notional,
    pub created_ts_ns: i64,
    pub updated_ts_ns: i64,
    pub reject: Option<crate::reason::Reject>,
}

impl Order {
    pub fn leaves_qty(&self) -> Qty {
        if self.status.is_terminal() {
            Qty::ZERO
        } else {
            Qty::from_raw(self.qty.raw() - self.cum_qty.raw())
        }
    }

    /// Volume-weighted average fill price, zero before the first fill.
    pub fn avg_px(&self) -> Px {
        if self.cum_qty.raw() == 0 {
            return Px::ZERO;
        }
        let raw = self.cum_notional.raw() * i128::from(crate::fixed::FIXED_SCALE)
            / i128::from(self.cum_qty.raw());
        Px::from_raw(raw as i64)
    }

    /// Moves to `next`, or reports the illegal transition without changing anything.
    pub fn transition(&mut self, next: OrderStatus, ts_ns: i64) -> Result<(), IllegalTransition> {
        if !self.status.can_become(next) {
            return Err(IllegalTransition {
                order: self.id,
                from: self.status,
                to: next,
            });
        }
        self.status = next;
        self.updated_ts_ns = ts_ns;
        Ok(())
    }
}

/// A position in one symbol for one account: signed quantity, average open price and realized P&L.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize)]
pub struct Position {
    pub qty: Qty,
    pub avg_px: Px,
    pub realized_pnl: Notional,
}

impl Position {
    /// Applies a fill: adding to the position moves the average; reducing realizes P&L at the average;
    /// a flip closes the old side and opens the rest at the fill price.
    pub fn apply_fill(&mut self, side: Side, qty: Qty, px: Px) {
        assert!(qty.is_positive(), "fill quantity must be positive");
        let signed = qty.raw() * side.sign();
        let pos = self.qty.raw();
        if pos == 0 || pos.signum() == signed.signum() {
            let old = Notional::of(Qty::from_raw(pos.abs()), self.avg_px);
            let add = Notional::of(qty, px);
            let new_abs = pos.abs() + qty.raw();
            let avg =
                (old + add).raw() * i128::from(crate::fixed::FIXED_SCALE) / i128::from(new_abs);
            self.avg_px = Px::from_raw(avg as i64);
            self.qty = Qty::from_raw(pos + signed);
            return;
        }
        let closing = pos.abs().min(qty.raw());
        let per_unit = i128::from(px.raw() - self.avg_px.raw()) * i128::from(pos.signum());
        self.realized_pnl = self.realized_pnl
            + Notional::from_raw(
                per_unit * i128::from(closing) / i128::from(crate::fixed::FIXED_SCALE),
            );
        let new_pos = pos + signed;
        self.qty = Qty::from_raw(new_pos);
        if new_pos == 0 {
            self.avg_px = Px::ZERO;
        } else if new_pos.signum() != pos.signum() {
            self.avg_px = px;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(v: i64) -> Qty {
        Qty::from_units(v)
    }

    #[test]
    fn position_average_and_realized() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, u(100), Px::from_units(10));
        p.apply_fill(Side::Buy, u(100), Px::from_units(20));
        assert_eq!(p.qty, u(200));
        assert_eq!(p.avg_px, Px::from_units(15));
        p.apply_fill(Side::Sell, u(50), Px::from_units(17));
        assert_eq!(p.qty, u(150));
        assert_eq!(p.realized_pnl.to_decimal().to_string(), "100");
        p.apply_fill(Side::Sell, u(200), Px::from_units(16));
        assert_eq!(p.qty, u(-50));
        assert_eq!(p.avg_px, Px::from_units(16));
        assert_eq!(p.realized_pnl.to_decimal().to_string(), "250");
        p.apply_fill(Side::Buy, u(50), Px::from_units(14));
        assert_eq!(p.qty, Qty::ZERO);
        assert_eq!(p.avg_px, Px::ZERO);
        assert_eq!(p.realized_pnl.to_decimal().to_string(), "350");
    }

    #[test]
    fn transition_table() {
        use OrderStatus::*;
        assert!(PendingNew.can_become(New));
        assert!(New.can_become(Filled));
        assert!(!Filled.can_become(Canceled));
        assert!(!Canceled.can_become(New));
        assert!(!Rejected.can_become(New));
        assert!(PendingCancel.can_become(Filled));
    }
}
