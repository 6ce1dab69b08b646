//! The in-process pipeline: inbound ring -> sequencer (journal append of request and decision, risk chain,
//! state) -> paper venue ring, measured end to end, beside a naive floor measured in the same run: the same two
//! ring hops through a forwarding thread that does no journaling and no risk. One driver thread both feeds the
//! inbound ring and drains the venue ring, on core 1; the sequencer (with the journal's helper threads) or the
//! forwarder runs on core 0.
//! (1) closed-loop throughput with a bounded window of orders in flight; (2) open-loop latency at fixed rates,
//! measured from each order's intended send time (no coordinated omission); (3) what the machine allows: a
//! clock-reading probe on each core, run alone after the pipelines, reports how often and how long it was
//! descheduled (`bulwark_bench::scheduling_gaps`).
//! Usage: `cargo run --release -p bulwark-bench --bin pipeline [orders]`.
#![forbid(unsafe_code)]

use bulwark_adapters::VenueCommand;
use bulwark_bench::{
    histogram, machine, pin_current_thread, row, scheduling_gaps, scheduling_gaps_line, spin_until,
    SequencerRig, HEADER,
};
use bulwark_gateway::journal::Durability;
use bulwark_gateway::sequencer::Inbound;
use bulwark_model::*;
use bulwark_ring::{RingRx, RingTx};
use std::time::{Duration, Instant};

const RING: usize = 65_536;
const IDLE_SPIN: Duration = Duration::from_micros(50);
const WINDOW: usize = 4_096;
const ACCOUNTS: u32 = 100;
/// How long the scheduling-gap probe runs on each core (about as long as one open-loop rate).
const GAP_PROBE: Duration = Duration::from_secs(5);
const SYMBOLS: u32 = 100;

struct Pipeline {
    tx: RingTx<Inbound>,
    rx: RingRx<VenueCommand>,
    stop: Box<dyn FnOnce()>,
}

fn events(n: usize, tag: &str) -> Vec<Event> {
    (0..n as u64)
        .map(|i| {
            Event::NewOrder(NewOrder {
                account: AccountId((i % u64::from(ACCOUNTS)) as u32),
                symbol: SymbolId((i / 7 % u64::from(SYMBOLS)) as u32),
                side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
                ord_type: OrdType::Limit,
                tif: Tif::Day,
                qty: Qty::from_units(100),
                limit_px: Some(Px::from_units(190)),
                cl_ord_id: ClOrdId::try_new(&format!("{tag}{i}")).expect("valid id"),
                ingress: Ingress::Binary,
                ext_hours: false,
            })
        })
        .collect()
}

fn gateway_pipeline(orders: usize, dir: &std::path::Path) -> Pipeline {
    let rig = SequencerRig::start(
        dir,
        ACCOUNTS,
        SYMBOLS,
        orders,
        Durability::None,
        RING,
        IDLE_SPIN,
    );
    let tx = rig.tx.clone();
    let rx = rig.rx.clone();
    Pipeline {
        tx,
        rx,
        stop: Box::new(move || {
            let engine = rig.stop();
            assert!(engine.order_count() > 0);
        }),
    }
}

/// Minor page faults taken so far by this process's thread named `comm` (field 10 of its `/proc` stat): the
/// journal's first writes to each page, for the sequencer, when its prefault thread has not taken them first.
fn minor_faults_of_thread(comm: &str) -> Option<u64> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .flatten()
        .find_map(|task| {
            let name = std::fs::read_to_string(task.path().join("comm")).ok()?;
            if name.trim_end() != comm {
                return None;
            }
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            // After the parenthesised name: state is field 3, minflt field 10.
            let rest = &stat[stat.rfind(')')? + 2..];
            rest.split_whitespace().nth(7)?.parse().ok()
        })
}

