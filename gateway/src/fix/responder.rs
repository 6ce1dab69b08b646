//! The FIX responder: one thread that writes every ExecutionReport and OrderCancelReject. It takes the
//! sequencer's answers to the requests the callbacks enqueued (rejects, replaces, cancel refusals, status)
//! and the durable journal records of the live feed (venue acks, fills, cancels: the unsolicited reports,
//! kill-switch and cancel-on-disconnect cancels among them), and keeps a table of the FIX orders still
//! working. Before each feed batch it settles every answer already in, so an order's acceptance is always
//! handled before its venue ack (the sequencer answers a request before it publishes the batch that holds
//! it). Neither a request nor the batch with an accepting decision wakes the responder (it has nothing to send
//! until the venue answers): an accepted order costs it one wake-up, for the venue's ack; a rejected one is
//! woken by its decision. Answers that come without a batch (busy, status) wake it too, and are picked up by
//! a 1 ms tick while they wait.

use super::wire::{self, Echo, Exec, FixVersion};
use super::Shared;
use crate::sequencer::{Answer, FeedInbox, FeedListener, Inbound as SeqInbound};
use bulwark_model::*;
use rustc_hash::FxHashMap as HashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::oneshot;

/// What the callbacks hand the responder.
#[derive(Debug)]
pub enum Work {
    /// A request put (or tried) on the sequencer's ring; `rx` brings its answer (closed = never enqueued).
    Request {
        session: usize,
        inbound: wire::Inbound,
        event: Event,
        rx: oneshot::Receiver<Answer>,
    },
    /// Refused by the edge's own validation before the risk chain.
    Refused {
        session: usize,
        inbound: wire::Inbound,
        reject: Reject,
        text: String,
    },
    /// An OrderStatusRequest.
    Status {
        session: usize,
        inbound: wire::Inbound,
        rx: oneshot::Receiver<Option<Order>>,
    },
    /// The session dropped (or logged out, if so configured): cancel its working DAY orders.
    CancelOnDisconnect { session: usize },
}

/// The callbacks' hand-off to the responder: a lock-free queue, and for the items that no feed batch will
/// announce, a ring on the responder's feed inbox (one place to wait: a select over two cost the responder a
/// contended lock per wait in `perf`).
#[derive(Debug)]
pub struct WorkQueue {
    tx: crossbeam_channel::Sender<Work>,
    rx: crossbeam_channel::Receiver<Work>,
    inbox: Arc<FeedInbox>,
}

impl WorkQueue {
    pub fn new(inbox: Arc<FeedInbox>) -> WorkQueue {
        let (tx, rx) = crossbeam_channel::unbounded();
        WorkQueue { tx, rx, inbox }
    }

    /// Queues `work`; `wake` wakes the responder if it sleeps. Work that a feed batch will announce (a
    /// request the sequencer took) needs no wake: the responder settles it when it next wakes, before the
    /// batch that needs it.
    pub fn push(&self, work: Work, wake: bool) {
        let _ = self.tx.send(work);
        if wake {
            self.ring();
        }
    }

    /// Wakes the responder for work already queued (a request the sequencer's ring refused: no batch will
    /// announce its "busy" answer).
    pub fn ring(&self) {
        self.inbox.ring();
    }

    fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    fn drain_into(&self, out: &mut VecDeque<Work>) {
        out.extend(self.rx.try_iter());
    }
}

/// A FIX order still working, as the responder tracks it.
#[derive(Debug)]
struct FixOrder {
    session: usize,
    order: Order,
    echo: Echo,
    /// The ClOrdID of the client's cancel under way.
    pending_cancel: Option<String>,
    /// Canceled by cancel-on-disconnect.
    cod: bool,
    /// The edge whose cancel request (not this client's) was accepted for the order: REST, a webhook signal,
    /// a strategy. Its Canceled report names it instead of the kill switch.
    canceled_by: Option<Ingress>,
}

