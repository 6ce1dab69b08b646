//! Journal append latency beside its floor, in one run: (a) `Journal::append` of a NewOrder event (encode,
//! CRC32C, header, length published last) into a populated memory-mapped segment, and (b) the raw floor: a
//! memcpy of the same number of bytes into a populated memory-mapped file. Rounds alternate between the two so
//! that machine noise hits both. Durability `none` (the append itself; sync costs are the policy's, not the
//! append's). Usage: `cargo run --release -p bulwark-bench --bin journal_append [records]`.
#![deny(unsafe_code)]

use bulwark_bench::{histogram, journal_order, machine, row, HEADER};
use bulwark_gateway::journal::{format, Durability, Journal, JournalOptions};
use bulwark_model::*;
use std::time::Instant;

const ROUNDS: usize = 10;
const HOT_EVENTS: usize = 1024;

/// A journal in `dir` with nothing to replay.
fn open_journal(
    dir: std::path::PathBuf,
    segment_bytes: u64,
    durability: Durability,
) -> (Journal, bulwark_gateway::journal::RecoveryReport) {
    Journal::open(
        JournalOptions {
            dir,
            segment_bytes,
            durability,
        },
        |_, _, _| Ok(()),
    )
    .expect("open the journal")
}

fn main() {
    let records: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let per_round = records / ROUNDS;
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
        .expect("temp dir");
    let mut payload = Vec::new();
    bulwark_model::codec::encode(&journal_order(1), &mut payload);
    let record_bytes = format::record_span(payload.len());
    let segment_bytes = ((records * record_bytes) as u64 + (1 << 20)).next_power_of_two();
    let (mut journal, _) =
        open_journal(dir.path().join("journal"), segment_bytes, Durability::None);
    bulwark_bench::wait_for_the_spare_segment(&journal);

    // The floor: a populated shared mapping of a preallocated file of the same size.
    let floor_path = dir.path().join("floor.bin");
    let floor_file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&floor_path)
        .expect("floor file");
    rustix::fs::fallocate(
        &floor_file,
        rustix::fs::FallocateFlags::empty(),
        0,
        segment_bytes,
    )
    .expect("fallocate");
    #[allow(unsafe_code)]
    // SAFETY: the file is private to this process and never truncated while mapped.
    let mut floor =
        unsafe { memmap2::MmapOptions::new().populate().map_mut(&floor_file) }.expect("mmap floor");
    let mut record = vec![0u8; record_bytes];
    record[..payload.len()].copy_from_slice(&payload);

    // The floor copies one cache-hot record; the journal gets a small cycle of distinct events, cache-hot
    // too, as in the sequencer, which appends the event it has just decoded.
    let events: Vec<Event> = (0..HOT_EVENTS as u64).map(journal_order).collect();
    let mut h_journal = histogram();
    let mut h_floor = histogram();
    let mut floor_at = 0usize;
    let started = Instant::now();
    for round in 0..ROUNDS {
        for _ in 0..per_round {
            let t0 = Instant::now();
            floor[floor_at..floor_at + record_bytes].copy_from_slice(&record);
            std::hint::black_box(&floor[floor_at]);
            let dt = t0.elapsed().as_nanos() as u64;
            h_floor.record(dt.max(1)).expect("in range");
            floor_at += record_bytes;
        }
        for (i, ev) in events.iter().cycle().take(per_round).enumerate() {
            let t0 = Instant::now();
            let seq = journal
                .append((round * per_round + i) as i64, ev)
                .expect("append");
            std::hint::black_box(seq);
            let dt = t0.elapsed().as_nanos() as u64;
            h_journal.record(dt.max(1)).expect("in range");
        }
    }
    let elapsed = started.elapsed();

    // The price of durability: one record per group-commit batch under `sync` (append + msync), the worst case.
    let sync_records = 20_000usize;
    let (mut synced, _) = open_journal(dir.path().join("journal-sync"), 64 << 20, Durability::Sync);
    bulwark_bench::wait_for_the_spare_segment(&synced);
    let mut h_sync = histogram();
    for (i, ev) in events.iter().cycle().take(sync_records).enumerate() {
        let t0 = Instant::now();
        synced.append(i as i64, ev).expect("append");
        synced.commit().expect("msync");
        h_sync
            .record((t0.elapsed().as_nanos() as u64).max(1))
            .expect("in range");
    }
    // Rollovers: the default 64 MiB segments, durability none, enough records for several new segments; the
    // appends that open a new segment are timed apart. Records arrive every 2 us (about 40 MB/s), so that the
    // segment made ahead has time to be ready, as it has at any sustained rate below that.
    let roll_records = 3_500_000usize;
    let (mut rolling, _) =
        open_journal(dir.path().join("journal-roll"), 64 << 20, Durability::None);
    bulwark_bench::wait_for_the_spare_segment(&rolling);
    let mut h_rolling = histogram();
    let mut over_1ms = 0u64;
    let mut due = Instant::now();
    for (i, ev) in events.iter().cycle().take(roll_records).enumerate() {
        due += std::time::Duration::from_micros(2);
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        let t0 = Instant::now();
        rolling.append(i as i64, ev).expect("append");
        let ns = (t0.elapsed().as_nanos() as u64).max(1);
        h_rolling.record(ns).expect("in range");
        over_1ms += u64::from(ns > 1_000_000);
    }
    let rollovers = std::fs::read_dir(dir.path().join("journal-roll"))
        .map_or(0, |d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "bwj"))
            })
            .count()
        })
        .saturating_sub(1);
    println!("machine: {}", machine());
    println!(
        "records: {} per side, {record_bytes} bytes each ({} payload), {ROUNDS} alternating rounds, {:.2} s",
        per_round * ROUNDS,
        payload.len(),
        elapsed.as_secs_f64()
    );
    println!("{HEADER}");
    println!("{}", row("floor: memcpy into mmap", &h_floor));
    println!("{}", row("Journal::append (durability none)", &h_journal));
    println!(
        "{}",
        row(
            "append + commit, durability sync (1 record per batch)",
            &h_sync
        )
    );
    println!(
        "{}",
        row(
            "append across rollovers (64 MiB segments, one per 2 us)",
            &h_rolling
        )
    );
    println!(
        "rollovers: {rollovers}, appends over 1 ms: {over_1ms}, slowest append: {} us",
        h_rolling.max() / 1000
    );
    for q in [0.9, 0.95, 0.97, 0.98, 0.985, 0.99, 0.995] {
        println!(
            "quantile {q}: floor {} ns, journal {} ns",
            h_floor.value_at_quantile(q),
            h_journal.value_at_quantile(q)
        );
    }
    println!(
        "ratio journal/floor: p50 {:.2}x, p99 {:.2}x, p99.9 {:.2}x (timer overhead is in both)",
        h_journal.value_at_quantile(0.5) as f64 / h_floor.value_at_quantile(0.5).max(1) as f64,
        h_journal.value_at_quantile(0.99) as f64 / h_floor.value_at_quantile(0.99).max(1) as f64,
        h_journal.value_at_quantile(0.999) as f64 / h_floor.value_at_quantile(0.999).max(1) as f64,
    );
}
