//! The sequencer: the one thread that owns all trading state. Edges put requests into a bounded inbound ring;
//! venues put reports into their own ring, which the sequencer drains first. For every input it appends the
//! event to the journal, applies it to the [`Engine`], journals the decision, and only after the batch is as
//! durable as the policy promises (group commit) does it hand commands to the venue ring and answers to the
//! edges that asked. A venue that does no I/O and simulates no latency (the paper venue) may be pumped from
//! this thread between batches instead of running on its own ([`Sequencer::with_venue_pump`]). Idle, it
//! spins for `idle_spin` then parks, so it never holds a core it does not use.
//! A journal failure halts trading: from then on every request is answered "unavailable" and nothing is applied.
//! Recovery ([`recover`]) replays the journal through the same `Engine::apply` and checks each decision.

use crate::catalog::{Catalog, Remap};
use crate::journal::format::ScanError;
use crate::journal::{Journal, JournalError, JournalOptions, RecoveryReport};
use crate::webhook::dedup::SignalLog;
use bulwark_adapters::{StampedReport, VenueCommand, VenuePump};
use bulwark_model::*;
use bulwark_ring::{ring, Doorbell, RingRx, RingTx};
use bulwark_risk::{Engine, Output};
use bulwark_signals::{
    plan, AccountView, Alert, Child, ChildRole, PlanError, PlanOptions, Sizing, Working,
};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most inputs taken into one group-commit batch.
pub const BATCH_INPUTS_MAX: usize = 1024;
/// Inbound messages taken off the ring ahead of the one being handled, so that the engine can prefetch the
/// memory of the new orders among them ([`Engine::prefetch`]): two, for its two steps.
const LOOKAHEAD_INPUTS: usize = 2;
/// How long the sequencer parks before it checks for shutdown on its own.
const PARK_TIMEOUT: Duration = Duration::from_millis(100);

/// The answer to a request, sent back on its reply channel.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A decision on a new order or cancel, with the order as it stands after the decision.
    Decided {
        decision: Decision,
        order: Option<Order>,
    },
    /// A price update or control action was journaled and applied.
    Applied,
    /// Not journaled: the venue ring is full; try again.
    Busy,
    /// Not journaled: the journal has failed and trading is halted.
    Unavailable(String),
    /// What a webhook signal did.
    Signal(SignalAnswer),
}

pub type ReplyTx = tokio::sync::oneshot::Sender<Answer>;

/// Read-only questions about the state, answered by the sequencer between batches (not journaled).
#[derive(Debug)]
pub enum Query {
    Orders {
        account: AccountId,
        reply: tokio::sync::oneshot::Sender<Vec<Order>>,
    },
    /// One order by id or client order id; `account` (when given) must own it.
    Order {
        account: Option<AccountId>,
        target: CancelTarget,
        reply: tokio::sync::oneshot::Sender<Option<Order>>,
    },
    Positions {
        account: AccountId,
        reply: tokio::sync::oneshot::Sender<Vec<(SymbolId, Position)>>,
    },
    /// Every tripped kill switch.
    Kill {
        reply: tokio::sync::oneshot::Sender<KillState>,
    },
    /// Room left before each limit, as of `ts_ns`.
    Headroom {
        account: AccountId,
        ts_ns: i64,
        reply: tokio::sync::oneshot::Sender<Option<bulwark_risk::Headroom>>,
    },
}

/// One account a webhook signal trades, and how it sizes entries.
#[derive(Debug, Clone, Copy)]
pub struct SignalMember {
    pub account: AccountId,
    pub sizing: Sizing,
}

/// A validated webhook signal, resolved by the edge to a symbol, member accounts and an order template.
#[derive(Debug, Clone)]
pub struct SignalRequest {
    pub key: SignalKey,
    pub alert: Alert,
    pub symbol: SymbolId,
    pub members: Arc<[SignalMember]>,
    pub options: PlanOptions,
    pub ord_type: OrdType,
    pub limit_px: Option<Px>,
    pub tif: Tif,
    pub ext_hours: bool,
}

/// What became of one child request.
#[derive(Debug, Clone)]
pub struct ChildOutcome {
    /// `None` for a cancel.
    pub role: Option<ChildRole>,
    pub decision: Decision,
    pub order: Option<Order>,
}

/// What a signal did for one member account.
#[derive(Debug, Clone)]
pub struct AccountOutcome {
    pub account: AccountId,
    pub result: Result<Vec<ChildOutcome>, PlanError>,
}

/// What a webhook signal did (busy and unavailable answers are the shared [`Answer`] ones).
#[derive(Debug, Clone)]
pub enum SignalAnswer {
    /// Accepted earlier (its signal record is at `first_seq`); nothing new was created.
    Duplicate { first_seq: u64 },
    /// Planned for every member; `seq` is the signal record's, `None` when no member had anything to do (then
    /// nothing was journaled).
    Done {
        seq: Option<u64>,
        accounts: Vec<AccountOutcome>,
    },
}

/// Every tripped kill switch: global, by group index, by account, by symbol.
pub type KillState = (
    Option<bulwark_risk::Kill>,
    Vec<(u32, bulwark_risk::Kill)>,
    Vec<(AccountId, bulwark_risk::Kill)>,
    Vec<(SymbolId, bulwark_risk::Kill)>,
    Vec<(u32, bulwark_risk::Kill)>,
);

/// What edges put into the inbound ring.
#[derive(Debug)]
pub enum Inbound {
    /// An event to journal and apply, stamped by the edge (ns since the Unix epoch).
    Request {
        ts_ns: i64,
        event: Event,
        reply: Option<ReplyTx>,
    },
    Query(Query),
    /// A control action with who asked and why: the audit record is journaled just before the control record.
    Control {
        ts_ns: i64,
        audit: Audit,
        control: Control,
        reply: ReplyTx,
    },
    /// A webhook signal: checked against the signal log, then fanned out to its member accounts.
    Signal {
        ts_ns: i64,
        request: Box<SignalRequest>,
        reply: ReplyTx,
    },
    /// Commit, sync and stop.
    Shutdown,
}