struct Responder {
    shared: Arc<Shared>,
    orders: HashMap<OrderId, FixOrder>,
    pending: VecDeque<Work>,
    /// Replaying journal records whose reports were sent before the restart: keep state, send nothing.
    muted: bool,
    /// Reports sent so far (recovery says how many it sent again).
    sent: std::cell::Cell<u64>,
    /// The last journal record processed.
    last_seq: u64,
    /// The journal record being turned into a report (0 for reports made from an answer): its sequence number
    /// is the report's ExecID, so a report sent again after a crash carries the same ExecID and a client can
    /// tell it from a new one.
    record_seq: u64,
    /// The request read from the journal whose decision is the next record (a decision always follows its
    /// request), kept across the end of the start-up scan: the live feed may bring the decision. Live, only
    /// cancels are kept (the answers settle the rest).
    request: Option<Event>,
    /// While the journal is replayed at start: how the FIX orders that ended so far ended, so that a refused
    /// cancel or replace sent again after a crash reports the order's final status as it did the first time.
    ended: Option<HashMap<OrderId, OrderStatus>>,
}

/// The last journal sequence number whose reports the responder has handed to QuickFIX (which stores them
/// before sending), kept in a small file beside QuickFIX's store and written after each journal batch. After a
/// restart, the reports for the records after it are sent then: a fill journaled in the instant before a
/// `kill -9` still reaches the client.
#[derive(Debug)]
pub struct Progress {
    file: std::fs::File,
}

impl Progress {
    pub const FILE: &'static str = "bulwark-reported-seq";

    /// Opens (or creates) the progress file in `dir`; returns it and the sequence number it holds.
    pub fn open(dir: &std::path::Path) -> std::io::Result<(Progress, u64)> {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(Self::FILE))?;
        let mut buf = [0u8; 8];
        let seq = match file.read_exact_at(&mut buf, 0) {
            Ok(()) => u64::from_le_bytes(buf),
            Err(_) => 0,
        };
        Ok((Progress { file }, seq))
    }

    fn store(&self, seq: u64) {
        use std::os::unix::fs::FileExt;
        if let Err(e) = self.file.write_all_at(&seq.to_le_bytes(), 0) {
            tracing::error!("cannot record FIX report progress: {e}");
        }
    }
}

fn side_text(s: Side) -> &'static str {
    match s {
        Side::Buy => "1",
        Side::Sell => "2",
    }
}

fn tif_text(t: Tif) -> &'static str {
    match t {
        Tif::Day => "0",
        Tif::Gtc => "1",
        Tif::Ioc => "3",
        Tif::Fok => "4",
    }
}

fn echo_of(shared: &Shared, o: &Order) -> Echo {
    let c = &shared.catalog;
    Echo {
        cl_ord_id: o.cl_ord_id.as_str().to_string(),
        orig_cl_ord_id: None,
        account: Some(c.account_name(o.account).to_string()),
        symbol: c.symbol_name(o.symbol).to_string(),
        side: side_text(o.side).to_string(),
        qty: Some(o.qty.to_string()),
        ord_type: Some(
            match o.ord_type {
                OrdType::Market => "1",
                OrdType::Limit => "2",
            }
            .to_string(),
        ),
        price: o.limit_px.map(|p| p.to_string()),
    }
}

impl Responder {
    /// The ExecID of the next report: `J<journal seq>` for a report about a journal record, a boot-unique id
    /// otherwise.
    fn exec_id(&self) -> String {
        if self.record_seq > 0 {
            format!("J{}", self.record_seq)
        } else {
            self.shared.exec_id()
        }
    }

    /// Sends `out` on `session` unless replaying what was sent before.
    fn emit(&self, session: usize, out: &wire::Out) {
        if !self.muted {
            self.shared.send(session, out);
            self.sent.set(self.sent.get() + 1);
        }
    }

