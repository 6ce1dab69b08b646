//! Property: the engine beside a naive reference model. The reference keeps only the history of events and
//! recomputes everything it needs from scratch with ordered maps for every decision (positions, working
//! quantities and values, exposure, cash, reference prices, kill switches, throttle and duplicate windows),
//! following the rules of spec §4.2 as written. On random streams of orders, cancels, fills, price moves,
//! kill switch trips and resets, time jumps and day rolls across 50 accounts, every decision must match
//! (rule and reason), and so must every account's positions, working quantities and balance at the end.
//! Failing cases are kept by proptest under `proptest-regressions/` and committed as regressions.
mod common;
use bulwark_model::*;
use bulwark_risk::*;
use common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Accounts 0..50 are plain; 50..56 are prop accounts under [`prop_template`].
const ACCOUNTS: u32 = 56;
const PLAIN_ACCOUNTS: u32 = 50;
const PROP_B0: &str = "10000";

fn is_prop(a: u32) -> bool {
    a >= PLAIN_ACCOUNTS
}

/// A prop rule set whose breaches pause the account until the day boundary: a static floor 800 below the
/// initial balance and an intraday trailing floor 300 below the equity peak (tight, so that breaches happen).
fn prop_template() -> bulwark_risk::prop::FirmTemplate {
    toml::from_str(
        r#"
name = "test-prop"
firm = "test"
initial_balance_usd = 10000
day_boundary_timezone = "UTC"
day_boundary = "00:00"
[[floors]]
kind = "static"
name = "static"
loss = { usd = 800 }
action = "pause"
[[floors]]
kind = "trail_intraday"
name = "trailing"
drawdown = { usd = 300 }
action = "pause"
"#,
    )
    .unwrap()
}
const SYMBOLS: u32 = 5;

fn limits() -> Limits {
    Limits {
        max_order_qty: Some(qty(500)),
        max_notional: Some(usd("40000")),
        max_position: Some(qty(800)),
        credit_limit: Some(usd("150000")),
        price_floor: Some(px("2.00")),
        throttle_max: 5,
        throttle_window_ns: SEC,
        throttle_breaches_to_kill: 3,
        throttle_breach_window_ns: 60 * SEC,
        enforce_hours: false,
        ..Limits::default()
    }
}

fn multiplier(s: u32) -> i64 {
    if s == 4 {
        10
    } else {
        1
    }
}

fn is_cash(a: u32) -> bool {
    !is_prop(a) && a % 3 == 0
}

fn group_of(a: u32) -> u32 {
    a % 2
}

fn initial(a: u32) -> Notional {
    if is_prop(a) {
        usd(PROP_B0)
    } else if is_cash(a) {
        usd("20000")
    } else {
        usd("100000")
    }
}

fn engine() -> Engine {
    Engine::with_config(EngineConfig {
        accounts: (0..ACCOUNTS)
            .map(|a| AccountRisk {
                limits: limits(),
                margin: is_prop(a) || !is_cash(a),
                initial_balance: initial(a),
                group: Some(group_of(a)),
                prop: is_prop(a)
                    .then(|| bulwark_risk::prop::PropAccount::new(&prop_template()).unwrap()),
                ..AccountRisk::default()
            })
            .collect(),
        symbols: (0..SYMBOLS)
            .map(|s| SymbolRisk {
                multiplier: multiplier(s),
                ..SymbolRisk::default()
            })
            .collect(),
        calendars: vec![],
        groups: 2,
        open_orders_max: 1_000_000,
        orders_reserved: 1024,
    })
}

// ---------------------------------------------------------------- the reference model

#[derive(Clone, Debug)]
enum H {
    Order {
        ts: i64,
        o: NewOrder,
        verdict: Verdict,
        val_px: Px,
    },
    Cancel,
    Venue {
        report: VenueReport,
    },
    Price {
        ts: i64,
        symbol: SymbolId,
        px: Px,
    },
    Control {
        c: Control,
    },
    DayRoll,
}

#[derive(Clone, Debug)]
struct ROrder {
    o: NewOrder,
    ts: i64,
    accepted: bool,
    cum: i64,
    done: bool,
    val_px: Px,
    /// Accepted after the last day roll, or working when it happened: its client order id is taken.
    holds_cl: bool,
}