/// State shared read-only with the edges (health, readiness, metrics).
#[derive(Debug, Default)]
pub struct SharedStatus {
    pub ready: AtomicBool,
    pub journal_failed: AtomicBool,
    pub next_seq: AtomicU64,
    pub inputs_total: AtomicU64,
    /// Incremented on every turn of the sequencer loop (at least every park timeout): proof of progress for
    /// the systemd watchdog.
    pub loop_turns: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
pub struct SequencerOptions {
    pub idle_spin: Duration,
    pub venue_ring_capacity: usize,
}

/// What to do when replay decides a new order or a replace differently from the journal (the configuration
/// changed since, say a limit was lowered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Stop with `replay diverged at seq N`: for tests and tools that prove a journal replays as it was made.
    Strict,
    /// Keep the journal's decision and count the difference (the gateway's start: what was acknowledged stays
    /// so). A different decision on a cancel or a control request still stops: the configuration does not
    /// decide those, so only a build that decides differently would.
    KeepJournaled,
}

/// A journal replayed into an engine.
#[derive(Debug)]
pub struct Recovered {
    pub journal: Journal,
    pub engine: Engine,
    pub signals: SignalLog,
    pub report: RecoveryReport,
    /// Journaled decisions whose outcome (accepted or rejected) this configuration would have made differently
    /// (kept under [`Replay::KeepJournaled`]), and the first few of them described.
    pub overridden: u64,
    pub overridden_first: Vec<String>,
    /// Orders the engine made itself (prop-breach or kill-switch flattening) that replay took from the journal
    /// where this configuration would have made them differently or not at all ([`Replay::KeepJournaled`]), and
    /// orders it would have made where the journal has none (not made), with the first few described.
    pub engine_orders_kept: u64,
    pub engine_orders_not_made: u64,
    pub engine_orders_first: Vec<String>,
}

/// How many overridden decisions [`Recovered`] describes.
const OVERRIDDEN_DESCRIBED_MAX: usize = 5;

/// Replays the journal into `engine` (fresh from its configuration), checking every journaled decision against
/// the one this build makes, strictly ([`Replay::Strict`]).
pub fn recover(
    options: JournalOptions,
    catalog: &Catalog,
    engine: Engine,
) -> Result<(Journal, Engine, RecoveryReport), JournalError> {
    recover_with_signals(options, catalog, engine, Replay::Strict)
        .map(|r| (r.journal, r.engine, r.report))
}

/// [`recover`] under `policy`, also rebuilding the webhook signal log (idempotency keys of the last 24 hours).
/// A request is applied when its decision record (the next record) is read, under that decision; a request
/// whose decision never reached the journal (a crash between the two) is decided again.
pub fn recover_with_signals(
    options: JournalOptions,
    catalog: &Catalog,
    mut engine: Engine,
    policy: Replay,
) -> Result<Recovered, JournalError> {
    let mut signals = SignalLog::default();
    let mut remap: Option<Remap> = None;
    // A request read and remapped, waiting for its decision: (seq, timestamp, event).
    let mut pending: Option<(u64, i64, Event)> = None;
    let mut overridden = 0u64;
    let mut overridden_first = Vec::new();
    let mut scratch = Vec::new();
    // Orders the engine made itself come from the journal's engine-order records, which follow the record
    // whose application made them: `would_make` holds what this engine would have made there, for each record
    // to be set beside.
    engine.replay_engine_orders_from_journal(true);
    let mut would_make: VecDeque<NewOrder> = VecDeque::new();
    let mut engine_orders = EngineOrderTally::default();
    let mut last_ts_ns = 0i64;
    let (journal, report) = Journal::open(options, |seq, ts_ns, mut event| {
        let previous_ts_ns = std::mem::replace(&mut last_ts_ns, ts_ns);
        if matches!(event, Event::EngineOrder(_)) {
            remapped(remap.as_ref(), seq, &mut event)?;
            let Event::EngineOrder(e) = &event else {
                unreachable!("remapping keeps the kind")
            };
            let own = would_make.pop_front();
            if own.as_ref() != Some(&e.new) {
                if policy == Replay::Strict {
                    return Err(format!(
                        "replay diverged at seq {seq}: the journal's engine-made order {} is {:?}, this build makes {own:?}",
                        e.order.0, e.new
                    ));
                }
                engine_orders.kept(catalog, e.order, &e.new, own.as_ref());
            }
            engine
                .apply_engine_order(e.order, &e.new, ts_ns, &mut scratch)
                .map_err(|why| format!("replay diverged at seq {seq}: {why}"))?;
            scratch.clear();
            return Ok(());
        }
        if !would_make.is_empty() {
            if matches!(event, Event::Boot(_)) {
                // The process stopped after the record that made them and before their own records: the start
                // that followed made them at the end of its replay, as below.
                make_cut_off(&mut engine, &mut would_make, previous_ts_ns, &mut scratch)
                    .map_err(|why| format!("replay at seq {seq}: {why}"))?;
            } else if policy == Replay::Strict {
                return Err(format!(
                    "replay diverged at seq {seq}: this build makes engine orders {would_make:?} that the journal does not have before it"
                ));
            } else {
                for o in would_make.drain(..) {
                    engine_orders.not_made(catalog, &o);
                }
            }
        }
        if let Event::Decision(d) = &event {
            let Some((req_seq, req_ts, req)) = pending.take() else {
                return Err(format!(
                    "journal record seq {seq} is a decision with no request before it"
                ));
            };
            let own = engine.apply_journaled(&req, req_ts, d, &mut scratch);
            would_make.extend(engine.take_engine_orders_would_make());
            scratch.clear();
            return match own {
                Some((own, _)) if own == *d => Ok(()),
                // The chain ran and the journal's verdict was applied in place of its own.
                Some((own, true)) if policy == Replay::KeepJournaled && own.order == d.order => {
                    // A reject that would now cite other numbers (or another rule) is still a reject: only a
                    // changed outcome is worth an operator's attention.
                    if (own.verdict == Verdict::Accept) == (d.verdict == Verdict::Accept) {
                        return Ok(());
                    }
                    overridden += 1;
                    if overridden_first.len() < OVERRIDDEN_DESCRIBED_MAX {
                        let say = |v: &Verdict| match v {
                            Verdict::Accept => "accepted".to_string(),
                            Verdict::Reject(r) => format!("rejected ({})", r.text()),
                        };
                        overridden_first.push(format!(
                            "order {} (request at seq {req_seq}) was {} and would now be {}",
                            d.order.0,
                            say(&d.verdict),
                            say(&own.verdict)
                        ));
                    }
                    Ok(())
                }
                own => Err(format!(
                    "replay diverged at seq {seq}: the journal's decision for the request at seq {req_seq} is {d:?}, this build decides {:?}",
                    own.map(|(o, _)| o)
                )),
            };
        }
        // A request still waiting had no decision record: decide it again, as the start after it did (the
        // engine makes any orders itself: none were journaled).
        if let Some((_, req_ts, req)) = pending.take() {
            engine.replay_engine_orders_from_journal(false);
            engine.apply(&req, req_ts, &mut scratch);
            engine.replay_engine_orders_from_journal(true);
            scratch.clear();
        }
        match &event {
            Event::Boot(boot) => {
                remap = Some(Remap::new(boot, catalog));
                signals.replay_close();
                return Ok(());
            }
            Event::Signal(sig) => {
                signals.replay_signal(sig.key, sig.children, seq, ts_ns);
                return Ok(());
            }
            Event::NewOrder(_) | Event::CancelOrder(_) | Event::ReplaceOrder(_) => {
                signals.replay_request()
            }
            _ => {}
        }
        remapped(remap.as_ref(), seq, &mut event)?;
        if matches!(
            event,
            Event::NewOrder(_) | Event::CancelOrder(_) | Event::ReplaceOrder(_) | Event::Control(_)
        ) {
            pending = Some((seq, ts_ns, event));
            return Ok(());
        }
        engine.apply(&event, ts_ns, &mut scratch);
        would_make.extend(engine.take_engine_orders_would_make());
        scratch.clear();
        Ok(())
    })?;
    // From here on the engine makes its orders itself: those the last record would have made (their records
    // did not reach the journal), a request decided again, and everything live.
    engine.replay_engine_orders_from_journal(false);
    make_cut_off(&mut engine, &mut would_make, last_ts_ns, &mut scratch).map_err(|why| {
        JournalError::Scan(ScanError::Visitor(format!(
            "replay at the journal's end: {why}"
        )))
    })?;
    if let Some((_, req_ts, req)) = pending.take() {
        engine.apply(&req, req_ts, &mut scratch);
    }
    signals.replay_close();
    Ok(Recovered {
        journal,
        engine,
        signals,
        report,
        overridden,
        overridden_first,
        engine_orders_kept: engine_orders.kept,
        engine_orders_not_made: engine_orders.not_made,
        engine_orders_first: engine_orders.first,
    })
}

