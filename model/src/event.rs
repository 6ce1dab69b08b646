//! The one [`Event`] enum. Every input to the sequencer (order requests from edges, venue reports, prices,
//! control actions, timers) and every decision it makes is an `Event`, journaled as one record before it takes
//! effect. State is a pure function of the journaled events: restart = replay.

use crate::fixed::{Px, Qty};
use crate::ids::{AccountId, ClOrdId, OrderId, SymbolId};
use crate::order::{Ingress, OrdType, Side, Tif};
use crate::reason::Reject;
use serde::Serialize;

/// A request for a new order, as an edge validated it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct NewOrder {
    pub account: AccountId,
    pub symbol: SymbolId,
    pub side: Side,
    pub ord_type: OrdType,
    pub tif: Tif,
    pub qty: Qty,
    pub limit_px: Option<Px>,
    pub cl_ord_id: ClOrdId,
    pub ingress: Ingress,
    /// The order may trade in pre- and post-market sessions (TradersPost `extendedHours`).
    pub ext_hours: bool,
}

impl NewOrder {
    /// The order this request becomes under id `id` once decided: working (PendingNew) when accepted,
    /// Rejected with its reason otherwise.
    pub fn to_order(&self, id: OrderId, ts_ns: i64, verdict: Verdict) -> crate::order::Order {
        let (status, reject) = match verdict {
            Verdict::Accept => (crate::order::OrderStatus::PendingNew, None),
            Verdict::Reject(r) => (crate::order::OrderStatus::Rejected, Some(r)),
        };
        crate::order::Order {
            id,
            account: self.account,
            symbol: self.symbol,
            side: self.side,
            ord_type: self.ord_type,
            tif: self.tif,
            qty: self.qty,
            limit_px: self.limit_px,
            cl_ord_id: self.cl_ord_id,
            ingress: self.ingress,
            status,
            cum_qty: Qty::ZERO,
            cum_notional: crate::fixed::Notional::ZERO,
            created_ts_ns: ts_ns,
            updated_ts_ns: ts_ns,
            reject,
        }
    }
}

/// Which order a cancel request means.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelTarget {
    ById(OrderId),
    ByClOrdId(ClOrdId),
}

/// A request to cancel a working order of `account`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct CancelOrder {
    pub account: AccountId,
    pub target: CancelTarget,
    /// The edge the request came through: the FIX edge names it in the Canceled report of an order it did not
    /// ask to cancel (`58=CANCELED_BY_REST`, ...).
    pub ingress: Ingress,
    /// The request's own client order id, when its edge has one (tag 11 of a FIX OrderCancelRequest): the
    /// Canceled report and an OrderCancelReject echo it, also when they are sent after a restart. `None` for
    /// the FIX edge's own cancel-on-disconnect and for edges that name the order by id.
    pub cl_ord_id: Option<ClOrdId>,
}

impl CancelOrder {
    /// A cancel of order `id` of `account` asked through `ingress`, with no client order id of its own.
    pub fn by_id(account: AccountId, id: OrderId, ingress: Ingress) -> CancelOrder {
        CancelOrder {
            account,
            target: CancelTarget::ById(id),
            ingress,
            cl_ord_id: None,
        }
    }
}

/// A request to change the quantity and limit price of a working order of `account` (FIX
/// OrderCancelReplaceRequest). The order keeps its id, side, type and fills; `cl_ord_id` becomes its client
/// order id. `qty` is the new total quantity (filled part included).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct ReplaceOrder {
    pub account: AccountId,
    pub target: CancelTarget,
    pub cl_ord_id: ClOrdId,
    pub qty: Qty,
    pub limit_px: Option<Px>,
}

/// The outcome of checking a request.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accept,
    Reject(Reject),
}

/// The decision the sequencer made for the request journaled just before it (for a new order, `order` is the id
/// it assigned; for a cancel, the order it resolved to, or `OrderId(0)` when none matched). Replay recomputes
/// every decision and checks that it equals the journaled one.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct Decision {
    pub order: OrderId,
    pub verdict: Verdict,
}

/// Why a venue refused something.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(u8)]
pub enum VenueRejectReason {
    NoReferencePrice = 1,
    UnknownOrder = 2,
    TooLateToCancel = 3,
    Other = 4,
}

impl VenueRejectReason {
    pub fn from_u8(v: u8) -> Option<Self> {
        [
            Self::NoReferencePrice,
            Self::UnknownOrder,
            Self::TooLateToCancel,
            Self::Other,
        ]
        .into_iter()
        .find(|r| *r as u8 == v)
    }
}

/// Why an order ended without filling completely.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum CancelCause {
    Requested = 1,
    ImmediateOrCancel = 2,
    FillOrKill = 3,
    Venue = 4,
}

