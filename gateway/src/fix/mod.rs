//! The FIX 4.2/4.4 acceptor for strategy processes, on QuickFIX (the `quickfix` crate). QuickFIX owns the
//! sessions: logon only for the configured CompIDs, sequence numbers and sent messages in a file store under
//! the data dir (so they survive restarts and resend requests get PossDup copies), heartbeats, test requests,
//! checksums and body lengths. Its callbacks run on QuickFIX's threads (one per connection: the acceptor is
//! the threaded one, which `callback_threads_are_per_session` proves, because the crate's flag was once
//! reported inverted); they decode a message, try to put the request on the sequencer's ring (never
//! blocking: a full ring is answered "busy"), and hand the reply channel to the [`responder`], which writes
//! every ExecutionReport. The crate swallows panics in callbacks, so each callback runs under
//! [`guard`], which logs and counts them instead of letting them vanish.

pub mod responder;
pub mod wire;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::sequencer::{FeedInbox, FeedListener, Inbound as SeqInbound, Query};
use anyhow::Context;
use bulwark_model::*;
use quickfix::{
    dictionary_item::*, Acceptor, Application, ApplicationCallback, ConnectionHandler, Dictionary,
    FieldMap, FileMessageStoreFactory, FixSocketServerKind, LogCallback, LogFactory, Message,
    MsgFromAdminError, MsgFromAppError, SessionId, SessionSettings,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wire::{FixVersion, Out, Refusal, SessionScope};

/// One configured session as the edge sees it at run time.
#[derive(Debug)]
pub struct SessionRt {
    pub begin_string: String,
    pub sender_comp_id: String,
    pub target_comp_id: String,
    pub scope: SessionScope,
    pub cancel_on_disconnect: bool,
    pub cancel_on_logout: bool,
    /// The counterparty sent Logout (35=5) since it last logged on.
    pub logout_received: AtomicBool,
    pub logged_on: AtomicBool,
}

thread_local! {
    /// QuickFIX session ids built once per sending thread (`SessionId` is a C++ object that may not cross
    /// threads; building one costs four string conversions), found by their three CompID strings.
    static SESSION_IDS: std::cell::RefCell<Vec<(String, String, String, SessionId)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// What the callbacks and the responder share.
#[derive(Debug)]
pub struct Shared {
    pub sessions: Vec<SessionRt>,
    by_comp: HashMap<(String, String, String), usize>,
    pub catalog: Arc<Catalog>,
    pub inbound: bulwark_ring::RingTx<SeqInbound>,
    pub work: responder::WorkQueue,
    /// The gateway is stopping: a disconnect now is ours, not the client's, and cancels nothing.
    pub stopping: AtomicBool,
    /// Panics caught in QuickFIX callbacks.
    pub callback_panics: AtomicU64,
    /// The thread each session's callbacks ran on last (for the threading-mode test).
    pub callback_threads: Mutex<HashMap<usize, std::thread::ThreadId>>,
    exec_ids: AtomicU64,
    boot_ms: i64,
}

impl Shared {
    fn session_of(&self, id: &SessionId) -> Option<usize> {
        let key = (
            id.get_begin_string()?,
            id.get_sender_comp_id()?,
            id.get_target_comp_id()?,
        );
        self.by_comp.get(&key).copied()
    }

    /// A fresh ExecID, unique across restarts (boot time, then a counter).
    pub fn exec_id(&self) -> String {
        format!(
            "{}-{}",
            self.boot_ms,
            self.exec_ids.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Sends `out` on session `i` (QuickFIX stores it, so it is resent after a gap even if the session is
    /// down now). Returns whether QuickFIX took it.
    pub fn send(&self, i: usize, out: &Out) -> bool {
        let s = &self.sessions[i];
        SESSION_IDS.with_borrow_mut(|ids| {
            let cached = ids.iter().position(|(b, snd, t, _)| {
                *b == s.begin_string && *snd == s.sender_comp_id && *t == s.target_comp_id
            });
            let at = match cached {
                Some(at) => at,
                None => {
                    let Ok(id) = SessionId::try_new(
                        &s.begin_string,
                        &s.sender_comp_id,
                        &s.target_comp_id,
                        "",
                    ) else {
                        return false;
                    };
                    ids.push((
                        s.begin_string.clone(),
                        s.sender_comp_id.clone(),
                        s.target_comp_id.clone(),
                        id,
                    ));
                    ids.len() - 1
                }
            };
            Self::send_on(s, &ids[at].3, out)
        })
    }

    fn send_on(s: &SessionRt, id: &SessionId, out: &Out) -> bool {
        let mut msg = Message::new();
        let built = msg
            .with_header_mut(|h| h.set_field(35, out.msg_type))
            .is_ok()
            && out
                .fields
                .iter()
                .all(|(t, v)| msg.set_field(*t, v.as_str()).is_ok());
        if !built {
            tracing::error!(
                "could not build FIX {} for {}",
                out.msg_type,
                s.target_comp_id
            );
            return false;
        }
        match quickfix::send_to_target(msg, id) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    "FIX send of {} to {} failed: {e:?}",
                    out.msg_type,
                    s.target_comp_id
                );
                false
            }
        }
    }

    /// Which session owns `account` (an account belongs to at most one).
    pub fn session_of_account(&self, account: AccountId) -> Option<usize> {
        self.sessions
            .iter()
            .position(|s| s.scope.accounts.contains(&account))
    }
}

/// Runs `f`, turning a panic into a logged, counted error and `fallback` (the crate would swallow it).
pub fn guard<T>(shared: &Shared, what: &str, fallback: T, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => {
            shared.callback_panics.fetch_add(1, Ordering::Relaxed);
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!("BUG: the FIX {what} callback panicked: {msg}");
            fallback
        }
    }
}

/// The QuickFIX application: decodes, validates and enqueues.
#[derive(Debug)]
struct App(Arc<Shared>);

impl App {
    /// Records the callback thread of session `i` at logon (the threaded acceptor runs every callback of a
    /// connection on that connection's thread).
    fn note_thread(&self, i: usize) {
        if let Ok(mut m) = self.0.callback_threads.lock() {
            m.insert(i, std::thread::current().id());
        }
    }

    fn on_app(&self, i: usize, msg: &Message) {
        let s = &self.0;
        let inbound = read_inbound(msg);
        let scope = &s.sessions[i].scope;
        match wire::decode(&inbound, scope, &s.catalog) {
            Err(Refusal::Unsupported) => {
                s.send(
                    i,
                    &wire::business_reject(inbound.seq_num, &inbound.msg_type, inbound.get(11)),
                );
            }
            Err(Refusal::Session { tag, reason, text }) => {
                s.send(
                    i,
                    &wire::session_reject(inbound.seq_num, &inbound.msg_type, tag, reason, &text),
                );
            }
            Err(Refusal::Order(reject, text) | Refusal::CancelReject(reject, text)) => {
                s.work.push(
                    responder::Work::Refused {
                        session: i,
                        inbound,
                        reject,
                        text,
                    },
                    true,
                );
            }
            Ok(wire::Request::Status { account, target }) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let q = SeqInbound::Query(Query::Order {
                    account: Some(account),
                    target: CancelTarget::ByClOrdId(target),
                    reply: tx,
                });
                s.work.push(
                    responder::Work::Status {
                        session: i,
                        inbound,
                        rx,
                    },
                    true,
                );
                // A full ring drops the query; the responder then answers from its own table.
                let _ = s.inbound.try_send(q);
            }
            Ok(req) => {
                let event = match req {
                    wire::Request::New(o) => Event::NewOrder(o),
                    wire::Request::Cancel(c) => Event::CancelOrder(c),
                    wire::Request::Replace(r) => Event::ReplaceOrder(r),
                    wire::Request::Status { .. } => unreachable!("handled above"),
                };
                let (tx, rx) = tokio::sync::oneshot::channel();
                // The responder learns of the request before the sequencer can answer it.
                // No wake: the responder settles it when the feed next wakes it (the venue's ack, or a
                // reject's decision batch), and the answer is in by then (the sequencer answers before it
                // publishes the batch).
                s.work.push(
                    responder::Work::Request {
                        session: i,
                        inbound,
                        event: event.clone(),
                        rx,
                    },
                    false,
                );
                let msg = SeqInbound::Request {
                    ts_ns: crate::http::now_ns(),
                    event,
                    reply: Some(tx),
                };
                if let Err(e) = s.inbound.try_send(msg) {
                    // Full or closed: answer busy (the reply sender dropped with the message tells the
                    // responder; no batch will wake it for that).
                    drop(e);
                    s.work.ring();
                }
            }
        }
    }
}

