//! Test harness: starts the real `bulwark` binary on an ephemeral port with its own data dir, talks HTTP to it,
//! and kills it with SIGKILL or stops it with SIGTERM. Shared by the end-to-end tests.
#![allow(dead_code)]

pub mod fix;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_bulwark");

/// A config for tests: the demo catalog, small segments so that rollover happens, the given durability.
pub fn test_config(data_dir: &Path, durability: &str) -> String {
    format!(
        r#"
[gateway]
data_dir = "{}"
http_listen = "127.0.0.1:0"
tokio_worker_threads = 2
reply_timeout_ms = 10000

[journal]
durability = "{durability}"
interval_ms = 2
segment_bytes = 1048576

# Risk limits that stay out of the way of a load test: no throttle, no staleness, no duplicate window.
[limits.default]
throttle_orders_max = 0
reference_max_age_ms = 0
dup_window_ms = 0
wash = false

[[accounts]]
name = "DEMO-1"
[[accounts]]
name = "DEMO-2"
[[accounts]]
name = "DEMO-3"

[[symbols]]
name = "AAPL"
[[symbols]]
name = "MSFT"
[[symbols]]
name = "BTCUSD"
qty_decimals = 8
"#,
        data_dir.display()
    )
}

pub struct Gateway {
    pub child: Child,
    pub base: String,
    pub log: Arc<Mutex<String>>,
    pub config_path: PathBuf,
}

impl Gateway {
    /// Starts the binary with `config_path`; waits until it listens (or fails with its log).
    pub fn start(config_path: &Path) -> Gateway {
        Self::try_start(config_path).unwrap_or_else(|log| panic!("gateway did not start:\n{log}"))
    }

    /// Starts the binary; `Err(log)` if it exits before listening.
    pub fn try_start(config_path: &Path) -> Result<Gateway, String> {
        let args = vec!["--config".into(), config_path.as_os_str().to_owned()];
        Self::try_start_args(&args, config_path)
    }

    /// Starts `bulwark run <args>`; `Err(log)` if it exits before listening.
    pub fn try_start_args(
        args: &[std::ffi::OsString],
        config_path: &Path,
    ) -> Result<Gateway, String> {
        let mut child = Command::new(BIN)
            .arg("run")
            .args(args)
            .env("BULWARK_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn bulwark");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let plain = strip_ansi(&line);
                if let Some(addr) = plain.split("listening on http://").nth(1) {
                    let addr = addr.split_whitespace().next().unwrap_or("").to_string();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                let mut l = log2.lock().unwrap();
                l.push_str(&plain);
                l.push('\n');
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => Ok(Gateway {
                child,
                base: format!("http://{addr}"),
                log,
                config_path: config_path.to_path_buf(),
            }),
            Err(_) => {
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                Err(log.lock().unwrap().clone())
            }
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit; returns the exit status success.
    pub fn terminate(mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c2 in chars.by_ref() {
                if c2.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// Sends `body` as-is; returns (status, parsed JSON or Null).
pub fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&str>,
) -> Result<(u16, Value), ureq::Error> {
    let mut resp = match (method, body) {
        ("POST", Some(b)) => agent.post(url).content_type("application/json").send(b)?,
        ("POST", None) => agent.post(url).send_empty()?,
        ("DELETE", _) => agent.delete(url).call()?,
        _ => agent.get(url).call()?,
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

pub fn post(agent: &ureq::Agent, url: &str, body: &str) -> (u16, Value) {
    send(agent, "POST", url, Some(body)).expect("request reaches the gateway")
}

pub fn get(agent: &ureq::Agent, url: &str) -> (u16, Value) {
    send(agent, "GET", url, None).expect("request reaches the gateway")
}

/// Runs `bulwark journal <action> --journal-dir <dir>`; returns (success, stdout lines as JSON).
pub fn journal_tool(action: &str, dir: &Path) -> (bool, Vec<Value>) {
    let out = Command::new(BIN)
        .args(["journal", action, "--journal-dir"])
        .arg(dir)
        .output()
        .expect("run bulwark journal");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
        .collect();
    (out.status.success(), lines)
}

/// Count of journal records of `kind`.
pub fn journal_count(dir: &Path, kind: &str) -> usize {
    let (ok, lines) = journal_tool("dump", dir);
    assert!(ok, "journal dump failed");
    lines.iter().filter(|l| l["kind"] == kind).count()
}

/// A TCP port free right now (for servers such as QuickFIX that cannot report an ephemeral one). It is taken
/// below the kernel's ephemeral range (32768 and up), so that no client socket of a parallel test gets it
/// while a test restarts its gateway.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let start = h.finish();
    for i in 0..2000u64 {
        let port = 20_000 + ((start + i * 7919) % 12_000) as u16;
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000")
}
