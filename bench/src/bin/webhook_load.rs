//! The TradingView webhook edge under HTTP load, against a plain axum handler measured in the same run.
//! Both servers are child processes pinned to core 0 (`taskset`), with one tokio worker each; the load
//! generator runs on core 1. The gateway is the real server (`bulwark_gateway::server::run`: allowlist, token,
//! body secret, parse, symbol map, signal log, sequencer, risk chain, journal at the chosen durability, paper
//! venue filling every order); the baseline reads the body and answers 202 with a body of the same size.
//! Every request is a distinct signal (its own `orderId`), so none is answered as a duplicate.
//! (1) open-loop at fixed rates, latency from each request's intended send time; (2) closed-loop throughput.
//! Usage: `cargo run --release -p bulwark-bench --bin webhook_load [seconds_per_phase] [durability]
//! [closed_loop_connections]`.
#![forbid(unsafe_code)]

use bulwark_bench::http_load::{self, post_request};
use bulwark_bench::{machine, pin_current_thread, row, HEADER};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "bench-webhook-token-0123456789";
const PATH: &str = "/api/v1/webhooks/tradingview/bench-webhook-token-0123456789";
const CONNECTIONS: usize = 64;
const RATES: [u64; 3] = [1_000, 5_000, 20_000];

fn gateway_config(dir: &std::path::Path, durability: &str) -> String {
    format!(
        r#"
[gateway]
data_dir = "{}"
http_listen = "127.0.0.1:0"
tokio_worker_threads = 1
idle_spin_us = 0
inbound_ring_capacity = 65536
open_orders_max = 2000000

[journal]
durability = "{durability}"
segment_bytes = 268435456

[limits.default]
throttle_orders_max = 0
reference_max_age_ms = 0
dup_window_ms = 0
wash = false

[[accounts]]
name = "BENCH-1"
initial_balance_usd = 10000000000

[[symbols]]
name = "AAPL"
calendar = "ALWAYS"

[[webhooks]]
name = "bench"
token = "{TOKEN}"
secret = "bench-secret"
account = "BENCH-1"
allow_ips = ["127.0.0.1"]
"#,
        dir.display()
    )
}

fn signal(n: u64) -> String {
    format!(
        r#"{{"ticker":"AAPL","action":"add","sentiment":"long","quantity":"1","secret":"bench-secret","orderId":"b{n}"}}"#
    )
}

/// Starts this binary in a server mode, pinned to core 0 when `taskset` exists; returns it and its address.
fn spawn_server(args: &[&str], wrap_env: Option<&str>) -> (Child, SocketAddr) {
    let me = std::env::current_exe().expect("own path");
    let pinned = Command::new("taskset").arg("-V").output().is_ok();
    // BENCH_GATEWAY_WRAP="perf record -g -o /tmp/perf.data" profiles the gateway.
    let wrap: Vec<String> = wrap_env
        .map_or(Err(std::env::VarError::NotPresent), std::env::var)
        .map(|w| w.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let mut cmd = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).args(&wrap).arg(me);
        c
    } else if let Some((first, rest)) = wrap.split_first() {
        let mut c = Command::new(first);
        c.args(rest).arg(me);
        c
    } else {
        Command::new(me)
    };
    let mut child = cmd
        .args(args)
        .env("BULWARK_LOG", "warn,bulwark_gateway::server=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let addr = bulwark_bench::listen_address(&mut child, "server")
        .parse()
        .expect("address");
    (child, addr)
}