/// Applies `event`'s ids to this boot's catalog (`remap`: from the journal's last boot record).
fn remapped(remap: Option<&Remap>, seq: u64, event: &mut Event) -> Result<(), String> {
    let Some(remap) = remap else {
        return Err(format!(
            "journal record seq {seq} comes before any boot record"
        ));
    };
    remap.apply(event)
}

/// Makes the orders the engine would make whose own records a crash cut off, as the engine makes them (the next
/// ids, in order), as the start after that crash did.
fn make_cut_off(
    engine: &mut Engine,
    orders: &mut VecDeque<NewOrder>,
    ts_ns: i64,
    scratch: &mut Vec<Output>,
) -> Result<(), String> {
    for o in orders.drain(..) {
        let id = OrderId(engine.order_count() as u64 + 1);
        engine.apply_engine_order(id, &o, ts_ns, scratch)?;
    }
    scratch.clear();
    Ok(())
}

/// [`Recovered`]'s count of engine-made orders that replay kept as journaled although this configuration
/// differs, and of those it would have made that the journal does not have.
#[derive(Default)]
struct EngineOrderTally {
    kept: u64,
    not_made: u64,
    first: Vec<String>,
}

impl EngineOrderTally {
    fn describe(catalog: &Catalog, o: &NewOrder) -> String {
        let side = match o.side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        };
        let px = o
            .limit_px
            .map_or("market".to_string(), |px| format!("limit {px}"));
        format!(
            "{}: {side} {} {} {px}",
            catalog.account_name(o.account),
            o.qty,
            catalog.symbol_name(o.symbol)
        )
    }
    fn kept(
        &mut self,
        catalog: &Catalog,
        id: OrderId,
        journaled: &NewOrder,
        own: Option<&NewOrder>,
    ) {
        self.kept += 1;
        if self.first.len() < OVERRIDDEN_DESCRIBED_MAX {
            self.first.push(format!(
                "engine-made order {} ({}) kept as journaled, where this configuration makes {}",
                id.0,
                Self::describe(catalog, journaled),
                own.map_or("none".to_string(), |o| Self::describe(catalog, o))
            ));
        }
    }
    fn not_made(&mut self, catalog: &Catalog, o: &NewOrder) {
        self.not_made += 1;
        if self.first.len() < OVERRIDDEN_DESCRIBED_MAX {
            self.first.push(format!(
                "this configuration would have made an order ({}) that the journal does not have; it was not made",
                Self::describe(catalog, o)
            ));
        }
    }
}

/// The commands that rebuild a venue's view after a restart: reference prices, then every working order.
pub fn restore_commands(engine: &Engine, catalog: &Catalog) -> VecDeque<VenueCommand> {
    let mut cmds = VecDeque::new();
    for i in 0..catalog.symbol_count() {
        let symbol = SymbolId(i as u32);
        if let Some(px) = engine.ref_px(symbol) {
            cmds.push_back(VenueCommand::Price(PriceUpdate { symbol, px }));
        }
    }
    cmds.extend(engine.working_orders().map(|o| VenueCommand::Restore(*o)));
    cmds
}

/// The three rings around a sequencer: edges -> sequencer (`inbound`) and venue -> sequencer (`reports`), both
/// ringing the sequencer's doorbell, and sequencer -> venue (`venue`), ringing the venue's. Each is a
/// (sender, receiver) pair.
#[derive(Debug)]
pub struct Rings {
    pub inbound: (RingTx<Inbound>, RingRx<Inbound>),
    pub reports: (RingTx<StampedReport>, RingRx<StampedReport>),
    pub venue: (RingTx<VenueCommand>, RingRx<VenueCommand>),
}

/// Makes the [`Rings`]: `inbound_capacity` requests in; `venue_capacity` commands out and reports back.
pub fn rings(inbound_capacity: usize, venue_capacity: usize) -> Rings {
    let sequencer_bell = Doorbell::new();
    Rings {
        inbound: ring(inbound_capacity, &sequencer_bell),
        reports: ring(venue_capacity, &sequencer_bell),
        venue: ring(venue_capacity, &Doorbell::new()),
    }
}

