//! Journal appends at a fixed pace on one core, as the sequencer makes them under load: one NewOrder record
//! every `interval_ns` (default 1,000 ns, about 80 MB/s of records), the writer spinning in between, and the
//! journal's helper threads on the same core. Under durability `none` each first write to a 4 KiB page of the
//! shared mapping traps into the filesystem (about 5 µs on ext4), unless the page was faulted in as writable
//! ahead of the writer. Two variants alternate, on fresh journals, in one run: the writer only spinning between
//! appends, and the writer spending that time on `Journal::prefault_idle_step` (one page per wait), as the
//! sequencer's idle spin does. Each append is timed on its own; the count of appends over 2 µs is the count of
//! faults (and host gaps, which hit both variants alike) left on the append path.
//! Usage: `cargo run --release -p bulwark-bench --bin journal_paced [records per round] [interval_ns]`.
#![deny(unsafe_code)]

use bulwark_bench::{arg_or, histogram, journal_order, machine, pin_current_thread, row, HEADER};
use bulwark_gateway::journal::{Durability, Journal, JournalOptions};
use bulwark_model::*;
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;
const SLOW_NS: u64 = 2_000;

/// What one paced run measured.
struct Paced {
    /// Each append alone.
    append: hdrhistogram::Histogram<u64>,
    /// From each append's intended time to its end: the append plus any wait for the core (a preempted writer
    /// starts late, and so does every append queued behind it).
    from_due: hdrhistogram::Histogram<u64>,
    /// Appends over [`SLOW_NS`].
    slow: u64,
}

impl Paced {
    fn new() -> Paced {
        Paced {
            append: histogram(),
            from_due: histogram(),
            slow: 0,
        }
    }

    /// Adds another run's measurements to these.
    fn add(&mut self, other: &Paced) {
        self.append.add(&other.append).expect("same bounds");
        self.from_due.add(&other.from_due).expect("same bounds");
        self.slow += other.slow;
    }
}

/// One paced run on a fresh journal in `dir`.
fn paced(
    dir: std::path::PathBuf,
    events: &[Event],
    records: usize,
    interval: Duration,
    idle_steps: bool,
) -> Paced {
    let (mut journal, _) = Journal::open(
        JournalOptions {
            dir,
            segment_bytes: 64 << 20,
            durability: Durability::None,
        },
        |_, _, _| Ok(()),
    )
    .expect("journal opens");
    bulwark_bench::wait_for_the_spare_segment(&journal);
    let mut p = Paced::new();
    let mut due = Instant::now();
    for (i, ev) in events.iter().cycle().take(records).enumerate() {
        due += interval;
        while Instant::now() < due {
            if idle_steps {
                journal.prefault_idle_step();
            }
            std::hint::spin_loop();
        }
        let t0 = Instant::now();
        journal.append(i as i64, ev).expect("append");
        let end = Instant::now();
        let ns = ((end - t0).as_nanos() as u64).max(1);
        p.append.record(ns).expect("in range");
        p.from_due
            .record(((end - due).as_nanos() as u64).max(1))
            .expect("in range");
        p.slow += u64::from(ns > SLOW_NS);
    }
    p
}

fn main() {
    let records = arg_or(1, 2_000_000) as usize;
    let interval = Duration::from_nanos(arg_or(2, 1_000));
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
        .expect("temp dir");
    // The writer and the journal's helper threads (which inherit this affinity) share core 0.
    let pinned = pin_current_thread(0);
    let events: Vec<Event> = (0..1024).map(journal_order).collect();
    // Per variant (spinning, idle steps), summed over the rounds.
    let mut sums = [Paced::new(), Paced::new()];
    for round in 0..ROUNDS {
        for (v, idle_steps) in [false, true].into_iter().enumerate() {
            sums[v].add(&paced(
                dir.path().join(format!("j{round}-{v}")),
                &events,
                records,
                interval,
                idle_steps,
            ));
        }
    }
    let names = [
        "writer spins between appends",
        "writer takes idle prefault steps",
    ];
    let mut rows = Vec::new();
    for (v, name) in names.iter().enumerate() {
        rows.push(row(&format!("append alone, {name}"), &sums[v].append));
        rows.push(row(
            &format!("from the intended time, {name}"),
            &sums[v].from_due,
        ));
    }
    println!("machine: {}", machine());
    println!(
        "{records} records per round and variant, one every {} ns, {ROUNDS} alternating rounds, durability none, 64 MiB segments; {}",
        interval.as_nanos(),
        if pinned {
            "writer and journal helpers on core 0"
        } else {
            "not pinned (taskset unavailable)"
        }
    );
    println!("{HEADER}");
    for r in rows {
        println!("{r}");
    }
    let n = (records * ROUNDS) as f64;
    for (v, name) in names.iter().enumerate() {
        println!(
            "appends alone over {SLOW_NS} ns, {name}: {} ({:.3}%)",
            sums[v].slow,
            100.0 * sums[v].slow as f64 / n
        );
    }
}
