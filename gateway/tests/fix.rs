//! The FIX acceptor end to end: the real binary with QuickFIX sessions, a raw-socket FIX client (so tests
//! own sequence numbers and can send malformed bytes). Spec vectors FX-1 to FX-9 and PT-10, restart with
//! sequence numbers continuing and a resend request answered with PossDup copies, and malformed input.

mod common;
use common::fix::*;
use common::*;
use std::time::Duration;

const GW: &str = "BULWARK";
const WEBHOOK_TOKEN: &str = "fix-test-webhook-0123456789";

struct Rig {
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
    fix_port: u16,
    gw: Option<Gateway>,
}

impl Rig {
    fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let fix_port = free_port();
        // XNYS with today (New York) as a holiday, for FX-3.
        let cal_dir = dir.path().join("calendars");
        std::fs::create_dir_all(&cal_dir).unwrap();
        let today = utc_now()
            .with_timezone(&chrono_tz::America::New_York)
            .format("%Y-%m-%d")
            .to_string();
        let xnys = include_str!("../../config/calendars/XNYS.toml").replacen(
            "holidays = [",
            &format!("holidays = [\n  \"{today}\","),
            1,
        );
        std::fs::write(cal_dir.join("XNYS.toml"), xnys).unwrap();
        let config = dir.path().join("bulwark.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[gateway]
data_dir = "{data}"
http_listen = "127.0.0.1:0"
reply_timeout_ms = 10000
calendars_dir = "{cal}"

[journal]
durability = "sync"

[limits.default]
max_order_qty = 10000
max_position = 10000
max_notional_usd = 100000000
reference_max_age_ms = 0
throttle_orders_max = 0
dup_window_ms = 0
wash = false

[[accounts]]
name = "ACC1"
initial_balance_usd = 100000000
[[accounts]]
name = "ACC2"
initial_balance_usd = 100000000
[[accounts]]
name = "ACC3"
initial_balance_usd = 100000000
[[accounts]]
name = "ACC4"
initial_balance_usd = 100000000

[[symbols]]
name = "AAPL"
calendar = "ALWAYS"
[[symbols]]
name = "SPY"
calendar = "XNYS"

[[tokens]]
name = "risk"
role = "risk_officer"
token = "fix-test-risk-officer"

# A TradingView webhook on the FIX session's account; the test client forwards TradingView's address.
[[webhooks]]
name = "tv"
token = "{WEBHOOK_TOKEN}"
secret = "ok"
account = "ACC1"
strategy = "fix-tv"
trusted_proxies = ["127.0.0.1"]

[fix]
port = {fix_port}
log_messages = true

[[fix.sessions]]
begin_string = "FIX.4.4"
sender_comp_id = "{GW}"
target_comp_id = "CLI44"
accounts = ["ACC1", "ACC4"]

[[fix.sessions]]
begin_string = "FIX.4.2"
sender_comp_id = "{GW}"
target_comp_id = "CLI42"
accounts = ["ACC2"]

[[fix.sessions]]
begin_string = "FIX.4.4"
sender_comp_id = "{GW}"
target_comp_id = "OTHER"
accounts = ["ACC3"]
"#,
                data = data.display(),
                cal = cal_dir.display(),
            ),
        )
        .unwrap();
        let gw = Gateway::start(&config);
        let mut rig = Rig {
            _dir: dir,
            config,
            fix_port,
            gw: Some(gw),
        };
        rig.price("AAPL", "190.00");
        rig
    }

    fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    fn gw(&self) -> &Gateway {
        self.gw.as_ref().unwrap()
    }

    fn price(&mut self, symbol: &str, px: &str) {
        let (status, body) = post(
            &agent(),
            &format!("{}/api/v1/prices", self.gw().base),
            &format!(r#"{{"symbol":"{symbol}","price":"{px}"}}"#),
        );
        assert!(status < 300, "{status} {body}");
    }

    fn client(&self, begin: &str, me: &str) -> FixClient {
        let mut c = FixClient::connect(self.fix_port, begin, me, GW);
        c.logon(30);
        c
    }

    fn orders(&self, account: &str) -> Vec<serde_json::Value> {
        let (status, body) = get(
            &agent(),
            &format!("{}/api/v1/orders?account={account}", self.gw().base),
        );
        assert_eq!(status, 200, "{body}");
        body["orders"].as_array().cloned().unwrap_or_default()
    }

    fn restart(&mut self) {
        self.gw.take().unwrap().kill9();
        self.gw = Some(Gateway::start(&self.config));
    }
}

fn order(c: &mut FixClient, fields: &[(u32, String)]) -> Msg {
    let seq = c.send("D", &refs(fields));
    let cl = fields.iter().find(|(t, _)| *t == 11).unwrap().1.clone();
    let _ = seq;
    c.expect(
        |m| m.msg_type() == "8" && m.get(11) == Some(cl.as_str()),
        "ExecutionReport",
    )
}

/// The highest MsgSeqNum received from the gateway.
fn last_seq(c: &FixClient) -> u64 {
    c.received
        .iter()
        .filter_map(|m| m.get(34)?.parse().ok())
        .max()
        .unwrap_or(0)
}

/// Sends an OrderCancelRequest `cl` for the AAPL buy order `orig` of `qty`.
fn cancel(c: &mut FixClient, cl: &str, orig: &str, qty: &str) {
    let t = sending_time();
    c.send(
        "F",
        &[
            (11, cl),
            (41, orig),
            (55, "AAPL"),
            (54, "1"),
            (60, &t),
            (38, qty),
        ],
    );
}

