//! The engine's order lifecycle, positions, cancels, kill switch and anomaly handling.
mod common;
use bulwark_model::*;
use bulwark_risk::*;
use common::*;

fn spine() -> Engine {
    Engine::new(EngineLimits {
        accounts: 2,
        symbols: 2,
        open_orders_max: 100,
        orders_reserved: 16,
    })
}

#[test]
fn lifecycle_fill_and_position() {
    let mut e = spine();
    let mut o = order(Side::Buy, 10, None);
    o.symbol = 1;
    let out = apply(
        &mut e,
        &Event::Price(PriceUpdate {
            symbol: SymbolId(1),
            px: px("100"),
        }),
        0,
    );
    assert_eq!(out.len(), 1);
    let d = decide(&mut e, &o.event(), 1);
    assert_eq!(d.verdict, Verdict::Accept);
    apply(
        &mut e,
        &Event::Venue(VenueReport::Ack { order: d.order }),
        2,
    );
    apply(
        &mut e,
        &Event::Venue(VenueReport::Fill {
            order: d.order,
            exec_id: 1,
            qty: qty(4),
            px: px("100"),
        }),
        3,
    );
    assert_eq!(
        e.order(d.order).unwrap().status,
        OrderStatus::PartiallyFilled
    );
    assert_eq!(
        e.working_qty(AccountId(0), SymbolId(1)),
        (qty(6), Qty::ZERO)
    );
    apply(
        &mut e,
        &Event::Venue(VenueReport::Fill {
            order: d.order,
            exec_id: 2,
            qty: qty(6),
            px: px("110"),
        }),
        4,
    );
    let o = e.order(d.order).unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.avg_px(), px("106"));
    assert_eq!(e.open_order_count(), 0);
    assert_eq!(
        e.working_qty(AccountId(0), SymbolId(1)),
        (Qty::ZERO, Qty::ZERO)
    );
    assert_eq!(e.positions_of(AccountId(0))[0].1.qty, qty(10));
}

#[test]
fn duplicate_and_bad_inputs_reject() {
    let mut e = spine();
    let mut a = order(Side::Buy, 10, Some("5"));
    a.cl = "a".into();
    e.apply(&a.event(), 1, &mut Vec::new());
    assert_eq!(
        reason(&decide(&mut e, &a.event(), 1)),
        Some(RejectReason::Duplicate)
    );
    assert_eq!(
        reason(&decide(&mut e, &order(Side::Buy, 0, Some("5")).event(), 1)),
        Some(RejectReason::IncorrectQuantity)
    );
    let mut bad = order(Side::Buy, 1, None);
    bad.account = 7;
    assert_eq!(
        reason(&decide(&mut e, &bad.event(), 1)),
        Some(RejectReason::UnknownAccount)
    );
    assert_eq!(
        e.order_count(),
        4,
        "rejected requests are recorded as rejected orders"
    );
}

#[test]
fn cancel_paths() {
    let mut e = spine();
    let d = decide(&mut e, &order(Side::Sell, 10, Some("5")).event(), 1);
    let cancel = Event::CancelOrder(CancelOrder::by_id(AccountId(0), d.order, Ingress::Rest));
    let mut out = Vec::new();
    let c = e.apply(&cancel, 2, &mut out).unwrap();
    assert_eq!(c.verdict, Verdict::Accept);
    assert_eq!(out, vec![Output::Cancel { order: d.order }]);
    apply(
        &mut e,
        &Event::Venue(VenueReport::Canceled {
            order: d.order,
            cause: CancelCause::Requested,
        }),
        3,
    );
    assert_eq!(
        reason(&decide(&mut e, &cancel, 4)),
        Some(RejectReason::TooLateToCancel)
    );
    let wrong = Event::CancelOrder(CancelOrder::by_id(AccountId(1), d.order, Ingress::Rest));
    assert_eq!(
        reason(&decide(&mut e, &wrong, 5)),
        Some(RejectReason::UnknownOrder)
    );
    assert_eq!(
        e.working_qty(AccountId(0), SymbolId(0)),
        (Qty::ZERO, Qty::ZERO)
    );
}

