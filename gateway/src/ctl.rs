//! `bulwark ctl`: the control plane from a terminal. Each action is one HTTP call to a running gateway with the
//! bearer token from `BULWARK_TOKEN` (never printed); answers are printed as JSON on stdout, errors as the
//! gateway's code and sentence on stderr with exit status 1. `events` follows the event stream and prints one
//! JSON object per line until interrupted.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;
use std::time::Duration;

/// Where a kill or reset applies, and why.
#[derive(Debug, Clone)]
pub struct Scope {
    pub scope: String,
    pub target: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// Trip, with an optional mode.
    Kill(Scope, Option<String>),
    Reset(Scope),
    Status,
    /// `positions`, `orders` or `headroom` of an account.
    Get(&'static str, String),
    Events {
        account: Option<String>,
        after: Option<u64>,
    },
}

fn agent(timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(timeout)
        .build()
        .into()
}

fn with_token<B>(req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
    match std::env::var("BULWARK_TOKEN") {
        Ok(t) if !t.is_empty() => req.header("Authorization", format!("Bearer {t}")),
        _ => req,
    }
}

/// Prints a JSON answer (2xx) or the error (exit 1).
fn finish(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>, url: &str) -> ExitCode {
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bulwark ctl: cannot reach the gateway at {url}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if (200..300).contains(&status) {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        ExitCode::SUCCESS
    } else {
        let code = v["error"]["code"].as_str().unwrap_or("ERROR");
        let message = v["error"]["message"].as_str().unwrap_or("");
        eprintln!("bulwark ctl: {status} {code}: {message}");
        ExitCode::FAILURE
    }
}

fn scope_body(s: &Scope, mode: Option<&str>) -> String {
    let mut b = json!({"scope": s.scope, "reason": s.reason});
    if let Some(t) = &s.target {
        b["target"] = json!(t);
    }
    if let Some(m) = mode {
        b["mode"] = json!(m);
    }
    b.to_string()
}

pub fn run(base: &str, action: Action) -> ExitCode {
    let base = base.trim_end_matches('/');
    let a = agent(Some(Duration::from_secs(10)));
    match action {
        Action::Kill(s, mode) => {
            let url = format!("{base}/api/v1/kill");
            finish(
                with_token(a.post(&url))
                    .content_type("application/json")
                    .send(scope_body(&s, mode.as_deref())),
                base,
            )
        }
        Action::Reset(s) => {
            let url = format!("{base}/api/v1/kill/reset");
            finish(
                with_token(a.post(&url))
                    .content_type("application/json")
                    .send(scope_body(&s, None)),
                base,
            )
        }
        Action::Status => finish(
            with_token(a.get(format!("{base}/api/v1/kill"))).call(),
            base,
        ),
        Action::Get(what, account) => finish(
            with_token(a.get(format!("{base}/api/v1/{what}")))
                .query("account", &account)
                .call(),
            base,
        ),
        Action::Events { account, after } => {
            let mut req = with_token(agent(None).get(format!("{base}/api/v1/events")));
            if let Some(acc) = &account {
                req = req.query("account", acc);
            }
            if let Some(n) = after {
                req = req.header("Last-Event-ID", n.to_string());
            }
            let resp = match req.call() {
                Ok(r) if r.status().is_success() => r,
                other => return finish(other, base),
            };
            let mut out = std::io::stdout().lock();
            for line in BufReader::new(resp.into_body().into_reader()).lines() {
                let Ok(line) = line else { break };
                if let Some(data) = line.strip_prefix("data:") {
                    if writeln!(out, "{}", data.trim())
                        .and_then(|_| out.flush())
                        .is_err()
                    {
                        break;
                    }
                }
            }
            ExitCode::SUCCESS
        }
    }
}