fn assert_tags(m: &Msg, want: &[(u32, &str)]) {
    for (t, v) in want {
        assert_eq!(m.get(*t), Some(*v), "tag {t} in {}", m.text());
    }
}

#[test]
fn fx_1_fx_2_max_order_qty_rejects_as_execution_reports_in_fix_4_4_and_4_2() {
    let rig = Rig::start();
    let mut c44 = rig.client("FIX.4.4", "CLI44");
    let er = order(
        &mut c44,
        &nos("ORD-1", "ACC1", "1", "20000", Some("190.00"), "0"),
    );
    assert_tags(
        &er,
        &[
            (8, "FIX.4.4"),
            (35, "8"),
            (37, "NONE"),
            (11, "ORD-1"),
            (150, "8"),
            (39, "8"),
            (1, "ACC1"),
            (55, "AAPL"),
            (54, "1"),
            (38, "20000"),
            (40, "2"),
            (44, "190.00"),
            (151, "0"),
            (14, "0"),
            (6, "0"),
            (103, "3"),
            (58, "RISK:PT-QTY:qty=20000>max=10000"),
        ],
    );
    assert!(er.get(17).is_some_and(|x| !x.is_empty()));
    assert_eq!(er.get(20), None, "4.4 has no ExecTransType");

    let mut c42 = rig.client("FIX.4.2", "CLI42");
    let mut f = nos("ORD-1", "ACC2", "1", "20000", Some("190.00"), "0");
    f.push((21, "1".into()));
    let er = order(&mut c42, &f);
    assert_tags(
        &er,
        &[
            (8, "FIX.4.2"),
            (37, "NONE"),
            (20, "0"),
            (150, "8"),
            (39, "8"),
            (103, "3"),
            (58, "RISK:PT-QTY:qty=20000>max=10000"),
        ],
    );
}

#[test]
fn accepted_orders_get_new_then_fill_reports_with_trade_in_4_4_and_fill_in_4_2() {
    let mut rig = Rig::start();
    let mut c44 = rig.client("FIX.4.4", "CLI44");
    let er = order(
        &mut c44,
        &nos("B-1", "ACC1", "1", "100", Some("180.00"), "0"),
    );
    assert_tags(&er, &[(150, "0"), (39, "0"), (151, "100"), (14, "0")]);
    let id = er.get(37).unwrap().to_string();
    assert_ne!(id, "NONE");
    let mut c42 = rig.client("FIX.4.2", "CLI42");
    let mut f = nos("B-2", "ACC2", "1", "10", None, "0");
    f.push((21, "1".into()));
    c42.send("D", &refs(&f));
    let new = c42.expect(|m| m.get(150) == Some("0"), "4.2 New");
    assert_tags(&new, &[(20, "0"), (39, "0")]);
    let fill = c42.expect(|m| m.get(150) == Some("2"), "4.2 Fill");
    assert_tags(
        &fill,
        &[(39, "2"), (32, "10"), (14, "10"), (151, "0"), (20, "0")],
    );
    // The resting 4.4 buy fills when the price comes down to its limit: ExecType F (Trade).
    rig.price("AAPL", "179.00");
    let trade = c44.expect(|m| m.get(150) == Some("F"), "4.4 Trade");
    assert_tags(
        &trade,
        &[
            (37, id.as_str()),
            (11, "B-1"),
            (39, "2"),
            (32, "100"),
            (31, "179"),
            (14, "100"),
            (151, "0"),
        ],
    );
}

#[test]
fn fx_3_an_order_on_an_exchange_holiday_is_rejected_naming_the_calendar() {
    let rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    let mut f = nos("H-1", "ACC1", "1", "10", Some("600.00"), "0");
    f[2].1 = "SPY".into();
    let er = order(&mut c, &f);
    let today = utc_now()
        .with_timezone(&chrono_tz::America::New_York)
        .format("%Y-%m-%d")
        .to_string();
    assert_tags(
        &er,
        &[
            (150, "8"),
            (39, "8"),
            (103, "2"),
            (58, format!("RISK:HOURS:XNYS closed {today}").as_str()),
        ],
    );
}

#[test]
fn fx_4_cancel_of_an_unknown_order_gets_an_order_cancel_reject() {
    let rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    cancel(&mut c, "C-9", "UNKNOWN-7", "100");
    let r = c.expect(|m| m.msg_type() == "9", "OrderCancelReject");
    assert_tags(
        &r,
        &[
            (37, "NONE"),
            (11, "C-9"),
            (41, "UNKNOWN-7"),
            (39, "8"),
            (434, "1"),
            (102, "1"),
            (58, "Unknown order"),
        ],
    );
}

