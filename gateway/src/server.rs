//! Starting and stopping the gateway: lock the data dir, recover the journal, start the paper venue and the
//! sequencer threads, serve HTTP on one tokio runtime, and on SIGTERM/SIGINT stop accepting, let the sequencer
//! drain and sync the journal, and exit cleanly. Readiness turns true only after recovery and binding.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::http::{self, AppState};
use crate::journal::JournalOptions;
use crate::risk_setup::DayBoundary;
use crate::sequencer::{self, Inbound, Sequencer, SequencerOptions, SharedStatus};
use anyhow::{bail, Context};
use bulwark_adapters::paper::{PaperConfig, PaperVenue};
use bulwark_adapters::VenuePump;
use bulwark_model::{Event, Timer};
use bulwark_ring::RingTx;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

const NS_PER_DAY: i64 = 86_400_000_000_000;

/// Holds the exclusive lock on a data dir for as long as it lives.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

pub fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<DataDirLock> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        bail!(
            "another bulwark process is using the data dir {}",
            dir.display()
        );
    }
    Ok(DataDirLock { _file: file })
}

pub fn journal_options(config: &Config) -> JournalOptions {
    JournalOptions {
        dir: config.journal_dir(),
        segment_bytes: config.journal.segment_bytes,
        durability: config.journal.policy(),
    }
}

/// Batches the live event feed holds for a slow event-stream client before it is dropped (it then resumes
/// from its last event id).
const FEED_BATCHES: usize = 4096;

