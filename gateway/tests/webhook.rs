//! TradingView webhook relay, end to end over real HTTP against the running binary: spec vectors W-1 to W-10,
//! authentication, the allowlist, copy trading across five differently sized accounts, and a duplicate
//! delivery recognised after `kill -9` and restart. Signal times are taken relative to the test's clock
//! (the vectors' 15:00:01Z received at 15:00:02Z becomes "one second ago").
mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "test-token-0123456789";
const COPY_TOKEN: &str = "copy-token-0123456789";
const TV_IP: &str = "52.89.214.238";

fn config(data_dir: &Path) -> String {
    format!(
        r#"
[gateway]
data_dir = "{}"
http_listen = "127.0.0.1:0"
tokio_worker_threads = 2

[journal]
durability = "sync"

[limits.default]
throttle_orders_max = 0
reference_max_age_ms = 0
dup_window_ms = 0
wash = false

[limits.small]
throttle_orders_max = 0
reference_max_age_ms = 0
dup_window_ms = 0
wash = false
max_position = 50

[[accounts]]
name = "DEMO-1"
initial_balance_usd = 100000
[[accounts]]
name = "C1"
initial_balance_usd = 100000
[[accounts]]
name = "C2"
initial_balance_usd = 100000
[[accounts]]
name = "C3"
initial_balance_usd = 100000
[[accounts]]
name = "C4"
initial_balance_usd = 100000
[[accounts]]
name = "C5"
initial_balance_usd = 100000
limits = "small"

[[symbols]]
name = "AAPL"
[[symbols]]
name = "NQZ2026"
calendar = "ALWAYS"
asset_class = "future"
multiplier = 20

# TradingView's default allowlist; the test client is a trusted proxy that forwards the sender's address.
[[webhooks]]
name = "tv"
token = "{TOKEN}"
secret = "ok"
account = "DEMO-1"
strategy = "w-vectors"
trusted_proxies = ["127.0.0.1"]
symbols = {{ "NASDAQ:AAPL" = "AAPL", "NQ1!" = "NQZ2026" }}

[[copy_groups]]
name = "five"
members = [
  {{ account = "C1", sizing = "signal" }},
  {{ account = "C2", sizing = "fixed", value = 7 }},
  {{ account = "C3", sizing = "multiplier", value = 3 }},
  {{ account = "C4", sizing = "dollar_amount", value = 2000 }},
  {{ account = "C5", sizing = "percent_of_equity", value = 10 }},
]

[[webhooks]]
name = "copy"
token = "{COPY_TOKEN}"
copy_group = "five"
add_on_same_side = true
trusted_proxies = ["127.0.0.1"]
"#,
        data_dir.display()
    )
}

struct Setup {
    _dir: tempfile::TempDir,
    cfg: std::path::PathBuf,
    journal: std::path::PathBuf,
    gw: Gateway,
}

fn start() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bulwark.toml");
    std::fs::write(&cfg, config(&dir.path().join("data"))).unwrap();
    let gw = Gateway::start(&cfg);
    let journal = dir.path().join("data").join("journal");
    Setup {
        _dir: dir,
        cfg,
        journal,
        gw,
    }
}