pub struct Sequencer {
    journal: Journal,
    engine: Engine,
    inbound: RingRx<Inbound>,
    /// Messages already taken off `inbound`, oldest first, handled before anything still on it.
    lookahead: VecDeque<Inbound>,
    /// Shares `inbound`'s doorbell: the sequencer parks once for both.
    reports: RingRx<StampedReport>,
    venue: RingTx<VenueCommand>,
    options: SequencerOptions,
    status: Arc<SharedStatus>,
    pending_venue: VecDeque<VenueCommand>,
    outputs: Vec<Output>,
    replies: Vec<(ReplyTx, Answer)>,
    halted: Option<String>,
    venue_free_at_batch: usize,
    signals: SignalLog,
    /// `sync`: batches whose outputs and answers wait for their journal ticket to be durable, oldest first.
    awaiting: VecDeque<Awaiting>,
    /// Outputs held in `awaiting` (they will need venue ring room).
    awaiting_outputs: usize,
    /// `sync`: how many held outputs (submit, replace, cancel) concern each order. A cancel of an order with
    /// none held leaves before its batch is durable (see [`Sequencer::release`]).
    held_orders: rustc_hash::FxHashMap<OrderId, u32>,
    /// Journaled records for the event stream (`GET /api/v1/events`), published once durable; collected only
    /// while someone listens.
    feed: Option<Arc<LiveFeed>>,
    feed_batch: Vec<(u64, i64, Event)>,
    /// A venue driven from this thread between batches (the paper venue without simulated latency), instead
    /// of from a thread of its own.
    pump: Option<VenuePump>,
}

/// A batch of journaled (seq, ts_ns, event) records, in journal order.
pub type FeedBatch = Arc<Vec<(u64, i64, Event)>>;

/// The live event feed: the sequencer publishes durable batches of journaled records while anyone listens.
/// Listeners are counted in an atomic that the sequencer reads per record (a plain load, no lock on its hot
/// path); a listener is counted before it subscribes, and subscribes before it scans the journal, so every
/// record reaches it one way or the other.
#[derive(Debug)]
pub struct LiveFeed {
    tx: tokio::sync::broadcast::Sender<FeedBatch>,
    listeners: AtomicU64,
    /// Listeners on plain threads (the FIX responder): an inbox each, woken by an unpark rather than
    /// through a tokio runtime.
    inboxes: std::sync::RwLock<Vec<Arc<FeedInbox>>>,
}

/// Most unread batches an inbox may hold before batches are dropped for it (with an error log).
pub const FEED_CHANNEL_BATCHES: usize = 65_536;

/// Which batches must wake a plain-thread listener at once; the others wait in its inbox, in order, until it
/// wakes for another reason (an urgent batch, its own producers' `ring`, its timer).
pub type FeedUrgency = fn(&[(u64, i64, Event)]) -> bool;

/// A plain thread's subscription to the feed: batches queue here in publishing order and the thread is
/// unparked only for a batch its [`FeedUrgency`] calls urgent, or by [`FeedInbox::ring`]. The FIX
/// responder has nothing to send for an accepted order until the venue answers, so the batch with its
/// decision does not wake it: one wake-up per order instead of two (each a context switch and two futex
/// calls when the gateway shares one core with its clients).
#[derive(Debug)]
pub struct FeedInbox {
    tx: Sender<FeedBatch>,
    rx: Receiver<FeedBatch>,
    urgent: FeedUrgency,
    /// Where the listener parks.
    bell: Arc<Doorbell>,
}

impl FeedInbox {
    fn new(urgent: FeedUrgency) -> FeedInbox {
        let (tx, rx) = crossbeam_channel::bounded(FEED_CHANNEL_BATCHES);
        FeedInbox {
            tx,
            rx,
            urgent,
            bell: Doorbell::new(),
        }
    }

    fn deliver(&self, batch: &FeedBatch) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(batch.clone()) {
            tracing::error!(
                "a feed listener is {FEED_CHANNEL_BATCHES} batches behind; one batch was dropped for it"
            );
        }
        if (self.urgent)(batch) {
            self.ring();
        }
    }

    /// Wakes the listener if it sleeps (its other producers call this after queueing work for it).
    pub fn ring(&self) {
        self.bell.ring();
    }

    /// The oldest batch not yet taken.
    pub fn try_next(&self) -> Option<FeedBatch> {
        self.rx.try_recv().ok()
    }

    /// Parks the calling thread (the one listener) for at most `timeout` unless a batch is queued or
    /// `has_work` says its other producers left work.
    pub fn wait(&self, timeout: Duration, has_work: impl Fn() -> bool) {
        self.bell
            .wait(timeout, || !self.rx.is_empty() || has_work());
    }
}

/// Keeps a listener counted until it is dropped.
#[derive(Debug)]
pub struct FeedListener(Arc<LiveFeed>);

impl Drop for FeedListener {
    fn drop(&mut self) {
        self.0.listeners.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LiveFeed {
    /// A feed that holds up to `batches` unread batches per listener.
    pub fn new(batches: usize) -> Arc<LiveFeed> {
        Arc::new(LiveFeed {
            tx: tokio::sync::broadcast::channel(batches).0,
            listeners: AtomicU64::new(0),
            inboxes: std::sync::RwLock::new(Vec::new()),
        })
    }

    /// Counts a listener, then subscribes it with an inbox for a plain thread, woken for the batches
    /// `urgent` picks.
    pub fn listen_inbox(self: &Arc<Self>, urgent: FeedUrgency) -> (FeedListener, Arc<FeedInbox>) {
        self.listeners.fetch_add(1, Ordering::SeqCst);
        let inbox = Arc::new(FeedInbox::new(urgent));
        if let Ok(mut s) = self.inboxes.write() {
            s.push(inbox.clone());
        }
        (FeedListener(self.clone()), inbox)
    }

    fn publish(&self, batch: FeedBatch) {
        if let Ok(inboxes) = self.inboxes.read() {
            for inbox in inboxes.iter() {
                inbox.deliver(&batch);
            }
        }
        let _ = self.tx.send(batch);
    }

    /// Counts a listener, then subscribes it.
    pub fn listen(self: &Arc<Self>) -> (FeedListener, tokio::sync::broadcast::Receiver<FeedBatch>) {
        self.listeners.fetch_add(1, Ordering::SeqCst);
        (FeedListener(self.clone()), self.tx.subscribe())
    }

    fn listening(&self) -> bool {
        self.listeners.load(Ordering::SeqCst) > 0
    }
}

/// The order a venue output concerns (none for a price update).
fn output_order(out: &Output) -> Option<OrderId> {
    match out {
        Output::Submit(o) | Output::Replace(o) => Some(o.id),
        Output::Cancel { order } => Some(*order),
        Output::Price(_) => None,
    }
}

/// One batch held until the journal says it is durable.
struct Awaiting {
    ticket: u64,
    outputs: Vec<Output>,
    replies: Vec<(ReplyTx, Answer)>,
    feed: Vec<(u64, i64, Event)>,
}

impl std::fmt::Debug for Sequencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequencer")
            .field("journal", &self.journal)
            .finish()
    }
}