/// The body fields, type and sequence number of a QuickFIX message. The message is read as its FIX text in
/// one FFI call and split here: QuickFIX's field getter throws a C++ exception for every absent tag, and the
/// exceptions for the optional tags cost more than the rest of the callback (seen in `perf` on the FIX bench).
fn read_inbound(msg: &Message) -> wire::Inbound {
    // Without a data dictionary QuickFIX keeps every body field; keep the ones the gateway reads.
    const TAGS: [i32; 13] = [1, 11, 21, 38, 40, 41, 44, 54, 55, 59, 60, 790, 99];
    let text = msg.to_fix_string().unwrap_or_default();
    let mut inbound = wire::Inbound::default();
    for field in text.split('\x01') {
        let Some((tag, value)) = field.split_once('=') else {
            continue;
        };
        let Ok(tag) = tag.parse::<i32>() else {
            continue;
        };
        match tag {
            35 => inbound.msg_type = value.to_string(),
            34 => inbound.seq_num = value.parse().unwrap_or(0),
            t if TAGS.contains(&t) && inbound.get(t).is_none() => {
                inbound.fields.push((t, value.to_string()))
            }
            _ => {}
        }
    }
    inbound
}

impl ApplicationCallback for App {
    fn on_create(&self, _session: &SessionId) {}

