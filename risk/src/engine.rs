//! The trading state the sequencer owns and the only code that changes it: every order with its state machine,
//! per (account, symbol) books (position, working quantity per side, working orders), per-account risk state
//! (kill and lock state, balance, exposure, rate windows, day-trade counts, prop floors), reference prices and
//! kill switches at every scope. [`Engine::apply`] takes one journaled event and its timestamp, returns the
//! decision for requests, and pushes venue commands to `out`. Engine-originated actions (a throttle storm
//! tripping a kill, a prop breach flattening an account) happen inside `apply`, deterministically, so replaying
//! the journal reproduces them. Invariants: order ids are dense from 1; `cum_qty <= qty`; a book's working
//! quantities equal the leaves of its working orders; venue reports the state machine does not allow are
//! counted as anomalies and change nothing.

use crate::calendar::Calendar;
use crate::limits::{AccountRisk, EngineConfig, SymbolRisk};
use crate::pdt::DayTradeCounter;
use crate::prop::{BreachAction, PropAccount};
use crate::tables::{prefetch, Books, ClOrdIndex};
use bulwark_model::*;
use serde::Serialize;

/// Sizes the engine is built for when no detailed configuration is given (the spine's placeholder chain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineLimits {
    pub accounts: usize,
    pub symbols: usize,
    /// Most orders that may be working at once (PendingNew/New/PartiallyFilled/PendingCancel).
    pub open_orders_max: usize,
    /// Orders to reserve room for at start.
    pub orders_reserved: usize,
}

/// A command for the venue, produced by `apply` after the event was journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Submit(Order),
    Cancel {
        order: OrderId,
    },
    /// A working order's quantity, limit price and client order id changed (the order as it stands now).
    Replace(Order),
    Price(PriceUpdate),
}

/// Counters of things that should not happen but can (a venue reporting out of order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Anomalies {
    pub unknown_order_reports: u64,
    pub illegal_transitions: u64,
    pub overfills: u64,
}

/// A fixed-capacity ring of timestamps, allocated once.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct TimeRing {
    buf: Vec<i64>,
    head: usize,
    len: usize,
}

impl TimeRing {
    fn new(capacity: usize) -> Self {
        TimeRing {
            buf: vec![0; capacity],
            head: 0,
            len: 0,
        }
    }
    pub(crate) fn push(&mut self, ts: i64) {
        if self.buf.is_empty() {
            return;
        }
        let cap = self.buf.len();
        let at = self.wrap(self.head + self.len);
        self.buf[at] = ts;
        if self.len < cap {
            self.len += 1;
        } else {
            self.head = self.wrap(self.head + 1);
        }
    }
    /// `i % capacity` for `i < 2 * capacity`, without a division.
    fn wrap(&self, i: usize) -> usize {
        if i >= self.buf.len() {
            i - self.buf.len()
        } else {
            i
        }
    }
    /// Entries newer than `since` (the ring keeps only the last `capacity`). Entries are pushed in sequencer
    /// order, whose timestamps do not decrease within an edge, so a binary search finds the window's start:
    /// O(log capacity) whatever the rate.
    pub(crate) fn count_since(&self, since: i64) -> usize {
        let (mut lo, mut hi) = (0usize, self.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.buf[self.wrap(self.head + mid)] > since {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        self.len - lo
    }
    /// Asks the CPU for the two entries the next order reads and writes: the oldest, and the slot a push fills
    /// (the oldest again once the ring is full).
    fn prefetch(&self) {
        if !self.buf.is_empty() {
            prefetch(&self.buf[self.head]);
            if self.len < self.buf.len() {
                prefetch(&self.buf[self.wrap(self.head + self.len)]);
            }
        }
    }
    /// Whether the ring is full and its oldest entry is newer than `since`: O(1), one cache line, where the
    /// binary search of [`TimeRing::count_since`] touches up to seven. It holds whenever `count_since(since)`
    /// reaches the capacity (the search only ends at 0 if the oldest entry is newer), and is the same test
    /// when timestamps do not decrease; the throttle asks it on every order and counts only when it holds.
    pub(crate) fn full_since(&self, since: i64) -> bool {
        !self.buf.is_empty() && self.len == self.buf.len() && self.buf[self.head] > since
    }
}

/// A recent order, for the identical-order duplicate window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecentOrder {
    pub ts_ns: i64,
    pub symbol: SymbolId,
    pub side: Side,
    pub ord_type: OrdType,
    pub qty: Qty,
    pub limit_px: Option<Px>,
}

impl RecentOrder {
    /// 32 bits of a hash of what makes two orders identical (symbol, side, type, quantity, limit price); never
    /// 0, which marks a slot never written.
    #[inline]
    pub(crate) fn fingerprint(
        symbol: SymbolId,
        side: Side,
        ord_type: OrdType,
        qty: Qty,
        limit_px: Option<Px>,
    ) -> u32 {
        use std::hash::BuildHasher;
        let px = limit_px.map_or(i64::MIN, Px::raw);
        let hash = rustc_hash::FxBuildHasher.hash_one((
            symbol.0,
            side as u8,
            ord_type as u8,
            qty.raw(),
            px,
        ));
        ((hash >> 32) as u32) | 1
    }
}

/// Most orders the identical-order window remembers per account (the room of its inline fingerprints).
pub(crate) const RECENT_ORDERS_MAX: usize = 64;

/// Room reserved at start in each account's list of held symbols (at most the number of symbols), so that the
/// first books of an account do not reallocate the list on the sequencer's thread.
const HELD_SYMBOLS_RESERVED: usize = 128;

/// Accepted orders the identical-order window remembers per account: `throttle_max` clamped to 8..=64, or 32
/// without a throttle. The window is exact while an account cannot get more than that many orders accepted
/// inside one duplicate window (true whenever `throttle_max <= 64` and the duplicate window is no longer than
/// the throttle window); the bound keeps per-account memory small at 10,000 accounts.
pub(crate) fn recent_orders_len(throttle_max: u32) -> usize {
    if throttle_max == 0 {
        32
    } else {
        (throttle_max as usize).clamp(8, RECENT_ORDERS_MAX)
    }
}

/// Why an account is locked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lock {
    /// Until the account's next day boundary (prop SOFT breach or daily pause).
    UntilDayBoundary,
    /// For good (prop HARD breach: evaluation failed).
    Permanent,
}

/// Tripped kill switches: global, per group index, per account.
pub type KillTable = (Option<Kill>, Vec<(u32, Kill)>, Vec<(AccountId, Kill)>);

/// A tripped kill switch: the highest role level that tripped it (a reset needs at least that) and its mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kill {
    pub level: u8,
    pub mode: KillMode,
}