#[derive(Default)]
struct Derived {
    orders: BTreeMap<u64, ROrder>,
    refpx: BTreeMap<u32, (Px, i64)>,
    positions: BTreeMap<(u32, u32), Position>,
    realized: BTreeMap<u32, Notional>,
    global: Option<u8>,
    groups: BTreeMap<u32, u8>,
    accounts: BTreeMap<u32, u8>,
    /// Prop accounts: (equity peak, trailing floor, locked until the day boundary).
    prop: BTreeMap<u32, (Notional, Notional, bool)>,
}

/// Equity of account `a` from scratch: balance plus each position marked to the latest reference price (or its
/// average price when there is none), per position rounded toward zero.
fn equity_of(d: &Derived, a: u32) -> Notional {
    let mut e = initial(a) + d.realized.get(&a).copied().unwrap_or_default();
    for ((acct, s), p) in &d.positions {
        if *acct != a || p.qty.raw() == 0 {
            continue;
        }
        let mark = d.refpx.get(s).map_or(p.avg_px, |(px, _)| *px);
        let per_unit = i128::from(mark.raw() - p.avg_px.raw());
        e = e + Notional::from_raw(
            per_unit * i128::from(p.qty.raw()) / i128::from(FIXED_SCALE)
                * i128::from(multiplier(*s)),
        );
    }
    e
}

/// An equity observation of a prop account: raise the peak and the trailing floor, then test both floors.
fn observe(d: &mut Derived, a: u32) {
    let b0 = usd(PROP_B0);
    let equity = equity_of(d, a);
    let entry = d.prop.entry(a).or_insert((b0, b0 - usd("300"), false));
    entry.0 = entry.0.max(equity);
    entry.1 = entry.1.max(entry.0 - usd("300"));
    if equity < b0 - usd("800") || equity < entry.1 {
        entry.2 = true;
    }
}

#[derive(Default)]
struct Reference {
    history: Vec<H>,
}

/// Rules after the throttle: an order rejected by one of these did pass (and count in) the throttle window.
fn passed_throttle(v: &Verdict) -> bool {
    match v {
        Verdict::Accept => true,
        Verdict::Reject(r) => matches!(
            r.rule,
            RuleId::Qty
                | RuleId::PriceCollar
                | RuleId::Notional
                | RuleId::Position
                | RuleId::Credit
                | RuleId::Pdt
                | RuleId::PropCap
                | RuleId::Wash
        ),
    }
}

fn slot_trip(slot: &mut Option<u8>, level: u8) {
    *slot = Some(slot.map_or(level, |l| l.max(level)));
}

