//! Spec §4.5 pre-trade vectors PT-1 to PT-9, each a test named after its id, run through `Engine::apply`.
mod common;
use bulwark_model::*;
use bulwark_risk::*;
use common::*;

#[test]
fn pt_1() {
    let mut e = engine_with(
        vec![account(Limits {
            max_order_qty: Some(qty(10_000)),
            ..Limits::default()
        })],
        1,
    );
    price(&mut e, 0, "190", T0);
    let d = decide(&mut e, &order(Side::Buy, 10_001, Some("190")).event(), T0);
    assert_eq!(reason(&d), Some(RejectReason::MaxOrderQty));
    let Verdict::Reject(r) = d.verdict else {
        unreachable!()
    };
    assert_eq!(r.fix_text(), "RISK:PT-QTY:qty=10001>max=10000");
    assert_eq!(r.reason.fix44_ord_rej_reason(), 3);
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 10_000, Some("190")).event(),
            T0
        )),
        None
    );
}

#[test]
fn pt_2() {
    let mut e = engine_with(
        vec![account(Limits {
            max_notional: Some(usd("1000000")),
            ..Limits::default()
        })],
        1,
    );
    price(&mut e, 0, "200", T0);
    let d = decide(&mut e, &order(Side::Buy, 5_000, Some("200.01")).event(), T0);
    assert_eq!(reason(&d), Some(RejectReason::MaxNotional));
    let Verdict::Reject(r) = d.verdict else {
        unreachable!()
    };
    assert_eq!(r.detail(), "value=1000050>max=1000000");
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 4_999, Some("200.01")).event(),
            T0
        )),
        None,
        "999,849.99"
    );
}

#[test]
fn pt_2_market_orders_are_valued_with_the_buffer() {
    let mut e = engine_with(
        vec![account(Limits {
            max_notional: Some(usd("1000000")),
            ..Limits::default()
        })],
        1,
    );
    price(&mut e, 0, "200", T0);
    // 4,900 x 200 x 1.03 = 1,009,400 > 1,000,000 for a buy; a sell is valued at the reference: 980,000.
    assert_eq!(
        reason(&decide(&mut e, &order(Side::Buy, 4_900, None).event(), T0)),
        Some(RejectReason::MaxNotional)
    );
    assert_eq!(
        reason(&decide(&mut e, &order(Side::Sell, 4_900, None).event(), T0)),
        None
    );
}

#[test]
fn pt_3() {
    let mut e = engine_with(vec![account(Limits::default())], 1);
    price(&mut e, 0, "100.00", T0);
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 1, Some("105.01")).event(),
            T0
        )),
        Some(RejectReason::PriceCollar)
    );
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 1, Some("105.00")).event(),
            T0
        )),
        None,
        "boundary inclusive"
    );
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Sell, 1, Some("94.99")).event(),
            T0
        )),
        Some(RejectReason::PriceCollar)
    );
}

#[test]
fn pt_3_stale_or_missing_reference() {
    let mut e = engine_with(vec![account(Limits::default())], 1);
    assert_eq!(
        reason(&decide(&mut e, &order(Side::Buy, 1, None).event(), T0)),
        Some(RejectReason::NoReferencePrice)
    );
    price(&mut e, 0, "100", T0);
    let d = decide(
        &mut e,
        &order(Side::Buy, 1, Some("100")).event(),
        T0 + 6 * SEC,
    );
    assert_eq!(
        reason(&d),
        Some(RejectReason::PriceCollar),
        "a reference older than 5 s is stale"
    );
    let Verdict::Reject(r) = d.verdict else {
        unreachable!()
    };
    assert_eq!(r.detail(), "age_ms=6000>max=5000");
}

#[test]
fn pt_4() {
    let mut e = engine_with(
        vec![account(Limits {
            max_position: Some(qty(1_000)),
            ..Limits::default()
        })],
        1,
    );
    price(&mut e, 0, "50", T0);
    let d = decide(&mut e, &order(Side::Buy, 800, Some("50")).event(), T0);
    fill(&mut e, d.order, 800, "50", T0);
    let w = decide(
        &mut e,
        &order(Side::Buy, 150, Some("49")).event(),
        T0 + 2 * SEC,
    );
    assert_eq!(reason(&w), None);
    let d = decide(
        &mut e,
        &order(Side::Buy, 100, Some("48")).event(),
        T0 + 3 * SEC,
    );
    assert_eq!(
        reason(&d),
        Some(RejectReason::MaxPosition),
        "worst case 800 + 150 + 100 = 1,050"
    );
    let Verdict::Reject(r) = d.verdict else {
        unreachable!()
    };
    assert_eq!(r.detail(), "qty=1050>max=1000");
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Sell, 500, Some("51")).event(),
            T0 + 4 * SEC
        )),
        None
    );
}