    fn on_logon(&self, session: &SessionId) {
        guard(&self.0, "logon", (), || {
            if let Some(i) = self.0.session_of(session) {
                self.note_thread(i);
                let s = &self.0.sessions[i];
                s.logout_received.store(false, Ordering::SeqCst);
                s.logged_on.store(true, Ordering::SeqCst);
                tracing::info!(
                    "FIX session {}:{}->{} logged on",
                    s.begin_string,
                    s.target_comp_id,
                    s.sender_comp_id
                );
            }
        })
    }

    fn on_logout(&self, session: &SessionId) {
        guard(&self.0, "logout", (), || {
            let Some(i) = self.0.session_of(session) else {
                return;
            };
            let s = &self.0.sessions[i];
            // QuickFIX calls this also for a connection that never completed logon.
            if !s.logged_on.swap(false, Ordering::SeqCst) {
                return;
            }
            let clean = s.logout_received.load(Ordering::SeqCst);
            let stopping = self.0.stopping.load(Ordering::SeqCst);
            tracing::info!(
                "FIX session {}:{}->{} {}",
                s.begin_string,
                s.target_comp_id,
                s.sender_comp_id,
                if clean {
                    "logged out"
                } else {
                    "disconnected without Logout"
                }
            );
            let cancel =
                !stopping && ((!clean && s.cancel_on_disconnect) || (clean && s.cancel_on_logout));
            if cancel {
                self.0
                    .work
                    .push(responder::Work::CancelOnDisconnect { session: i }, true);
            }
        })
    }

    fn on_msg_from_admin(
        &self,
        msg: &Message,
        session: &SessionId,
    ) -> Result<(), MsgFromAdminError> {
        guard(&self.0, "from_admin", Ok(()), || {
            if msg.with_header(|h| h.get_field(35)).as_deref() == Some("5") {
                if let Some(i) = self.0.session_of(session) {
                    self.0.sessions[i]
                        .logout_received
                        .store(true, Ordering::SeqCst);
                }
            }
            Ok(())
        })
    }