impl Reference {
    fn derive(&self) -> Derived {
        let mut d = Derived::default();
        let mut throttle_rejects: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
        let mut next_id = 1u64;
        for h in &self.history {
            match h {
                H::Order {
                    ts,
                    o,
                    verdict,
                    val_px,
                } => {
                    let accepted = *verdict == Verdict::Accept;
                    d.orders.insert(
                        next_id,
                        ROrder {
                            o: *o,
                            ts: *ts,
                            accepted,
                            cum: 0,
                            done: !accepted,
                            val_px: *val_px,
                            holds_cl: accepted,
                        },
                    );
                    next_id += 1;
                    if let Verdict::Reject(r) = verdict {
                        if r.reason == RejectReason::Throttle {
                            let list = throttle_rejects.entry(o.account.0).or_default();
                            list.push(*ts);
                            if list.iter().filter(|t| **t > *ts - 60 * SEC).count() >= 3 {
                                let mut slot = d.accounts.get(&o.account.0).copied();
                                slot_trip(&mut slot, LEVEL_RISK_OFFICER);
                                d.accounts.insert(o.account.0, slot.unwrap());
                            }
                        }
                    }
                }
                H::Cancel => {}
                H::Venue { report } => {
                    let Some(ord) = d.orders.get_mut(&report.order().0) else {
                        continue;
                    };
                    if ord.done {
                        continue;
                    }
                    match *report {
                        VenueReport::Fill { qty, px, .. } => {
                            if qty.raw() <= 0 || qty.raw() > ord.o.qty.raw() - ord.cum {
                                continue;
                            }
                            ord.cum += qty.raw();
                            if ord.cum == ord.o.qty.raw() {
                                ord.done = true;
                            }
                            let p = d
                                .positions
                                .entry((ord.o.account.0, ord.o.symbol.0))
                                .or_default();
                            let before = p.realized_pnl;
                            p.apply_fill(ord.o.side, qty, px);
                            let r = Notional::from_raw(
                                (p.realized_pnl - before).raw()
                                    * i128::from(multiplier(ord.o.symbol.0)),
                            );
                            let account = ord.o.account.0;
                            let e = d.realized.entry(account).or_default();
                            *e = *e + r;
                            if is_prop(account) {
                                observe(&mut d, account);
                            }
                        }
                        VenueReport::Canceled { .. } => ord.done = true,
                        _ => {}
                    }
                }
                H::Price { ts, symbol, px } => {
                    d.refpx.insert(symbol.0, (*px, *ts));
                    // Prop accounts are re-marked on prices of symbols they have had an accepted order in.
                    let traded: Vec<u32> = (PLAIN_ACCOUNTS..ACCOUNTS)
                        .filter(|a| {
                            d.orders
                                .values()
                                .any(|o| o.accepted && o.o.account.0 == *a && o.o.symbol == *symbol)
                        })
                        .collect();
                    for a in traded {
                        observe(&mut d, a);
                    }
                }
                H::Control { c } => {
                    let slot: Option<u8> = match c.scope {
                        KillScope::Global => d.global,
                        KillScope::Group(g) => d.groups.get(&g).copied(),
                        KillScope::Account(a) => d.accounts.get(&a.0).copied(),
                        KillScope::Symbol(_) | KillScope::Venue(_) => {
                            unreachable!("the model generates no symbol or venue kills")
                        }
                    };
                    let new = match c.kind {
                        ControlKind::Trip => {
                            let mut s = slot;
                            slot_trip(&mut s, c.level);
                            s
                        }
                        ControlKind::Reset => match slot {
                            Some(l) if c.level < l => Some(l),
                            _ => None,
                        },
                        other => {
                            unreachable!("the model generates only trips and resets, not {other:?}")
                        }
                    };
                    match (c.scope, new) {
                        (KillScope::Global, n) => d.global = n,
                        (KillScope::Group(g), Some(n)) => {
                            d.groups.insert(g, n);
                        }
                        (KillScope::Group(g), None) => {
                            d.groups.remove(&g);
                        }
                        (KillScope::Account(a), Some(n)) => {
                            d.accounts.insert(a.0, n);
                        }
                        (KillScope::Account(a), None) => {
                            d.accounts.remove(&a.0);
                        }
                        (KillScope::Symbol(_) | KillScope::Venue(_), _) => {
                            unreachable!("the model generates no symbol or venue kills")
                        }
                    }
                }
                H::DayRoll => {
                    for o in d.orders.values_mut() {
                        o.holds_cl = o.accepted && !o.done;
                    }
                    // A pause lasts until the boundary; the boundary then observes equity again.
                    for a in PLAIN_ACCOUNTS..ACCOUNTS {
                        if let Some(p) = d.prop.get_mut(&a) {
                            p.2 = false;
                        }
                        observe(&mut d, a);
                    }
                }
            }
        }
        d
    }