#[test]
fn fx_5_a_replace_beyond_max_position_is_refused_and_the_order_stays_working() {
    let rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    let er = order(
        &mut c,
        &nos("W-1", "ACC1", "1", "3000", Some("180.00"), "0"),
    );
    assert_eq!(er.get(150), Some("0"));
    let er = order(
        &mut c,
        &nos("ORD-2", "ACC1", "1", "6000", Some("180.00"), "0"),
    );
    assert_eq!(er.get(150), Some("0"));
    let id = er.get(37).unwrap().to_string();
    let t = sending_time();
    let replace = |qty: &'static str, cl: &'static str| {
        vec![
            (11, cl.to_string()),
            (41, "ORD-2".to_string()),
            (1, "ACC1".to_string()),
            (55, "AAPL".to_string()),
            (54, "1".to_string()),
            (60, t.clone()),
            (38, qty.to_string()),
            (40, "2".to_string()),
            (44, "181.00".to_string()),
        ]
    };
    c.send("G", &refs(&replace("8000", "ORD-2-R1")));
    let r = c.expect(|m| m.msg_type() == "9", "OrderCancelReject");
    assert_tags(
        &r,
        &[
            (37, id.as_str()),
            (11, "ORD-2-R1"),
            (41, "ORD-2"),
            (39, "0"),
            (434, "2"),
            (102, "2"),
        ],
    );
    assert!(
        r.get(58).unwrap().starts_with("RISK:PT-POS:"),
        "{}",
        r.text()
    );
    let orders = rig.orders("ACC1");
    let ord2 = |orders: &[serde_json::Value]| {
        orders
            .iter()
            .find(|o| o["order_id"].to_string() == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(ord2(&orders)["status"], "new", "{orders:?}");
    assert_eq!(ord2(&orders)["qty"], "6000");
    // Within the limit the replace is accepted: ExecType 5, same OrderID, new ClOrdID chained to the old.
    c.send("G", &refs(&replace("6500", "ORD-2-R2")));
    let r = c.expect(|m| m.get(150) == Some("5"), "Replaced");
    assert_tags(
        &r,
        &[
            (37, id.as_str()),
            (11, "ORD-2-R2"),
            (41, "ORD-2"),
            (39, "0"),
            (38, "6500"),
            (151, "6500"),
        ],
    );
    let orders = rig.orders("ACC1");
    assert_eq!(ord2(&orders)["qty"], "6500");
    assert_eq!(ord2(&orders)["client_order_id"], "ORD-2-R2");
}

#[test]
fn fx_6_unsupported_message_type_gets_a_business_message_reject() {
    let rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    let seq = c.send("AB", &[(11, "ML-1"), (555, "0")]);
    let r = c.expect(|m| m.msg_type() == "j", "BusinessMessageReject");
    assert_tags(
        &r,
        &[
            (45, seq.to_string().as_str()),
            (372, "AB"),
            (379, "ML-1"),
            (380, "3"),
            (58, "Unsupported message type"),
        ],
    );
}

/// The hand-off threads run under `SCHED_BATCH` (`[gateway] thread_policy`, default "batch"), the
/// connection thread QuickFIX starts for a logged-on session too (it inherits the acceptor's policy).
#[test]
fn the_sequencer_and_fix_threads_run_under_the_batch_policy_and_the_http_threads_do_not() {
    const SCHED_OTHER: u32 = 0;
    const SCHED_BATCH: u32 = 3;
    let rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    // An order round trip: the connection thread exists and has run a callback.
    order(&mut c, &nos("POL-1", "ACC1", "1", "10", Some("1.00"), "0"));
    let pid = rig.gw().child.id();
    let mut by_name: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(task.join("comm")),
            std::fs::read_to_string(task.join("stat")),
        ) else {
            continue; // a thread that ended meanwhile
        };
        // Fields after the command's closing parenthesis start at field 3; the policy is field 41.
        let after = &stat[stat.rfind(')').unwrap() + 1..];
        let policy: u32 = after
            .split_whitespace()
            .nth(41 - 3)
            .unwrap()
            .parse()
            .unwrap();
        by_name
            .entry(comm.trim().to_string())
            .or_default()
            .push(policy);
    }
    assert_eq!(
        by_name.get("sequencer"),
        Some(&vec![SCHED_BATCH]),
        "{by_name:?}"
    );
    assert_eq!(
        by_name.get("fix-responder"),
        Some(&vec![SCHED_BATCH]),
        "{by_name:?}"
    );
    // Our acceptor thread and the connection thread(s) QuickFIX started from it.
    let acceptor = &by_name["fix-acceptor"];
    assert!(acceptor.len() >= 2, "{by_name:?}");
    assert!(acceptor.iter().all(|p| *p == SCHED_BATCH), "{by_name:?}");
    // The tokio workers (HTTP, named bulwark-io) keep the default.
    let http: Vec<u32> = by_name
        .iter()
        .filter(|(n, _)| n.starts_with("bulwark-io"))
        .flat_map(|(_, p)| p.clone())
        .collect();
    assert!(!http.is_empty(), "{by_name:?}");
    assert!(http.iter().all(|p| *p == SCHED_OTHER), "{by_name:?}");
}

#[test]
fn fx_7_a_new_order_without_side_gets_a_session_reject() {
    let rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    let f: Vec<_> = nos("ORD-7", "ACC1", "1", "10", Some("190.00"), "0")
        .into_iter()
        .filter(|(t, _)| *t != 54)
        .collect();
    let seq = c.send("D", &refs(&f));
    let r = c.expect(|m| m.msg_type() == "3", "Reject");
    assert_tags(
        &r,
        &[
            (45, seq.to_string().as_str()),
            (371, "54"),
            (372, "D"),
            (373, "1"),
        ],
    );
    assert!(rig.orders("ACC1").is_empty());
}