#[test]
fn global_halt_rejects_new_but_not_cancels() {
    let mut e = spine();
    let d = decide(&mut e, &order(Side::Sell, 10, Some("5")).event(), 1);
    decide(&mut e, &Event::Control(Control::halt_all(LEVEL_ADMIN)), 2);
    assert!(e.is_halted());
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Sell, 10, Some("5")).event(),
            3
        )),
        Some(RejectReason::KillSwitchActive)
    );
    let cancel = Event::CancelOrder(CancelOrder::by_id(AccountId(0), d.order, Ingress::Rest));
    assert_eq!(decide(&mut e, &cancel, 4).verdict, Verdict::Accept);
    assert_eq!(
        reason(&decide(
            &mut e,
            &Event::Control(Control::resume_all(LEVEL_TRADER)),
            5
        )),
        Some(RejectReason::ResetDenied)
    );
    assert_eq!(
        decide(&mut e, &Event::Control(Control::resume_all(LEVEL_ADMIN)), 6).verdict,
        Verdict::Accept
    );
    assert!(!e.is_halted());
}

#[test]
fn venue_anomalies_change_nothing() {
    let mut e = spine();
    apply(
        &mut e,
        &Event::Venue(VenueReport::Ack { order: OrderId(9) }),
        1,
    );
    let d = decide(&mut e, &order(Side::Buy, 1, Some("1")).event(), 1);
    let before = e.clone();
    apply(
        &mut e,
        &Event::Venue(VenueReport::Fill {
            order: d.order,
            exec_id: 1,
            qty: qty(2),
            px: px("1"),
        }),
        2,
    );
    assert_eq!(e.order(d.order), before.order(d.order));
    assert_eq!(e.anomalies().unknown_order_reports, 1);
    assert_eq!(e.anomalies().overfills, 1);
}

#[test]
fn tp_5() {
    let mut e = engine_with(
        vec![account(Limits {
            price_floor: Some(px("1.50")),
            ..Limits::default()
        })],
        1,
    );
    price(&mut e, 0, "1.49", T0);
    let d = decide(&mut e, &order(Side::Buy, 100, Some("1.49")).event(), T0);
    assert_eq!(reason(&d), Some(RejectReason::PriceFloor));
    price(&mut e, 0, "1.50", T0 + SEC);
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 100, Some("1.50")).event(),
            T0 + SEC
        )),
        None
    );
}

#[test]
fn cash_accounts_need_buying_power() {
    let mut a = account(Limits::default());
    a.margin = false;
    a.initial_balance = usd("10000");
    let mut e = engine_with(vec![a], 1);
    price(&mut e, 0, "100", T0);
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 101, Some("100")).event(),
            T0
        )),
        Some(RejectReason::BuyingPower)
    );
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 60, Some("100")).event(),
            T0
        )),
        None
    );
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 41, Some("99")).event(),
            T0
        )),
        Some(RejectReason::BuyingPower),
        "working orders use cash too"
    );
}

#[test]
fn headroom_reports_room_before_each_limit() {
    let mut a = account(Limits {
        max_position: Some(qty(1_000)),
        credit_limit: Some(usd("100000")),
        throttle_max: 10,
        ..Limits::default()
    });
    a.margin = false;
    a.initial_balance = usd("50000");
    let mut e = engine_with(vec![a], 1);
    price(&mut e, 0, "50", T0);
    let d = decide(&mut e, &order(Side::Buy, 200, Some("50")).event(), T0);
    fill(&mut e, d.order, 200, "50", T0);
    decide(&mut e, &order(Side::Buy, 100, Some("49")).event(), T0 + MS);
    let h = e.headroom(AccountId(0), T0 + 2 * MS).unwrap();
    assert_eq!(
        h.position_room,
        vec![(SymbolId(0), Some(qty(700)), Some(qty(1_200)))]
    );
    assert_eq!(
        h.credit_room,
        Some(usd("85100")),
        "100,000 - 10,000 at cost - 4,900 working"
    );
    assert_eq!(h.cash_room, Some(usd("35100")));
    assert_eq!(h.throttle_room, Some(8));
    assert!(!h.killed);
}