    fn decide(&self, o: &NewOrder, now: i64) -> Verdict {
        use RejectReason as R;
        use RuleId as Rule;
        let rej = |rule, reason| Verdict::Reject(Reject::plain(rule, reason));
        let d = self.derive();
        let l = limits();
        let (a, s) = (o.account.0, o.symbol.0);
        if d.global.is_some() || d.groups.contains_key(&group_of(a)) || d.accounts.contains_key(&a)
        {
            return rej(Rule::Kill, R::KillSwitchActive);
        }
        if d.prop.get(&a).is_some_and(|p| p.2) {
            return rej(Rule::AccountState, R::AccountLocked);
        }
        let reference = d.refpx.get(&s).copied();
        let floor_px = reference.map(|(p, _)| p).or(o.limit_px).unwrap_or(Px::ZERO);
        if floor_px < l.price_floor.unwrap() {
            return rej(Rule::Symbol, R::PriceFloor);
        }
        let mine = || d.orders.values().filter(|r| r.o.account == o.account);
        if mine().any(|r| r.holds_cl && r.o.cl_ord_id == o.cl_ord_id) {
            return rej(Rule::Dup, R::Duplicate);
        }
        let identical = mine().any(|r| {
            r.accepted
                && now - r.ts < l.dup_window_ns
                && r.o.symbol == o.symbol
                && r.o.side == o.side
                && r.o.ord_type == o.ord_type
                && r.o.qty == o.qty
                && r.o.limit_px == o.limit_px
        });
        if identical {
            return rej(Rule::Dup, R::Duplicate);
        }
        let in_window = self
            .history
            .iter()
            .filter(|h| matches!(h, H::Order { ts, o: x, verdict, .. } if x.account == o.account && *ts > now - SEC && passed_throttle(verdict)))
            .count();
        if in_window >= 5 {
            return rej(Rule::Throttle, R::Throttle);
        }
        if o.qty > l.max_order_qty.unwrap() {
            return rej(Rule::Qty, R::MaxOrderQty);
        }
        let fresh = match reference {
            Some((p, at)) if now - at <= l.reference_max_age_ns => Some(p),
            Some(_) => return rej(Rule::PriceCollar, R::PriceCollar),
            None => None,
        };
        if o.ord_type == OrdType::Market && fresh.is_none() {
            return rej(Rule::PriceCollar, R::NoReferencePrice);
        }
        if let (Some(p), Some(r)) = (o.limit_px, fresh) {
            let band: i128 = if r <= Px::from_units(1) { 1_000 } else { 500 };
            let away = if o.side == Side::Buy {
                p.raw() - r.raw()
            } else {
                r.raw() - p.raw()
            };
            if i128::from(away) * 10_000 > band * i128::from(r.raw()) {
                return rej(Rule::PriceCollar, R::PriceCollar);
            }
        }
        let unit = match (o.limit_px, fresh) {
            (Some(p), _) => p,
            (None, Some(r)) if o.side == Side::Buy => {
                Px::from_raw((i128::from(r.raw()) * 10_300 / 10_000) as i64)
            }
            (None, Some(r)) => r,
            (None, None) => Px::ZERO,
        };
        let value = Notional::from_raw(Notional::of(o.qty, unit).raw() * i128::from(multiplier(s)));
        if value > l.max_notional.unwrap() {
            return rej(Rule::Notional, R::MaxNotional);
        }
        let working = |side: Side, sym: Option<u32>| -> i64 {
            mine()
                .filter(|r| {
                    r.accepted
                        && !r.done
                        && r.o.side == side
                        && sym.is_none_or(|x| r.o.symbol.0 == x)
                })
                .map(|r| r.o.qty.raw() - r.cum)
                .sum()
        };
        let pos = d.positions.get(&(a, s)).map_or(0, |p| p.qty.raw());
        let worst = match o.side {
            Side::Buy => pos + working(Side::Buy, Some(s)) + o.qty.raw(),
            Side::Sell => pos - working(Side::Sell, Some(s)) - o.qty.raw(),
        };
        if worst.abs() > l.max_position.unwrap().raw() {
            return rej(Rule::Position, R::MaxPosition);
        }
        let exposure = d
            .positions
            .iter()
            .filter(|((x, _), _)| *x == a)
            .fold(Notional::ZERO, |acc, (_, p)| {
                acc + Notional::of(p.qty.abs(), p.avg_px)
            });
        let working_value =
            mine()
                .filter(|r| r.accepted && !r.done)
                .fold(Notional::ZERO, |acc, r| {
                    acc + Notional::from_raw(
                        Notional::of(Qty::from_raw(r.o.qty.raw() - r.cum), r.val_px).raw()
                            * i128::from(multiplier(r.o.symbol.0)),
                    )
                });
        let reduces = (o.side == Side::Sell && pos > 0) || (o.side == Side::Buy && pos < 0);
        if !reduces && exposure + working_value + value > l.credit_limit.unwrap() {
            return rej(Rule::Credit, R::Credit);
        }
        if is_cash(a) && o.side == Side::Buy && !reduces {
            let balance = initial(a) + d.realized.get(&a).copied().unwrap_or_default();
            if value > balance - exposure - working_value {
                return rej(Rule::Credit, R::BuyingPower);
            }
        }
        let wash = mine().any(|r| {
            r.accepted
                && !r.done
                && r.o.symbol == o.symbol
                && r.o.side != o.side
                && match (r.o.limit_px, o.limit_px) {
                    (Some(wp), Some(op)) => {
                        if o.side == Side::Buy {
                            op >= wp
                        } else {
                            wp >= op
                        }
                    }
                    _ => true,
                }
        });
        if wash {
            return rej(Rule::Wash, R::Wash);
        }
        Verdict::Accept
    }
}

// ---------------------------------------------------------------- the random streams

