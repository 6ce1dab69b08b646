//! Venue adapters. A [`Venue`] receives [`VenueCommand`]s from the sequencer's venue ring and reports what
//! happened as [`VenueReport`]s, which enter the sequencer's inbound side and are journaled like any input.
//! Adapters depend on `bulwark-model` only, never on risk. [`run_venue`] drives any venue on its own thread,
//! with the delivery latency the venue asks for, or [`VenuePump`] from its consumer's thread (a venue with no
//! latency and no I/O); [`paper::PaperVenue`] is the deterministic simulated venue.
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

/// A venue driven from its consumer's own thread instead of one of its own: each [`VenuePump::pump`] hands
/// every command waiting on the venue ring to the venue at once and puts its reports on the report ring. For a
/// venue without latency that does no I/O (the paper venue), this saves two thread hand-offs per order (the
/// sequencer waking the venue's thread, and that thread waking the sequencer back) while the rings, their
/// bounds and the order of commands and reports stay exactly as with [`run_venue`].
pub struct VenuePump {
    venue: Box<dyn Venue>,
    commands: RingRx<VenueCommand>,
    reports: RingTx<StampedReport>,
    /// Reports that found the report ring full, oldest first; they go before any newer report.
    overflow: VecDeque<StampedReport>,
    clock_ns: fn() -> i64,
}

impl std::fmt::Debug for VenuePump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenuePump")
            .field("commands_waiting", &self.commands.len())
            .field("reports_waiting", &self.overflow.len())
            .finish_non_exhaustive()
    }
}

impl VenuePump {
    /// Drives `venue` (which must have no latency: a pump has no timer) from `commands` to `reports`.
    pub fn new(
        venue: Box<dyn Venue>,
        commands: RingRx<VenueCommand>,
        reports: RingTx<StampedReport>,
        clock_ns: fn() -> i64,
    ) -> VenuePump {
        VenuePump {
            venue,
            commands,
            reports,
            overflow: VecDeque::new(),
            clock_ns,
        }
    }

    /// Whether commands or reports wait for [`VenuePump::pump`].
    pub fn has_work(&self) -> bool {
        !self.commands.is_empty() || !self.overflow.is_empty()
    }

    /// Hands the venue the commands waiting now and puts its reports on the report ring, in order. A pump
    /// never blocks on the ring its own thread drains: reports that do not fit wait in the pump (no command
    /// is taken while any wait) and go first on the next pump. Returns how many commands it handled.
    pub fn pump(&mut self) -> usize {
        while let Some(r) = self.overflow.pop_front() {
            if let Err(e) = self.reports.try_send(r) {
                self.overflow.push_front(e.into_inner());
                return 0;
            }
        }
        let mut n = 0;
        while self.overflow.is_empty() {
            let Ok(cmd) = self.commands.try_recv() else {
                break;
            };
            let (reports, overflow, clock_ns) = (&self.reports, &mut self.overflow, self.clock_ns);
            self.venue.on_command(cmd, &mut |report| {
                let stamped = (clock_ns(), report);
                if !overflow.is_empty() {
                    overflow.push_back(stamped);
                } else if let Err(e) = reports.try_send(stamped) {
                    overflow.push_back(e.into_inner());
                }
            });
            n += 1;
        }
        n
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
