//! The signal log: idempotency keys of accepted webhook signals for the last 24 hours (spec §5.3), owned by the
//! sequencer. It is rebuilt on recovery from the journal's signal records, so a delivery repeated after a
//! restart is still a duplicate. A signal record whose child requests did not all reach the journal (a torn
//! tail) is forgotten, so that the sender's retry is not lost as a "duplicate" of something never done.

use bulwark_model::SignalKey;
use std::collections::{HashMap, VecDeque};

/// How long a key is remembered.
pub const DEDUP_WINDOW_NS: i64 = 24 * 3600 * 1_000_000_000;

#[derive(Debug, Default)]
pub struct SignalLog {
    /// Key -> (journal seq of its signal record, time it was accepted).
    by_key: HashMap<SignalKey, (u64, i64)>,
    /// Keys in acceptance order, for expiry.
    order: VecDeque<(i64, SignalKey)>,
    /// During replay: the last signal record and how many of its children are still to come.
    replay_pending: Option<(SignalKey, u16)>,
}

impl SignalLog {
    /// The seq of the earlier acceptance of `key`, if it is within the window of `now_ns`.
    pub fn seen(&mut self, key: &SignalKey, now_ns: i64) -> Option<u64> {
        self.expire(now_ns);
        self.by_key.get(key).map(|(seq, _)| *seq)
    }

    pub fn insert(&mut self, key: SignalKey, seq: u64, ts_ns: i64) {
        if self.by_key.insert(key, (seq, ts_ns)).is_none() {
            self.order.push_back((ts_ns, key));
        }
    }

    fn expire(&mut self, now_ns: i64) {
        while let Some((ts, key)) = self.order.front().copied() {
            if now_ns.saturating_sub(ts) <= DEDUP_WINDOW_NS {
                break;
            }
            self.order.pop_front();
            if self.by_key.get(&key).is_some_and(|(_, t)| *t == ts) {
                self.by_key.remove(&key);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Replay: a signal record at `seq` announcing `children` requests.
    pub fn replay_signal(&mut self, key: SignalKey, children: u16, seq: u64, ts_ns: i64) {
        self.replay_close();
        self.insert(key, seq, ts_ns);
        if children > 0 {
            self.replay_pending = Some((key, children));
        }
    }

    /// Replay: a new order or cancel request.
    pub fn replay_request(&mut self) {
        if let Some((key, left)) = self.replay_pending.take() {
            if left > 1 {
                self.replay_pending = Some((key, left - 1));
            }
        }
    }

    /// Replay: anything that cannot be a signal's child (a boot, or the end of the journal). A signal still
    /// waiting for children was torn off; forget it.
    pub fn replay_close(&mut self) {
        if let Some((key, _)) = self.replay_pending.take() {
            tracing::warn!(
                "signal {} lost some of its child requests in a torn journal tail; a repeated delivery will be accepted",
                key.to_hex()
            );
            self.by_key.remove(&key);
            self.order.retain(|(_, k)| *k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(b: u8) -> SignalKey {
        SignalKey([b; 32])
    }

    #[test]
    fn keys_expire_after_a_day() {
        let mut log = SignalLog::default();
        log.insert(k(1), 10, 0);
        assert_eq!(log.seen(&k(1), DEDUP_WINDOW_NS), Some(10));
        assert_eq!(log.seen(&k(1), DEDUP_WINDOW_NS + 1), None);
        assert!(log.is_empty());
    }

    #[test]
    fn a_signal_torn_from_its_children_is_forgotten() {
        let mut log = SignalLog::default();
        log.replay_signal(k(1), 2, 5, 0);
        log.replay_request();
        log.replay_request();
        log.replay_signal(k(2), 2, 9, 0);
        log.replay_request();
        log.replay_close();
        assert_eq!(log.seen(&k(1), 1), Some(5));
        assert_eq!(log.seen(&k(2), 1), None);
    }
}