impl CancelCause {
    pub fn from_u8(v: u8) -> Option<Self> {
        [
            Self::Requested,
            Self::ImmediateOrCancel,
            Self::FillOrKill,
            Self::Venue,
        ]
        .into_iter()
        .find(|r| *r as u8 == v)
    }
}

/// What a venue reported about one of our orders.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum VenueReport {
    Ack {
        order: OrderId,
    },
    Fill {
        order: OrderId,
        exec_id: u64,
        qty: Qty,
        px: Px,
    },
    Canceled {
        order: OrderId,
        cause: CancelCause,
    },
    Rejected {
        order: OrderId,
        reason: VenueRejectReason,
    },
    CancelRejected {
        order: OrderId,
        reason: VenueRejectReason,
    },
}

impl VenueReport {
    pub fn order(&self) -> OrderId {
        match *self {
            VenueReport::Ack { order }
            | VenueReport::Fill { order, .. }
            | VenueReport::Canceled { order, .. }
            | VenueReport::Rejected { order, .. }
            | VenueReport::CancelRejected { order, .. } => order,
        }
    }
}

/// A reference price for a symbol (last trade or mark), used by the paper venue and by risk.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct PriceUpdate {
    pub symbol: SymbolId,
    pub px: Px,
}

/// Control-plane actions on the kill switch.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ControlKind {
    /// Trip the kill switch at `scope` in mode `cancel_all`: new orders in scope are rejected, working orders
    /// canceled; cancels pass.
    Trip = 1,
    /// Reset it; allowed only at a level at least as high as the one that tripped it. Canceled orders stay
    /// canceled.
    Reset = 2,
    /// Trip in mode `halt`: new orders rejected; working orders stay; cancels pass.
    TripHalt = 3,
    /// Trip in mode `flatten`: as `cancel_all`, then closing orders for every position in scope (marketable
    /// limits inside the price collar, `ingress = risk`).
    TripFlatten = 4,
    /// Trip in mode `reduce_only`: only orders that reduce a position (with working orders) pass.
    TripReduceOnly = 5,
    /// Cancel every working order in scope and leave trading as it is (a dead-man's switch lapse).
    CancelWorking = 6,
    /// Lift a prop-firm lock on an account (admin only; a HARD lock otherwise lasts for good).
    Unlock = 7,
}

impl ControlKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        [
            Self::Trip,
            Self::Reset,
            Self::TripHalt,
            Self::TripFlatten,
            Self::TripReduceOnly,
            Self::CancelWorking,
            Self::Unlock,
        ]
        .into_iter()
        .find(|k| *k as u8 == v)
    }
    /// The mode a trip leaves in force; `None` for a reset or a plain cancel.
    pub fn mode(self) -> Option<KillMode> {
        match self {
            Self::Trip => Some(KillMode::CancelAll),
            Self::TripHalt => Some(KillMode::Halt),
            Self::TripFlatten => Some(KillMode::Flatten),
            Self::TripReduceOnly => Some(KillMode::ReduceOnly),
            Self::Reset | Self::CancelWorking | Self::Unlock => None,
        }
    }
    pub fn trip(mode: KillMode) -> Self {
        match mode {
            KillMode::CancelAll => Self::Trip,
            KillMode::Halt => Self::TripHalt,
            KillMode::Flatten => Self::TripFlatten,
            KillMode::ReduceOnly => Self::TripReduceOnly,
        }
    }
}

/// What a tripped kill switch does (spec §4.3 and the control plane's modes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KillMode {
    Halt,
    ReduceOnly,
    CancelAll,
    Flatten,
}

impl KillMode {
    /// Every new order in scope is rejected (all modes but `reduce_only`).
    pub fn blocks_all(self) -> bool {
        self != KillMode::ReduceOnly
    }
    pub fn as_str(self) -> &'static str {
        match self {
            KillMode::Halt => "halt",
            KillMode::ReduceOnly => "reduce_only",
            KillMode::CancelAll => "cancel_all",
            KillMode::Flatten => "flatten",
        }
    }
}

/// An order the engine created itself while applying the record before it (prop-breach or kill-switch
/// flattening). Informational: replay recreates the order and ignores this record; readers of the journal
/// (the event stream, `journal dump`) learn from it which account and symbol the order id belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct EngineOrder {
    pub order: OrderId,
    pub new: NewOrder,
}

/// Who did a control action and why: journaled just before the control record it explains.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Audit {
    /// The token's configured name (never the token).
    pub actor: String,
    /// The actor's role level.
    pub role: u8,
    pub reason: String,
}

/// What a kill switch covers (spec §4.3: GLOBAL ⊃ FIRM ⊃ ACCOUNT).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KillScope {
    Global,
    /// A configured account group (a firm).
    Group(u32),
    Account(AccountId),
    /// One instrument, for every account (orthogonal to the hierarchy).
    Symbol(SymbolId),
    /// Every instrument routed to one venue (index in the gateway's venue list; 0 = the paper venue).
    Venue(u32),
}

