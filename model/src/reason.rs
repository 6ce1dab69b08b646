//! Why something was refused. [`RejectReason`] is the closed set of engine reason codes of spec §6.2 with their
//! FIX `OrdRejReason` (103) and HTTP status mappings; [`RuleId`] names the rule that fired. A [`Reject`] carries
//! both plus the two numbers that drove it, so the human text is rendered at the edge, never on the hot path.

use crate::fixed::{Px, Qty};
use serde::Serialize;
use std::fmt::Write as _;

/// Engine reason codes (spec §6.2). Serialized as SCREAMING_SNAKE_CASE, the form clients see.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(u8)]
pub enum RejectReason {
    KillSwitchActive = 1,
    AccountLocked = 2,
    MarketClosed = 3,
    UnknownSymbol = 4,
    UnknownAccount = 5,
    Restricted = 6,
    PriceFloor = 7,
    Duplicate = 8,
    Throttle = 9,
    MaxOrderQty = 10,
    IncorrectQuantity = 11,
    PriceCollar = 12,
    MaxNotional = 13,
    MaxPosition = 14,
    BuyingPower = 15,
    Credit = 16,
    PdtProtection = 17,
    IntradayMarginDeficit = 18,
    Wash = 19,
    TooLate = 20,
    StaleSignal = 21,
    Unsupported = 22,
    UnknownOrder = 23,
    TooLateToCancel = 24,
    VolatilityRestriction = 25,
    NoReferencePrice = 26,
    IncorrectPrice = 27,
    Busy = 28,
    EarningsOvernight = 29,
    InsufficientVolume = 30,
    ResetDenied = 31,
    OutsideTradingWindow = 32,
}

impl RejectReason {
    pub const ALL: [RejectReason; 32] = [
        Self::KillSwitchActive,
        Self::AccountLocked,
        Self::MarketClosed,
        Self::UnknownSymbol,
        Self::UnknownAccount,
        Self::Restricted,
        Self::PriceFloor,
        Self::Duplicate,
        Self::Throttle,
        Self::MaxOrderQty,
        Self::IncorrectQuantity,
        Self::PriceCollar,
        Self::MaxNotional,
        Self::MaxPosition,
        Self::BuyingPower,
        Self::Credit,
        Self::PdtProtection,
        Self::IntradayMarginDeficit,
        Self::Wash,
        Self::TooLate,
        Self::StaleSignal,
        Self::Unsupported,
        Self::UnknownOrder,
        Self::TooLateToCancel,
        Self::VolatilityRestriction,
        Self::NoReferencePrice,
        Self::IncorrectPrice,
        Self::Busy,
        Self::EarningsOvernight,
        Self::InsufficientVolume,
        Self::ResetDenied,
        Self::OutsideTradingWindow,
    ];

    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| *r as u8 == v)
    }

    /// The code clients see, e.g. `MAX_ORDER_QTY`.
    pub fn code(self) -> &'static str {
        match self {
            Self::KillSwitchActive => "KILL_SWITCH_ACTIVE",
            Self::AccountLocked => "ACCOUNT_LOCKED",
            Self::MarketClosed => "MARKET_CLOSED",
            Self::UnknownSymbol => "UNKNOWN_SYMBOL",
            Self::UnknownAccount => "UNKNOWN_ACCOUNT",
            Self::Restricted => "RESTRICTED",
            Self::PriceFloor => "PRICE_FLOOR",
            Self::Duplicate => "DUPLICATE",
            Self::Throttle => "THROTTLE",
            Self::MaxOrderQty => "MAX_ORDER_QTY",
            Self::IncorrectQuantity => "INCORRECT_QUANTITY",
            Self::PriceCollar => "PRICE_COLLAR",
            Self::MaxNotional => "MAX_NOTIONAL",
            Self::MaxPosition => "MAX_POSITION",
            Self::BuyingPower => "BUYING_POWER",
            Self::Credit => "CREDIT",
            Self::PdtProtection => "PDT_PROTECTION",
            Self::IntradayMarginDeficit => "INTRADAY_MARGIN_DEFICIT",
            Self::Wash => "WASH",
            Self::TooLate => "TOO_LATE",
            Self::StaleSignal => "STALE_SIGNAL",
            Self::Unsupported => "UNSUPPORTED",
            Self::UnknownOrder => "UNKNOWN_ORDER",
            Self::TooLateToCancel => "TOO_LATE_TO_CANCEL",
            Self::VolatilityRestriction => "VOLATILITY_RESTRICTION",
            Self::NoReferencePrice => "NO_REFERENCE_PRICE",
            Self::IncorrectPrice => "INCORRECT_PRICE",
            Self::Busy => "BUSY",
            Self::EarningsOvernight => "EARNINGS_OVERNIGHT",
            Self::InsufficientVolume => "INSUFFICIENT_VOLUME",
            Self::ResetDenied => "RESET_DENIED",
            Self::OutsideTradingWindow => "OUTSIDE_TRADING_WINDOW",
        }
    }

    /// HTTP status for REST and webhook answers (spec §6.2).
    pub fn http_status(self) -> u16 {
        match self {
            Self::UnknownSymbol
            | Self::IncorrectQuantity
            | Self::IncorrectPrice
            | Self::StaleSignal
            | Self::Unsupported => 422,
            Self::UnknownAccount | Self::UnknownOrder => 404,
            Self::Duplicate => 409,
            Self::Throttle => 429,
            Self::TooLateToCancel => 409,
            Self::Busy => 503,
            _ => 403,
        }
    }

    /// FIX 4.4 OrdRejReason (103).
    pub fn fix44_ord_rej_reason(self) -> u32 {
        match self {
            Self::MarketClosed => 2,
            Self::UnknownSymbol => 1,
            Self::MaxOrderQty | Self::MaxNotional | Self::MaxPosition => 3,
            Self::Credit | Self::BuyingPower | Self::IntradayMarginDeficit => 0,
            Self::Duplicate => 6,
            Self::StaleSignal => 8,
            Self::TooLate => 4,
            Self::UnknownAccount => 15,
            Self::IncorrectQuantity => 13,
            Self::Unsupported => 11,
            Self::UnknownOrder => 5,
            _ => 99,
        }
    }

    /// FIX 4.2 OrdRejReason (103): codes 9 and above do not exist in 4.2 and become 0 with the text.
    pub fn fix42_ord_rej_reason(self) -> u32 {
        match self.fix44_ord_rej_reason() {
            v @ 0..=8 => v,
            _ => 0,
        }
    }
}

