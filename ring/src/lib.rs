//! The bounded MPSC rings between Bulwark's threads (edges -> sequencer, sequencer -> venue, venue ->
//! sequencer) and the [`Doorbell`] their one consumer parks on. A ring is a crossbeam bounded channel whose
//! senders ring the consumer's doorbell after each send; the consumer polls (spins, if it chooses), then
//! parks on the doorbell until a sender rings or a timeout passes. Unlike a blocking crossbeam receive, the
//! park neither spins nor calls `sched_yield` first: where the sequencer, the venue and the edges share a
//! core, those yields made threads hand the core back and forth (about seven context switches per FIX order
//! on the 2-vCPU bench machine; see the README's Design choices). Several rings may share one doorbell, so
//! the sequencer parks once for both of its input rings.
#![forbid(unsafe_code)]

pub use crossbeam_channel::{
    RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Where one consumer thread parks until a producer rings.
#[derive(Debug, Default)]
pub struct Doorbell {
    /// The consumer is about to park (or parked) and must be unparked to see new work.
    sleeping: AtomicBool,
    /// The consumer, known from its first wait.
    thread: OnceLock<std::thread::Thread>,
}

impl Doorbell {
    pub fn new() -> Arc<Doorbell> {
        Arc::new(Doorbell::default())
    }

    /// Wakes the consumer if it sleeps. Call after making work visible to it.
    pub fn ring(&self) {
        // Pairs with the fence in `wait`: either the consumer's readiness check sees the work made visible
        // before this call, or this call sees the consumer asleep.
        fence(Ordering::SeqCst);
        if self.sleeping.swap(false, Ordering::SeqCst) {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        }
    }

    /// Parks the calling thread (always the same one: the consumer) for at most `timeout` unless `ready`
    /// already holds. Returns early when rung; may return spuriously, so callers look again.
    pub fn wait(&self, timeout: Duration, ready: impl Fn() -> bool) {
        self.thread.get_or_init(std::thread::current);
        self.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !ready() {
            std::thread::park_timeout(timeout);
        }
        self.sleeping.store(false, Ordering::SeqCst);
    }
}

/// The sending side of a ring: cloneable, never blocks unless asked to ([`RingTx::send`]).
#[derive(Debug)]
pub struct RingTx<T> {
    tx: crossbeam_channel::Sender<T>,
    bell: Arc<Doorbell>,
}

impl<T> Clone for RingTx<T> {
    fn clone(&self) -> Self {
        RingTx {
            tx: self.tx.clone(),
            bell: self.bell.clone(),
        }
    }
}

impl<T> RingTx<T> {
    /// Puts `value` on the ring if there is room, and rings the consumer.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let sent = self.tx.try_send(value);
        if sent.is_ok() {
            self.bell.ring();
        }
        sent
    }

    /// Puts `value` on the ring, waiting for room (only for producers that must never drop, such as a
    /// venue's reports, whose consumer drains them first), and rings the consumer.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let sent = self.tx.send(value);
        if sent.is_ok() {
            self.bell.ring();
        }
        sent
    }

    /// Like [`RingTx::send`], waiting at most `timeout` for room (timers and shutdown, off the hot path).
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        let sent = self.tx.send_timeout(value, timeout);
        if sent.is_ok() {
            self.bell.ring();
        }
        sent
    }

    pub fn len(&self) -> usize {
        self.tx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.tx.is_full()
    }

    pub fn capacity(&self) -> Option<usize> {
        self.tx.capacity()
    }
}

/// The receiving side of a ring: one consumer thread.
#[derive(Debug)]
pub struct RingRx<T> {
    rx: crossbeam_channel::Receiver<T>,
    bell: Arc<Doorbell>,
}

/// How long a consumer with nothing to do parks before it looks again on its own: also how soon it notices
/// that every sender is gone (a sender's drop does not ring).
pub const IDLE_RECHECK: Duration = Duration::from_millis(100);

/// A clone reads the same ring, for handing the receiver to the thread that consumes it. Only one thread may
/// wait on the doorbell: a second one would be woken only by its timeout.
impl<T> Clone for RingRx<T> {
    fn clone(&self) -> Self {
        RingRx {
            rx: self.rx.clone(),
            bell: self.bell.clone(),
        }
    }
}

impl<T> RingRx<T> {
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.rx.try_recv()
    }

    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// The channel itself, to wait on it together with other crossbeam channels (a `Select`).
    pub fn channel(&self) -> &crossbeam_channel::Receiver<T> {
        &self.rx
    }

    /// The doorbell this ring's senders ring.
    pub fn doorbell(&self) -> &Arc<Doorbell> {
        &self.bell
    }

    /// Takes the next value, parking on the doorbell while the ring is empty, until `deadline` (if any).
    pub fn recv_deadline(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            match self.rx.try_recv() {
                Ok(v) => return Ok(v),
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            let wait = match deadline {
                None => IDLE_RECHECK,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(RecvTimeoutError::Timeout);
                    }
                    (d - now).min(IDLE_RECHECK)
                }
            };
            self.bell.wait(wait, || !self.rx.is_empty());
        }
    }

    /// [`RingRx::recv_deadline`] at `timeout` from now.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(Some(Instant::now() + timeout))
    }

    /// What is on the ring now, without waiting.
    pub fn try_iter(&self) -> crossbeam_channel::TryIter<'_, T> {
        self.rx.try_iter()
    }

    /// Takes the next value, parking on the doorbell while the ring is empty; `Err` once every sender is
    /// gone and the ring is drained.
    pub fn recv(&self) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(None)
    }
}

/// A ring of `capacity` values whose senders ring `bell` (shared by all the rings one consumer reads).
pub fn ring<T>(capacity: usize, bell: &Arc<Doorbell>) -> (RingTx<T>, RingRx<T>) {
    let (tx, rx) = crossbeam_channel::bounded(capacity);
    (
        RingTx {
            tx,
            bell: bell.clone(),
        },
        RingRx {
            rx,
            bell: bell.clone(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parked_consumer_wakes_for_a_send_and_sees_every_value_in_order() {
        let bell = Doorbell::new();
        let (tx, rx) = ring::<u64>(8, &bell);
        let consumer = std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok(v) = rx.recv() {
                got.push(v);
            }
            got
        });
        for i in 0..1000 {
            while tx.try_send(i).is_err() {
                std::thread::yield_now();
            }
            if i % 100 == 0 {
                // Let the consumer park now and then, so that sends also meet a sleeping consumer.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(tx);
        let got = consumer.join().expect("consumer");
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn two_rings_share_one_doorbell_and_a_full_ring_refuses_without_blocking() {
        let bell = Doorbell::new();
        let (a_tx, a_rx) = ring::<u8>(1, &bell);
        let (b_tx, b_rx) = ring::<u8>(1, &bell);
        assert!(a_tx.try_send(1).is_ok());
        assert!(matches!(a_tx.try_send(2), Err(TrySendError::Full(2))));
        let waiter = std::thread::spawn(move || {
            // Parks until the other ring gets a value.
            loop {
                if let Ok(v) = b_rx.try_recv() {
                    return v;
                }
                let bell = b_rx.doorbell().clone();
                bell.wait(Duration::from_secs(30), || !b_rx.is_empty());
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        assert!(b_tx.try_send(7).is_ok());
        assert_eq!(waiter.join().expect("waiter"), 7);
        assert_eq!(a_rx.try_recv(), Ok(1));
        assert_eq!(
            a_rx.recv_deadline(Some(Instant::now() + Duration::from_millis(5))),
            Err(RecvTimeoutError::Timeout)
        );
    }
}
