//! Backpressure, fail-stop and output order at the sequencer: a full venue ring answers "busy" without
//! journaling, a journal write failure halts trading (every later request answered "unavailable", readiness
//! false), under `sync` a cancel released before its batch's sync never overtakes its order's submit, and a
//! venue pumped from the sequencer's thread drains a burst larger than its ring.
use bulwark_gateway::catalog::{Catalog, SymbolSpec};
use bulwark_gateway::journal::{format, Durability, JournalOptions};
use bulwark_gateway::sequencer::{
    self, Answer, Inbound, Sequencer, SequencerOptions, SharedStatus,
};
use bulwark_model::*;
use bulwark_risk::EngineLimits;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn catalog() -> Catalog {
    Catalog::new(
        vec!["A".into()],
        vec![SymbolSpec {
            name: "X".into(),
            qty_decimals: 0,
            px_decimals: 2,
            calendar: "ALWAYS".into(),
        }],
    )
}

fn order(i: usize) -> Event {
    Event::NewOrder(NewOrder {
        account: AccountId(0),
        symbol: SymbolId(0),
        side: Side::Buy,
        ord_type: OrdType::Limit,
        tif: Tif::Gtc,
        qty: Qty::from_units(1),
        limit_px: Some(Px::from_units(10)),
        cl_ord_id: ClOrdId::try_new(&format!("o{i}")).unwrap(),
        ingress: Ingress::Rest,
        ext_hours: false,
    })
}

struct Running {
    tx: bulwark_ring::RingTx<Inbound>,
    venue_rx: bulwark_ring::RingRx<bulwark_adapters::VenueCommand>,
    status: Arc<SharedStatus>,
    handle: std::thread::JoinHandle<bulwark_risk::Engine>,
    _reports: bulwark_ring::RingTx<bulwark_adapters::StampedReport>,
}

/// The sequencer over a fresh `sync` journal in `dir`, booted, not yet running; with its rings' other ends.
fn build(
    dir: &Path,
    venue_ring: usize,
) -> (
    Sequencer,
    bulwark_ring::RingTx<Inbound>,
    bulwark_ring::RingRx<bulwark_adapters::VenueCommand>,
    Arc<SharedStatus>,
    bulwark_ring::RingTx<bulwark_adapters::StampedReport>,
) {
    let opts = JournalOptions {
        dir: dir.to_path_buf(),
        segment_bytes: format::SEGMENT_BYTES_MIN,
        durability: Durability::Sync,
    };
    let limits = EngineLimits {
        accounts: 1,
        symbols: 1,
        open_orders_max: 100_000,
        orders_reserved: 16,
    };
    let (journal, engine, _) =
        sequencer::recover(opts, &catalog(), bulwark_risk::Engine::new(limits)).unwrap();
    let rings = sequencer::rings(1024, venue_ring);
    let (tx, in_rx) = rings.inbound;
    let (v_tx, venue_rx) = rings.venue;
    let (r_tx, r_rx) = rings.reports;
    let status = Arc::new(SharedStatus::default());
    let mut seq = Sequencer::new(
        journal,
        engine,
        in_rx,
        r_rx,
        v_tx,
        SequencerOptions {
            idle_spin: Duration::from_micros(10),
            venue_ring_capacity: venue_ring,
        },
        status.clone(),
        Default::default(),
    );
    seq.boot(&catalog(), 0).unwrap();
    (seq, tx, venue_rx, status, r_tx)
}

fn start(dir: &Path, venue_ring: usize) -> Running {
    let (seq, tx, venue_rx, status, r_tx) = build(dir, venue_ring);
    let handle = std::thread::spawn(move || seq.run());
    Running {
        tx,
        venue_rx,
        status,
        handle,
        _reports: r_tx,
    }
}

/// Sends a request without waiting for its answer.
fn send(r: &Running, event: Event) -> tokio::sync::oneshot::Receiver<Answer> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    r.tx.send(Inbound::Request {
        ts_ns: 1,
        event,
        reply: Some(tx),
    })
    .unwrap();
    rx
}

fn ask(r: &Running, event: Event) -> Answer {
    send(r, event)
        .blocking_recv()
        .expect("the sequencer answers")
}