/// The rule that produced a decision. `as_str` is the id used in FIX text (`RISK:<RULE_ID>:<detail>`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[repr(u8)]
pub enum RuleId {
    Input = 1,
    Kill = 2,
    AccountState = 3,
    Hours = 4,
    Symbol = 5,
    Dup = 6,
    Throttle = 7,
    Qty = 8,
    PriceCollar = 9,
    Notional = 10,
    Position = 11,
    Credit = 12,
    Pdt = 13,
    Imr = 14,
    PropCap = 15,
    Wash = 16,
    Account = 17,
    Cancel = 18,
    Venue = 19,
}

impl RuleId {
    pub const ALL: [RuleId; 19] = [
        Self::Input,
        Self::Kill,
        Self::AccountState,
        Self::Hours,
        Self::Symbol,
        Self::Dup,
        Self::Throttle,
        Self::Qty,
        Self::PriceCollar,
        Self::Notional,
        Self::Position,
        Self::Credit,
        Self::Pdt,
        Self::Imr,
        Self::PropCap,
        Self::Wash,
        Self::Account,
        Self::Cancel,
        Self::Venue,
    ];

    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| *r as u8 == v)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "PT-INPUT",
            Self::Kill => "PT-KILL",
            Self::AccountState => "PT-ACCOUNT-STATE",
            Self::Hours => "HOURS",
            Self::Symbol => "PT-SYMBOL",
            Self::Dup => "PT-DUP",
            Self::Throttle => "PT-THROTTLE",
            Self::Qty => "PT-QTY",
            Self::PriceCollar => "PT-PRICE",
            Self::Notional => "PT-NOTIONAL",
            Self::Position => "PT-POS",
            Self::Credit => "PT-CREDIT",
            Self::Pdt => "PDT-PROTECT",
            Self::Imr => "IMR-PRECHECK",
            Self::PropCap => "PROP-CAP",
            Self::Wash => "PT-WASH",
            Self::Account => "PT-ACCOUNT",
            Self::Cancel => "CANCEL",
            Self::Venue => "VENUE",
        }
    }
}