/// Receives with the sequencer's idle strategy: spin for `IDLE_SPIN`, then park.
fn recv_spin_then_park(rx: &RingRx<Inbound>) -> Option<Inbound> {
    let until = Instant::now() + IDLE_SPIN;
    loop {
        for _ in 0..64 {
            if let Ok(m) = rx.try_recv() {
                return Some(m);
            }
            std::hint::spin_loop();
        }
        if Instant::now() >= until {
            return rx.recv().ok();
        }
    }
}

/// The floor: the same rings, the same idle strategy and a forwarding thread, nothing else.
fn floor_pipeline() -> Pipeline {
    let rings = bulwark_gateway::sequencer::rings(RING, RING);
    let (tx, in_rx) = rings.inbound;
    let (v_tx, rx) = rings.venue;
    let handle = std::thread::Builder::new()
        .name("floor".into())
        .spawn(move || {
            let mut id = 0u64;
            while let Some(msg) = recv_spin_then_park(&in_rx) {
                match msg {
                    Inbound::Request {
                        ts_ns,
                        event: Event::NewOrder(o),
                        ..
                    } => {
                        id += 1;
                        let order = o.to_order(OrderId(id), ts_ns, Verdict::Accept);
                        if v_tx.send(VenueCommand::Submit(order)).is_err() {
                            break;
                        }
                    }
                    Inbound::Shutdown => break,
                    _ => {}
                }
            }
        })
        .expect("floor thread");
    let stop_tx = tx.clone();
    Pipeline {
        tx,
        rx,
        stop: Box::new(move || {
            stop_tx.send(Inbound::Shutdown).expect("floor alive");
            handle.join().expect("floor thread");
        }),
    }
}

fn submitted_ts(cmd: &VenueCommand) -> i64 {
    match cmd {
        VenueCommand::Submit(o) => o.created_ts_ns,
        other => panic!("unexpected venue command {other:?}"),
    }
}

