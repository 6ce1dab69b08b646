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

/// CPU model and core count, for the results table.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_string(), |s| s.trim().to_string());
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
    format!("{model}, {cores} cores, {} GiB RAM", mem_kb / 1024 / 1024)
}

/// Busy-waits until `deadline` (open-loop pacing without a sleep's millisecond granularity).
pub fn spin_until(deadline: std::time::Instant) {
    while std::time::Instant::now() < deadline {
        std::hint::spin_loop();
    }
}
