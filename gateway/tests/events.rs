//! The event stream against the running binary: a client that disconnects and resumes with `Last-Event-ID`
//! sees no gap and no duplicate (its two halves equal one uninterrupted read), also across a restart; the
//! account filter; a history longer than the client's queue streams whole; control actions appear with their
//! actor.
mod common;
use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::time::Duration;

fn config(data_dir: &std::path::Path) -> String {
    format!(
        r#"
[gateway]
data_dir = "{}"
http_listen = "127.0.0.1:0"

[limits.default]
throttle_orders_max = 0
reference_max_age_ms = 0
dup_window_ms = 0
wash = false

[[accounts]]
name = "A"
[[accounts]]
name = "B"

[[symbols]]
name = "AAPL"

[[tokens]]
name = "risk"
role = "risk_officer"
token = "risk-token-0123456789"
"#,
        data_dir.display()
    )
}

/// An open event stream, read a few events at a time.
struct EventStream {
    lines: std::io::Lines<BufReader<ureq::BodyReader<'static>>>,
}

impl EventStream {
    /// Opens `/api/v1/events{query}`, resuming after `last_id` when given.
    fn open(base: &str, query: &str, last_id: Option<u64>) -> EventStream {
        let a: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        let mut req = a.get(format!("{base}/api/v1/events{query}"));
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.call().expect("stream opens");
        assert_eq!(resp.status().as_u16(), 200);
        EventStream {
            lines: BufReader::new(resp.into_body().into_reader()).lines(),
        }
    }

    /// The next `n` events: (id, event type, data).
    fn take(&mut self, n: usize) -> Vec<(u64, String, Value)> {
        let mut out = Vec::new();
        let (mut id, mut kind) = (0u64, String::new());
        while out.len() < n {
            let line = self
                .lines
                .next()
                .expect("stream open")
                .expect("stream line");
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().unwrap();
            } else if let Some(v) = line.strip_prefix("event:") {
                kind = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                out.push((id, kind.clone(), serde_json::from_str(v.trim()).unwrap()));
            }
        }
        out
    }
}

/// Reads `n` events from the stream: (id, event type, data).
fn read_events(
    base: &str,
    query: &str,
    last_id: Option<u64>,
    n: usize,
) -> Vec<(u64, String, Value)> {
    EventStream::open(base, query, last_id).take(n)
}

fn limit_order(base: &str, account: &str, px: &str) -> u64 {
    let (st, v) = post(
        &agent(),
        &format!("{base}/api/v1/orders"),
        &format!(
            r#"{{"account":"{account}","symbol":"AAPL","side":"buy","qty":1,"type":"limit","limit_price":"{px}","tif":"gtc"}}"#
        ),
    );
    assert_eq!(st, 201, "{v}");
    v["order_id"].as_u64().unwrap()
}

#[test]
fn a_resumed_stream_has_no_gap_and_no_duplicate_also_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bulwark.toml");
    std::fs::write(&cfg, config(&dir.path().join("data"))).unwrap();
    let gw = Gateway::start(&cfg);
    let base = gw.base.clone();
    for px in ["10.00", "11.00", "12.00"] {
        limit_order(&base, "A", px);
    }
    let first = read_events(&base, "", None, 3);
    assert!(first.iter().all(|(_, k, _)| k == "order"), "{first:?}");
    let last = first.last().unwrap().0;

    // While the client is away: more orders, a cancel (request, then the venue's confirmation), a kill trip,
    // and a restart.
    let b = limit_order(&base, "B", "13.00");
    let (st, _) = send(
        &agent(),
        "DELETE",
        &format!("{base}/api/v1/orders/{b}"),
        None,
    )
    .unwrap();
    assert_eq!(st, 202);
    let a: ureq::Agent = agent();
    let mut resp = a
        .post(format!("{base}/api/v1/kill"))
        .header("Authorization", "Bearer risk-token-0123456789")
        .content_type("application/json")
        .send(r#"{"scope":"account","target":"A","mode":"cancel_all","reason":"stream test"}"#)
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.body_mut().read_to_string().unwrap()
    );
    std::thread::sleep(Duration::from_millis(200));
    gw.kill9();
    let gw = Gateway::start(&cfg);
    let base = gw.base.clone();
    limit_order(&base, "B", "14.00");

    // order B, cancel_request, canceled B, control, canceled A x3, order B.
    let rest = read_events(&base, "", Some(last), 8);
    let kinds: Vec<&str> = rest.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "order").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "canceled").count(),
        4,
        "{kinds:?}"
    );
    let control = rest
        .iter()
        .find(|(_, k, _)| k == "control")
        .expect("control event");
    assert_eq!(control.2["actor"], "risk");
    assert_eq!(control.2["reason"], "stream test");
    assert_eq!(control.2["mode"], "cancel_all");
    let cancel = rest
        .iter()
        .find(|(_, k, _)| k == "cancel_request")
        .expect("cancel_request event");
    assert_eq!(cancel.2["ingress"], "rest", "{:?}", cancel.2);
    assert_eq!(cancel.2["accepted"], true);
    assert!(cancel.2.get("client_order_id").is_none(), "{:?}", cancel.2);

    let whole = read_events(&base, "", None, 11);
    let joined: Vec<_> = first.iter().chain(rest.iter()).cloned().collect();
    assert_eq!(
        whole, joined,
        "the two halves equal one read: no gap, no duplicate"
    );
    let ids: Vec<u64> = whole.iter().map(|e| e.0).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // The account filter: only B's events.
    let only_b = read_events(&base, "?account=B", None, 4);
    assert!(
        only_b.iter().all(|(_, _, d)| d["account"] == "B"),
        "{only_b:?}"
    );
    assert_eq!(only_b.last().unwrap().1, "order");
    let (st, v) = get(&agent(), &format!("{base}/api/v1/events?account=Z"));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (404, Some("UNKNOWN_ACCOUNT"))
    );
}

