//! The risk officer's control plane over HTTP: trip and reset the kill switch at global, group (firm) or account
//! scope, in mode `halt`, `reduce_only`, `cancel_all` or `flatten`, and read its state. Every action needs a
//! bearer token and a reason; the actor (the token's configured name), its role and the reason are journaled in
//! an audit record just before the control record, so `bulwark journal dump` shows who did what and why.
//! Tripping an account needs a trader scoped to it (a trader may stop their own account); a group or global
//! trip, and every reset, need a risk officer; a reset also needs a role at least as high as the one that
//! tripped the switch (the engine decides, and journals the refusal). A reset never restores canceled orders.

use crate::auth::role_name;
use crate::http::{enqueue, now_ns, ApiError, AppState};
use crate::sequencer::{Answer, Inbound, KillState, Query};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bulwark_model::*;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The venues, by index (every symbol routes to the paper venue in this build).
pub const VENUES: [&str; 1] = ["paper"];

/// Longest reason accepted, in bytes.
pub const REASON_LEN_MAX: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillBody {
    scope: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    reason: String,
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

fn scope_of(s: &AppState, b: &KillBody) -> Result<(KillScope, Option<AccountId>), ApiError> {
    let target = b.target.as_deref();
    match (b.scope.as_str(), target) {
        ("global", None) => Ok((KillScope::Global, None)),
        ("global", Some(_)) => Err(bad("INVALID_FIELD", "scope global takes no target")),
        ("group", Some(g)) => s
            .groups
            .iter()
            .position(|x| x == g)
            .map(|i| (KillScope::Group(i as u32), None))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "UNKNOWN_GROUP",
                    format!("group `{g}` is not configured"),
                )
            }),
        ("account", Some(a)) => {
            crate::http::account_of(s, a).map(|id| (KillScope::Account(id), Some(id)))
        }
        ("symbol", Some(sym)) => s
            .catalog
            .symbol(sym)
            .map(|id| (KillScope::Symbol(id), None))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "UNKNOWN_SYMBOL",
                    format!("symbol `{sym}` is not configured"),
                )
            }),
        ("venue", Some(name)) => VENUES
            .iter()
            .position(|v| *v == name)
            .map(|i| (KillScope::Venue(i as u32), None))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "UNKNOWN_VENUE",
                    format!(
                        "venue `{name}` is not configured (venues: {})",
                        VENUES.join(", ")
                    ),
                )
            }),
        ("group" | "account" | "symbol" | "venue", None) => Err(bad(
            "MISSING_FIELD",
            format!("scope {} needs a target", b.scope),
        )),
        (other, _) => Err(bad(
            "INVALID_FIELD",
            format!(
                "scope `{other}` is not one of: global, group, account, symbol, strategy, session, venue"
            ),
        )),
    }
}

fn mode_of(text: Option<&str>) -> Result<KillMode, ApiError> {
    match text.unwrap_or("cancel_all") {
        "halt" => Ok(KillMode::Halt),
        "reduce_only" => Ok(KillMode::ReduceOnly),
        "cancel_all" => Ok(KillMode::CancelAll),
        "flatten" => Ok(KillMode::Flatten),
        other => Err(bad(
            "INVALID_FIELD",
            format!("mode `{other}` is not one of: halt, reduce_only, cancel_all, flatten"),
        )),
    }
}

fn reason_of(text: &str) -> Result<String, ApiError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(bad("MISSING_REASON", "every control action needs a reason"));
    }
    if t.len() > REASON_LEN_MAX || t.chars().any(char::is_control) {
        return Err(bad(
            "INVALID_FIELD",
            format!("reason must be at most {REASON_LEN_MAX} bytes of printable text"),
        ));
    }
    Ok(t.to_string())
}

fn scope_json(s: &AppState, scope: KillScope) -> Value {
    match scope {
        KillScope::Global => json!({"scope": "global"}),
        KillScope::Group(g) => {
            json!({"scope": "group", "target": s.groups.get(g as usize)})
        }
        KillScope::Account(a) => {
            json!({"scope": "account", "target": s.catalog.account_name(a)})
        }
        KillScope::Symbol(sym) => {
            json!({"scope": "symbol", "target": s.catalog.symbol_name(sym)})
        }
        KillScope::Venue(v) => json!({"scope": "venue", "target": VENUES.get(v as usize)}),
    }
}

/// The kill state as JSON.
pub fn kill_json(s: &AppState, (global, groups, accounts, symbols, venues): &KillState) -> Value {
    let k = |k: &bulwark_risk::Kill| json!({"mode": k.mode.as_str(), "level": role_name(k.level)});
    json!({
        "global": global.as_ref().map(k),
        "groups": groups.iter().map(|(g, kill)| {
            let mut v = k(kill);
            v["group"] = json!(s.groups.get(*g as usize));
            v
        }).collect::<Vec<_>>(),
        "accounts": accounts.iter().map(|(a, kill)| {
            let mut v = k(kill);
            v["account"] = json!(s.catalog.account_name(*a));
            v
        }).collect::<Vec<_>>(),
        "symbols": symbols.iter().map(|(sym, kill)| {
            let mut v = k(kill);
            v["symbol"] = json!(s.catalog.symbol_name(*sym));
            v
        }).collect::<Vec<_>>(),
        "venues": venues.iter().map(|(i, kill)| {
            let mut v = k(kill);
            v["venue"] = json!(VENUES.get(*i as usize));
            v
        }).collect::<Vec<_>>(),
    })
}