#[test]
fn day_orders_are_canceled_at_the_day_roll_and_gtc_orders_stay() {
    let mut e = engine_with(vec![account(Limits::default())], 1);
    price(&mut e, 0, "10", T0);
    let mut day = order(Side::Buy, 5, Some("9.90"));
    day.tif = Tif::Day;
    let d = decide(&mut e, &day.event(), T0);
    let g = decide(&mut e, &order(Side::Buy, 6, Some("9.80")).event(), T0);
    let out = apply(
        &mut e,
        &Event::Timer(Timer::DayRoll {
            day: 20_413,
            boundary: 0,
        }),
        T0 + SEC,
    );
    assert_eq!(out, vec![Output::Cancel { order: d.order }]);
    assert_eq!(e.order(d.order).unwrap().status, OrderStatus::PendingCancel);
    assert_eq!(e.order(g.order).unwrap().status, OrderStatus::PendingNew);
}

fn trip(mode: KillMode, scope: KillScope, level: u8) -> Event {
    Event::Control(Control {
        kind: ControlKind::trip(mode),
        scope,
        level,
    })
}

/// Account 0 long 100 in symbol 0 at 100, plus a working buy of 10 at 90.
fn long_100_with_a_working_buy() -> (Engine, OrderId) {
    let mut e = engine_with(vec![account(Limits::default()); 2], 1);
    price(&mut e, 0, "100", 1);
    let d = decide(&mut e, &order(Side::Buy, 100, Some("100")).event(), 2);
    fill(&mut e, d.order, 100, "100", 3);
    let w = decide(&mut e, &order(Side::Buy, 10, Some("90")).event(), 4);
    assert_eq!(w.verdict, Verdict::Accept);
    (e, w.order)
}

#[test]
fn kill_mode_halt_keeps_working_orders_and_rejects_new_ones() {
    let (mut e, working) = long_100_with_a_working_buy();
    let out = apply(
        &mut e,
        &trip(
            KillMode::Halt,
            KillScope::Account(AccountId(0)),
            LEVEL_RISK_OFFICER,
        ),
        5,
    );
    assert!(out.is_empty(), "halt cancels nothing: {out:?}");
    assert!(e.order(working).unwrap().status.is_working());
    let d = decide(&mut e, &order(Side::Sell, 1, Some("100")).event(), 6);
    assert_eq!(reason(&d), Some(RejectReason::KillSwitchActive));
    // The other account trades on.
    let mut other = order(Side::Buy, 1, Some("100"));
    other.account = 1;
    assert_eq!(decide(&mut e, &other.event(), 7).verdict, Verdict::Accept);
}

#[test]
fn kill_mode_reduce_only_lets_only_reducing_orders_through() {
    let (mut e, _) = long_100_with_a_working_buy();
    decide(
        &mut e,
        &trip(KillMode::ReduceOnly, KillScope::Global, LEVEL_RISK_OFFICER),
        5,
    );
    let sell = |q| order(Side::Sell, q, Some("100")).event();
    assert_eq!(decide(&mut e, &sell(60), 6).verdict, Verdict::Accept);
    // 60 working + 41 would sell through flat.
    assert_eq!(
        reason(&decide(&mut e, &sell(41), 7)),
        Some(RejectReason::KillSwitchActive)
    );
    assert_eq!(decide(&mut e, &sell(40), 8).verdict, Verdict::Accept);
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 1, Some("100")).event(),
            9
        )),
        Some(RejectReason::KillSwitchActive)
    );
    // A halt on top blocks even reducing orders, and a later reduce-only trip does not weaken it.
    decide(
        &mut e,
        &trip(KillMode::Halt, KillScope::Global, LEVEL_RISK_OFFICER),
        10,
    );
    decide(
        &mut e,
        &trip(KillMode::ReduceOnly, KillScope::Global, LEVEL_RISK_OFFICER),
        11,
    );
    assert_eq!(
        reason(&decide(&mut e, &sell(1), 12)),
        Some(RejectReason::KillSwitchActive)
    );
}

