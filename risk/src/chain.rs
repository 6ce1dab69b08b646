//! The pre-trade chain for new orders (spec §4.2), in order, first failing rule wins:
//! input → KILL → ACCOUNT_STATE → HOURS → SYMBOL (restricted, price floor) → DUP → THROTTLE → QTY →
//! PRICE_COLLAR → NOTIONAL → POSITION (with working orders) → CREDIT / BUYING_POWER → PDT → PROP caps → WASH.
//! Each rule is a small predicate that returns a [`Reject`] carrying the rule id, the reason code and the two
//! numbers that drove it. Cancels never come here. Only the throttle keeps state (its window and breaches);
//! a storm of breaches trips the account's kill switch, which also cancels its working orders.

use crate::calendar::{date_from_days, hours_allow};
use crate::engine::{Engine, Output, RecentOrder, Replaying, RECENT_ORDERS_MAX};
use crate::limits::AssetClass;
use crate::pdt::{pdt_mode, pdt_protect_rejects, PdtParams, ProtectInput};
use bulwark_model::*;
use chrono::Datelike;

const BP: i128 = 10_000;

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Whether any of the first `len` fingerprints (in whole chunks of 16) equals `fp`: an OR over every slot with no
/// early exit, which the compiler turns into vector compares. Only then does the chain scan for the slot, which
/// reads the order behind it; a scalar scan that stopped at the first match was 9% of the chain's time with one
/// account (`perf`, RESULTS §3). Empty slots hold 0, which no fingerprint equals.
#[inline]
fn any_fingerprint_is(fingerprints: &[u32; RECENT_ORDERS_MAX], len: usize, fp: u32) -> bool {
    let scanned = &fingerprints[..(len.div_ceil(16) * 16).min(RECENT_ORDERS_MAX)];
    scanned
        .iter()
        .fold(0u32, |any, f| any | u32::from(*f == fp))
        != 0
}

/// A reject for an order the engine cannot hold at all (unknown account or symbol).
fn is_structural(v: &Verdict) -> bool {
    matches!(v, Verdict::Reject(r)
        if matches!(r.reason, RejectReason::UnknownAccount | RejectReason::UnknownSymbol))
}

impl Engine {
    /// Runs the chain for `o` at `ts_ns`. On accept, records the order in the duplicate window. When
    /// `replaying` a journaled request, the journal's verdict stands in place of the chain's own (which is kept
    /// there), unless the order cannot be held at all.
    pub(crate) fn check_new_order(
        &mut self,
        o: &NewOrder,
        ts_ns: i64,
        replaying: Option<&mut Replaying>,
        out: &mut Vec<Output>,
    ) -> Verdict {
        let journaled = replaying.as_ref().map(|r| r.journaled);
        let own = match self.first_failure(o, ts_ns, journaled, out) {
            Some(r) => Verdict::Reject(r),
            None => Verdict::Accept,
        };
        let verdict = match replaying {
            Some(r) if !is_structural(&own) => {
                r.own = Some(own);
                r.journaled
            }
            _ => own,
        };
        if verdict != Verdict::Accept {
            return verdict;
        }
        let acct = &mut self.accounts[o.account.0 as usize];
        let slot = acct.recent_next;
        acct.recent_fp[slot] =
            RecentOrder::fingerprint(o.symbol, o.side, o.ord_type, o.qty, o.limit_px);
        acct.recent[slot] = Some(RecentOrder {
            ts_ns,
            symbol: o.symbol,
            side: o.side,
            ord_type: o.ord_type,
            qty: o.qty,
            limit_px: o.limit_px,
        });
        acct.recent_next = if slot + 1 == acct.recent.len() {
            0
        } else {
            slot + 1
        };
        Verdict::Accept
    }