/// Runs the gateway until a shutdown signal.
pub fn run(config: Config) -> anyhow::Result<()> {
    let _lock = lock_data_dir(&config.gateway.data_dir)?;
    let catalog = Arc::new(Catalog::from_config(&config));
    let started = std::time::Instant::now();
    let (engine_config, boundaries) = crate::risk_setup::engine_config(&config, &catalog)?;
    let recovered = sequencer::recover_with_signals(
        journal_options(&config),
        &catalog,
        bulwark_risk::Engine::with_config(engine_config),
        sequencer::Replay::KeepJournaled,
    )
    .context("journal recovery failed; the gateway will not start")?;
    if recovered.overridden > 0 {
        tracing::warn!(
            "journal replay kept {} journaled decision(s) that this configuration would make differently (a limit \
             changed since they were made); orders stand as they were acknowledged, and new orders are checked \
             against the new configuration. First: {}",
            recovered.overridden,
            recovered.overridden_first.join("; ")
        );
    }
    if recovered.engine_orders_kept + recovered.engine_orders_not_made > 0 {
        tracing::warn!(
            "journal replay took the orders the engine made itself (prop-breach and kill-switch flattening) from \
             the journal: {} of them this configuration would make differently or not at all, and it would \
             have made {} more that were not made (a prop-firm template, a flatten setting or the collar changed \
             since). Locks and floors follow the new configuration. First: {}",
            recovered.engine_orders_kept,
            recovered.engine_orders_not_made,
            recovered.engine_orders_first.join("; ")
        );
    }
    let sequencer::Recovered {
        journal,
        engine,
        signals,
        report,
        ..
    } = recovered;
    if let Some(torn) = &report.torn_tail {
        tracing::warn!(
            "journal had a torn final record in {} at byte offset {} ({}); it was never acknowledged and has been truncated",
            torn.segment.display(),
            torn.offset,
            torn.reason
        );
    }
    tracing::info!(
        records = report.records,
        segments = report.segments,
        orders = engine.order_count(),
        open_orders = engine.open_order_count(),
        "journal recovered in {:?}",
        started.elapsed()
    );

    let g = &config.gateway;
    let rings = sequencer::rings(g.inbound_ring_capacity, g.venue_ring_capacity);
    let (inbound_tx, inbound_rx) = rings.inbound;
    let (reports_tx, reports_rx) = rings.reports;
    let (venue_tx, venue_rx) = rings.venue;
    let boot_ns = http::now_ns();
    let paper = PaperVenue::new(PaperConfig {
        seed: config.paper.seed,
        partial_fill_probability: config.paper.partial_fill_probability,
        latency_ns: config.paper.latency_us * 1_000,
        latency_jitter_ns: config.paper.latency_jitter_us * 1_000,
        exec_id_epoch: (boot_ns / 1_000_000_000) as u32,
    });
    // Without simulated latency the paper venue is pumped from the sequencer's thread (it does no I/O, and its
    // own thread cost two hand-offs per order); with latency it needs the timer of a thread of its own.
    let latency_free = config.paper.latency_us == 0 && config.paper.latency_jitter_us == 0;
    let (venue_thread, pump) = if latency_free {
        let pump = VenuePump::new(Box::new(paper), venue_rx, reports_tx, http::now_ns);
        (None, Some(pump))
    } else {
        let thread = std::thread::Builder::new()
            .name("venue-paper".into())
            .spawn(move || {
                bulwark_adapters::run_venue(paper, venue_rx, reports_tx, http::now_ns)
            })?;
        (Some(thread), None)
    };

    let status = Arc::new(SharedStatus::default());
    let restore = sequencer::restore_commands(&engine, &catalog);

    let seq = Sequencer::new(
        journal,
        engine,
        inbound_rx,
        reports_rx,
        venue_tx,
        SequencerOptions {
            idle_spin: Duration::from_micros(g.idle_spin_us),
            venue_ring_capacity: g.venue_ring_capacity,
        },
        status.clone(),
        restore,
    )
    .with_signals(signals);
    let seq = match pump {
        Some(pump) => seq.with_venue_pump(pump),
        None => seq,
    };
    let feed = crate::sequencer::LiveFeed::new(FEED_BATCHES);
    let mut seq = seq.with_feed(feed.clone());
    // The FIX responder's subscription starts before the sequencer does: no record falls between the
    // recovered state and the feed.
    let fix_feed = config
        .fix
        .as_ref()
        .map(|_| feed.listen_inbox(crate::fix::responder::needs_prompt_report));
    seq.boot(&catalog, boot_ns)
        .context("cannot write the boot record to the journal")?;
    let thread_policy = g.thread_policy;
    let seq_thread = std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || {
            crate::threads::apply_to_current(thread_policy, "sequencer");
            seq.run()
        })?;

    let fix_sessions: Vec<(String, Vec<bulwark_model::AccountId>)> =
        crate::fix::sessions(&config, &catalog)
            .into_iter()
            .map(|s| (s.target_comp_id, s.scope.accounts))
            .collect();
    let state = Arc::new(AppState {
        fix_sessions: fix_sessions.into(),
        inbound: inbound_tx.clone(),
        catalog: catalog.clone(),
        status: status.clone(),
        reply_timeout: Duration::from_millis(g.reply_timeout_ms),
        body_bytes_max: g.http_body_bytes_max,
        boot_ms: boot_ns / 1_000_000,
        generated_ids: AtomicU64::new(1),
        webhooks: Arc::new(crate::webhook::WebhookSet::from_config(&config, &catalog)),
        auth: Arc::new(crate::auth::Authenticator::from_config(&config, &catalog)),
        groups: config.groups.iter().map(|g| g.name.clone()).collect(),
        feed,
        journal_dir: config.journal_dir(),
        deadman: Arc::new(crate::deadman::DeadMan::from_config(&config, &catalog)),
        account_groups: config
            .accounts
            .iter()
            .map(|a| {
                a.group
                    .as_ref()
                    .and_then(|g| config.groups.iter().position(|x| &x.name == g))
                    .map(|i| i as u32)
            })
            .collect(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(g.tokio_worker_threads)
        .thread_name("bulwark-io")
        .enable_all()
        .build()?;
    let addr = config.listen_addr();
    let journal_dir = config.journal_dir();
    let durability = config.journal.policy().name();
    let timer_tx = inbound_tx.clone();
    // The current trading day of every boundary enters the ring before any edge can send an order, so the
    // day's first orders are never taken for the previous day's (a DAY order placed in the first
    // milliseconds was canceled by the start-up roll, and its client order id freed).
    announce_days(&inbound_tx, &boundaries);
    let fix = match fix_feed {
        Some(f) => crate::fix::start(
            &config,
            catalog.clone(),
            inbound_tx.clone(),
            f,
            boot_ns / 1_000_000,
        )?,
        None => None,
    };
    let maintenance: Vec<(i64, i64, String)> = config
        .maintenance
        .iter()
        .filter_map(|m| m.window_ns().map(|(s, e)| (s, e, m.reason.clone())))
        .collect();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        tracing::info!(
            "bulwark {} listening on http://{} (journal {}, durability {durability})",
            crate::VERSION,
            listener.local_addr()?,
            journal_dir.display()
        );
        tokio::spawn(day_roll_timer(timer_tx, boundaries));
        if !state.deadman.is_empty() {
            tokio::spawn(crate::deadman::watch(state.clone()));
        }
        if !maintenance.is_empty() {
            tokio::spawn(crate::maintenance::schedule(state.clone(), maintenance));
        }
        if let Some(interval) = crate::notify::watchdog_interval() {
            tokio::spawn(watchdog(status.clone(), interval));
        }
        crate::notify::notify("READY=1");
        let app = http::router(state);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("HTTP server failed")?;
        anyhow::Ok(())
    })?;
    crate::notify::notify("STOPPING=1");
    if let Some(fix) = fix {
        fix.stop();
    }
    tracing::info!("shutting down: draining the sequencer and syncing the journal");
    // The ring may be momentarily full; the shutdown message must get through.
    let _ = inbound_tx.send_timeout(Inbound::Shutdown, Duration::from_secs(10));
    drop(inbound_tx);
    let engine = seq_thread
        .join()
        .map_err(|_| anyhow::anyhow!("sequencer thread panicked"))?;
    if let Some(t) = venue_thread {
        let _ = t.join();
    }
    tracing::info!(orders = engine.order_count(), "stopped cleanly");
    Ok(())
}

