//! A raw-socket FIX client for end-to-end tests: it frames messages itself (BodyLength, CheckSum), so tests
//! control sequence numbers and can send malformed bytes, and it parses what the gateway sends.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub const SOH: char = '\x01';

/// One received message: its fields in order.
#[derive(Clone, Debug)]
pub struct Msg(pub Vec<(u32, String)>);

impl Msg {
    pub fn get(&self, tag: u32) -> Option<&str> {
        self.0
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }
    pub fn msg_type(&self) -> &str {
        self.get(35).unwrap_or("")
    }
    pub fn text(&self) -> String {
        self.0
            .iter()
            .map(|(t, v)| format!("{t}={v}"))
            .collect::<Vec<_>>()
            .join("|")
    }
}

pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u32, |a, b| a + u32::from(*b)) as u8
}

/// Frames `body` (fields after BodyLength) with 8, 9 and 10.
pub fn frame(begin: &str, body: &str) -> Vec<u8> {
    let head = format!("8={begin}{SOH}9={}{SOH}", body.len());
    let mut out = format!("{head}{body}").into_bytes();
    let sum = checksum(&out);
    out.extend_from_slice(format!("10={sum:03}{SOH}").as_bytes());
    out
}

/// The wall clock as a chrono time (the workspace builds chrono without its clock feature).
pub fn utc_now() -> chrono::DateTime<chrono::Utc> {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    chrono::DateTime::from_timestamp_nanos(ns)
}

pub fn sending_time() -> String {
    utc_now().format("%Y%m%d-%H:%M:%S%.3f").to_string()
}

pub struct FixClient {
    pub stream: TcpStream,
    pub begin: String,
    /// The client's CompID (the gateway's TargetCompID).
    pub me: String,
    pub gateway: String,
    pub next_seq: u64,
    buf: Vec<u8>,
    /// Every message received, in order.
    pub received: Vec<Msg>,
}

impl FixClient {
    pub fn connect(port: u16, begin: &str, me: &str, gateway: &str) -> FixClient {
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot connect to the FIX port {port}: {e}"),
            }
        };
        stream.set_nodelay(true).unwrap();
        FixClient {
            stream,
            begin: begin.into(),
            me: me.into(),
            gateway: gateway.into(),
            next_seq: 1,
            buf: Vec::new(),
            received: Vec::new(),
        }
    }

    /// Sends an application or admin message with a correct header; returns its MsgSeqNum.
    pub fn send(&mut self, msg_type: &str, fields: &[(u32, &str)]) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut body = format!(
            "35={msg_type}{SOH}49={}{SOH}56={}{SOH}34={seq}{SOH}52={}{SOH}",
            self.me,
            self.gateway,
            sending_time()
        );
        for (t, v) in fields {
            body.push_str(&format!("{t}={v}{SOH}"));
        }
        let bytes = frame(&self.begin, &body);
        self.send_raw(&bytes);
        seq
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Logon with HeartBtInt `hb` seconds; waits for the gateway's Logon.
    pub fn logon(&mut self, hb: u32) -> Msg {
        let hb = hb.to_string();
        self.send("A", &[(98, "0"), (108, &hb)]);
        self.expect(|m| m.msg_type() == "A", "Logon")
    }

    /// Connects again after a drop or a restart, continuing our sequence numbers from `next_seq`, and logs on.
    pub fn reconnect(
        port: u16,
        begin: &str,
        me: &str,
        gateway: &str,
        next_seq: u64,
    ) -> (FixClient, Msg) {
        let mut c = FixClient::connect(port, begin, me, gateway);
        c.next_seq = next_seq;
        let logon = c.logon(30);
        (c, logon)
    }

    /// Sends a ResendRequest for everything from sequence number `from`.
    pub fn resend_from(&mut self, from: u64) {
        let from = from.to_string();
        self.send("2", &[(7, &from), (16, "0")]);
    }

    /// Reads the next message within `timeout`; `None` on timeout or a closed connection. Answers
    /// TestRequests (so the session stays up) and records everything.
    pub fn recv(&mut self, timeout: Duration) -> Option<Msg> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self.parse_one() {
                if m.msg_type() == "1" {
                    let id = m.get(112).unwrap_or("").to_string();
                    self.send("0", &[(112, &id)]);
                }
                self.received.push(m.clone());
                return Some(m);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return None
                }
                Err(_) => return None,
            }
        }
    }

    /// Waits up to 10 s for a message matching `pred`, skipping heartbeats and others.
    pub fn expect(&mut self, pred: impl Fn(&Msg) -> bool, what: &str) -> Msg {
        self.try_expect(pred, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no {what} from the gateway; got: {:#?}", self.texts()))
    }

    pub fn try_expect(&mut self, pred: impl Fn(&Msg) -> bool, timeout: Duration) -> Option<Msg> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match self.recv(left) {
                Some(m) if pred(&m) => return Some(m),
                Some(_) => {}
                None => return None,
            }
        }
    }

    /// Whether the gateway closed the connection within `timeout` (anything received meanwhile is kept).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self.parse_one() {
                self.received.push(m);
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
    }

    pub fn texts(&self) -> Vec<String> {
        self.received.iter().map(Msg::text).collect()
    }

    fn parse_one(&mut self) -> Option<Msg> {
        // A message ends with "10=nnn<SOH>" after the body length says.
        let start = find(&self.buf, b"8=FIX")?;
        if start > 0 {
            self.buf.drain(..start);
        }
        let text = std::str::from_utf8(&self.buf).ok().or_else(|| {
            // Only ASCII is expected; take the valid prefix.
            None
        })?;
        let b9 = text.find("\x019=")? + 3;
        let e9 = b9 + text[b9..].find(SOH)?;
        let len: usize = text[b9..e9].parse().ok()?;
        let body_start = e9 + 1;
        let end = body_start + len + 7;
        if self.buf.len() < end {
            return None;
        }
        let raw: String = text[..end].to_string();
        self.buf.drain(..end);
        let fields = raw
            .split(SOH)
            .filter(|f| !f.is_empty())
            .filter_map(|f| {
                let (t, v) = f.split_once('=')?;
                Some((t.parse().ok()?, v.to_string()))
            })
            .collect();
        Some(Msg(fields))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A NewOrderSingle's fields (4.4; add 21 for 4.2).
pub fn nos<'a>(
    cl: &'a str,
    account: &'a str,
    side: &'a str,
    qty: &'a str,
    px: Option<&'a str>,
    tif: &'a str,
) -> Vec<(u32, String)> {
    let mut f = vec![
        (11, cl.to_string()),
        (1, account.to_string()),
        (55, "AAPL".to_string()),
        (54, side.to_string()),
        (60, sending_time()),
        (38, qty.to_string()),
        (40, if px.is_some() { "2" } else { "1" }.to_string()),
    ];
    if let Some(px) = px {
        f.push((44, px.to_string()));
    }
    f.push((59, tif.to_string()));
    f
}

pub fn refs(f: &[(u32, String)]) -> Vec<(u32, &str)> {
    f.iter().map(|(t, v)| (*t, v.as_str())).collect()
}