    /// The first rule `o` fails. `journaled`: the journal's verdict for it, when replaying (the throttle follows
    /// it).
    fn first_failure(
        &mut self,
        o: &NewOrder,
        ts_ns: i64,
        journaled: Option<Verdict>,
        out: &mut Vec<Output>,
    ) -> Option<Reject> {
        // Structural input checks (the edges validate too; the engine never trusts them).
        if o.account.0 as usize >= self.accounts.len() {
            return Some(Reject::plain(RuleId::Account, RejectReason::UnknownAccount));
        }
        // The duplicate window's fingerprints, the rate ring and this order's slots in the order table, asked
        // for now so that their misses overlap the rules before them (no-ops when the sequencer's lookahead
        // brought them already).
        self.accounts[o.account.0 as usize].prefetch_rings();
        self.prefetch_new_order_slot(0);
        self.books.prefetch_slot(&(o.account, o.symbol));
        self.cl_ord_index.prefetch(o.account, &o.cl_ord_id);
        if o.symbol.0 as usize >= self.config_symbols.len() {
            return Some(Reject::plain(RuleId::Symbol, RejectReason::UnknownSymbol));
        }
        if !o.qty.is_positive() {
            return Some(Reject::with(
                RuleId::Input,
                RejectReason::IncorrectQuantity,
                Measure::Qty,
                o.qty.raw(),
                0,
            ));
        }
        let price_ok = match (o.ord_type, o.limit_px) {
            (OrdType::Limit, Some(px)) => px.is_positive(),
            (OrdType::Market, None) => true,
            _ => false,
        };
        if !price_ok {
            return Some(Reject::plain(RuleId::Input, RejectReason::IncorrectPrice));
        }
        let a = o.account.0 as usize;
        let acct = &self.accounts[a];
        let limits = &acct.risk.limits;
        let sym = &self.config_symbols[o.symbol.0 as usize];

        // KILL at every scope that covers the account: any mode but reduce-only rejects every new order;
        // reduce-only lets through an order that, with the working orders on its side, only shrinks the position.
        let group_kill = acct
            .risk
            .group
            .and_then(|g| self.group_kill.get(g as usize).copied().flatten());
        let symbol_kill = self.symbol_kill.get(o.symbol.0 as usize).copied().flatten();
        let venue_kill = self.venue_kill.get(sym.venue as usize).copied().flatten();
        let kills = [
            self.global_kill,
            group_kill,
            acct.kill,
            symbol_kill,
            venue_kill,
        ];
        if kills.iter().flatten().any(|k| k.mode.blocks_all()) {
            return Some(Reject::plain(RuleId::Kill, RejectReason::KillSwitchActive));
        }
        if kills.iter().any(Option::is_some) {
            let (pos, working_same_side) =
                self.books.get(&(o.account, o.symbol)).map_or((0, 0), |b| {
                    let w = match o.side {
                        Side::Buy => b.working_buy,
                        Side::Sell => b.working_sell,
                    };
                    (b.position.qty.raw(), w.raw())
                });
            let reduces = match o.side {
                Side::Sell => pos > 0 && o.qty.raw().saturating_add(working_same_side) <= pos,
                Side::Buy => pos < 0 && o.qty.raw().saturating_add(working_same_side) <= -pos,
            };
            if !reduces {
                return Some(Reject::with(
                    RuleId::Kill,
                    RejectReason::KillSwitchActive,
                    Measure::Qty,
                    o.qty.raw(),
                    pos.abs().saturating_sub(working_same_side).max(0),
                ));
            }
        }
        // ACCOUNT_STATE: prop locks (HARD for good, SOFT and PAUSE until the day boundary), then the account's
        // trading window.
        if acct.lock.is_some() {
            return Some(Reject::plain(
                RuleId::AccountState,
                RejectReason::AccountLocked,
            ));
        }
        if !acct.risk.in_trading_window(ts_ns) {
            return Some(Reject::plain(
                RuleId::AccountState,
                RejectReason::OutsideTradingWindow,
            ));
        }
        // HOURS.
        if limits.enforce_hours {
            if let Some(cal) = sym.calendar.and_then(|c| self.calendars.get(c)) {
                let s = cal.session_at(ts_ns);
                if !s.covered || !hours_allow(s.phase, o.ord_type == OrdType::Limit, o.ext_hours) {
                    let d = date_from_days(s.trade_day.max(0));
                    let ymd = i64::from(d.year()) * 10_000
                        + i64::from(d.month()) * 100
                        + i64::from(d.day());
                    let phase = if s.covered { s.phase as u8 } else { 9 };
                    let date = if s.covered { ymd } else { 0 };
                    return Some(Reject::with(
                        RuleId::Hours,
                        RejectReason::MarketClosed,
                        Measure::Session,
                        date,
                        i64::from(phase),
                    ));
                }
            }
        }
        // SYMBOL: restricted list, price floor.
        if sym.restricted {
            return Some(Reject::plain(RuleId::Symbol, RejectReason::Restricted));
        }
        let reference = self.ref_px.get(o.symbol.0 as usize).copied().flatten();
        if let Some(floor) = limits.price_floor {
            let px = reference.map(|(p, _)| p).or(o.limit_px).unwrap_or(Px::ZERO);
            if px < floor {
                return Some(Reject::with(
                    RuleId::Symbol,
                    RejectReason::PriceFloor,
                    Measure::Px,
                    px.raw(),
                    floor.raw(),
                ));
            }
        }
        // DUP: a reused client order id (in the account's client-order-id space), or an identical order
        // within the window.
        if self.cl_ord_id_holder(o.account, &o.cl_ord_id).is_some() {
            return Some(Reject::plain(RuleId::Dup, RejectReason::Duplicate));
        }
        if limits.dup_window_ns > 0 {
            // Every remembered order whose fingerprint matches (a dense array of 32-bit fingerprints, at most
            // four cache lines, where the orders themselves span up to 48), then that order itself: inside the
            // window, and identical (a fingerprint can collide).
            let fp = RecentOrder::fingerprint(o.symbol, o.side, o.ord_type, o.qty, o.limit_px);
            let dup = any_fingerprint_is(&acct.recent_fp, acct.recent.len(), fp)
                && acct.recent_fp.iter().zip(&acct.recent).any(|(f, r)| {
                    *f == fp
                        && r.is_some_and(|r| {
                            ts_ns - r.ts_ns < limits.dup_window_ns
                                && r.symbol == o.symbol
                                && r.side == o.side
                                && r.ord_type == o.ord_type
                                && r.qty == o.qty
                                && r.limit_px == o.limit_px
                        })
                });
            if dup {
                return Some(Reject::with(
                    RuleId::Dup,
                    RejectReason::Duplicate,
                    Measure::Count,
                    1,
                    limits.dup_window_ns / 1_000_000,
                ));
            }
        }
        // THROTTLE: sliding window; repeated breaches trip the account's kill switch.
        if limits.throttle_max > 0 {
            let (max, window) = (limits.throttle_max, limits.throttle_window_ns);
            let (storm, storm_window) = (
                limits.throttle_breaches_to_kill,
                limits.throttle_breach_window_ns,
            );
            let acct = &mut self.accounts[a];
            // The ring holds the last `max` orders that passed: the limit can only be reached when it is full
            // inside the window (one cache line), and only then is it counted. The count decides, exactly as
            // before the O(1) pre-check, also when edges' timestamps interleave out of order.
            let since = ts_ns - window;
            let in_window = if acct.throttle.full_since(since) {
                acct.throttle.count_since(since)
            } else {
                0
            };
            // Replaying a journaled decision (`Engine::apply_journaled`): the order breached the throttle if and
            // only if the journal says so, whatever the throttle's settings are now, so that a changed setting
            // neither invents breaches (and a storm's kill and cancels) nor forgets them.
            let breached = match journaled {
                Some(journaled) => matches!(journaled,
                    Verdict::Reject(r) if r.reason == RejectReason::Throttle),
                None => in_window >= max as usize,
            };
            if breached {
                acct.breaches.push(ts_ns);
                if storm > 0 && acct.breaches.count_since(ts_ns - storm_window) >= storm as usize {
                    // Resettable by a risk officer: a storm is an operating event, not a rule failure.
                    crate::engine::Kill::merge(
                        &mut acct.kill,
                        LEVEL_RISK_OFFICER,
                        KillMode::CancelAll,
                    );
                    let account = o.account;
                    self.cancel_all(|w| w.account == account, ts_ns, out);
                }
                return Some(Reject::with(
                    RuleId::Throttle,
                    RejectReason::Throttle,
                    Measure::Count,
                    in_window as i64 + 1,
                    i64::from(max),
                ));
            }
            acct.throttle.push(ts_ns);
        }
        let acct = &self.accounts[a];
        let limits = &acct.risk.limits;
        // QTY.
        if let Some(max) = limits.max_order_qty {
            if o.qty > max {
                return Some(Reject::with(
                    RuleId::Qty,
                    RejectReason::MaxOrderQty,
                    Measure::Qty,
                    o.qty.raw(),
                    max.raw(),
                ));
            }
        }
        // PRICE_COLLAR: against a fresh reference; market orders need one.
        let fresh = match reference {
            Some((px, at))
                if limits.reference_max_age_ns == 0
                    || ts_ns - at <= limits.reference_max_age_ns =>
            {
                Some(px)
            }
            Some((_, at)) => {
                let age_ms = (ts_ns - at) / 1_000_000;
                return Some(Reject::with(
                    RuleId::PriceCollar,
                    RejectReason::PriceCollar,
                    Measure::AgeMs,
                    age_ms,
                    limits.reference_max_age_ns / 1_000_000,
                ));
            }
            None => None,
        };
        if o.ord_type == OrdType::Market && fresh.is_none() {
            return Some(Reject::plain(
                RuleId::PriceCollar,
                RejectReason::NoReferencePrice,
            ));
        }
        if let (Some(px), Some(r)) = (o.limit_px, fresh) {
            if limits.collar_bp > 0 {
                let band = if r <= limits.collar_low_price_max {
                    limits.collar_low_price_bp
                } else {
                    limits.collar_bp
                };
                let away = match o.side {
                    Side::Buy => i128::from(px.raw() - r.raw()),
                    Side::Sell => i128::from(r.raw() - px.raw()),
                };
                if away * BP > i128::from(band) * i128::from(r.raw()) {
                    return Some(Reject::with(
                        RuleId::PriceCollar,
                        RejectReason::PriceCollar,
                        Measure::Px,
                        px.raw(),
                        r.raw(),
                    ));
                }
            }
        }
        // NOTIONAL: limit price, or the reference plus the market buffer for market buys.
        let unit_px = match (o.limit_px, fresh) {
            (Some(px), _) => px,
            (None, Some(r)) if o.side == Side::Buy => Px::from_raw(clamp_i64(
                i128::from(r.raw()) * (BP + i128::from(limits.market_buffer_bp)) / BP,
            )),
            (None, Some(r)) => r,
            (None, None) => Px::ZERO,
        };
        let value =
            Notional::from_raw(Notional::of(o.qty, unit_px).raw() * i128::from(sym.multiplier));
        if let Some(max) = limits.max_notional {
            if value > max {
                return Some(Reject::with(
                    RuleId::Notional,
                    RejectReason::MaxNotional,
                    Measure::Money,
                    clamp_i64(value.raw()),
                    clamp_i64(max.raw()),
                ));
            }
        }
        // POSITION including working orders on the same side.
        let book = self.books.get(&(o.account, o.symbol));
        let pos = book.map_or(0, |b| b.position.qty.raw());
        let (wb, ws) = book.map_or((0, 0), |b| (b.working_buy.raw(), b.working_sell.raw()));
        if let Some(max) = limits.max_position {
            let worst = match o.side {
                Side::Buy => pos + wb + o.qty.raw(),
                Side::Sell => pos - ws - o.qty.raw(),
            };
            if worst.abs() > max.raw() {
                return Some(Reject::with(
                    RuleId::Position,
                    RejectReason::MaxPosition,
                    Measure::Qty,
                    worst.abs(),
                    max.raw(),
                ));
            }
        }
        // CREDIT: gross exposure; BUYING_POWER: cash accounts pay for buys.
        let reduces = (o.side == Side::Sell && pos > 0) || (o.side == Side::Buy && pos < 0);
        if let Some(limit) = limits.credit_limit {
            let gross = acct.exposure + acct.working_value + value;
            if !reduces && gross > limit {
                return Some(Reject::with(
                    RuleId::Credit,
                    RejectReason::Credit,
                    Measure::Money,
                    clamp_i64(gross.raw()),
                    clamp_i64(limit.raw()),
                ));
            }
        }
        if !acct.risk.margin
            && acct.risk.initial_balance.raw() > 0
            && o.side == Side::Buy
            && !reduces
        {
            let cash = acct.balance - acct.exposure - acct.working_value;
            if value > cash {
                return Some(Reject::with(
                    RuleId::Credit,
                    RejectReason::BuyingPower,
                    Measure::Money,
                    clamp_i64(value.raw()),
                    clamp_i64(cash.raw()),
                ));
            }
        }
        // PDT protection (legacy regime, margin accounts, equities and options).
        if acct.risk.pdt.enabled && acct.risk.margin {
            let cal = acct.risk.pdt.calendar.and_then(|c| self.calendars.get(c));
            if let Some(cal) = cal {
                let today = cal.session_at(ts_ns).trade_day;
                let mode = pdt_mode(today, acct.risk.pdt.broker_switch_day);
                let window = cal.trading_days_back(today, 5);
                let today_count = acct.day_trades_today;
                let past: u32 = acct
                    .day_trades
                    .iter()
                    .filter(|(d, _)| *d != today && window.contains(d))
                    .map(|(_, c)| *c)
                    .sum();
                let closes_today = book.is_some_and(|b| {
                    let opened = b.day.opened_today_on_position_side();
                    opened > 0
                        && ((o.side == Side::Sell && b.day.position() > 0)
                            || (o.side == Side::Buy && b.day.position() < 0))
                });
                let opposite_working = match o.side {
                    Side::Buy => ws > 0,
                    Side::Sell => wb > 0,
                };
                let input = ProtectInput {
                    mode,
                    exempt: matches!(sym.asset_class, AssetClass::Crypto | AssetClass::Future),
                    margin_account: true,
                    prior_close_equity: acct.sod_equity,
                    dt_count_5d: today_count + past,
                    closes_opened_today: closes_today,
                    opposite_working,
                };
                if mode == crate::pdt::PdtMode::IntradayMargin && !input.exempt {
                    // IMR-PRECHECK (house approximation, §1.6): positions at cost plus working orders
                    // plus this order, against equity at cost (the realized balance).
                    let working_sell = acct.working_value - acct.working_buy_value;
                    let before = (
                        acct.long_cost + acct.working_buy_value,
                        acct.short_cost + working_sell,
                    );
                    let after = match (o.side, reduces) {
                        (Side::Buy, false) => (before.0 + value, before.1),
                        (Side::Sell, false) => (before.0, before.1 + value),
                        (Side::Buy, true) => (
                            before.0,
                            Notional::from_raw((before.1 - value).raw().max(0)),
                        ),
                        (Side::Sell, true) => (
                            Notional::from_raw((before.0 - value).raw().max(0)),
                            before.1,
                        ),
                    };
                    // The reject reads "required > available": the requirement (or minimum equity) against equity.
                    let refusal = match crate::pdt::imr_check(
                        &crate::pdt::ImrParams::default(),
                        acct.balance,
                        before,
                        after,
                    ) {
                        Ok(()) => None,
                        Err(crate::pdt::ImrRefusal::BelowMinimumEquity(equity, minimum)) => {
                            Some((minimum, equity))
                        }
                        Err(crate::pdt::ImrRefusal::Deficit(required, equity)) => {
                            Some((required, equity))
                        }
                    };
                    if let Some((required, equity)) = refusal {
                        return Some(Reject::with(
                            RuleId::Imr,
                            RejectReason::IntradayMarginDeficit,
                            Measure::Money,
                            clamp_i64(required.raw()),
                            clamp_i64(equity.raw()),
                        ));
                    }
                }
                if pdt_protect_rejects(&PdtParams::default(), &input) {
                    return Some(Reject::with(
                        RuleId::Pdt,
                        RejectReason::PdtProtection,
                        Measure::Count,
                        i64::from(input.dt_count_5d + 1),
                        4,
                    ));
                }
            }
        }
        // PROP caps: total lots across products.
        if let Some(cap) = acct.risk.max_position_lots {
            let unit = FIXED_SCALE;
            let signed = o.qty.raw() / unit * o.side.sign();
            let after = crate::prop::lots_after(acct.abs_lots as u32, pos / unit, signed);
            if !reduces && after > cap {
                return Some(Reject::with(
                    RuleId::PropCap,
                    RejectReason::MaxPosition,
                    Measure::Count,
                    i64::from(after),
                    i64::from(cap),
                ));
            }
        }
        // WASH: could the order trade against the account's own working orders? O(1) through the book's
        // wash index; only a reject looks up which order it would meet, for the message.
        if limits.wash {
            let (account, symbol) = (o.account, o.symbol);
            if self
                .wash_index(account, symbol)
                .is_some_and(|w| w.crosses(o.side, o.limit_px))
            {
                let against = self.books.get(&(account, symbol)).and_then(|b| {
                    b.working.iter().copied().find(|id| {
                        let w = &self.orders[(id.0 - 1) as usize];
                        w.side != o.side
                            && w.ingress != Ingress::Risk
                            && match (w.limit_px, o.limit_px) {
                                (Some(wp), Some(op)) => match o.side {
                                    Side::Buy => op >= wp,
                                    Side::Sell => wp >= op,
                                },
                                _ => true,
                            }
                    })
                });
                let id = against.map_or(0, |id| id.0 as i64);
                return Some(Reject::with(
                    RuleId::Wash,
                    RejectReason::Wash,
                    Measure::Order,
                    id,
                    0,
                ));
            }
        }
        if self.open_orders >= self.limits.open_orders_max {
            return Some(Reject::with(
                RuleId::Input,
                RejectReason::Busy,
                Measure::Count,
                self.open_orders as i64,
                self.limits.open_orders_max as i64,
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_fingerprint_is_looks_at_whole_chunks_up_to_the_length() {
        let mut fps = [0u32; RECENT_ORDERS_MAX];
        fps[17] = 7;
        fps[63] = 9;
        assert!(!any_fingerprint_is(&fps, 16, 7));
        assert!(any_fingerprint_is(&fps, 17, 7));
        assert!(any_fingerprint_is(&fps, 64, 7));
        assert!(!any_fingerprint_is(&fps, 48, 9));
        // Slot 63 is in the chunk a length of 49 reaches; the exact scan then bounds it by `recent`.
        assert!(any_fingerprint_is(&fps, 49, 9));
        assert!(!any_fingerprint_is(&fps, 0, 7));
        assert!(!any_fingerprint_is(&fps, 64, 1));
    }
}