#[test]
fn kill_mode_flatten_cancels_and_closes_with_limits_inside_the_collar() {
    let (mut e, working) = long_100_with_a_working_buy();
    let out = apply(
        &mut e,
        &trip(
            KillMode::Flatten,
            KillScope::Account(AccountId(0)),
            LEVEL_RISK_OFFICER,
        ),
        5,
    );
    assert!(out.contains(&Output::Cancel { order: working }), "{out:?}");
    let closing: Vec<&Order> = out
        .iter()
        .filter_map(|o| match o {
            Output::Submit(o) => Some(o),
            _ => None,
        })
        .collect();
    assert_eq!(closing.len(), 1, "{out:?}");
    let c = closing[0];
    assert_eq!(
        (c.side, c.qty, c.ingress),
        (Side::Sell, qty(100), Ingress::Risk)
    );
    assert_eq!(c.ord_type, OrdType::Limit);
    // Default collar 500 bp: sell no lower than 95.00, so it is marketable against 100 and inside the collar.
    assert_eq!(c.limit_px, Some(px("95")));
    assert!(c.cl_ord_id.as_str().starts_with("KILL-FLAT-"));
    // Trader cannot reset a risk officer's kill; the risk officer can, and the cancel is not undone.
    let reset = |level| {
        Event::Control(Control {
            kind: ControlKind::Reset,
            scope: KillScope::Account(AccountId(0)),
            level,
        })
    };
    assert_eq!(
        reason(&decide(&mut e, &reset(LEVEL_TRADER), 6)),
        Some(RejectReason::ResetDenied)
    );
    assert_eq!(
        decide(&mut e, &reset(LEVEL_RISK_OFFICER), 7).verdict,
        Verdict::Accept
    );
    assert_ne!(e.order(working).unwrap().status, OrderStatus::New);
    assert!(e.kill_state().2.is_empty());
}

#[test]
fn a_symbol_kill_stops_one_instrument_for_every_account() {
    let mut e = engine_with(vec![account(Limits::default()); 2], 2);
    price(&mut e, 0, "100", 1);
    price(&mut e, 1, "50", 1);
    let a = decide(&mut e, &order(Side::Buy, 5, Some("100")).event(), 2);
    fill(&mut e, a.order, 5, "100", 3);
    let mut other = order(Side::Buy, 3, Some("50"));
    other.symbol = 1;
    let b = decide(&mut e, &other.event(), 4);
    fill(&mut e, b.order, 3, "50", 5);
    let out = apply(
        &mut e,
        &trip(
            KillMode::Flatten,
            KillScope::Symbol(SymbolId(0)),
            LEVEL_RISK_OFFICER,
        ),
        6,
    );
    let closing: Vec<(SymbolId, Qty)> = out
        .iter()
        .filter_map(|o| match o {
            Output::Submit(o) => Some((o.symbol, o.qty)),
            _ => None,
        })
        .collect();
    assert_eq!(
        closing,
        vec![(SymbolId(0), qty(5))],
        "only symbol 0 is flattened"
    );
    let mut on_killed = order(Side::Buy, 1, Some("100"));
    on_killed.account = 1;
    assert_eq!(
        reason(&decide(&mut e, &on_killed.event(), 7)),
        Some(RejectReason::KillSwitchActive)
    );
    let mut elsewhere = order(Side::Buy, 1, Some("50"));
    elsewhere.symbol = 1;
    assert_eq!(
        decide(&mut e, &elsewhere.event(), 8).verdict,
        Verdict::Accept
    );
    assert_eq!(e.kill_state_with_symbols().1.len(), 1);
}