    fn on_msg_from_app(&self, msg: &Message, session: &SessionId) -> Result<(), MsgFromAppError> {
        guard(&self.0, "from_app", Ok(()), || {
            if let Some(i) = self.0.session_of(session) {
                self.on_app(i, msg);
            }
            Ok(())
        })
    }
}

/// QuickFIX's log, into `tracing` (messages at debug when asked for, events at info).
#[derive(Debug)]
struct Log {
    messages: bool,
}

impl LogCallback for Log {
    fn on_incoming(&self, session: Option<&SessionId>, msg: &str) {
        if self.messages {
            tracing::debug!(target: "bulwark::fix", session = ?session.map(|s| s.to_repr()), "in  {}", msg.replace('\x01', "|"));
        }
    }
    fn on_outgoing(&self, session: Option<&SessionId>, msg: &str) {
        if self.messages {
            tracing::debug!(target: "bulwark::fix", session = ?session.map(|s| s.to_repr()), "out {}", msg.replace('\x01', "|"));
        }
    }
    fn on_event(&self, session: Option<&SessionId>, msg: &str) {
        tracing::info!(target: "bulwark::fix", session = ?session.map(|s| s.to_repr()), "{msg}");
    }
}

/// The running FIX edge.
#[derive(Debug)]
pub struct FixEdge {
    pub shared: Arc<Shared>,
    stop: std::sync::mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FixEdge {
    /// Stops the acceptor (sessions are logged out; nothing is canceled on our own stop).
    pub fn stop(mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The QuickFIX settings for `config.fix`: one acceptor, every configured session, no data dictionary
/// (validation in [`wire`]), a file store.
fn settings(config: &Config) -> anyhow::Result<SessionSettings> {
    let fix = config.fix.as_ref().context("no [fix] section")?;
    let store = config.fix_store_dir();
    std::fs::create_dir_all(&store)
        .with_context(|| format!("cannot create the FIX store dir {}", store.display()))?;
    let store_text = store.to_string_lossy().to_string();
    let mut settings = SessionSettings::new();
    let err = |e: quickfix::QuickFixError| anyhow::anyhow!("QuickFIX settings: {e:?}");
    settings
        .set(
            None,
            Dictionary::try_from_items(&[
                &ConnectionType::Acceptor,
                &SocketAcceptPort(fix.port),
                &SocketReuseAddress(true),
                &SocketNodelay(true),
                // A 24-hour session: sequence numbers reset only when a client asks (141=Y).
                &StartTime("00:00:00"),
                &EndTime("00:00:00"),
                &FileStorePath(&store_text),
                &UseDataDictionary(false),
                &ValidateLengthAndChecksum(true),
                &ResetOnLogon(false),
                &ResetOnLogout(false),
                &ResetOnDisconnect(false),
                &PersistMessages(true),
            ])
            .map_err(err)?,
        )
        .map_err(err)?;
    for s in &fix.sessions {
        let id = SessionId::try_new(&s.begin_string, &s.sender_comp_id, &s.target_comp_id, "")
            .map_err(err)?;
        settings.set(Some(&id), Dictionary::new()).map_err(err)?;
    }
    Ok(settings)
}

/// The session table from the config.
pub fn sessions(config: &Config, catalog: &Catalog) -> Vec<SessionRt> {
    let Some(fix) = &config.fix else {
        return Vec::new();
    };
    fix.sessions
        .iter()
        .map(|s| SessionRt {
            begin_string: s.begin_string.clone(),
            sender_comp_id: s.sender_comp_id.clone(),
            target_comp_id: s.target_comp_id.clone(),
            scope: SessionScope {
                version: FixVersion::from_begin_string(&s.begin_string)
                    .unwrap_or(FixVersion::Fix44),
                accounts: s
                    .accounts
                    .iter()
                    .filter_map(|a| catalog.account(a))
                    .collect(),
            },
            cancel_on_disconnect: s.cancel_on_disconnect,
            cancel_on_logout: s.cancel_on_logout,
            logout_received: AtomicBool::new(false),
            logged_on: AtomicBool::new(false),
        })
        .collect()
}

/// Starts the FIX edge when `[fix]` is configured: the responder on its own thread (it rebuilds the FIX orders
/// from the journal, then reads `feed`, subscribed before the sequencer started), then the acceptor on its own
/// thread.
pub fn start(
    config: &Config,
    catalog: Arc<Catalog>,
    inbound: bulwark_ring::RingTx<SeqInbound>,
    feed: (FeedListener, Arc<FeedInbox>),
    boot_ms: i64,
) -> anyhow::Result<Option<FixEdge>> {
    let Some(fix) = &config.fix else {
        return Ok(None);
    };
    let sessions = sessions(config, &catalog);
    let by_comp = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                (
                    s.begin_string.clone(),
                    s.sender_comp_id.clone(),
                    s.target_comp_id.clone(),
                ),
                i,
            )
        })
        .collect();
    let shared = Arc::new(Shared {
        sessions,
        by_comp,
        catalog,
        inbound,
        work: responder::WorkQueue::new(feed.1.clone()),
        stopping: AtomicBool::new(false),
        callback_panics: AtomicU64::new(0),
        callback_threads: Mutex::new(HashMap::new()),
        exec_ids: AtomicU64::new(1),
        boot_ms,
    });
    let (listener, live) = feed;
    let responder_shared = shared.clone();
    let store_dir = config.fix_store_dir();
    std::fs::create_dir_all(&store_dir)
        .with_context(|| format!("cannot create the FIX store dir {}", store_dir.display()))?;
    let progress = responder::Progress::open(&store_dir).with_context(|| {
        format!(
            "cannot open {} in the FIX store dir",
            responder::Progress::FILE
        )
    })?;
    let journal_dir = config.journal_dir();
    let (sessions_tx, sessions_rx) = std::sync::mpsc::channel::<()>();
    let (recovered_tx, recovered_rx) = std::sync::mpsc::channel::<()>();
    let thread_policy = config.gateway.thread_policy;
    std::thread::Builder::new()
        .name("fix-responder".into())
        .spawn(move || {
            crate::threads::apply_to_current(thread_policy, "FIX responder");
            responder::run(
                responder_shared,
                listener,
                live,
                journal_dir,
                progress,
                (sessions_rx, recovered_tx),
            )
        })?;
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
    let app_shared = shared.clone();
    let log_messages = fix.log_messages;
    let port = fix.port;
    let config = config.clone();
    let thread = std::thread::Builder::new()
        .name("fix-acceptor".into())
        .spawn(move || {
            // QuickFIX's connection threads start from this one and inherit its policy.
            crate::threads::apply_to_current(thread_policy, "FIX acceptor");
            let app = App(app_shared);
            let log = Log {
                messages: log_messages,
            };
            let run = || -> anyhow::Result<()> {
                let err = |e: quickfix::QuickFixError| anyhow::anyhow!("QuickFIX: {e:?}");
                let settings = settings(&config)?;
                let store = FileMessageStoreFactory::try_new(&settings).map_err(err)?;
                let log_factory = LogFactory::try_new(&log).map_err(err)?;
                let application = Application::try_new(&app).map_err(err)?;
                let mut acceptor = Acceptor::try_new(
                    &settings,
                    &application,
                    &store,
                    &log_factory,
                    FixSocketServerKind::MultiThreaded,
                )
                .map_err(err)?;
                // The sessions exist: the responder may send the reports a crash left unsent. Logons only once
                // it has rebuilt the FIX orders from the journal.
                let _ = sessions_tx.send(());
                recovered_rx.recv().map_err(|_| {
                    anyhow::anyhow!("the FIX responder ended before it had read the journal")
                })?;
                acceptor.start().map_err(|e| {
                    anyhow::anyhow!("cannot start the FIX acceptor on port {port}: {e:?}")
                })?;
                let _ = ready_tx.send(Ok(()));
                let _ = stop_rx.recv();
                acceptor.stop().map_err(err)?;
                Ok(())
            };
            if let Err(e) = run() {
                let _ = ready_tx.send(Err(e));
            }
        })?;
    ready_rx
        .recv()
        .context("the FIX acceptor thread ended before it started")??;
    tracing::info!(
        "FIX acceptor listening on port {port} ({} sessions, store {})",
        shared.sessions.len(),
        store_dir.display()
    );
    Ok(Some(FixEdge {
        shared,
        stop: stop_tx,
        thread: Some(thread),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn frame(body: &str) -> Vec<u8> {
        let head = format!("8=FIX.4.4\x019={}\x01", body.len());
        let mut out = format!("{head}{body}").into_bytes();
        let sum = out.iter().fold(0u32, |a, b| a + u32::from(*b)) as u8;
        out.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        out
    }

    fn logon(port: u16, me: &str) -> std::net::TcpStream {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let ns = crate::http::now_ns();
        let t = chrono::DateTime::from_timestamp_nanos(ns).format("%Y%m%d-%H:%M:%S%.3f");
        let body = format!("35=A\x0149={me}\x0156=GW\x0134=1\x0152={t}\x0198=0\x01108=30\x01");
        s.write_all(&frame(&body)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("35=A\x01"));
        s
    }

    /// The crate's single/multi-threaded flag was reported inverted: check that `MultiThreaded` really gives
    /// QuickFIX's threaded acceptor (each connection's callbacks on a thread of its own), and that a panic in
    /// a callback is caught, logged and counted by the guard.
    #[test]
    fn callback_threads_are_per_session_and_panics_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let text = format!(
            "[gateway]\ndata_dir = \"{}\"\n[[accounts]]\nname = \"A\"\n[[accounts]]\nname = \"B\"\n\
             [[symbols]]\nname = \"AAPL\"\n[fix]\nport = {port}\n\
             [[fix.sessions]]\nbegin_string = \"FIX.4.4\"\nsender_comp_id = \"GW\"\ntarget_comp_id = \"C1\"\naccounts = [\"A\"]\n\
             [[fix.sessions]]\nbegin_string = \"FIX.4.4\"\nsender_comp_id = \"GW\"\ntarget_comp_id = \"C2\"\naccounts = [\"B\"]\n",
            dir.path().display()
        );
        let config = crate::config::load_str("test.toml", &text).expect("config");
        let catalog = Arc::new(Catalog::from_config(&config));
        let (tx, _rx) = bulwark_ring::ring(16, &bulwark_ring::Doorbell::new());
        let feed = crate::sequencer::LiveFeed::new(16);
        let edge = start(
            &config,
            catalog,
            tx,
            feed.listen_inbox(responder::needs_prompt_report),
            0,
        )
        .expect("start")
        .expect("fix configured");
        let _c1 = logon(port, "C1");
        let _c2 = logon(port, "C2");
        // QuickFIX answers the Logon before it calls on_logon.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while edge.shared.callback_threads.lock().unwrap().len() < 2
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let threads = edge.shared.callback_threads.lock().unwrap().clone();
        assert_eq!(threads.len(), 2, "{threads:?}");
        assert_ne!(threads[&0], threads[&1], "one thread per connection");
        assert!(!threads.values().any(|t| *t == std::thread::current().id()));

        let before = edge.shared.callback_panics.load(Ordering::Relaxed);
        let v = guard(&edge.shared, "test", 7, || -> i32 { panic!("boom") });
        assert_eq!(v, 7);
        assert_eq!(
            edge.shared.callback_panics.load(Ordering::Relaxed),
            before + 1
        );
        edge.stop();
    }
}
