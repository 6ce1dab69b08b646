//! The crash test: the real binary under concurrent HTTP load, `kill -9` at a random moment, restart.
//! Every order that got a 2xx answer must be present in the same state, positions must equal what the
//! journaled fills imply, `bulwark journal verify` must pass, and a further clean restart must reproduce the
//! same state. Run for every durability policy (all three survive a process crash).
mod common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const ORDERS_TOTAL: usize = 10_000;
const CLIENTS: usize = 8;
const ACCOUNTS: [&str; 3] = ["DEMO-1", "DEMO-2", "DEMO-3"];
const SYMBOLS: [&str; 2] = ["AAPL", "MSFT"];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::env::var("BULWARK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

/// Acknowledged orders by order id, as the 2xx answer described them.
type Acked = Arc<Mutex<HashMap<u64, Value>>>;

/// Sends orders from `CLIENTS` threads until `budget` orders were attempted or the gateway goes away.
fn load(
    base: &str,
    phase: &str,
    budget: usize,
    seed: u64,
    acked: &Acked,
    attempted: &Arc<AtomicUsize>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    // A price thread moves prices so that resting limit orders fill.
    {
        let base = base.to_string();
        let stop = stop.clone();
        handles.push(std::thread::spawn(move || {
            let a = agent();
            let mut rng = Rng(seed ^ 0xABCD);
            let mut px = [10_000i64, 20_000i64];
            while !stop.load(Ordering::Relaxed) {
                let i = rng.below(2) as usize;
                px[i] += rng.below(41) as i64 - 20;
                let body = format!(
                    r#"{{"symbol":"{}","price":"{}.{:02}"}}"#,
                    SYMBOLS[i],
                    px[i] / 100,
                    px[i] % 100
                );
                if send(&a, "POST", &format!("{base}/api/v1/prices"), Some(&body)).is_err() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }));
    }
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let base = base.to_string();
        let acked = acked.clone();
        let attempted = attempted.clone();
        let stop = stop.clone();
        let phase = phase.to_string();
        clients.push(std::thread::spawn(move || {
            let a = agent();
            let mut rng = Rng(seed.wrapping_add(c as u64 * 7919) | 1);
            let mut n = 0;
            loop {
                if stop.load(Ordering::Relaxed) || attempted.fetch_add(1, Ordering::SeqCst) >= budget {
                    break;
                }
                n += 1;
                let account = ACCOUNTS[rng.below(3) as usize];
                let (symbol, mid) = if rng.below(2) == 0 { ("AAPL", 100) } else { ("MSFT", 200) };
                let side = if rng.below(2) == 0 { "buy" } else { "sell" };
                let qty = 1 + rng.below(20);
                let body = if rng.below(10) < 4 {
                    format!(r#"{{"account":"{account}","symbol":"{symbol}","side":"{side}","qty":{qty},"type":"market","client_order_id":"{phase}-{c}-{n}"}}"#)
                } else {
                    let px = mid as i64 * 100 + rng.below(200) as i64 - 100;
                    format!(
                        r#"{{"account":"{account}","symbol":"{symbol}","side":"{side}","qty":"{qty}","type":"limit","limit_price":"{}.{:02}","tif":"gtc","client_order_id":"{phase}-{c}-{n}"}}"#,
                        px / 100,
                        px % 100
                    )
                };
                match send(&a, "POST", &format!("{base}/api/v1/orders"), Some(&body)) {
                    Ok((status, json)) if (200..300).contains(&status) => {
                        let id = json["order_id"].as_u64().expect("2xx answer carries order_id");
                        acked.lock().unwrap().insert(id, json);
                    }
                    Ok((status, json)) => {
                        // Risk rejects (for example a duplicate) are answered 4xx; 503 busy is allowed under load.
                        assert!(status == 503 || json["error"]["order"].is_object(), "unexpected answer {status}: {json}");
                    }
                    Err(_) => break, // the gateway was killed
                }
            }
        }));
    }
    for c in clients {
        let _ = c.join();
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
}

/// Every order of every account, and every position, as the gateway reports them.
fn snapshot(base: &str) -> (BTreeMap<u64, Value>, BTreeMap<(String, String), String>) {
    let a = agent();
    let mut orders = BTreeMap::new();
    let mut positions = BTreeMap::new();
    for acct in ACCOUNTS {
        let (s, j) = get(&a, &format!("{base}/api/v1/orders?account={acct}"));
        assert_eq!(s, 200, "{j}");
        for o in j["orders"].as_array().unwrap() {
            orders.insert(o["order_id"].as_u64().unwrap(), o.clone());
        }
        let (s, j) = get(&a, &format!("{base}/api/v1/positions?account={acct}"));
        assert_eq!(s, 200, "{j}");
        for p in j["positions"].as_array().unwrap() {
            positions.insert(
                (acct.to_string(), p["symbol"].as_str().unwrap().to_string()),
                p["qty"].as_str().unwrap().to_string(),
            );
        }
    }
    (orders, positions)
}

/// Positions and per-order filled quantity implied by the journaled fills (whole units, as the test trades).
fn implied_by_journal(dir: &Path) -> (BTreeMap<(String, String), i64>, HashMap<u64, i64>) {
    let (ok, lines) = journal_tool("dump", dir);
    assert!(ok, "journal dump failed");
    let mut accounts = Vec::new();
    let mut symbols = Vec::new();
    // Order ids are dense in journal order, one per new_order record whatever its verdict. A request whose
    // decision a crash kept out of the journal is decided again at the restart (and may trade), so an order
    // is known from its new_order record; its decision, when journaled, must carry the same id.
    let mut orders_seen = 0u64;
    let mut pending: Option<u64> = None;
    let mut owner: HashMap<u64, (String, String, i64)> = HashMap::new();
    let mut positions: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut filled: HashMap<u64, i64> = HashMap::new();
    const SCALE: i64 = 100_000_000;
    for l in &lines {
        let ev = &l["event"];
        match l["kind"].as_str().unwrap() {
            "boot" => {
                accounts = ev["boot"]["accounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                symbols = ev["boot"]["symbols"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                pending = None;
            }
            "new_order" => {
                let o = &ev["new_order"];
                let sign = if o["side"] == "buy" { 1 } else { -1 };
                orders_seen += 1;
                owner.insert(
                    orders_seen,
                    (
                        accounts[o["account"].as_u64().unwrap() as usize].clone(),
                        symbols[o["symbol"].as_u64().unwrap() as usize].clone(),
                        sign,
                    ),
                );
                pending = Some(orders_seen);
            }
            "decision" => {
                if let Some(id) = pending.take() {
                    assert_eq!(
                        ev["decision"]["order"].as_u64(),
                        Some(id),
                        "order ids are dense in journal order"
                    );
                }
            }
            "venue" => {
                let v = &ev["venue"];
                if v["type"] == "fill" {
                    let id = v["order"].as_u64().unwrap();
                    let qty: f64 = v["qty"].as_str().unwrap().parse().unwrap();
                    let qty = (qty * SCALE as f64).round() as i64 / SCALE;
                    let (acct, sym, sign) =
                        owner.get(&id).expect("fill for a journaled order").clone();
                    *positions.entry((acct, sym)).or_default() += sign * qty;
                    *filled.entry(id).or_default() += qty;
                }
            }
            _ => pending = None,
        }
    }
    (positions, filled)
}

fn check_acked_present(acked: &HashMap<u64, Value>, orders: &BTreeMap<u64, Value>) {
    for (id, ack) in acked {
        let o = orders
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged order {id} is missing: {ack}"));
        for field in [
            "client_order_id",
            "account",
            "symbol",
            "side",
            "type",
            "tif",
            "qty",
            "limit_price",
            "created_at_ns",
        ] {
            assert_eq!(
                o[field], ack[field],
                "order {id} field {field} changed: ack {ack} now {o}"
            );
        }
        assert_eq!(
            ack["reject"],
            Value::Null,
            "2xx answers are accepted orders"
        );
        assert_eq!(
            o["reject"],
            Value::Null,
            "order {id} acknowledged as accepted but now carries a risk reject: {o}"
        );
        let ack_filled: f64 = ack["filled_qty"].as_str().unwrap().parse().unwrap();
        let now_filled: f64 = o["filled_qty"].as_str().unwrap().parse().unwrap();
        assert!(now_filled >= ack_filled, "order {id} lost fills");
    }
}

fn check_against_journal(
    journal_dir: &Path,
    orders: &BTreeMap<u64, Value>,
    positions: &BTreeMap<(String, String), String>,
) {
    let (want_positions, want_filled) = implied_by_journal(journal_dir);
    for ((acct, sym), qty) in &want_positions {
        let got = positions
            .get(&(acct.clone(), sym.clone()))
            .map(|q| q.parse::<i64>().unwrap())
            .unwrap_or(0);
        assert_eq!(
            got, *qty,
            "position {acct} {sym}: gateway {got}, journaled fills imply {qty}"
        );
    }
    for ((acct, sym), qty) in positions {
        let want = want_positions
            .get(&(acct.clone(), sym.clone()))
            .copied()
            .unwrap_or(0);
        assert_eq!(
            qty.parse::<i64>().unwrap(),
            want,
            "position {acct} {sym} not implied by the journal"
        );
    }
    for (id, o) in orders {
        let got: i64 = o["filled_qty"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            got,
            want_filled.get(id).copied().unwrap_or(0),
            "order {id} filled_qty vs journaled fills"
        );
    }
}

/// After a crash: restart, check, stop cleanly, verify the journal, restart again and compare.
fn restart_and_check(cfg: &Path, journal_dir: &Path, acked: &HashMap<u64, Value>) -> Gateway {
    let gw = Gateway::start(cfg);
    // Let the restored paper venue settle (restored orders may fill on restored prices).
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (orders, positions) = snapshot(&gw.base);
    check_acked_present(acked, &orders);
    assert!(gw.terminate(), "clean shutdown after recovery");
    let (ok, lines) = journal_tool("verify", journal_dir);
    assert!(ok, "journal verify failed: {lines:?}");
    assert_eq!(lines.last().unwrap()["ok"], true);
    check_against_journal(journal_dir, &orders, &positions);
    let gw = Gateway::start(cfg);
    let (orders2, positions2) = snapshot(&gw.base);
    assert_eq!(positions, positions2, "a second restart changed positions");
    assert_eq!(orders.len(), orders2.len());
    for (id, o) in &orders {
        assert_eq!(
            Some(o),
            orders2.get(id),
            "a second restart changed order {id}"
        );
    }
    gw
}

fn crash_test(durability: &str) {
    let seed = seed();
    eprintln!("crash test ({durability}): BULWARK_CRASH_SEED={seed}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bulwark.toml");
    std::fs::write(&cfg, test_config(&dir.path().join("data"), durability)).unwrap();
    let journal_dir = dir.path().join("data/journal");
    let gw = Gateway::start(&cfg);
    let a = agent();
    for (sym, px) in [("AAPL", "100.00"), ("MSFT", "200.00")] {
        let (s, _) = post(
            &a,
            &format!("{}/api/v1/prices", gw.base),
            &format!(r#"{{"symbol":"{sym}","price":"{px}"}}"#),
        );
        assert_eq!(s, 200);
    }
    let acked: Acked = Arc::new(Mutex::new(HashMap::new()));
    let attempted = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng(seed);
    let kill_at = ORDERS_TOTAL / 5 + rng.below((ORDERS_TOTAL * 3 / 5) as u64) as usize;

    // Phase 1: load, and kill -9 when `kill_at` orders have been attempted.
    let base = gw.base.clone();
    let loader = {
        let acked = acked.clone();
        let attempted = attempted.clone();
        std::thread::spawn(move || load(&base, "p1", ORDERS_TOTAL, seed, &acked, &attempted))
    };
    while attempted.load(Ordering::SeqCst) < kill_at && !loader.is_finished() {
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    gw.kill9();
    loader.join().unwrap();
    let sent_before = attempted.load(Ordering::SeqCst).min(ORDERS_TOTAL);
    let acked_before = acked.lock().unwrap().len();
    eprintln!("killed after {sent_before} attempts, {acked_before} acknowledged");
    assert!(
        sent_before >= kill_at,
        "the clients stopped before the kill: {sent_before} < {kill_at}"
    );
    let gw = restart_and_check(&cfg, &journal_dir, &acked.lock().unwrap());

    // Phase 2: the rest of the orders against the restarted gateway, then kill -9 again.
    let remaining = ORDERS_TOTAL - sent_before.min(ORDERS_TOTAL);
    let attempted2 = Arc::new(AtomicUsize::new(0));
    load(
        &gw.base,
        "p2",
        remaining,
        seed ^ 0x5555,
        &acked,
        &attempted2,
    );
    gw.kill9();
    let total_acked = acked.lock().unwrap().len();
    eprintln!("phase 2 sent {remaining}; {total_acked} acknowledged in all");
    assert!(
        total_acked >= ORDERS_TOTAL * 9 / 10,
        "only {total_acked} of {ORDERS_TOTAL} orders were acknowledged"
    );
    let gw = restart_and_check(&cfg, &journal_dir, &acked.lock().unwrap());
    drop(gw);
}

#[test]
fn crash_kill9_durability_none() {
    crash_test("none");
}

#[test]
fn crash_kill9_durability_interval() {
    crash_test("interval");
}

#[test]
fn crash_kill9_durability_sync() {
    crash_test("sync");
}

/// A risk officer lowers a limit and restarts: the gateway starts, the order the journal accepted under the
/// old limit is still working (what was acknowledged stays so), the log says one journaled decision was kept,
/// and new orders meet the new limit. A raised limit does not turn a journaled reject into an order either.
#[test]
fn a_restart_under_a_changed_limit_keeps_every_journaled_decision() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bulwark.toml");
    let config = |max_qty: u32| {
        format!(
            r#"
[gateway]
data_dir = "{}"
http_listen = "127.0.0.1:0"
[limits.default]
max_order_qty = {max_qty}
reference_max_age_ms = 0
[[accounts]]
name = "A"
initial_balance_usd = 10000000
[[symbols]]
name = "AAPL"
calendar = "ALWAYS"
"#,
            dir.path().join("data").display()
        )
    };
    let order = |base: &str, qty: u32| {
        // A price of its own per quantity, so that no order is identical to an earlier one.
        post(
            &agent(),
            &format!("{base}/api/v1/orders"),
            &format!(
                r#"{{"account":"A","symbol":"AAPL","side":"buy","qty":{qty},"type":"limit","limit_price":"{}","tif":"gtc"}}"#,
                90 + qty % 7
            ),
        )
    };
    let status_of = |base: &str, id: u64| {
        let (_, orders) = get(&agent(), &format!("{base}/api/v1/orders?account=A"));
        orders["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["order_id"] == id)
            .map(|o| o["status"].as_str().unwrap().to_string())
    };
    std::fs::write(&cfg, config(1_000)).unwrap();
    let gw = Gateway::start(&cfg);
    let base = gw.base.clone();
    post(
        &agent(),
        &format!("{base}/api/v1/prices"),
        r#"{"symbol":"AAPL","price":"100"}"#,
    );
    let (st, v) = order(&base, 100);
    assert_eq!(st, 201, "{v}");
    let accepted = v["order_id"].as_u64().unwrap();
    let (st, v) = order(&base, 5_000);
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("MAX_ORDER_QTY")),
        "{v}"
    );
    let rejected = v["error"]["order"]["order_id"].as_u64().unwrap();
    gw.kill9();

    // Lowered below the accepted order's quantity.
    std::fs::write(&cfg, config(10)).unwrap();
    let gw = Gateway::start(&cfg);
    let base = gw.base.clone();
    assert_eq!(status_of(&base, accepted).as_deref(), Some("new"));
    assert_eq!(status_of(&base, rejected).as_deref(), Some("rejected"));
    let log = gw.log();
    assert!(
        log.contains("journal replay kept 1 journaled decision(s)"),
        "{log}"
    );
    assert!(
        log.contains(&format!("order {accepted} (request at seq")),
        "{log}"
    );
    let (st, v) = order(&base, 101);
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("MAX_ORDER_QTY")),
        "{v}"
    );
    gw.kill9();

    // Raised above the rejected order's quantity: it stays rejected.
    std::fs::write(&cfg, config(10_000)).unwrap();
    let gw = Gateway::start(&cfg);
    let base = gw.base.clone();
    assert_eq!(status_of(&base, rejected).as_deref(), Some("rejected"));
    assert_eq!(status_of(&base, accepted).as_deref(), Some("new"));
    let log = gw.log();
    // Orders 2 and 3 (both rejected under lower limits) would be accepted now.
    assert!(
        log.contains("journal replay kept 2 journaled decision(s)"),
        "{log}"
    );
    assert!(
        log.contains(&format!("order {rejected} (request at seq")),
        "{log}"
    );
    let (ok, lines) = journal_tool("verify", &dir.path().join("data").join("journal"));
    assert!(ok, "journal verify failed: {lines:?}");
    drop(gw);

    // The strict replay (for tools and tests) still names the first decision this configuration changes.
    let config = bulwark_gateway::config::load(Some(&cfg)).unwrap();
    let catalog = bulwark_gateway::catalog::Catalog::from_config(&config);
    let (engine_config, _) = bulwark_gateway::risk_setup::engine_config(&config, &catalog).unwrap();
    let strict = bulwark_gateway::sequencer::recover(
        bulwark_gateway::server::journal_options(&config),
        &catalog,
        bulwark_risk::Engine::with_config(engine_config),
    );
    let err = strict.err().expect("a strict replay refuses").to_string();
    assert!(err.contains("replay diverged at seq 8"), "{err}");
}

/// The real binary: a prop account breaches its template's daily loss and is flattened by the engine, the
/// process is killed, and the template is changed to one that would not have breached. The restart goes on,
/// warns that it kept the engine's order as journaled, and every order and position is as before.
#[test]
fn a_restart_under_a_changed_prop_template_keeps_the_flattening_the_engine_made() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bulwark.toml");
    let config = |template: &str| {
        format!(
            r#"
[gateway]
data_dir = "{}"
http_listen = "127.0.0.1:0"
[limits.default]
reference_max_age_ms = 0
[[accounts]]
name = "P"
prop_firm = "{template}"
[[symbols]]
name = "AAPL"
calendar = "ALWAYS"
"#,
            dir.path().join("data").display()
        )
    };
    let orders_of = |base: &str| {
        let (st, v) = get(&agent(), &format!("{base}/api/v1/orders?account=P"));
        assert_eq!(st, 200, "{v}");
        v["orders"].clone()
    };
    let position_of = |base: &str| {
        let (st, v) = get(&agent(), &format!("{base}/api/v1/positions?account=P"));
        assert_eq!(st, 200, "{v}");
        v["positions"].clone()
    };
    let price = |base: &str, px: &str| {
        let (st, v) = post(
            &agent(),
            &format!("{base}/api/v1/prices"),
            &format!(r#"{{"symbol":"AAPL","price":"{px}"}}"#),
        );
        assert_eq!(st, 200, "{v}");
    };
    std::fs::write(&cfg, config("ftmo-2step-100k")).unwrap();
    let gw = Gateway::start(&cfg);
    let base = gw.base.clone();
    price(&base, "100");
    let (st, v) = post(
        &agent(),
        &format!("{base}/api/v1/orders"),
        r#"{"account":"P","symbol":"AAPL","side":"buy","qty":100,"type":"market"}"#,
    );
    assert_eq!(st, 201, "{v}");
    // Down 6,000 on $100,000: past FTMO's 5% daily loss. The engine sells the 100 at market.
    price(&base, "40");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let before = loop {
        let orders = orders_of(&base);
        let flat = orders
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["ingress"] == "risk" && o["status"] == "filled");
        if flat {
            break orders;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no flattening: {orders}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let position = position_of(&base);
    gw.kill9();

    // $200k: 5% is 10,000, which this loss does not reach.
    std::fs::write(&cfg, config("ftmo-2step-200k")).unwrap();
    let gw = Gateway::start(&cfg);
    let base = gw.base.clone();
    assert_eq!(orders_of(&base), before);
    assert_eq!(position_of(&base), position);
    let log = gw.log();
    assert!(
        log.contains("journal replay took the orders the engine made itself")
            && log.contains("engine-made order 2 (P: sell 100 AAPL market) kept as journaled"),
        "{log}"
    );
    let (ok, lines) = journal_tool("verify", &dir.path().join("data").join("journal"));
    assert!(ok, "journal verify failed: {lines:?}");
}