/// Posts an alert the way TradingView (through the test's proxy) would: from `ip`, with `content_type`.
fn deliver(
    base: &str,
    token: &str,
    ip: Option<&str>,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let a = agent();
    let mut req = a
        .post(format!("{base}/api/v1/webhooks/tradingview/{token}"))
        .content_type(content_type);
    if let Some(ip) = ip {
        req = req.header("X-Forwarded-For", ip);
    }
    let mut resp = req.send(body).expect("request reaches the gateway");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn tv(base: &str, body: &str) -> (u16, Value) {
    deliver(base, TOKEN, Some(TV_IP), "application/json", body)
}

/// An RFC 3339 time `secs_ago` seconds before now, as `{{timenow}}` writes it.
fn time_ago(secs_ago: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    chrono::DateTime::from_timestamp(now - secs_ago, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn set_price(base: &str, symbol: &str, px: &str) {
    let (st, v) = post(
        &agent(),
        &format!("{base}/api/v1/prices"),
        &format!(r#"{{"symbol":"{symbol}","price":"{px}"}}"#),
    );
    assert_eq!(st, 200, "{v}");
}

fn position(base: &str, account: &str, symbol: &str) -> String {
    let (_, v) = get(
        &agent(),
        &format!("{base}/api/v1/positions?account={account}"),
    );
    v["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["symbol"] == symbol)
        .map_or("0".to_string(), |p| p["qty"].as_str().unwrap().to_string())
}

fn wait_position(base: &str, account: &str, symbol: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = position(base, account, symbol);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{account} {symbol}: position {got}, want {want}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn orders(base: &str, account: &str) -> Vec<Value> {
    let (_, v) = get(&agent(), &format!("{base}/api/v1/orders?account={account}"));
    v["orders"].as_array().unwrap().clone()
}

fn rest_buy(base: &str, account: &str, qty: u32) {
    let (st, v) = post(
        &agent(),
        &format!("{base}/api/v1/orders"),
        &format!(r#"{{"account":"{account}","symbol":"AAPL","side":"buy","qty":{qty}}}"#),
    );
    assert_eq!(st, 201, "{v}");
}

/// No signal, order or cancel reached the journal (the boot record and timers may have).
fn assert_nothing_journaled(journal: &Path) {
    for kind in ["signal", "new_order", "cancel_order"] {
        assert_eq!(journal_count(journal, kind), 0, "{kind} records");
    }
}

fn w1_body() -> String {
    format!(
        r#"{{"ticker":"AAPL","action":"buy","quantity":"10","secret":"ok","time":"{}"}}"#,
        time_ago(1)
    )
}

#[test]
fn w_1_buy_from_tradingview_enters_the_pipeline() {
    let s = start();
    set_price(&s.gw.base, "AAPL", "200");
    let (st, v) = tv(&s.gw.base, &w1_body());
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(v["duplicate"], false);
    let acct = &v["accounts"][0];
    assert_eq!(acct["account"], "DEMO-1");
    assert_eq!(acct["status"], "accepted", "{v}");
    let o = &acct["orders"][0];
    assert_eq!(
        (o["side"].as_str(), o["qty"].as_str()),
        (Some("buy"), Some("10"))
    );
    assert_eq!(o["symbol"], "AAPL");
    assert_eq!(o["ingress"], "webhook");
    assert_eq!(o["role"], "entry");
    wait_position(&s.gw.base, "DEMO-1", "AAPL", "10");
    assert_eq!(journal_count(&s.journal, "signal"), 1);
}

#[test]
fn w_2_a_sender_off_the_allowlist_is_forbidden_and_nothing_is_persisted() {
    let s = start();
    let (st, v) = deliver(
        &s.gw.base,
        TOKEN,
        Some("203.0.113.5"),
        "application/json",
        &w1_body(),
    );
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["error"]["code"], "IP_NOT_ALLOWED");
    // Without the proxy's header the sender is the loopback peer, which is not TradingView either.
    let (st, _) = deliver(&s.gw.base, TOKEN, None, "application/json", &w1_body());
    assert_eq!(st, 403);
    // X-Forwarded-For from an untrusted peer is not believed: the copy webhook trusts loopback, so make the
    // header claim loopback is TradingView's proxy... the peer decides, and a forged chain changes nothing.
    let (st, _) = deliver(
        &s.gw.base,
        TOKEN,
        Some(&format!("{TV_IP}, 203.0.113.5")),
        "application/json",
        &w1_body(),
    );
    assert_eq!(st, 403, "the right-most untrusted address is the sender");
    assert_nothing_journaled(&s.journal);
    assert!(orders(&s.gw.base, "DEMO-1").is_empty());
}

#[test]
fn w_3_an_invalid_action_is_refused_with_traderspost_wording() {
    let s = start();
    let (st, v) = tv(&s.gw.base, r#"{"ticker":"NQ","action":"bu","secret":"ok"}"#);
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["messageCode"], "invalid-action");
    assert_eq!(
        v["message"],
        "Invalid action provided. Action must be one of: buy, sell, exit, cancel, add."
    );
    assert_eq!(v["success"], false);
}

#[test]
fn w_4_ticker_and_action_are_required() {
    let s = start();
    let (st, v) = tv(&s.gw.base, r#"{"action":"buy"}"#);
    assert_eq!(st, 400, "{v}");
    assert_eq!(
        v["message"],
        "The payload is invalid. Both the action and ticker fields are required."
    );
    assert_eq!(v["messageCode"], "invalid-payload");
}

#[test]
fn w_5_a_text_plain_body_is_parsed_as_json() {
    let s = start();
    set_price(&s.gw.base, "AAPL", "200");
    rest_buy(&s.gw.base, "DEMO-1", 10);
    wait_position(&s.gw.base, "DEMO-1", "AAPL", "10");
    let (st, v) = deliver(
        &s.gw.base,
        TOKEN,
        Some(TV_IP),
        "text/plain; charset=utf-8",
        r#"{"ticker":"AAPL","action":"sell","secret":"ok"}"#,
    );
    assert_eq!(st, 202, "{v}");
    let o = &v["accounts"][0]["orders"][0];
    assert_eq!(
        (o["side"].as_str(), o["qty"].as_str()),
        (Some("sell"), Some("10"))
    );
    assert_eq!(o["role"], "exit");
    // Real plain text is refused as not JSON, naming the likely cause.
    let (st, v) = deliver(&s.gw.base, TOKEN, Some(TV_IP), "text/plain", "buy 10 AAPL");
    assert_eq!(st, 400);
    assert_eq!(v["error"]["code"], "MALFORMED_JSON");
    assert!(v["message"].as_str().unwrap().contains("text/plain"), "{v}");
}

#[test]
fn w_6_a_repeated_delivery_is_a_duplicate_and_creates_nothing() {
    let s = start();
    set_price(&s.gw.base, "AAPL", "200");
    let body = w1_body();
    let (st, first) = tv(&s.gw.base, &body);
    assert_eq!(st, 202, "{first}");
    let (st, v) = tv(&s.gw.base, &body);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["duplicate"], true);
    assert_eq!(v["signal"]["id"], first["signal"]["id"]);
    assert_eq!(v["signal"]["first_seq"], first["signal"]["seq"]);
    assert_eq!(orders(&s.gw.base, "DEMO-1").len(), 1);
    assert_eq!(journal_count(&s.journal, "signal"), 1);
    assert_eq!(journal_count(&s.journal, "new_order"), 1);
}

#[test]
fn w_7_sell_with_sentiment_flat_exits_only() {
    let s = start();
    set_price(&s.gw.base, "AAPL", "200");
    rest_buy(&s.gw.base, "DEMO-1", 100);
    wait_position(&s.gw.base, "DEMO-1", "AAPL", "100");
    let (st, v) = tv(
        &s.gw.base,
        r#"{"ticker":"AAPL","action":"sell","sentiment":"flat","quantity":"500","secret":"ok","orderId":"x7"}"#,
    );
    assert_eq!(st, 202, "{v}");
    let list = v["accounts"][0]["orders"].as_array().unwrap();
    assert_eq!(list.len(), 1, "exit only: {v}");
    assert_eq!(
        (list[0]["side"].as_str(), list[0]["qty"].as_str()),
        (Some("sell"), Some("100"))
    );
    wait_position(&s.gw.base, "DEMO-1", "AAPL", "0");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        position(&s.gw.base, "DEMO-1", "AAPL"),
        "0",
        "no short opened"
    );
}

#[test]
fn w_8_exit_with_nothing_to_do_is_refused() {
    let s = start();
    let (st, v) = tv(
        &s.gw.base,
        r#"{"ticker":"AAPL","action":"exit","secret":"ok"}"#,
    );
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["error"]["code"], "NOTHING_TO_DO");
    assert_eq!(v["accounts"][0]["status"], "nothing_to_do");
    assert_eq!(journal_count(&s.journal, "signal"), 0, "nothing journaled");
}

#[test]
fn w_9_unresolved_placeholders_are_refused() {
    let s = start();
    for q in ["{{strategy.order.contracts}}", "NaN"] {
        let (st, v) = tv(
            &s.gw.base,
            &format!(r#"{{"ticker":"AAPL","action":"buy","quantity":"{q}","secret":"ok"}}"#),
        );
        assert_eq!(st, 400, "{q}: {v}");
        assert_eq!(v["error"]["code"], "UNRESOLVED_PLACEHOLDER", "{q}");
        assert_eq!(v["field"], "quantity");
    }
    assert_eq!(journal_count(&s.journal, "signal"), 0);
}

#[test]
fn w_10_a_stale_signal_is_refused() {
    let s = start();
    set_price(&s.gw.base, "AAPL", "200");
    let body = format!(
        r#"{{"ticker":"AAPL","action":"buy","quantity":"1","secret":"ok","time":"{}"}}"#,
        time_ago(70)
    );
    let (st, v) = tv(&s.gw.base, &body);
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["error"]["code"], "STALE_SIGNAL");
    assert!(v["message"].as_str().unwrap().contains("30 s"), "{v}");
    // A clock far ahead is refused too.
    let future = time_ago(-120);
    let (st, v) = tv(
        &s.gw.base,
        &format!(
            r#"{{"ticker":"AAPL","action":"buy","quantity":"1","secret":"ok","time":"{future}"}}"#
        ),
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("STALE_SIGNAL"))
    );
    assert!(orders(&s.gw.base, "DEMO-1").is_empty());
}

#[test]
fn bad_tokens_and_secrets_get_401_with_no_detail_and_nothing_journaled() {
    let s = start();
    let cases = [
        ("unknown-token-0123456789", w1_body()),
        ("", w1_body()),
        (TOKEN, w1_body().replace("\"ok\"", "\"wrong\"")),
        (
            TOKEN,
            r#"{"ticker":"AAPL","action":"buy","quantity":"1"}"#.to_string(),
        ),
        (TOKEN, w1_body().replace("\"ok\"", "12")),
    ];
    for (token, body) in cases {
        let (st, v) = deliver(&s.gw.base, token, Some(TV_IP), "application/json", &body);
        if token.is_empty() {
            assert_eq!(st, 404, "no token is no such endpoint");
            continue;
        }
        if body.contains("\"secret\":12") {
            assert_eq!(st, 400, "a secret that is not a string is malformed: {v}");
            continue;
        }
        assert_eq!(st, 401, "{token} {body}: {v}");
        assert_eq!(v["message"], "unauthorized");
    }
    assert_nothing_journaled(&s.journal);
}

#[test]
fn symbol_maps_delayed_data_and_brackets() {
    let s = start();
    set_price(&s.gw.base, "AAPL", "200");
    set_price(&s.gw.base, "NQZ2026", "21000");
    let (st, v) = tv(
        &s.gw.base,
        r#"{"ticker":"AAPL","exchange":"NASDAQ","action":"buy","quantity":"1","secret":"ok","orderId":"m1"}"#,
    );
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["signal"]["symbol"], "AAPL");
    let (st, v) = tv(
        &s.gw.base,
        r#"{"ticker":"NQ1!","action":"buy","quantity":"2","secret":"ok","orderId":"m2"}"#,
    );
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["accounts"][0]["orders"][0]["symbol"], "NQZ2026");
    let (st, v) = tv(
        &s.gw.base,
        r#"{"ticker":"TSLA","action":"buy","quantity":"1","secret":"ok"}"#,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("UNKNOWN_SYMBOL")),
        "{v}"
    );
    let (st, v) = tv(
        &s.gw.base,
        r#"{"ticker":"AAPL","exchange":"NASDAQ_DL","action":"buy","quantity":"1","secret":"ok"}"#,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("DELAYED_DATA")),
        "{v}"
    );
    let (st, v) = tv(
        &s.gw.base,
        r#"{"ticker":"AAPL","action":"buy","quantity":"1","secret":"ok","takeProfit":{"percent":2}}"#,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("BRACKET_UNSUPPORTED")),
        "{v}"
    );
    let (st, v) = tv(
        &s.gw.base,
        r#"{"ticker":"AAPL","action":"buy","orderType":"stop","stopPrice":"190","quantity":"1","secret":"ok"}"#,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("UNSUPPORTED")),
        "{v}"
    );
    let (st, v) = tv(
        &s.gw.base,
        r#"{"ticker":"AAPL","action":"buy","orderType":"limit","limitPrice":"199.999","quantity":"1","secret":"ok"}"#,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("INCORRECT_PRICE")),
        "{v}"
    );
}

#[test]
fn a_risk_reject_is_reported_per_account_with_the_reason() {
    let s = start();
    // No reference price: the market order cannot be valued, and the answer says so for the account.
    let (st, v) = tv(
        &s.gw.base,
        r#"{"ticker":"AAPL","action":"buy","quantity":"20000","secret":"ok","orderId":"r1"}"#,
    );
    assert_eq!(st, 202, "the signal was accepted and journaled: {v}");
    let acct = &v["accounts"][0];
    assert_eq!(acct["status"], "rejected", "{v}");
    assert_eq!(acct["orders"][0]["status"], "rejected");
    assert!(
        acct["reason"]["code"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{v}"
    );
    assert!(acct["reason"]["rule"].as_str().is_some(), "{v}");
}

#[test]
fn copy_trading_fans_one_alert_out_to_five_accounts_each_sized_and_checked_on_its_own() {
    let s = start();
    set_price(&s.gw.base, "AAPL", "200");
    // C5 already holds its position limit (50).
    rest_buy(&s.gw.base, "C5", 50);
    wait_position(&s.gw.base, "C5", "AAPL", "50");
    let (st, v) = deliver(
        &s.gw.base,
        COPY_TOKEN,
        Some(TV_IP),
        "application/json",
        &format!(
            r#"{{"ticker":"AAPL","action":"buy","quantity":"10","time":"{}"}}"#,
            time_ago(0)
        ),
    );
    assert_eq!(st, 202, "{v}");
    let accounts = v["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 5, "every member is listed: {v}");
    let by = |name: &str| {
        accounts
            .iter()
            .find(|a| a["account"] == name)
            .unwrap()
            .clone()
    };
    // signal 10; fixed 7; multiplier 3 x 10; dollar_amount 2,000 / 200; percent_of_equity 10% x 100,000 / 200.
    for (name, qty) in [("C1", "10"), ("C2", "7"), ("C3", "30"), ("C4", "10")] {
        let a = by(name);
        assert_eq!(a["status"], "accepted", "{name}: {a}");
        assert_eq!(a["orders"][0]["qty"], qty, "{name}");
        wait_position(&s.gw.base, name, "AAPL", qty);
    }
    let c5 = by("C5");
    assert_eq!(c5["status"], "rejected", "{c5}");
    assert_eq!(c5["orders"][0]["qty"], "50");
    assert_eq!(c5["reason"]["code"], "MAX_POSITION", "{c5}");
    assert_eq!(position(&s.gw.base, "C5", "AAPL"), "50");
    assert_eq!(journal_count(&s.journal, "signal"), 1);
}

#[test]
fn a_delivery_repeated_after_kill_9_and_restart_is_still_a_duplicate() {
    let s = start();
    set_price(&s.gw.base, "AAPL", "200");
    let body = w1_body();
    let (st, first) = tv(&s.gw.base, &body);
    assert_eq!(st, 202, "{first}");
    let Setup { _dir, cfg, gw, .. } = s;
    gw.kill9();
    let gw = Gateway::start(&cfg);
    let (st, v) = tv(&gw.base, &body);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["duplicate"], true);
    assert_eq!(v["signal"]["first_seq"], first["signal"]["seq"]);
    assert_eq!(orders(&gw.base, "DEMO-1").len(), 1);
    // A new signal is still accepted: it exits the position the first one built.
    wait_position(&gw.base, "DEMO-1", "AAPL", "10");
    let (st, v) = tv(
        &gw.base,
        r#"{"ticker":"AAPL","action":"exit","secret":"ok","orderId":"after-restart"}"#,
    );
    assert_eq!(st, 202, "{v}");
    wait_position(&gw.base, "DEMO-1", "AAPL", "0");
}

#[test]
fn webhook_template_prints_the_alert_message_to_paste() {
    let s = start();
    let out = std::process::Command::new(BIN)
        .args(["webhook", "template", "--webhook", "tv", "--config"])
        .arg(&s.cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msg: Value =
        serde_json::from_slice(&out.stdout).expect("stdout is exactly the JSON message");
    assert_eq!(msg["ticker"], "{{ticker}}");
    assert_eq!(msg["action"], "{{strategy.order.action}}");
    assert_eq!(msg["time"], "{{timenow}}");
    assert_eq!(msg["secret"], "ok");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("/api/v1/webhooks/tradingview/{TOKEN}")),
        "{err}"
    );
    let out = std::process::Command::new(BIN)
        .args(["webhook", "template", "--webhook", "nope", "--config"])
        .arg(&s.cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("configured: tv, copy"));
}