    /// Rebuilds the table of FIX orders from the journal, sending the reports for records after `reported`
    /// (those were journaled but not reported before the restart). Returns the last sequence number read.
    fn recover(&mut self, journal_dir: &std::path::Path, reported: u64) -> Result<u64, String> {
        let catalog = self.shared.catalog.clone();
        let mut remap: Option<crate::catalog::Remap> = None;
        let mut resent = 0u64;
        let sent_before = self.sent.get();
        crate::journal::format::scan(journal_dir, |rec| {
            let mut event = rec.decode().map_err(|e| e.to_string())?;
            self.last_seq = rec.seq;
            if let Event::Boot(b) = &event {
                remap = Some(crate::catalog::Remap::new(b, &catalog));
                // A request left without its decision by a crash is decided again after this boot.
                self.request = None;
                return Ok(());
            }
            if let Some(r) = &remap {
                if r.apply(&mut event).is_err() {
                    return Ok(());
                }
            }
            self.muted = rec.seq <= reported;
            if !self.muted {
                resent += 1;
            }
            self.record_seq = rec.seq;
            self.replay(&event);
            self.record_seq = 0;
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        self.muted = false;
        // Only when a report went out: a fresh start also reads records after seq 0 (the day roll) that make none.
        let sent = self.sent.get() - sent_before;
        if sent > 0 {
            tracing::warn!(
                "FIX: {resent} journal records after the last reported one (seq {reported}), {sent} reports; their reports were sent now"
            );
        }
        Ok(self.last_seq)
    }

    /// One journal record during recovery: requests and their decisions rebuild the table (FIX orders are
    /// the ones with `ingress = fix`), venue reports go through [`Responder::on_record`].
    fn replay(&mut self, event: &Event) {
        match event {
            Event::NewOrder(_) | Event::CancelOrder(_) | Event::ReplaceOrder(_) => {
                self.request = Some(event.clone());
            }
            Event::Decision(d) => match (self.request.take(), d.verdict) {
                (Some(Event::NewOrder(o)), verdict) if o.ingress == Ingress::Fix => {
                    let Some(session) = self.shared.session_of_account(o.account) else {
                        return;
                    };
                    let order = o.to_order(d.order, 0, verdict);
                    let echo = echo_of(&self.shared, &order);
                    match verdict {
                        Verdict::Accept => self.track(session, order, echo),
                        Verdict::Reject(r) => {
                            let text = wire::risk_text(&self.shared.catalog, &r, Some(o.symbol));
                            let echo = Echo {
                                account: echo.account,
                                ..echo
                            };
                            self.reject_echo(session, &echo, &r, &text);
                        }
                    }
                }
                (Some(Event::CancelOrder(c)), _) => self.on_cancel_decided(&c, d, true),
                (Some(Event::ReplaceOrder(rp)), Verdict::Accept) => {
                    if let Some(f) = self.orders.get_mut(&d.order) {
                        let old = f.order.cl_ord_id.as_str().to_string();
                        f.order.qty = rp.qty;
                        f.order.limit_px = rp.limit_px;
                        f.order.cl_ord_id = rp.cl_ord_id;
                        f.echo.cl_ord_id = rp.cl_ord_id.as_str().to_string();
                        f.echo.orig_cl_ord_id = Some(old);
                        f.echo.qty = Some(rp.qty.to_string());
                        f.echo.price = rp.limit_px.map(|p| p.to_string());
                        let f = &self.orders[&d.order];
                        self.report(f, "5", None, None);
                    }
                }
                // Replaces come only from the FIX edge (journal.md, kind 12).
                (Some(Event::ReplaceOrder(rp)), Verdict::Reject(r)) => {
                    let CancelTarget::ByClOrdId(orig) = rp.target else {
                        return;
                    };
                    self.refusal_replayed(rp.account, orig, rp.cl_ord_id, 2, d.order, &r);
                }
                _ => {}
            },
            Event::Venue(_) => {
                self.request = None;
                self.on_record(event);
            }
            _ => self.request = None,
        }
    }

    /// A cancel request's decision, from the journal (live or at start). An accepted cancel says who asked:
    /// this FIX client (its ClOrdID goes in the Canceled report), the edge's cancel-on-disconnect, or another
    /// edge. A refused one is answered here only at start, for a FIX client's request whose OrderCancelReject
    /// may not have left before the crash (live, the answer to the request sends it).
    fn on_cancel_decided(&mut self, c: &CancelOrder, d: &Decision, replaying: bool) {
        match d.verdict {
            Verdict::Accept => {
                let Some(f) = self.orders.get_mut(&d.order) else {
                    return;
                };
                match (c.ingress, &c.cl_ord_id, c.target) {
                    (Ingress::Fix, Some(cl), _) => {
                        f.pending_cancel = Some(cl.as_str().to_string());
                    }
                    // A client's cancel journaled under layout 1, which did not keep its ClOrdID: the report
                    // names the order's.
                    (Ingress::Fix, None, CancelTarget::ByClOrdId(_)) => {
                        if f.pending_cancel.is_none() {
                            f.pending_cancel = Some(String::new());
                        }
                    }
                    // The edge's own cancel-on-disconnect (it names orders by id), unless another edge's cancel
                    // was first.
                    (Ingress::Fix, None, CancelTarget::ById(_)) => {
                        if f.canceled_by.is_none() {
                            f.cod = true;
                        }
                    }
                    (other, _, _) => {
                        if f.pending_cancel.is_none() {
                            f.canceled_by = Some(other);
                        }
                    }
                }
            }
            Verdict::Reject(r) if replaying => {
                if let (Ingress::Fix, Some(cl), CancelTarget::ByClOrdId(orig)) =
                    (c.ingress, c.cl_ord_id, c.target)
                {
                    self.refusal_replayed(c.account, orig, cl, 1, d.order, &r);
                }
            }
            Verdict::Reject(_) => {}
        }
    }

    /// The OrderCancelReject for a FIX client's cancel (`response_to` 1) or replace (2) refused by the
    /// journaled decision, rebuilt from the journal at start: the same fields as the answer sent live, the
    /// account named by the catalog. `order` is the decision's (0: no order matched).
    fn refusal_replayed(
        &self,
        account: AccountId,
        orig: ClOrdId,
        cl: ClOrdId,
        response_to: u32,
        order: OrderId,
        reject: &Reject,
    ) {
        let Some(session) = self.shared.session_of_account(account) else {
            return;
        };
        let tracked = self.orders.get(&order);
        let status = match tracked {
            Some(f) => wire::ord_status(f.order.status),
            None => self
                .ended
                .as_ref()
                .and_then(|e| e.get(&order))
                .map_or("8", |s| wire::ord_status(*s)),
        };
        let echo = Echo {
            cl_ord_id: cl.as_str().to_string(),
            orig_cl_ord_id: Some(orig.as_str().to_string()),
            account: Some(self.shared.catalog.account_name(account).to_string()),
            symbol: String::new(),
            side: String::new(),
            qty: None,
            ord_type: None,
            price: None,
        };
        let symbol = tracked.map(|f| f.order.symbol);
        let out = wire::cancel_reject(
            (order.0 != 0).then_some(order),
            &echo,
            status,
            response_to,
            wire::cxl_rej_reason(reject),
            &self.refusal_text(reject, symbol),
        );
        self.emit(session, &out);
    }

    /// One journal record of the live feed: a cancel's decision (who asked), or a venue report.
    fn on_feed(&mut self, event: &Event) {
        match event {
            Event::CancelOrder(_) => self.request = Some(event.clone()),
            Event::Decision(d) => {
                if let Some(Event::CancelOrder(c)) = self.request.take() {
                    self.on_cancel_decided(&c, d, false);
                }
            }
            Event::Venue(_) => self.on_record(event),
            _ => self.request = None,
        }
    }

    /// Starts tracking a working FIX order.
    fn track(&mut self, session: usize, order: Order, echo: Echo) {
        self.orders.insert(
            order.id,
            FixOrder {
                session,
                order,
                echo,
                pending_cancel: None,
                cod: false,
                canceled_by: None,
            },
        );
    }

    fn version(&self, session: usize) -> FixVersion {
        self.shared.sessions[session].scope.version
    }

    /// An ExecutionReport about a tracked order.
    fn report(
        &self,
        f: &FixOrder,
        exec_type: &'static str,
        last: Option<(Qty, Px)>,
        text: Option<&str>,
    ) {
        let o = &f.order;
        let exec_id = self.exec_id();
        let leaves = if o.status.is_working() {
            o.leaves_qty()
        } else {
            Qty::ZERO
        };
        let out = wire::exec_report(&Exec {
            version: self.version(f.session),
            order_id: Some(o.id),
            exec_id: &exec_id,
            exec_type,
            ord_status: wire::ord_status(o.status),
            echo: &f.echo,
            leaves: &leaves.to_string(),
            cum: &o.cum_qty.to_string(),
            avg_px: &o.avg_px().to_string(),
            last: last.map(|(q, p)| (q.to_string(), p.to_string())),
            ord_rej_reason: None,
            text,
            tif: Some(tif_text(o.tif)),
        });
        self.emit(f.session, &out);
    }

    /// An ExecutionReport rejecting a new order (spec §6.2).
    fn reject_new(&self, session: usize, inbound: &wire::Inbound, reject: &Reject, text: &str) {
        self.reject_echo(session, &wire::echo(inbound), reject, text);
    }

    fn reject_echo(&self, session: usize, echo: &Echo, reject: &Reject, text: &str) {
        let v = self.version(session);
        let exec_id = self.shared.exec_id();
        let out = wire::exec_report(&Exec {
            version: v,
            order_id: None,
            exec_id: &exec_id,
            exec_type: "8",
            ord_status: "8",
            echo,
            leaves: "0",
            cum: "0",
            avg_px: "0",
            last: None,
            ord_rej_reason: Some(wire::ord_rej_reason(v, reject)),
            text: Some(text),
            tif: None,
        });
        self.emit(session, &out);
    }

    fn cancel_reject(
        &self,
        session: usize,
        inbound: &wire::Inbound,
        order: Option<&Order>,
        reject: &Reject,
        text: &str,
    ) {
        let response_to = if inbound.msg_type == "G" { 2 } else { 1 };
        let status = order.map_or("8", |o| wire::ord_status(o.status));
        let out = wire::cancel_reject(
            order.map(|o| o.id),
            &wire::echo(inbound),
            status,
            response_to,
            wire::cxl_rej_reason(reject),
            text,
        );
        self.emit(session, &out);
    }

    fn refusal_text(&self, reject: &Reject, symbol: Option<SymbolId>) -> String {
        match reject.reason {
            RejectReason::UnknownOrder => "Unknown order".to_string(),
            RejectReason::TooLateToCancel => "Too late to cancel".to_string(),
            _ => wire::risk_text(&self.shared.catalog, reject, symbol),
        }
    }

    /// Handles one work item whose answer is in (or that needs none). Returns it back when its answer is
    /// not in yet.
    fn settle(&mut self, work: Work) -> Option<Work> {
        match work {
            Work::Request {
                session,
                inbound,
                event,
                mut rx,
            } => {
                let answer = match rx.try_recv() {
                    Ok(a) => Some(a),
                    Err(oneshot::error::TryRecvError::Closed) => None,
                    Err(oneshot::error::TryRecvError::Empty) => {
                        return Some(Work::Request {
                            session,
                            inbound,
                            event,
                            rx,
                        })
                    }
                };
                self.on_answer(session, &inbound, &event, answer);
                None
            }
            Work::Refused {
                session,
                inbound,
                reject,
                text,
            } => {
                match inbound.msg_type.as_str() {
                    "D" => self.reject_new(session, &inbound, &reject, &text),
                    "H" => self.status_report(session, &inbound, None),
                    _ => self.cancel_reject(session, &inbound, None, &reject, &text),
                }
                None
            }
            Work::Status {
                session,
                inbound,
                mut rx,
            } => {
                let order = match rx.try_recv() {
                    Ok(o) => o,
                    Err(oneshot::error::TryRecvError::Empty) => {
                        return Some(Work::Status {
                            session,
                            inbound,
                            rx,
                        })
                    }
                    // The ring was full: answer from the table, among this session's orders (another session
                    // may use the same ClOrdID), and the account's when the request names one.
                    Err(_) => inbound
                        .get(11)
                        .and_then(|cl| {
                            let account = inbound
                                .get(1)
                                .and_then(|name| self.shared.catalog.account(name));
                            self.orders.values().find(|f| {
                                f.session == session
                                    && f.order.cl_ord_id.as_str() == cl
                                    && account.is_none_or(|a| f.order.account == a)
                            })
                        })
                        .map(|f| f.order),
                };
                self.status_report(session, &inbound, order.as_ref());
                None
            }
            Work::CancelOnDisconnect { session } => {
                self.cancel_on_disconnect(session);
                None
            }
        }
    }

    fn status_report(&self, session: usize, inbound: &wire::Inbound, order: Option<&Order>) {
        let v = self.version(session);
        let exec_id = self.shared.exec_id();
        match order {
            Some(o) => {
                let echo = self
                    .orders
                    .get(&o.id)
                    .map_or_else(|| echo_of(&self.shared, o), |f| f.echo.clone());
                let leaves = if o.status.is_working() {
                    o.leaves_qty()
                } else {
                    Qty::ZERO
                };
                let out = wire::exec_report(&Exec {
                    version: v,
                    order_id: Some(o.id),
                    exec_id: &exec_id,
                    exec_type: "I",
                    ord_status: wire::ord_status(o.status),
                    echo: &echo,
                    leaves: &leaves.to_string(),
                    cum: &o.cum_qty.to_string(),
                    avg_px: &o.avg_px().to_string(),
                    last: None,
                    ord_rej_reason: None,
                    text: None,
                    tif: Some(tif_text(o.tif)),
                });
                self.emit(session, &out);
            }
            None => {
                let out = wire::exec_report(&Exec {
                    version: v,
                    order_id: None,
                    exec_id: &exec_id,
                    exec_type: "I",
                    ord_status: "8",
                    echo: &wire::echo(inbound),
                    leaves: "0",
                    cum: "0",
                    avg_px: "0",
                    last: None,
                    ord_rej_reason: None,
                    text: Some("Unknown order"),
                    tif: None,
                });
                self.emit(session, &out);
            }
        }
    }

    fn on_answer(
        &mut self,
        session: usize,
        inbound: &wire::Inbound,
        event: &Event,
        answer: Option<Answer>,
    ) {
        let (decision, order) = match answer {
            Some(Answer::Decided { decision, order }) => (decision, order),
            other => {
                // Not journaled: tell the client plainly and keep nothing.
                let text = match other {
                    Some(Answer::Unavailable(why)) => {
                        format!("GATEWAY_UNAVAILABLE: trading is halted ({why})")
                    }
                    _ => "GATEWAY_BUSY: the gateway is busy; try again".to_string(),
                };
                let reject = Reject::plain(RuleId::Input, RejectReason::Busy);
                match event {
                    Event::NewOrder(_) => self.reject_new(session, inbound, &reject, &text),
                    _ => self.cancel_reject(session, inbound, None, &reject, &text),
                }
                return;
            }
        };
        match (event, decision.verdict) {
            (Event::NewOrder(_), Verdict::Accept) => {
                if let Some(o) = order {
                    let mut echo = wire::echo(inbound);
                    echo.account = Some(self.shared.catalog.account_name(o.account).to_string());
                    self.track(session, o, echo);
                }
            }
            (Event::NewOrder(n), Verdict::Reject(r)) => {
                let text = wire::risk_text(&self.shared.catalog, &r, Some(n.symbol));
                self.reject_new(session, inbound, &r, &text);
            }
            (Event::CancelOrder(_), Verdict::Accept) => {
                if let Some(f) = self.orders.get_mut(&decision.order) {
                    f.pending_cancel = inbound.get(11).map(str::to_string);
                }
            }
            (Event::ReplaceOrder(_), Verdict::Accept) => {
                if let (Some(f), Some(o)) = (self.orders.get_mut(&decision.order), order) {
                    let old_cl = f.order.cl_ord_id.as_str().to_string();
                    f.order = Order {
                        cum_qty: f.order.cum_qty,
                        cum_notional: f.order.cum_notional,
                        status: f.order.status,
                        ..o
                    };
                    f.echo.cl_ord_id = o.cl_ord_id.as_str().to_string();
                    f.echo.orig_cl_ord_id = Some(old_cl);
                    f.echo.qty = inbound.get(38).map(str::to_string);
                    f.echo.price = inbound.get(44).map(str::to_string);
                    let f = &self.orders[&decision.order];
                    self.report(f, "5", None, None);
                }
            }
            (Event::CancelOrder(_) | Event::ReplaceOrder(_), Verdict::Reject(r)) => {
                let symbol = order.map(|o| o.symbol);
                let text = self.refusal_text(&r, symbol);
                let current = self
                    .orders
                    .get(&decision.order)
                    .map(|f| f.order)
                    .or(order.filter(|_| decision.order.0 != 0));
                self.cancel_reject(session, inbound, current.as_ref(), &r, &text);
            }
            _ => {}
        }
    }

    fn cancel_on_disconnect(&mut self, session: usize) {
        let mut ids: Vec<(OrderId, AccountId)> = self
            .orders
            .values_mut()
            .filter(|f| {
                f.session == session
                    && f.order.tif == Tif::Day
                    && f.order.status.is_working()
                    && f.pending_cancel.is_none()
            })
            // (An order whose earlier cancel-on-disconnect did not go through is canceled again. Its `cod` is set
            // by the cancel's accepting decision on the feed, which comes before the venue's Canceled.)
            .map(|f| (f.order.id, f.order.account))
            .collect();
        ids.sort();
        tracing::info!(
            "FIX cancel-on-disconnect for {}: {} working DAY orders",
            self.shared.sessions[session].target_comp_id,
            ids.len()
        );
        for (id, account) in ids {
            let mut msg = SeqInbound::Request {
                ts_ns: crate::http::now_ns(),
                // A FIX cancel without a client order id of its own: the journal tells cancel-on-disconnect
                // from the client's cancels by that.
                event: Event::CancelOrder(CancelOrder::by_id(account, id, Ingress::Fix)),
                reply: None,
            };
            // Not an I/O thread answering a client: wait for room rather than leave an order working.
            for _ in 0..10_000 {
                match self.shared.inbound.try_send(msg) {
                    Ok(()) => break,
                    Err(crossbeam_channel::TrySendError::Full(m)) => {
                        msg = m;
                        std::thread::sleep(std::time::Duration::from_micros(100));
                    }
                    Err(crossbeam_channel::TrySendError::Disconnected(_)) => return,
                }
            }
        }
    }

    /// One durable journal record from the live feed.
    fn on_record(&mut self, event: &Event) {
        let Event::Venue(report) = event else {
            return;
        };
        let id = report.order();
        let Some(f) = self.orders.get_mut(&id) else {
            return;
        };
        let done = match *report {
            VenueReport::Ack { .. } => {
                if f.order.status == OrderStatus::PendingNew {
                    f.order.status = OrderStatus::New;
                }
                let f = &self.orders[&id];
                self.report(f, "0", None, None);
                false
            }
            VenueReport::Fill { qty, px, .. } => {
                f.order.cum_qty = Qty::from_raw(f.order.cum_qty.raw() + qty.raw());
                f.order.cum_notional = f.order.cum_notional + Notional::of(qty, px);
                let done = f.order.cum_qty.raw() >= f.order.qty.raw();
                if f.order.status != OrderStatus::PendingCancel || done {
                    f.order.status = if done {
                        OrderStatus::Filled
                    } else {
                        OrderStatus::PartiallyFilled
                    };
                }
                let f = &self.orders[&id];
                self.report(f, "F", Some((qty, px)), None);
                done
            }
            VenueReport::Canceled { cause, .. } => {
                f.order.status = OrderStatus::Canceled;
                let text = match (&f.pending_cancel, cause) {
                    (Some(cl), _) if cl.is_empty() => None,
                    (Some(cl), _) => {
                        f.echo.orig_cl_ord_id = Some(f.echo.cl_ord_id.clone());
                        f.echo.cl_ord_id = cl.clone();
                        None
                    }
                    (None, CancelCause::ImmediateOrCancel) => Some("IOC_REMAINDER_CANCELED"),
                    (None, CancelCause::FillOrKill) => Some("FOK_NOT_FILLED"),
                    (None, CancelCause::Venue) => Some("CANCELED_BY_VENUE"),
                    (None, CancelCause::Requested) if f.cod => Some("CANCEL_ON_DISCONNECT"),
                    (None, CancelCause::Requested) => Some(match f.canceled_by {
                        Some(Ingress::Rest) => "CANCELED_BY_REST",
                        Some(Ingress::Webhook) => "CANCELED_BY_WEBHOOK",
                        Some(Ingress::Strategy) => "CANCELED_BY_STRATEGY",
                        Some(Ingress::Binary) => "CANCELED_BY_BINARY",
                        // No other edge asked: the engine cancels on its own only for a kill switch (a trip,
                        // a dead-man's lapse, a prop-firm breach).
                        Some(Ingress::Fix | Ingress::Risk) | None => "KILL_SWITCH",
                    }),
                };
                let f = &self.orders[&id];
                self.report(f, "4", None, text);
                true
            }
            VenueReport::Rejected { reason, .. } => {
                f.order.status = OrderStatus::Rejected;
                let text = format!("VENUE:{reason:?}");
                let f = &self.orders[&id];
                self.report(f, "8", None, Some(&text));
                true
            }
            VenueReport::CancelRejected { .. } => {
                // The order works on: whoever asked for the refused cancel no longer explains a later one.
                f.canceled_by = None;
                f.cod = false;
                // (An empty ClOrdID is a layout-1 client cancel's, not known: no answer can name it.)
                if let Some(cl) = f.pending_cancel.take().filter(|cl| !cl.is_empty()) {
                    let echo = Echo {
                        cl_ord_id: cl,
                        orig_cl_ord_id: Some(f.echo.cl_ord_id.clone()),
                        ..f.echo.clone()
                    };
                    let out = wire::cancel_reject(
                        Some(id),
                        &echo,
                        wire::ord_status(f.order.status),
                        1,
                        0,
                        "Too late to cancel",
                    );
                    let session = f.session;
                    self.emit(session, &out);
                }
                false
            }
        };
        if done {
            if let Some(f) = self.orders.remove(&id) {
                if let Some(ended) = &mut self.ended {
                    ended.insert(id, f.order.status);
                }
            }
        }
    }

    /// Settles queued work in order, up to the first item whose answer is not in yet. The sequencer answers
    /// in the order requests entered its ring, which is the queue's order for each session, so this costs
    /// O(settled) per call, not O(queued) (a full scan per feed batch made a backlog feed itself).
    fn settle_ready(&mut self) {
        while let Some(w) = self.pending.pop_front() {
            if let Some(w) = self.settle(w) {
                self.pending.push_front(w);
                break;
            }
        }
    }
}

/// Whether a feed batch must wake the responder now: anything but requests, price updates and accepting
/// decisions may need a report (a venue event, a reject, a replace). The rest waits in the inbox, in order,
/// and is handled at the next wake-up, before whatever caused it.
pub fn needs_prompt_report(batch: &[(u64, i64, Event)]) -> bool {
    batch.iter().any(|(_, _, e)| {
        !matches!(
            e,
            Event::NewOrder(_)
                | Event::CancelOrder(_)
                | Event::Price(_)
                | Event::Decision(Decision {
                    verdict: Verdict::Accept,
                    ..
                })
        )
    })
}

/// Runs the responder (on its own thread). Once `sessions` says QuickFIX's sessions exist (the reports it
/// sends again must find them), it rebuilds its table of FIX orders from the journal in `journal_dir`
/// (sending the reports recorded in `progress` as not yet sent) and says so on `recovered`; then it follows
/// the live feed in `inbox`, skipping what the journal scan already covered. It runs as long as the process.
/// The acceptor waits for `recovered` before it takes logons, so no client request is answered both by the
/// scan (from its journaled decision) and by its answer.
pub fn run(
    shared: Arc<Shared>,
    _listener: FeedListener,
    inbox: Arc<FeedInbox>,
    journal_dir: std::path::PathBuf,
    progress: (Progress, u64),
    (sessions, recovered): (std::sync::mpsc::Receiver<()>, std::sync::mpsc::Sender<()>),
) {
    // An error means the acceptor could not be made: start-up fails anyway.
    let _ = sessions.recv();
    let mut r = Responder {
        orders: HashMap::default(),
        pending: VecDeque::new(),
        shared: shared.clone(),
        muted: false,
        sent: std::cell::Cell::new(0),
        last_seq: 0,
        record_seq: 0,
        request: None,
        ended: Some(HashMap::default()),
    };
    let (progress, reported) = progress;
    if let Err(e) = r.recover(&journal_dir, reported) {
        tracing::error!("FIX: cannot read the journal to rebuild working FIX orders: {e}");
    }
    r.ended = None;
    progress.store(r.last_seq);
    let _ = recovered.send(());
    loop {
        shared.work.drain_into(&mut r.pending);
        r.settle_ready();
        let mut handled = false;
        while let Some(batch) = inbox.try_next() {
            // Settle the answers in before the batch: an order's acceptance before its venue ack.
            shared.work.drain_into(&mut r.pending);
            r.settle_ready();
            for (seq, _, event) in batch.iter() {
                if *seq > r.last_seq {
                    r.last_seq = *seq;
                    r.record_seq = *seq;
                    r.on_feed(event);
                    r.record_seq = 0;
                    handled = true;
                }
            }
        }
        if handled {
            progress.store(r.last_seq);
        }
        // While answers are awaited that no feed batch will bring (busy, status), look again every 1 ms.
        let timeout = if r.pending.is_empty() {
            std::time::Duration::from_secs(3600)
        } else {
            std::time::Duration::from_millis(1)
        };
        inbox.wait(timeout, || !shared.work.is_empty());
    }
}
