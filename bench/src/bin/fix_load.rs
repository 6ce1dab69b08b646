//! FIX under open-loop load: a client sends NewOrderSingle (limit, FIX 4.4) at a fixed rate (1k, 5k, 10k
//! orders/s) and measures NewOrderSingle -> first ExecutionReport for that ClOrdID from the *intended* send
//! time (a late send counts its lateness: no coordinated omission). Against, in the same run:
//! - the baseline: QuickFIX's own executor example (Debian `libquickfix-doc` sources, built against
//!   `libquickfix-dev`), which answers every order at once with a fill, no risk and no journal;
//! - the gateway: ER(New) after the risk chain, the journal (durability as given) and the paper venue's ack.
//!
//! Each server is a child process pinned to core 0 (`taskset`), started fresh for every round; the client's
//! writer and reader run on core 1. A rate runs in rounds that alternate the two servers (executor, gateway,
//! executor, ...), so that a stretch of host noise falls on both rather than on whichever ran then; the table
//! pools each server's rounds, and each round's ratio is printed too.
//! Each row also gives the server process's CPU time (all threads, user and system, from `/proc`) from the
//! first order to the last answer, per order answered: at 10k/s both servers share core 0 with little to
//! spare, and this is the figure the latency follows. `FIX_LOAD_THREAD_POLICY=normal` runs the gateway with
//! `[gateway] thread_policy = "normal"` (for an A/B against the default).
//! Usage: `fix_load [seconds_per_round] [durability] [rounds]` (default 5, sync, 1).

use bulwark_bench::{histogram, machine, pin_current_thread};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RATES: [u64; 3] = [1_000, 5_000, 10_000];
const SOH: char = '\x01';

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("ephemeral port")
}

/// Builds QuickFIX's executor example from Debian's sources (installing the packages if missing and root).
fn build_executor(out: &Path) -> PathBuf {
    let exe = out.join("executor");
    if exe.exists() {
        return exe;
    }
    let src = Path::new("/usr/share/doc/libquickfix-doc/examples/executor/C++");
    if !src.exists() || !Path::new("/usr/include/quickfix/Session.h").exists() {
        let ok = Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-qq",
                "libquickfix-dev",
                "libquickfix-doc",
                "g++",
            ])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "install libquickfix-dev and libquickfix-doc (apt-get install -y libquickfix-dev libquickfix-doc)"
        );
    }
    std::fs::create_dir_all(out).expect("create the executor build dir");
    for f in ["executor.cpp", "Application.h"] {
        std::fs::copy(src.join(f), out.join(f)).expect("copy the executor sources");
    }
    let app = Command::new("zcat")
        .arg(src.join("Application.cpp.gz"))
        .output()
        .expect("zcat");
    std::fs::write(out.join("Application.cpp"), app.stdout).expect("write Application.cpp");
    std::fs::write(out.join("config.h"), "").expect("write config.h");
    // The 1.15 headers use dynamic exception specifications, which C++17 removed.
    let ok = Command::new("g++")
        .current_dir(out)
        .args([
            "-O2",
            "-std=c++11",
            "-w",
            "-I.",
            "executor.cpp",
            "Application.cpp",
            "-o",
            "executor",
            "-lquickfix",
            "-lpthread",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "building the QuickFIX executor failed");
    exe
}

fn start_executor(exe: &Path, dir: &Path, port: u16) -> Child {
    let cfg = dir.join("executor.cfg");
    std::fs::write(
        &cfg,
        format!(
            "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort={port}\nSocketReuseAddress=Y\nSocketNodelay=Y\n\
             StartTime=00:00:00\nEndTime=00:00:00\nFileStorePath={}\nUseDataDictionary=N\n\
             ScreenLogShowIncoming=N\nScreenLogShowOutgoing=N\nScreenLogShowEvents=N\n\n\
             [SESSION]\nBeginString=FIX.4.4\nSenderCompID=EXECUTOR\nTargetCompID=BENCH\n",
            dir.join("store").display()
        ),
    )
    .expect("write the executor's settings");
    Command::new("taskset")
        .args(["-c", "0"])
        .arg(exe)
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn executor")
}

fn start_gateway(dir: &Path, port: u16, durability: &str) -> (Child, String) {
    let cfg = dir.join("bulwark.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[gateway]
data_dir = "{}"
http_listen = "127.0.0.1:0"
tokio_worker_threads = 1
# Every server thread shares core 0 here: a spinning sequencer would steal it from QuickFIX.
idle_spin_us = 0
{thread_policy}
[journal]
durability = "{durability}"
[limits.default]
max_order_qty = 1000000
max_position = 1000000000
max_notional_usd = 1000000000
reference_max_age_ms = 0
throttle_orders_max = 0
dup_window_ms = 0
wash = false
[[accounts]]
name = "BENCH"
initial_balance_usd = 1000000000
[[symbols]]
name = "AAPL"
calendar = "ALWAYS"
[fix]
port = {port}
[[fix.sessions]]
begin_string = "FIX.4.4"
sender_comp_id = "BULWARK"
target_comp_id = "BENCH"
accounts = ["BENCH"]
"#,
            dir.join("data").display(),
            thread_policy = std::env::var("FIX_LOAD_THREAD_POLICY")
                .map(|p| format!("thread_policy = \"{p}\""))
                .unwrap_or_default(),
        ),
    )
    .expect("write the gateway config");
    let me = std::env::current_exe().expect("path of this binary");
    let mut child = Command::new("taskset")
        .args(["-c", "0"])
        .arg(me)
        .arg("--serve-gateway")
        .arg(&cfg)
        .env("BULWARK_LOG", "warn,bulwark_gateway::server=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gateway");
    let http = bulwark_bench::listen_address(&mut child, "gateway");
    (child, http)
}