/// The identical-order window is a ring of the account's last accepted orders (32 without a throttle), checked
/// through a fingerprint per slot: after the ring wraps, every order it holds is still found in whichever slot
/// it landed, one it dropped is not, and a different price is a different order.
#[test]
fn the_duplicate_window_finds_orders_in_every_slot_after_it_wraps() {
    let limits = Limits {
        throttle_max: 0,
        dup_window_ns: 3_600_000 * MS,
        ..Limits::default()
    };
    let mut e = engine_with(vec![account(limits)], 1);
    price(&mut e, 0, "190", T0);
    let buy = |q: i64, px: &'static str| order(Side::Buy, q, Some(px)).event();
    // 40 distinct orders (quantities 1 to 40): the ring of 32 wraps and drops quantities 1 to 8.
    for q in 1..=40 {
        assert_eq!(
            reason(&decide(&mut e, &buy(q, "190"), T0 + q * MS)),
            None,
            "qty {q}"
        );
    }
    let later = T0 + 100 * MS;
    for q in 9..=40 {
        assert_eq!(
            reason(&decide(&mut e, &buy(q, "190"), later)),
            Some(RejectReason::Duplicate),
            "qty {q} is in the window"
        );
    }
    assert_eq!(
        reason(&decide(&mut e, &buy(1, "190"), later)),
        None,
        "qty 1 left the ring"
    );
    assert_eq!(
        reason(&decide(&mut e, &buy(40, "189"), later)),
        None,
        "another price"
    );
}

#[test]
fn pt_5() {
    let mut e = engine_with(vec![account(Limits::default())], 1);
    price(&mut e, 0, "190", T0);
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 100, Some("190")).event(),
            T0
        )),
        None
    );
    let d = decide(
        &mut e,
        &order(Side::Buy, 100, Some("190")).event(),
        T0 + 800 * MS,
    );
    assert_eq!(reason(&d), Some(RejectReason::Duplicate));
    assert_eq!(RejectReason::Duplicate.fix44_ord_rej_reason(), 6);
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 100, Some("190")).event(),
            T0 + 1_200 * MS
        )),
        None
    );
}

#[test]
fn pt_6() {
    let limits = Limits {
        dup_window_ns: 0,
        wash: false,
        ..Limits::default()
    };
    let mut e = engine_with(vec![account(limits)], 1);
    price(&mut e, 0, "10", T0);
    let mut t = T0;
    let send =
        |e: &mut Engine, t: i64| reason(&decide(e, &order(Side::Buy, 1, Some("10")).event(), t));
    for _ in 0..50 {
        assert_eq!(send(&mut e, t), None);
        t += MS;
    }
    assert_eq!(
        send(&mut e, t),
        Some(RejectReason::Throttle),
        "the 51st in one second"
    );
    assert!(!e.account_killed(AccountId(0)));
    assert_eq!(send(&mut e, t + MS), Some(RejectReason::Throttle));
    assert_eq!(
        send(&mut e, t + 2 * MS),
        Some(RejectReason::Throttle),
        "third breach within 60 s"
    );
    assert!(e.account_killed(AccountId(0)), "the kill switch tripped");
    assert_eq!(
        e.working_orders()
            .filter(|o| o.status != OrderStatus::PendingCancel)
            .count(),
        0,
        "working orders canceled"
    );
    assert_eq!(
        send(&mut e, t + 5 * SEC),
        Some(RejectReason::KillSwitchActive)
    );
}

#[test]
fn pt_7() {
    let mut e = engine_with(vec![account(Limits::default())], 1);
    price(&mut e, 0, "10", T0);
    let d = decide(&mut e, &order(Side::Buy, 5, Some("9.90")).event(), T0);
    apply(
        &mut e,
        &Event::Venue(VenueReport::Ack { order: d.order }),
        T0,
    );
    let trip = Control {
        kind: ControlKind::Trip,
        scope: KillScope::Account(AccountId(0)),
        level: LEVEL_RISK_OFFICER,
    };
    assert_eq!(
        decide(&mut e, &Event::Control(trip), T0).verdict,
        Verdict::Accept
    );
    // The trip itself requested the cancel; a client cancel of the same order still passes.
    let cancel = Event::CancelOrder(CancelOrder::by_id(AccountId(0), d.order, Ingress::Rest));
    assert_eq!(
        decide(&mut e, &cancel, T0 + MS).verdict,
        Verdict::Accept,
        "cancels always pass"
    );
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 1, Some("9.90")).event(),
            T0 + MS
        )),
        Some(RejectReason::KillSwitchActive)
    );
}

