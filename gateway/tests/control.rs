//! The risk officer's control plane against the running binary: the scripted drill of the issue (flatten one
//! account, halt everything, survive `kill -9`, who may reset), spec vectors PT-7 and PT-8 over HTTP, and the
//! authentication and authorization failures (401/403 with no state change).
mod common;
use common::*;
use serde_json::Value;
use std::io::BufRead;
use std::path::Path;
use std::time::{Duration, Instant};

const VIEWER: &str = "viewer-token-0123456789";
const TRADER_A: &str = "trader-a-token-0123456789";
const RISK: &str = "risk-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";

fn config(data_dir: &Path, required: bool) -> String {
    format!(
        r#"
[gateway]
data_dir = "{}"
http_listen = "127.0.0.1:0"

[journal]
durability = "sync"

[auth]
required = {required}

[limits.default]
throttle_orders_max = 0
reference_max_age_ms = 0
dup_window_ms = 0
wash = false

[[groups]]
name = "FIRM"

[[accounts]]
name = "A"
group = "FIRM"
[[accounts]]
name = "B"
group = "FIRM"
[[accounts]]
name = "C"

[[symbols]]
name = "AAPL"

[[strategies]]
name = "strat"
accounts = ["A"]
heartbeat_timeout_ms = 300

[[tokens]]
name = "viewer"
role = "viewer"
token = "{VIEWER}"
[[tokens]]
name = "trader-a"
role = "trader"
accounts = ["A"]
token = "{TRADER_A}"
[[tokens]]
name = "risk"
role = "risk_officer"
token = "{RISK}"
[[tokens]]
name = "firm-admin"
role = "admin"
token = "{ADMIN}"
"#,
        data_dir.display()
    )
}

struct Setup {
    dir: tempfile::TempDir,
    cfg: std::path::PathBuf,
    gw: Gateway,
}

impl Setup {
    fn journal(&self) -> std::path::PathBuf {
        self.dir.path().join("data").join("journal")
    }
}

fn start(required: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bulwark.toml");
    std::fs::write(&cfg, config(&dir.path().join("data"), required)).unwrap();
    let gw = Gateway::start(&cfg);
    Setup { dir, cfg, gw }
}