async fn kill_state(s: &AppState) -> Result<KillState, ApiError> {
    crate::http::query(s, |reply| Query::Kill { reply }).await
}

async fn control(s: &AppState, audit: Audit, control: Control) -> Result<Decision, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    enqueue(
        s,
        Inbound::Control {
            ts_ns: now_ns(),
            audit,
            control,
            reply: tx,
        },
    )?;
    match crate::http::settled(crate::http::await_reply(s, rx).await?)? {
        Answer::Decided { decision, .. } => Ok(decision),
        other => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            format!("unexpected answer {other:?}"),
        )),
    }
}

/// Sends a control action that no HTTP request asked for (a lapsed dead-man's switch, a maintenance window),
/// waiting for ring room rather than dropping it; `false` once the sequencer is gone.
pub async fn send_system_control(state: &AppState, audit: Audit, control: Control) -> bool {
    let (tx, _rx) = tokio::sync::oneshot::channel();
    let msg = Inbound::Control {
        ts_ns: now_ns(),
        audit,
        control,
        reply: tx,
    };
    let inbound = state.inbound.clone();
    matches!(
        tokio::task::spawn_blocking(move || inbound.send(msg).is_ok()).await,
        Ok(true)
    )
}

async fn act(
    s: Arc<AppState>,
    headers: HeaderMap,
    body: Body,
    reset: bool,
) -> Result<Response, ApiError> {
    let bytes = crate::http::read_body(&s, &headers, body).await?;
    let b: KillBody = crate::http::parse_json(&bytes)?;
    // A strategy, or a FIX session (named by the client's CompID), is the set of its accounts: its kill is an
    // account kill on each of them.
    let strategy = match b.scope.as_str() {
        "strategy" | "session" => {
            let name = b
                .target
                .as_deref()
                .ok_or_else(|| bad("MISSING_FIELD", format!("scope {} needs a target", b.scope)))?;
            let accounts = if b.scope == "strategy" {
                s.deadman.accounts_of(name)
            } else {
                let accts: Vec<AccountId> = s
                    .fix_sessions
                    .iter()
                    .filter(|(comp, _)| comp == name)
                    .flat_map(|(_, a)| a.iter().copied())
                    .collect();
                (!accts.is_empty()).then_some(accts)
            };
            let (code, what) = if b.scope == "strategy" {
                ("UNKNOWN_STRATEGY", "strategy")
            } else {
                ("UNKNOWN_SESSION", "FIX session (client CompID)")
            };
            Some(accounts.ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    code,
                    format!("{what} `{name}` is not configured"),
                )
            })?)
        }
        _ => None,
    };
    let (scopes, accounts): (Vec<KillScope>, Vec<AccountId>) = match &strategy {
        Some(accts) => (
            accts.iter().map(|a| KillScope::Account(*a)).collect(),
            accts.clone(),
        ),
        None => {
            let (scope, account) = scope_of(&s, &b)?;
            (vec![scope], account.into_iter().collect())
        }
    };
    let scope = scopes[0];
    // Traders may stop their own accounts (and strategies); wider trips and every reset need a risk officer.
    let needed = match (reset, scope) {
        (false, KillScope::Account(_)) => LEVEL_TRADER,
        _ => LEVEL_RISK_OFFICER,
    };
    let what = if reset {
        "resetting the kill switch"
    } else {
        "tripping the kill switch"
    };
    let mut principal = s
        .auth
        .require(&headers, needed, accounts.first().copied(), what)?;
    for a in accounts.iter().skip(1) {
        principal = s.auth.require(&headers, needed, Some(*a), what)?;
    }
    let principal = principal.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "a token is needed",
        )
    })?;
    let mode = if reset {
        if b.mode.is_some() {
            return Err(bad("INVALID_FIELD", "a reset takes no mode"));
        }
        None
    } else {
        Some(mode_of(b.mode.as_deref())?)
    };
    let reason = reason_of(&b.reason)?;
    let audit = Audit {
        actor: principal.name.to_string(),
        role: principal.level,
        reason: reason.clone(),
    };
    let kind = mode.map_or(ControlKind::Reset, ControlKind::trip);
    let mut decision = Decision {
        order: OrderId(0),
        verdict: Verdict::Accept,
    };
    for scope in &scopes {
        let d = control(
            &s,
            audit.clone(),
            Control {
                kind,
                scope: *scope,
                level: principal.level,
            },
        )
        .await?;
        if matches!(d.verdict, Verdict::Reject(_)) {
            decision = d;
        }
    }
    if let Verdict::Reject(r) = decision.verdict {
        let status = if r.reason == RejectReason::ResetDenied {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::from_u16(r.reason.http_status()).unwrap_or(StatusCode::FORBIDDEN)
        };
        let message = if r.reason == RejectReason::ResetDenied {
            format!(
                "the kill switch was tripped at role {}; `{}` ({}) cannot reset it",
                role_name(r.limit as u8),
                principal.name,
                role_name(principal.level)
            )
        } else {
            r.text_with_detail(&s.catalog.reject_detail(&r, None))
        };
        return Err(ApiError::new(status, r.reason.code(), message));
    }
    tracing::warn!(
        actor = %principal.name,
        role = role_name(principal.level),
        action = if reset { "reset" } else { mode.map_or("", KillMode::as_str) },
        scope = %scope_json(&s, scope),
        reason = %reason,
        "kill switch {}",
        if reset { "reset" } else { "tripped" }
    );
    let state = kill_state(&s).await?;
    let mut v = match (&strategy, b.target.as_deref()) {
        (Some(accts), Some(name)) => json!({
            "scope": b.scope,
            "target": name,
            "accounts": accts.iter().map(|a| s.catalog.account_name(*a)).collect::<Vec<_>>(),
        }),
        _ => scope_json(&s, scope),
    };
    v["action"] = json!(if reset { "reset" } else { "trip" });
    v["mode"] = json!(mode.map(KillMode::as_str));
    v["actor"] = json!(&*principal.name);
    v["role"] = json!(role_name(principal.level));
    v["reason"] = json!(reason);
    v["kill"] = kill_json(&s, &state);
    Ok((StatusCode::OK, Json(v)).into_response())
}