#[test]
fn full_venue_ring_answers_busy_and_journals_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), 16);
    let mut accepted = 0;
    let mut busy = 0;
    for i in 0..40 {
        match ask(&r, order(i)) {
            Answer::Decided { decision, .. } => {
                assert_eq!(decision.verdict, Verdict::Accept);
                accepted += 1;
            }
            Answer::Busy => busy += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        accepted, 16,
        "exactly the ring's capacity is admitted while nobody drains it"
    );
    assert_eq!(busy, 24);
    // Draining makes room again.
    while r.venue_rx.try_recv().is_ok() {}
    assert!(matches!(ask(&r, order(100)), Answer::Decided { .. }));
    r.tx.send(Inbound::Shutdown).unwrap();
    let engine = r.handle.join().unwrap();
    assert_eq!(engine.order_count(), 17, "busy answers created no orders");
    let (_, replayed, _) = sequencer::recover(
        JournalOptions {
            dir: dir.path().to_path_buf(),
            segment_bytes: format::SEGMENT_BYTES_MIN,
            durability: Durability::Sync,
        },
        &catalog(),
        bulwark_risk::Engine::new(*engine.limits()),
    )
    .unwrap();
    assert_eq!(
        replayed.order_count(),
        17,
        "busy requests were never journaled"
    );
}

#[test]
fn journal_write_failure_halts_trading() {
    let dir = tempfile::tempdir().unwrap();
    let jdir = dir.path().join("journal");
    let r = start(&jdir, 1 << 16);
    // Make the next segment impossible to create: the directory becomes a file.
    std::fs::rename(&jdir, dir.path().join("moved")).unwrap();
    std::fs::write(&jdir, b"not a directory").unwrap();
    let mut answers = Vec::new();
    for i in 0..2_000 {
        let a = ask(&r, order(i));
        let stop = matches!(a, Answer::Unavailable(_));
        answers.push(a);
        if stop {
            break;
        }
        while r.venue_rx.try_recv().is_ok() {}
    }
    let Some(Answer::Unavailable(reason)) = answers.last() else {
        panic!("the journal never failed");
    };
    // The segment prepared ahead cannot be renamed into place (or, if none was ready, created).
    assert!(
        reason.contains("journal I/O error")
            && (reason.contains("rename") || reason.contains("create")),
        "{reason}"
    );
    assert!(r.status.journal_failed.load(Ordering::SeqCst));
    assert!(!r.status.ready.load(Ordering::SeqCst));
    // Every later request, including prices and cancels, is refused rather than applied without the journal.
    assert!(matches!(ask(&r, order(9_999)), Answer::Unavailable(_)));
    assert!(matches!(
        ask(
            &r,
            Event::Price(PriceUpdate {
                symbol: SymbolId(0),
                px: Px::from_units(1)
            })
        ),
        Answer::Unavailable(_)
    ));
    r.tx.send(Inbound::Shutdown).unwrap();
    r.handle.join().unwrap();
}

#[test]
fn a_burst_of_outputs_larger_than_the_venue_ring_waits_in_order_instead_of_crashing() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), 16);
    for i in 0..30 {
        assert!(matches!(ask(&r, order(i)), Answer::Decided { .. }));
        while r.venue_rx.try_recv().is_ok() {}
    }
    // The venue stops draining; one kill switch trip cancels all 30 working orders at once.
    let trip = ask(&r, Event::Control(Control::halt_all(LEVEL_ADMIN)));
    assert!(
        matches!(trip, Answer::Decided { decision, .. } if decision.verdict == Verdict::Accept)
    );
    assert!(
        matches!(ask(&r, order(100)), Answer::Busy),
        "new requests wait while commands are pending"
    );
    let mut cancels = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while cancels.len() < 30 && std::time::Instant::now() < deadline {
        if let Ok(bulwark_adapters::VenueCommand::Cancel { order }) =
            r.venue_rx.recv_timeout(Duration::from_millis(100))
        {
            cancels.push(order.0);
        }
    }
    assert_eq!(
        cancels,
        (1..=30).collect::<Vec<u64>>(),
        "every cancel delivered, in order"
    );
    r.tx.send(Inbound::Shutdown).unwrap();
    r.handle.join().unwrap();
}