impl Sequencer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        journal: Journal,
        engine: Engine,
        inbound: RingRx<Inbound>,
        reports: RingRx<StampedReport>,
        venue: RingTx<VenueCommand>,
        options: SequencerOptions,
        status: Arc<SharedStatus>,
        restore: VecDeque<VenueCommand>,
    ) -> Sequencer {
        assert!(
            Arc::ptr_eq(inbound.doorbell(), reports.doorbell()),
            "the inbound and report rings must share one doorbell (the sequencer parks on it)"
        );
        Sequencer {
            journal,
            engine,
            inbound,
            lookahead: VecDeque::with_capacity(LOOKAHEAD_INPUTS),
            reports,
            venue,
            options,
            status,
            pending_venue: restore,
            outputs: Vec::with_capacity(BATCH_INPUTS_MAX * 2),
            replies: Vec::with_capacity(BATCH_INPUTS_MAX),
            halted: None,
            venue_free_at_batch: 0,
            signals: SignalLog::default(),
            awaiting: VecDeque::new(),
            awaiting_outputs: 0,
            held_orders: rustc_hash::FxHashMap::default(),
            feed: None,
            feed_batch: Vec::new(),
            pump: None,
        }
    }

    /// Drives the venue at the other end of the venue ring from this thread: at the top of every loop turn,
    /// before the reports are drained, `pump` hands the venue what the last batches sent it. The rings and
    /// their order stay as with a venue thread; the two thread hand-offs per order go.
    pub fn with_venue_pump(mut self, pump: VenuePump) -> Sequencer {
        self.pump = Some(pump);
        self
    }

    /// Publishes every durable batch of journaled records to `feed` (for the event stream).
    pub fn with_feed(mut self, feed: Arc<LiveFeed>) -> Sequencer {
        self.feed = Some(feed);
        self
    }

    /// Keeps a journaled record for the event stream, when anyone listens.
    fn record(&mut self, seq: u64, ts_ns: i64, event: &Event) {
        if self.feed.as_ref().is_some_and(|f| f.listening()) {
            self.feed_batch.push((seq, ts_ns, event.clone()));
        }
    }

    /// Starts from the signal log that recovery rebuilt.
    pub fn with_signals(mut self, signals: SignalLog) -> Sequencer {
        self.signals = signals;
        self
    }

    /// Journals the boot catalog; call once before [`Sequencer::run`].
    pub fn boot(&mut self, catalog: &Catalog, ts_ns: i64) -> Result<(), JournalError> {
        self.journal.append(ts_ns, &catalog.boot_event())?;
        self.journal.commit()?;
        self.publish_status();
        Ok(())
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn publish_status(&self) {
        self.status
            .next_seq
            .store(self.journal.next_seq(), Ordering::Relaxed);
    }

    /// Room left on the venue ring for this batch's outputs. The ring's length is read once per batch
    /// (`venue_free_at_batch`): reading it per request costs a cross-core cache miss each time.
    fn venue_room(&self) -> usize {
        self.venue_free_at_batch
            .saturating_sub(self.outputs.len() + self.awaiting_outputs)
    }

    fn halt(&mut self, e: &JournalError) {
        if self.halted.is_none() {
            tracing::error!("journal failure, trading halted until restart: {e}");
            self.status.journal_failed.store(true, Ordering::SeqCst);
            self.status.ready.store(false, Ordering::SeqCst);
            self.halted = Some(e.to_string());
        }
    }

    /// Journals and applies one input, then journals the decision if it is a request.
    fn process(&mut self, ts_ns: i64, event: &Event) -> Result<Option<Decision>, JournalError> {
        let seq = self.journal.append(ts_ns, event)?;
        self.record(seq, ts_ns, event);
        let first_output = self.outputs.len();
        let decision = self.engine.apply(event, ts_ns, &mut self.outputs);
        if let Some(d) = decision {
            let ev = Event::Decision(d);
            let seq = self.journal.append(ts_ns, &ev)?;
            self.record(seq, ts_ns, &ev);
        }
        // Orders the engine made itself (flattening) are journaled for readers; replay recreates them.
        for i in first_output..self.outputs.len() {
            if let Output::Submit(o) = self.outputs[i] {
                if o.ingress == Ingress::Risk {
                    let ev = Event::EngineOrder(EngineOrder {
                        order: o.id,
                        new: NewOrder {
                            account: o.account,
                            symbol: o.symbol,
                            side: o.side,
                            ord_type: o.ord_type,
                            tif: o.tif,
                            qty: o.qty,
                            limit_px: o.limit_px,
                            cl_ord_id: o.cl_ord_id,
                            ingress: o.ingress,
                            ext_hours: true,
                        },
                    });
                    let seq = self.journal.append(ts_ns, &ev)?;
                    self.record(seq, ts_ns, &ev);
                }
            }
        }
        Ok(decision)
    }

    fn on_request(&mut self, ts_ns: i64, event: Event, reply: Option<ReplyTx>) {
        let wants_answer = reply.is_some();
        let answer = if let Some(reason) = &self.halted {
            Answer::Unavailable(reason.clone())
        } else if self.venue_room() == 0 || !self.pending_venue.is_empty() {
            Answer::Busy
        } else {
            match self.process(ts_ns, &event) {
                Ok(Some(decision)) => Answer::Decided {
                    decision,
                    order: if wants_answer {
                        self.engine.order(decision.order).copied()
                    } else {
                        None
                    },
                },
                Ok(None) => Answer::Applied,
                Err(e) => {
                    self.halt(&e);
                    Answer::Unavailable(e.to_string())
                }
            }
        };
        if let Some(reply) = reply {
            self.replies.push((reply, answer));
        }
    }

    /// A webhook signal: a duplicate is answered at once; otherwise every member is planned against its current
    /// position and working orders, and if any member has something to do, the signal record and then each
    /// child request (with its decision) are journaled.
    fn on_signal(&mut self, ts_ns: i64, req: &SignalRequest) -> Answer {
        if let Some(reason) = &self.halted {
            return Answer::Unavailable(reason.clone());
        }
        if let Some(first_seq) = self.signals.seen(&req.key, ts_ns) {
            return Answer::Signal(SignalAnswer::Duplicate { first_seq });
        }
        if self.venue_room() == 0 || !self.pending_venue.is_empty() {
            return Answer::Busy;
        }
        let ref_px = self.engine.ref_px(req.symbol).map(Px::to_decimal);
        let plans: Vec<(AccountId, Result<Vec<Child>, PlanError>)> = req
            .members
            .iter()
            .map(|m| {
                let working: Vec<Working> = self
                    .engine
                    .working_of(m.account, req.symbol)
                    .into_iter()
                    .map(|o| Working {
                        id: o.id,
                        side: o.side,
                    })
                    .collect();
                let view = AccountView {
                    position: self.engine.position(m.account, req.symbol).qty,
                    working: &working,
                    equity: self.engine.equity(m.account).to_decimal(),
                    ref_px,
                };
                (m.account, plan(&req.alert, &m.sizing, &view, &req.options))
            })
            .collect();
        let children: usize = plans
            .iter()
            .map(|(_, p)| p.as_ref().map_or(0, Vec::len))
            .sum();
        if children == 0 {
            return Answer::Signal(SignalAnswer::Done {
                seq: None,
                accounts: plans
                    .into_iter()
                    .map(|(account, p)| AccountOutcome {
                        account,
                        result: p.map(|_| Vec::new()),
                    })
                    .collect(),
            });
        }
        let record = Event::Signal(SignalRecord {
            key: req.key,
            children: u16::try_from(children).unwrap_or(u16::MAX),
        });
        let seq = match self.journal.append(ts_ns, &record) {
            Ok(seq) => seq,
            Err(e) => {
                self.halt(&e);
                return Answer::Unavailable(e.to_string());
            }
        };
        self.record(seq, ts_ns, &record);
        self.signals.insert(req.key, seq, ts_ns);
        let mut n = 0u32;
        let mut accounts = Vec::with_capacity(plans.len());
        for (account, p) in plans {
            let result = match p {
                Err(e) => Err(e),
                Ok(kids) => {
                    let mut outcomes = Vec::with_capacity(kids.len());
                    for child in kids {
                        n += 1;
                        let (role, event) = match child {
                            Child::Cancel(id) => (
                                None,
                                Event::CancelOrder(CancelOrder::by_id(
                                    account,
                                    id,
                                    Ingress::Webhook,
                                )),
                            ),
                            Child::Order { role, side, qty } => (
                                Some(role),
                                Event::NewOrder(NewOrder {
                                    account,
                                    symbol: req.symbol,
                                    side,
                                    ord_type: req.ord_type,
                                    tif: req.tif,
                                    qty,
                                    limit_px: req.limit_px,
                                    cl_ord_id: ClOrdId::try_new(&format!("tv{seq}-{n}"))
                                        .expect("generated ids are valid"),
                                    ingress: Ingress::Webhook,
                                    ext_hours: req.ext_hours,
                                }),
                            ),
                        };
                        match self.process(ts_ns, &event) {
                            Ok(Some(decision)) => outcomes.push(ChildOutcome {
                                role,
                                decision,
                                order: self.engine.order(decision.order).copied(),
                            }),
                            Ok(None) => {}
                            Err(e) => {
                                self.halt(&e);
                                return Answer::Unavailable(e.to_string());
                            }
                        }
                    }
                    Ok(outcomes)
                }
            };
            accounts.push(AccountOutcome { account, result });
        }
        Answer::Signal(SignalAnswer::Done {
            seq: Some(seq),
            accounts,
        })
    }

    /// Journals the audit record, then the control event and its decision, like any request. Control actions
    /// are never refused as busy: a kill switch must get through when the gateway is saturated.
    fn on_control(&mut self, ts_ns: i64, audit: &Audit, control: Control, reply: ReplyTx) {
        let answer = if let Some(reason) = &self.halted {
            Answer::Unavailable(reason.clone())
        } else {
            let ev = Event::Audit(audit.clone());
            let audited = self.journal.append(ts_ns, &ev).and_then(|seq| {
                self.record(seq, ts_ns, &ev);
                self.process(ts_ns, &Event::Control(control))
            });
            match audited {
                Ok(Some(decision)) => Answer::Decided {
                    decision,
                    order: None,
                },
                Ok(None) => Answer::Applied,
                Err(e) => {
                    self.halt(&e);
                    Answer::Unavailable(e.to_string())
                }
            }
        };
        self.replies.push((reply, answer));
    }

    fn on_report(&mut self, (ts_ns, report): StampedReport) {
        if self.halted.is_some() {
            tracing::warn!("venue report dropped while the journal is failed: {report:?}");
            return;
        }
        if let Err(e) = self.process(ts_ns, &Event::Venue(report)) {
            self.halt(&e);
        }
    }

    fn on_query(&self, q: Query) {
        match q {
            Query::Orders { account, reply } => {
                let orders = self
                    .engine
                    .orders()
                    .filter(|o| o.account == account)
                    .copied()
                    .collect();
                let _ = reply.send(orders);
            }
            Query::Order {
                account,
                target,
                reply,
            } => {
                let id = match (target, account) {
                    (CancelTarget::ById(id), _) => Some(id),
                    (CancelTarget::ByClOrdId(cl), Some(account)) => {
                        self.engine.find_by_cl_ord_id(account, &cl)
                    }
                    (CancelTarget::ByClOrdId(_), None) => None,
                };
                let order = id
                    .and_then(|id| self.engine.order(id))
                    .filter(|o| account.is_none_or(|a| o.account == a));
                let _ = reply.send(order.copied());
            }
            Query::Positions { account, reply } => {
                let _ = reply.send(self.engine.positions_of(account));
            }
            Query::Kill { reply } => {
                let ((global, groups, accounts), symbols) = self.engine.kill_state_with_symbols();
                let venues = self.engine.venue_kills();
                let _ = reply.send((global, groups, accounts, symbols, venues));
            }
            Query::Headroom {
                account,
                ts_ns,
                reply,
            } => {
                let _ = reply.send(self.engine.headroom(account, ts_ns));
            }
        }
    }

    /// Ends a batch: once it is as durable as the policy promises, hands its outputs to the venue ring and its
    /// answers to the edges. Under `sync` the batch is submitted to the journal's syncer and held until its
    /// ticket is durable, while the sequencer goes on with the next one; only its cancels of orders with
    /// nothing held leave at once (written to the journal's mapping, not yet synced): a cancel only takes
    /// exposure away, and a kill switch must not wait for the disk. Everything that adds exposure (submits,
    /// replaces), every answer and the event feed still wait for the sync.
    fn release(&mut self) {
        if self.journal.pipelined() {
            match self.journal.submit_sync() {
                Ok(ticket) => {
                    let mut early = self.take_early_cancels();
                    if !early.is_empty() {
                        self.send_to_venue(&mut early);
                    }
                    if !(self.outputs.is_empty()
                        && self.replies.is_empty()
                        && self.feed_batch.is_empty())
                    {
                        self.awaiting_outputs += self.outputs.len();
                        self.awaiting.push_back(Awaiting {
                            ticket,
                            outputs: std::mem::take(&mut self.outputs),
                            replies: std::mem::take(&mut self.replies),
                            feed: std::mem::take(&mut self.feed_batch),
                        });
                    }
                }
                Err(e) => {
                    self.halt(&e);
                    self.fail_waiting(&e.to_string());
                    return;
                }
            }
            self.release_durable();
            return;
        }
        if let Err(e) = self.journal.commit() {
            self.halt(&e);
            self.fail_waiting(&e.to_string());
            return;
        }
        let outputs = std::mem::take(&mut self.outputs);
        let replies = std::mem::take(&mut self.replies);
        let feed = std::mem::take(&mut self.feed_batch);
        self.hand_off(outputs, replies, feed);
    }

    /// `sync`: releases every held batch whose ticket the syncer has made durable; on a sync failure, halts and
    /// answers every held request "unavailable" (their outputs never leave).
    fn release_durable(&mut self) {
        if self.awaiting.is_empty() {
            return;
        }
        if let Some(f) = self.journal.failure().map(str::to_string) {
            let e = JournalError::Failed(f);
            self.halt(&e);
            self.fail_waiting(&e.to_string());
            return;
        }
        let durable = self.journal.durable_ticket();
        while self.awaiting.front().is_some_and(|a| a.ticket <= durable) {
            let Some(a) = self.awaiting.pop_front() else {
                break;
            };
            self.awaiting_outputs -= a.outputs.len();
            for out in &a.outputs {
                if let Some(order) = output_order(out) {
                    if let std::collections::hash_map::Entry::Occupied(mut e) =
                        self.held_orders.entry(order)
                    {
                        *e.get_mut() -= 1;
                        if *e.get() == 0 {
                            e.remove();
                        }
                    }
                }
            }
            self.hand_off(a.outputs, a.replies, a.feed);
        }
    }

    /// A journal failure: nothing held or pending leaves; everyone waiting is told trading is halted.
    fn fail_waiting(&mut self, reason: &str) {
        self.outputs.clear();
        self.feed_batch.clear();
        for (reply, _) in self.replies.drain(..) {
            let _ = reply.send(Answer::Unavailable(reason.to_string()));
        }
        for a in self.awaiting.drain(..) {
            for (reply, _) in a.replies {
                let _ = reply.send(Answer::Unavailable(reason.to_string()));
            }
        }
        self.awaiting_outputs = 0;
        self.held_orders.clear();
    }

    /// `sync`: moves out of this batch's outputs, in order, the cancels of orders that have no output held
    /// (in an earlier batch or earlier in this one), so they cannot overtake the submit or replace they
    /// follow; counts every output that stays.
    fn take_early_cancels(&mut self) -> Vec<Output> {
        let mut early = Vec::new();
        let held = &mut self.held_orders;
        self.outputs.retain(|out| {
            let Some(order) = output_order(out) else {
                return true;
            };
            if matches!(out, Output::Cancel { .. }) && !held.contains_key(&order) {
                early.push(*out);
                return false;
            }
            *held.entry(order).or_insert(0) += 1;
            true
        });
        early
    }

    /// Hands a durable batch's outputs to the venue ring and its answers to the edges.
    fn hand_off(
        &mut self,
        mut outputs: Vec<Output>,
        replies: Vec<(ReplyTx, Answer)>,
        feed: Vec<(u64, i64, Event)>,
    ) {
        // Answers go before the feed: the FIX responder settles a request's answer when the batch that holds
        // its decision reaches it.
        for (reply, answer) in replies {
            let _ = reply.send(answer);
        }
        if !feed.is_empty() {
            if let Some(f) = &self.feed {
                f.publish(Arc::new(feed));
            }
        }
        self.send_to_venue(&mut outputs);
        if self.outputs.capacity() == 0 {
            // Reuse the drained buffer for the next batch.
            self.outputs = outputs;
        }
        self.publish_status();
    }

    /// Drains `outputs` into the venue ring, in order; what does not fit waits in the pending queue.
    fn send_to_venue(&mut self, outputs: &mut Vec<Output>) {
        for out in outputs.drain(..) {
            let cmd = match out {
                Output::Submit(o) => VenueCommand::Submit(o),
                Output::Cancel { order } => VenueCommand::Cancel { order },
                Output::Replace(o) => VenueCommand::Replace(o),
                Output::Price(p) => VenueCommand::Price(p),
            };
            // Admission control keeps room for one output per request, but one request can cause many (a kill
            // switch cancelling every working order, a prop breach flattening an account). What does not fit
            // waits in the pending queue, in order, and new requests are answered busy until it drains.
            if !self.pending_venue.is_empty() {
                self.pending_venue.push_back(cmd);
                continue;
            }
            match self.venue.try_send(cmd) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(c)) => self.pending_venue.push_back(c),
            }
        }
    }

    /// Moves commands waiting for room (the restore after a restart, or a burst of outputs) to the venue ring.
    fn feed_pending(&mut self) {
        while let Some(cmd) = self.pending_venue.pop_front() {
            if self.venue.try_send(cmd).is_err() {
                self.pending_venue.push_front(cmd);
                break;
            }
        }
    }

    /// The next inbound message, in ring order: the oldest of the lookahead, else the ring's next. Then tops
    /// the lookahead up from the ring and asks the engine to prefetch for the requests in it, so that their
    /// cache misses overlap the work on this one. Only memory hints: messages are handled strictly in order.
    fn next_inbound(&mut self) -> Result<Inbound, crossbeam_channel::TryRecvError> {
        let next = match self.lookahead.pop_front() {
            Some(message) => message,
            None => self.inbound.try_recv()?,
        };
        while self.lookahead.len() < LOOKAHEAD_INPUTS {
            match self.inbound.try_recv() {
                Ok(message) => self.lookahead.push_back(message),
                Err(_) => break,
            }
        }
        for (k, message) in self.lookahead.iter().enumerate() {
            if let Inbound::Request { event, .. } = message {
                self.engine.prefetch(event, k + 1);
            }
        }
        Ok(next)
    }

    /// Runs until [`Inbound::Shutdown`] or until every sender is gone. Returns the engine for inspection.
    pub fn run(mut self) -> Engine {
        self.status
            .ready
            .store(self.halted.is_none(), Ordering::SeqCst);
        let mut shutdown = false;
        while !shutdown {
            self.status.loop_turns.fetch_add(1, Ordering::Relaxed);
            self.release_durable();
            self.feed_pending();
            if let Some(pump) = &mut self.pump {
                pump.pump();
            }
            self.venue_free_at_batch = self
                .options
                .venue_ring_capacity
                .saturating_sub(self.venue.len());
            let mut n = 0;
            while n < BATCH_INPUTS_MAX {
                match self.reports.try_recv() {
                    Ok(r) => {
                        self.on_report(r);
                        n += 1;
                    }
                    Err(_) => break,
                }
            }
            while n < BATCH_INPUTS_MAX {
                match self.next_inbound() {
                    Ok(Inbound::Request {
                        ts_ns,
                        event,
                        reply,
                    }) => {
                        self.on_request(ts_ns, event, reply);
                        n += 1;
                    }
                    Ok(Inbound::Signal {
                        ts_ns,
                        request,
                        reply,
                    }) => {
                        let answer = self.on_signal(ts_ns, &request);
                        self.replies.push((reply, answer));
                        n += 1;
                    }
                    Ok(Inbound::Control {
                        ts_ns,
                        audit,
                        control,
                        reply,
                    }) => {
                        self.on_control(ts_ns, &audit, control, reply);
                        n += 1;
                    }
                    Ok(Inbound::Query(q)) => {
                        // Answer queries after the writes before them are released.
                        self.release();
                        self.on_query(q);
                        n += 1;
                    }
                    Ok(Inbound::Shutdown) => {
                        shutdown = true;
                        break;
                    }
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        shutdown = true;
                        break;
                    }
                }
            }
            if n > 0 {
                self.status
                    .inputs_total
                    .fetch_add(n as u64, Ordering::Relaxed);
                self.release();
                continue;
            }
            if !shutdown {
                self.idle();
            }
        }
        self.release();
        match self.journal.sync_all() {
            Ok(()) => {
                // Everything is on disk now: release what still waited for the syncer.
                while let Some(a) = self.awaiting.pop_front() {
                    self.awaiting_outputs -= a.outputs.len();
                    self.hand_off(a.outputs, a.replies, a.feed);
                }
            }
            Err(e) => {
                tracing::error!("journal sync at shutdown failed: {e}");
                self.fail_waiting(&e.to_string());
            }
        }
        self.engine
    }

    /// A held batch can be released.
    fn durable_waiting(&self) -> bool {
        self.awaiting
            .front()
            .is_some_and(|a| a.ticket <= self.journal.durable_ticket())
    }

    /// Spin briefly, then park until either ring has something (or the park times out).
    fn idle(&mut self) {
        let spin_until = Instant::now() + self.options.idle_spin;
        loop {
            // Look at the clock only every 64 polls: the rings are cheaper to poll than the clock.
            for _ in 0..64 {
                if !self.lookahead.is_empty()
                    || !self.inbound.is_empty()
                    || !self.reports.is_empty()
                    || self.durable_waiting()
                    || self.pump.as_ref().is_some_and(VenuePump::has_work)
                {
                    return;
                }
                std::hint::spin_loop();
            }
            // Only while the spin goes on: a sequencer about to park leaves the core idle, and the prefault
            // thread (idle policy) gets it. Stepping first would cost every park a syscall, which on a core
            // shared with the edges (`idle_spin_us = 0`, the FIX bench) is one per order for nothing.
            if Instant::now() >= spin_until {
                break;
            }
            // Nothing in 64 polls: take one journal page's write fault now rather than in a later append.
            self.journal.prefault_idle_step();
        }
        if !self.pending_venue.is_empty() {
            // Commands wait for room on the venue ring. A pumped venue makes that room on this thread at the
            // top of the next turn; a venue thread needs a moment.
            if self.pump.is_none() {
                std::thread::sleep(Duration::from_micros(100));
            }
            return;
        }
        // Parking: pages faulted in ahead may be written back (and write-protected) while the sequencer sleeps.
        self.journal.prefault_rewind();
        // Wait until either ring has something (or, with batches held for the syncer, a sync completes),
        // without taking it.
        let done = self
            .journal
            .sync_done()
            .filter(|_| !self.awaiting.is_empty());
        if let Some(done) = done {
            if self.durable_waiting() {
                return;
            }
            let mut sel = crossbeam_channel::Select::new();
            sel.recv(self.inbound.channel());
            sel.recv(self.reports.channel());
            let i = sel.recv(done);
            if sel.ready_timeout(PARK_TIMEOUT) == Ok(i) {
                let _ = done.try_recv();
            }
            return;
        }
        // Park on the rings' doorbell: no spinning or yielding first (see `bulwark_ring`).
        self.inbound.doorbell().wait(PARK_TIMEOUT, || {
            !self.inbound.is_empty() || !self.reports.is_empty()
        });
    }
}