#[test]
fn a_history_longer_than_the_client_queue_streams_whole_in_order_then_goes_live() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bulwark.toml");
    std::fs::write(&cfg, config(&dir.path().join("data"))).unwrap();
    let gw = Gateway::start(&cfg);
    let base = gw.base.clone();
    // More than the 1,024 events the gateway queues per client, so the history has to stream at the client's
    // pace instead of being gathered first.
    const ORDERS: usize = 1_300;
    let mut posted = Vec::new();
    for i in 0..ORDERS {
        let account = if i % 2 == 0 { "A" } else { "B" };
        posted.push(limit_order(
            &base,
            account,
            &format!("{}.{:02}", 10 + i / 100, i % 100),
        ));
    }
    // One stream: the whole history, then an order posted only after the history was read, so it can only
    // arrive live.
    let mut stream = EventStream::open(&base, "", None);
    let mut all = stream.take(ORDERS);
    posted.push(limit_order(&base, "A", "9.00"));
    all.extend(stream.take(1));
    assert!(all.iter().all(|(_, k, _)| k == "order"), "only orders here");
    let ids: Vec<u64> = all.iter().map(|e| e.0).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in journal order");
    let order_ids: Vec<u64> = all
        .iter()
        .map(|(_, _, d)| d["order_id"].as_u64().unwrap())
        .collect();
    assert_eq!(order_ids, posted, "every order once, the live one last");

    let only_b = read_events(&base, "?account=B", None, ORDERS / 2);
    assert!(only_b.iter().all(|(_, _, d)| d["account"] == "B"));
    let b_ids: Vec<u64> = only_b
        .iter()
        .map(|(_, _, d)| d["order_id"].as_u64().unwrap())
        .collect();
    let posted_b: Vec<u64> = posted[..ORDERS]
        .iter()
        .skip(1)
        .step_by(2)
        .copied()
        .collect();
    assert_eq!(b_ids, posted_b);
}

/// Starts the gateway on [`config`] plus `extra`, sets AAPL to 100 and buys 10 at market for account A.
fn start_and_buy_10_at_100(extra: &str) -> (tempfile::TempDir, Gateway) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bulwark.toml");
    let text = config(&dir.path().join("data"));
    std::fs::write(&cfg, format!("{text}{extra}")).unwrap();
    let gw = Gateway::start(&cfg);
    let base = gw.base.clone();
    let (st, _) = post(
        &agent(),
        &format!("{base}/api/v1/prices"),
        r#"{"symbol":"AAPL","price":"100"}"#,
    );
    assert_eq!(st, 200);
    let (st, v) = post(
        &agent(),
        &format!("{base}/api/v1/orders"),
        r#"{"account":"A","symbol":"AAPL","side":"buy","qty":10}"#,
    );
    assert_eq!(st, 201, "{v}");
    (dir, gw)
}

#[test]
fn orders_the_engine_makes_when_flattening_appear_with_their_account() {
    let (dir, gw) = start_and_buy_10_at_100("");
    let base = gw.base.clone();
    let a: ureq::Agent = agent();
    let mut resp = a
        .post(format!("{base}/api/v1/kill"))
        .header("Authorization", "Bearer risk-token-0123456789")
        .content_type("application/json")
        .send(r#"{"scope":"account","target":"A","mode":"flatten","reason":"flatten test"}"#)
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.body_mut().read_to_string().unwrap()
    );
    // order A (buy 10), fill, control, order (the engine's sell 10), its fill.
    let events = read_events(&base, "?account=A", None, 5);
    let kinds: Vec<&str> = events.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["order", "fill", "control", "order", "fill"],
        "{events:?}"
    );
    let flat = &events[3].2;
    assert_eq!(flat["ingress"], "risk");
    assert_eq!(flat["side"], "sell");
    assert_eq!(events[4].2["order_id"], flat["order_id"]);
    assert_eq!(events[4].2["account"], "A");
    let (ok, lines) = journal_tool("dump", &dir.path().join("data").join("journal"));
    assert!(ok);
    assert_eq!(
        lines.iter().filter(|l| l["kind"] == "engine_order").count(),
        1
    );
}

/// With simulated latency the paper venue runs on a thread of its own (without it, the sequencer pumps it):
/// its fill still arrives, after the order, and the position follows.
#[test]
fn a_paper_venue_with_simulated_latency_fills_from_its_own_thread() {
    let (_dir, gw) = start_and_buy_10_at_100("\n[paper]\nlatency_us = 3000\n");
    let base = gw.base.clone();
    let events = read_events(&base, "?account=A", None, 2);
    let kinds: Vec<&str> = events.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(kinds, vec!["order", "fill"], "{events:?}");
    assert_eq!(events[1].2["order_id"], events[0].2["order_id"]);
    let (st, v) = get(&agent(), &format!("{base}/api/v1/positions?account=A"));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["positions"][0]["symbol"], "AAPL", "{v}");
    assert_eq!(v["positions"][0]["qty"], "10", "{v}");
    assert_eq!(v["positions"][0]["avg_price"], "100", "{v}");
}
