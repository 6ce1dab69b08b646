//! The scheduling policy of the gateway's hand-off threads: the sequencer, the FIX acceptor (and the
//! connection threads QuickFIX starts from it, which inherit the policy) and the FIX responder. Each of them
//! mostly runs because another one handed it work: an order goes acceptor -> sequencer -> responder. Under
//! the kernel's default policy a woken thread preempts the one that woke it when both share a core, so the
//! waker is switched out in the middle of its work and back in later: two context switches per hand-off.
//! Under `SCHED_BATCH` (Linux; lowering one's own policy needs no privilege) a woken thread does not preempt
//! a running one, so the waker finishes (QuickFIX stores the sequence number and goes back to `poll`) and the
//! woken thread runs when it blocks; with a free core the woken thread still runs at once. `[gateway]
//! thread_policy = "normal"` keeps the default. Measured in `bench/RESULTS.md` §7: on one shared core at
//! 10k orders/s the sequencer's CPU time per order fell by about half.

// Two libc calls on the calling thread, nothing else.
#![allow(unsafe_code)]

use crate::config::ThreadPolicyName;

/// Puts the calling thread under `policy`. A refusal is logged and changes nothing else.
pub fn apply_to_current(policy: ThreadPolicyName, thread: &str) {
    let raw = match policy {
        ThreadPolicyName::Normal => return,
        ThreadPolicyName::Batch => libc::SCHED_BATCH,
    };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `sched_setscheduler` with pid 0 acts on the calling thread and only reads `param`, which lives
    // across the call.
    let rc = unsafe { libc::sched_setscheduler(0, raw, &param) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        tracing::warn!(
            "the {thread} thread keeps the default scheduling policy (SCHED_BATCH refused: {e})"
        );
    }
}

/// The calling thread's policy, as `sched_getscheduler` reports it.
pub fn current_policy() -> i32 {
    // SAFETY: no arguments but the calling thread's id 0.
    unsafe { libc::sched_getscheduler(0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_moves_the_calling_thread_to_sched_batch_and_normal_leaves_it_alone() {
        std::thread::spawn(|| {
            apply_to_current(ThreadPolicyName::Normal, "test");
            assert_eq!(current_policy(), libc::SCHED_OTHER);
            apply_to_current(ThreadPolicyName::Batch, "test");
            assert_eq!(current_policy(), libc::SCHED_BATCH);
            // A thread started from it inherits the policy (as QuickFIX's connection threads do).
            let child = std::thread::spawn(current_policy).join().unwrap();
            assert_eq!(child, libc::SCHED_BATCH);
        })
        .join()
        .unwrap();
    }
}