impl Kill {
    /// Tripping again is idempotent: the level only rises, and a mode that blocks every order is not weakened
    /// to reduce-only.
    pub(crate) fn merge(slot: &mut Option<Kill>, level: u8, mode: KillMode) {
        *slot = Some(match *slot {
            None => Kill { level, mode },
            Some(k) => Kill {
                level: k.level.max(level),
                mode: if k.mode.blocks_all() && !mode.blocks_all() {
                    k.mode
                } else {
                    mode
                },
            },
        });
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlattenStyle {
    Market,
    CollarLimit,
}

/// Per-account risk state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AccountState {
    pub risk: AccountRisk,
    pub kill: Option<Kill>,
    pub lock: Option<Lock>,
    /// Initial balance plus realized P&L.
    pub balance: Notional,
    /// Equity at the last day boundary (for PDT's prior-close test).
    pub sod_equity: Notional,
    /// Σ |position| x average price, and Σ |position| in whole units (prop lot caps).
    pub exposure: Notional,
    pub abs_lots: u64,
    /// Σ working leaves x order price (limit, or reference for market orders).
    pub working_value: Notional,
    /// The buy-side part of `working_value` (the sell side is the rest), for the intraday margin precheck.
    pub working_buy_value: Notional,
    /// Σ position x average price of long positions and of short positions (absolute), at cost.
    pub long_cost: Notional,
    pub short_cost: Notional,
    pub recent: Vec<Option<RecentOrder>>,
    /// `recent`'s fingerprints ([`RecentOrder::fingerprint`], 0 where `recent` is empty), slot for slot: the
    /// duplicate check scans these few cache lines and reads an order of `recent` only where they match.
    pub recent_fp: [u32; RECENT_ORDERS_MAX],
    /// The slot of `recent` the next accepted order takes (always below its length: the oldest entry).
    pub recent_next: usize,
    pub throttle: TimeRing,
    pub breaches: TimeRing,
    /// Symbols with a book (for equity marking).
    pub held: Vec<SymbolId>,
    /// Day trades of past trading days: a ring of (day, count), newest at `day_trades_next - 1`.
    pub day_trades: [(i32, u32); 8],
    pub day_trades_next: usize,
    /// The trading day the books' day-trade counters belong to.
    pub current_day: i32,
    /// Day trades so far today across the account's books (kept incrementally).
    pub day_trades_today: u32,
}

impl AccountState {
    /// Asks the CPU for the duplicate window's fingerprints (at most four lines: the check scans them all) and
    /// the slot an accept writes, for the rate ring, and for the end of the list of held symbols (where a new
    /// book's symbol goes).
    pub(crate) fn prefetch_rings(&self) {
        let fp_bytes = self.recent.len() * std::mem::size_of::<u32>();
        let first = self.recent_fp.as_ptr().cast::<u8>();
        for offset in [0, 64, 128, 192] {
            if offset < fp_bytes {
                prefetch(first.wrapping_add(offset));
            }
        }
        prefetch(&self.recent[self.recent_next]);
        self.throttle.prefetch();
        prefetch(self.held.as_ptr().wrapping_add(self.held.len()));
    }
}

/// Per (account, symbol): position, working quantities and working orders.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Book {
    pub position: Position,
    pub working_buy: Qty,
    pub working_sell: Qty,
    pub working: WorkingList,
    pub day: DayTradeCounter,
    pub wash: WashIndex,
}

/// A book's working orders: the first few inline (most books hold one or two), the rest on the heap, so that a
/// new book costs no allocation and its list shares the book's cache lines.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct WorkingList {
    inline: [Option<OrderId>; WORKING_INLINE],
    spill: Vec<OrderId>,
}

const WORKING_INLINE: usize = 4;

impl WorkingList {
    pub(crate) fn push(&mut self, id: OrderId) {
        match self.inline.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(id),
            None => self.spill.push(id),
        }
    }
    pub(crate) fn remove(&mut self, id: OrderId) {
        if let Some(slot) = self.inline.iter_mut().find(|s| **s == Some(id)) {
            *slot = self.spill.pop();
        } else if let Some(i) = self.spill.iter().position(|w| *w == id) {
            self.spill.swap_remove(i);
        }
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = &OrderId> {
        self.inline.iter().flatten().chain(self.spill.iter())
    }
}

/// What the wash check needs about a book's working client orders, kept so the check is O(1): the highest
/// working buy limit, the lowest working sell limit, and how many market orders work on each side. Removing
/// the order that holds an extreme marks it stale; it is recomputed from the working list when next needed.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct WashIndex {
    pub buy_max: Option<Px>,
    pub sell_min: Option<Px>,
    pub market_buys: u32,
    pub market_sells: u32,
    pub stale: bool,
}

