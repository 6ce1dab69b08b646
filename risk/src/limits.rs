//! What the engine is configured with: a limits profile per account, risk attributes per symbol, calendars,
//! account groups (firms) and day boundaries. Plain data with defaults from the spec's parameter tables; the
//! gateway's config loader validates and builds it. A limit that is `None` (or 0 where noted) is off.

use crate::calendar::Calendar;
use crate::prop::PropAccount;
use bulwark_model::{AccountId, Notional, Px, Qty};

/// One account's pre-trade limits (spec §4.2 defaults where the spec gives them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// PT-QTY: largest order quantity.
    pub max_order_qty: Option<Qty>,
    /// PT-NOTIONAL: largest order value (qty x price x multiplier).
    pub max_notional: Option<Notional>,
    /// Market orders are valued at the reference price plus this buffer (buys), in basis points.
    pub market_buffer_bp: u32,
    /// PT-PRICE: collar band in basis points, and the wider band for prices at or below `collar_low_price_max`.
    pub collar_bp: u32,
    pub collar_low_price_bp: u32,
    pub collar_low_price_max: Px,
    /// A reference price older than this is stale and rejects (0 = never stale).
    pub reference_max_age_ns: i64,
    /// PT-POS: largest absolute position per symbol, counting working orders on the same side.
    pub max_position: Option<Qty>,
    /// PT-CREDIT: gross exposure (positions at cost + working orders + the new order).
    pub credit_limit: Option<Notional>,
    /// PT-DUP: identical orders within this window are duplicates (0 = off).
    pub dup_window_ns: i64,
    /// PT-THROTTLE: at most `throttle_max` orders per `throttle_window_ns` (0 = off); `throttle_breaches_to_kill`
    /// breaches within `throttle_breach_window_ns` trip the account's kill switch (0 = never).
    pub throttle_max: u32,
    pub throttle_window_ns: i64,
    pub throttle_breaches_to_kill: u32,
    pub throttle_breach_window_ns: i64,
    /// PT-WASH: refuse orders that could trade against the account's own working orders.
    pub wash: bool,
    /// Refuse entries in symbols whose reference price is below this (TTP: 1.50).
    pub price_floor: Option<Px>,
    /// HOURS: enforce the symbol's calendar.
    pub enforce_hours: bool,
}

pub const NS_PER_MS: i64 = 1_000_000;
pub const NS_PER_S: i64 = 1_000_000_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_order_qty: None,
            max_notional: None,
            market_buffer_bp: 300,
            collar_bp: 500,
            collar_low_price_bp: 1_000,
            collar_low_price_max: Px::from_units(1),
            reference_max_age_ns: 5 * NS_PER_S,
            max_position: None,
            credit_limit: None,
            dup_window_ns: NS_PER_S,
            throttle_max: 50,
            throttle_window_ns: NS_PER_S,
            throttle_breaches_to_kill: 3,
            throttle_breach_window_ns: 60 * NS_PER_S,
            wash: true,
            price_floor: None,
            enforce_hours: true,
        }
    }
}

impl Limits {
    /// Everything off: only the structural checks remain (the spine's behaviour, used by tests).
    pub fn none() -> Self {
        Limits {
            market_buffer_bp: 300,
            collar_bp: 0,
            reference_max_age_ns: 0,
            dup_window_ns: 0,
            throttle_max: 0,
            throttle_breaches_to_kill: 0,
            wash: false,
            enforce_hours: false,
            ..Limits::default()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetClass {
    Equity,
    Option,
    Future,
    Crypto,
}

/// Risk attributes of one symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolRisk {
    /// Index into [`EngineConfig::calendars`]; `None` = always open.
    pub calendar: Option<usize>,
    pub asset_class: AssetClass,
    /// Contract multiplier in whole units (1 for shares).
    pub multiplier: i64,
    /// PT-RESTRICT: on the restricted list.
    pub restricted: bool,
    /// Decimals of the price tick (engine-made limit prices are rounded to it).
    pub px_decimals: u32,
    /// The venue the symbol routes to (index; 0 = the paper venue).
    pub venue: u32,
}

impl SymbolRisk {
    /// One price tick in fixed-point raw units.
    pub fn px_tick_raw(&self) -> i128 {
        10i128.pow(bulwark_model::FIXED_DECIMALS.saturating_sub(self.px_decimals.min(8)))
    }
}

impl Default for SymbolRisk {
    fn default() -> Self {
        SymbolRisk {
            calendar: None,
            asset_class: AssetClass::Equity,
            multiplier: 1,
            restricted: false,
            px_decimals: 2,
            venue: 0,
        }
    }
}

/// Day-trading settings of a US margin account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PdtSettings {
    pub enabled: bool,
    /// Trade date (days since epoch) from which the broker applies the intraday-margin regime.
    pub broker_switch_day: Option<i32>,
    /// Calendar whose trading days count the 5-day window (XNYS).
    pub calendar: Option<usize>,
}

/// One account as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRisk {
    pub limits: Limits,
    pub margin: bool,
    pub initial_balance: Notional,
    /// Account group (firm) index, for group-scope kill switches.
    pub group: Option<u32>,
    /// Day boundary index this account rolls on.
    pub day_boundary: u16,
    /// Prop-firm state compiled from a template, if the account is a prop account.
    pub prop: Option<PropAccount>,
    /// Prop-firm total position cap in lots across products.
    pub max_position_lots: Option<u32>,
    pub pdt: PdtSettings,
    /// The account may trade only inside these UTC intervals (ns, sorted, disjoint): its configured trading
    /// window on each trading day of a calendar. `None`: no window.
    pub trading_window: Option<std::sync::Arc<[(i64, i64)]>>,
    /// The account whose client-order-id space this one shares: the first account of its FIX session when
    /// that session has several (FIX asks ClOrdIDs to be unique per session per day). `None`: its own.
    pub cl_ord_scope: Option<AccountId>,
}

impl AccountRisk {
    /// Whether `ts_ns` falls inside the trading window (always, without one).
    pub fn in_trading_window(&self, ts_ns: i64) -> bool {
        let Some(w) = &self.trading_window else {
            return true;
        };
        let i = w.partition_point(|(start, _)| *start <= ts_ns);
        i > 0 && ts_ns < w[i - 1].1
    }
}

impl Default for AccountRisk {
    fn default() -> Self {
        AccountRisk {
            limits: Limits::none(),
            margin: false,
            initial_balance: Notional::ZERO,
            group: None,
            day_boundary: 0,
            prop: None,
            max_position_lots: None,
            pdt: PdtSettings::default(),
            trading_window: None,
            cl_ord_scope: None,
        }
    }
}

/// Everything the engine is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    pub accounts: Vec<AccountRisk>,
    pub symbols: Vec<SymbolRisk>,
    pub calendars: Vec<Calendar>,
    pub groups: usize,
    pub open_orders_max: usize,
    pub orders_reserved: usize,
}