#[derive(Clone, Debug)]
enum Op {
    Order {
        acct: u32,
        sym: u32,
        buy: bool,
        market: bool,
        q: i64,
        tick: i64,
        cl: u8,
    },
    Price {
        sym: u32,
        move_bp: i64,
    },
    Fill {
        pick: usize,
        frac: u8,
    },
    VenueCancel {
        pick: usize,
    },
    ClientCancel {
        pick: usize,
    },
    Control {
        trip: bool,
        scope: u8,
        id: u32,
        level: u8,
    },
    Advance {
        ms: i64,
    },
    DayRoll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0u32..100, 0..SYMBOLS, any::<bool>(), proptest::bool::weighted(0.3), 1i64..600, -80i64..80, 0u8..40).prop_map(
            |(acct, sym, buy, market, q, tick, cl)| Op::Order {
                // Most flow on a few accounts, so throttles and positions bind.
                acct: if acct < 60 { acct % 6 } else if acct < 80 { PLAIN_ACCOUNTS + acct % 6 } else { acct % ACCOUNTS },
                sym, buy, market, q, tick, cl,
            }
        ),
        3 => (0..SYMBOLS, -600i64..600).prop_map(|(sym, move_bp)| Op::Price { sym, move_bp }),
        4 => (any::<usize>(), any::<u8>()).prop_map(|(pick, frac)| Op::Fill { pick, frac }),
        2 => any::<usize>().prop_map(|pick| Op::VenueCancel { pick }),
        1 => any::<usize>().prop_map(|pick| Op::ClientCancel { pick }),
        1 => (proptest::bool::weighted(0.3), 0u8..10, 0u32..6, 0u8..5).prop_map(|(trip, scope, id, level)| Op::Control {
            trip,
            // Mostly account scope, sometimes a group, rarely everything.
            scope: match scope { 0 => 0, 1..=3 => 1, _ => 2 },
            id,
            level,
        }),
        4 => prop_oneof![0i64..50, 50i64..1_500, 1_500i64..8_000].prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::DayRoll),
    ]
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut e = engine();
    let mut r = Reference::default();
    let mut out = Vec::new();
    let mut now = T0;
    let mut prices: Vec<i64> = (0..SYMBOLS)
        .map(|s| [5_00, 40_00, 100_00, 2_50, 30_00][s as usize])
        .collect();
    let mut day = 1u32;
    let mut cl_seq = 0u32;
    for (step, op) in ops.iter().enumerate() {
        now += 1_000;
        out.clear();
        match *op {
            Op::Order {
                acct,
                sym,
                buy,
                market,
                q,
                tick,
                cl,
            } => {
                let p = Px::from_raw((prices[sym as usize] + tick).max(1) * 1_000_000);
                // Client order ids: mostly fresh, sometimes from a small pool to collide on purpose.
                cl_seq += 1;
                let id = if cl < 6 {
                    format!("pool-{cl}")
                } else {
                    format!("c-{cl_seq}")
                };
                let o = NewOrder {
                    account: AccountId(acct),
                    symbol: SymbolId(sym),
                    side: if buy { Side::Buy } else { Side::Sell },
                    ord_type: if market {
                        OrdType::Market
                    } else {
                        OrdType::Limit
                    },
                    tif: Tif::Gtc,
                    qty: qty(q),
                    limit_px: if market { None } else { Some(p) },
                    cl_ord_id: ClOrdId::try_new(&id).unwrap(),
                    ingress: Ingress::Rest,
                    ext_hours: false,
                };
                let want = r.decide(&o, now);
                let got = e.apply(&Event::NewOrder(o), now, &mut out).unwrap();
                let key = |v: &Verdict| match v {
                    Verdict::Accept => None,
                    Verdict::Reject(x) => Some((x.rule, x.reason)),
                };
                prop_assert_eq!(key(&got.verdict), key(&want), "step {}: {:?}", step, o);
                let val_px = o
                    .limit_px
                    .or_else(|| e.ref_px(o.symbol))
                    .unwrap_or(Px::ZERO);
                r.history.push(H::Order {
                    ts: now,
                    o,
                    verdict: got.verdict,
                    val_px,
                });
            }
            Op::Price { sym, move_bp } => {
                let p = &mut prices[sym as usize];
                *p = (*p + *p * move_bp / 10_000).clamp(50, 500_00);
                let px = Px::from_raw(*p * 1_000_000);
                e.apply(
                    &Event::Price(PriceUpdate {
                        symbol: SymbolId(sym),
                        px,
                    }),
                    now,
                    &mut out,
                );
                r.history.push(H::Price {
                    ts: now,
                    symbol: SymbolId(sym),
                    px,
                });
            }
            Op::Fill { pick, .. } | Op::VenueCancel { pick } => {
                let d = r.derive();
                let working: Vec<(&u64, &ROrder)> = d
                    .orders
                    .iter()
                    .filter(|(_, o)| o.accepted && !o.done)
                    .collect();
                if working.is_empty() {
                    continue;
                }
                let (id, o) = working[pick % working.len()];
                let report = match *op {
                    Op::Fill { frac, .. } => {
                        let leaves = (o.o.qty.raw() - o.cum) / FIXED_SCALE;
                        let q = (leaves * i64::from(frac) / 255).max(1);
                        let fpx =
                            o.o.limit_px
                                .unwrap_or(Px::from_raw(prices[o.o.symbol.0 as usize] * 1_000_000));
                        VenueReport::Fill {
                            order: OrderId(*id),
                            exec_id: step as u64,
                            qty: qty(q),
                            px: fpx,
                        }
                    }
                    _ => VenueReport::Canceled {
                        order: OrderId(*id),
                        cause: CancelCause::Venue,
                    },
                };
                e.apply(&Event::Venue(report), now, &mut out);
                r.history.push(H::Venue { report });
            }
            Op::ClientCancel { pick } => {
                let n = e.order_count() as u64;
                let id = OrderId(if n == 0 { 1 } else { pick as u64 % (n + 2) });
                let account = e.order(id).map_or(AccountId(0), |o| o.account);
                let got = e
                    .apply(
                        &Event::CancelOrder(CancelOrder::by_id(account, id, Ingress::Rest)),
                        now,
                        &mut out,
                    )
                    .unwrap();
                let d = r.derive();
                let want_ok = d.orders.get(&id.0).is_some_and(|o| o.accepted && !o.done);
                let got_ok = got.verdict == Verdict::Accept;
                prop_assert_eq!(got_ok, want_ok, "step {}: cancel {:?}", step, id);
                r.history.push(H::Cancel);
            }
            Op::Control {
                trip,
                scope,
                id,
                level,
            } => {
                let c = Control {
                    kind: if trip {
                        ControlKind::Trip
                    } else {
                        ControlKind::Reset
                    },
                    scope: match scope {
                        0 => KillScope::Global,
                        1 => KillScope::Group(id % 2),
                        _ => KillScope::Account(AccountId(id)),
                    },
                    level,
                };
                e.apply(&Event::Control(c), now, &mut out);
                r.history.push(H::Control { c });
            }
            Op::Advance { ms } => now += ms * MS,
            Op::DayRoll => {
                day += 1;
                e.apply(
                    &Event::Timer(Timer::DayRoll { day, boundary: 0 }),
                    now,
                    &mut out,
                );
                r.history.push(H::DayRoll);
            }
        }
    }
    // End state: every prop floor agrees.
    let d = r.derive();
    for a in PLAIN_ACCOUNTS..ACCOUNTS {
        let (_, trailing, locked) =
            d.prop
                .get(&a)
                .copied()
                .unwrap_or((usd(PROP_B0), usd("9700"), false));
        let p = e.prop(AccountId(a)).expect("a prop account");
        prop_assert_eq!(p.floor("static"), Some(usd("9200")));
        prop_assert_eq!(
            p.floor("trailing"),
            Some(trailing),
            "trailing floor of account {}",
            a
        );
        prop_assert_eq!(
            e.account_lock(AccountId(a)).is_some(),
            locked,
            "lock of account {}",
            a
        );
    }
    // End state: positions, working quantities and balances agree for every account.
    let d = r.derive();
    for a in 0..ACCOUNTS {
        let balance = initial(a) + d.realized.get(&a).copied().unwrap_or_default();
        prop_assert_eq!(e.balance(AccountId(a)), balance, "balance of account {}", a);
        for s in 0..SYMBOLS {
            let want_pos = d.positions.get(&(a, s)).map_or(Qty::ZERO, |p| p.qty);
            let got_pos = e
                .positions_of(AccountId(a))
                .iter()
                .find(|(x, _)| x.0 == s)
                .map_or(Qty::ZERO, |(_, p)| p.qty);
            prop_assert_eq!(got_pos, want_pos, "position {} {}", a, s);
            let working = |side: Side| {
                Qty::from_raw(
                    d.orders
                        .values()
                        .filter(|o| {
                            o.accepted
                                && !o.done
                                && o.o.account.0 == a
                                && o.o.symbol.0 == s
                                && o.o.side == side
                        })
                        .map(|o| o.o.qty.raw() - o.cum)
                        .sum(),
                )
            };
            prop_assert_eq!(
                e.working_qty(AccountId(a), SymbolId(s)),
                (working(Side::Buy), working(Side::Sell))
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_naive_reference_model(ops in proptest::collection::vec(op(), 50..400)) {
        run(&ops)?;
    }
}
