//! The trading state the sequencer owns: every order with its state machine, positions with average price and
//! realized P&L, reference prices, and the trading halt. [`Engine::apply`] is the only writer. It takes one
//! event and its journal timestamp, returns the decision for requests, and pushes venue commands to `out`.
//! Invariants: order ids are dense from 1 in apply order; an order's `cum_qty` never exceeds its `qty`; a
//! position changes only through a fill of one of its account's orders; venue reports that the state machine
//! does not allow are counted as anomalies and change nothing.

use crate::chain;
use bulwark_model::*;
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

/// Sizes the engine is built for; all its tables are allocated up front.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineLimits {
    pub accounts: usize,
    pub symbols: usize,
    /// Most orders that may be working at once (PendingNew/New/PartiallyFilled/PendingCancel).
    pub open_orders_max: usize,
    /// Orders to reserve room for at start (the table grows beyond it, but not on the hot path before then).
    pub orders_reserved: usize,
}

/// A command for the venue, produced by `apply` after the event was journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Submit(Order),
    Cancel { order: OrderId },
    Price(PriceUpdate),
}

/// Counters of things that should not happen but can (a venue reporting out of order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Anomalies {
    pub unknown_order_reports: u64,
    pub illegal_transitions: u64,
    pub overfills: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Engine {
    limits: EngineLimits,
    orders: Vec<Order>,
    cl_ord_index: HashMap<(AccountId, ClOrdId), OrderId>,
    positions: HashMap<(AccountId, SymbolId), Position>,
    ref_px: Vec<Option<Px>>,
    open_orders: usize,
    halted: bool,
    day: u32,
    anomalies: Anomalies,
}