/// Role levels, lowest to highest. The engine itself trips at `LEVEL_SYSTEM` (throttle storms, breaches).
pub const LEVEL_VIEWER: u8 = 0;
pub const LEVEL_TRADER: u8 = 1;
pub const LEVEL_RISK_OFFICER: u8 = 2;
pub const LEVEL_ADMIN: u8 = 3;
pub const LEVEL_SYSTEM: u8 = 4;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct Control {
    pub kind: ControlKind,
    pub scope: KillScope,
    /// Role level of whoever asked.
    pub level: u8,
}

impl Control {
    pub const fn halt_all(level: u8) -> Control {
        Control {
            kind: ControlKind::Trip,
            scope: KillScope::Global,
            level,
        }
    }
    pub const fn resume_all(level: u8) -> Control {
        Control {
            kind: ControlKind::Reset,
            scope: KillScope::Global,
            level,
        }
    }
}

/// Timers enter as events so that replay sees them at the same place.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Timer {
    /// A new trading day begins at day boundary number `boundary` (configured: time zone and local time);
    /// `day` counts days since 1970-01-01 in that boundary's zone.
    DayRoll { day: u32, boundary: u16 },
}

/// The names behind the ids of this boot, journaled once per start so that replay maps ids by name.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Boot {
    pub version: String,
    pub accounts: Vec<String>,
    pub symbols: Vec<String>,
}

/// The idempotency key of an accepted webhook signal (spec §5.3: SHA-256 of strategy, ticker, action, order id
/// and time, or of an explicit signal id). Journaled before the signal's child orders, so that a repeated
/// delivery is recognised as a duplicate also after a restart.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SignalKey(pub [u8; 32]);

impl SignalKey {
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Serialize for SignalKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// A webhook signal was accepted: its key, and how many child requests (new orders and cancels) follow it in
/// the journal.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct SignalRecord {
    pub key: SignalKey,
    pub children: u16,
}

/// Everything the sequencer journals.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Boot(Boot),
    NewOrder(NewOrder),
    CancelOrder(CancelOrder),
    ReplaceOrder(ReplaceOrder),
    Decision(Decision),
    Venue(VenueReport),
    Price(PriceUpdate),
    Control(Control),
    Timer(Timer),
    Signal(SignalRecord),
    Audit(Audit),
    EngineOrder(EngineOrder),
}

impl Event {
    /// Records whose payload length varies (they hold strings); the rest fit in
    /// [`crate::codec::FIXED_PAYLOAD_BYTES_MAX`].
    pub fn is_variable_length(&self) -> bool {
        matches!(self, Event::Boot(_) | Event::Audit(_))
    }

    /// The record kind written in the journal header.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Boot(_) => EventKind::Boot,
            Event::NewOrder(_) => EventKind::NewOrder,
            Event::CancelOrder(_) => EventKind::CancelOrder,
            Event::ReplaceOrder(_) => EventKind::ReplaceOrder,
            Event::Decision(_) => EventKind::Decision,
            Event::Venue(_) => EventKind::Venue,
            Event::Price(_) => EventKind::Price,
            Event::Control(_) => EventKind::Control,
            Event::Timer(_) => EventKind::Timer,
            Event::Signal(_) => EventKind::Signal,
            Event::Audit(_) => EventKind::Audit,
            Event::EngineOrder(_) => EventKind::EngineOrder,
        }
    }
}

/// Journal record kinds (header field `kind`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u16)]
pub enum EventKind {
    Boot = 1,
    NewOrder = 2,
    CancelOrder = 3,
    Decision = 4,
    Venue = 5,
    Price = 6,
    Control = 7,
    Timer = 8,
    Signal = 9,
    Audit = 10,
    EngineOrder = 11,
    ReplaceOrder = 12,
}

impl EventKind {
    pub const ALL: [EventKind; 12] = [
        Self::Boot,
        Self::NewOrder,
        Self::CancelOrder,
        Self::Decision,
        Self::Venue,
        Self::Price,
        Self::Control,
        Self::Timer,
        Self::Signal,
        Self::Audit,
        Self::EngineOrder,
        Self::ReplaceOrder,
    ];
    pub fn from_u16(v: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| *k as u16 == v)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Boot => "boot",
            Self::NewOrder => "new_order",
            Self::CancelOrder => "cancel_order",
            Self::Decision => "decision",
            Self::Venue => "venue",
            Self::Price => "price",
            Self::Control => "control",
            Self::Timer => "timer",
            Self::Signal => "signal",
            Self::Audit => "audit",
            Self::EngineOrder => "engine_order",
            Self::ReplaceOrder => "replace_order",
        }
    }
}