/// The paper venue pumped from the sequencer's thread, behind a venue ring of 16: a kill switch's 30 cancels
/// wait for room, the pump makes it on the sequencer's own turns (no venue thread drains the ring), and every
/// order ends canceled by the venue.
#[test]
fn a_pumped_venue_drains_a_burst_larger_than_the_venue_ring() {
    let dir = tempfile::tempdir().unwrap();
    let (seq, tx, venue_rx, status, r_tx) = build(dir.path(), 16);
    let paper = bulwark_adapters::paper::PaperVenue::new(Default::default());
    let pump = bulwark_adapters::VenuePump::new(Box::new(paper), venue_rx, r_tx, || 1);
    let seq = seq.with_venue_pump(pump);
    let (unused_tx, unused_rx) = bulwark_ring::ring(1, &bulwark_ring::Doorbell::new());
    let r = Running {
        tx,
        venue_rx: bulwark_ring::ring(1, &bulwark_ring::Doorbell::new()).1,
        status,
        handle: std::thread::spawn(move || seq.run()),
        _reports: unused_tx,
    };
    drop(unused_rx);
    for i in 0..30 {
        assert!(matches!(ask(&r, order(i)), Answer::Decided { .. }));
    }
    let trip = ask(&r, Event::Control(Control::halt_all(LEVEL_ADMIN)));
    assert!(
        matches!(trip, Answer::Decided { decision, .. } if decision.verdict == Verdict::Accept)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let orders = loop {
        let (reply, rx) = tokio::sync::oneshot::channel();
        r.tx.send(Inbound::Query(sequencer::Query::Orders {
            account: AccountId(0),
            reply,
        }))
        .unwrap();
        let orders = rx.blocking_recv().unwrap();
        let canceled = orders
            .iter()
            .filter(|o| o.status == OrderStatus::Canceled)
            .count();
        if canceled == 30 || std::time::Instant::now() > deadline {
            break orders;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(orders.len(), 30);
    assert!(
        orders.iter().all(|o| o.status == OrderStatus::Canceled),
        "every order canceled by the venue: {:?}",
        orders.iter().map(|o| o.status).collect::<Vec<_>>()
    );
    r.tx.send(Inbound::Shutdown).unwrap();
    let engine = r.handle.join().unwrap();
    assert_eq!(engine.open_order_count(), 0);
}

#[test]
fn under_sync_a_cancel_never_overtakes_the_submit_it_follows() {
    // Cancels of orders with nothing held leave before their batch's fdatasync; a cancel of an order whose
    // submit is still held for the sync must wait behind it.
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), 4096);
    let mut answers = Vec::new();
    for i in 0..300 {
        for event in [
            order(i),
            Event::CancelOrder(CancelOrder {
                account: AccountId(0),
                target: CancelTarget::ByClOrdId(ClOrdId::try_new(&format!("o{i}")).unwrap()),
                ingress: Ingress::Rest,
                cl_ord_id: None,
            }),
        ] {
            answers.push(send(&r, event));
        }
    }
    let mut cancels_accepted = 0;
    for (k, rx) in answers.into_iter().enumerate() {
        match rx.blocking_recv().expect("the sequencer answers") {
            Answer::Decided { decision, .. } => {
                assert_eq!(decision.verdict, Verdict::Accept, "request {k}");
                cancels_accepted += k % 2;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(cancels_accepted, 300);
    let mut submitted = std::collections::HashSet::new();
    let mut cancels = 0;
    while cancels < 300 {
        match r
            .venue_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("every accepted cancel reaches the venue ring")
        {
            bulwark_adapters::VenueCommand::Submit(o) => {
                submitted.insert(o.id);
            }
            bulwark_adapters::VenueCommand::Cancel { order } => {
                assert!(
                    submitted.contains(&order),
                    "the cancel of {order:?} reached the venue before its submit"
                );
                cancels += 1;
            }
            other => panic!("unexpected venue command {other:?}"),
        }
    }
    assert_eq!(submitted.len(), 300);
    r.tx.send(Inbound::Shutdown).unwrap();
    r.handle.join().unwrap();
}

/// Requests queued behind the one being handled are taken into the sequencer's lookahead (for the engine's
/// prefetch): they must still be decided strictly in ring order. A burst sent without waiting, with a reused
/// client order id in it: dense order ids in send order, the reuse refused as a duplicate, and the venue's
/// submits in the same order.
#[test]
fn a_burst_queued_behind_the_current_request_is_decided_in_ring_order() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), 1024);
    let n = 300;
    let answers: Vec<_> = (0..n)
        .map(|i| send(&r, order(if i == 150 { 10 } else { i })))
        .collect();
    for (i, answer) in answers.into_iter().enumerate() {
        match answer.blocking_recv().expect("an answer") {
            Answer::Decided { decision, .. } => {
                assert_eq!(decision.order, OrderId(i as u64 + 1), "request {i}");
                if i == 150 {
                    assert!(
                        matches!(decision.verdict, Verdict::Reject(r) if r.reason == RejectReason::Duplicate),
                        "the reused id is a duplicate: {:?}",
                        decision.verdict
                    );
                } else {
                    assert_eq!(decision.verdict, Verdict::Accept, "request {i}");
                }
            }
            other => panic!("request {i}: {other:?}"),
        }
    }
    let submits: Vec<u64> = r
        .venue_rx
        .try_iter()
        .filter_map(|c| match c {
            bulwark_adapters::VenueCommand::Submit(o) => Some(o.id.0),
            _ => None,
        })
        .collect();
    let expected: Vec<u64> = (1..=n as u64).filter(|id| *id != 151).collect();
    assert_eq!(submits, expected);
    r.tx.send(Inbound::Shutdown).unwrap();
    r.handle.join().unwrap();
}
