//! Venue adapters. A [`Venue`] receives [`VenueCommand`]s from the sequencer's venue ring and reports what
//! happened as [`VenueReport`]s, which enter the sequencer's inbound side and are journaled like any input.
//! Adapters depend on `bulwark-model` only, never on risk. [`run_venue`] drives any venue on its own thread,
//! with the delivery latency the venue asks for; [`paper::PaperVenue`] is the deterministic simulated venue.
#![forbid(unsafe_code)]

pub mod paper;

use bulwark_model::{Order, OrderId, PriceUpdate, VenueReport};
use bulwark_ring::{RecvTimeoutError, RingRx, RingTx};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What the sequencer asks of a venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueCommand {
    /// A new order the risk chain accepted (already journaled).
    Submit(Order),
    /// Cancel a working order.
    Cancel { order: OrderId },
    /// A working order's new quantity, limit price and client order id (a replace the risk chain accepted).
    Replace(Order),
    /// A reference price update.
    Price(PriceUpdate),
    /// After a restart: an order the journal says is still working at the venue.
    Restore(Order),
}

/// A venue report with the time the adapter received or produced it (ns since the Unix epoch).
pub type StampedReport = (i64, VenueReport);

/// A broker or simulated market. Implementations are single-threaded state machines driven by [`run_venue`].
pub trait Venue: Send {
    /// Handles one command, emitting any reports it causes.
    fn on_command(&mut self, cmd: VenueCommand, emit: &mut dyn FnMut(VenueReport));
    /// Simulated one-way delay before a command takes effect, in ns (0 = immediate).
    fn latency_ns(&mut self) -> u64 {
        0
    }
}

/// Runs `venue` until the command channel closes. Commands take effect after the venue's latency, in arrival
/// order. Reports are sent with a blocking send: the sequencer drains reports before anything else and never
/// blocks on its own rings, so this cannot deadlock, and a report is never dropped.
pub fn run_venue<V: Venue>(
    mut venue: V,
    commands: RingRx<VenueCommand>,
    reports: RingTx<StampedReport>,
    clock_ns: fn() -> i64,
) {
    let mut delayed: VecDeque<(Instant, VenueCommand)> = VecDeque::new();
    loop {
        let next = match delayed.front() {
            Some((due, _)) => match commands.recv_deadline(Some(*due)) {
                Ok(cmd) => Some(cmd),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match commands.recv() {
                Ok(cmd) => Some(cmd),
                Err(_) => break,
            },
        };
        if let Some(cmd) = next {
            let latency = venue.latency_ns();
            if latency == 0 && delayed.is_empty() {
                deliver(&mut venue, cmd, &reports, clock_ns);
                continue;
            }
            let due = Instant::now() + Duration::from_nanos(latency);
            let due = delayed.back().map_or(due, |(last, _)| due.max(*last));
            delayed.push_back((due, cmd));
        }
        let now = Instant::now();
        while delayed.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, cmd)) = delayed.pop_front() {
                deliver(&mut venue, cmd, &reports, clock_ns);
            }
        }
    }
}

fn deliver<V: Venue>(
    venue: &mut V,
    cmd: VenueCommand,
    reports: &RingTx<StampedReport>,
    clock_ns: fn() -> i64,
) {
    venue.on_command(cmd, &mut |report| {
        if reports.send((clock_ns(), report)).is_err() {
            tracing::debug!("venue report after the sequencer stopped: {report:?}");
        }
    });
}
