//! The kill switch under load: from the kill request entering the inbound ring to the last of 1,000 cancels
//! handed to the venue ring, through the real sequencer (audit and control records journaled, the engine
//! cancelling every working order in scope; under `sync` the cancels leave once journaled, before the batch's
//! fdatasync, and only the answer waits for it). Floor in the same run: the same rings and a thread that answers the request by pushing 1,000
//! cancel commands, with no journal and no engine. Before the rounds, 100,000 (account, symbol) books of 1,000
//! accounts trade once and see their order canceled, so the engine holds many books with nothing working (a
//! kill must not pay for them). Each round submits 1,000 fresh working orders across 10 accounts and 100
//! symbols, trips a global `cancel_all`, then resets.
//! Usage: `cargo run --release -p bulwark-bench --bin kill_switch [rounds]`.
#![forbid(unsafe_code)]

use bulwark_adapters::VenueCommand;
use bulwark_bench::{histogram, machine, row, SequencerRig, HEADER};
use bulwark_gateway::journal::Durability;
use bulwark_gateway::sequencer::Inbound;
use bulwark_model::*;
use bulwark_ring::{RingRx, RingTx};
use std::time::{Duration, Instant};

const WORKING: usize = 1_000;
const ACCOUNTS: u32 = 1_000;
const SYMBOLS: u32 = 100;
/// Books (account, symbol) that have traded but hold no working order when the switch trips.
const IDLE_BOOKS: usize = 100_000;
const RING: usize = 65_536;

fn trip(kind: ControlKind) -> Inbound {
    let (tx, _rx) = tokio::sync::oneshot::channel();
    Inbound::Control {
        ts_ns: 0,
        audit: Audit {
            actor: "bench".into(),
            role: LEVEL_ADMIN,
            reason: "kill switch bench".into(),
        },
        control: Control {
            kind,
            scope: KillScope::Global,
            level: LEVEL_ADMIN,
        },
        reply: tx,
    }
}

fn orders(round: usize) -> Vec<Inbound> {
    (0..WORKING)
        .map(|i| Inbound::Request {
            ts_ns: 0,
            event: Event::NewOrder(NewOrder {
                account: AccountId(i as u32 % 10),
                symbol: SymbolId((i as u32 / 10) % SYMBOLS),
                side: Side::Buy,
                ord_type: OrdType::Limit,
                tif: Tif::Gtc,
                qty: Qty::from_units(1),
                limit_px: Some(Px::from_units(10)),
                cl_ord_id: ClOrdId::try_new(&format!("k{round}-{i}")).expect("valid id"),
                ingress: Ingress::Binary,
                ext_hours: false,
            }),
            reply: None,
        })
        .collect()
}

struct Rig {
    tx: RingTx<Inbound>,
    rx: RingRx<VenueCommand>,
    /// The venue's report ring (gateway only): cancels are confirmed between rounds, as a venue would.
    reports: Option<RingTx<bulwark_adapters::StampedReport>>,
    stop: Box<dyn FnOnce()>,
}

fn gateway(dir: &std::path::Path, durability: Durability, rounds: usize) -> Rig {
    let total = WORKING * (rounds + 2) + IDLE_BOOKS;
    let rig = SequencerRig::start(
        dir,
        ACCOUNTS,
        SYMBOLS,
        total,
        durability,
        RING,
        Duration::from_micros(50),
    );
    Rig {
        tx: rig.tx.clone(),
        rx: rig.rx.clone(),
        reports: Some(rig.reports.clone()),
        stop: Box::new(move || {
            rig.stop();
        }),
    }
}

/// The floor: a thread that forwards new orders and answers a trip with 1,000 cancels.
fn floor() -> Rig {
    let rings = bulwark_gateway::sequencer::rings(RING, RING);
    let (tx, in_rx) = rings.inbound;
    let (v_tx, rx) = rings.venue;
    let handle = std::thread::spawn(move || {
        let mut id = 0u64;
        let mut working: Vec<OrderId> = Vec::new();
        while let Ok(msg) = in_rx.recv() {
            match msg {
                Inbound::Request {
                    event: Event::NewOrder(o),
                    ..
                } => {
                    id += 1;
                    working.push(OrderId(id));
                    let _ = v_tx.send(VenueCommand::Submit(o.to_order(
                        OrderId(id),
                        0,
                        Verdict::Accept,
                    )));
                }
                Inbound::Control { control, .. } if control.kind != ControlKind::Reset => {
                    for order in working.drain(..) {
                        let _ = v_tx.send(VenueCommand::Cancel { order });
                    }
                }
                Inbound::Shutdown => break,
                _ => {}
            }
        }
    });
    let stop_tx = tx.clone();
    Rig {
        tx,
        rx,
        reports: None,
        stop: Box::new(move || {
            let _ = stop_tx.send(Inbound::Shutdown);
            let _ = handle.join();
        }),
    }
}