/// Closed loop: at most WINDOW in flight; returns orders per second.
fn throughput(p: &Pipeline, evs: Vec<Event>) -> f64 {
    let n = evs.len();
    let start = Instant::now();
    let mut received = 0usize;
    for (sent, event) in evs.into_iter().enumerate() {
        while sent - received >= WINDOW {
            p.rx.recv().expect("pipeline alive");
            received += 1;
        }
        p.tx.send(Inbound::Request {
            ts_ns: 0,
            event,
            reply: None,
        })
        .expect("pipeline alive");
        while p.rx.try_recv().is_ok() {
            received += 1;
        }
    }
    while received < n {
        p.rx.recv().expect("pipeline alive");
        received += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Open loop at `rate` orders/s: latency from each order's intended send time to its arrival on the venue ring.
fn latency(p: &Pipeline, evs: Vec<Event>, rate: f64) -> hdrhistogram::Histogram<u64> {
    let mut h = histogram();
    let n = evs.len();
    let base = Instant::now() + Duration::from_millis(1);
    let interval_ns = 1e9 / rate;
    let mut received = 0usize;
    let record = |cmd: VenueCommand, h: &mut hdrhistogram::Histogram<u64>| {
        let intended = submitted_ts(&cmd);
        let now = base.elapsed().as_nanos() as i64;
        h.record((now - intended).max(1) as u64).expect("in range");
    };
    for (i, event) in evs.into_iter().enumerate() {
        let intended_ns = (i as f64 * interval_ns) as u64;
        let intended = base + Duration::from_nanos(intended_ns);
        loop {
            match p.rx.try_recv() {
                Ok(cmd) => {
                    record(cmd, &mut h);
                    received += 1;
                }
                Err(_) if Instant::now() >= intended => break,
                Err(_) => std::hint::spin_loop(),
            }
        }
        spin_until(intended);
        p.tx.send(Inbound::Request {
            ts_ns: intended_ns as i64,
            event,
            reply: None,
        })
        .expect("pipeline alive");
    }
    while received < n {
        let cmd = p.rx.recv().expect("pipeline alive");
        record(cmd, &mut h);
        received += 1;
    }
    h
}

fn main() {
    let orders: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let rates = [100_000.0, 250_000.0, 500_000.0];
    let latency_orders = orders / 4;
    println!("machine: {}", machine());
    println!("orders: {orders} closed-loop (window {WINDOW}), {latency_orders} per open-loop rate; journal durability none");
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
        .expect("temp dir");

    let mut rows = Vec::new();
    // Each server's threads start on core 0 (they inherit the spawning thread's affinity); the driver then
    // moves to core 1, so the two never share a core and neither migrates onto the other's.
    let pinned = pin_current_thread(0);
    let floor = floor_pipeline();
    pin_current_thread(1);
    let floor_tput = throughput(&floor, events(orders, "f"));
    let floor_lat: Vec<_> = rates
        .iter()
        .enumerate()
        .map(|(k, r)| latency(&floor, events(latency_orders, &format!("fl{k}-")), *r))
        .collect();
    (floor.stop)();

    pin_current_thread(0);
    let gw = gateway_pipeline(
        orders + latency_orders * rates.len(),
        &dir.path().join("journal"),
    );
    pin_current_thread(1);
    let gw_tput = throughput(&gw, events(orders, "g"));
    let gw_lat: Vec<_> = rates
        .iter()
        .enumerate()
        .map(|(k, r)| latency(&gw, events(latency_orders, &format!("gl{k}-")), *r))
        .collect();
    // Thread names as the kernel keeps them: at most 15 bytes ("journal-prefault" loses its last letter).
    let faults: Vec<String> = ["sequencer", "journal-prefaul"]
        .iter()
        .map(|name| match minor_faults_of_thread(name) {
            Some(n) => format!("{name} {n}"),
            None => format!("{name} ?"),
        })
        .collect();
    (gw.stop)();
    let gaps = scheduling_gaps(&[0, 1], GAP_PROBE);

    println!(
        "threads: {}",
        if pinned {
            "floor and sequencer (with the journal's helpers) on core 0, driver on core 1"
        } else {
            "not pinned (taskset unavailable)"
        }
    );
    println!(
        "closed-loop throughput: floor {:.0} orders/s, pipeline {:.0} orders/s (ratio {:.2}x)",
        floor_tput,
        gw_tput,
        floor_tput / gw_tput
    );
    println!("{HEADER}");
    for (i, rate) in rates.iter().enumerate() {
        rows.push(row(
            &format!("floor (ring hops only) @ {:.0}k/s", rate / 1e3),
            &floor_lat[i],
        ));
        rows.push(row(&format!("pipeline @ {:.0}k/s", rate / 1e3), &gw_lat[i]));
    }
    for r in rows {
        println!("{r}");
    }
    for (i, rate) in rates.iter().enumerate() {
        println!(
            "@ {:.0}k/s: p50 ratio {:.2}x, p99 ratio {:.2}x",
            rate / 1e3,
            gw_lat[i].value_at_quantile(0.5) as f64
                / floor_lat[i].value_at_quantile(0.5).max(1) as f64,
            gw_lat[i].value_at_quantile(0.99) as f64
                / floor_lat[i].value_at_quantile(0.99).max(1) as f64
        );
    }
    // Below p99, where the host's gaps (a percent or two of the time) do not yet decide the figure.
    let q = |h: &hdrhistogram::Histogram<u64>| {
        [0.9, 0.95, 0.98]
            .map(|q| format!("p{} {} ns", q * 100.0, h.value_at_quantile(q)))
            .join(", ")
    };
    for (i, rate) in rates.iter().enumerate() {
        println!(
            "@ {:.0}k/s: floor {}; pipeline {}",
            rate / 1e3,
            q(&floor_lat[i]),
            q(&gw_lat[i])
        );
    }
    println!(
        "minor page faults taken over the gateway's whole run, by thread: {}",
        faults.join(", ")
    );
    println!("scheduling gaps seen by a thread that only reads the clock, {GAP_PROBE:?} per core:");
    for g in &gaps {
        println!("    {}", scheduling_gaps_line(g));
    }
}