/// The trading day that began at the last occurrence of `b` at or before `now_ns`, and the instant (ns) of the
/// next occurrence. A boundary after noon starts the next calendar day's trading day (17:00 CT belongs to
/// tomorrow); one before noon starts its own calendar day.
pub fn boundary_days(b: DayBoundary, now_ns: i64) -> (u32, i64) {
    use chrono::TimeZone;
    let now = b.tz.timestamp_nanos(now_ns);
    let at = |date: chrono::NaiveDate| -> i64 {
        let t =
            chrono::NaiveTime::from_hms_opt(b.minute / 60, b.minute % 60, 0).expect("valid minute");
        let local = date.and_time(t);
        b.tz.from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                b.tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map_or(0, |d| d.timestamp_nanos_opt().unwrap_or(0))
    };
    let today = now.date_naive();
    let (last_date, next_ns) = if at(today) <= now_ns {
        (today, at(today + chrono::Duration::days(1)))
    } else {
        (today - chrono::Duration::days(1), at(today))
    };
    let trading_date = if b.minute >= 12 * 60 {
        last_date + chrono::Duration::days(1)
    } else {
        last_date
    };
    (
        bulwark_risk::calendar::days_from_epoch(trading_date) as u32,
        next_ns,
    )
}

/// Announces the current trading day of every boundary (so days missed while stopped are rolled). The
/// engine ignores a day it has already seen.
fn announce_days(inbound: &RingTx<Inbound>, boundaries: &[DayBoundary]) {
    for (i, b) in boundaries.iter().enumerate() {
        let (day, _) = boundary_days(*b, http::now_ns());
        let msg = Inbound::Request {
            ts_ns: http::now_ns(),
            event: Event::Timer(Timer::DayRoll {
                day,
                boundary: i as u16,
            }),
            reply: None,
        };
        if inbound.send_timeout(msg, Duration::from_secs(60)).is_err() {
            tracing::error!("could not deliver the start-up day roll for boundary {i}");
        }
    }
}

/// A day-roll event at each boundary as it passes (the start-up announcement is [`announce_days`]).
async fn day_roll_timer(inbound: RingTx<Inbound>, boundaries: Vec<DayBoundary>) {
    let send = |day: u32, boundary: u16| {
        let msg = Inbound::Request {
            ts_ns: http::now_ns(),
            event: Event::Timer(Timer::DayRoll { day, boundary }),
            reply: None,
        };
        let tx = inbound.clone();
        // A timer is not an I/O thread answering a client: wait for room rather than lose the roll.
        tokio::task::spawn_blocking(move || {
            tx.send_timeout(msg, Duration::from_secs(60))
                .map_err(|e| e.to_string())
        })
    };
    loop {
        let now = http::now_ns();
        let (i, next_ns) = boundaries
            .iter()
            .enumerate()
            .map(|(i, b)| (i, boundary_days(*b, now).1))
            .min_by_key(|(_, n)| *n)
            .unwrap_or((0, now + NS_PER_DAY));
        tokio::time::sleep(Duration::from_nanos(
            (next_ns - now).max(0) as u64 + 1_000_000,
        ))
        .await;
        let (day, _) = boundary_days(boundaries[i], http::now_ns());
        match send(day, i as u16).await {
            Ok(Ok(())) => tracing::info!(boundary = i, day, "trading day rolled"),
            Ok(Err(reason)) => {
                tracing::error!("could not deliver the day-roll timer for boundary {i}: {reason}")
            }
            Err(e) => tracing::error!("could not deliver the day-roll timer for boundary {i}: {e}"),
        }
    }
}

/// Pings the systemd watchdog at half its interval, but only while the sequencer loop is turning: a stuck
/// sequencer stops the pings and systemd restarts the service.
async fn watchdog(status: Arc<SharedStatus>, interval: Duration) {
    let mut last = status.loop_turns.load(std::sync::atomic::Ordering::Relaxed);
    loop {
        tokio::time::sleep(interval / 2).await;
        let now = status.loop_turns.load(std::sync::atomic::Ordering::Relaxed);
        if now != last {
            crate::notify::notify("WATCHDOG=1");
        } else {
            tracing::error!(
                "sequencer made no progress for {:?}; not petting the watchdog",
                interval / 2
            );
        }
        last = now;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