#[test]
fn orders_outside_the_accounts_trading_window_are_rejected() {
    let mut windowed = account(Limits::default());
    windowed.trading_window = Some(vec![(1_000, 2_000), (5_000, 6_000)].into());
    let mut e = engine_with(vec![windowed, account(Limits::default())], 1);
    price(&mut e, 0, "100", 1);
    let ord = |q| order(Side::Buy, q, Some("100")).event();
    assert_eq!(decide(&mut e, &ord(1), 1_500).verdict, Verdict::Accept);
    let d = decide(&mut e, &ord(2), 3_000);
    assert_eq!(reason(&d), Some(RejectReason::OutsideTradingWindow));
    match d.verdict {
        Verdict::Reject(r) => assert_eq!(r.rule, RuleId::AccountState),
        Verdict::Accept => unreachable!(),
    }
    assert_eq!(decide(&mut e, &ord(3), 5_000).verdict, Verdict::Accept);
    let mut free = order(Side::Buy, 1, Some("100"));
    free.account = 1;
    assert_eq!(
        decide(&mut e, &free.event(), 3_000).verdict,
        Verdict::Accept,
        "no window, no limit"
    );
}

#[test]
fn only_an_admin_lifts_a_hard_prop_lock() {
    let template: bulwark_risk::prop::FirmTemplate = toml::from_str(
        r#"
name = "hard"
firm = "test"
initial_balance_usd = 10000
day_boundary_timezone = "UTC"
day_boundary = "00:00"
[[floors]]
kind = "static"
name = "static"
loss = { usd = 500 }
action = "hard"
"#,
    )
    .unwrap();
    let mut prop = account(Limits::default());
    prop.initial_balance = usd("10000");
    prop.prop = Some(bulwark_risk::prop::PropAccount::new(&template).unwrap());
    let mut e = engine_with(vec![prop], 1);
    price(&mut e, 0, "100", 1);
    let d = decide(&mut e, &order(Side::Buy, 10, Some("100")).event(), 2);
    fill(&mut e, d.order, 10, "100", 3);
    // A 600 loss breaches the 500 static floor: locked for good.
    price(&mut e, 0, "40", 4);
    assert_eq!(e.account_lock(AccountId(0)), Some(Lock::Permanent));
    let unlock = |level| {
        Event::Control(Control {
            kind: ControlKind::Unlock,
            scope: KillScope::Account(AccountId(0)),
            level,
        })
    };
    assert_eq!(
        reason(&decide(&mut e, &unlock(LEVEL_RISK_OFFICER), 5)),
        Some(RejectReason::ResetDenied)
    );
    assert_eq!(e.account_lock(AccountId(0)), Some(Lock::Permanent));
    assert_eq!(
        decide(&mut e, &unlock(LEVEL_ADMIN), 6).verdict,
        Verdict::Accept
    );
    assert_eq!(e.account_lock(AccountId(0)), None);
}

#[test]
fn a_venue_kill_stops_every_symbol_routed_to_it() {
    let mut symbols = vec![SymbolRisk::default(); 2];
    symbols[1].venue = 1;
    let mut e = Engine::with_config(EngineConfig {
        accounts: vec![account(Limits::default())],
        symbols,
        calendars: vec![],
        groups: 0,
        open_orders_max: 100,
        orders_reserved: 16,
    });
    price(&mut e, 0, "100", 1);
    price(&mut e, 1, "100", 1);
    let w = decide(&mut e, &order(Side::Buy, 1, Some("90")).event(), 2);
    let out = apply(
        &mut e,
        &trip(KillMode::CancelAll, KillScope::Venue(0), LEVEL_RISK_OFFICER),
        3,
    );
    assert_eq!(out, vec![Output::Cancel { order: w.order }]);
    assert_eq!(
        reason(&decide(&mut e, &order(Side::Buy, 2, Some("90")).event(), 4)),
        Some(RejectReason::KillSwitchActive)
    );
    let mut other = order(Side::Buy, 3, Some("90"));
    other.symbol = 1;
    assert_eq!(
        decide(&mut e, &other.event(), 5).verdict,
        Verdict::Accept,
        "venue 1 trades on"
    );
    assert_eq!(e.venue_kills().len(), 1);
}

