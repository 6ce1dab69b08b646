//! The full pre-trade chain with every rule on, at scale: 10,000 accounts x 1,000 instruments, 1,000,000
//! limit orders through `Engine::apply` (chain + book-keeping), with a naive floor measured in the same run
//! (one quantity check and a push into a pre-sized table, the least any gateway does per order). Hours use
//! the NYSE calendar in its regular session; margin accounts have PDT protection; one account in ten is a
//! Topstep 50K prop account (lot cap, floors). Per-order latency is timed on its own (the ~20 ns timer is
//! included); the mean is also given from the batch total, without the timer. The chain runs twice on fresh
//! engines with the same orders: one order at a time, and with the sequencer's lookahead (`Engine::prefetch`
//! for orders i+2 and i+1 before applying order i, inside the timing), as the sequencer does while requests are
//! queued behind the one it applies.
//! Usage: `cargo run --release -p bulwark-bench --bin risk_chain [orders]`.
#![forbid(unsafe_code)]

use bulwark_bench::{arg_or, histogram, machine, row, HEADER};
use bulwark_gateway::risk_setup;
use bulwark_model::*;
use bulwark_risk::prop::PropAccount;
use bulwark_risk::*;
use std::time::Instant;

const SEC: i64 = 1_000_000_000;
/// 2026-11-20 15:00 UTC: 10:00 New York, a regular session.
const T0: i64 = 1_795_186_800 * SEC;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn engine(orders: usize, accounts_n: u32, instruments_n: u32, throttle_max: u32) -> Engine {
    let calendars = risk_setup::calendars(None).expect("shipped calendars");
    let xnys = calendars
        .iter()
        .position(|c| c.name() == "XNYS")
        .expect("XNYS");
    let topstep = risk_setup::firm_templates(None)
        .expect("shipped templates")
        .into_iter()
        .find(|t| t.name == "topstep-50k")
        .expect("topstep-50k");
    let limits = Limits {
        max_order_qty: Some(Qty::from_units(5_000)),
        max_notional: Some(Notional::from_raw(500_000 * FIXED_SCALE as i128)),
        max_position: Some(Qty::from_units(20_000)),
        credit_limit: Some(Notional::from_raw(5_000_000 * FIXED_SCALE as i128)),
        price_floor: Some(Px::from_units(1)),
        throttle_max,
        // Prices are posted once at the start of the run; 60 s keeps the stale check on without firing.
        reference_max_age_ns: 60 * SEC,
        ..Limits::default()
    };
    let accounts = (0..accounts_n)
        .map(|a| {
            let prop =
                (a % 10 == 9).then(|| PropAccount::new(&topstep).expect("template compiles"));
            AccountRisk {
                limits: limits.clone(),
                margin: a % 3 != 0,
                initial_balance: Notional::from_raw(1_000_000 * FIXED_SCALE as i128),
                group: Some(a % 16),
                day_boundary: 0,
                max_position_lots: prop
                    .as_ref()
                    .and(topstep.max_position_lots.map(|l| l * 200)),
                prop,
                pdt: PdtSettings {
                    enabled: a % 3 != 0,
                    broker_switch_day: None,
                    calendar: Some(xnys),
                },
                trading_window: None,
                cl_ord_scope: None,
            }
        })
        .collect();
    Engine::with_config(EngineConfig {
        accounts,
        symbols: (0..instruments_n)
            .map(|_| SymbolRisk {
                calendar: Some(xnys),
                ..SymbolRisk::default()
            })
            .collect(),
        calendars,
        groups: 16,
        open_orders_max: orders * 2,
        orders_reserved: orders + 16,
    })
}

fn orders(n: usize, seed: u64, accounts_n: u32, instruments_n: u32) -> Vec<Event> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let r = rng.next();
            let instrument = (r >> 20) as u32 % instruments_n;
            let px = 100 * FIXED_SCALE / 100 * (50 + i64::from(instrument % 150))
                + ((r >> 40) % 200) as i64 * (FIXED_SCALE / 100);
            Event::NewOrder(NewOrder {
                account: AccountId(r as u32 % accounts_n),
                symbol: SymbolId(instrument),
                side: if r & (1 << 50) == 0 {
                    Side::Buy
                } else {
                    Side::Sell
                },
                ord_type: OrdType::Limit,
                tif: Tif::Day,
                qty: Qty::from_units(1 + ((r >> 52) % 100) as i64),
                limit_px: Some(Px::from_raw(px)),
                cl_ord_id: ClOrdId::try_new(&format!("o{i}")).expect("valid id"),
                ingress: Ingress::Binary,
                ext_hours: false,
            })
        })
        .collect()
}

/// The sequencer's lookahead before applying order `i`: both prefetch steps, for the orders 2 and 1 behind it.
fn prefetch_ahead(e: &Engine, events: &[Event], i: usize) {
    for distance in [2, 1] {
        if let Some(next) = events.get(i + distance) {
            e.prefetch(next, distance);
        }
    }
}

