//! `GET /api/v1/events`: server-sent events of orders, fills, cancels, rejects and control actions, read out of
//! the journal. Each event's `id` is the journal sequence number of the record it comes from, so a client that
//! reconnects with `Last-Event-ID: N` (or `?after=N`) resumes exactly after N: no gap, no duplicate. A new
//! connection takes a turn to scan (at most `HISTORY_SCANS_MAX` run at once), subscribes to the sequencer's live
//! feed, then scans the journal up to the present, sending each item as it is read: at most
//! `HISTORY_QUEUED_EVENTS` wait unread, and the scan waits for the client, holding one journal segment and a small
//! entry per order, never the events themselves. It then continues live from the first sequence number it has
//! not sent. `?account=` filters by account; a client that falls too far behind the live feed, or takes nothing
//! for `HISTORY_CLIENT_STALL` during its history, is disconnected and resumes from its last id.

use crate::catalog::{Catalog, Remap};
use crate::http::{ApiError, AppState};
use axum::extract::{Query as UrlQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bulwark_model::*;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Turns journal records into stream items. Keeps what later records refer to: the request a decision
/// decides, the audit a control follows, and the account and symbol of every order it has seen.
#[derive(Debug)]
pub struct Feed {
    catalog: Arc<Catalog>,
    remap: Option<Remap>,
    orders: HashMap<OrderId, (AccountId, SymbolId)>,
    request: Option<Event>,
    audit: Option<Audit>,
    groups: Arc<[String]>,
}

/// One stream item: its journal seq, the account it concerns (if known) and its JSON.
#[derive(Debug, Clone)]
pub struct Item {
    pub seq: u64,
    pub account: Option<AccountId>,
    pub kind: &'static str,
    pub data: Value,
}

impl Feed {
    pub fn new(catalog: Arc<Catalog>, groups: Arc<[String]>) -> Feed {
        Feed {
            catalog,
            remap: None,
            orders: HashMap::new(),
            request: None,
            audit: None,
            groups,
        }
    }

    fn reject_json(&self, r: &Reject, symbol: Option<SymbolId>) -> Value {
        let detail = self.catalog.reject_detail(r, symbol);
        json!({"code": r.reason.code(), "rule": r.rule.as_str(), "message": r.text_with_detail(&detail)})
    }

    /// The item record `seq` makes, if it makes one.
    pub fn push(&mut self, seq: u64, ts_ns: i64, mut event: Event) -> Option<Item> {
        let c = self.catalog.clone();
        match &event {
            Event::Boot(b) => {
                self.remap = Some(Remap::new(b, &c));
                return None;
            }
            Event::Audit(a) => {
                self.audit = Some(a.clone());
                return None;
            }
            _ => {}
        }
        if let Some(r) = &self.remap {
            r.apply(&mut event).ok()?;
        }
        let item = |kind: &'static str, account: Option<AccountId>, mut data: Value| {
            data["seq"] = json!(seq);
            data["ts_ns"] = json!(ts_ns);
            data["type"] = json!(kind);
            if let Some(a) = account {
                data["account"] = json!(c.account_name(a));
            }
            Some(Item {
                seq,
                account,
                kind,
                data,
            })
        };
        match event {
            Event::NewOrder(_) | Event::CancelOrder(_) | Event::Control(_) => {
                self.request = Some(event);
                None
            }
            Event::EngineOrder(e) => {
                let o = e.new;
                self.orders.insert(e.order, (o.account, o.symbol));
                item("order", Some(o.account), order_json(&c, e.order, &o))
            }
            Event::Decision(d) => match self.request.take()? {
                Event::NewOrder(o) => {
                    self.orders.insert(d.order, (o.account, o.symbol));
                    let mut data = order_json(&c, d.order, &o);
                    match d.verdict {
                        Verdict::Accept => item("order", Some(o.account), data),
                        Verdict::Reject(r) => {
                            data["reject"] = self.reject_json(&r, Some(o.symbol));
                            item("reject", Some(o.account), data)
                        }
                    }
                }
                Event::CancelOrder(x) => {
                    let mut data = json!({
                        "order_id": d.order.0,
                        "accepted": d.verdict == Verdict::Accept,
                        "ingress": x.ingress,
                    });
                    if let Some(cl) = &x.cl_ord_id {
                        data["client_order_id"] = json!(cl.as_str());
                    }
                    if let Verdict::Reject(r) = d.verdict {
                        data["reject"] = self.reject_json(&r, None);
                    }
                    item("cancel_request", Some(x.account), data)
                }
                Event::Control(ctl) => {
                    let audit = self.audit.take();
                    let (scope, target, account) = match ctl.scope {
                        KillScope::Global => ("global", None, None),
                        KillScope::Group(g) => {
                            ("group", self.groups.get(g as usize).cloned(), None)
                        }
                        KillScope::Account(a) => {
                            ("account", Some(c.account_name(a).to_string()), Some(a))
                        }
                        KillScope::Symbol(sym) => {
                            ("symbol", Some(c.symbol_name(sym).to_string()), None)
                        }
                        KillScope::Venue(v) => (
                            "venue",
                            crate::control::VENUES
                                .get(v as usize)
                                .map(|n| n.to_string()),
                            None,
                        ),
                    };
                    let mut data = json!({
                        "action": match ctl.kind {
                            ControlKind::Reset => "reset",
                            ControlKind::CancelWorking => "cancel_working",
                            ControlKind::Unlock => "unlock",
                            _ => "trip",
                        },
                        "mode": ctl.kind.mode().map(KillMode::as_str),
                        "scope": scope,
                        "target": target,
                        "level": crate::auth::role_name(ctl.level),
                        "accepted": d.verdict == Verdict::Accept,
                        "actor": audit.as_ref().map(|a| a.actor.clone()),
                        "reason": audit.as_ref().map(|a| a.reason.clone()),
                    });
                    if let Verdict::Reject(r) = d.verdict {
                        data["reject"] = self.reject_json(&r, None);
                    }
                    item("control", account, data)
                }
                _ => None,
            },
            Event::Venue(report) => {
                let known = self.orders.get(&report.order()).copied();
                let (account, symbol) = (known.map(|k| k.0), known.map(|k| k.1));
                let sym = symbol.map(|s| c.symbol_name(s).to_string());
                match report {
                    VenueReport::Fill {
                        order,
                        exec_id,
                        qty,
                        px,
                    } => item(
                        "fill",
                        account,
                        json!({"order_id": order.0, "exec_id": exec_id, "qty": qty, "price": px, "symbol": sym}),
                    ),
                    VenueReport::Canceled { order, cause } => item(
                        "canceled",
                        account,
                        json!({"order_id": order.0, "cause": cause, "symbol": sym}),
                    ),
                    VenueReport::Rejected { order, reason } => item(
                        "venue_reject",
                        account,
                        json!({"order_id": order.0, "reason": reason, "symbol": sym}),
                    ),
                    VenueReport::Ack { .. } | VenueReport::CancelRejected { .. } => None,
                }
            }
            _ => None,
        }
    }
}

