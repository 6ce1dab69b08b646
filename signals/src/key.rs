//! The idempotency key of spec §5.3: `sha256(strategy_id | ticker | action | orderId | time)`, or, when the alert
//! carries an explicit `signalId`/`id`, `sha256(strategy_id | "id" | id)`. Fields are joined with `|` and each
//! is length-prefixed so that no two different field lists hash the same text.

use crate::alert::Alert;
use bulwark_model::SignalKey;
use sha2::{Digest, Sha256};

/// The key under which a delivery of `alert` to the strategy `strategy_id` is recognised as a repeat.
pub fn idempotency_key(strategy_id: &str, alert: &Alert) -> SignalKey {
    let mut h = Sha256::new();
    let mut put = |field: &str| {
        h.update((field.len() as u32).to_le_bytes());
        h.update(field.as_bytes());
        h.update(b"|");
    };
    put(strategy_id);
    match &alert.signal_id {
        Some(id) => {
            put("id");
            put(id);
        }
        None => {
            put(&alert.ticker);
            put(&alert.action_text);
            put(alert.order_id.as_deref().unwrap_or(""));
            put(alert.time_text.as_deref().unwrap_or(""));
        }
    }
    SignalKey(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::parse;

    fn key(strategy: &str, body: &str) -> SignalKey {
        idempotency_key(strategy, &parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn w_6_the_same_delivery_has_the_same_key() {
        let body = r#"{"ticker":"AAPL","action":"buy","quantity":"10","secret":"ok","time":"2026-11-20T15:00:01Z"}"#;
        assert_eq!(key("s", body), key("s", body));
    }

    #[test]
    fn key_fields_are_exactly_strategy_ticker_action_order_id_and_time() {
        let base = key(
            "s",
            r#"{"ticker":"AAPL","action":"buy","time":"2026-11-20T15:00:01Z"}"#,
        );
        // The secret, the quantity and unknown fields are not part of the key.
        assert_eq!(
            base,
            key(
                "s",
                r#"{"ticker":"AAPL","action":"buy","time":"2026-11-20T15:00:01Z","quantity":5,"secret":"x","note":1}"#
            )
        );
        assert_eq!(
            base,
            key(
                "s",
                r#"{"ticker":"AAPL","action":"BUY","time":"2026-11-20T15:00:01Z"}"#
            )
        );
        for other in [
            key(
                "t",
                r#"{"ticker":"AAPL","action":"buy","time":"2026-11-20T15:00:01Z"}"#,
            ),
            key(
                "s",
                r#"{"ticker":"MSFT","action":"buy","time":"2026-11-20T15:00:01Z"}"#,
            ),
            key(
                "s",
                r#"{"ticker":"AAPL","action":"sell","time":"2026-11-20T15:00:01Z"}"#,
            ),
            key(
                "s",
                r#"{"ticker":"AAPL","action":"buy","time":"2026-11-20T15:00:02Z"}"#,
            ),
            key(
                "s",
                r#"{"ticker":"AAPL","action":"buy","time":"2026-11-20T15:00:01Z","orderId":"L1"}"#,
            ),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn an_explicit_signal_id_is_the_key() {
        let a = key(
            "s",
            r#"{"ticker":"AAPL","action":"buy","signalId":"abc","time":"2026-11-20T15:00:01Z"}"#,
        );
        let b = key("s", r#"{"ticker":"MSFT","action":"sell","id":"abc"}"#);
        assert_eq!(a, b);
        assert_ne!(
            a,
            key("t", r#"{"ticker":"AAPL","action":"buy","signalId":"abc"}"#)
        );
    }

    #[test]
    fn field_boundaries_cannot_be_confused() {
        assert_ne!(
            key("s", r#"{"ticker":"AB","action":"buy","orderId":"C"}"#),
            key("s", r#"{"ticker":"A","action":"buy","orderId":"BC"}"#)
        );
    }
}