fn main() {
    let n = arg_or(1, 1_000_000) as usize;
    let (accounts_n, instruments_n) = (arg_or(2, 10_000) as u32, arg_or(3, 1_000) as u32);
    let throttle_max = arg_or(4, 50) as u32;
    println!("machine: {}", machine());
    println!("{accounts_n} accounts x {instruments_n} instruments, {n} limit orders, every rule on (throttle {throttle_max}/s)");
    let events = orders(n, 0x5EED, accounts_n, instruments_n);
    // A fresh engine with every reference price posted.
    let priced_engine = || {
        let mut e = engine(n, accounts_n, instruments_n, throttle_max);
        let mut out = Vec::new();
        for s in 0..instruments_n {
            let px =
                Px::from_raw(100 * FIXED_SCALE / 100 * (50 + i64::from(s % 150)) + FIXED_SCALE);
            e.apply(
                &Event::Price(PriceUpdate {
                    symbol: SymbolId(s),
                    px,
                }),
                T0,
                &mut out,
            );
        }
        e
    };
    let mut out = Vec::with_capacity(64);

    // Floor: a quantity check and a push into a pre-sized table.
    let mut floor_table: Vec<(u64, i64)> = Vec::with_capacity(n);
    let max_qty = Qty::from_units(5_000);
    let mut h_floor = histogram();
    let t = Instant::now();
    for (i, ev) in events.iter().enumerate() {
        let t0 = Instant::now();
        if let Event::NewOrder(o) = ev {
            let ok = o.qty <= max_qty && o.qty.is_positive();
            floor_table.push((i as u64, if ok { o.qty.raw() } else { 0 }));
        }
        std::hint::black_box(&floor_table);
        h_floor
            .record((t0.elapsed().as_nanos() as u64).max(1))
            .expect("in range");
    }
    let floor_mean_batch = t.elapsed().as_nanos() as f64 / n as f64;
    drop(floor_table);

    // The chain, one order at a time; then the same orders on a fresh engine with the sequencer's lookahead:
    // before applying order i it asks for the memory of orders i+2 and i+1 (`Engine::prefetch`), which is what
    // the sequencer does while requests are queued behind the one it applies. The prefetch is inside the timing.
    let mut accepted = 0usize;
    let mut reasons: std::collections::BTreeMap<&'static str, usize> = Default::default();
    let mut timed = |lookahead: bool| {
        let mut e = priced_engine();
        let mut h = histogram();
        let t = Instant::now();
        for (i, ev) in events.iter().enumerate() {
            out.clear();
            let ts = T0 + i as i64 * 10_000;
            let t0 = Instant::now();
            if lookahead {
                prefetch_ahead(&e, &events, i);
            }
            let d = e.apply(ev, ts, &mut out).expect("a decision");
            h.record((t0.elapsed().as_nanos() as u64).max(1))
                .expect("in range");
            if !lookahead {
                match d.verdict {
                    Verdict::Accept => accepted += 1,
                    Verdict::Reject(r) => *reasons.entry(r.reason.code()).or_default() += 1,
                }
            }
        }
        (h, t.elapsed().as_nanos() as f64 / n as f64)
    };
    let (h_chain, chain_mean_batch) = timed(false);
    let (h_ahead, ahead_mean_batch) = timed(true);
    // Batch means without the per-order timer, on fresh engines and fresh ids.
    let events2 = orders(n, 0xBEEF, accounts_n, instruments_n);
    let mut untimed = |lookahead: bool| {
        let mut e2 = priced_engine();
        let t = Instant::now();
        for (i, ev) in events2.iter().enumerate() {
            out.clear();
            if lookahead {
                prefetch_ahead(&e2, &events2, i);
            }
            std::hint::black_box(e2.apply(ev, T0 + i as i64 * 10_000, &mut out));
        }
        t.elapsed().as_nanos() as f64 / n as f64
    };
    let untimed_mean = untimed(false);
    let untimed_ahead = untimed(true);

    println!("accepted {accepted}, rejected by reason {reasons:?}");
    println!("{HEADER}");
    println!("{}", row("floor: qty check + table push", &h_floor));
    println!("{}", row("Engine::apply(NewOrder), full chain", &h_chain));
    println!(
        "{}",
        row(
            "Engine::apply(NewOrder), full chain, with lookahead prefetch",
            &h_ahead
        )
    );
    println!(
        "batch means: floor {floor_mean_batch:.0} ns (timed loop), chain {chain_mean_batch:.0} ns (timed loop), chain {untimed_mean:.0} ns (untimed loop)"
    );
    println!(
        "batch means with lookahead prefetch: chain {ahead_mean_batch:.0} ns (timed loop), chain {untimed_ahead:.0} ns (untimed loop)"
    );
}
