//! Property: replaying the journal into a fresh engine yields exactly the live engine's state, for random
//! streams of orders, cancels, prices, halts and day rolls, with the paper venue filling (partially, seeded)
//! on its own thread, across two boots. Replay also re-checks every journaled decision.
use bulwark_adapters::paper::{PaperConfig, PaperVenue};
use bulwark_gateway::catalog::{Catalog, SymbolSpec};
use bulwark_gateway::journal::{Durability, JournalOptions};
use bulwark_gateway::sequencer::{self, Inbound, Sequencer, SequencerOptions, SharedStatus};
use bulwark_model::*;
use bulwark_risk::{Engine, EngineLimits};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
enum Input {
    Order {
        account: u32,
        symbol: u32,
        buy: bool,
        qty: i64,
        px: Option<i64>,
        tif: u8,
        cl: u8,
    },
    Cancel {
        account: u32,
        order: u64,
    },
    Price {
        symbol: u32,
        px: i64,
    },
    Halt(bool),
    DayRoll(u32),
    Pause,
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => (0u32..4, 0u32..2, any::<bool>(), -1i64..30, prop::option::of(90i64..110), 1u8..5, any::<u8>()).prop_map(
            |(account, symbol, buy, qty, px, tif, cl)| Input::Order { account, symbol, buy, qty, px, tif, cl }
        ),
        2 => (0u32..3, 0u64..40).prop_map(|(account, order)| Input::Cancel { account, order }),
        3 => (0u32..2, 90i64..110).prop_map(|(symbol, px)| Input::Price { symbol, px }),
        1 => any::<bool>().prop_map(Input::Halt),
        1 => (1u32..5).prop_map(Input::DayRoll),
        1 => Just(Input::Pause),
    ]
}

fn catalog() -> Catalog {
    Catalog::new(
        vec!["A".into(), "B".into(), "C".into()],
        ["X", "Y"]
            .iter()
            .map(|n| SymbolSpec {
                name: n.to_string(),
                qty_decimals: 0,
                px_decimals: 2,
                calendar: "ALWAYS".into(),
            })
            .collect(),
    )
}

fn limits() -> EngineLimits {
    EngineLimits {
        accounts: 3,
        symbols: 2,
        open_orders_max: 1000,
        orders_reserved: 64,
    }
}

fn to_event(i: &Input) -> Option<Event> {
    Some(match *i {
        Input::Order {
            account,
            symbol,
            buy,
            qty,
            px,
            tif,
            cl,
        } => Event::NewOrder(NewOrder {
            account: AccountId(account),
            symbol: SymbolId(symbol),
            side: if buy { Side::Buy } else { Side::Sell },
            ord_type: if px.is_some() {
                OrdType::Limit
            } else {
                OrdType::Market
            },
            tif: Tif::from_u8(tif).unwrap(),
            qty: Qty::from_units(qty),
            limit_px: px.map(Px::from_units),
            cl_ord_id: ClOrdId::try_new(&format!("c{}", cl % 16)).unwrap(),
            ingress: Ingress::Rest,
            ext_hours: false,
        }),
        Input::Cancel { account, order } => Event::CancelOrder(CancelOrder::by_id(
            AccountId(account),
            OrderId(order),
            Ingress::Rest,
        )),
        Input::Price { symbol, px } => Event::Price(PriceUpdate {
            symbol: SymbolId(symbol),
            px: Px::from_units(px),
        }),
        Input::Halt(h) => Event::Control(if h {
            Control::halt_all(LEVEL_ADMIN)
        } else {
            Control::resume_all(LEVEL_ADMIN)
        }),
        Input::DayRoll(d) => Event::Timer(Timer::DayRoll {
            day: d,
            boundary: 0,
        }),
        Input::Pause => return None,
    })
}

