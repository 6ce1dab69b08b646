//! Shared pieces of the benchmark harness: HDR histograms, the table rows that go into `bench/RESULTS.md`,
//! and a description of the machine, so every published figure carries its baseline and its context.
#![forbid(unsafe_code)]

use hdrhistogram::Histogram;

pub mod http_load;

/// A latency histogram in nanoseconds, 1 ns to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// `| name | count | mean | p50 | p99 | p99.9 | max |` in ns.
pub fn row(name: &str, h: &Histogram<u64>) -> String {
    format!(
        "| {name} | {} | {:.0} | {} | {} | {} | {} |",
        h.len(),
        h.mean(),
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    )
}

pub const HEADER: &str = "| measurement | count | mean ns | p50 ns | p99 ns | p99.9 ns | max ns |\n|---|---|---|---|---|---|---|";

/// CPU model (with its family/model numbers and last-level cache, which tell two VMs of one brand apart), core
/// count and memory, for the results table.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
    };
    let model = field("model name").unwrap_or_else(|| "unknown CPU".to_string());
    let family_model = format!(
        "family {} model {}",
        field("cpu family").unwrap_or_else(|| "?".into()),
        field("model").unwrap_or_else(|| "?".into())
    );
    let llc = (0..8)
        .rev()
        .find_map(|i| {
            std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu0/cache/index{i}/size"))
                .ok()
        })
        .map_or_else(|| "?".to_string(), |s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    format!(
        "{model} ({family_model}, last-level cache {llc}), {cores} cores, {} GiB RAM",
        mem_kb / 1024 / 1024
    )
}

/// Busy-waits until `deadline` (open-loop pacing without a sleep's millisecond granularity).
pub fn spin_until(deadline: std::time::Instant) {
    while std::time::Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// The real sequencer on its own thread with a fresh journal in `dir`, `accounts` accounts `A0..` and `symbols`
/// symbols `S0..` (always open), for the in-process benches. Feed [`SequencerRig::tx`], read
/// [`SequencerRig::rx`] (the venue ring), report venue events on [`SequencerRig::reports`].
pub struct SequencerRig {
    pub tx: bulwark_ring::RingTx<bulwark_gateway::sequencer::Inbound>,
    pub rx: bulwark_ring::RingRx<bulwark_adapters::VenueCommand>,
    pub reports: bulwark_ring::RingTx<bulwark_adapters::StampedReport>,
    handle: std::thread::JoinHandle<bulwark_risk::Engine>,
}

impl std::fmt::Debug for SequencerRig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequencerRig").finish_non_exhaustive()
    }
}

