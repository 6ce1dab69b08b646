//! An HTTP/1.1 load generator for the edge benchmarks: keep-alive connections on plain blocking sockets, one
//! thread per connection, requests built ahead of time. Open-loop mode sends request `i` at `start + i/rate`
//! (connection `i % connections`) and measures from that intended send time, so a slow answer delays the
//! measurement of every request queued behind it (no coordinated omission). Closed-loop mode sends the next
//! request as soon as the answer arrives.

use hdrhistogram::Histogram;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The outcome of one load phase.
#[derive(Debug)]
pub struct LoadResult {
    /// Latency from intended send time (open loop) or from send (closed loop) to the end of the answer, ns.
    pub latency: Histogram<u64>,
    /// Answers whose status was not the expected one, and transport failures.
    pub errors: u64,
    pub sent: u64,
    pub elapsed: Duration,
    /// Bytes of the last answer's body.
    pub body_bytes: usize,
}

/// Reads one HTTP/1.1 answer (headers and a Content-Length body) from `s`; returns (status, body length).
fn read_answer(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<(u16, usize)> {
    buf.clear();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed mid-body",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, len))
}

/// A POST request with `body`, as bytes on the wire.
pub fn post_request(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends one request on a fresh connection and returns (status, body).
pub fn one_shot(addr: SocketAddr, request: &[u8]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.write_all(request)?;
    let mut buf = Vec::new();
    let (status, len) = read_answer(&mut s, &mut buf)?;
    let body = String::from_utf8_lossy(&buf[buf.len() - len..]).to_string();
    Ok((status, body))
}

/// Runs `requests` against `addr` over `connections` keep-alive connections. `rate_per_s` = Some(r) paces
/// open-loop; None runs closed-loop for `duration`. `skip` first requests (warm-up) are not recorded.
pub fn run(
    addr: SocketAddr,
    requests: &[Vec<u8>],
    connections: usize,
    rate_per_s: Option<u64>,
    duration: Duration,
    expect_status: u16,
    skip: usize,
) -> LoadResult {
    let start = Instant::now() + Duration::from_millis(50);
    let results: Vec<(Histogram<u64>, u64, u64, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..connections)
            .map(|c| {
                scope.spawn(move || {
                    let mut h = crate::histogram();
                    let (mut errors, mut sent, mut body_bytes) = (0u64, 0u64, 0usize);
                    let Ok(mut s) = TcpStream::connect(addr) else {
                        return (h, 1, 0, 0);
                    };
                    let _ = s.set_nodelay(true);
                    let mut buf = Vec::with_capacity(16 * 1024);
                    let mut i = c;
                    let deadline = start + duration;
                    while i < requests.len() {
                        let intended = match rate_per_s {
                            Some(r) => {
                                let t =
                                    start + Duration::from_nanos((i as u64) * 1_000_000_000 / r);
                                let now = Instant::now();
                                if t > now {
                                    std::thread::sleep(t - now);
                                }
                                t
                            }
                            None => {
                                let now = Instant::now();
                                if now >= deadline {
                                    break;
                                }
                                now.max(start)
                            }
                        };
                        if s.write_all(&requests[i]).is_err() {
                            errors += 1;
                            break;
                        }
                        sent += 1;
                        match read_answer(&mut s, &mut buf) {
                            Ok((status, len)) => {
                                body_bytes = len;
                                if status != expect_status {
                                    errors += 1;
                                }
                            }
                            Err(_) => {
                                errors += 1;
                                break;
                            }
                        }
                        if i >= skip {
                            let ns = intended.elapsed().as_nanos() as u64;
                            let _ = h.record(ns.max(1));
                        }
                        i += connections;
                    }
                    (h, errors, sent, body_bytes)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("load thread"))
            .collect()
    });
    let elapsed = start.elapsed();
    let mut latency = crate::histogram();
    let (mut errors, mut sent, mut body_bytes) = (0, 0, 0);
    for (h, e, n, b) in results {
        latency.add(&h).expect("same bounds");
        errors += e;
        sent += n;
        body_bytes = body_bytes.max(b);
    }
    LoadResult {
        latency,
        errors,
        sent,
        elapsed,
        body_bytes,
    }
}