impl WashIndex {
    pub(crate) fn add(&mut self, o: &Order) {
        match (o.side, o.limit_px) {
            (Side::Buy, None) => self.market_buys += 1,
            (Side::Sell, None) => self.market_sells += 1,
            (Side::Buy, Some(p)) => self.buy_max = Some(self.buy_max.map_or(p, |m| m.max(p))),
            (Side::Sell, Some(p)) => self.sell_min = Some(self.sell_min.map_or(p, |m| m.min(p))),
        }
    }
    pub(crate) fn remove(&mut self, o: &Order) {
        match (o.side, o.limit_px) {
            (Side::Buy, None) => self.market_buys -= 1,
            (Side::Sell, None) => self.market_sells -= 1,
            (Side::Buy, Some(p)) => self.stale |= self.buy_max == Some(p),
            (Side::Sell, Some(p)) => self.stale |= self.sell_min == Some(p),
        }
    }
    /// Whether `side` at `px` (None = market) could trade against the opposite working orders.
    pub(crate) fn crosses(&self, side: Side, px: Option<Px>) -> bool {
        match side {
            Side::Buy => {
                self.market_sells > 0 || self.sell_min.is_some_and(|s| px.is_none_or(|p| p >= s))
            }
            Side::Sell => {
                self.market_buys > 0 || self.buy_max.is_some_and(|b| px.is_none_or(|p| b >= p))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Engine {
    pub(crate) config_symbols: Vec<SymbolRisk>,
    pub(crate) calendars: Vec<Calendar>,
    pub(crate) limits: EngineLimits,
    pub(crate) orders: Vec<Order>,
    /// The price each order's working value is counted at (limit, or the reference when it was accepted), so
    /// adding and removing it from an account's working value use the same number.
    pub(crate) valuation_px: Vec<Px>,
    /// Every working order, in no particular order, and each order's position in it (`u32::MAX`: not
    /// working): a kill switch visits the working orders only, never every book.
    pub(crate) working_all: Vec<OrderId>,
    pub(crate) working_pos: Vec<u32>,
    pub(crate) cl_ord_index: ClOrdIndex,
    pub(crate) books: Books,
    pub(crate) accounts: Vec<AccountState>,
    /// Reference price and the time it was set.
    pub(crate) ref_px: Vec<Option<(Px, i64)>>,
    pub(crate) open_orders: usize,
    pub(crate) global_kill: Option<Kill>,
    pub(crate) group_kill: Vec<Option<Kill>>,
    pub(crate) symbol_kill: Vec<Option<Kill>>,
    /// Per venue index (one more than the highest venue any symbol routes to).
    pub(crate) venue_kill: Vec<Option<Kill>>,
    pub(crate) days: Vec<u32>,
    pub(crate) anomalies: Anomalies,
    /// Prop accounts that have traded each symbol: the ones a price update re-marks.
    pub(crate) prop_holders: Vec<Vec<AccountId>>,
    /// While a journal is replayed ([`Engine::replay_engine_orders_from_journal`]): the orders flattening
    /// would make, collected instead of made, for the replay to set beside the journal's engine-order records
    /// (which it then applies with [`Engine::apply_engine_order`]). `None` live.
    pub(crate) engine_orders_would_make: Option<Vec<NewOrder>>,
}

/// A journaled request being replayed ([`Engine::apply_journaled`]): the journal's verdict, which the pre-trade
/// chain applies in place of its own, and the chain's own verdict once it ran.
#[derive(Debug)]
pub(crate) struct Replaying {
    pub journaled: Verdict,
    pub own: Option<Verdict>,
}

/// An empty order table whose reserved memory has been touched once, so that the first orders after start do
/// not pay a page fault each 4 KiB on the sequencer thread (all memory is taken at start).
fn prefaulted(capacity: usize) -> Vec<Order> {
    let blank = Order {
        id: OrderId(0),
        account: AccountId(0),
        symbol: SymbolId(0),
        side: Side::Buy,
        ord_type: OrdType::Market,
        tif: Tif::Day,
        qty: Qty::ZERO,
        limit_px: None,
        cl_ord_id: ClOrdId::try_new("-").expect("valid id"),
        ingress: Ingress::Risk,
        status: OrderStatus::Rejected,
        cum_qty: Qty::ZERO,
        cum_notional: Notional::ZERO,
        created_ts_ns: 0,
        updated_ts_ns: 0,
        reject: None,
    };
    let mut v = Vec::with_capacity(capacity);
    v.resize(capacity, blank);
    v.clear();
    v
}

impl Engine {
    /// The spine's engine: structural checks only (no limits, no calendars).
    pub fn new(limits: EngineLimits) -> Self {
        Engine::with_config(EngineConfig {
            accounts: vec![AccountRisk::default(); limits.accounts],
            symbols: vec![SymbolRisk::default(); limits.symbols],
            calendars: Vec::new(),
            groups: 0,
            open_orders_max: limits.open_orders_max,
            orders_reserved: limits.orders_reserved,
        })
    }

    pub fn with_config(config: EngineConfig) -> Self {
        assert!(
            config.open_orders_max > 0,
            "open_orders_max must be positive"
        );
        let limits = EngineLimits {
            accounts: config.accounts.len(),
            symbols: config.symbols.len(),
            open_orders_max: config.open_orders_max,
            orders_reserved: config.orders_reserved,
        };
        let boundaries = config
            .accounts
            .iter()
            .map(|a| a.day_boundary as usize + 1)
            .max()
            .unwrap_or(1);
        let symbols_n = config.symbols.len();
        let cl_ord_scope: Vec<AccountId> = config
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| a.cl_ord_scope.unwrap_or(AccountId(i as u32)))
            .collect();
        let accounts = config
            .accounts
            .into_iter()
            .map(|risk| AccountState {
                kill: None,
                lock: None,
                balance: risk.initial_balance,
                sod_equity: risk.initial_balance,
                exposure: Notional::ZERO,
                abs_lots: 0,
                working_value: Notional::ZERO,
                working_buy_value: Notional::ZERO,
                long_cost: Notional::ZERO,
                short_cost: Notional::ZERO,
                recent: vec![None; recent_orders_len(risk.limits.throttle_max)],
                recent_fp: [0; RECENT_ORDERS_MAX],
                recent_next: 0,
                throttle: TimeRing::new(risk.limits.throttle_max as usize),
                breaches: TimeRing::new(risk.limits.throttle_breaches_to_kill as usize),
                held: Vec::with_capacity(HELD_SYMBOLS_RESERVED.min(symbols_n)),
                day_trades: [(i32::MIN, 0); 8],
                day_trades_next: 0,
                current_day: 0,
                day_trades_today: 0,
                risk,
            })
            .collect();
        Engine {
            limits,
            orders: prefaulted(config.orders_reserved),
            valuation_px: {
                let mut v = vec![Px::ZERO; config.orders_reserved];
                v.clear();
                v
            },
            working_all: {
                let mut v =
                    vec![OrderId(0); config.open_orders_max.min(config.orders_reserved.max(1024))];
                v.clear();
                v
            },
            working_pos: {
                let mut v = vec![u32::MAX; config.orders_reserved];
                v.clear();
                v
            },
            cl_ord_index: ClOrdIndex::with_capacity(config.orders_reserved, cl_ord_scope),
            // One book per (account, symbol) traded, sized for as many as orders reserved and touched once,
            // so that neither a rehash of the whole table nor first-touch page faults land on the hot path.
            books: Books::with_capacity(
                config
                    .orders_reserved
                    .min(limits.accounts.saturating_mul(limits.symbols))
                    .min(1 << 22),
            ),
            accounts,
            ref_px: vec![None; limits.symbols],
            open_orders: 0,
            global_kill: None,
            group_kill: vec![None; config.groups],
            symbol_kill: vec![None; config.symbols.len()],
            venue_kill: vec![
                None;
                config
                    .symbols
                    .iter()
                    .map(|s| s.venue as usize + 1)
                    .max()
                    .unwrap_or(1)
            ],
            days: vec![0; boundaries],
            anomalies: Anomalies::default(),
            prop_holders: vec![Vec::new(); limits.symbols],
            engine_orders_would_make: None,
            config_symbols: config.symbols,
            calendars: config.calendars,
        }
    }

    pub fn limits(&self) -> &EngineLimits {
        &self.limits
    }
    /// Whether the global kill switch is tripped.
    pub fn is_halted(&self) -> bool {
        self.global_kill.is_some()
    }
    pub fn open_order_count(&self) -> usize {
        self.open_orders
    }
    pub fn anomalies(&self) -> Anomalies {
        self.anomalies
    }
    pub fn order_count(&self) -> usize {
        self.orders.len()
    }
    pub fn ref_px(&self, symbol: SymbolId) -> Option<Px> {
        self.ref_px
            .get(symbol.0 as usize)
            .copied()
            .flatten()
            .map(|(px, _)| px)
    }
    pub fn account_lock(&self, account: AccountId) -> Option<Lock> {
        self.accounts.get(account.0 as usize).and_then(|a| a.lock)
    }
    /// Every tripped kill switch: global, per group index, per account.
    pub fn kill_state(&self) -> KillTable {
        self.kill_state_with_symbols().0
    }

    /// Tripped venue kill switches, by venue index.
    pub fn venue_kills(&self) -> Vec<(u32, Kill)> {
        self.venue_kill
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.map(|k| (i as u32, k)))
            .collect()
    }

    /// [`Engine::kill_state`] and the tripped symbols.
    pub fn kill_state_with_symbols(&self) -> (KillTable, Vec<(SymbolId, Kill)>) {
        let symbols = self
            .symbol_kill
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.map(|k| (SymbolId(i as u32), k)))
            .collect();
        (self.kill_state_accounts(), symbols)
    }

    fn kill_state_accounts(&self) -> KillTable {
        let groups = self
            .group_kill
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.map(|k| (i as u32, k)))
            .collect();
        let accounts = self
            .accounts
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.kill.map(|k| (AccountId(i as u32), k)))
            .collect();
        (self.global_kill, groups, accounts)
    }

    pub fn account_killed(&self, account: AccountId) -> bool {
        self.accounts
            .get(account.0 as usize)
            .is_some_and(|a| a.kill.is_some())
    }
    pub fn prop(&self, account: AccountId) -> Option<&PropAccount> {
        self.accounts
            .get(account.0 as usize)
            .and_then(|a| a.risk.prop.as_ref())
    }
    pub fn balance(&self, account: AccountId) -> Notional {
        self.accounts
            .get(account.0 as usize)
            .map_or(Notional::ZERO, |a| a.balance)
    }

    pub fn order(&self, id: OrderId) -> Option<&Order> {
        (id.0 as usize)
            .checked_sub(1)
            .and_then(|i| self.orders.get(i))
    }

    /// The order of `account` that holds client order id `cl` (working, or finished today).
    pub fn find_by_cl_ord_id(&self, account: AccountId, cl: &ClOrdId) -> Option<OrderId> {
        self.cl_ord_index.find(&self.orders, account, cl)
    }

    /// The order that holds `cl` in `account`'s client-order-id space: the account's own, or, for the accounts
    /// of one FIX session, the session's ([`AccountRisk::cl_ord_scope`]).
    pub fn cl_ord_id_holder(&self, account: AccountId, cl: &ClOrdId) -> Option<OrderId> {
        self.cl_ord_index.find_in_space(&self.orders, account, cl)
    }

    /// All orders, in id order.
    pub fn orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.iter()
    }

    /// Positions of `account` with any quantity or realized P&L, by symbol id.
    pub fn positions_of(&self, account: AccountId) -> Vec<(SymbolId, Position)> {
        let mut v: Vec<_> = self
            .books
            .iter()
            .filter(|((a, _), b)| {
                *a == account && (b.position.qty.raw() != 0 || b.position.realized_pnl.raw() != 0)
            })
            .map(|((_, s), b)| (*s, b.position))
            .collect();
        v.sort_by_key(|(s, _)| *s);
        v
    }

    /// Working quantity on each side for (account, symbol).
    pub fn working_qty(&self, account: AccountId, symbol: SymbolId) -> (Qty, Qty) {
        self.books
            .get(&(account, symbol))
            .map_or((Qty::ZERO, Qty::ZERO), |b| (b.working_buy, b.working_sell))
    }

    /// The position of `account` in `symbol` (flat when it never traded).
    pub fn position(&self, account: AccountId, symbol: SymbolId) -> Position {
        self.books
            .get(&(account, symbol))
            .map_or_else(Position::default, |b| b.position)
    }

    /// The working orders of `account` in `symbol`, oldest first.
    pub fn working_of(&self, account: AccountId, symbol: SymbolId) -> Vec<&Order> {
        let mut v: Vec<&Order> = self
            .books
            .get(&(account, symbol))
            .into_iter()
            .flat_map(|b| b.working.iter())
            .filter_map(|id| self.order(*id))
            .collect();
        v.sort_by_key(|o| o.id);
        v
    }

    /// Working orders in id order (the paper venue is rebuilt from these after a restart).
    pub fn working_orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.iter().filter(|o| o.status.is_working())
    }

    /// Asks the CPU for the memory [`Engine::apply`] will touch for a new order that is `distance` places behind
    /// the event being applied, in two steps: from 2 places, the account's cache lines and the home slots of its
    /// book and client order id; at 1 place, what they lead to (the book itself, the newest entries of the
    /// duplicate window, the rate ring). The sequencer calls it for the requests queued behind the one it
    /// applies, so that their cache misses overlap the current order's work instead of following it. Changes
    /// nothing; other events are ignored.
    pub fn prefetch(&self, event: &Event, distance: usize) {
        let Event::NewOrder(o) = event else {
            return;
        };
        let Some(acct) = self.accounts.get(o.account.0 as usize) else {
            return;
        };
        self.prefetch_new_order_slot(distance);
        if distance >= 2 {
            let first = (acct as *const AccountState).cast::<u8>();
            let bytes = std::mem::size_of::<AccountState>();
            for offset in (0..bytes).step_by(64).chain([bytes - 1]) {
                prefetch(first.wrapping_add(offset));
            }
            self.books.prefetch_slot(&(o.account, o.symbol));
            self.cl_ord_index.prefetch(o.account, &o.cl_ord_id);
        } else {
            self.books.prefetch_book(&(o.account, o.symbol));
            acct.prefetch_rings();
        }
    }

    /// Asks the CPU for the cache lines the order `ahead` places after the next one will be written to (every
    /// new-order request adds one order, accepted or not). The order table is written in sequence but read back
    /// at once, so without this each order waited for its fresh line to come from memory.
    pub(crate) fn prefetch_new_order_slot(&self, ahead: usize) {
        let i = self.orders.len() + ahead;
        if i < self.orders.capacity() {
            let first = self.orders.as_ptr().wrapping_add(i).cast::<u8>();
            prefetch(first);
            prefetch(first.wrapping_add(std::mem::size_of::<Order>() - 1));
        }
        if i < self.valuation_px.capacity() {
            prefetch(self.valuation_px.as_ptr().wrapping_add(i));
        }
        if i < self.working_pos.capacity() {
            prefetch(self.working_pos.as_ptr().wrapping_add(i));
        }
    }

    /// Replays a journaled request under the decision the journal holds for it. The pre-trade chain runs as in
    /// [`Engine::apply`] (so the state its checks keep, such as rate rings, follows), but a new order's or a
    /// replace's verdict is the journal's: what was acknowledged stays so when the configuration has changed
    /// since (a lowered limit must not undo an accepted order, nor stop a restart). Returns the decision this
    /// engine makes on its own, for the caller to compare with `journaled`; it differs only if the
    /// configuration or the build did. With it, whether the journal's verdict was applied in its place: false
    /// when the chain did not run (a replace refused before it, a cancel, a control) or the reject is structural
    /// (unknown account or symbol), where the engine's own decision is the one applied. While replaying, the
    /// throttle counts a breach exactly where the journal has one.
    pub fn apply_journaled(
        &mut self,
        event: &Event,
        ts_ns: i64,
        journaled: &Decision,
        out: &mut Vec<Output>,
    ) -> Option<(Decision, bool)> {
        // Only the chain's verdict is overridden, and only new orders and replaces run it.
        let mut replaying = Replaying {
            journaled: journaled.verdict,
            own: None,
        };
        let applied = match event {
            Event::NewOrder(o) => Some(self.apply_new_order(o, ts_ns, Some(&mut replaying), out)),
            Event::ReplaceOrder(r) => Some(self.apply_replace(r, ts_ns, Some(&mut replaying), out)),
            _ => self.apply(event, ts_ns, out),
        };
        applied.map(|d| match replaying.own {
            Some(verdict) => (Decision { verdict, ..d }, true),
            None => (d, false),
        })
    }

    /// Applies one journaled event. Requests (new order, cancel, control) return the decision to journal.
    pub fn apply(&mut self, event: &Event, ts_ns: i64, out: &mut Vec<Output>) -> Option<Decision> {
        match event {
            Event::NewOrder(o) => Some(self.apply_new_order(o, ts_ns, None, out)),
            Event::CancelOrder(c) => Some(self.apply_cancel(c, ts_ns, out)),
            Event::ReplaceOrder(r) => Some(self.apply_replace(r, ts_ns, None, out)),
            Event::Venue(report) => {
                self.apply_venue(report, ts_ns, out);
                None
            }
            Event::Price(p) => {
                if let Some(slot) = self.ref_px.get_mut(p.symbol.0 as usize) {
                    *slot = Some((p.px, ts_ns));
                    out.push(Output::Price(*p));
                    self.mark_prop_accounts(Some(p.symbol), ts_ns, out);
                }
                None
            }
            Event::Control(c) => Some(self.apply_control(c, ts_ns, out)),
            Event::Timer(Timer::DayRoll { day, boundary }) => {
                self.roll_day(*day, *boundary, ts_ns, out);
                None
            }
            Event::Boot(_)
            | Event::Decision(_)
            | Event::Signal(_)
            | Event::Audit(_)
            | Event::EngineOrder(_) => None,
        }
    }

    fn apply_new_order(
        &mut self,
        o: &NewOrder,
        ts_ns: i64,
        replaying: Option<&mut Replaying>,
        out: &mut Vec<Output>,
    ) -> Decision {
        let verdict = self.check_new_order(o, ts_ns, replaying, out);
        let id = self.insert_order(o, ts_ns, verdict);
        if verdict == Verdict::Accept {
            self.on_accepted(id, out);
        }
        Decision { order: id, verdict }
    }

    fn insert_order(&mut self, o: &NewOrder, ts_ns: i64, verdict: Verdict) -> OrderId {
        let id = OrderId(self.orders.len() as u64 + 1);
        let valuation = o
            .limit_px
            .or_else(|| self.ref_px(o.symbol))
            .unwrap_or(Px::ZERO);
        self.valuation_px.push(valuation);
        self.working_pos.push(u32::MAX);
        self.orders.push(o.to_order(id, ts_ns, verdict));
        id
    }

    /// Book-keeping for an accepted order: indexes, working quantities, the venue command.
    fn on_accepted(&mut self, id: OrderId, out: &mut Vec<Output>) {
        let order = self.orders[(id.0 - 1) as usize];
        if order.ingress != Ingress::Risk {
            self.cl_ord_index.insert(&self.orders, id);
        }
        self.open_orders += 1;
        let value = self.order_value(&order, order.qty);
        let acct = &mut self.accounts[order.account.0 as usize];
        acct.working_value = acct.working_value + value;
        if order.side == Side::Buy {
            acct.working_buy_value = acct.working_buy_value + value;
        }
        // A new book is the first order of the account in the symbol: that is when it joins `held`.
        let (book, new_book) = self.books.get_or_insert((order.account, order.symbol));
        if new_book {
            acct.held.push(order.symbol);
            if acct.risk.prop.is_some() {
                self.prop_holders[order.symbol.0 as usize].push(order.account);
            }
        }
        match order.side {
            Side::Buy => book.working_buy = Qty::from_raw(book.working_buy.raw() + order.qty.raw()),
            Side::Sell => {
                book.working_sell = Qty::from_raw(book.working_sell.raw() + order.qty.raw())
            }
        }
        book.working.push(id);
        if order.ingress != Ingress::Risk {
            book.wash.add(&order);
        }
        self.working_pos[(id.0 - 1) as usize] = self.working_all.len() as u32;
        self.working_all.push(id);
        out.push(Output::Submit(order));
    }

    /// Value of `qty` of `order` at its valuation price (limit, or the reference when it was accepted).
    pub(crate) fn order_value(&self, order: &Order, qty: Qty) -> Notional {
        let px = self.valuation_px[(order.id.0 - 1) as usize];
        let mult = self
            .config_symbols
            .get(order.symbol.0 as usize)
            .map_or(1, |s| s.multiplier);
        Notional::from_raw(Notional::of(qty, px).raw() * i128::from(mult))
    }

    /// Removes `leaves` of a working order from its book's working quantities (on fill or finish).
    fn reduce_working(&mut self, id: OrderId, qty: Qty, finished: bool) {
        let order = self.orders[(id.0 - 1) as usize];
        let value = self.order_value(&order, qty);
        let acct = &mut self.accounts[order.account.0 as usize];
        acct.working_value = acct.working_value - value;
        if order.side == Side::Buy {
            acct.working_buy_value = acct.working_buy_value - value;
        }
        if let Some(book) = self.books.get_mut(&(order.account, order.symbol)) {
            match order.side {
                Side::Buy => book.working_buy = Qty::from_raw(book.working_buy.raw() - qty.raw()),
                Side::Sell => {
                    book.working_sell = Qty::from_raw(book.working_sell.raw() - qty.raw())
                }
            }
            if finished {
                book.working.remove(id);
                if order.ingress != Ingress::Risk {
                    book.wash.remove(&order);
                }
            }
        }
        if finished {
            let pos = std::mem::replace(&mut self.working_pos[(id.0 - 1) as usize], u32::MAX);
            if pos != u32::MAX {
                self.working_all.swap_remove(pos as usize);
                if let Some(moved) = self.working_all.get(pos as usize) {
                    self.working_pos[(moved.0 - 1) as usize] = pos;
                }
            }
        }
    }

    /// The order of `account` a cancel or replace means, or the UNKNOWN_ORDER decision.
    fn resolve_target(
        &self,
        account: AccountId,
        target: CancelTarget,
    ) -> Result<OrderId, Decision> {
        let id = match target {
            CancelTarget::ById(id) => self
                .order(id)
                .filter(|o| o.account == account)
                .map(|o| o.id),
            CancelTarget::ByClOrdId(cl) => self.find_by_cl_ord_id(account, &cl),
        };
        id.ok_or(Decision {
            order: OrderId(0),
            verdict: Verdict::Reject(Reject::plain(RuleId::Cancel, RejectReason::UnknownOrder)),
        })
    }

    fn apply_cancel(&mut self, c: &CancelOrder, ts_ns: i64, out: &mut Vec<Output>) -> Decision {
        let id = match self.resolve_target(c.account, c.target) {
            Ok(id) => id,
            Err(unknown) => return unknown,
        };
        let verdict = self.request_cancel(id, ts_ns, out);
        Decision { order: id, verdict }
    }

    /// A replace is checked as the order it would become: the whole pre-trade chain runs on its new leaves
    /// quantity and price with the original's leaves taken out of the working totals (so raising 100 to 150
    /// counts 150, not 250, against the position limit). Accepted, the order changes in place (same id,
    /// side, type and fills) and the venue is told; rejected, it stays exactly as it was.
    fn apply_replace(
        &mut self,
        r: &ReplaceOrder,
        ts_ns: i64,
        replaying: Option<&mut Replaying>,
        out: &mut Vec<Output>,
    ) -> Decision {
        let id = match self.resolve_target(r.account, r.target) {
            Ok(id) => id,
            Err(unknown) => return unknown,
        };
        let old = self.orders[(id.0 - 1) as usize];
        if !old.status.is_working() || old.status == OrderStatus::PendingCancel {
            return Decision {
                order: id,
                verdict: Verdict::Reject(Reject::plain(
                    RuleId::Cancel,
                    RejectReason::TooLateToCancel,
                )),
            };
        }
        if r.qty.raw() <= old.cum_qty.raw() {
            return Decision {
                order: id,
                verdict: Verdict::Reject(Reject::with(
                    RuleId::Input,
                    RejectReason::IncorrectQuantity,
                    Measure::Qty,
                    r.qty.raw(),
                    old.cum_qty.raw(),
                )),
            };
        }
        let probe = NewOrder {
            account: old.account,
            symbol: old.symbol,
            side: old.side,
            ord_type: old.ord_type,
            tif: old.tif,
            qty: Qty::from_raw(r.qty.raw() - old.cum_qty.raw()),
            limit_px: r.limit_px,
            cl_ord_id: r.cl_ord_id,
            ingress: old.ingress,
            ext_hours: false,
        };
        let old_leaves = old.leaves_qty();
        self.reduce_working(id, old_leaves, false);
        let verdict = self.check_new_order(&probe, ts_ns, replaying, out);
        if verdict != Verdict::Accept {
            self.add_working(id, old_leaves);
            return Decision { order: id, verdict };
        }
        if let Some(book) = self.books.get_mut(&(old.account, old.symbol)) {
            book.wash.remove(&old);
        }
        // The index reads the key from the order: out under the old id, in again under the new one.
        self.cl_ord_index
            .remove(&self.orders, old.account, &old.cl_ord_id);
        let order = &mut self.orders[(id.0 - 1) as usize];
        order.qty = r.qty;
        order.limit_px = r.limit_px;
        order.cl_ord_id = r.cl_ord_id;
        order.updated_ts_ns = ts_ns;
        let order = *order;
        self.cl_ord_index.insert(&self.orders, id);
        if let Some(px) = r.limit_px {
            self.valuation_px[(id.0 - 1) as usize] = px;
        }
        self.add_working(id, probe.qty);
        if let Some(book) = self.books.get_mut(&(order.account, order.symbol)) {
            book.wash.add(&order);
        }
        out.push(Output::Replace(order));
        Decision {
            order: id,
            verdict: Verdict::Accept,
        }
    }

    /// Adds `qty` of a working order back to its book's working quantities (the inverse of
    /// [`Engine::reduce_working`] without `finished`).
    fn add_working(&mut self, id: OrderId, qty: Qty) {
        let order = self.orders[(id.0 - 1) as usize];
        let value = self.order_value(&order, qty);
        let acct = &mut self.accounts[order.account.0 as usize];
        acct.working_value = acct.working_value + value;
        if order.side == Side::Buy {
            acct.working_buy_value = acct.working_buy_value + value;
        }
        if let Some(book) = self.books.get_mut(&(order.account, order.symbol)) {
            match order.side {
                Side::Buy => book.working_buy = Qty::from_raw(book.working_buy.raw() + qty.raw()),
                Side::Sell => {
                    book.working_sell = Qty::from_raw(book.working_sell.raw() + qty.raw())
                }
            }
        }
    }

    /// Cancels always pass the risk chain; only the order's own state can refuse.
    fn request_cancel(&mut self, id: OrderId, ts_ns: i64, out: &mut Vec<Output>) -> Verdict {
        let order = &mut self.orders[(id.0 - 1) as usize];
        match order.status {
            s if s.is_terminal() => {
                Verdict::Reject(Reject::plain(RuleId::Cancel, RejectReason::TooLateToCancel))
            }
            // A second cancel while one is under way is accepted and changes nothing.
            OrderStatus::PendingCancel => Verdict::Accept,
            _ => {
                order
                    .transition(OrderStatus::PendingCancel, ts_ns)
                    .expect("a working order may always become PendingCancel");
                out.push(Output::Cancel { order: id });
                Verdict::Accept
            }
        }
    }

    fn apply_venue(&mut self, report: &VenueReport, ts_ns: i64, out: &mut Vec<Output>) {
        let id = report.order();
        let Some(order) = (id.0 as usize)
            .checked_sub(1)
            .and_then(|i| self.orders.get_mut(i))
        else {
            self.anomalies.unknown_order_reports += 1;
            return;
        };
        let was_working = order.status.is_working();
        let next = match *report {
            VenueReport::Ack { .. } => match order.status {
                OrderStatus::PendingNew => Some(OrderStatus::New),
                OrderStatus::PendingCancel => None,
                _ => {
                    self.anomalies.illegal_transitions += 1;
                    None
                }
            },
            VenueReport::Fill { qty, px, .. } => {
                let leaves = order.qty.raw() - order.cum_qty.raw();
                if !qty.is_positive() || qty.raw() > leaves || !order.status.is_working() {
                    self.anomalies.overfills += 1;
                    return;
                }
                order.cum_qty = Qty::from_raw(order.cum_qty.raw() + qty.raw());
                order.cum_notional = order.cum_notional + Notional::of(qty, px);
                let filled = order.cum_qty == order.qty;
                order.status = if filled {
                    OrderStatus::Filled
                } else if order.status == OrderStatus::PendingCancel {
                    OrderStatus::PendingCancel
                } else {
                    OrderStatus::PartiallyFilled
                };
                order.updated_ts_ns = ts_ns;
                self.on_fill(id, qty, px, filled, ts_ns, out);
                return;
            }
            VenueReport::Canceled { .. } => Some(OrderStatus::Canceled),
            VenueReport::Rejected { .. } => Some(OrderStatus::Rejected),
            VenueReport::CancelRejected { .. } => match order.status {
                OrderStatus::PendingCancel if order.cum_qty.raw() > 0 => {
                    Some(OrderStatus::PartiallyFilled)
                }
                OrderStatus::PendingCancel => Some(OrderStatus::New),
                _ => None,
            },
        };
        if let Some(next) = next {
            if order.transition(next, ts_ns).is_err() {
                self.anomalies.illegal_transitions += 1;
            }
        }
        if was_working && !order.status.is_working() {
            let leaves = Qty::from_raw(order.qty.raw() - order.cum_qty.raw());
            self.open_orders -= 1;
            self.reduce_working(id, leaves, true);
        }
    }

    fn on_fill(
        &mut self,
        id: OrderId,
        qty: Qty,
        px: Px,
        filled: bool,
        ts_ns: i64,
        out: &mut Vec<Output>,
    ) {
        self.reduce_working(id, qty, filled);
        if filled {
            self.open_orders -= 1;
        }
        let order = self.orders[(id.0 - 1) as usize];
        let mult = self
            .config_symbols
            .get(order.symbol.0 as usize)
            .map_or(1, |s| s.multiplier);
        let acct = &mut self.accounts[order.account.0 as usize];
        let (book, _) = self.books.get_or_insert((order.account, order.symbol));
        let before = book.position;
        book.position.apply_fill(order.side, qty, px);
        let day_trades_before = book.day.count();
        book.day.on_fill(order.side, qty.raw());
        acct.day_trades_today += book.day.count() - day_trades_before;
        let after = book.position;
        let realized =
            Notional::from_raw((after.realized_pnl - before.realized_pnl).raw() * i128::from(mult));
        acct.balance = acct.balance + realized;
        let cost = |p: &Position| Notional::of(p.qty.abs(), p.avg_px);
        let (b, a) = (before.qty.raw().signum(), after.qty.raw().signum());
        let l = |sgn: i64, p: &Position| if sgn > 0 { cost(p) } else { Notional::ZERO };
        let sh = |sgn: i64, p: &Position| if sgn < 0 { cost(p) } else { Notional::ZERO };
        let (long_delta, short_delta) =
            (l(a, &after) - l(b, &before), sh(a, &after) - sh(b, &before));
        acct.long_cost = acct.long_cost + long_delta;
        acct.short_cost = acct.short_cost + short_delta;
        acct.exposure = acct.exposure - Notional::of(before.qty.abs(), before.avg_px)
            + Notional::of(after.qty.abs(), after.avg_px);
        let unit = FIXED_SCALE;
        acct.abs_lots = acct.abs_lots - (before.qty.raw().unsigned_abs() / unit as u64)
            + (after.qty.raw().unsigned_abs() / unit as u64);
        self.mark_prop_account(order.account, ts_ns, out);
    }

    /// The wash index of a book, recomputed from its working orders first if an extreme left it.
    pub(crate) fn wash_index(
        &mut self,
        account: AccountId,
        symbol: SymbolId,
    ) -> Option<&WashIndex> {
        let orders = &self.orders;
        let book = self.books.get_mut(&(account, symbol))?;
        if book.wash.stale {
            let mut fresh = WashIndex::default();
            for id in book.working.iter() {
                let o = &orders[(id.0 - 1) as usize];
                if o.ingress != Ingress::Risk {
                    fresh.add(o);
                }
            }
            book.wash = fresh;
        }
        Some(&book.wash)
    }

    /// Equity of an account: balance plus open P&L marked to reference prices (average price when none).
    pub fn equity(&self, account: AccountId) -> Notional {
        let Some(acct) = self.accounts.get(account.0 as usize) else {
            return Notional::ZERO;
        };
        let mut upnl = Notional::ZERO;
        for s in &acct.held {
            if let Some(book) = self.books.get(&(account, *s)) {
                let p = book.position;
                if p.qty.raw() == 0 {
                    continue;
                }
                let mark = self.ref_px(*s).unwrap_or(p.avg_px);
                let mult = self
                    .config_symbols
                    .get(s.0 as usize)
                    .map_or(1, |x| x.multiplier);
                let per_unit = i128::from(mark.raw() - p.avg_px.raw());
                upnl = upnl
                    + Notional::from_raw(
                        per_unit * i128::from(p.qty.raw()) / i128::from(FIXED_SCALE)
                            * i128::from(mult),
                    );
            }
        }
        acct.balance + upnl
    }

    /// Re-marks the prop accounts that trade `symbol` and acts on breaches.
    fn mark_prop_accounts(&mut self, symbol: Option<SymbolId>, ts_ns: i64, out: &mut Vec<Output>) {
        let Some(symbol) = symbol else { return };
        for k in 0..self.prop_holders[symbol.0 as usize].len() {
            let account = self.prop_holders[symbol.0 as usize][k];
            self.mark_prop_account(account, ts_ns, out);
        }
    }

    fn mark_prop_account(&mut self, account: AccountId, ts_ns: i64, out: &mut Vec<Output>) {
        if self.accounts[account.0 as usize].risk.prop.is_none() {
            return;
        }
        let equity = self.equity(account);
        let acct = &mut self.accounts[account.0 as usize];
        let balance = acct.balance;
        let breach = acct
            .risk
            .prop
            .as_mut()
            .and_then(|p| p.on_update(balance, equity));
        if let Some(b) = breach {
            self.act_on_breach(account, b.action, ts_ns, out);
        }
    }

    /// HARD: lock for good, cancel working, flatten. SOFT: the same until the day boundary. PAUSE: block new.
    fn act_on_breach(
        &mut self,
        account: AccountId,
        action: BreachAction,
        ts_ns: i64,
        out: &mut Vec<Output>,
    ) {
        let acct = &mut self.accounts[account.0 as usize];
        let lock = match action {
            BreachAction::Hard => Lock::Permanent,
            BreachAction::Soft | BreachAction::Pause => Lock::UntilDayBoundary,
        };
        if acct.lock == Some(Lock::Permanent) || acct.lock == Some(lock) {
            return;
        }
        acct.lock = Some(lock);
        if action != BreachAction::Pause {
            self.cancel_all(|o| o.account == account, ts_ns, out);
            self.flatten(account, ts_ns, out);
        }
    }

    /// Cancels every working order matching `f`, engine-originated liquidations excepted.
    pub(crate) fn cancel_all(
        &mut self,
        f: impl Fn(&Order) -> bool,
        ts_ns: i64,
        out: &mut Vec<Output>,
    ) {
        // Only working orders are visited (not every book, not every order ever seen); sorting by id keeps
        // the cancels in a deterministic order.
        let orders = &self.orders;
        let mut ids: Vec<OrderId> = self
            .working_all
            .iter()
            .copied()
            .filter(|id| {
                let o = &orders[(id.0 - 1) as usize];
                o.status != OrderStatus::PendingCancel && o.ingress != Ingress::Risk && f(o)
            })
            .collect();
        ids.sort_unstable();
        for id in ids {
            self.request_cancel(id, ts_ns, out);
        }
    }

    /// Submits market orders closing every position of `account`, tagged `ingress = risk` (exempt from locks).
    fn flatten(&mut self, account: AccountId, ts_ns: i64, out: &mut Vec<Output>) {
        self.flatten_with(account, None, FlattenStyle::Market, ts_ns, out);
    }

    /// Closes every position of `account` with orders tagged `ingress = risk`: market IOC orders (prop
    /// breaches), or, for a kill switch in mode `flatten`, marketable limits at the edge of the price collar
    /// (falling back to market without a reference price).
    fn flatten_with(
        &mut self,
        account: AccountId,
        only: Option<SymbolId>,
        style: FlattenStyle,
        ts_ns: i64,
        out: &mut Vec<Output>,
    ) {
        let held = self.accounts[account.0 as usize].held.clone();
        for symbol in held {
            if only.is_some_and(|s| s != symbol) {
                continue;
            }
            let Some(book) = self.books.get(&(account, symbol)) else {
                continue;
            };
            let pos = book.position.qty;
            if pos.raw() == 0 {
                continue;
            }
            // The id the order gets (while replaying, the ones collected so far come before it).
            let n =
                self.orders.len() + 1 + self.engine_orders_would_make.as_ref().map_or(0, Vec::len);
            let side = if pos.raw() > 0 { Side::Sell } else { Side::Buy };
            let limit_px = match style {
                FlattenStyle::Market => None,
                FlattenStyle::CollarLimit => self.ref_px(symbol).map(|px| {
                    let bp = i128::from(self.accounts[account.0 as usize].risk.limits.collar_bp);
                    let raw = i128::from(px.raw());
                    let band = raw * bp / 10_000;
                    let tick = self.config_symbols[symbol.0 as usize].px_tick_raw().max(1);
                    // Buy at most the collar above, sell at least the collar below, on the symbol's tick.
                    let edge = match side {
                        Side::Buy => (raw + band) / tick * tick,
                        Side::Sell => (raw - band + tick - 1) / tick * tick,
                    };
                    Px::from_raw(edge.clamp(tick, i128::from(i64::MAX)) as i64)
                }),
            };
            let (ord_type, tif, prefix) = match limit_px {
                Some(_) => (OrdType::Limit, Tif::Day, "KILL-FLAT"),
                None => (OrdType::Market, Tif::Ioc, "RISK-FLAT"),
            };
            let o = NewOrder {
                account,
                symbol,
                side,
                ord_type,
                tif,
                qty: pos.abs(),
                limit_px,
                cl_ord_id: ClOrdId::try_new(&format!("{prefix}-{n}")).expect("valid id"),
                ingress: Ingress::Risk,
                ext_hours: true,
            };
            if let Some(would_make) = self.engine_orders_would_make.as_mut() {
                would_make.push(o);
                continue;
            }
            let id = self.insert_order(&o, ts_ns, Verdict::Accept);
            self.on_accepted(id, out);
        }
    }

    /// While on, flattening (a prop breach, a kill switch in mode `flatten`) makes no orders: it collects the
    /// ones it would make ([`Engine::take_engine_orders_would_make`]), and the journal's engine-order records
    /// are applied instead ([`Engine::apply_engine_order`]). A replay turns it on so that the orders the
    /// engine made stay as journaled, with their ids, when the prop-firm template, the flatten settings or the
    /// collar changed since; off, the engine makes them itself (live, and for a request decided again).
    pub fn replay_engine_orders_from_journal(&mut self, on: bool) {
        self.engine_orders_would_make = on.then(Vec::new);
    }

    /// The orders flattening would have made since the last call, oldest first (empty unless
    /// [`Engine::replay_engine_orders_from_journal`] is on).
    pub fn take_engine_orders_would_make(&mut self) -> Vec<NewOrder> {
        self.engine_orders_would_make
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Makes an order the engine made itself, as its journal record has it: accepted, under the journaled
    /// id, which must be the next one (else the journal and this replay disagree on what came before).
    pub fn apply_engine_order(
        &mut self,
        id: OrderId,
        o: &NewOrder,
        ts_ns: i64,
        out: &mut Vec<Output>,
    ) -> Result<(), String> {
        let next = self.orders.len() as u64 + 1;
        if id.0 != next {
            return Err(format!(
                "the journal's engine-made order has id {}, the next id here is {next}",
                id.0
            ));
        }
        if o.account.0 as usize >= self.accounts.len()
            || o.symbol.0 as usize >= self.config_symbols.len()
            || !o.qty.is_positive()
        {
            return Err(format!(
                "the journal's engine-made order {} names an unknown account or symbol, or no quantity",
                id.0
            ));
        }
        let id = self.insert_order(o, ts_ns, Verdict::Accept);
        self.on_accepted(id, out);
        Ok(())
    }

    fn apply_control(&mut self, c: &Control, ts_ns: i64, out: &mut Vec<Output>) -> Decision {
        let exists = match c.scope {
            KillScope::Global => true,
            KillScope::Group(g) => (g as usize) < self.group_kill.len(),
            KillScope::Account(a) => (a.0 as usize) < self.accounts.len(),
            KillScope::Symbol(s) => (s.0 as usize) < self.symbol_kill.len(),
            KillScope::Venue(v) => (v as usize) < self.venue_kill.len(),
        };
        if !exists {
            return Decision {
                order: OrderId(0),
                verdict: Verdict::Reject(Reject::plain(RuleId::Kill, RejectReason::UnknownAccount)),
            };
        };
        let accept = Decision {
            order: OrderId(0),
            verdict: Verdict::Accept,
        };
        let groups: Vec<Option<u32>> = self.accounts.iter().map(|a| a.risk.group).collect();
        let venues: Vec<u32> = self.config_symbols.iter().map(|s| s.venue).collect();
        let scope = c.scope;
        let in_scope = move |account: AccountId, symbol: SymbolId| match scope {
            KillScope::Global => true,
            KillScope::Group(g) => groups[account.0 as usize] == Some(g),
            KillScope::Account(a) => account == a,
            KillScope::Symbol(s) => symbol == s,
            KillScope::Venue(v) => venues.get(symbol.0 as usize) == Some(&v),
        };
        if c.kind == ControlKind::CancelWorking {
            self.cancel_all(|o| in_scope(o.account, o.symbol), ts_ns, out);
            return accept;
        }
        if c.kind == ControlKind::Unlock {
            let KillScope::Account(a) = c.scope else {
                return Decision {
                    order: OrderId(0),
                    verdict: Verdict::Reject(Reject::plain(
                        RuleId::Kill,
                        RejectReason::UnknownAccount,
                    )),
                };
            };
            if c.level < LEVEL_ADMIN {
                return Decision {
                    order: OrderId(0),
                    verdict: Verdict::Reject(Reject::with(
                        RuleId::Kill,
                        RejectReason::ResetDenied,
                        Measure::Count,
                        i64::from(c.level),
                        i64::from(LEVEL_ADMIN),
                    )),
                };
            }
            self.accounts[a.0 as usize].lock = None;
            return accept;
        }
        let slot: &mut Option<Kill> = match c.scope {
            KillScope::Global => &mut self.global_kill,
            KillScope::Group(g) => &mut self.group_kill[g as usize],
            KillScope::Account(a) => &mut self.accounts[a.0 as usize].kill,
            KillScope::Symbol(s) => &mut self.symbol_kill[s.0 as usize],
            KillScope::Venue(v) => &mut self.venue_kill[v as usize],
        };
        let Some(mode) = c.kind.mode() else {
            // Reset: only at a level at least as high as the one that tripped it; canceled orders stay canceled.
            return match *slot {
                Some(k) if c.level < k.level => Decision {
                    order: OrderId(0),
                    verdict: Verdict::Reject(Reject::with(
                        RuleId::Kill,
                        RejectReason::ResetDenied,
                        Measure::Count,
                        i64::from(c.level),
                        i64::from(k.level),
                    )),
                },
                _ => {
                    *slot = None;
                    accept
                }
            };
        };
        Kill::merge(slot, c.level, mode);
        if matches!(mode, KillMode::CancelAll | KillMode::Flatten) {
            self.cancel_all(|o| in_scope(o.account, o.symbol), ts_ns, out);
        }
        if mode == KillMode::Flatten {
            let symbols: Vec<Option<SymbolId>> = match scope {
                KillScope::Symbol(s) => vec![Some(s)],
                KillScope::Venue(v) => (0..self.config_symbols.len())
                    .filter(|i| self.config_symbols[*i].venue == v)
                    .map(|i| Some(SymbolId(i as u32)))
                    .collect(),
                _ => vec![None],
            };
            let every_account = matches!(scope, KillScope::Symbol(_) | KillScope::Venue(_));
            for i in 0..self.accounts.len() {
                let account = AccountId(i as u32);
                if every_account || in_scope(account, SymbolId(0)) {
                    for only in &symbols {
                        self.flatten_with(account, *only, FlattenStyle::CollarLimit, ts_ns, out);
                    }
                }
            }
        }
        accept
    }

    fn roll_day(&mut self, day: u32, boundary: u16, ts_ns: i64, out: &mut Vec<Output>) {
        let Some(last) = self.days.get_mut(boundary as usize) else {
            return;
        };
        if day <= *last {
            return;
        }
        *last = day;
        for i in 0..self.accounts.len() {
            if self.accounts[i].risk.day_boundary != boundary {
                continue;
            }
            let account = AccountId(i as u32);
            let equity = self.equity(account);
            let held = self.accounts[i].held.clone();
            for s in held {
                if let Some(book) = self.books.get_mut(&(account, s)) {
                    book.day = DayTradeCounter::new(book.position.qty.raw());
                }
            }
            let acct = &mut self.accounts[i];
            let slot = acct.day_trades_next % acct.day_trades.len();
            acct.day_trades[slot] = (acct.current_day, acct.day_trades_today);
            acct.day_trades_next += 1;
            acct.current_day = day as i32;
            acct.day_trades_today = 0;
            acct.sod_equity = equity;
            if acct.lock == Some(Lock::UntilDayBoundary) {
                acct.lock = None;
            }
            let balance = acct.balance;
            let breach = acct.risk.prop.as_mut().and_then(|p| {
                p.on_update(balance, equity);
                p.on_day_boundary()
            });
            if let Some(b) = breach {
                self.act_on_breach(account, b.action, ts_ns, out);
            }
        }
        // DAY orders end with their trading day: ask the venue to cancel the ones still working.
        let boundary_of: Vec<u16> = self.accounts.iter().map(|a| a.risk.day_boundary).collect();
        self.cancel_all(
            |o| o.tif == Tif::Day && boundary_of[o.account.0 as usize] == boundary,
            ts_ns,
            out,
        );
        // Client order ids are unique per account (or FIX session) per trading day: ids of finished orders become
        // free again.
        self.cl_ord_index
            .retain(&self.orders, |o| o.status.is_working());
    }
}