/// Pins the calling thread (not the whole process) to `core` with `taskset`, so that threads it spawns
/// afterwards start on that core too; returns whether it worked (`false` without `taskset` or `/proc`).
pub fn pin_current_thread(core: u32) -> bool {
    let Some(tid) = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    else {
        return false;
    };
    std::process::Command::new("taskset")
        .args(["-cp", &core.to_string(), &tid])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What the machine itself allows: on each given core (one spinning thread per core, so never more spinners
/// than cores), a thread that does nothing but read the monotonic clock for `duration` records every gap
/// between two consecutive reads longer than `GAP_MIN_NS` (the thread was descheduled: by the guest kernel
/// or, on a VM, by the host). No open-loop latency measured on that core can have a p99 below what these
/// gaps impose once they cover more than 1% of the time.
#[derive(Debug)]
pub struct SchedulingGaps {
    pub core: u32,
    /// The gaps longer than `GAP_MIN_NS`, in ns.
    pub gaps_ns: Histogram<u64>,
    /// How many of them were longer than 100 us and than 1 ms.
    pub over_100us: u64,
    pub over_1ms: u64,
    /// Their sum as a share of `duration`, in percent.
    pub lost_percent: f64,
}

/// Gaps shorter than this (in ns) are the clock read itself and cache misses, not descheduling.
pub const GAP_MIN_NS: u64 = 10_000;

pub fn scheduling_gaps(cores: &[u32], duration: std::time::Duration) -> Vec<SchedulingGaps> {
    let probes: Vec<_> = cores
        .iter()
        .map(|&core| {
            std::thread::spawn(move || {
                pin_current_thread(core);
                let mut gaps_ns = histogram();
                let start = std::time::Instant::now();
                let mut last = start;
                let (mut lost_ns, mut over_100us, mut over_1ms) = (0u64, 0u64, 0u64);
                while last - start < duration {
                    let now = std::time::Instant::now();
                    let gap_ns = (now - last).as_nanos() as u64;
                    if gap_ns > GAP_MIN_NS {
                        gaps_ns.record(gap_ns).expect("in range");
                        lost_ns += gap_ns;
                        over_100us += u64::from(gap_ns > 100_000);
                        over_1ms += u64::from(gap_ns > 1_000_000);
                    }
                    last = now;
                }
                SchedulingGaps {
                    core,
                    gaps_ns,
                    over_100us,
                    over_1ms,
                    lost_percent: lost_ns as f64 * 100.0 / (last - start).as_nanos() as f64,
                }
            })
        })
        .collect();
    probes
        .into_iter()
        .map(|p| p.join().expect("probe thread"))
        .collect()
}

/// One line per core: how often and how long the probe was descheduled.
pub fn scheduling_gaps_line(g: &SchedulingGaps) -> String {
    format!(
        "core {}: {} gaps > 10 us, {} > 100 us, {} > 1 ms, longest {} us, {:.2}% of the time lost",
        g.core,
        g.gaps_ns.len(),
        g.over_100us,
        g.over_1ms,
        g.gaps_ns.max() / 1_000,
        g.lost_percent
    )
}

/// Waits (up to a minute) until the journal has made its spare segment: a fresh journal writes it in the
/// background at start, which would otherwise compete with the first timed rounds.
pub fn wait_for_the_spare_segment(journal: &bulwark_gateway::journal::Journal) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !journal.next_segment_ready() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Command-line argument `i` (1 is the first after the program) as a number, or `default` when it is absent or
/// not a number.
pub fn arg_or(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The journal benches' record: limit NewOrder number `i` (an 80-byte record), account and symbol cycling.
pub fn journal_order(i: u64) -> bulwark_model::Event {
    use bulwark_model::*;
    Event::NewOrder(NewOrder {
        account: AccountId((i % 1000) as u32),
        symbol: SymbolId((i % 100) as u32),
        side: if i & 1 == 0 { Side::Buy } else { Side::Sell },
        ord_type: OrdType::Limit,
        tif: Tif::Day,
        qty: Qty::from_units(100),
        limit_px: Some(Px::from_units(190)),
        cl_ord_id: ClOrdId::try_new(&format!("ORD-{i:012}")).expect("valid id"),
        ingress: Ingress::Fix,
        ext_hours: false,
    })
}

impl SequencerRig {
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        dir: &std::path::Path,
        accounts: u32,
        symbols: u32,
        orders: usize,
        durability: bulwark_gateway::journal::Durability,
        ring: usize,
        idle_spin: std::time::Duration,
    ) -> SequencerRig {
        use bulwark_gateway::catalog::{Catalog, SymbolSpec};
        use bulwark_gateway::sequencer::{self, Sequencer, SequencerOptions, SharedStatus};
        let catalog = Catalog::new(
            (0..accounts).map(|i| format!("A{i}")).collect(),
            (0..symbols)
                .map(|i| SymbolSpec {
                    name: format!("S{i}"),
                    qty_decimals: 0,
                    px_decimals: 2,
                    calendar: "ALWAYS".into(),
                })
                .collect(),
        );
        let limits = bulwark_risk::EngineLimits {
            accounts: accounts as usize,
            symbols: symbols as usize,
            open_orders_max: orders * 2,
            orders_reserved: orders,
        };
        let opts = bulwark_gateway::journal::JournalOptions {
            dir: dir.to_path_buf(),
            segment_bytes: 1 << 30,
            durability,
        };
        let (journal, engine, _) =
            sequencer::recover(opts, &catalog, bulwark_risk::Engine::new(limits))
                .expect("journal opens");
        wait_for_the_spare_segment(&journal);
        let rings = sequencer::rings(ring, ring);
        let (tx, in_rx) = rings.inbound;
        let (v_tx, rx) = rings.venue;
        let (reports, r_rx) = rings.reports;
        let mut seq = Sequencer::new(
            journal,
            engine,
            in_rx,
            r_rx,
            v_tx,
            SequencerOptions {
                idle_spin,
                venue_ring_capacity: ring,
            },
            std::sync::Arc::new(SharedStatus::default()),
            Default::default(),
        );
        seq.boot(&catalog, 0).expect("boot record");
        let handle = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || seq.run())
            .expect("sequencer thread");
        SequencerRig {
            tx,
            rx,
            reports,
            handle,
        }
    }

    /// Stops the sequencer and returns its engine.
    pub fn stop(self) -> bulwark_risk::Engine {
        let _ = self.tx.send(bulwark_gateway::sequencer::Inbound::Shutdown);
        drop(self.reports);
        self.handle.join().expect("sequencer thread")
    }
}

/// Runs the gateway in this process on the config at `config_path` (the benches' server mode, so the server
/// is the same code as the `bulwark` binary and can be pinned and profiled on its own).
pub fn serve_gateway(config_path: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BULWARK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = bulwark_gateway::config::load(Some(std::path::Path::new(config_path)))
        .unwrap_or_else(|e| panic!("bench config: {e}"));
    if let Err(e) = bulwark_gateway::server::run(config) {
        eprintln!("gateway failed: {e:#}");
        std::process::exit(1);
    }
}

/// Waits (up to 60 s) for a server child started with piped stderr to log `listening on http://ADDR`, and
/// returns ADDR; its other non-INFO log lines are echoed with `name` in front.
pub fn listen_address(child: &mut std::process::Child, name: &'static str) -> String {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
            } else if !line.contains(" INFO ") {
                eprintln!("{name}: {line}");
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("server starts")
}