/// Accounts 0 and 1 share a client-order-id space (one FIX session); account 2 has its own.
#[test]
fn accounts_of_one_fix_session_share_one_client_order_id_space() {
    let shared = |scope: Option<u32>| AccountRisk {
        cl_ord_scope: scope.map(AccountId),
        ..account(Limits {
            dup_window_ns: 0,
            ..Limits::default()
        })
    };
    let mut e = engine_with(vec![shared(None), shared(Some(0)), shared(None)], 1);
    price(&mut e, 0, "5", 0);
    let on = |account: u32, cl: &str| {
        let mut o = order(Side::Buy, 1, Some("4.90"));
        o.account = account;
        o.cl = cl.into();
        o.event()
    };
    let a = decide(&mut e, &on(0, "X"), 1);
    assert_eq!(a.verdict, Verdict::Accept);
    // The same ClOrdID on the other account of the session is a duplicate; on an account outside it, it is not.
    assert_eq!(
        reason(&decide(&mut e, &on(1, "X"), 2)),
        Some(RejectReason::Duplicate)
    );
    assert_eq!(decide(&mut e, &on(2, "X"), 3).verdict, Verdict::Accept);
    // A cancel by ClOrdID finds only the account's own order.
    let cancel_x = |account: u32| {
        Event::CancelOrder(CancelOrder {
            account: AccountId(account),
            target: CancelTarget::ByClOrdId(ClOrdId::try_new("X").unwrap()),
            ingress: Ingress::Fix,
            cl_ord_id: None,
        })
    };
    assert_eq!(
        e.find_by_cl_ord_id(AccountId(1), &ClOrdId::try_new("X").unwrap()),
        None
    );
    assert_eq!(
        reason(&decide(&mut e, &cancel_x(1), 4)),
        Some(RejectReason::UnknownOrder)
    );
    // A replace moves account 0's order to a new ClOrdID, which frees X for the session.
    let replace = Event::ReplaceOrder(ReplaceOrder {
        account: AccountId(0),
        target: CancelTarget::ByClOrdId(ClOrdId::try_new("X").unwrap()),
        cl_ord_id: ClOrdId::try_new("Y").unwrap(),
        qty: qty(2),
        limit_px: Some(px("4.90")),
    });
    assert_eq!(decide(&mut e, &replace, 5).verdict, Verdict::Accept);
    assert_eq!(
        reason(&decide(&mut e, &on(1, "Y"), 6)),
        Some(RejectReason::Duplicate),
        "Y is now held in the session"
    );
    let b = decide(&mut e, &on(1, "X"), 7);
    assert_eq!(b.verdict, Verdict::Accept);
    assert_eq!(
        e.find_by_cl_ord_id(AccountId(1), &ClOrdId::try_new("X").unwrap()),
        Some(b.order)
    );
    assert_eq!(
        decide(&mut e, &cancel_x(0), 8).order,
        OrderId(0),
        "account 0 holds Y now, not X"
    );
    assert_eq!(decide(&mut e, &cancel_x(1), 9).verdict, Verdict::Accept);
    assert_eq!(
        a.order,
        e.find_by_cl_ord_id(AccountId(0), &ClOrdId::try_new("Y").unwrap())
            .unwrap()
    );
}

/// The shared space holds through the index table's growth (it is sized for 64 orders here) and the day roll,
/// which frees the ClOrdIDs of finished orders for every account of the space and keeps those of working ones.
#[test]
fn a_shared_client_order_id_space_survives_table_growth_and_the_day_roll() {
    let shared = |scope: Option<u32>| AccountRisk {
        cl_ord_scope: scope.map(AccountId),
        ..account(Limits {
            dup_window_ns: 0,
            throttle_max: 0,
            ..Limits::default()
        })
    };
    let mut e = engine_with(vec![shared(None), shared(Some(0))], 1);
    price(&mut e, 0, "5", T0);
    let on = |account: u32, cl: String| {
        let mut o = order(Side::Buy, 1, Some("4.90"));
        o.account = account;
        o.cl = cl;
        o.event()
    };
    let mut ids = Vec::new();
    for i in 0..300u32 {
        let d = decide(&mut e, &on(i % 2, format!("G-{i}")), T0);
        assert_eq!(d.verdict, Verdict::Accept, "G-{i}");
        ids.push(d.order);
    }
    for i in [0u32, 1, 63, 64, 299] {
        // Each ClOrdID is held by the account that used it, and refused on the other one.
        assert_eq!(
            reason(&decide(&mut e, &on(1 - i % 2, format!("G-{i}")), T0)),
            Some(RejectReason::Duplicate),
            "G-{i} on the other account"
        );
        let cl = ClOrdId::try_new(&format!("G-{i}")).unwrap();
        assert_eq!(
            e.find_by_cl_ord_id(AccountId(i % 2), &cl),
            Some(ids[i as usize])
        );
    }
    // G-0 (account 0) is canceled; the day roll frees its ClOrdID, not G-2's (still working).
    apply(
        &mut e,
        &Event::Venue(VenueReport::Canceled {
            order: ids[0],
            cause: CancelCause::Requested,
        }),
        T0,
    );
    apply(
        &mut e,
        &Event::Timer(Timer::DayRoll {
            day: 20_413,
            boundary: 0,
        }),
        T0 + SEC,
    );
    assert_eq!(
        decide(&mut e, &on(1, "G-0".into()), T0 + 2 * SEC).verdict,
        Verdict::Accept
    );
    assert_eq!(
        reason(&decide(&mut e, &on(1, "G-2".into()), T0 + 2 * SEC)),
        Some(RejectReason::Duplicate)
    );
}