/// An empty order table whose reserved memory has been touched once, so that the first orders after start
/// do not pay a page fault each 4 KiB on the sequencer thread (all memory is taken at start).
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
    pub fn new(limits: EngineLimits) -> Self {
        assert!(
            limits.open_orders_max > 0,
            "open_orders_max must be positive"
        );
        Engine {
            limits,
            orders: prefaulted(limits.orders_reserved),
            cl_ord_index: HashMap::with_capacity_and_hasher(
                limits.orders_reserved,
                Default::default(),
            ),
            positions: HashMap::with_capacity_and_hasher(
                limits.accounts.saturating_mul(4).min(1 << 20),
                Default::default(),
            ),
            ref_px: vec![None; limits.symbols],
            open_orders: 0,
            halted: false,
            day: 0,
            anomalies: Anomalies::default(),
        }
    }

    pub fn limits(&self) -> &EngineLimits {
        &self.limits
    }
    pub fn is_halted(&self) -> bool {
        self.halted
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
        self.ref_px.get(symbol.0 as usize).copied().flatten()
    }

    pub fn order(&self, id: OrderId) -> Option<&Order> {
        (id.0 as usize)
            .checked_sub(1)
            .and_then(|i| self.orders.get(i))
    }
    fn order_mut(&mut self, id: OrderId) -> Option<&mut Order> {
        (id.0 as usize)
            .checked_sub(1)
            .and_then(|i| self.orders.get_mut(i))
    }

    pub fn find_by_cl_ord_id(&self, account: AccountId, cl: &ClOrdId) -> Option<OrderId> {
        self.cl_ord_index.get(&(account, *cl)).copied()
    }

    /// All orders, in id order.
    pub fn orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.iter()
    }

    /// Non-flat or P&L-carrying positions of `account`, by symbol id.
    pub fn positions_of(&self, account: AccountId) -> Vec<(SymbolId, Position)> {
        let mut v: Vec<_> = self
            .positions
            .iter()
            .filter(|((a, _), _)| *a == account)
            .map(|((_, s), p)| (*s, *p))
            .collect();
        v.sort_by_key(|(s, _)| *s);
        v
    }

    /// Working orders in id order (the paper venue is rebuilt from these after a restart).
    pub fn working_orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.iter().filter(|o| o.status.is_working())
    }

    /// Applies one journaled event. Requests (new order, cancel) return the decision to journal after them.
    pub fn apply(&mut self, event: &Event, ts_ns: i64, out: &mut Vec<Output>) -> Option<Decision> {
        match event {
            Event::NewOrder(o) => Some(self.apply_new_order(o, ts_ns, out)),
            Event::CancelOrder(c) => Some(self.apply_cancel(c, ts_ns, out)),
            Event::Venue(report) => {
                self.apply_venue(report, ts_ns);
                None
            }
            Event::Price(p) => {
                if let Some(slot) = self.ref_px.get_mut(p.symbol.0 as usize) {
                    *slot = Some(p.px);
                    out.push(Output::Price(*p));
                }
                None
            }
            Event::Control(c) => {
                self.halted = matches!(c.kind, ControlKind::HaltTrading);
                None
            }
            Event::Timer(Timer::DayRoll { day }) => {
                self.roll_day(*day);
                None
            }
            Event::Boot(_) | Event::Decision(_) => None,
        }
    }

    fn apply_new_order(&mut self, o: &NewOrder, ts_ns: i64, out: &mut Vec<Output>) -> Decision {
        let id = OrderId(self.orders.len() as u64 + 1);
        let verdict = chain::check_new_order(self, o);
        let (status, reject) = match verdict {
            Verdict::Accept => (OrderStatus::PendingNew, None),
            Verdict::Reject(r) => (OrderStatus::Rejected, Some(r)),
        };
        let order = Order {
            id,
            account: o.account,
            symbol: o.symbol,
            side: o.side,
            ord_type: o.ord_type,
            tif: o.tif,
            qty: o.qty,
            limit_px: o.limit_px,
            cl_ord_id: o.cl_ord_id,
            ingress: o.ingress,
            status,
            cum_qty: Qty::ZERO,
            cum_notional: Notional::ZERO,
            created_ts_ns: ts_ns,
            updated_ts_ns: ts_ns,
            reject,
        };
        self.orders.push(order);
        if verdict == Verdict::Accept {
            self.cl_ord_index.insert((o.account, o.cl_ord_id), id);
            self.open_orders += 1;
            out.push(Output::Submit(order));
        }
        Decision { order: id, verdict }
    }

    fn apply_cancel(&mut self, c: &CancelOrder, ts_ns: i64, out: &mut Vec<Output>) -> Decision {
        let target = match c.target {
            CancelTarget::ById(id) => self
                .order(id)
                .filter(|o| o.account == c.account)
                .map(|o| o.id),
            CancelTarget::ByClOrdId(cl) => self.find_by_cl_ord_id(c.account, &cl),
        };
        let Some(id) = target else {
            return Decision {
                order: OrderId(0),
                verdict: Verdict::Reject(Reject::plain(RuleId::Cancel, RejectReason::UnknownOrder)),
            };
        };
        let Some(order) = self.order_mut(id) else {
            unreachable!("an indexed order id always resolves");
        };
        match order.status {
            s if s.is_terminal() => Decision {
                order: id,
                verdict: Verdict::Reject(Reject::plain(
                    RuleId::Cancel,
                    RejectReason::TooLateToCancel,
                )),
            },
            // A second cancel while one is under way is accepted and changes nothing.
            OrderStatus::PendingCancel => Decision {
                order: id,
                verdict: Verdict::Accept,
            },
            _ => {
                order
                    .transition(OrderStatus::PendingCancel, ts_ns)
                    .expect("a working order may always become PendingCancel");
                out.push(Output::Cancel { order: id });
                Decision {
                    order: id,
                    verdict: Verdict::Accept,
                }
            }
        }
    }

    fn apply_venue(&mut self, report: &VenueReport, ts_ns: i64) {
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
                // An ack that arrives after a cancel was requested leaves the cancel pending.
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
                let (account, symbol, side) = (order.account, order.symbol, order.side);
                let filled = order.cum_qty == order.qty;
                let next = if filled {
                    OrderStatus::Filled
                } else if order.status == OrderStatus::PendingCancel {
                    OrderStatus::PendingCancel
                } else {
                    OrderStatus::PartiallyFilled
                };
                order.status = next;
                order.updated_ts_ns = ts_ns;
                self.positions
                    .entry((account, symbol))
                    .or_default()
                    .apply_fill(side, qty, px);
                None
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
            self.open_orders -= 1;
        }
    }

    fn roll_day(&mut self, day: u32) {
        if day <= self.day {
            return;
        }
        self.day = day;
        // Client order ids are unique per account per trading day: ids of finished orders become free again.
        let orders = &self.orders;
        self.cl_ord_index
            .retain(|_, id| orders[(id.0 - 1) as usize].status.is_working());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(EngineLimits {
            accounts: 2,
            symbols: 2,
            open_orders_max: 100,
            orders_reserved: 16,
        })
    }

    fn new_order(cl: &str, side: Side, qty: i64, px: Option<i64>) -> Event {
        Event::NewOrder(NewOrder {
            account: AccountId(0),
            symbol: SymbolId(1),
            side,
            ord_type: if px.is_some() {
                OrdType::Limit
            } else {
                OrdType::Market
            },
            tif: Tif::Day,
            qty: Qty::from_units(qty),
            limit_px: px.map(Px::from_units),
            cl_ord_id: ClOrdId::try_new(cl).unwrap(),
            ingress: Ingress::Rest,
        })
    }

    #[test]
    fn lifecycle_fill_and_position() {
        let mut e = engine();
        let mut out = Vec::new();
        let d = e
            .apply(&new_order("a", Side::Buy, 10, None), 1, &mut out)
            .unwrap();
        assert_eq!(d.verdict, Verdict::Accept);
        assert!(matches!(out[0], Output::Submit(_)));
        e.apply(
            &Event::Venue(VenueReport::Ack { order: d.order }),
            2,
            &mut out,
        );
        e.apply(
            &Event::Venue(VenueReport::Fill {
                order: d.order,
                exec_id: 1,
                qty: Qty::from_units(4),
                px: Px::from_units(100),
            }),
            3,
            &mut out,
        );
        assert_eq!(
            e.order(d.order).unwrap().status,
            OrderStatus::PartiallyFilled
        );
        e.apply(
            &Event::Venue(VenueReport::Fill {
                order: d.order,
                exec_id: 2,
                qty: Qty::from_units(6),
                px: Px::from_units(110),
            }),
            4,
            &mut out,
        );
        let o = e.order(d.order).unwrap();
        assert_eq!(o.status, OrderStatus::Filled);
        assert_eq!(o.avg_px(), Px::from_units(106));
        assert_eq!(e.open_order_count(), 0);
        let pos = e.positions_of(AccountId(0));
        assert_eq!(pos[0].1.qty, Qty::from_units(10));
    }

    #[test]
    fn duplicate_and_bad_inputs_reject() {
        let mut e = engine();
        let mut out = Vec::new();
        e.apply(&new_order("a", Side::Buy, 10, Some(5)), 1, &mut out);
        let d = e
            .apply(&new_order("a", Side::Buy, 10, Some(5)), 1, &mut out)
            .unwrap();
        assert!(matches!(d.verdict, Verdict::Reject(r) if r.reason == RejectReason::Duplicate));
        let d = e
            .apply(&new_order("b", Side::Buy, 0, Some(5)), 1, &mut out)
            .unwrap();
        assert!(
            matches!(d.verdict, Verdict::Reject(r) if r.reason == RejectReason::IncorrectQuantity)
        );
        let mut bad = new_order("c", Side::Buy, 1, None);
        if let Event::NewOrder(o) = &mut bad {
            o.account = AccountId(7);
        }
        let d = e.apply(&bad, 1, &mut out).unwrap();
        assert!(
            matches!(d.verdict, Verdict::Reject(r) if r.reason == RejectReason::UnknownAccount)
        );
        assert_eq!(
            e.order_count(),
            4,
            "rejected requests are recorded as rejected orders"
        );
    }

    #[test]
    fn cancel_paths() {
        let mut e = engine();
        let mut out = Vec::new();
        let d = e
            .apply(&new_order("a", Side::Sell, 10, Some(5)), 1, &mut out)
            .unwrap();
        let cancel = Event::CancelOrder(CancelOrder {
            account: AccountId(0),
            target: CancelTarget::ById(d.order),
        });
        out.clear();
        let c = e.apply(&cancel, 2, &mut out).unwrap();
        assert_eq!(c.verdict, Verdict::Accept);
        assert_eq!(out, vec![Output::Cancel { order: d.order }]);
        e.apply(
            &Event::Venue(VenueReport::Canceled {
                order: d.order,
                cause: CancelCause::Requested,
            }),
            3,
            &mut out,
        );
        let c = e.apply(&cancel, 4, &mut out).unwrap();
        assert!(
            matches!(c.verdict, Verdict::Reject(r) if r.reason == RejectReason::TooLateToCancel)
        );
        let wrong_account = Event::CancelOrder(CancelOrder {
            account: AccountId(1),
            target: CancelTarget::ById(d.order),
        });
        let c = e.apply(&wrong_account, 5, &mut out).unwrap();
        assert!(matches!(c.verdict, Verdict::Reject(r) if r.reason == RejectReason::UnknownOrder));
    }

    #[test]
    fn halt_rejects_new_but_not_cancels() {
        let mut e = engine();
        let mut out = Vec::new();
        let d = e
            .apply(&new_order("a", Side::Sell, 10, Some(5)), 1, &mut out)
            .unwrap();
        e.apply(
            &Event::Control(Control {
                kind: ControlKind::HaltTrading,
            }),
            2,
            &mut out,
        );
        let n = e
            .apply(&new_order("b", Side::Sell, 10, Some(5)), 3, &mut out)
            .unwrap();
        assert!(
            matches!(n.verdict, Verdict::Reject(r) if r.reason == RejectReason::KillSwitchActive)
        );
        let c = e
            .apply(
                &Event::CancelOrder(CancelOrder {
                    account: AccountId(0),
                    target: CancelTarget::ById(d.order),
                }),
                4,
                &mut out,
            )
            .unwrap();
        assert_eq!(c.verdict, Verdict::Accept);
    }

    #[test]
    fn venue_anomalies_change_nothing() {
        let mut e = engine();
        let mut out = Vec::new();
        e.apply(
            &Event::Venue(VenueReport::Ack { order: OrderId(9) }),
            1,
            &mut out,
        );
        let d = e
            .apply(&new_order("a", Side::Buy, 1, None), 1, &mut out)
            .unwrap();
        let before = e.clone();
        e.apply(
            &Event::Venue(VenueReport::Fill {
                order: d.order,
                exec_id: 1,
                qty: Qty::from_units(2),
                px: Px::from_units(1),
            }),
            2,
            &mut out,
        );
        assert_eq!(e.order(d.order), before.order(d.order));
        assert_eq!(e.anomalies().unknown_order_reports, 1);
        assert_eq!(e.anomalies().overfills, 1);
    }
}