#[test]
fn fx_8_kill_at_account_reports_unsolicited_cancels_then_rejects_new_orders() {
    let rig = Rig::start();
    let mut c44 = rig.client("FIX.4.4", "CLI44");
    let mut c42 = rig.client("FIX.4.2", "CLI42");
    for cl in ["K-1", "K-2"] {
        let er = order(&mut c44, &nos(cl, "ACC1", "1", "10", Some("180.00"), "0"));
        assert_eq!(er.get(150), Some("0"));
        let mut f = nos(cl, "ACC2", "1", "10", Some("180.00"), "1");
        f.push((21, "1".into()));
        let er = order(&mut c42, &f);
        assert_eq!(er.get(150), Some("0"));
    }
    for account in ["ACC1", "ACC2"] {
        let (status, body) = kill(
            &rig,
            &format!(
                r#"{{"scope":"account","target":"{account}","mode":"cancel_all","reason":"FX-8"}}"#
            ),
        );
        assert!(status < 300, "{body}");
    }
    for (c, v42) in [(&mut c44, false), (&mut c42, true)] {
        for cl in ["K-1", "K-2"] {
            let r = c.expect(
                |m| m.get(150) == Some("4") && m.get(11) == Some(cl),
                "unsolicited cancel",
            );
            assert_tags(&r, &[(39, "4"), (151, "0"), (14, "0"), (58, "KILL_SWITCH")]);
            assert_eq!(r.get(20), v42.then_some("0"));
            assert_ne!(r.get(37), Some("NONE"));
        }
    }
    let er = order(
        &mut c44,
        &nos("K-3", "ACC1", "1", "10", Some("180.00"), "0"),
    );
    assert_tags(&er, &[(150, "8"), (39, "8"), (103, "99")]);
    assert!(
        er.get(58).unwrap().starts_with("RISK:PT-KILL"),
        "{}",
        er.text()
    );
    let mut f = nos("K-3", "ACC2", "1", "10", Some("180.00"), "0");
    f.push((21, "1".into()));
    let er = order(&mut c42, &f);
    assert_tags(&er, &[(150, "8"), (39, "8"), (103, "0")]);
}