fn serve_baseline(body_bytes: usize) {
    use axum::routing::post;
    let body: &'static str = Box::leak(
        format!(
            "{{\"success\":true,\"pad\":\"{}\"}}",
            "x".repeat(body_bytes.saturating_sub(27))
        )
        .into_boxed_str(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let app = axum::Router::new().route(
            "/api/v1/webhooks/tradingview/{token}",
            post(move |_body: axum::body::Bytes| async move {
                (
                    axum::http::StatusCode::ACCEPTED,
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        eprintln!(
            "baseline listening on http://{}",
            listener.local_addr().expect("addr")
        );
        axum::serve(listener, app).await.expect("serve");
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--serve-gateway") => return bulwark_bench::serve_gateway(&args[2]),
        Some("--serve-baseline") => return serve_baseline(args[2].parse().expect("bytes")),
        _ => {}
    }
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let durability = args.get(2).cloned().unwrap_or_else(|| "sync".into());
    let closed_connections: usize = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(CONNECTIONS);
    // The generator's threads run on core 1, the servers on core 0.
    pin_current_thread(1);

    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("bench.toml");
    std::fs::write(&cfg, gateway_config(&dir.path().join("data"), &durability)).expect("config");
    let (mut gw, gw_addr) = spawn_server(
        &["--serve-gateway", cfg.to_str().expect("utf-8 path")],
        Some("BENCH_GATEWAY_WRAP"),
    );
    let (st, _) = http_load::one_shot(
        gw_addr,
        &post_request("/api/v1/prices", r#"{"symbol":"AAPL","price":"200"}"#),
    )
    .expect("price");
    assert_eq!(st, 200, "reference price accepted");
    let mut next_id = 0u64;
    let mut batch = |n: usize| -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| {
                next_id += 1;
                post_request(PATH, &signal(next_id))
            })
            .collect()
    };
    let (st, sample) = http_load::one_shot(gw_addr, &batch(1)[0]).expect("sample signal");
    assert_eq!(st, 202, "sample signal accepted: {sample}");
    let body_bytes = sample.len();
    let (mut base, base_addr) = spawn_server(&["--serve-baseline", &body_bytes.to_string()], None);

    println!("# webhook_load: {}", machine());
    println!(
        "gateway durability {durability}; {CONNECTIONS} keep-alive connections; {seconds} s per phase; answer body {body_bytes} bytes on both"
    );
    println!();
    println!("## Open loop (latency from the intended send time)");
    println!();
    println!("{HEADER}");
    let mut summary = Vec::new();
    for rate in RATES {
        let n = (rate * seconds) as usize;
        let skip = (rate / 2) as usize; // the first half second warms up
        let dur = Duration::from_secs(seconds + 30);
        let b = http_load::run(
            base_addr,
            &batch(n),
            CONNECTIONS,
            Some(rate),
            dur,
            202,
            skip,
        );
        let g = http_load::run(gw_addr, &batch(n), CONNECTIONS, Some(rate), dur, 202, skip);
        println!(
            "{}",
            row(&format!("baseline: plain axum, {rate}/s"), &b.latency)
        );
        println!("{}", row(&format!("gateway webhook, {rate}/s"), &g.latency));
        summary.push(format!(
            "{rate}/s: p50 {:.2}x, p99 {:.2}x, p99.9 {:.2}x; errors baseline {} gateway {}; achieved {:.0}/s and {:.0}/s",
            g.latency.value_at_quantile(0.5) as f64 / b.latency.value_at_quantile(0.5) as f64,
            g.latency.value_at_quantile(0.99) as f64 / b.latency.value_at_quantile(0.99) as f64,
            g.latency.value_at_quantile(0.999) as f64 / b.latency.value_at_quantile(0.999) as f64,
            b.errors,
            g.errors,
            b.sent as f64 / b.elapsed.as_secs_f64(),
            g.sent as f64 / g.elapsed.as_secs_f64(),
        ));
    }
    println!();
    println!("ratio gateway/baseline:");
    for s in &summary {
        println!("    {s}");
    }
    println!();
    println!("## Closed loop ({closed_connections} connections, server on one core)");
    println!();
    let dur = Duration::from_secs(seconds);
    let pool = 100_000 * seconds as usize;
    let b = http_load::run(
        base_addr,
        &batch(pool),
        closed_connections,
        None,
        dur,
        202,
        0,
    );
    let g = http_load::run(gw_addr, &batch(pool), closed_connections, None, dur, 202, 0);
    let tput = |r: &http_load::LoadResult| r.sent as f64 / r.elapsed.as_secs_f64();
    println!(
        "closed-loop throughput: baseline {:.0} req/s ({} errors), gateway {:.0} req/s ({} errors); ratio {:.2}x",
        tput(&b),
        b.errors,
        tput(&g),
        g.errors,
        tput(&b) / tput(&g)
    );
    println!("{HEADER}");
    println!("{}", row("baseline closed-loop", &b.latency));
    println!("{}", row("gateway closed-loop", &g.latency));
    // SIGINT: the gateway shuts down cleanly (and a profiler wrapping it writes its data).
    for child in [&gw, &base] {
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
    }
    let _ = gw.wait();
    let _ = base.wait();
}