/// Trades once in `IDLE_BOOKS` (account, symbol) books and has every such order canceled, so the engine holds
/// many books with no working order: a kill must not pay for them.
fn idle_books(rig: &Rig) {
    let Some(reports) = &rig.reports else {
        return;
    };
    for i in 0..IDLE_BOOKS {
        let o = NewOrder {
            account: AccountId((i / SYMBOLS as usize) as u32 % ACCOUNTS),
            symbol: SymbolId(i as u32 % SYMBOLS),
            side: Side::Buy,
            ord_type: OrdType::Limit,
            tif: Tif::Gtc,
            qty: Qty::from_units(1),
            limit_px: Some(Px::from_units(10)),
            cl_ord_id: ClOrdId::try_new(&format!("idle-{i}")).expect("valid id"),
            ingress: Ingress::Binary,
            ext_hours: false,
        };
        rig.tx
            .send(Inbound::Request {
                ts_ns: 0,
                event: Event::NewOrder(o),
                reply: None,
            })
            .expect("alive");
        if let VenueCommand::Submit(order) = rig.rx.recv().expect("alive") {
            let report = VenueReport::Canceled {
                order: order.id,
                cause: CancelCause::Venue,
            };
            reports.send((0, report)).expect("alive");
        }
    }
}

fn measure(rig: &Rig, rounds: usize) -> hdrhistogram::Histogram<u64> {
    idle_books(rig);
    let mut h = histogram();
    for round in 0..rounds {
        for o in orders(round) {
            rig.tx.send(o).expect("alive");
        }
        let mut submitted = 0;
        while submitted < WORKING {
            if let VenueCommand::Submit(_) = rig.rx.recv().expect("alive") {
                submitted += 1;
            }
        }
        let t0 = Instant::now();
        rig.tx.send(trip(ControlKind::Trip)).expect("alive");
        let mut canceled = Vec::with_capacity(WORKING);
        while canceled.len() < WORKING {
            if let VenueCommand::Cancel { order } = rig.rx.recv().expect("alive") {
                canceled.push(order);
            }
        }
        let ns = t0.elapsed().as_nanos() as u64;
        if let Some(reports) = &rig.reports {
            for order in canceled {
                let report = VenueReport::Canceled {
                    order,
                    cause: CancelCause::Requested,
                };
                reports.send((0, report)).expect("alive");
            }
        }
        if round > 0 {
            h.record(ns.max(1)).expect("in range");
        }
        rig.tx.send(trip(ControlKind::Reset)).expect("alive");
    }
    h
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    println!("# kill_switch: {}", machine());
    println!("{rounds} rounds; {WORKING} working orders across 10 accounts x {SYMBOLS} symbols, beside {IDLE_BOOKS} idle books of {ACCOUNTS} accounts; global cancel_all");
    println!();
    println!("{HEADER}");
    let f = floor();
    let fh = measure(&f, rounds);
    (f.stop)();
    println!(
        "{}",
        row("floor: rings + 1,000 cancels, no journal or engine", &fh)
    );
    let mut results = Vec::new();
    for (name, durability) in [("none", Durability::None), ("sync", Durability::Sync)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let g = gateway(dir.path(), durability, rounds);
        let gh = measure(&g, rounds);
        (g.stop)();
        println!("{}", row(&format!("gateway, durability {name}"), &gh));
        results.push((name, gh));
    }
    println!();
    for (name, gh) in &results {
        println!(
            "durability {name}: p50 {:.0} us, p99 {:.0} us, max {:.0} us (floor p50 {:.0} us); goal p99 <= 1000 us",
            gh.value_at_quantile(0.5) as f64 / 1e3,
            gh.value_at_quantile(0.99) as f64 / 1e3,
            gh.max() as f64 / 1e3,
            fh.value_at_quantile(0.5) as f64 / 1e3,
        );
    }
}