/// Trips the kill switch with the risk officer's token; returns the HTTP status and body.
fn kill(rig: &Rig, body: &str) -> (u16, String) {
    let mut resp = agent()
        .post(&format!("{}/api/v1/kill", rig.gw().base))
        .header("Authorization", "Bearer fix-test-risk-officer")
        .content_type("application/json")
        .send(body)
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

#[test]
fn a_kill_at_session_scope_stops_that_sessions_accounts_only() {
    let rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    let mut other = rig.client("FIX.4.4", "OTHER");
    order(&mut c, &nos("S-1", "ACC1", "1", "10", Some("180.00"), "1"));
    order(
        &mut other,
        &nos("S-2", "ACC3", "1", "10", Some("180.00"), "1"),
    );
    let (status, body) = kill(
        &rig,
        r#"{"scope":"session","target":"CLI44","mode":"cancel_all","reason":"runaway strategy"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#""scope":"session""#) && body.contains("ACC1"),
        "{body}"
    );
    let r = c.expect(
        |m| m.get(150) == Some("4") && m.get(11) == Some("S-1"),
        "kill cancel",
    );
    assert_eq!(r.get(58), Some("KILL_SWITCH"));
    let er = order(&mut c, &nos("S-3", "ACC1", "1", "10", Some("180.00"), "0"));
    assert_tags(&er, &[(150, "8"), (103, "99")]);
    // The other session's order still works and it can still trade.
    let er = order(
        &mut other,
        &nos("S-4", "ACC3", "1", "10", Some("180.00"), "0"),
    );
    assert_eq!(er.get(150), Some("0"));
    assert!(rig.orders("ACC3").iter().all(|o| o["status"] == "new"));
    // An unknown session is a clear 404.
    let (status, body) = kill(
        &rig,
        r#"{"scope":"session","target":"NOBODY","mode":"halt","reason":"x"}"#,
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("UNKNOWN_SESSION"), "{body}");
}

#[test]
fn fx_9_reusing_the_clordid_of_an_active_order_is_a_duplicate_on_any_account_of_the_session() {
    let rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    let er = order(&mut c, &nos("S-1", "ACC1", "1", "10", Some("180.00"), "0"));
    assert_eq!(er.get(150), Some("0"));
    let er = order(&mut c, &nos("S-1", "ACC1", "1", "20", Some("181.00"), "0"));
    assert_tags(&er, &[(150, "8"), (39, "8"), (103, "6")]);
    // The session's other account: the same ClOrdID is a duplicate (FIX: unique per session per day).
    let er = order(&mut c, &nos("S-1", "ACC4", "1", "10", Some("180.00"), "0"));
    assert_tags(&er, &[(150, "8"), (39, "8"), (103, "6"), (1, "ACC4")]);
    let er = order(&mut c, &nos("S-2", "ACC4", "1", "10", Some("180.00"), "0"));
    assert_eq!(
        er.get(150),
        Some("0"),
        "a fresh ClOrdID on ACC4 is accepted"
    );
    // Without tag 1 this session (two accounts) has no account to assume for a new order.
    let without_account: Vec<_> = nos("S-3", "ACC1", "1", "10", Some("180.00"), "0")
        .into_iter()
        .filter(|(t, _)| *t != 1)
        .collect();
    let er = order(&mut c, &without_account);
    assert_tags(
        &er,
        &[
            (150, "8"),
            (39, "8"),
            (103, "15"),
            (
                58,
                "Account (tag 1) is required on a new order: this session trades 2 accounts (ACC1, ACC4)",
            ),
        ],
    );
    // Another session may use it.
    let mut c42 = rig.client("FIX.4.2", "CLI42");
    let mut fields = nos("S-1", "ACC2", "1", "10", Some("180.00"), "0");
    fields.push((21, "1".into()));
    let er = order(&mut c42, &fields);
    assert_eq!(er.get(150), Some("0"), "{er:?}");
}

#[test]
fn pt_10_a_drop_cancels_working_day_orders_and_keeps_gtc_while_a_clean_logout_keeps_both() {
    let rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    order(
        &mut c,
        &nos("DAY-1", "ACC1", "1", "10", Some("180.00"), "0"),
    );
    order(
        &mut c,
        &nos("GTC-1", "ACC1", "1", "10", Some("180.00"), "1"),
    );
    // Drop the TCP connection without a Logout.
    let next = c.next_seq;
    let seen = last_seq(&c);
    drop(c);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = |cl: &str| -> String {
        rig.orders("ACC1")
            .iter()
            .find(|o| o["client_order_id"] == cl)
            .map(|o| o["status"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    while status("DAY-1") != "canceled" && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(status("DAY-1"), "canceled");
    assert_eq!(status("GTC-1"), "new");
    // Reconnect: the cancel report sent while the session was down comes back on the resend.
    let (mut c, _) = FixClient::reconnect(rig.fix_port, "FIX.4.4", "CLI44", GW, next);
    // The gateway's Logon shows a gap: ask for what was sent meanwhile.
    c.resend_from(seen + 1);
    let r = c.expect(
        |m| m.get(150) == Some("4") && m.get(11) == Some("DAY-1"),
        "cancel-on-disconnect report",
    );
    assert_eq!(r.get(58), Some("CANCEL_ON_DISCONNECT"));
    // A clean Logout cancels nothing.
    order(
        &mut c,
        &nos("DAY-2", "ACC1", "1", "10", Some("180.00"), "0"),
    );
    c.send("5", &[]);
    c.expect(|m| m.msg_type() == "5", "Logout answer");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status("DAY-2"), "new");
    assert_eq!(status("GTC-1"), "new");
}

#[test]
fn restart_mid_session_continues_sequence_numbers_and_answers_a_resend_with_possdup_copies() {
    let mut rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    let er = order(&mut c, &nos("R-1", "ACC1", "1", "10", Some("180.00"), "0"));
    assert_eq!(er.get(150), Some("0"));
    let new_seq: u64 = er.get(34).unwrap().parse().unwrap();
    let er2 = order(&mut c, &nos("R-2", "ACC1", "1", "10", Some("181.00"), "1"));
    let last_gw_seq: u64 = er2.get(34).unwrap().parse().unwrap();
    let next = c.next_seq;
    drop(c);
    rig.restart();
    let (mut c, logon) = FixClient::reconnect(rig.fix_port, "FIX.4.4", "CLI44", GW, next);
    let logon_seq: u64 = logon.get(34).unwrap().parse().unwrap();
    assert!(
        logon_seq > last_gw_seq,
        "gateway sequence numbers continue: {logon_seq} after {last_gw_seq}"
    );
    // Ask for everything again: application messages come back as PossDup copies.
    c.resend_from(1);
    let dup = c.expect(
        |m| m.get(43) == Some("Y") && m.get(35) == Some("8") && m.get(11) == Some("R-1"),
        "PossDup copy of R-1's report",
    );
    assert_eq!(dup.get(34), Some(new_seq.to_string().as_str()));
    assert_eq!(dup.get(150), Some("0"));
    assert!(dup.get(122).is_some(), "OrigSendingTime on a resend");
    // Order state survived: the GTC order still works, the status request says so, and it fills after restart.
    let t = sending_time();
    c.send("H", &[(11, "R-2"), (55, "AAPL"), (54, "1"), (60, &t)]);
    let st = c.expect(
        |m| m.get(150) == Some("I") && m.get(11) == Some("R-2"),
        "status",
    );
    assert_tags(&st, &[(39, "0"), (151, "10")]);
    rig.price("AAPL", "181.00");
    let fill = c.expect(
        |m| m.get(150) == Some("F") && m.get(11) == Some("R-2"),
        "fill after restart",
    );
    assert_tags(&fill, &[(39, "2"), (14, "10")]);
}

/// The window this closes is microseconds wide (a fill journaled, the process killed before its report reached
/// QuickFIX), so the test opens it by hand: after `kill -9` the progress file is set back to before the fill.
#[test]
fn a_report_journaled_but_not_sent_before_a_crash_is_sent_after_the_restart() {
    let mut rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    order(&mut c, &nos("F-1", "ACC1", "1", "10", Some("180.00"), "1"));
    rig.price("AAPL", "179.00");
    let fill = c.expect(
        |m| m.get(150) == Some("F") && m.get(11) == Some("F-1"),
        "fill",
    );
    let first_exec = fill.get(17).unwrap().to_string();
    // The journal record of the fill: the progress goes back to just before it.
    let (ok, lines) = journal_tool("dump", &rig.dir().join("data/journal"));
    assert!(ok);
    let fill_seq = lines
        .iter()
        .filter(|l| l["kind"] == "venue" && l["event"]["venue"]["type"] == "fill")
        .filter_map(|l| l["seq"].as_u64())
        .next_back()
        .expect("a fill record");
    let mut c = crash_before_reporting(&mut rig, hang_up(c), fill_seq);
    let again = c.expect(
        |m| m.get(150) == Some("F") && m.get(11) == Some("F-1"),
        "the fill's report, sent after the restart",
    );
    assert_tags(&again, &[(39, "2"), (32, "10"), (14, "10")]);
    // A new message (sent after the restart, so delivered on the resend), with the ExecID of the journal record:
    // a client that did see the first one can tell it is the same fill.
    let first_seq: u64 = fill.get(34).unwrap().parse().unwrap();
    let again_seq: u64 = again.get(34).unwrap().parse().unwrap();
    assert!(
        again_seq > first_seq,
        "{} after {}",
        again.text(),
        fill.text()
    );
    assert_eq!(again.get(17), Some(first_exec.as_str()));
    assert_eq!(first_exec, format!("J{fill_seq}"));
    // The warning is logged when the journal scan ends, which may be just after the report left.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !rig.gw().log().contains("their reports were sent now")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = rig.gw().log();
    assert!(log.contains("their reports were sent now"), "{log}");
}

/// The sequence number of the last journal record of `kind` (`journal dump`'s name for it).
fn last_record_seq(rig: &Rig, kind: &str) -> u64 {
    let (ok, lines) = journal_tool("dump", &rig.dir().join("data/journal"));
    assert!(ok);
    lines
        .iter()
        .filter(|l| l["kind"] == kind)
        .filter_map(|l| l["seq"].as_u64())
        .next_back()
        .unwrap_or_else(|| panic!("a {kind} record"))
}

/// Drops the client's connection without a Logout; returns its next sequence number and the last one it saw.
fn hang_up(c: FixClient) -> (u64, u64) {
    (c.next_seq, last_seq(&c))
}

/// Kills the gateway, sets the FIX responder's progress back to just before journal record `seq` (as if the
/// process had died after journaling it, before its report reached QuickFIX), starts the gateway again and
/// reconnects `CLI44` (`(next, seen)` from [`hang_up`]), asking for everything after the last message it saw.
fn crash_before_reporting(rig: &mut Rig, (next, seen): (u64, u64), seq: u64) -> FixClient {
    rig.gw.take().unwrap().kill9();
    std::fs::write(
        rig.dir().join("data/fix/bulwark-reported-seq"),
        (seq - 1).to_le_bytes(),
    )
    .unwrap();
    rig.gw = Some(Gateway::start(&rig.config));
    let (mut c, _) = FixClient::reconnect(rig.fix_port, "FIX.4.4", "CLI44", GW, next);
    c.resend_from(seen + 1);
    c
}

/// The same crash window as the fill's above, for a client's cancel: the Canceled report sent after the restart
/// echoes the cancel request's own ClOrdID and chains the order's in 41, as the first one did (the journal
/// keeps the request's ClOrdID).
#[test]
fn a_cancel_journaled_but_not_reported_before_a_crash_keeps_its_clordid_after_the_restart() {
    let mut rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    let er = order(&mut c, &nos("K-1", "ACC1", "1", "10", Some("180.00"), "0"));
    assert_eq!(er.get(150), Some("0"));
    cancel(&mut c, "K-1-C", "K-1", "10");
    let first = c.expect(|m| m.get(150) == Some("4"), "Canceled");
    assert_tags(&first, &[(11, "K-1-C"), (41, "K-1"), (39, "4")]);
    assert_eq!(first.get(58), None, "{}", first.text());
    let cancel_seq = last_record_seq(&rig, "cancel_order");
    let mut c = crash_before_reporting(&mut rig, hang_up(c), cancel_seq);
    let again = c.expect(
        |m| m.get(150) == Some("4") && m.get(34) != first.get(34),
        "the Canceled report, sent after the restart",
    );
    assert_tags(&again, &[(11, "K-1-C"), (41, "K-1"), (39, "4"), (151, "0")]);
    assert_eq!(again.get(17), first.get(17), "the same ExecID");
    assert_eq!(again.get(58), None, "{}", again.text());
}

/// A TradingView `cancel` alert on the FIX session's account cancels its working AAPL order: the client's
/// unsolicited Canceled report names the webhook.
#[test]
fn a_webhook_cancel_of_a_fix_order_is_reported_as_canceled_by_webhook() {
    let rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    let er = order(&mut c, &nos("W-1", "ACC1", "1", "10", Some("180.00"), "0"));
    assert_eq!(er.get(150), Some("0"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let time = chrono::DateTime::from_timestamp(now - 1, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ");
    let mut resp = agent()
        .post(&format!(
            "{}/api/v1/webhooks/tradingview/{WEBHOOK_TOKEN}",
            rig.gw().base
        ))
        .header("X-Forwarded-For", "52.89.214.238")
        .content_type("application/json")
        .send(&format!(
            r#"{{"ticker":"AAPL","action":"cancel","secret":"ok","time":"{time}"}}"#
        ))
        .unwrap();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    assert!(resp.status().as_u16() < 300, "{} {body}", resp.status());
    let r = c.expect(|m| m.get(150) == Some("4"), "Canceled");
    assert_tags(&r, &[(11, "W-1"), (39, "4"), (58, "CANCELED_BY_WEBHOOK")]);
}

/// PT-10's cancel-on-disconnect, its decision journaled just before a crash: the Canceled report sent at the
/// restart still says why (the journal tells the edge's own cancels from the client's).
#[test]
fn a_cancel_on_disconnect_in_the_crash_window_keeps_its_text_after_the_restart() {
    let mut rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    order(&mut c, &nos("D-1", "ACC1", "1", "10", Some("180.00"), "0"));
    let point = hang_up(c);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let canceled = |rig: &Rig| {
        rig.orders("ACC1")
            .iter()
            .any(|o| o["client_order_id"] == "D-1" && o["status"] == "canceled")
    };
    while !canceled(&rig) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(canceled(&rig));
    let cancel_seq = last_record_seq(&rig, "cancel_order");
    let mut c = crash_before_reporting(&mut rig, point, cancel_seq);
    // The report made while the session was down (a PossDup copy on the resend) and the one sent again at
    // the restart: both name cancel-on-disconnect.
    let first = c.expect(
        |m| m.get(150) == Some("4") && m.get(11) == Some("D-1"),
        "a Canceled report",
    );
    let second = c.expect(
        |m| m.get(150) == Some("4") && m.get(11) == Some("D-1") && m.get(34) != first.get(34),
        "the other Canceled report",
    );
    for r in [&first, &second] {
        assert_eq!(r.get(58), Some("CANCEL_ON_DISCONNECT"), "{}", r.text());
    }
    assert_eq!(first.get(17), second.get(17), "the same ExecID");
}

/// A refused cancel and a refused replace whose decisions were journaled just before a crash: their
/// OrderCancelRejects are sent after the restart with the fields of the first ones.
#[test]
fn cancel_rejects_journaled_but_not_sent_before_a_crash_are_sent_after_the_restart() {
    let mut rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    let er = order(
        &mut c,
        &nos("P-1", "ACC1", "1", "6000", Some("180.00"), "0"),
    );
    assert_eq!(er.get(150), Some("0"));
    let id = er.get(37).unwrap().to_string();
    cancel(&mut c, "C-9", "UNKNOWN-7", "100");
    let unknown = c.expect(|m| m.msg_type() == "9", "OrderCancelReject");
    let first_cancel_seq = last_record_seq(&rig, "cancel_order");
    let t = sending_time();
    c.send(
        "G",
        &[
            (11, "P-1-R"),
            (41, "P-1"),
            (1, "ACC1"),
            (55, "AAPL"),
            (54, "1"),
            (60, &t),
            (38, "20000"),
            (40, "2"),
            (44, "180.00"),
        ],
    );
    let refused = c.expect(
        |m| m.msg_type() == "9" && m.get(11) == Some("P-1-R"),
        "OrderCancelReject for the replace",
    );
    let mut c = crash_before_reporting(&mut rig, hang_up(c), first_cancel_seq);
    let unknown_again = c.expect(
        |m| m.msg_type() == "9" && m.get(11) == Some("C-9") && m.get(34) != unknown.get(34),
        "the unknown order's OrderCancelReject, after the restart",
    );
    for tag in [37, 11, 41, 39, 434, 102, 58] {
        assert_eq!(unknown_again.get(tag), unknown.get(tag), "tag {tag}");
    }
    let refused_again = c.expect(
        |m| m.msg_type() == "9" && m.get(11) == Some("P-1-R") && m.get(34) != refused.get(34),
        "the replace's OrderCancelReject, after the restart",
    );
    assert_tags(
        &refused_again,
        &[
            (37, id.as_str()),
            (41, "P-1"),
            (39, "0"),
            (434, "2"),
            (102, "2"),
        ],
    );
    assert_eq!(refused_again.get(58), refused.get(58));
    assert!(
        refused.get(58).unwrap().starts_with("RISK:PT-QTY:"),
        "{}",
        refused.text()
    );
}

/// An order of a FIX session canceled through the REST API: the client's unsolicited Canceled report says so
/// (`58=CANCELED_BY_REST`), not the kill switch; the same after a restart that replays it.
#[test]
fn a_rest_cancel_of_a_fix_order_is_reported_as_canceled_by_rest() {
    let mut rig = Rig::start();
    let mut c = rig.client("FIX.4.4", "CLI44");
    let er = order(&mut c, &nos("Q-1", "ACC1", "1", "10", Some("180.00"), "0"));
    let id = er.get(37).unwrap().to_string();
    let (status, body) = send(
        &agent(),
        "DELETE",
        &format!("{}/api/v1/orders/{id}?account=ACC1", rig.gw().base),
        None,
    )
    .expect("request reaches the gateway");
    assert_eq!(status, 202, "{body}");
    let first = c.expect(|m| m.get(150) == Some("4"), "Canceled");
    assert_tags(&first, &[(11, "Q-1"), (39, "4"), (58, "CANCELED_BY_REST")]);
    assert_eq!(first.get(41), None);
    let cancel_seq = last_record_seq(&rig, "cancel_order");
    let mut c = crash_before_reporting(&mut rig, hang_up(c), cancel_seq);
    let again = c.expect(
        |m| m.get(150) == Some("4") && m.get(34) != first.get(34),
        "the Canceled report, sent after the restart",
    );
    assert_tags(&again, &[(11, "Q-1"), (58, "CANCELED_BY_REST")]);
}

#[test]
fn malformed_input_gets_a_session_answer_or_a_disconnect_and_other_sessions_keep_trading() {
    let rig = Rig::start();
    let mut other = rig.client("FIX.4.4", "OTHER");
    let mut c = rig.client("FIX.4.4", "CLI44");
    // Garbage bytes between messages are skipped; the session goes on.
    c.send_raw(b"\x00\xffgarbage\x01\x01not fix at all");
    // A bad checksum: the message is dropped (not processed, no answer), the session goes on.
    let t = sending_time();
    let body = format!("35=D\x0149=CLI44\x0156={GW}\x0134={}\x0152={t}\x0111=BAD-SUM\x011=ACC1\x0155=AAPL\x0154=1\x0160={t}\x0138=10\x0140=1\x01", c.next_seq);
    let mut bytes = frame("FIX.4.4", &body);
    let n = bytes.len();
    bytes[n - 2] = if bytes[n - 2] == b'0' { b'1' } else { b'0' };
    c.send_raw(&bytes);
    // Missing required tags: a session Reject naming the first (FX-7 covers tag 54).
    let seq = c.send("D", &[(11, "NO-TAGS")]);
    let r = c.expect(|m| m.msg_type() == "3", "Reject for missing tags");
    assert_tags(
        &r,
        &[(45, seq.to_string().as_str()), (373, "1"), (371, "55")],
    );
    assert!(rig.orders("ACC1").is_empty(), "nothing was ordered");
    // A 100 KB message: QuickFIX reads it; the text is not a field the gateway keeps, the order is checked.
    let big = "X".repeat(100 * 1024);
    let mut f = nos("BIG-1", "ACC1", "1", "10", Some("180.00"), "0");
    f.push((58, big));
    let er = order(&mut c, &f);
    assert_eq!(er.get(150), Some("0"), "{}", er.text());
    // A wrong BodyLength: QuickFIX cannot frame the stream and drops the connection.
    let body = format!(
        "35=0\x0149=CLI44\x0156={GW}\x0134={}\x0152={}\x01",
        c.next_seq,
        sending_time()
    );
    let wrong = format!("8=FIX.4.4\x019={}\x01{body}10=000\x01", body.len() + 40);
    c.send_raw(wrong.as_bytes());
    c.send_raw(&frame("FIX.4.4", "35=0\x01"));
    let _ = c.closed_within(Duration::from_secs(3));
    // An unknown CompID never gets a session: the connection is closed without a Logon.
    let mut stranger = FixClient::connect(rig.fix_port, "FIX.4.4", "NOBODY", GW);
    stranger.send("A", &[(98, "0"), (108, "30")]);
    assert!(
        stranger.closed_within(Duration::from_secs(10)),
        "unknown CompID not disconnected"
    );
    assert!(stranger.received.iter().all(|m| m.msg_type() != "A"));
    // Meanwhile the other session trades on.
    let er = order(&mut other, &nos("OK-1", "ACC3", "1", "10", None, "0"));
    assert_eq!(er.get(150), Some("0"));
    other.expect(|m| m.get(150) == Some("F"), "fill on the other session");
}

/// The client side of a real QuickFIX initiator: every application message it receives, as FIX text.
#[derive(Default)]
struct QuickFixClient {
    received: std::sync::Mutex<Vec<String>>,
    logged_on: std::sync::atomic::AtomicBool,
}

impl quickfix::ApplicationCallback for QuickFixClient {
    fn on_logon(&self, _session: &quickfix::SessionId) {
        self.logged_on
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    fn on_msg_from_app(
        &self,
        msg: &quickfix::Message,
        _session: &quickfix::SessionId,
    ) -> Result<(), quickfix::MsgFromAppError> {
        if let Ok(text) = msg.to_fix_string() {
            self.received.lock().unwrap().push(text);
        }
        Ok(())
    }
}

impl QuickFixClient {
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(m) = self.received.lock().unwrap().iter().find(|m| pred(m)) {
                return m.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {what}; got {:?}",
                self.received.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A QuickFIX initiator (the `quickfix` crate, settings from a QuickFIX .cfg file like
/// config/fix/demo-initiator.cfg) logs on, gets FX-1's reject and then trades.
#[test]
fn a_quickfix_initiator_logs_on_gets_fx_1_and_trades() {
    use quickfix::{ConnectionHandler, FieldMap};
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("client.cfg");
    std::fs::write(
        &cfg,
        format!(
            "[DEFAULT]\nConnectionType=initiator\nSocketConnectHost=127.0.0.1\nSocketConnectPort={}\n\
             HeartBtInt=30\nReconnectInterval=1\nStartTime=00:00:00\nEndTime=00:00:00\n\
             FileStorePath={}\nUseDataDictionary=N\n\n[SESSION]\nBeginString=FIX.4.4\n\
             SenderCompID=CLI44\nTargetCompID={GW}\n",
            rig.fix_port,
            dir.path().join("store").display()
        ),
    )
    .unwrap();
    let settings = quickfix::SessionSettings::try_from_path(&cfg).unwrap();
    let store = quickfix::FileMessageStoreFactory::try_new(&settings).unwrap();
    let log = quickfix::LogFactory::try_new(&quickfix::NullLogger).unwrap();
    let client = QuickFixClient::default();
    let app = quickfix::Application::try_new(&client).unwrap();
    let mut initiator = quickfix::Initiator::try_new(
        &settings,
        &app,
        &store,
        &log,
        quickfix::FixSocketServerKind::SingleThreaded,
    )
    .unwrap();
    initiator.start().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !client.logged_on.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "QuickFIX did not log on"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let session = quickfix::SessionId::try_new("FIX.4.4", "CLI44", GW, "").unwrap();
    let send = |fields: &[(i32, String)]| {
        let mut m = quickfix::Message::new();
        m.with_header_mut(|h| h.set_field(35, "D")).unwrap();
        for (t, v) in fields {
            m.set_field(*t, v.as_str()).unwrap();
        }
        quickfix::send_to_target(m, &session).unwrap();
    };
    let fields = |f: Vec<(u32, String)>| -> Vec<(i32, String)> {
        f.into_iter().map(|(t, v)| (t as i32, v)).collect()
    };
    send(&fields(nos(
        "ORD-1",
        "ACC1",
        "1",
        "20000",
        Some("190.00"),
        "0",
    )));
    let er = client.wait_for("FX-1 reject", |m| m.contains("\x0111=ORD-1\x01"));
    for tag in [
        "\x0135=8\x01",
        "\x0137=NONE\x01",
        "\x01150=8\x01",
        "\x0139=8\x01",
        "\x01103=3\x01",
        "\x0158=RISK:PT-QTY:qty=20000>max=10000\x01",
    ] {
        assert!(er.contains(tag), "{tag:?} in {er:?}");
    }
    send(&fields(nos("QF-2", "ACC1", "1", "10", None, "0")));
    client.wait_for("New", |m| {
        m.contains("\x0111=QF-2\x01") && m.contains("\x01150=0\x01")
    });
    client.wait_for("Trade", |m| {
        m.contains("\x0111=QF-2\x01") && m.contains("\x01150=F\x01")
    });
    initiator.stop().unwrap();
}