/// Runs one boot: recover, restore the venue, apply `inputs` live, stop. Returns the live engine.
fn boot(opts: &JournalOptions, inputs: &[Input], seed: u64) -> Engine {
    let cat = catalog();
    let (journal, engine, _) =
        sequencer::recover(opts.clone(), &cat, Engine::new(limits())).expect("recovers");
    let paper = PaperConfig {
        seed,
        partial_fill_probability: 0.3,
        ..PaperConfig::default()
    };
    let (in_tx, stop) = start_live(journal, engine, &cat, paper);
    for (ts, i) in inputs.iter().enumerate() {
        match to_event(i) {
            Some(event) => in_tx
                .send(Inbound::Request {
                    ts_ns: ts as i64 + 10,
                    event,
                    reply: None,
                })
                .unwrap(),
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    std::thread::sleep(Duration::from_millis(5));
    in_tx.send(Inbound::Shutdown).unwrap();
    stop()
}

/// A live boot: the sequencer on its thread over `journal` and `engine` (as recovered), the paper venue
/// (`paper`) on another, the venue restored from the engine. Returns the inbound ring and a join that stops
/// both (send `Inbound::Shutdown` first) and gives back the live engine.
fn start_live(
    journal: bulwark_gateway::journal::Journal,
    engine: Engine,
    cat: &Catalog,
    paper: PaperConfig,
) -> (bulwark_ring::RingTx<Inbound>, impl FnOnce() -> Engine) {
    let rings = sequencer::rings(4096, 4096);
    let (in_tx, in_rx) = rings.inbound;
    let (v_tx, v_rx) = rings.venue;
    let (r_tx, r_rx) = rings.reports;
    let paper = PaperVenue::new(paper);
    let venue = std::thread::spawn(move || bulwark_adapters::run_venue(paper, v_rx, r_tx, || 1));
    let restore = sequencer::restore_commands(&engine, cat);
    let mut seq = Sequencer::new(
        journal,
        engine,
        in_rx,
        r_rx,
        v_tx,
        SequencerOptions {
            idle_spin: Duration::from_micros(10),
            venue_ring_capacity: 4096,
        },
        Arc::new(SharedStatus::default()),
        restore,
    );
    seq.boot(cat, 0).unwrap();
    let run = std::thread::spawn(move || seq.run());
    (in_tx, move || {
        let live = run.join().unwrap();
        venue.join().unwrap();
        live
    })
}

fn replayed(opts: &JournalOptions) -> Engine {
    sequencer::recover(opts.clone(), &catalog(), Engine::new(limits()))
        .expect("replays")
        .1
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn replaying_the_journal_equals_the_live_state(
        first in prop::collection::vec(input(), 1..120),
        second in prop::collection::vec(input(), 0..80),
        seed in any::<u64>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let opts = JournalOptions {
            dir: dir.path().join("journal"),
            segment_bytes: 64 << 10,
            durability: Durability::None,
        };
        let live = boot(&opts, &first, seed);
        prop_assert_eq!(&replayed(&opts), &live);
        let live = boot(&opts, &second, seed ^ 1);
        prop_assert_eq!(&replayed(&opts), &live);
    }
}

/// Replay reproduces every decision of a configured engine (calendars, limits, prop floors, PDT) across day
/// boundaries and the 2026-03-08 US DST change: the journal is replayed into a fresh engine and each
/// journaled decision is re-checked by `recover`; the replayed state equals the live one.
#[test]
fn replay_reproduces_decisions_across_day_boundaries_and_dst() {
    use bulwark_gateway::config;
    use bulwark_gateway::risk_setup;
    let text = r#"
[limits.default]
max_order_qty = 100
reference_max_age_ms = 0
throttle_orders_max = 3
[[accounts]]
name = "A"
pdt = true
initial_balance_usd = 20000
[[accounts]]
name = "P"
prop_firm = "ftmo-2step-100k"
[[symbols]]
name = "AAPL"
calendar = "XNYS"
"#;
    let cfg = config::load_str("dst.toml", text).expect("config");
    let cat = Catalog::from_config(&cfg);
    let (engine_cfg, _) = risk_setup::engine_config(&cfg, &cat).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = JournalOptions {
        dir: dir.path().join("journal"),
        segment_bytes: 64 << 10,
        durability: Durability::None,
    };
    let (journal, engine, _) =
        sequencer::recover(opts.clone(), &cat, Engine::with_config(engine_cfg.clone())).unwrap();
    let (in_tx, stop) = start_live(journal, engine, &cat, PaperConfig::default());
    const H: i64 = 3_600_000_000_000;
    // 2026-03-05 00:00 UTC, then every 30 minutes for 6 days: across the weekend and the Sunday 2026-03-08
    // switch to EDT, so the NYSE open moves from 14:30 to 13:30 UTC.
    let start = 1_772_668_800_000_000_000i64;
    let mut n = 0;
    for step in 0..(6 * 48) {
        let ts = start + step * H / 2;
        if step % 48 == 0 {
            let day = (ts / (24 * H)) as u32;
            for boundary in 0..2u16 {
                in_tx
                    .send(Inbound::Request {
                        ts_ns: ts,
                        event: Event::Timer(Timer::DayRoll { day, boundary }),
                        reply: None,
                    })
                    .unwrap();
            }
        }
        in_tx
            .send(Inbound::Request {
                ts_ns: ts,
                event: Event::Price(PriceUpdate {
                    symbol: SymbolId(0),
                    px: Px::from_units(100 + (step % 7)),
                }),
                reply: None,
            })
            .unwrap();
        for account in 0..2u32 {
            n += 1;
            let event = Event::NewOrder(NewOrder {
                account: AccountId(account),
                symbol: SymbolId(0),
                side: if n % 2 == 0 { Side::Buy } else { Side::Sell },
                ord_type: if n % 3 == 0 {
                    OrdType::Market
                } else {
                    OrdType::Limit
                },
                tif: Tif::Day,
                qty: Qty::from_units(1 + n % 150),
                limit_px: if n % 3 == 0 {
                    None
                } else {
                    Some(Px::from_units(100 + (n % 5) - 2))
                },
                cl_ord_id: ClOrdId::try_new(&format!("o{n}")).unwrap(),
                ingress: Ingress::Rest,
                ext_hours: n % 4 == 0,
            });
            in_tx
                .send(Inbound::Request {
                    ts_ns: ts + 1,
                    event,
                    reply: None,
                })
                .unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    in_tx.send(Inbound::Shutdown).unwrap();
    let live = stop();
    let decided: Vec<_> = live
        .orders()
        .filter(|o| o.reject.map(|r| r.reason) == Some(RejectReason::MarketClosed))
        .collect();
    assert!(!decided.is_empty(), "some orders fell outside market hours");
    assert!(live.orders().any(|o| o.reject.is_none()), "and some inside");
    let (_, replayed, _) = sequencer::recover(opts, &cat, Engine::with_config(engine_cfg))
        .expect("replay re-checks every decision");
    assert_eq!(replayed, live);
}

/// The engine's own orders replay from the journal. An account on a prop-firm template breaches (a HARD daily
/// loss: locked, flattened with a market order the engine makes); then the template changes between restarts.
/// Under a looser template that would not breach, the journaled flattening order is kept (with its id, so every
/// later decision still lines up); under a stricter one that would breach where the journal has none, the order
/// is not made but the lock follows the new template. A strict replay names the first difference, and an
/// unchanged configuration replays to exactly the live state.
#[test]
fn a_changed_prop_template_replays_the_journals_engine_orders_instead_of_diverging() {
    use bulwark_gateway::config;
    use bulwark_gateway::risk_setup;
    let engine_for = |template: &str| {
        let text = format!(
            r#"
[limits.default]
reference_max_age_ms = 0
[[accounts]]
name = "P"
prop_firm = "{template}"
[[accounts]]
name = "A"
initial_balance_usd = 1000000
[[symbols]]
name = "AAPL"
calendar = "ALWAYS"
"#
        );
        let cfg = config::load_str("prop.toml", &text).expect("config");
        let cat = Catalog::from_config(&cfg);
        let (engine_cfg, _) = risk_setup::engine_config(&cfg, &cat).unwrap();
        (cat, Engine::with_config(engine_cfg))
    };
    let order = |account: u32, side: Side, qty: i64, cl: &str| {
        Event::NewOrder(NewOrder {
            account: AccountId(account),
            symbol: SymbolId(0),
            side,
            ord_type: OrdType::Market,
            tif: Tif::Day,
            qty: Qty::from_units(qty),
            limit_px: None,
            cl_ord_id: ClOrdId::try_new(cl).unwrap(),
            ingress: Ingress::Rest,
            ext_hours: false,
        })
    };
    let price = |px: i64| {
        Event::Price(PriceUpdate {
            symbol: SymbolId(0),
            px: Px::from_units(px),
        })
    };
    // P buys 100 at 100; A buys 5; the price falls to 40 (P down 6,000); A buys 6.
    let inputs = [
        price(100),
        order(0, Side::Buy, 100, "p1"),
        order(1, Side::Buy, 5, "a1"),
        price(40),
        order(1, Side::Buy, 6, "a2"),
    ];
    let run_live = |template: &str, opts: &JournalOptions| {
        let (cat, engine) = engine_for(template);
        let (journal, engine, _) = sequencer::recover(opts.clone(), &cat, engine).unwrap();
        let (in_tx, stop) = start_live(journal, engine, &cat, PaperConfig::default());
        for (i, event) in inputs.iter().enumerate() {
            in_tx
                .send(Inbound::Request {
                    ts_ns: 1_000 + i as i64,
                    event: event.clone(),
                    reply: None,
                })
                .unwrap();
            // Each order's fill comes back before the next input.
            std::thread::sleep(Duration::from_millis(20));
        }
        in_tx.send(Inbound::Shutdown).unwrap();
        stop()
    };
    let replay = |template: &str, opts: &JournalOptions, policy: sequencer::Replay| {
        let (cat, engine) = engine_for(template);
        sequencer::recover_with_signals(opts.clone(), &cat, engine, policy)
    };
    let opts_in = |dir: &tempfile::TempDir| JournalOptions {
        dir: dir.path().join("journal"),
        segment_bytes: 64 << 10,
        durability: Durability::None,
    };
    let (p, a, aapl) = (AccountId(0), AccountId(1), SymbolId(0));

    // Live on the $100k template: the daily loss of 5% is breached.
    let dir = tempfile::tempdir().unwrap();
    let opts = opts_in(&dir);
    let live = run_live("ftmo-2step-100k", &opts);
    let flat = live
        .orders()
        .find(|o| o.ingress == Ingress::Risk)
        .copied()
        .expect("the breach flattened P");
    assert_eq!(
        (flat.id, flat.account, flat.side),
        (OrderId(3), p, Side::Sell)
    );
    assert_eq!(flat.status, OrderStatus::Filled);
    assert_eq!(live.position(p, aapl).qty, Qty::ZERO);
    assert_eq!(live.position(a, aapl).qty, Qty::from_units(11));
    assert!(live.account_lock(p).is_some());

    // The same template: exactly the live state, under either policy, nothing reported.
    let same = replay("ftmo-2step-100k", &opts, sequencer::Replay::Strict).unwrap();
    assert_eq!(same.engine, live);
    let same = replay("ftmo-2step-100k", &opts, sequencer::Replay::KeepJournaled).unwrap();
    assert_eq!(same.engine, live);
    assert_eq!(
        (same.engine_orders_kept, same.engine_orders_not_made),
        (0, 0)
    );

    // A looser template ($200k: 5% is 10,000) would not breach: the journal's order stands, with its id.
    let err = replay("ftmo-2step-200k", &opts, sequencer::Replay::Strict)
        .err()
        .expect("a strict replay refuses")
        .to_string();
    assert!(
        err.contains("replay diverged") && err.contains("engine-made order 3"),
        "{err}"
    );
    let looser = replay("ftmo-2step-200k", &opts, sequencer::Replay::KeepJournaled)
        .expect("the start goes on");
    assert_eq!(
        (looser.engine_orders_kept, looser.engine_orders_not_made),
        (1, 0)
    );
    assert!(
        looser.engine_orders_first[0].starts_with("engine-made order 3 (P: sell 100 AAPL market)"),
        "{:?}",
        looser.engine_orders_first
    );
    let orders: Vec<Order> = looser.engine.orders().copied().collect();
    assert_eq!(orders, live.orders().copied().collect::<Vec<_>>());
    assert_eq!(looser.engine.position(p, aapl), live.position(p, aapl));
    assert_eq!(looser.engine.position(a, aapl), live.position(a, aapl));
    assert_eq!(
        looser.engine.account_lock(p),
        None,
        "the lock follows the new template"
    );

    // Live on the looser template (no breach), replayed on the stricter one: it would flatten P where the
    // journal did not; no order is made, ids still line up, and the lock follows the stricter template.
    let dir = tempfile::tempdir().unwrap();
    let opts = opts_in(&dir);
    let live = run_live("ftmo-2step-200k", &opts);
    assert!(live.orders().all(|o| o.ingress != Ingress::Risk));
    assert_eq!(live.position(p, aapl).qty, Qty::from_units(100));
    let stricter = replay("ftmo-2step-100k", &opts, sequencer::Replay::KeepJournaled)
        .expect("the start goes on");
    assert_eq!(
        (stricter.engine_orders_kept, stricter.engine_orders_not_made),
        (0, 1)
    );
    assert!(
        stricter.engine_orders_first[0].contains("(P: sell 100 AAPL market)"),
        "{:?}",
        stricter.engine_orders_first
    );
    let orders: Vec<Order> = stricter.engine.orders().copied().collect();
    assert_eq!(orders, live.orders().copied().collect::<Vec<_>>());
    assert_eq!(stricter.engine.position(p, aapl).qty, Qty::from_units(100));
    assert!(stricter.engine.account_lock(p).is_some());
    let err = replay("ftmo-2step-100k", &opts, sequencer::Replay::Strict)
        .err()
        .expect("a strict replay refuses")
        .to_string();
    assert!(err.contains("that the journal does not have"), "{err}");
}
