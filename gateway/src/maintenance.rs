//! Scheduled maintenance: each `[[maintenance]]` window halts all trading (a global kill switch in mode halt,
//! at admin level) from `start` and resets it at `end`, both journaled with actor `maintenance` and the
//! window's reason. Cancels still pass, as under any halt. A window that ended while the gateway was down is
//! not reset automatically (the halt stays until an admin resets it): stopping trading is the safe side.

use crate::http::{now_ns, AppState};
use bulwark_model::*;
use std::sync::Arc;
use std::time::Duration;

async fn send(state: &AppState, kind: ControlKind, reason: &str) -> bool {
    let audit = Audit {
        actor: "maintenance".into(),
        role: LEVEL_ADMIN,
        reason: reason.to_string(),
    };
    let control = Control {
        kind,
        scope: KillScope::Global,
        level: LEVEL_ADMIN,
    };
    crate::control::send_system_control(state, audit, control).await
}

/// Trips and resets the global halt on the configured schedule, until the inbound ring closes.
pub async fn schedule(state: Arc<AppState>, windows: Vec<(i64, i64, String)>) {
    let mut active: Option<usize> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let now = now_ns();
        let current = windows.iter().position(|(s, e, _)| *s <= now && now < *e);
        match (active, current) {
            (None, Some(i)) => {
                tracing::warn!("maintenance window begins: {}", windows[i].2);
                if !send(
                    &state,
                    ControlKind::TripHalt,
                    &format!("maintenance: {}", windows[i].2),
                )
                .await
                {
                    return;
                }
                active = Some(i);
            }
            (Some(i), c) if c != Some(i) => {
                tracing::warn!("maintenance window ends: {}", windows[i].2);
                if !send(
                    &state,
                    ControlKind::Reset,
                    &format!("maintenance over: {}", windows[i].2),
                )
                .await
                {
                    return;
                }
                active = None;
            }
            _ => {}
        }
    }
}