/// Replaying a journal under changed throttle settings: a breach counts exactly where the journal has one, so a
/// lowered throttle invents no storm (no kill, no cancels) and a raised one forgets none.
#[test]
fn replay_under_changed_throttle_settings_counts_the_journals_breaches_only() {
    let throttled = |max: u32, storm: u32| {
        account(Limits {
            dup_window_ns: 0,
            throttle_max: max,
            throttle_window_ns: SEC,
            throttle_breaches_to_kill: storm,
            throttle_breach_window_ns: SEC,
            ..Limits::default()
        })
    };
    // Live: 12 orders in one second under the given settings; the journal is (request, decision) pairs.
    let live = |max: u32, storm: u32| {
        let mut e = engine_with(vec![throttled(max, storm)], 1);
        price(&mut e, 0, "5", T0);
        let journal: Vec<(Event, Decision)> = (0..12)
            .map(|i| {
                let ev = order(Side::Buy, 1, Some("4.90")).event();
                let d = decide(&mut e, &ev, T0 + i * MS);
                (ev, d)
            })
            .collect();
        (e, journal)
    };
    let replay = |journal: &[(Event, Decision)], max: u32, storm: u32| {
        let mut e = engine_with(vec![throttled(max, storm)], 1);
        price(&mut e, 0, "5", T0);
        let mut overridden = 0;
        for (i, (ev, d)) in journal.iter().enumerate() {
            let mut out = Vec::new();
            let (own, applied) = e
                .apply_journaled(ev, T0 + i as i64 * MS, d, &mut out)
                .expect("a decision");
            assert!(applied);
            overridden += usize::from(own != *d);
        }
        (e, overridden)
    };
    // Accepted under a generous throttle, replayed under 2 per second with a storm of 1: nothing trips.
    let (live_e, journal) = live(1_000, 0);
    assert!(journal.iter().all(|(_, d)| d.verdict == Verdict::Accept));
    let (e, overridden) = replay(&journal, 2, 1);
    assert_eq!(
        overridden, 0,
        "while replaying, the throttle follows the journal"
    );
    assert!(!e.account_killed(AccountId(0)));
    assert_eq!(e.open_order_count(), 12);
    assert_eq!(e.open_order_count(), live_e.open_order_count());

    // Breaches and a storm under 2 per second, replayed under a generous throttle: the same storm trips.
    let (live_e, journal) = live(2, 3);
    assert!(
        live_e.account_killed(AccountId(0)),
        "three breaches trip the storm"
    );
    let (e, _) = replay(&journal, 1_000, 3);
    assert!(e.account_killed(AccountId(0)));
    assert_eq!(e.open_order_count(), live_e.open_order_count());
    for (ev, d) in &journal {
        let Event::NewOrder(_) = ev else {
            unreachable!()
        };
        assert_eq!(
            e.order(d.order).unwrap().status,
            live_e.order(d.order).unwrap().status
        );
    }
}