/// Sends a request with an optional bearer token (or a raw Authorization value).
fn call(method: &str, url: &str, auth: Option<&str>, body: Option<&str>) -> (u16, Value) {
    let a = agent();
    let header = auth.map(|t| {
        if t.contains(' ') {
            t.to_string()
        } else {
            format!("Bearer {t}")
        }
    });
    let mut resp = match method {
        "POST" => {
            let mut r = a.post(url).content_type("application/json");
            if let Some(h) = &header {
                r = r.header("Authorization", h);
            }
            r.send(body.unwrap_or(""))
        }
        "DELETE" => {
            let mut r = a.delete(url);
            if let Some(h) = &header {
                r = r.header("Authorization", h);
            }
            r.call()
        }
        _ => {
            let mut r = a.get(url);
            if let Some(h) = &header {
                r = r.header("Authorization", h);
            }
            r.call()
        }
    }
    .expect("request reaches the gateway");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn kill(base: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    call("POST", &format!("{base}/api/v1/kill"), token, Some(body))
}

fn reset(base: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    call(
        "POST",
        &format!("{base}/api/v1/kill/reset"),
        token,
        Some(body),
    )
}

fn order(
    base: &str,
    token: Option<&str>,
    account: &str,
    side: &str,
    qty: u32,
    limit: Option<&str>,
) -> (u16, Value) {
    let body = match limit {
        Some(px) => format!(
            r#"{{"account":"{account}","symbol":"AAPL","side":"{side}","qty":{qty},"type":"limit","limit_price":"{px}","tif":"gtc"}}"#
        ),
        None => format!(r#"{{"account":"{account}","symbol":"AAPL","side":"{side}","qty":{qty}}}"#),
    };
    call("POST", &format!("{base}/api/v1/orders"), token, Some(&body))
}

fn position(base: &str, account: &str) -> String {
    let (_, v) = call(
        "GET",
        &format!("{base}/api/v1/positions?account={account}"),
        Some(RISK),
        None,
    );
    v["positions"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["symbol"] == "AAPL"))
        .map_or("0".into(), |p| p["qty"].as_str().unwrap_or("0").to_string())
}

fn wait_position(base: &str, account: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while position(base, account) != want {
        assert!(
            Instant::now() < deadline,
            "{account}: position {} != {want}",
            position(base, account)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn order_status(base: &str, id: u64) -> String {
    let (_, v) = call(
        "GET",
        &format!("{base}/api/v1/orders/{id}"),
        Some(RISK),
        None,
    );
    v["status"].as_str().unwrap_or("").to_string()
}

fn wait_status(base: &str, id: u64, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while order_status(base, id) != want {
        assert!(
            Instant::now() < deadline,
            "order {id}: {} != {want}",
            order_status(base, id)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn set_price(base: &str, px: &str) {
    let (st, v) = call(
        "POST",
        &format!("{base}/api/v1/prices"),
        None,
        Some(&format!(r#"{{"symbol":"AAPL","price":"{px}"}}"#)),
    );
    assert_eq!(st, 200, "{v}");
}

/// Every account long 10 (filled) with a resting buy of 1 at 50; returns the resting orders' ids.
fn three_accounts_trading(base: &str) -> Vec<u64> {
    set_price(base, "100");
    let mut resting = Vec::new();
    for a in ["A", "B", "C"] {
        let (st, v) = order(base, None, a, "buy", 10, None);
        assert_eq!(st, 201, "{v}");
        wait_position(base, a, "10");
        let (st, v) = order(base, None, a, "buy", 1, Some("50.00"));
        assert_eq!(st, 201, "{v}");
        resting.push(v["order_id"].as_u64().unwrap());
    }
    resting
}

#[test]
fn drill_flatten_one_halt_all_survive_kill_9_and_only_a_risk_officer_resets() {
    let s = start(false);
    let base = s.gw.base.clone();
    let resting = three_accounts_trading(&base);

    // Flatten A: its working order is canceled and its position closed through paper fills; B and C untouched.
    let (st, v) = kill(
        &base,
        Some(RISK),
        r#"{"scope":"account","target":"A","mode":"flatten","reason":"drill: A's strategy misbehaves"}"#,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["kill"]["accounts"][0]["account"], "A");
    assert_eq!(v["kill"]["accounts"][0]["mode"], "flatten");
    wait_status(&base, resting[0], "canceled");
    wait_position(&base, "A", "0");
    for (i, a) in ["B", "C"].iter().enumerate() {
        assert_eq!(position(&base, a), "10");
        assert_eq!(
            order_status(&base, resting[i + 1]),
            "new",
            "{a}'s order still works"
        );
    }

    // Global halt: every new order is rejected, cancels still work.
    let (st, v) = kill(
        &base,
        Some(RISK),
        r#"{"scope":"global","mode":"halt","reason":"drill: stop everything"}"#,
    );
    assert_eq!(st, 200, "{v}");
    for a in ["A", "B", "C"] {
        let (st, v) = order(&base, None, a, "buy", 1, Some("99.00"));
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (403, Some("KILL_SWITCH_ACTIVE")),
            "{a}: {v}"
        );
    }
    let (st, v) = call(
        "DELETE",
        &format!("{base}/api/v1/orders/{}", resting[1]),
        None,
        None,
    );
    assert_eq!(st, 202, "cancels pass a halt: {v}");

    // kill -9 and restart: still halted.
    let Setup { dir, cfg, gw } = s;
    gw.kill9();
    let gw = Gateway::start(&cfg);
    let base = gw.base.clone();
    let (st, v) = call("GET", &format!("{base}/api/v1/kill"), Some(VIEWER), None);
    assert_eq!(st, 200);
    assert_eq!(v["global"]["mode"], "halt", "{v}");
    let (st, v) = order(&base, None, "C", "buy", 1, Some("99.00"));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("KILL_SWITCH_ACTIVE"))
    );

    // A trader cannot reset; a risk officer can; canceled orders stay canceled.
    let (st, v) = reset(
        &base,
        Some(TRADER_A),
        r#"{"scope":"global","reason":"let me trade"}"#,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("FORBIDDEN_ROLE")),
        "{v}"
    );
    let (st, v) = reset(
        &base,
        Some(RISK),
        r#"{"scope":"global","reason":"drill over"}"#,
    );
    assert_eq!(st, 200, "{v}");
    assert!(v["kill"]["global"].is_null());
    let (st, v) = order(&base, None, "C", "buy", 1, Some("99.00"));
    assert_eq!(st, 201, "trading resumes: {v}");
    assert_eq!(order_status(&base, resting[0]), "canceled");
    let (st, v) = order(&base, None, "A", "buy", 1, Some("99.00"));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("KILL_SWITCH_ACTIVE")),
        "A's own kill stays: {v}"
    );

    // The journal shows each action with its actor and reason.
    drop(gw);
    let (ok, lines) = journal_tool("dump", &dir.path().join("data").join("journal"));
    assert!(ok);
    let audits: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l["kind"] == "audit")
        .map(|l| {
            let a = &l["event"]["audit"];
            (
                a["actor"].as_str().unwrap_or("").to_string(),
                a["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        audits,
        vec![
            (
                "risk".to_string(),
                "drill: A's strategy misbehaves".to_string()
            ),
            ("risk".to_string(), "drill: stop everything".to_string()),
            ("risk".to_string(), "drill over".to_string()),
        ],
        "{lines:?}"
    );
}

#[test]
fn pt_7_a_cancel_passes_an_account_kill() {
    let s = start(false);
    let resting = three_accounts_trading(&s.gw.base);
    // A trader may stop their own account.
    let (st, v) = kill(
        &s.gw.base,
        Some(TRADER_A),
        r#"{"scope":"account","target":"A","mode":"halt","reason":"stepping away"}"#,
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = call(
        "DELETE",
        &format!("{}/api/v1/orders/{}", s.gw.base, resting[0]),
        None,
        None,
    );
    assert_eq!(st, 202, "{v}");
    wait_status(&s.gw.base, resting[0], "canceled");
    // ... but not someone else's.
    let (st, v) = kill(
        &s.gw.base,
        Some(TRADER_A),
        r#"{"scope":"account","target":"C","reason":"x"}"#,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("FORBIDDEN_ACCOUNT")),
        "{v}"
    );
}

#[test]
fn pt_8_a_firm_kill_rejects_its_accounts_and_only_a_high_enough_role_resets_it() {
    let s = start(false);
    let base = &s.gw.base;
    let resting = three_accounts_trading(base);
    let (st, v) = kill(
        base,
        Some(ADMIN),
        r#"{"scope":"group","target":"FIRM","mode":"cancel_all","reason":"firm loss limit"}"#,
    );
    assert_eq!(st, 200, "{v}");
    wait_status(base, resting[0], "canceled");
    wait_status(base, resting[1], "canceled");
    assert_eq!(
        order_status(base, resting[2]),
        "new",
        "C is not in the firm"
    );
    let (st, v) = order(base, None, "A", "buy", 1, Some("99.00"));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("KILL_SWITCH_ACTIVE")),
        "{v}"
    );
    assert_eq!(order(base, None, "C", "buy", 1, Some("99.00")).0, 201);
    // A trader may not reset at all; a risk officer is below the admin who tripped it.
    let body = r#"{"scope":"group","target":"FIRM","reason":"resume"}"#;
    assert_eq!(reset(base, Some(TRADER_A), body).0, 403);
    let (st, v) = reset(base, Some(RISK), body);
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("RESET_DENIED")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tripped at role admin"),
        "{v}"
    );
    let (st, v) = reset(base, Some(ADMIN), body);
    assert_eq!(st, 200, "{v}");
    assert_eq!(order(base, None, "A", "buy", 1, Some("99.00")).0, 201);
    assert_eq!(
        order_status(base, resting[0]),
        "canceled",
        "a reset restores nothing"
    );
}

#[test]
fn bad_credentials_get_401_or_403_and_change_nothing() {
    let s = start(true);
    let base = &s.gw.base;
    let kill_body = r#"{"scope":"global","mode":"halt","reason":"x"}"#;
    let cases: Vec<(&str, Option<&str>, u16, &str)> = vec![
        ("kill, no token", None, 401, "UNAUTHENTICATED"),
        (
            "kill, malformed header",
            Some("Basic abc"),
            401,
            "UNAUTHENTICATED",
        ),
        (
            "kill, unknown token",
            Some("no-such-token-0123456789"),
            401,
            "UNAUTHENTICATED",
        ),
        ("kill, viewer", Some(VIEWER), 403, "FORBIDDEN_ROLE"),
        ("kill global, trader", Some(TRADER_A), 403, "FORBIDDEN_ROLE"),
    ];
    for (what, token, status, code) in cases {
        let (st, v) = kill(base, token, kill_body);
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {v}"
        );
    }
    // With [auth] required, order entry and reads need a token too, with the right role and account.
    let order_cases: Vec<(&str, Option<&str>, &str, u16, &str)> = vec![
        ("order, no token", None, "A", 401, "UNAUTHENTICATED"),
        ("order, viewer", Some(VIEWER), "A", 403, "FORBIDDEN_ROLE"),
        (
            "order, trader for another account",
            Some(TRADER_A),
            "C",
            403,
            "FORBIDDEN_ACCOUNT",
        ),
    ];
    for (what, token, account, status, code) in order_cases {
        let (st, v) = order(base, token, account, "buy", 1, Some("10.00"));
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {v}"
        );
    }
    let (st, _) = call(
        "GET",
        &format!("{base}/api/v1/positions?account=C"),
        Some(TRADER_A),
        None,
    );
    assert_eq!(st, 403);
    let (st, _) = call("GET", &format!("{base}/api/v1/kill"), None, None);
    assert_eq!(st, 401);
    // Nothing reached the journal, and nothing changed.
    for kind in ["new_order", "control", "audit"] {
        assert_eq!(journal_count(&s.journal(), kind), 0, "{kind}");
    }
    let (st, v) = call("GET", &format!("{base}/api/v1/kill"), Some(VIEWER), None);
    assert_eq!(st, 200);
    assert!(v["global"].is_null());
    // The right token works.
    let (st, v) = order(base, Some(TRADER_A), "A", "buy", 1, Some("10.00"));
    assert_eq!(st, 201, "{v}");
    // A reason is required, and bad bodies are named.
    for (body, code) in [
        (
            r#"{"scope":"global","mode":"halt","reason":" "}"#,
            "MISSING_REASON",
        ),
        (
            r#"{"scope":"global","mode":"pause","reason":"x"}"#,
            "INVALID_FIELD",
        ),
        (r#"{"scope":"planet","reason":"x"}"#, "INVALID_FIELD"),
        (r#"{"scope":"account","reason":"x"}"#, "MISSING_FIELD"),
        (
            r#"{"scope":"account","target":"Z","reason":"x"}"#,
            "UNKNOWN_ACCOUNT",
        ),
        (
            r#"{"scope":"group","target":"Z","reason":"x"}"#,
            "UNKNOWN_GROUP",
        ),
        (
            r#"{"scope":"global","reason":"x","colour":"red"}"#,
            "UNKNOWN_FIELD",
        ),
    ] {
        let (_, v) = kill(base, Some(RISK), body);
        assert_eq!(v["error"]["code"], code, "{body}: {v}");
    }
    assert_eq!(journal_count(&s.journal(), "control"), 0);
}

fn ctl(base: &str, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("ctl").arg("--url").arg(base).args(args);
    match token {
        Some(t) => cmd.env("BULWARK_TOKEN", t),
        None => cmd.env_remove("BULWARK_TOKEN"),
    };
    let out = cmd.output().expect("run bulwark ctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn bulwark_ctl_kills_resets_and_reads_from_a_terminal() {
    let s = start(false);
    let base = &s.gw.base;
    three_accounts_trading(base);
    let (code, _, err) = ctl(
        base,
        None,
        &[
            "kill", "--scope", "global", "--mode", "halt", "--reason", "x",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("401 UNAUTHENTICATED"), "{err}");
    let (code, out, err) = ctl(
        base,
        Some(RISK),
        &[
            "kill",
            "--scope",
            "global",
            "--mode",
            "halt",
            "--reason",
            "from the terminal",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kill"]["global"]["mode"], "halt");
    let (code, out, _) = ctl(base, Some(VIEWER), &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"halt\""), "{out}");
    let (code, out, _) = ctl(base, Some(VIEWER), &["positions", "--account", "B"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"qty\": \"10\""), "{out}");
    for what in ["orders", "headroom"] {
        assert_eq!(
            ctl(base, Some(VIEWER), &[what, "--account", "C"]).0,
            0,
            "{what}"
        );
    }
    let (code, _, err) = ctl(
        base,
        Some(TRADER_A),
        &["reset", "--scope", "global", "--reason", "x"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("FORBIDDEN_ROLE"), "{err}");
    let (code, _, err) = ctl(
        base,
        Some(RISK),
        &["reset", "--scope", "global", "--reason", "done"],
    );
    assert_eq!(code, 0, "{err}");
    // `events` follows the stream; read its first lines and stop it.
    let mut child = std::process::Command::new(BIN)
        .args(["ctl", "--url", base, "events", "--account", "A"])
        .env("BULWARK_TOKEN", VIEWER)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["type"], "order");
    assert_eq!(first["account"], "A");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_lapsed_dead_mans_switch_cancels_the_strategys_orders_and_trading_goes_on() {
    let s = start(false);
    let base = &s.gw.base;
    let resting = three_accounts_trading(base);
    // Disarmed until the first heartbeat: nothing happens.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(order_status(base, resting[0]), "new");
    for _ in 0..4 {
        let (st, v) = call(
            "POST",
            &format!("{base}/api/v1/heartbeat/strat"),
            None,
            None,
        );
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["armed"], true);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        order_status(base, resting[0]),
        "new",
        "heartbeats in time keep it quiet"
    );
    // Silence: the switch fires for A only.
    wait_status(base, resting[0], "canceled");
    assert_eq!(order_status(base, resting[1]), "new");
    assert_eq!(
        order(base, None, "A", "buy", 1, Some("99.00")).0,
        201,
        "cancel_all leaves trading on"
    );
    let (st, v) = call("POST", &format!("{base}/api/v1/heartbeat/nope"), None, None);
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (404, Some("UNKNOWN_STRATEGY"))
    );
    let (_, lines) = journal_tool("dump", &s.journal());
    let audit = lines
        .iter()
        .find(|l| l["kind"] == "audit")
        .expect("audit record");
    assert_eq!(audit["event"]["audit"]["actor"], "dead-man:strat");
}

#[test]
fn a_symbol_kill_is_reported_and_reset_like_the_others() {
    let s = start(false);
    let base = &s.gw.base;
    set_price(base, "100");
    let (st, v) = kill(
        base,
        Some(RISK),
        r#"{"scope":"symbol","target":"AAPL","mode":"halt","reason":"bad prints"}"#,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["kill"]["symbols"][0]["symbol"], "AAPL");
    let (st, v) = order(base, None, "C", "buy", 1, Some("99.00"));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("KILL_SWITCH_ACTIVE"))
    );
    let (st, v) = kill(
        base,
        Some(TRADER_A),
        r#"{"scope":"symbol","target":"AAPL","reason":"x"}"#,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("FORBIDDEN_ROLE")),
        "{v}"
    );
    let (st, v) = kill(
        base,
        Some(RISK),
        r#"{"scope":"symbol","target":"TSLA","reason":"x"}"#,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (404, Some("UNKNOWN_SYMBOL")),
        "{v}"
    );
    assert_eq!(
        reset(
            base,
            Some(RISK),
            r#"{"scope":"symbol","target":"AAPL","reason":"ok"}"#
        )
        .0,
        200
    );
    assert_eq!(order(base, None, "C", "buy", 1, Some("99.00")).0, 201);
}

fn rfc3339_in(secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    chrono::DateTime::from_timestamp(now + secs, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[test]
fn a_scheduled_maintenance_window_halts_and_then_resumes_trading() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bulwark.toml");
    let text = format!(
        "{}\n[[maintenance]]\nstart = \"{}\"\nend = \"{}\"\nreason = \"broker upgrade\"\n",
        config(&dir.path().join("data"), false),
        rfc3339_in(2),
        rfc3339_in(4)
    );
    std::fs::write(&cfg, text).unwrap();
    let gw = Gateway::start(&cfg);
    let base = &gw.base;
    set_price(base, "100");
    assert_eq!(order(base, None, "C", "buy", 1, Some("90.00")).0, 201);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen_halt = false;
    loop {
        let (st, v) = order(base, None, "C", "buy", 1, Some("91.00"));
        if st == 403 {
            assert_eq!(v["error"]["code"], "KILL_SWITCH_ACTIVE");
            seen_halt = true;
        } else if seen_halt {
            assert_eq!(st, 201, "trading resumes after the window: {v}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the window never began or never ended"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, lines) = journal_tool("dump", &dir.path().join("data").join("journal"));
    let actors: Vec<&str> = lines
        .iter()
        .filter(|l| l["kind"] == "audit")
        .filter_map(|l| l["event"]["audit"]["actor"].as_str())
        .collect();
    assert_eq!(actors, vec!["maintenance", "maintenance"]);
}

#[test]
fn the_account_state_says_whether_it_may_trade_and_only_an_admin_unlocks() {
    let s = start(false);
    let base = &s.gw.base;
    let state = |a: &str| {
        call(
            "GET",
            &format!("{base}/api/v1/accounts/{a}/state"),
            Some(VIEWER),
            None,
        )
        .1
    };
    assert_eq!(state("A")["trading"], "active");
    kill(
        base,
        Some(RISK),
        r#"{"scope":"group","target":"FIRM","mode":"reduce_only","reason":"cool down"}"#,
    );
    kill(
        base,
        Some(RISK),
        r#"{"scope":"account","target":"B","mode":"halt","reason":"stop B"}"#,
    );
    assert_eq!(state("A")["trading"], "reduce_only", "{}", state("A"));
    assert_eq!(state("B")["trading"], "halted");
    assert_eq!(
        state("B")["kill"].as_array().unwrap().len(),
        2,
        "group and account"
    );
    assert_eq!(state("C")["trading"], "active");
    let unlock = |t| {
        call(
            "POST",
            &format!("{base}/api/v1/accounts/A/unlock"),
            Some(t),
            Some(r#"{"reason":"new evaluation"}"#),
        )
    };
    assert_eq!(unlock(RISK).0, 403);
    let (st, v) = unlock(ADMIN);
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        call(
            "GET",
            &format!("{base}/api/v1/accounts/Z/state"),
            Some(VIEWER),
            None
        )
        .0,
        404
    );
}

/// FX-8, the kill part (the FIX execution reports belong to the FIX edge): an account kill with two working
/// orders cancels both, unsolicited, and the next new order is refused by PT-KILL.
#[test]
fn fx_8_kill_part_an_account_kill_cancels_both_working_orders_and_refuses_new_ones() {
    let s = start(false);
    let base = &s.gw.base;
    set_price(base, "100");
    let ids: Vec<u64> = ["50.00", "51.00"]
        .iter()
        .map(|px| {
            order(base, None, "C", "buy", 1, Some(px)).1["order_id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let (st, v) = kill(
        base,
        Some(RISK),
        r#"{"scope":"account","target":"C","reason":"FX-8"}"#,
    );
    assert_eq!(st, 200, "{v}");
    for id in &ids {
        wait_status(base, *id, "canceled");
    }
    let (st, v) = order(base, None, "C", "buy", 1, Some("52.00"));
    assert_eq!(st, 403);
    assert_eq!(v["error"]["code"], "KILL_SWITCH_ACTIVE");
    assert_eq!(v["error"]["rule"], "PT-KILL", "{v}");
}

#[test]
fn a_strategy_kill_trips_each_of_its_accounts() {
    let s = start(false);
    let base = &s.gw.base;
    set_price(base, "100");
    // `strat` trades account A; its trader may stop it.
    let (st, v) = kill(
        base,
        Some(TRADER_A),
        r#"{"scope":"strategy","target":"strat","mode":"halt","reason":"runaway"}"#,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["scope"], "strategy");
    assert_eq!(v["accounts"][0], "A");
    assert_eq!(v["kill"]["accounts"][0]["account"], "A");
    assert_eq!(order(base, None, "A", "buy", 1, Some("99.00")).0, 403);
    assert_eq!(order(base, None, "B", "buy", 1, Some("99.00")).0, 201);
    let (st, v) = kill(
        base,
        Some(RISK),
        r#"{"scope":"strategy","target":"nope","reason":"x"}"#,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (404, Some("UNKNOWN_STRATEGY"))
    );
    assert_eq!(
        reset(
            base,
            Some(RISK),
            r#"{"scope":"strategy","target":"strat","reason":"fixed"}"#
        )
        .0,
        200
    );
    assert_eq!(order(base, None, "A", "buy", 1, Some("98.00")).0, 201);
}

#[test]
fn a_venue_kill_names_the_paper_venue() {
    let s = start(false);
    let base = &s.gw.base;
    set_price(base, "100");
    let (st, v) = kill(
        base,
        Some(RISK),
        r#"{"scope":"venue","target":"paper","mode":"halt","reason":"venue outage"}"#,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["kill"]["venues"][0]["venue"], "paper");
    assert_eq!(order(base, None, "C", "buy", 1, Some("99.00")).0, 403);
    let (st, v) = kill(
        base,
        Some(RISK),
        r#"{"scope":"venue","target":"nyse","reason":"x"}"#,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (404, Some("UNKNOWN_VENUE"))
    );
    assert_eq!(
        reset(
            base,
            Some(RISK),
            r#"{"scope":"venue","target":"paper","reason":"back"}"#
        )
        .0,
        200
    );
    assert_eq!(order(base, None, "C", "buy", 1, Some("99.00")).0, 201);
}