/// A reference price, so the collar has something to check against.
fn post_price(http: &str) {
    let body = r#"{"symbol":"AAPL","price":"190.00"}"#;
    let mut s = TcpStream::connect(http).expect("gateway http");
    write!(
        s,
        "POST /api/v1/prices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the reference price");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 2"), "price post: {out}");
}

fn frame(body: &str) -> Vec<u8> {
    let head = format!("8=FIX.4.4{SOH}9={}{SOH}", body.len());
    let mut out = format!("{head}{body}").into_bytes();
    let sum = out.iter().fold(0u32, |a, b| a + u32::from(*b)) as u8;
    out.extend_from_slice(format!("10={sum:03}{SOH}").as_bytes());
    out
}

fn utc_stamp() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as i64;
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%Y%m%d-%H:%M:%S%.3f")
        .to_string()
}

struct RunResult {
    hist: hdrhistogram::Histogram<u64>,
    sent: u64,
    answered: u64,
    errors: u64,
    /// CPU time the server process used (all its threads, user and system) from the first order to the last
    /// answer.
    server_cpu_ns: u64,
}

/// CPU time used so far by process `pid`, all threads, user plus system (`/proc/PID/stat` fields 14 and 15).
fn process_cpu_ns(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0;
    };
    // Fields after the command's closing parenthesis start at field 3.
    let ticks: u64 = after
        .split_whitespace()
        .skip(14 - 3)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks * 1_000_000_000 / rustix::param::clock_ticks_per_second()
}

/// One open-loop run against a server on `port` whose CompID is `server` (process `pid`).
fn run(port: u16, server: &str, pid: u32, rate: u64, seconds: u64) -> RunResult {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("connect {port}: {e}"),
        }
    };
    s.set_nodelay(true).expect("TCP_NODELAY");
    let header =
        |seq: u64, t: &str| format!("49=BENCH{SOH}56={server}{SOH}34={seq}{SOH}52={t}{SOH}");
    let logon = format!("35=A{SOH}{}98=0{SOH}108=30{SOH}", header(1, &utc_stamp()));
    s.write_all(&frame(&logon)).expect("send Logon");
    let mut reader = s.try_clone().expect("clone the socket for the reader");
    // Wait for the Logon answer.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    while !String::from_utf8_lossy(&buf).contains("35=A\x01") {
        let n = reader.read(&mut chunk).expect("logon answer");
        assert!(n > 0, "server closed during logon");
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.clear();
    let n = rate * seconds;
    let period_ns = 1_000_000_000 / rate;
    let start = Instant::now() + Duration::from_millis(100);
    let answered = Arc::new(AtomicU64::new(0));
    let answered2 = answered.clone();
    let cpu_start = process_cpu_ns(pid);
    let reader_thread = std::thread::spawn(move || {
        let mut hist = histogram();
        let mut seen = vec![false; n as usize];
        let mut errors = 0u64;
        let mut pending = String::new();
        reader
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set the read timeout");
        let mut got = 0u64;
        while got < n {
            let k = match reader.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(k) => k,
            };
            let now = Instant::now();
            pending.push_str(&String::from_utf8_lossy(&chunk[..k]));
            while let Some(end) = pending
                .find("\x0110=")
                .and_then(|i| pending[i + 4..].find(SOH).map(|j| i + 4 + j + 1))
            {
                let msg: String = pending.drain(..end).collect();
                if !msg.contains("\x0135=8\x01") {
                    continue;
                }
                let Some(id) = msg
                    .split(SOH)
                    .find_map(|f| f.strip_prefix("11="))
                    .and_then(|v| v.parse::<u64>().ok())
                else {
                    continue;
                };
                if id >= n || seen[id as usize] {
                    continue;
                }
                seen[id as usize] = true;
                got += 1;
                if msg.contains("\x01150=8\x01") {
                    errors += 1;
                }
                let intended = start + Duration::from_nanos(id * period_ns);
                hist.record(now.saturating_duration_since(intended).as_nanos().max(1) as u64)
                    .ok();
                answered2.store(got, Ordering::Relaxed);
            }
        }
        (hist, errors)
    });
    for i in 0..n {
        let intended = start + Duration::from_nanos(i * period_ns);
        let now = Instant::now();
        if intended > now {
            let wait = intended - now;
            if wait > Duration::from_micros(200) {
                std::thread::sleep(wait - Duration::from_micros(100));
            }
            bulwark_bench::spin_until(intended);
        }
        let t = utc_stamp();
        let body = format!(
            "35=D{SOH}{}11={i}{SOH}1=BENCH{SOH}55=AAPL{SOH}54=1{SOH}60={t}{SOH}38=1{SOH}40=2{SOH}44=1.00{SOH}59=0{SOH}",
            header(i + 2, &t)
        );
        if s.write_all(&frame(&body)).is_err() {
            break;
        }
    }
    let (hist, errors) = reader_thread.join().expect("reader thread");
    let server_cpu_ns = process_cpu_ns(pid).saturating_sub(cpu_start);
    let answered = answered.load(Ordering::Relaxed);
    RunResult {
        hist,
        sent: n,
        answered,
        errors: errors + (n - answered),
        server_cpu_ns,
    }
}