/// What unit the two numbers of a [`Reject`] are in, so the edge can render them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Measure {
    None = 0,
    Qty = 1,
    Px = 2,
    Money = 3,
    Count = 4,
    /// `observed` = age in ms, `limit` = maximum age in ms.
    AgeMs = 5,
    /// `observed` = a date as yyyymmdd, `limit` = the session phase code.
    Session = 6,
    /// Basis points (1/100 of a percent).
    Bp = 7,
    /// `observed` = the id of the order that makes the conflict.
    Order = 8,
}

impl Measure {
    pub fn from_u8(v: u8) -> Option<Self> {
        [
            Self::None,
            Self::Qty,
            Self::Px,
            Self::Money,
            Self::Count,
            Self::AgeMs,
            Self::Session,
            Self::Bp,
            Self::Order,
        ]
        .into_iter()
        .find(|m| *m as u8 == v)
    }
    fn label(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Qty => "qty",
            Self::Px => "px",
            Self::Money => "value",
            Self::Count => "count",
            Self::AgeMs => "age_ms",
            Self::Session => "session",
            Self::Bp => "bp",
            Self::Order => "order",
        }
    }
}

/// A refusal with everything needed to explain it: the rule, the reason code, and `observed` against `limit`
/// (both raw 10^-8 fixed-point for quantities, prices and money; plain integers for counts).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct Reject {
    pub rule: RuleId,
    pub reason: RejectReason,
    pub measure: Measure,
    pub observed: i64,
    pub limit: i64,
}

impl Reject {
    /// A reject with no numbers attached.
    pub const fn plain(rule: RuleId, reason: RejectReason) -> Self {
        Reject {
            rule,
            reason,
            measure: Measure::None,
            observed: 0,
            limit: 0,
        }
    }
    pub const fn with(
        rule: RuleId,
        reason: RejectReason,
        measure: Measure,
        observed: i64,
        limit: i64,
    ) -> Self {
        Reject {
            rule,
            reason,
            measure,
            observed,
            limit,
        }
    }

    fn render(measure: Measure, raw: i64) -> String {
        match measure {
            Measure::Count
            | Measure::None
            | Measure::AgeMs
            | Measure::Bp
            | Measure::Session
            | Measure::Order => raw.to_string(),
            Measure::Qty => Qty::from_raw(raw).to_string(),
            Measure::Px | Measure::Money => Px::from_raw(raw).to_string(),
        }
    }

    /// Machine-readable detail such as `qty=20000>max=10000` (empty when the reject has no numbers).
    pub fn detail(&self) -> String {
        let mut out = String::new();
        if self.measure == Measure::Session {
            let d = self.observed;
            let phase = match self.limit {
                1 => "pre-market",
                3 => "post-market",
                4 => "overnight",
                6 => "pre-open matching",
                7 => "maintenance",
                8 => "halted",
                9 => "not covered by the calendar",
                _ => "closed",
            };
            let _ = write!(
                out,
                "{phase} {:04}-{:02}-{:02}",
                d / 10_000,
                d / 100 % 100,
                d % 100
            );
        } else if self.measure == Measure::Order {
            let _ = write!(out, "working order {}", self.observed);
        } else if self.measure != Measure::None {
            let obs = Self::render(self.measure, self.observed);
            let lim = Self::render(self.measure, self.limit);
            // Say what the two numbers are where "x>max=y" would mislead.
            let _ = match (self.reason, self.measure) {
                (RejectReason::PriceFloor, _) => write!(out, "px={obs}<min={lim}"),
                (RejectReason::PriceCollar, Measure::Px) => {
                    write!(out, "px={obs} outside the collar around ref={lim}")
                }
                (RejectReason::BuyingPower, _) => write!(out, "value={obs}>cash={lim}"),
                (RejectReason::Credit, _) => write!(out, "exposure={obs}>max={lim}"),
                (RejectReason::IntradayMarginDeficit, _) => {
                    write!(out, "required={obs}>equity={lim}")
                }
                (RejectReason::Duplicate, Measure::Count) => {
                    write!(out, "identical order within {lim} ms")
                }
                (RejectReason::ResetDenied, _) => write!(out, "level={obs}<tripped_at={lim}"),
                (RejectReason::PdtProtection, _) => write!(out, "day_trades_5d={obs}>=max={lim}"),
                _ => write!(out, "{}={obs}>max={lim}", self.measure.label()),
            };
        }
        out
    }

    /// A sentence for people.
    pub fn text(&self) -> String {
        self.text_with_detail(&self.detail())
    }