/// An order as the stream shows it (requested or engine-made).
fn order_json(c: &Catalog, id: OrderId, o: &NewOrder) -> Value {
    json!({
        "order_id": id.0,
        "client_order_id": o.cl_ord_id.as_str(),
        "symbol": c.symbol_name(o.symbol),
        "side": o.side,
        "qty": o.qty,
        "order_type": o.ord_type,
        "limit_price": o.limit_px,
        "tif": o.tif,
        "ingress": o.ingress,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsParams {
    account: Option<String>,
    after: Option<u64>,
}

/// Events of history queued for a client at most: the journal scan waits while the client has this many unread,
/// so a client that connects late in a busy day costs this much memory, not the day's history.
const HISTORY_QUEUED_EVENTS: usize = 1024;

/// Feeds the journal's records with `from < seq < to` to `feed` and hands each item after `after` to `sink`,
/// which returns false to stop (its client went away). Returns the last sequence number read. Blocking: run
/// it off the I/O threads.
fn scan_range(
    dir: &std::path::Path,
    feed: &mut Feed,
    (from, to): (u64, u64),
    after: u64,
    mut sink: impl FnMut(&Item) -> bool,
) -> Result<u64, String> {
    let mut last = from;
    crate::journal::format::scan(dir, |rec| {
        if rec.seq <= from || rec.seq >= to {
            return Ok(());
        }
        last = rec.seq;
        let event = rec.decode().map_err(|e| e.to_string())?;
        if let Some(item) = feed.push(rec.seq, rec.ts_ns, event) {
            if item.seq > after && !sink(&item) {
                return Err(CLIENT_GONE.into());
            }
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(last)
}

/// Why a scan for a client stopped early: it closed the stream, or took nothing for [`HISTORY_CLIENT_STALL`].
const CLIENT_GONE: &str = "the client stopped reading the stream";

/// History scans that may run at once; more clients wait for a turn. A scan holds a blocking thread (of the
/// pool the day-roll timer and the safety controls also use) while its client reads, and one journal segment in
/// memory, so their number is bounded.
const HISTORY_SCANS_MAX: usize = 8;
static HISTORY_SCANS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HISTORY_SCANS_MAX);

/// A client that takes no event for this long while its history streams is disconnected, freeing its scan's
/// turn; it resumes with `Last-Event-ID`.
const HISTORY_CLIENT_STALL: std::time::Duration = std::time::Duration::from_secs(10);

/// Hands `event` to a client's queue from a blocking thread (through `rt`), waiting while the queue is full,
/// for at most [`HISTORY_CLIENT_STALL`]. False when the client is gone or stalled.
fn send_blocking(
    rt: &tokio::runtime::Handle,
    tx: &tokio::sync::mpsc::Sender<SseEvent>,
    event: SseEvent,
) -> bool {
    matches!(
        rt.block_on(tokio::time::timeout(HISTORY_CLIENT_STALL, tx.send(event))),
        Ok(Ok(()))
    )
}

fn sse_event(item: &Item) -> SseEvent {
    SseEvent::default()
        .id(item.seq.to_string())
        .event(item.kind)
        .data(item.data.to_string())
}

pub async fn get_events(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<UrlQuery<EventsParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let run = async {
        let p = q.map(|UrlQuery(v)| v).map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "INVALID_PARAMETER",
                e.body_text(),
            )
        })?;
        let account = p
            .account
            .as_deref()
            .map(|name| crate::http::account_of(&s, name))
            .transpose()?;
        let principal =
            s.auth
                .require(&headers, LEVEL_VIEWER, account, "reading the event stream")?;
        if account.is_none() && principal.as_ref().is_some_and(|p| p.accounts.is_some()) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "FORBIDDEN_ACCOUNT",
                "a token scoped to accounts must name one with ?account=",
            ));
        }
        let last_event_id = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    ApiError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "INVALID_PARAMETER",
                        format!("Last-Event-ID `{v}` is not a sequence number"),
                    )
                })
            })
            .transpose()?;
        let after = last_event_id.or(p.after).unwrap_or(0);
        // A turn to scan first (waiting for one sends nothing and holds no subscription), then listen before
        // scanning, so nothing falls between the scan and the live feed.
        let turn = HISTORY_SCANS.acquire().await.map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "the event stream's history scans are closed",
            )
        })?;
        let (listener, mut live) = s.feed.listen();
        let keep = move |i: &Item| account.is_none_or(|a| i.account == Some(a));
        let (tx, rx) = tokio::sync::mpsc::channel::<SseEvent>(HISTORY_QUEUED_EVENTS);
        // History streams to the client as it is read, at the client's pace (the channel is bounded). The
        // scan reports once that it is under way (its first item, or its end), so that a journal that cannot
        // be read at all is still answered 503 rather than with an empty stream.
        let (started_tx, started) = tokio::sync::oneshot::channel::<Result<(), String>>();
        let dir = s.journal_dir.clone();
        let mut feed = Feed::new(s.catalog.clone(), s.groups.clone());
        let history_tx = tx.clone();
        let rt = tokio::runtime::Handle::current();
        let history = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let mut started_tx = Some(started_tx);
            let r = scan_range(&dir, &mut feed, (0, u64::MAX), after, |item| {
                if !keep(item) {
                    return true;
                }
                if let Some(t) = started_tx.take() {
                    let _ = t.send(Ok(()));
                }
                send_blocking(&rt, &history_tx, sse_event(item))
            });
            if let Some(t) = started_tx.take() {
                let _ = t.send(r.as_ref().map(|_| ()).map_err(Clone::clone));
            }
            r.map(|last| (last, feed))
        });
        match started.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "JOURNAL_UNAVAILABLE",
                    format!("cannot read the journal: {e}"),
                ))
            }
            Err(_) => {
                return Err(ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    "the journal scan for the event stream stopped unexpectedly",
                ))
            }
        }
        let dir2 = s.journal_dir.clone();
        tokio::spawn(async move {
            let _listener = listener;
            // A scan that fails after its first items ends the stream (the client resumes with Last-Event-ID).
            let (scanned, mut feed) = match history.await {
                Ok(Ok(done)) => done,
                Ok(Err(e)) if e == CLIENT_GONE => return,
                Ok(Err(e)) => {
                    tracing::warn!(
                        "event stream: the journal scan failed part way ({e}); the stream ends"
                    );
                    return;
                }
                Err(_) => return,
            };
            let mut sent = scanned.max(after);
            loop {
                match live.recv().await {
                    Ok(batch) => {
                        // Records appended in the batch that was open when this client subscribed, before it
                        // was counted, were neither collected for the feed nor committed when the journal was
                        // scanned: read them from the journal now (they are committed by the time their
                        // batch is published).
                        if let Some((first, _, _)) = batch.first() {
                            if *first > sent + 1 {
                                let dir = dir2.clone();
                                let (from, to) = (sent, *first);
                                let gap = tokio::task::spawn_blocking(move || {
                                    let mut items = Vec::new();
                                    let r = scan_range(&dir, &mut feed, (from, to), from, |i| {
                                        items.push(i.clone());
                                        true
                                    });
                                    (r.map(|_| items), feed)
                                })
                                .await;
                                let Ok((Ok(items), f)) = gap else {
                                    return;
                                };
                                feed = f;
                                for item in items.iter().filter(|i| keep(i)) {
                                    if tx.send(sse_event(item)).await.is_err() {
                                        return;
                                    }
                                }
                                sent = first - 1;
                            }
                        }
                        for (seq, ts_ns, event) in batch.iter() {
                            if *seq <= sent {
                                continue;
                            }
                            sent = *seq;
                            if let Some(item) = feed.push(*seq, *ts_ns, event.clone()) {
                                if keep(&item) && tx.send(sse_event(&item)).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    // Too far behind: end the stream; the client resumes with Last-Event-ID.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_))
                    | Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|e| (Ok::<_, std::convert::Infallible>(e), rx))
        });
        Ok(Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