impl RunResult {
    /// Adds another round's orders to these.
    fn absorb(&mut self, other: RunResult) {
        self.hist
            .add(&other.hist)
            .expect("histograms of the same bounds");
        self.sent += other.sent;
        self.answered += other.answered;
        self.errors += other.errors;
        self.server_cpu_ns += other.server_cpu_ns;
    }
}

/// The two servers, in the order each round runs them.
const SERVERS: [&str; 2] = ["quickfix-executor", "bulwark"];

/// One round against server `k` of [`SERVERS`], started fresh in its own directory and stopped after.
fn run_fresh(k: usize, exe: &Path, durability: &str, rate: u64, seconds: u64) -> RunResult {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let (mut child, server) = if k == 0 {
        (start_executor(exe, dir.path(), port), "EXECUTOR")
    } else {
        let (c, http) = start_gateway(dir.path(), port, durability);
        post_price(&http);
        (c, "BULWARK")
    };
    let r = run(port, server, child.id(), rate, seconds);
    let _ = child.kill();
    let _ = child.wait();
    r
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve-gateway") {
        return bulwark_bench::serve_gateway(&args[2]);
    }
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let durability = args.get(2).cloned().unwrap_or_else(|| "sync".into());
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let machine = machine();
    // The client's threads, spawned after this, start on core 1 too.
    pin_current_thread(1);
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let exe = build_executor(&Path::new(&target).join("bench-quickfix-executor"));
    println!("# fix_load: {machine}");
    println!(
        "open loop, {rounds} round(s) of {seconds} s per rate and server (executor then gateway, alternating), limit NewOrderSingle FIX 4.4 -> first ExecutionReport, gateway durability `{durability}`; servers pinned to core 0, client on core 1\n"
    );
    println!("| rate/s | server | sent | answered | errors | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | server CPU µs/order |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    // FIX_LOAD_RATES="10000" runs only those rates (for profiling); the published run uses all three.
    let rates: Vec<u64> = std::env::var("FIX_LOAD_RATES")
        .map(|v| v.split(',').filter_map(|r| r.trim().parse().ok()).collect())
        .unwrap_or_else(|_| RATES.to_vec());
    for rate in rates {
        // Per server: the rounds' results pooled, and each round's p50.
        let mut pooled: [Option<RunResult>; 2] = [None, None];
        let mut round_p50 = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for k in 0..2 {
                let r = run_fresh(k, &exe, &durability, rate, seconds);
                round_p50[k].push(r.hist.value_at_quantile(0.5));
                match &mut pooled[k] {
                    Some(p) => p.absorb(r),
                    None => pooled[k] = Some(r),
                }
            }
        }
        let mut p50 = [0u64; 2];
        let mut cpu_per_order = [0f64; 2];
        for (k, name) in SERVERS.iter().enumerate() {
            let r = pooled[k].as_ref().expect("at least one round");
            let h = &r.hist;
            p50[k] = h.value_at_quantile(0.5);
            cpu_per_order[k] = r.server_cpu_ns as f64 / r.answered.max(1) as f64;
            println!(
                "| {rate} | {name} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
                r.sent,
                r.answered,
                r.errors,
                us(h.value_at_quantile(0.5)),
                us(h.value_at_quantile(0.9)),
                us(h.value_at_quantile(0.99)),
                us(h.value_at_quantile(0.999)),
                us(h.max()),
                r.server_cpu_ns as f64 / 1000.0 / r.answered.max(1) as f64
            );
        }
        let per_round: Vec<f64> = round_p50[0]
            .iter()
            .zip(&round_p50[1])
            .map(|(e, g)| *g as f64 / (*e).max(1) as f64)
            .collect();
        ratios.push((
            rate,
            p50[1] as f64 / p50[0].max(1) as f64,
            per_round,
            cpu_per_order[1] / cpu_per_order[0].max(1.0),
        ));
    }
    println!();
    for (rate, r, per_round, cpu) in ratios {
        let mut sorted = per_round.clone();
        sorted.sort_by(f64::total_cmp);
        let listed: Vec<String> = per_round.iter().map(|x| format!("{x:.2}")).collect();
        println!(
            "p50 ratio bulwark / quickfix-executor at {rate}/s: {r:.2}x (rounds pooled); per round {} (median {:.2}x); server CPU per order {cpu:.2}x",
            listed.join(", "),
            sorted[sorted.len() / 2]
        );
    }
}