/// How much room an account has left before each limit (for the control plane and dashboards).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Headroom {
    pub killed: bool,
    pub lock: Option<Lock>,
    pub balance: Notional,
    pub equity: Notional,
    /// Credit limit minus gross exposure (positions at cost plus working orders); `None` without a limit.
    pub credit_room: Option<Notional>,
    /// Cash accounts: cash left for buys.
    pub cash_room: Option<Notional>,
    /// Orders that may still enter in the current throttle window; `None` without a throttle.
    pub throttle_room: Option<u32>,
    /// Per symbol the account trades: room to buy and to sell before the position limit.
    pub position_room: Vec<(SymbolId, Option<Qty>, Option<Qty>)>,
    /// Per prop floor: its name, value and equity minus the floor.
    pub floors: Vec<(String, Notional, Notional)>,
}

impl Engine {
    /// Headroom of `account` at `ts_ns`.
    pub fn headroom(&self, account: AccountId, ts_ns: i64) -> Option<Headroom> {
        let acct = self.accounts.get(account.0 as usize)?;
        let l = &acct.risk.limits;
        let equity = self.equity(account);
        let gross = acct.exposure + acct.working_value;
        let position_room = acct
            .held
            .iter()
            .map(|s| {
                let b = self.books.get(&(account, *s));
                let pos = b.map_or(0, |b| b.position.qty.raw());
                let (wb, ws) = b.map_or((0, 0), |b| (b.working_buy.raw(), b.working_sell.raw()));
                let buy = l
                    .max_position
                    .map(|m| Qty::from_raw((m.raw() - (pos + wb)).max(0)));
                let sell = l
                    .max_position
                    .map(|m| Qty::from_raw((m.raw() + (pos - ws)).max(0)));
                (*s, buy, sell)
            })
            .collect();
        let floors = acct
            .risk
            .prop
            .as_ref()
            .map(|p| {
                p.floors
                    .iter()
                    .map(|f| (f.name.clone(), f.value, equity - f.value))
                    .collect()
            })
            .unwrap_or_default();
        Some(Headroom {
            killed: acct.kill.is_some()
                || self.global_kill.is_some()
                || acct
                    .risk
                    .group
                    .is_some_and(|g| self.group_kill.get(g as usize).is_some_and(Option::is_some)),
            lock: acct.lock,
            balance: acct.balance,
            equity,
            credit_room: l.credit_limit.map(|c| c - gross),
            cash_room: (!acct.risk.margin && acct.risk.initial_balance.raw() > 0)
                .then(|| acct.balance - gross),
            throttle_room: (l.throttle_max > 0).then(|| {
                l.throttle_max
                    .saturating_sub(acct.throttle.count_since(ts_ns - l.throttle_window_ns) as u32)
            }),
            position_room,
            floors,
        })
    }
}