    /// A sentence for people with a detail the caller rendered (the edge may name the venue's calendar).
    pub fn text_with_detail(&self, detail: &str) -> String {
        let what = match self.reason {
            RejectReason::KillSwitchActive => "trading is halted by a kill switch",
            RejectReason::AccountLocked => "the account is locked",
            RejectReason::MarketClosed => "the market is closed for this order",
            RejectReason::UnknownSymbol => "the symbol is not configured",
            RejectReason::UnknownAccount => "the account is not configured",
            RejectReason::Restricted => "the symbol is restricted",
            RejectReason::PriceFloor => "the price is below the allowed floor",
            RejectReason::Duplicate => "the order duplicates an earlier one",
            RejectReason::Throttle => "too many orders in the window",
            RejectReason::MaxOrderQty => "the order quantity exceeds the maximum",
            RejectReason::IncorrectQuantity => "the quantity is not valid for this symbol",
            RejectReason::PriceCollar => "the price is outside the collar",
            RejectReason::MaxNotional => "the order value exceeds the maximum",
            RejectReason::MaxPosition => "the position would exceed the maximum",
            RejectReason::BuyingPower => "not enough buying power",
            RejectReason::Credit => "the credit limit would be exceeded",
            RejectReason::PdtProtection => "trade denied due to pattern day trading protection",
            RejectReason::IntradayMarginDeficit => {
                "the order would create an intraday margin deficit"
            }
            RejectReason::Wash => "the order could trade against the account's own order",
            RejectReason::TooLate => "too late to enter",
            RejectReason::StaleSignal => "the signal is stale",
            RejectReason::Unsupported => "unsupported order characteristic",
            RejectReason::UnknownOrder => "unknown order",
            RejectReason::TooLateToCancel => "the order is already done and cannot be canceled",
            RejectReason::VolatilityRestriction => "the symbol is under a volatility restriction",
            RejectReason::NoReferencePrice => "no reference price is known for the symbol",
            RejectReason::IncorrectPrice => "the price is not valid for this order",
            RejectReason::Busy => "the gateway is busy",
            RejectReason::EarningsOvernight => {
                "no overnight position in a company reporting earnings"
            }
            RejectReason::InsufficientVolume => "the symbol's day volume is below the minimum",
            RejectReason::ResetDenied => {
                "the reset needs a role at least as high as the one that tripped the switch"
            }
            RejectReason::OutsideTradingWindow => "outside the account's trading window",
        };
        let detail = detail.to_string();
        if detail.is_empty() {
            what.to_string()
        } else {
            format!("{what} ({detail})")
        }
    }

    /// FIX tag 58 text for a risk reject: `RISK:<RULE_ID>:<detail>`.
    pub fn fix_text(&self) -> String {
        let detail = self.detail();
        if detail.is_empty() {
            format!("RISK:{}:{}", self.rule.as_str(), self.reason.code())
        } else {
            format!("RISK:{}:{}", self.rule.as_str(), detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_discriminants() {
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::from_u8(r as u8), Some(r));
        }
        for r in RuleId::ALL {
            assert_eq!(RuleId::from_u8(r as u8), Some(r));
        }
    }

    #[test]
    fn fix_text_matches_spec_example() {
        let r = Reject::with(
            RuleId::Qty,
            RejectReason::MaxOrderQty,
            Measure::Qty,
            Qty::from_units(20_000).raw(),
            Qty::from_units(10_000).raw(),
        );
        assert_eq!(r.fix_text(), "RISK:PT-QTY:qty=20000>max=10000");
        let floor = Reject::with(
            RuleId::Symbol,
            RejectReason::PriceFloor,
            Measure::Px,
            149_000_000,
            150_000_000,
        );
        assert_eq!(floor.detail(), "px=1.49<min=1.5");
        let cash = Reject::with(
            RuleId::Credit,
            RejectReason::BuyingPower,
            Measure::Money,
            19_000_000_000_000,
            2_500_000_000_000,
        );
        assert_eq!(
            cash.text(),
            "not enough buying power (value=190000>cash=25000)"
        );
        assert_eq!(r.reason.fix44_ord_rej_reason(), 3);
        assert_eq!(RejectReason::UnknownAccount.fix42_ord_rej_reason(), 0);
        assert_eq!(RejectReason::Throttle.http_status(), 429);
    }
}
