//! The FIX responder: one task that writes every ExecutionReport and OrderCancelReject. It takes the
//! sequencer's answers to the requests the callbacks enqueued (rejects, replaces, cancel refusals, status)
//! and the durable journal records of the live feed (venue acks, fills, cancels: the unsolicited reports,
//! kill-switch and cancel-on-disconnect cancels among them), and keeps a table of the FIX orders still
//! working. Before each feed batch it settles every answer already in, so an order's acceptance is always
//! handled before its venue ack (the sequencer answers a request before the venue can ack it).

use super::wire::{self, Echo, Exec, FixVersion};
use super::Shared;
use crate::sequencer::{Answer, FeedBatch, FeedListener, Inbound as SeqInbound};
use bulwark_model::*;
use std::collections::{HashMap, VecDeque};
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
}

struct Responder {
    shared: Arc<Shared>,
    orders: HashMap<OrderId, FixOrder>,
    pending: VecDeque<Work>,
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
        let exec_id = self.shared.exec_id();
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
        self.shared.send(f.session, &out);
    }

    /// An ExecutionReport rejecting a new order (spec §6.2).
    fn reject_new(&self, session: usize, inbound: &wire::Inbound, reject: &Reject, text: &str) {
        let v = self.version(session);
        let exec_id = self.shared.exec_id();
        let out = wire::exec_report(&Exec {
            version: v,
            order_id: None,
            exec_id: &exec_id,
            exec_type: "8",
            ord_status: "8",
            echo: &wire::echo(inbound),
            leaves: "0",
            cum: "0",
            avg_px: "0",
            last: None,
            ord_rej_reason: Some(wire::ord_rej_reason(v, reject)),
            text: Some(text),
            tif: None,
        });
        self.shared.send(session, &out);
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
        self.shared.send(session, &out);
    }

    fn refusal_text(&self, reject: &Reject, symbol: Option<SymbolId>) -> String {
        match reject.reason {
            RejectReason::UnknownOrder => "Unknown order".to_string(),
            RejectReason::TooLateToCancel => "Too late to cancel".to_string(),
            _ => wire::risk_text(&self.shared.catalog, reject, symbol),
        }
    }

    /// Handles one work item whose answer is in (or that needs none). Returns it back when its answer is
    /// not in yet and `wait` is false.
    fn settle(&mut self, work: Work, wait: bool) -> Option<Work> {
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
                    Err(oneshot::error::TryRecvError::Empty) if !wait => {
                        return Some(Work::Request {
                            session,
                            inbound,
                            event,
                            rx,
                        })
                    }
                    Err(oneshot::error::TryRecvError::Empty) => unreachable!("awaited before"),
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
                    Err(oneshot::error::TryRecvError::Empty) if !wait => {
                        return Some(Work::Status {
                            session,
                            inbound,
                            rx,
                        })
                    }
                    // The ring was full: answer from the table.
                    Err(_) => inbound
                        .get(11)
                        .and_then(|cl| {
                            self.orders
                                .values()
                                .find(|f| f.order.cl_ord_id.as_str() == cl)
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
                self.shared.send(session, &out);
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
                self.shared.send(session, &out);
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
            .map(|f| {
                f.cod = true;
                (f.order.id, f.order.account)
            })
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
                event: Event::CancelOrder(CancelOrder {
                    account,
                    target: CancelTarget::ById(id),
                }),
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
                    (Some(cl), _) => {
                        f.echo.orig_cl_ord_id = Some(f.echo.cl_ord_id.clone());
                        f.echo.cl_ord_id = cl.clone();
                        None
                    }
                    (None, CancelCause::ImmediateOrCancel) => Some("IOC_REMAINDER_CANCELED"),
                    (None, CancelCause::FillOrKill) => Some("FOK_NOT_FILLED"),
                    (None, CancelCause::Venue) => Some("CANCELED_BY_VENUE"),
                    (None, CancelCause::Requested) if f.cod => Some("CANCEL_ON_DISCONNECT"),
                    // The engine cancels on its own only for a kill switch (a trip, a dead-man's lapse, a
                    // prop-firm breach).
                    (None, CancelCause::Requested) => Some("KILL_SWITCH"),
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
                if let Some(cl) = f.pending_cancel.take() {
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
                    self.shared.send(f.session, &out);
                }
                false
            }
        };
        if done {
            self.orders.remove(&id);
        }
    }

    /// Settles every queued work item whose answer is already in.
    fn settle_ready(&mut self) {
        let mut still = VecDeque::with_capacity(self.pending.len());
        while let Some(w) = self.pending.pop_front() {
            if let Some(w) = self.settle(w, false) {
                still.push_back(w);
            }
        }
        self.pending = still;
    }
}

/// Runs the responder until the feed closes.
pub async fn run(
    shared: Arc<Shared>,
    mut work: tokio::sync::mpsc::UnboundedReceiver<Work>,
    _listener: FeedListener,
    mut live: tokio::sync::broadcast::Receiver<FeedBatch>,
    orders: Vec<Order>,
) {
    let mut r = Responder {
        orders: HashMap::new(),
        pending: VecDeque::new(),
        shared: shared.clone(),
    };
    for o in orders {
        if let Some(session) = shared.session_of_account(o.account) {
            let echo = echo_of(&shared, &o);
            r.track(session, o, echo);
        }
    }
    loop {
        // Wait for the oldest answer, new work or a feed batch, whichever comes first.
        tokio::select! {
            biased;
            w = work.recv() => match w {
                Some(w) => r.pending.push_back(w),
                None => return,
            },
            batch = live.recv() => match batch {
                Ok(batch) => {
                    while let Ok(w) = work.try_recv() {
                        r.pending.push_back(w);
                    }
                    r.settle_ready();
                    for (_, _, event) in batch.iter() {
                        r.on_record(event);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::error!("the FIX responder fell {n} journal batches behind; execution reports for them were not sent (clients can ask with OrderStatusRequest)");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = front_ready(&mut r.pending), if !r.pending.is_empty() => {
                r.settle_ready();
            }
        }
    }
}

/// Resolves when the oldest pending work item's answer is in (or it needs none). Polling a oneshot takes its
/// value, so the value is put back in a fresh, already-filled channel for [`Responder::settle`].
async fn front_ready(pending: &mut VecDeque<Work>) {
    fn refill<T>(rx: &mut oneshot::Receiver<T>, v: Result<T, oneshot::error::RecvError>) {
        let (tx, fresh) = oneshot::channel();
        if let Ok(v) = v {
            let _ = tx.send(v);
        }
        *rx = fresh;
    }
    match pending.front_mut() {
        Some(Work::Request { rx, .. }) => {
            let v = (&mut *rx).await;
            refill(rx, v);
        }
        Some(Work::Status { rx, .. }) => {
            let v = (&mut *rx).await;
            refill(rx, v);
        }
        Some(_) | None => {}
    }
}
