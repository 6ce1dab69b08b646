//! Dead-man's switches: each `[[strategies]]` entry names the accounts a strategy process trades and how long
//! it may stay silent. The strategy sends `POST /api/v1/heartbeat/{strategy}`; the first heartbeat arms the
//! switch, and if no heartbeat follows within `heartbeat_timeout_ms`, the watcher sends the configured action
//! through the sequencer for each of the strategy's accounts (cancel working orders by default, or a halt or
//! flatten trip at risk-officer level), journaled with actor `dead-man:<strategy>` and the reason. The switch
//! then disarms until the next heartbeat. Heartbeats are not journaled: after a restart every switch is
//! disarmed until its strategy beats again.

use crate::config::{Config, LapseAction};
use crate::http::{now_ns, ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bulwark_model::*;
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the watcher looks.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Debug)]
pub struct Strategy {
    pub name: String,
    pub accounts: Vec<AccountId>,
    pub timeout_ns: i64,
    pub on_lapse: LapseAction,
    /// Time of the last heartbeat (ns since the epoch); 0 = disarmed.
    last_beat_ns: AtomicI64,
}

#[derive(Debug, Default)]
pub struct DeadMan {
    strategies: Vec<Strategy>,
}

impl DeadMan {
    pub fn from_config(config: &Config, catalog: &crate::catalog::Catalog) -> DeadMan {
        DeadMan {
            strategies: config
                .strategies
                .iter()
                .map(|s| Strategy {
                    name: s.name.clone(),
                    accounts: s
                        .accounts
                        .iter()
                        .filter_map(|a| catalog.account(a))
                        .collect(),
                    timeout_ns: s.heartbeat_timeout_ms as i64 * 1_000_000,
                    on_lapse: s.on_lapse,
                    last_beat_ns: AtomicI64::new(0),
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.strategies.is_empty()
    }

    /// The accounts of strategy `name`, if it is configured.
    pub fn accounts_of(&self, name: &str) -> Option<Vec<AccountId>> {
        self.strategies
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.accounts.clone())
    }

    /// The switches that lapsed at `now_ns`, each disarmed as it is returned.
    fn lapsed(&self, now_ns: i64) -> Vec<&Strategy> {
        self.strategies
            .iter()
            .filter(|s| {
                let last = s.last_beat_ns.load(Ordering::Acquire);
                last > 0
                    && now_ns - last > s.timeout_ns
                    && s.last_beat_ns
                        .compare_exchange(last, 0, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
            })
            .collect()
    }
}

/// Watches every switch until the inbound ring closes.
pub async fn watch(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    loop {
        tick.tick().await;
        let now = now_ns();
        for s in state.deadman.lapsed(now) {
            let kind = match s.on_lapse {
                LapseAction::CancelAll => ControlKind::CancelWorking,
                LapseAction::Halt => ControlKind::TripHalt,
                LapseAction::Flatten => ControlKind::TripFlatten,
            };
            tracing::warn!(strategy = %s.name, "dead-man's switch: no heartbeat within {} ms", s.timeout_ns / 1_000_000);
            for account in &s.accounts {
                let audit = Audit {
                    actor: format!("dead-man:{}", s.name),
                    role: LEVEL_RISK_OFFICER,
                    reason: format!(
                        "no heartbeat from strategy `{}` within {} ms",
                        s.name,
                        s.timeout_ns / 1_000_000
                    ),
                };
                let control = Control {
                    kind,
                    scope: KillScope::Account(*account),
                    level: LEVEL_RISK_OFFICER,
                };
                if !crate::control::send_system_control(&state, audit, control).await {
                    return;
                }
            }
        }
    }
}

/// `POST /api/v1/heartbeat/{strategy}`.
pub async fn post_heartbeat(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let run = || {
        let st = s
            .deadman
            .strategies
            .iter()
            .find(|x| x.name == name)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "UNKNOWN_STRATEGY",
                    format!("strategy `{name}` is not configured"),
                )
            })?;
        for a in &st.accounts {
            s.auth
                .require(&headers, LEVEL_TRADER, Some(*a), "sending heartbeats")?;
        }
        st.last_beat_ns.store(now_ns(), Ordering::Release);
        Ok::<_, ApiError>(
            Json(json!({
                "strategy": st.name,
                "armed": true,
                "timeout_ms": st.timeout_ns / 1_000_000,
                "on_lapse": match st.on_lapse {
                    LapseAction::CancelAll => "cancel_all",
                    LapseAction::Halt => "halt",
                    LapseAction::Flatten => "flatten",
                },
            }))
            .into_response(),
        )
    };
    run().unwrap_or_else(IntoResponse::into_response)
}