#[test]
fn pt_8() {
    let mut a = account(Limits::default());
    a.group = Some(1);
    let mut e = engine_with(vec![a, account(Limits::default())], 1);
    price(&mut e, 0, "10", T0);
    let d = decide(&mut e, &order(Side::Buy, 5, Some("9.90")).event(), T0);
    apply(
        &mut e,
        &Event::Venue(VenueReport::Ack { order: d.order }),
        T0,
    );
    let trip = Control {
        kind: ControlKind::Trip,
        scope: KillScope::Group(1),
        level: LEVEL_RISK_OFFICER,
    };
    let out = {
        let mut out = Vec::new();
        e.apply(&Event::Control(trip), T0, &mut out);
        out
    };
    assert_eq!(
        out,
        vec![Output::Cancel { order: d.order }],
        "working orders in scope are canceled"
    );
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 1, Some("9.80")).event(),
            T0 + MS
        )),
        Some(RejectReason::KillSwitchActive)
    );
    let mut other = order(Side::Buy, 1, Some("9.80"));
    other.account = 1;
    assert_eq!(
        reason(&decide(&mut e, &other.event(), T0 + MS)),
        None,
        "an account outside the firm trades on"
    );
    let reset = |level| {
        Event::Control(Control {
            kind: ControlKind::Reset,
            scope: KillScope::Group(1),
            level,
        })
    };
    assert_eq!(
        reason(&decide(&mut e, &reset(LEVEL_TRADER), T0 + 2 * MS)),
        Some(RejectReason::ResetDenied)
    );
    assert_eq!(
        decide(&mut e, &reset(LEVEL_RISK_OFFICER), T0 + 3 * MS).verdict,
        Verdict::Accept
    );
    apply(
        &mut e,
        &Event::Venue(VenueReport::Canceled {
            order: d.order,
            cause: CancelCause::Requested,
        }),
        T0 + 3 * MS,
    );
    assert_eq!(
        e.order(d.order).unwrap().status,
        OrderStatus::Canceled,
        "a reset does not restore canceled orders"
    );
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 1, Some("9.70")).event(),
            T0 + 4 * MS
        )),
        None
    );
}

#[test]
fn pt_9() {
    let mut e = engine_with(
        vec![account(Limits {
            dup_window_ns: 0,
            ..Limits::default()
        })],
        1,
    );
    price(&mut e, 0, "10", T0);
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 100, Some("10.00")).event(),
            T0
        )),
        None
    );
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Sell, 100, Some("10.00")).event(),
            T0
        )),
        Some(RejectReason::Wash)
    );
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Sell, 100, Some("10.01")).event(),
            T0
        )),
        None
    );
    assert_eq!(
        reason(&decide(&mut e, &order(Side::Sell, 100, None).event(), T0)),
        Some(RejectReason::Wash)
    );
}

fn xnys() -> bulwark_risk::calendar::Calendar {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/calendars/XNYS.toml"
    ))
    .unwrap();
    bulwark_risk::calendar::Calendar::new(&toml::from_str(&text).unwrap()).unwrap()
}

/// IMR-1 and IMR-2 through the chain: a margin account at a broker already in the intraday-margin regime,
/// equity 10,000, rate 25%: working buys of 40,000 are fine, 40,004 is one dollar of deficit too many.
#[test]
fn imr_in_the_chain() {
    let a = AccountRisk {
        limits: Limits {
            dup_window_ns: 0,
            enforce_hours: false,
            ..Limits::default()
        },
        margin: true,
        initial_balance: usd("10000"),
        pdt: PdtSettings {
            enabled: true,
            broker_switch_day: Some(20_608),
            calendar: Some(0),
        },
        ..AccountRisk::default()
    };
    let mut e = Engine::with_config(EngineConfig {
        accounts: vec![a],
        symbols: vec![SymbolRisk::default(); 2],
        calendars: vec![xnys()],
        groups: 0,
        open_orders_max: 100,
        orders_reserved: 16,
    });
    price(&mut e, 0, "100", T0);
    price(&mut e, 1, "4", T0);
    assert_eq!(
        reason(&decide(
            &mut e,
            &order(Side::Buy, 400, Some("100")).event(),
            T0
        )),
        None,
        "IMR-1: requirement 10,000 = equity"
    );
    let mut more = order(Side::Buy, 1, Some("4"));
    more.symbol = 1;
    let d = decide(&mut e, &more.event(), T0);
    assert_eq!(
        reason(&d),
        Some(RejectReason::IntradayMarginDeficit),
        "IMR-2"
    );
    let Verdict::Reject(r) = d.verdict else {
        unreachable!()
    };
    assert_eq!(r.detail(), "required=10001>equity=10000");
}