pub async fn post_kill(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    act(s, headers, body, false)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn post_reset(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    act(s, headers, body, true)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn get_kill(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let run = async {
        s.auth
            .require(&headers, LEVEL_VIEWER, None, "reading the kill state")?;
        let state = kill_state(&s).await?;
        Ok::<_, ApiError>(Json(kill_json(&s, &state)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnlockBody {
    reason: String,
}

/// `POST /api/v1/accounts/{account}/unlock`: lifts a prop-firm lock (admin only, with a reason).
pub async fn post_unlock(
    State(s): State<Arc<AppState>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let run = async {
        let account = crate::http::account_of(&s, &name)?;
        let principal = s
            .auth
            .require(
                &headers,
                LEVEL_ADMIN,
                Some(account),
                "lifting a prop-firm lock",
            )?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHENTICATED",
                    "a token is needed",
                )
            })?;
        let bytes = crate::http::read_body(&s, &headers, body).await?;
        let b: UnlockBody = crate::http::parse_json(&bytes)?;
        let reason = reason_of(&b.reason)?;
        let audit = Audit {
            actor: principal.name.to_string(),
            role: principal.level,
            reason: reason.clone(),
        };
        let d = control(
            &s,
            audit,
            Control {
                kind: ControlKind::Unlock,
                scope: KillScope::Account(account),
                level: principal.level,
            },
        )
        .await?;
        if let Verdict::Reject(r) = d.verdict {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                r.reason.code(),
                "only an admin may lift a lock",
            ));
        }
        tracing::warn!(actor = %principal.name, account = %name, reason = %reason, "prop-firm lock lifted");
        Ok::<_, ApiError>(Json(json!({"account": name, "action": "unlock", "actor": &*principal.name, "reason": reason})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/v1/accounts/{account}/state`: whether the account may trade, and what stops it.
pub async fn get_account_state(
    State(s): State<Arc<AppState>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let account = crate::http::account_of(&s, &name)?;
        s.auth.require(
            &headers,
            LEVEL_VIEWER,
            Some(account),
            "reading the account state",
        )?;
        let (global, groups, accounts, _, _) = kill_state(&s).await?;
        let group = s.account_groups.get(account.0 as usize).copied().flatten();
        let mut applying: Vec<Value> = Vec::new();
        let mut kills: Vec<bulwark_risk::Kill> = Vec::new();
        if let Some(k) = global {
            applying.push(
                json!({"scope": "global", "mode": k.mode.as_str(), "level": role_name(k.level)}),
            );
            kills.push(k);
        }
        for (g, k) in groups.iter().filter(|(g, _)| Some(*g) == group) {
            applying.push(json!({"scope": "group", "target": s.groups.get(*g as usize), "mode": k.mode.as_str(), "level": role_name(k.level)}));
            kills.push(*k);
        }
        for (_, k) in accounts.iter().filter(|(a, _)| *a == account) {
            applying.push(json!({"scope": "account", "target": name, "mode": k.mode.as_str(), "level": role_name(k.level)}));
            kills.push(*k);
        }
        let ts_ns = now_ns();
        let lock = crate::http::query(&s, |reply| Query::Headroom {
            account,
            ts_ns,
            reply,
        })
        .await?
        .and_then(|h| h.lock);
        let trading = if lock.is_some() {
            "locked"
        } else if kills.iter().any(|k| k.mode.blocks_all()) {
            "halted"
        } else if !kills.is_empty() {
            "reduce_only"
        } else {
            "active"
        };
        Ok::<_, ApiError>(
            Json(json!({"account": name, "trading": trading, "lock": lock, "kill": applying}))
                .into_response(),
        )
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
