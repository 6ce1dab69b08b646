//! Configuration: TOML, validated completely before anything starts. The loader reports *every* problem at
//! once, each with file, line and key: syntax errors, unknown keys (all of them, found with `serde_ignored`,
//! which is how this loader enforces deny-unknown-fields without stopping at the first), type errors (each
//! section and each array element is deserialized on its own so one bad entry does not hide the next), and
//! semantic checks (ranges, duplicates, names). `config/bulwark.toml` is compiled in as the default.

use crate::journal::format::SEGMENT_BYTES_MIN;
use crate::journal::Durability;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The embedded default configuration (paper venue, demo accounts and symbols, data dir `./data`).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../config/bulwark.toml");
/// Label used in error messages for the embedded default.
pub const DEFAULT_CONFIG_LABEL: &str = "<embedded config/bulwark.toml>";

/// Most accounts and symbols one gateway is configured with.
pub const ACCOUNTS_MAX: usize = 100_000;
pub const SYMBOLS_MAX: usize = 100_000;
pub const NAME_LEN_MAX: usize = 32;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct GatewaySection {
    pub data_dir: PathBuf,
    pub http_listen: String,
    pub http_body_bytes_max: usize,
    pub inbound_ring_capacity: usize,
    pub venue_ring_capacity: usize,
    pub open_orders_max: usize,
    pub reply_timeout_ms: u64,
    pub idle_spin_us: u64,
    pub tokio_worker_threads: usize,
    /// Scheduling policy of the threads work is handed between (sequencer, FIX acceptor, FIX responder).
    pub thread_policy: ThreadPolicyName,
    /// Extra or replacement calendar files (the shipped ones are compiled in).
    pub calendars_dir: Option<PathBuf>,
    /// Extra or replacement prop-firm templates (the shipped ones are compiled in).
    pub prop_firms_dir: Option<PathBuf>,
}

impl Default for GatewaySection {
    fn default() -> Self {
        GatewaySection {
            data_dir: PathBuf::from("./data"),
            http_listen: "127.0.0.1:8080".into(),
            http_body_bytes_max: 16 * 1024,
            inbound_ring_capacity: 65_536,
            venue_ring_capacity: 65_536,
            open_orders_max: 100_000,
            reply_timeout_ms: 2_000,
            idle_spin_us: 50,
            tokio_worker_threads: 2,
            thread_policy: ThreadPolicyName::Batch,
            calendars_dir: None,
            prop_firms_dir: None,
        }
    }
}

/// `[gateway] thread_policy`: see [`crate::threads`].
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ThreadPolicyName {
    /// `SCHED_BATCH`: a woken hand-off thread does not preempt the thread that woke it.
    Batch,
    /// The kernel's default (`SCHED_OTHER`).
    Normal,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityName {
    None,
    Interval,
    Sync,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct JournalSection {
    pub durability: DurabilityName,
    pub interval_ms: u64,
    pub segment_bytes: u64,
}

impl Default for JournalSection {
    fn default() -> Self {
        JournalSection {
            durability: DurabilityName::Sync,
            interval_ms: 5,
            segment_bytes: 64 << 20,
        }
    }
}

impl JournalSection {
    pub fn policy(&self) -> Durability {
        match self.durability {
            DurabilityName::None => Durability::None,
            DurabilityName::Interval => Durability::Interval {
                interval_ms: self.interval_ms,
            },
            DurabilityName::Sync => Durability::Sync,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct PaperSection {
    pub seed: u64,
    pub partial_fill_probability: f64,
    pub latency_us: u64,
    pub latency_jitter_us: u64,
}

impl Default for PaperSection {
    fn default() -> Self {
        PaperSection {
            seed: 1,
            partial_fill_probability: 0.0,
            latency_us: 0,
            latency_jitter_us: 0,
        }
    }
}

pub use bulwark_risk::prop::Dec;

/// A limits profile (`[limits.NAME]`); accounts name one, or get `[limits.default]`, or the spec defaults.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct LimitsSection {
    pub max_order_qty: Option<Dec>,
    pub max_notional_usd: Option<Dec>,
    pub market_buffer_bp: u32,
    pub collar_bp: u32,
    pub collar_low_price_bp: u32,
    pub collar_low_price_max: Dec,
    pub reference_max_age_ms: u64,
    pub max_position: Option<Dec>,
    pub credit_limit_usd: Option<Dec>,
    pub dup_window_ms: u64,
    pub throttle_orders_max: u32,
    pub throttle_window_ms: u64,
    pub throttle_breaches_to_kill: u32,
    pub throttle_breach_window_ms: u64,
    pub wash: bool,
    pub price_floor: Option<Dec>,
    pub enforce_hours: bool,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_order_qty: None,
            max_notional_usd: None,
            market_buffer_bp: 300,
            collar_bp: 500,
            collar_low_price_bp: 1_000,
            collar_low_price_max: Dec(bulwark_model::Px::from_units(1)),
            reference_max_age_ms: 5_000,
            max_position: None,
            credit_limit_usd: None,
            dup_window_ms: 1_000,
            throttle_orders_max: 50,
            throttle_window_ms: 1_000,
            throttle_breaches_to_kill: 3,
            throttle_breach_window_ms: 60_000,
            wash: true,
            price_floor: None,
            enforce_hours: true,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AccountType {
    Cash,
    #[default]
    Margin,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GroupSection {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AccountSection {
    pub name: String,
    /// Limits profile name (default: `[limits.default]` if present, else the spec defaults).
    #[serde(default)]
    pub limits: Option<String>,
    #[serde(default, rename = "type")]
    pub account_type: AccountType,
    #[serde(default)]
    pub initial_balance_usd: Option<Dec>,
    /// Account group (firm) for group kill switches.
    #[serde(default)]
    pub group: Option<String>,
    /// Prop-firm template name (config/prop-firms/NAME.toml).
    #[serde(default)]
    pub prop_firm: Option<String>,
    /// Apply US day-trading rules (legacy PDT protection until the broker switches).
    #[serde(default)]
    pub pdt: bool,
    /// Date (YYYY-MM-DD) from which the broker applies the intraday-margin regime (Alpaca: 2026-06-04).
    #[serde(default)]
    pub broker_pdt_switch_date: Option<String>,
    /// Only trade inside this daily window on the calendar's trading days (holidays pause).
    #[serde(default)]
    pub trading_window: Option<TradingWindowSection>,
}

/// `trading_window = { calendar = "XNYS", start = "09:30", end = "16:00" }`: local times in the calendar's zone.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TradingWindowSection {
    pub calendar: String,
    pub start: String,
    pub end: String,
}

/// `HH:MM` as minutes after midnight.
pub fn parse_hhmm(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AssetClassName {
    #[default]
    Equity,
    Option,
    Future,
    Crypto,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SymbolSection {
    pub name: String,
    /// Most decimals a quantity may carry (0 = whole shares or contracts).
    #[serde(default)]
    pub qty_decimals: u32,
    /// Most decimals a price may carry (2 = cents).
    #[serde(default = "default_px_decimals")]
    pub px_decimals: u32,
    /// Trading calendar (config/calendars/NAME.toml); `ALWAYS` is always open.
    #[serde(default = "default_calendar")]
    pub calendar: String,
    #[serde(default)]
    pub asset_class: AssetClassName,
    /// Contract multiplier (1 for shares; 50 for ES).
    #[serde(default = "default_multiplier")]
    pub multiplier: u32,
    /// On the restricted list: new orders are refused.
    #[serde(default)]
    pub restricted: bool,
}

fn default_calendar() -> String {
    "ALWAYS".to_string()
}

fn default_multiplier() -> u32 {
    1
}

fn default_px_decimals() -> u32 {
    2
}

/// TradingView's documented webhook source addresses (spec §5.1), the default allowlist.
pub const TRADINGVIEW_IPS: [&str; 4] = [
    "52.89.214.238",
    "34.212.75.30",
    "54.218.53.128",
    "52.32.178.7",
];

/// Shortest plain webhook token: the token is the URL's only secret.
pub const WEBHOOK_TOKEN_LEN_MIN: usize = 16;

fn default_allow_ips() -> Vec<String> {
    TRADINGVIEW_IPS.iter().map(|s| s.to_string()).collect()
}

fn default_max_signal_age_s() -> u64 {
    30
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DelayedDataPolicy {
    /// Signals from delayed data (`exchange` ending in `_DL`/`_DLY`) are refused with DELAYED_DATA.
    #[default]
    Reject,
    Allow,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum BracketPolicy {
    /// Signals with takeProfit/stopLoss are refused: the venue cannot hold attached orders.
    #[default]
    Reject,
    /// stopLoss sizes risk_dollar_amount entries; no attached orders are placed (the answer says so).
    SizeOnly,
}

/// A TradingView (or relay) webhook: `POST /api/v1/webhooks/tradingview/{token}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct WebhookSection {
    pub name: String,
    /// The URL path token, plain (at least 16 characters) ...
    #[serde(default)]
    pub token: Option<String>,
    /// ... or its SHA-256 in hex, so the config need not hold it.
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// Optional body `secret`, plain or as SHA-256 hex.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_sha256: Option<String>,
    /// The one account this webhook trades ...
    #[serde(default)]
    pub account: Option<String>,
    /// ... or a copy group that every signal fans out to.
    #[serde(default)]
    pub copy_group: Option<String>,
    /// Strategy id, part of the idempotency key (default: the webhook's name).
    #[serde(default)]
    pub strategy: Option<String>,
    /// Source addresses allowed to post (default: TradingView's four); addresses or CIDR blocks.
    #[serde(default = "default_allow_ips")]
    pub allow_ips: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed; addresses or CIDR blocks.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// A signal whose `time` is older than this is refused with STALE_SIGNAL.
    #[serde(default = "default_max_signal_age_s")]
    pub max_signal_age_s: u64,
    /// Refuse signals that carry no `time` (otherwise they are accepted, and a repeat within 24 h is a duplicate).
    #[serde(default)]
    pub require_time: bool,
    #[serde(default)]
    pub delayed_data: DelayedDataPolicy,
    #[serde(default)]
    pub brackets: BracketPolicy,
    /// A buy while long (a sell while short) adds to the position instead of being nothing to do.
    #[serde(default)]
    pub add_on_same_side: bool,
    /// Ticker as TradingView sends it -> configured symbol (`"NQ1!" = "NQZ2026"`, `"NASDAQ:AAPL" = "AAPL"`).
    #[serde(default)]
    pub symbols: std::collections::BTreeMap<String, String>,
}

/// How a copy-group member sizes its entries.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SizingName {
    /// The signal's quantity, read by its quantityType.
    #[default]
    Signal,
    Fixed,
    Multiplier,
    PercentOfEquity,
    DollarAmount,
    RiskDollarAmount,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CopyMemberSection {
    pub account: String,
    #[serde(default)]
    pub sizing: SizingName,
    /// The rule's number: units (fixed), factor (multiplier), percent (percent_of_equity), or money.
    #[serde(default)]
    pub value: Option<Dec>,
}

/// Copy trading: one signal to many accounts, each sized by its own rule and checked by its own limits.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CopyGroupSection {
    pub name: String,
    #[serde(default)]
    pub symbols: std::collections::BTreeMap<String, String>,
    pub members: Vec<CopyMemberSection>,
}

/// `[auth]`: whether order entry and reads need a token (the control plane always does).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    pub required: bool,
}

/// An API bearer token (`[[tokens]]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TokenSection {
    /// The actor name journaled with every control action this token takes.
    pub name: String,
    /// viewer, trader, risk_officer or admin.
    pub role: String,
    /// SHA-256 of the token in hex (`printf %s TOKEN | sha256sum`) ...
    #[serde(default)]
    pub sha256: Option<String>,
    /// ... or the token itself (demos only).
    #[serde(default)]
    pub token: Option<String>,
    /// Accounts this token may act on (default: all).
    #[serde(default)]
    pub accounts: Option<Vec<String>>,
}

/// A scheduled maintenance window (`[[maintenance]]`): a global halt from `start` to `end` (RFC 3339).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceSection {
    pub start: String,
    pub end: String,
    pub reason: String,
}

impl MaintenanceSection {
    /// (start, end) in ns since the epoch, when both parse.
    pub fn window_ns(&self) -> Option<(i64, i64)> {
        let p = |t: &str| {
            chrono::DateTime::parse_from_rfc3339(t)
                .ok()
                .and_then(|d| d.timestamp_nanos_opt())
        };
        Some((p(&self.start)?, p(&self.end)?))
    }
}

/// What a lapsed dead-man's switch does to its strategy's accounts.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum LapseAction {
    /// Cancel working orders; trading goes on.
    #[default]
    CancelAll,
    /// Trip the accounts' kill switch in mode halt.
    Halt,
    /// Trip it in mode flatten.
    Flatten,
}

/// A strategy process with a dead-man's switch (`[[strategies]]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StrategySection {
    pub name: String,
    /// The accounts whose orders are the strategy's.
    pub accounts: Vec<String>,
    /// Longest silence between heartbeats before the switch fires (armed by the first heartbeat).
    pub heartbeat_timeout_ms: u64,
    #[serde(default)]
    pub on_lapse: LapseAction,
}

/// The FIX acceptor (`[fix]`); without the table, FIX is off.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FixSection {
    /// TCP port of the acceptor. QuickFIX binds every interface: firewall it as you would any broker port.
    pub port: u16,
    /// Where QuickFIX keeps sequence numbers and sent messages (default `<data_dir>/fix`).
    #[serde(default)]
    pub store_dir: Option<PathBuf>,
    /// Log every FIX message in and out at `debug` (events are always logged).
    #[serde(default)]
    pub log_messages: bool,
    #[serde(default)]
    pub sessions: Vec<FixSessionSection>,
}

/// One FIX session (`[[fix.sessions]]`): only these CompIDs may log on.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FixSessionSection {
    /// `FIX.4.2` or `FIX.4.4`.
    pub begin_string: String,
    /// Our CompID (the client's TargetCompID).
    pub sender_comp_id: String,
    /// The client's CompID.
    pub target_comp_id: String,
    /// Accounts this session may trade; tag 1 must name one of them, and without tag 1 the first is used.
    /// An account belongs to at most one FIX session (so its orders' session is known after a restart), and the
    /// accounts of one session share one client-order-id space (FIX: ClOrdID unique per session per day).
    pub accounts: Vec<String>,
    /// Cancel the session's working DAY orders when it drops without a Logout (spec §4.4).
    #[serde(default = "yes")]
    pub cancel_on_disconnect: bool,
    /// Also cancel them on a clean Logout.
    #[serde(default)]
    pub cancel_on_logout: bool,
}

fn yes() -> bool {
    true
}

/// 64 hex digits as 32 bytes (validated by the loader).
pub fn hex32(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = text
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub gateway: GatewaySection,
    pub journal: JournalSection,
    pub paper: PaperSection,
    pub accounts: Vec<AccountSection>,
    pub symbols: Vec<SymbolSection>,
    pub limits: std::collections::BTreeMap<String, LimitsSection>,
    pub groups: Vec<GroupSection>,
    pub webhooks: Vec<WebhookSection>,
    pub copy_groups: Vec<CopyGroupSection>,
    pub auth: AuthSection,
    pub tokens: Vec<TokenSection>,
    pub strategies: Vec<StrategySection>,
    pub maintenance: Vec<MaintenanceSection>,
    pub fix: Option<FixSection>,
}

impl Config {
    /// QuickFIX's store directory.
    pub fn fix_store_dir(&self) -> PathBuf {
        self.fix
            .as_ref()
            .and_then(|f| f.store_dir.clone())
            .unwrap_or_else(|| self.gateway.data_dir.join("fix"))
    }
    pub fn listen_addr(&self) -> SocketAddr {
        self.gateway
            .http_listen
            .parse()
            .expect("validated at load time")
    }
    pub fn journal_dir(&self) -> PathBuf {
        self.gateway.data_dir.join("journal")
    }
}

/// One configuration problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.line, self.key, self.message
            )
        }
    }
}

/// Every problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A path segment into the TOML tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_text(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

struct Loader<'a> {
    file: &'a str,
    text: &'a str,
    root: Spanned<DeTable<'a>>,
    errors: Vec<ConfigError>,
}

impl<'a> Loader<'a> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn push(
        &mut self,
        span: Option<std::ops::Range<usize>>,
        path: &[Seg],
        message: impl Into<String>,
    ) {
        let line = span.map_or(1, |s| self.line_of(s.start));
        self.errors.push(ConfigError {
            file: self.file.to_string(),
            line,
            key: path_text(path),
            message: message.into(),
        });
    }

    /// The span of the key (or element) at `path`, falling back to the nearest ancestor that exists.
    fn span_of(&self, path: &[Seg]) -> Option<std::ops::Range<usize>> {
        let mut best = None;
        let mut table: Option<&DeTable<'a>> = Some(self.root.get_ref());
        let mut value: Option<&Spanned<DeValue<'a>>> = None;
        for seg in path {
            match seg {
                Seg::Key(k) => {
                    let t = match (table, value) {
                        (Some(t), _) => t,
                        (None, Some(v)) => match v.get_ref() {
                            DeValue::Table(t) => t,
                            _ => return best,
                        },
                        _ => return best,
                    };
                    let Some((key, v)) = t
                        .iter()
                        .find(|(key, _)| key.get_ref().as_ref() == k.as_str())
                    else {
                        return best;
                    };
                    best = Some(key.span());
                    table = None;
                    value = Some(v);
                }
                Seg::Index(i) => {
                    let Some(DeValue::Array(a)) = value.map(|v| v.get_ref()) else {
                        return best;
                    };
                    let Some(v) = a.get(*i) else { return best };
                    best = Some(v.span());
                    table = None;
                    value = Some(v);
                }
            }
        }
        best
    }

    /// Deserializes `value` (found at `path`) as `T`, recording unknown keys and the first type error.
    fn section<T: DeserializeOwned>(
        &mut self,
        path: Vec<Seg>,
        value: Spanned<DeValue<'a>>,
    ) -> Option<T> {
        let mut unknown: Vec<Vec<Seg>> = Vec::new();
        let value_for_error = value.clone();
        let de = toml::de::ValueDeserializer::from(value);
        let result: Result<T, _> = serde_ignored::deserialize(de, |p| {
            let mut segs = path.clone();
            segs.extend(ignored_path(&p));
            unknown.push(segs);
        });
        for u in unknown {
            let span = self.span_of(&u);
            self.push(span, &u, "unknown key");
        }
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                let span = e.span();
                let message = e.message().to_string();
                // Name the key whose value the error points into (`journal.durability`, not `journal`).
                let mut at = path;
                if let Some(span) = &span {
                    at.extend(key_path_at(&value_for_error, span.start));
                }
                self.push(span, &at, message);
                None
            }
        }
    }
}

/// The keys (and array indexes) leading from `value` to the innermost value whose span holds `offset`.
fn key_path_at(value: &Spanned<DeValue<'_>>, offset: usize) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut v = value;
    loop {
        let next = match v.get_ref() {
            DeValue::Table(t) => t
                .iter()
                .find(|(k, v)| k.span().contains(&offset) || v.span().contains(&offset))
                .map(|(k, v)| (Seg::Key(k.get_ref().to_string()), v)),
            DeValue::Array(a) => a
                .iter()
                .enumerate()
                .find(|(_, v)| v.span().contains(&offset))
                .map(|(i, v)| (Seg::Index(i), v)),
            _ => None,
        };
        match next {
            Some((seg, inner)) => {
                out.push(seg);
                v = inner;
            }
            None => return out,
        }
    }
}

fn ignored_path(p: &serde_ignored::Path<'_>) -> Vec<Seg> {
    let mut out = Vec::new();
    fn walk(p: &serde_ignored::Path<'_>, out: &mut Vec<Seg>) {
        match p {
            serde_ignored::Path::Root => {}
            serde_ignored::Path::Seq { parent, index } => {
                walk(parent, out);
                out.push(Seg::Index(*index));
            }
            serde_ignored::Path::Map { parent, key } => {
                walk(parent, out);
                out.push(Seg::Key(key.clone()));
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => walk(parent, out),
        }
    }
    walk(p, &mut out);
    out
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

fn valid_name(name: &str, extra: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= NAME_LEN_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b) || extra.contains(&b))
}

/// Parses and validates `text`; `file` names it in errors.
pub fn load_str(file: &str, text: &str) -> Result<Config, ConfigErrors> {
    let root = match DeTable::parse(text) {
        Ok(r) => r,
        Err(e) => {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            return Err(ConfigErrors(vec![ConfigError {
                file: file.to_string(),
                line,
                key: String::new(),
                message: format!("TOML syntax error: {}", e.message()),
            }]));
        }
    };
    let mut l = Loader {
        file,
        text,
        root,
        errors: Vec::new(),
    };
    let entries: Vec<(String, std::ops::Range<usize>, Spanned<DeValue<'_>>)> = l
        .root
        .get_ref()
        .iter()
        .map(|(k, v)| (k.get_ref().to_string(), k.span(), v.clone()))
        .collect();
    let mut gateway = GatewaySection::default();
    let mut journal = JournalSection::default();
    let mut paper = PaperSection::default();
    let mut accounts = Vec::new();
    let mut symbols = Vec::new();
    let mut groups = Vec::new();
    let mut webhooks = Vec::new();
    let mut copy_groups = Vec::new();
    let mut tokens = Vec::new();
    let mut strategies = Vec::new();
    let mut maintenance = Vec::new();
    let mut auth = AuthSection::default();
    let mut fix: Option<FixSection> = None;
    let mut limits = std::collections::BTreeMap::new();
    for (name, span, value) in entries {
        let path = vec![key(&name)];
        match name.as_str() {
            "gateway" => gateway = l.section(path, value).unwrap_or_default(),
            "journal" => journal = l.section(path, value).unwrap_or_default(),
            "paper" => paper = l.section(path, value).unwrap_or_default(),
            "auth" => auth = l.section(path, value).unwrap_or_default(),
            "fix" => fix = l.section(path, value),
            "limits" => {
                let DeValue::Table(t) = value.get_ref() else {
                    l.push(
                        Some(span),
                        &path,
                        "must be a table of profiles ([limits.NAME])",
                    );
                    continue;
                };
                let profiles: Vec<(String, Spanned<DeValue<'_>>)> = t
                    .iter()
                    .map(|(k, v)| (k.get_ref().to_string(), v.clone()))
                    .collect();
                for (pname, v) in profiles {
                    let mut p = path.clone();
                    p.push(key(&pname));
                    if let Some(sec) = l.section::<LimitsSection>(p, v) {
                        limits.insert(pname, sec);
                    }
                }
            }
            "accounts" | "symbols" | "groups" | "webhooks" | "copy_groups" | "tokens"
            | "strategies" | "maintenance" => {
                let DeValue::Array(items) = value.get_ref() else {
                    l.push(Some(span), &path, "must be an array of tables ([[...]])");
                    continue;
                };
                for (i, item) in items.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(Seg::Index(i));
                    if name == "accounts" {
                        if let Some(a) = l.section::<AccountSection>(p, item.clone()) {
                            accounts.push((i, a));
                        }
                    } else if name == "groups" {
                        if let Some(g) = l.section::<GroupSection>(p, item.clone()) {
                            groups.push((i, g));
                        }
                    } else if name == "webhooks" {
                        if let Some(w) = l.section::<WebhookSection>(p, item.clone()) {
                            webhooks.push((i, w));
                        }
                    } else if name == "maintenance" {
                        if let Some(m) = l.section::<MaintenanceSection>(p.clone(), item.clone()) {
                            match m.window_ns() {
                                Some((s, e)) if s < e && !m.reason.trim().is_empty() => {}
                                Some((s, e)) if s < e => {
                                    let span = l.span_of(&p);
                                    l.push(span, &p, "a maintenance window needs a reason");
                                }
                                Some(_) => {
                                    let span = l.span_of(&p);
                                    l.push(span, &p, "start must be before end");
                                }
                                None => {
                                    let span = l.span_of(&p);
                                    l.push(span, &p, "start and end must be RFC 3339 times like 2026-12-24T21:00:00Z");
                                }
                            }
                            maintenance.push(m);
                        }
                    } else if name == "strategies" {
                        if let Some(st) = l.section::<StrategySection>(p, item.clone()) {
                            strategies.push((i, st));
                        }
                    } else if name == "tokens" {
                        if let Some(t) = l.section::<TokenSection>(p, item.clone()) {
                            tokens.push((i, t));
                        }
                    } else if name == "copy_groups" {
                        if let Some(c) = l.section::<CopyGroupSection>(p, item.clone()) {
                            copy_groups.push((i, c));
                        }
                    } else if let Some(s) = l.section::<SymbolSection>(p, item.clone()) {
                        symbols.push((i, s));
                    }
                }
            }
            _ => l.push(Some(span), &path, "unknown key"),
        }
    }
    validate(&mut l, &gateway, &journal, &paper, &accounts, &symbols);
    validate_risk(&mut l, &gateway, &limits, &groups, &accounts, &symbols);
    validate_webhooks(&mut l, &webhooks, &copy_groups, &accounts, &symbols);
    validate_tokens(&mut l, &tokens, &accounts);
    validate_strategies(&mut l, &strategies, &accounts);
    if let Some(f) = &fix {
        validate_fix(&mut l, f, &accounts);
    }
    if !l.errors.is_empty() {
        l.errors.sort_by_key(|e| e.line);
        return Err(ConfigErrors(l.errors));
    }
    Ok(Config {
        gateway,
        journal,
        paper,
        accounts: accounts.into_iter().map(|(_, a)| a).collect(),
        symbols: symbols.into_iter().map(|(_, s)| s).collect(),
        limits,
        groups: groups.into_iter().map(|(_, g)| g).collect(),
        webhooks: webhooks.into_iter().map(|(_, w)| w).collect(),
        copy_groups: copy_groups.into_iter().map(|(_, c)| c).collect(),
        auth,
        tokens: tokens.into_iter().map(|(_, t)| t).collect(),
        strategies: strategies.into_iter().map(|(_, s)| s).collect(),
        maintenance,
        fix,
    })
}

fn validate_fix(l: &mut Loader<'_>, fix: &FixSection, accounts: &[(usize, AccountSection)]) {
    let err = |l: &mut Loader<'_>, segs: Vec<Seg>, msg: String| {
        let span = l.span_of(&segs);
        l.push(span, &segs, msg);
    };
    if fix.port == 0 {
        err(
            l,
            vec![key("fix"), key("port")],
            "must be 1 to 65535".into(),
        );
    }
    if fix.sessions.is_empty() {
        err(
            l,
            vec![key("fix")],
            "FIX is on but no [[fix.sessions]] are configured".into(),
        );
    }
    let mut ids = std::collections::HashSet::new();
    let mut owner: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, s) in fix.sessions.iter().enumerate() {
        let k = |f: &str| vec![key("fix"), key("sessions"), Seg::Index(i), key(f)];
        if !matches!(s.begin_string.as_str(), "FIX.4.2" | "FIX.4.4") {
            err(
                l,
                k("begin_string"),
                format!(
                    "`{}` is not supported; use FIX.4.2 or FIX.4.4",
                    s.begin_string
                ),
            );
        }
        for (f, v) in [
            ("sender_comp_id", &s.sender_comp_id),
            ("target_comp_id", &s.target_comp_id),
        ] {
            if !valid_name(v, b"") {
                err(l, k(f), format!("`{v}` is not a valid CompID"));
            }
        }
        if !ids.insert((
            s.begin_string.clone(),
            s.sender_comp_id.clone(),
            s.target_comp_id.clone(),
        )) {
            err(
                l,
                k("target_comp_id"),
                "this session is configured twice".into(),
            );
        }
        if s.accounts.is_empty() {
            err(
                l,
                k("accounts"),
                "a FIX session needs at least one account".into(),
            );
        }
        for (j, a) in s.accounts.iter().enumerate() {
            let segs = vec![
                key("fix"),
                key("sessions"),
                Seg::Index(i),
                key("accounts"),
                Seg::Index(j),
            ];
            if !accounts.iter().any(|(_, x)| &x.name == a) {
                err(l, segs, format!("unknown account `{a}`"));
            } else if let Some(prev) = owner.insert(a.as_str(), i) {
                if prev != i {
                    err(
                        l,
                        segs,
                        format!("account `{a}` already belongs to FIX session {prev}"),
                    );
                }
            }
        }
    }
}

fn check_range<T: PartialOrd + fmt::Display + Copy>(
    l: &mut Loader<'_>,
    path: &[&str],
    v: T,
    lo: T,
    hi: T,
) {
    if v < lo || v > hi {
        let segs: Vec<Seg> = path.iter().map(|k| key(k)).collect();
        let span = l.span_of(&segs);
        l.push(
            span,
            &segs,
            format!("{v} is out of range; allowed {lo} to {hi}"),
        );
    }
}

fn validate(
    l: &mut Loader<'_>,
    g: &GatewaySection,
    j: &JournalSection,
    p: &PaperSection,
    accounts: &[(usize, AccountSection)],
    symbols: &[(usize, SymbolSection)],
) {
    if g.data_dir.as_os_str().is_empty() {
        let segs = [key("gateway"), key("data_dir")];
        let span = l.span_of(&segs);
        l.push(span, &segs, "must not be empty");
    }
    if g.http_listen.parse::<SocketAddr>().is_err() {
        let segs = [key("gateway"), key("http_listen")];
        let span = l.span_of(&segs);
        l.push(
            span,
            &segs,
            format!("`{}` is not an address like 127.0.0.1:8080", g.http_listen),
        );
    }
    check_range(
        l,
        &["gateway", "http_body_bytes_max"],
        g.http_body_bytes_max,
        256,
        1 << 20,
    );
    check_range(
        l,
        &["gateway", "inbound_ring_capacity"],
        g.inbound_ring_capacity,
        16,
        1 << 22,
    );
    check_range(
        l,
        &["gateway", "venue_ring_capacity"],
        g.venue_ring_capacity,
        16,
        1 << 22,
    );
    check_range(
        l,
        &["gateway", "open_orders_max"],
        g.open_orders_max,
        1,
        10_000_000,
    );
    check_range(
        l,
        &["gateway", "reply_timeout_ms"],
        g.reply_timeout_ms,
        10,
        60_000,
    );
    check_range(l, &["gateway", "idle_spin_us"], g.idle_spin_us, 0, 10_000);
    check_range(
        l,
        &["gateway", "tokio_worker_threads"],
        g.tokio_worker_threads,
        1,
        64,
    );
    check_range(l, &["journal", "interval_ms"], j.interval_ms, 1, 10_000);
    check_range(
        l,
        &["journal", "segment_bytes"],
        j.segment_bytes,
        SEGMENT_BYTES_MIN,
        16 << 30,
    );
    check_range(
        l,
        &["paper", "partial_fill_probability"],
        p.partial_fill_probability,
        0.0,
        1.0,
    );
    check_range(l, &["paper", "latency_us"], p.latency_us, 0, 10_000_000);
    check_range(
        l,
        &["paper", "latency_jitter_us"],
        p.latency_jitter_us,
        0,
        10_000_000,
    );
    if accounts.is_empty() && !l.errors.iter().any(|e| e.key.starts_with("accounts")) {
        l.push(
            None,
            &[key("accounts")],
            "at least one [[accounts]] entry is required",
        );
    }
    if symbols.is_empty() && !l.errors.iter().any(|e| e.key.starts_with("symbols")) {
        l.push(
            None,
            &[key("symbols")],
            "at least one [[symbols]] entry is required",
        );
    }
    if accounts.len() > ACCOUNTS_MAX {
        l.push(
            None,
            &[key("accounts")],
            format!("more than {ACCOUNTS_MAX} accounts"),
        );
    }
    if symbols.len() > SYMBOLS_MAX {
        l.push(
            None,
            &[key("symbols")],
            format!("more than {SYMBOLS_MAX} symbols"),
        );
    }
    check_names(
        l,
        "accounts",
        accounts.iter().map(|(i, a)| (*i, a.name.as_str())),
        b"",
        "account",
    );
    check_names(
        l,
        "symbols",
        symbols.iter().map(|(i, s)| (*i, s.name.as_str())),
        b":/!",
        "symbol",
    );
    for (i, s) in symbols {
        for (field, v) in [
            ("qty_decimals", s.qty_decimals),
            ("px_decimals", s.px_decimals),
        ] {
            if v > bulwark_model::FIXED_DECIMALS {
                let segs = [key("symbols"), Seg::Index(*i), key(field)];
                let span = l.span_of(&segs);
                l.push(
                    span,
                    &segs,
                    format!(
                        "{v} is out of range; allowed 0 to {}",
                        bulwark_model::FIXED_DECIMALS
                    ),
                );
            }
        }
    }
}

/// Names in `[[section]]` entries must be well formed and unique.
fn check_names<'n>(
    l: &mut Loader<'_>,
    section: &str,
    names: impl Iterator<Item = (usize, &'n str)>,
    extra_chars: &[u8],
    what: &str,
) {
    let allowed = String::from_utf8_lossy(extra_chars)
        .chars()
        .map(|c| format!(" {c}"))
        .collect::<String>();
    let mut seen = std::collections::HashMap::new();
    for (i, name) in names {
        let segs = [key(section), Seg::Index(i), key("name")];
        if !valid_name(name, extra_chars) {
            let span = l.span_of(&segs);
            l.push(span, &segs, format!("`{name}` is not a valid {what} name (1-{NAME_LEN_MAX} of A-Z a-z 0-9 _ . -{allowed})"));
        }
        if let Some(first) = seen.insert(name.to_string(), i) {
            let span = l.span_of(&segs);
            l.push(
                span,
                &segs,
                format!("duplicate {what} `{name}` (also {section}[{first}])"),
            );
        }
    }
}

/// The names in a loaded data set, or none after recording its errors (which name their own files).
fn known_names<T>(
    l: &mut Loader<'_>,
    loaded: Result<Vec<T>, Vec<crate::risk_setup::DataError>>,
    name: impl Fn(&T) -> String,
) -> Vec<String> {
    match loaded {
        Ok(items) => items.iter().map(name).collect(),
        Err(errs) => {
            l.errors.extend(errs.into_iter().map(|e| ConfigError {
                file: e.file,
                line: e.line,
                key: String::new(),
                message: e.message,
            }));
            Vec::new()
        }
    }
}

/// An address or CIDR block (`10.0.0.0/8`, `2001:db8::/32`): the network address and prefix length.
pub fn parse_ip_net(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: std::net::IpAddr = addr.trim().parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some((addr, prefix))
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn validate_strategies(
    l: &mut Loader<'_>,
    strategies: &[(usize, StrategySection)],
    accounts: &[(usize, AccountSection)],
) {
    let mut names = std::collections::HashSet::new();
    for (i, st) in strategies {
        let k = |f: &str| vec![key("strategies"), Seg::Index(*i), key(f)];
        let err = |l: &mut Loader<'_>, segs: Vec<Seg>, msg: String| {
            let span = l.span_of(&segs);
            l.push(span, &segs, msg);
        };
        if !valid_name(&st.name, b"") || !names.insert(st.name.clone()) {
            err(
                l,
                k("name"),
                format!("`{}` is not a valid, unique strategy name", st.name),
            );
        }
        if !(100..=3_600_000).contains(&st.heartbeat_timeout_ms) {
            err(
                l,
                k("heartbeat_timeout_ms"),
                format!(
                    "{} is out of range; allowed 100 to 3600000",
                    st.heartbeat_timeout_ms
                ),
            );
        }
        if st.accounts.is_empty() {
            err(
                l,
                k("accounts"),
                "a strategy needs at least one account".into(),
            );
        }
        for (j, a) in st.accounts.iter().enumerate() {
            if !accounts.iter().any(|(_, x)| &x.name == a) {
                err(
                    l,
                    vec![
                        key("strategies"),
                        Seg::Index(*i),
                        key("accounts"),
                        Seg::Index(j),
                    ],
                    format!("unknown account `{a}`"),
                );
            }
        }
    }
}

fn validate_tokens(
    l: &mut Loader<'_>,
    tokens: &[(usize, TokenSection)],
    accounts: &[(usize, AccountSection)],
) {
    let at = |l: &mut Loader<'_>, segs: &[Seg], msg: String| {
        let span = l.span_of(segs);
        l.push(span, segs, msg);
    };
    let mut names = std::collections::HashSet::new();
    let mut hashes = std::collections::HashSet::new();
    for (i, t) in tokens {
        let k = |f: &str| [key("tokens"), Seg::Index(*i), key(f)];
        if !valid_name(&t.name, b"") || !names.insert(t.name.clone()) {
            at(
                l,
                &k("name"),
                format!("`{}` is not a valid, unique token name", t.name),
            );
        }
        if crate::auth::role_level(&t.role).is_none() {
            at(
                l,
                &k("role"),
                format!(
                    "`{}` is not one of: viewer, trader, risk_officer, admin",
                    t.role
                ),
            );
        }
        let hash = match (&t.token, &t.sha256) {
            (Some(plain), None) if plain.len() >= WEBHOOK_TOKEN_LEN_MIN => {
                Some(crate::auth::sha256(plain.as_bytes()).to_vec())
            }
            (Some(_), None) => {
                at(
                    l,
                    &k("token"),
                    format!("must be at least {WEBHOOK_TOKEN_LEN_MIN} characters"),
                );
                None
            }
            (None, Some(h)) if is_sha256_hex(h) => Some(hex32(h).to_vec()),
            (None, Some(_)) => {
                at(
                    l,
                    &k("sha256"),
                    "must be 64 hex digits (printf %s TOKEN | sha256sum)".into(),
                );
                None
            }
            (None, None) => {
                at(l, &k("name"), "a token needs sha256 (or token)".into());
                None
            }
            (Some(_), Some(_)) => {
                at(l, &k("sha256"), "give sha256 or token, not both".into());
                None
            }
        };
        if let Some(h) = hash {
            if !hashes.insert(h) {
                at(l, &k("name"), "another token has the same value".into());
            }
        }
        for (j, a) in t.accounts.iter().flatten().enumerate() {
            if !accounts.iter().any(|(_, x)| &x.name == a) {
                at(
                    l,
                    &[
                        key("tokens"),
                        Seg::Index(*i),
                        key("accounts"),
                        Seg::Index(j),
                    ],
                    format!("unknown account `{a}`"),
                );
            }
        }
    }
}

fn validate_webhooks(
    l: &mut Loader<'_>,
    webhooks: &[(usize, WebhookSection)],
    copy_groups: &[(usize, CopyGroupSection)],
    accounts: &[(usize, AccountSection)],
    symbols: &[(usize, SymbolSection)],
) {
    let at = |l: &mut Loader<'_>, segs: &[Seg], msg: String| {
        let span = l.span_of(segs);
        l.push(span, segs, msg);
    };
    let account_known = |n: &str| accounts.iter().any(|(_, a)| a.name == n);
    let symbol_known = |n: &str| symbols.iter().any(|(_, s)| s.name == n);
    let check_map =
        |l: &mut Loader<'_>, base: &[Seg], map: &std::collections::BTreeMap<String, String>| {
            for (from, to) in map {
                if !symbol_known(to) {
                    let mut segs = base.to_vec();
                    segs.push(key("symbols"));
                    segs.push(key(from));
                    at(
                        l,
                        &segs,
                        format!("maps `{from}` to `{to}`, which is not a configured symbol"),
                    );
                }
            }
        };
    let mut seen = std::collections::HashSet::new();
    for (i, c) in copy_groups {
        let base = [key("copy_groups"), Seg::Index(*i)];
        let k = |f: &str| [key("copy_groups"), Seg::Index(*i), key(f)];
        if !valid_name(&c.name, b"") || !seen.insert(c.name.clone()) {
            at(
                l,
                &k("name"),
                format!("`{}` is not a valid, unique copy group name", c.name),
            );
        }
        if c.members.is_empty() {
            at(
                l,
                &k("members"),
                "a copy group needs at least one member".into(),
            );
        }
        let mut members = std::collections::HashSet::new();
        for (j, m) in c.members.iter().enumerate() {
            let mk = |f: &str| {
                [
                    key("copy_groups"),
                    Seg::Index(*i),
                    key("members"),
                    Seg::Index(j),
                    key(f),
                ]
            };
            if !account_known(&m.account) {
                at(
                    l,
                    &mk("account"),
                    format!("unknown account `{}`", m.account),
                );
            } else if !members.insert(m.account.clone()) {
                at(
                    l,
                    &mk("account"),
                    format!("account `{}` is in this group twice", m.account),
                );
            }
            match (m.sizing, m.value) {
                (SizingName::Signal, Some(_)) => at(
                    l,
                    &mk("value"),
                    "sizing `signal` takes the signal's quantity; leave value out".into(),
                ),
                (SizingName::Signal, None) => {}
                (_, None) => at(
                    l,
                    &mk("value"),
                    "this sizing rule needs a value greater than zero".into(),
                ),
                (_, Some(v)) if v.0.raw() <= 0 => {
                    at(l, &mk("value"), "must be greater than zero".into())
                }
                (SizingName::PercentOfEquity, Some(v))
                    if v.0.to_decimal() > rust_decimal::Decimal::ONE_HUNDRED =>
                {
                    at(
                        l,
                        &mk("value"),
                        "a percentage of equity above 100 is refused".into(),
                    )
                }
                _ => {}
            }
        }
        check_map(l, &base, &c.symbols);
    }
    let mut seen = std::collections::HashSet::new();
    let mut tokens = std::collections::HashSet::new();
    for (i, w) in webhooks {
        let base = [key("webhooks"), Seg::Index(*i)];
        let k = |f: &str| [key("webhooks"), Seg::Index(*i), key(f)];
        if !valid_name(&w.name, b"") || !seen.insert(w.name.clone()) {
            at(
                l,
                &k("name"),
                format!("`{}` is not a valid, unique webhook name", w.name),
            );
        }
        match (&w.token, &w.token_sha256) {
            (Some(t), None) => {
                if t.len() < WEBHOOK_TOKEN_LEN_MIN
                    || !t
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
                {
                    at(
                        l,
                        &k("token"),
                        format!("must be at least {WEBHOOK_TOKEN_LEN_MIN} characters of A-Z a-z 0-9 - _ . ~ (it is the URL's secret)"),
                    );
                } else if !tokens.insert(t.clone()) {
                    at(l, &k("token"), "another webhook has the same token".into());
                }
            }
            (None, Some(h)) => {
                if !is_sha256_hex(h) {
                    at(
                        l,
                        &k("token_sha256"),
                        "must be 64 hex digits (sha256sum of the token)".into(),
                    );
                } else if !tokens.insert(h.to_ascii_lowercase()) {
                    at(
                        l,
                        &k("token_sha256"),
                        "another webhook has the same token".into(),
                    );
                }
            }
            (None, None) => at(
                l,
                &k("name"),
                "a webhook needs token or token_sha256".into(),
            ),
            (Some(_), Some(_)) => at(
                l,
                &k("token_sha256"),
                "give token or token_sha256, not both".into(),
            ),
        }
        match (&w.secret, &w.secret_sha256) {
            (Some(s), None) if s.is_empty() => at(
                l,
                &k("secret"),
                "must not be empty (leave it out for no secret)".into(),
            ),
            (None, Some(h)) if !is_sha256_hex(h) => {
                at(l, &k("secret_sha256"), "must be 64 hex digits".into())
            }
            (Some(_), Some(_)) => at(
                l,
                &k("secret_sha256"),
                "give secret or secret_sha256, not both".into(),
            ),
            _ => {}
        }
        match (&w.account, &w.copy_group) {
            (Some(a), None) => {
                if !account_known(a) {
                    at(l, &k("account"), format!("unknown account `{a}`"));
                }
            }
            (None, Some(g)) => {
                if !copy_groups.iter().any(|(_, c)| &c.name == g) {
                    at(l, &k("copy_group"), format!("unknown copy group `{g}`"));
                }
            }
            _ => at(
                l,
                &k("name"),
                "a webhook trades exactly one of account or copy_group".into(),
            ),
        }
        if let Some(s) = &w.strategy {
            if !valid_name(s, b"") {
                at(
                    l,
                    &k("strategy"),
                    format!("`{s}` is not a valid strategy id"),
                );
            }
        }
        for (field, list) in [
            ("allow_ips", &w.allow_ips),
            ("trusted_proxies", &w.trusted_proxies),
        ] {
            for (j, ip) in list.iter().enumerate() {
                if parse_ip_net(ip).is_none() {
                    at(
                        l,
                        &[key("webhooks"), Seg::Index(*i), key(field), Seg::Index(j)],
                        format!("`{ip}` is not an IP address or CIDR block"),
                    );
                }
            }
        }
        if !(1..=3600).contains(&w.max_signal_age_s) {
            at(
                l,
                &k("max_signal_age_s"),
                format!("{} is out of range; allowed 1 to 3600", w.max_signal_age_s),
            );
        }
        check_map(l, &base, &w.symbols);
    }
}

fn validate_risk(
    l: &mut Loader<'_>,
    g: &GatewaySection,
    limits: &std::collections::BTreeMap<String, LimitsSection>,
    groups: &[(usize, GroupSection)],
    accounts: &[(usize, AccountSection)],
    symbols: &[(usize, SymbolSection)],
) {
    // Calendar and firm data: shipped plus the configured directories. Their own errors name their files.
    let calendars = known_names(
        l,
        crate::risk_setup::calendars(g.calendars_dir.as_deref()),
        |c| c.name().to_string(),
    );
    let firms = known_names(
        l,
        crate::risk_setup::firm_templates(g.prop_firms_dir.as_deref()),
        |t| t.name.clone(),
    );
    let at = |l: &mut Loader<'_>, segs: &[Seg], msg: String| {
        let span = l.span_of(segs);
        l.push(span, segs, msg);
    };
    for (name, p) in limits {
        let k = |f: &str| [key("limits"), key(name), key(f)];
        let positive = |d: &Option<Dec>| d.is_none_or(|d| d.0.raw() > 0);
        for (f, ok) in [
            ("max_order_qty", positive(&p.max_order_qty)),
            ("max_notional_usd", positive(&p.max_notional_usd)),
            ("max_position", positive(&p.max_position)),
            ("credit_limit_usd", positive(&p.credit_limit_usd)),
            ("price_floor", positive(&p.price_floor)),
        ] {
            if !ok {
                at(
                    l,
                    &k(f),
                    "must be greater than zero (leave it out to switch the limit off)".into(),
                );
            }
        }
        for (f, v) in [
            ("collar_bp", p.collar_bp),
            ("collar_low_price_bp", p.collar_low_price_bp),
            ("market_buffer_bp", p.market_buffer_bp),
        ] {
            if v > 10_000 {
                at(
                    l,
                    &k(f),
                    format!("{v} is out of range; allowed 0 to 10000 basis points"),
                );
            }
        }
        if p.throttle_orders_max > 100_000 {
            at(
                l,
                &k("throttle_orders_max"),
                format!(
                    "{} is out of range; allowed 0 to 100000",
                    p.throttle_orders_max
                ),
            );
        }
        if p.throttle_orders_max > 0 && p.throttle_window_ms == 0 {
            at(
                l,
                &k("throttle_window_ms"),
                "must be positive when throttle_orders_max is set".into(),
            );
        }
        if p.throttle_breaches_to_kill > 1_000 {
            at(
                l,
                &k("throttle_breaches_to_kill"),
                "is out of range; allowed 0 to 1000".into(),
            );
        }
        if p.throttle_breaches_to_kill > 0 && p.throttle_breach_window_ms == 0 {
            at(
                l,
                &k("throttle_breach_window_ms"),
                "must be positive when throttle_breaches_to_kill is set".into(),
            );
        }
        if let (Some(q), Some(pos)) = (p.max_order_qty, p.max_position) {
            if q.0 > pos.0 {
                at(
                    l,
                    &k("max_order_qty"),
                    format!(
                        "{} exceeds max_position {}: no such order could ever pass",
                        q.0, pos.0
                    ),
                );
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, gr) in groups {
        if !valid_name(&gr.name, b"") || !seen.insert(gr.name.clone()) {
            at(
                l,
                &[key("groups"), Seg::Index(*i), key("name")],
                format!("`{}` is not a valid, unique group name", gr.name),
            );
        }
    }
    for (i, a) in accounts {
        let k = |f: &str| [key("accounts"), Seg::Index(*i), key(f)];
        if let Some(name) = &a.limits {
            if !limits.contains_key(name) {
                let known: Vec<&str> = limits.keys().map(String::as_str).collect();
                at(
                    l,
                    &k("limits"),
                    format!(
                        "unknown limits profile `{name}` (defined: {})",
                        known.join(", ")
                    ),
                );
            }
        }
        if let Some(gname) = &a.group {
            if !groups.iter().any(|(_, x)| &x.name == gname) {
                at(l, &k("group"), format!("unknown group `{gname}`"));
            }
        }
        if let Some(f) = &a.prop_firm {
            if !firms.is_empty() && !firms.contains(f) {
                at(
                    l,
                    &k("prop_firm"),
                    format!("unknown prop firm `{f}` (known: {})", firms.join(", ")),
                );
            }
        }
        if let Some(b) = a.initial_balance_usd {
            if b.0.raw() < 0 {
                at(l, &k("initial_balance_usd"), "must not be negative".into());
            }
        }
        if let Some(w) = &a.trading_window {
            if !calendars.is_empty() && !calendars.contains(&w.calendar) {
                at(
                    l,
                    &k("trading_window"),
                    format!(
                        "unknown calendar `{}` (known: {})",
                        w.calendar,
                        calendars.join(", ")
                    ),
                );
            }
            match (parse_hhmm(&w.start), parse_hhmm(&w.end)) {
                (Some(s), Some(e)) if s < e => {}
                (Some(_), Some(_)) => at(
                    l,
                    &k("trading_window"),
                    format!("start {} must be before end {}", w.start, w.end),
                ),
                _ => at(
                    l,
                    &k("trading_window"),
                    format!(
                        "start and end must be times like 09:30 (got {} and {})",
                        w.start, w.end
                    ),
                ),
            }
        }
        if let Some(d) = &a.broker_pdt_switch_date {
            if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                at(
                    l,
                    &k("broker_pdt_switch_date"),
                    format!("`{d}` is not a date like 2026-06-04"),
                );
            }
        }
    }
    for (i, s) in symbols {
        let k = |f: &str| [key("symbols"), Seg::Index(*i), key(f)];
        if !calendars.is_empty() && !calendars.contains(&s.calendar) {
            at(
                l,
                &k("calendar"),
                format!(
                    "unknown calendar `{}` (known: {})",
                    s.calendar,
                    calendars.join(", ")
                ),
            );
        }
        if s.multiplier == 0 || s.multiplier > 1_000_000 {
            at(
                l,
                &k("multiplier"),
                format!("{} is out of range; allowed 1 to 1000000", s.multiplier),
            );
        }
    }
}

/// Loads a file from disk, or the embedded default when `path` is `None`.
pub fn load(path: Option<&std::path::Path>) -> Result<Config, ConfigErrors> {
    match path {
        None => load_str(DEFAULT_CONFIG_LABEL, DEFAULT_CONFIG_TOML),
        Some(p) => {
            let label = p.display().to_string();
            match std::fs::read_to_string(p) {
                Ok(text) => load_str(&label, &text),
                Err(e) => Err(ConfigErrors(vec![ConfigError {
                    file: label,
                    line: 0,
                    key: String::new(),
                    message: format!("cannot read: {e}"),
                }])),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = load(None).expect("default config loads");
        assert!(!c.accounts.is_empty());
        assert_eq!(c.journal.policy(), Durability::Sync);
    }

    /// `config/bulwark.toml` documents every key with its default: its `[gateway]`, `[journal]` and `[paper]`
    /// sections are written out in full, and what they say is what the code does without them.
    #[test]
    fn the_embedded_default_writes_out_every_gateway_journal_and_paper_key_with_its_real_default() {
        let c = load(None).expect("default config loads");
        assert_eq!(c.gateway, GatewaySection::default());
        assert_eq!(c.journal, JournalSection::default());
        assert_eq!(c.paper, PaperSection::default());
        let table: toml::Table = DEFAULT_CONFIG_TOML
            .parse()
            .expect("the embedded default is TOML");
        let keys = |section: &str| -> Vec<String> {
            let t = table
                .get(section)
                .and_then(|v| v.as_table())
                .unwrap_or_else(|| panic!("config/bulwark.toml has no [{section}] section"));
            t.keys().cloned().collect()
        };
        let gateway = [
            "data_dir",
            "http_listen",
            "http_body_bytes_max",
            "inbound_ring_capacity",
            "venue_ring_capacity",
            "open_orders_max",
            "reply_timeout_ms",
            "idle_spin_us",
            "tokio_worker_threads",
            "thread_policy",
        ];
        let mut written = keys("gateway");
        written.sort();
        let mut expected: Vec<String> = gateway.iter().map(|k| k.to_string()).collect();
        expected.sort();
        assert_eq!(
            written, expected,
            "[gateway] keys (the two optional dirs are comments)"
        );
        for k in ["calendars_dir", "prop_firms_dir"] {
            assert!(
                DEFAULT_CONFIG_TOML.contains(&format!("# {k} = ")),
                "{k} documented"
            );
        }
        let mut journal = keys("journal");
        journal.sort();
        assert_eq!(journal, ["durability", "interval_ms", "segment_bytes"]);
        let mut paper = keys("paper");
        paper.sort();
        assert_eq!(
            paper,
            [
                "latency_jitter_us",
                "latency_us",
                "partial_fill_probability",
                "seed"
            ]
        );
    }

    #[test]
    fn an_unknown_thread_policy_is_refused_with_its_line_and_key() {
        let text = "[gateway]\nthread_policy = \"fifo\"\n[[accounts]]\nname = \"A\"\n[[symbols]]\nname = \"S\"\n";
        let errs = load_str("t.toml", text).expect_err("fifo is not a policy");
        let all = errs.to_string();
        assert!(
            all.contains("t.toml:2: gateway.thread_policy: unknown variant `fifo`"),
            "{all}"
        );
    }

    #[test]
    fn reports_every_error_with_line_and_key() {
        let text = r#"
[gateway]
http_listen = "nowhere"
bogus = 1
also_bogus = 2
reply_timeout_ms = 5

[journal]
durability = "sometimes"

[[accounts]]
name = "A"
colour = "red"

[[accounts]]
name = "A"

[[symbols]]
name = "AAPL"
qty_decimals = 9

[[symbols]]
name = 7

[mystery]
x = 1
"#;
        let errs = load_str("test.toml", text).unwrap_err().0;
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        let want = [
            ("test.toml:3: gateway.http_listen:", 3),
            ("test.toml:4: gateway.bogus: unknown key", 4),
            ("test.toml:5: gateway.also_bogus: unknown key", 5),
            (
                "test.toml:6: gateway.reply_timeout_ms: 5 is out of range",
                6,
            ),
            ("test.toml:9: journal.durability:", 9),
            ("test.toml:13: accounts[0].colour: unknown key", 13),
            ("test.toml:16: accounts[1].name: duplicate account `A`", 16),
            (
                "test.toml:20: symbols[0].qty_decimals: 9 is out of range",
                20,
            ),
            ("test.toml:23: symbols[1].name: invalid type", 23),
            ("test.toml:25: mystery: unknown key", 25),
        ];
        for (prefix, line) in want {
            assert!(
                errs.iter()
                    .any(|e| e.line == line && e.to_string().starts_with(prefix)),
                "missing `{prefix}` in:\n{}",
                shown.join("\n")
            );
        }
        assert_eq!(errs.len(), want.len(), "{}", shown.join("\n"));
    }

    #[test]
    fn risk_names_and_impossible_limits_are_errors_with_lines() {
        let text = r#"
[limits.tight]
max_order_qty = 100
max_position = 10
collar_bp = 20000
throttle_window_ms = 0
max_notional_usd = 0

[[groups]]
name = "F"

[[accounts]]
name = "A"
limits = "loose"
group = "G"
prop_firm = "acme-100k"
broker_pdt_switch_date = "June"

[[symbols]]
name = "X"
calendar = "MOON"
multiplier = 0
"#;
        let errs = load_str("r.toml", text).unwrap_err().0;
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        for (prefix, line) in [
            (
                "r.toml:3: limits.tight.max_order_qty: 100 exceeds max_position 10",
                3,
            ),
            ("r.toml:5: limits.tight.collar_bp: 20000 is out of range", 5),
            (
                "r.toml:6: limits.tight.throttle_window_ms: must be positive",
                6,
            ),
            (
                "r.toml:7: limits.tight.max_notional_usd: must be greater than zero",
                7,
            ),
            (
                "r.toml:14: accounts[0].limits: unknown limits profile `loose`",
                14,
            ),
            ("r.toml:15: accounts[0].group: unknown group `G`", 15),
            (
                "r.toml:16: accounts[0].prop_firm: unknown prop firm `acme-100k`",
                16,
            ),
            ("r.toml:17: accounts[0].broker_pdt_switch_date:", 17),
            (
                "r.toml:21: symbols[0].calendar: unknown calendar `MOON`",
                21,
            ),
            ("r.toml:22: symbols[0].multiplier: 0 is out of range", 22),
        ] {
            assert!(
                errs.iter()
                    .any(|e| e.line == line && e.to_string().starts_with(prefix)),
                "missing `{prefix}` in:\n{}",
                shown.join("\n")
            );
        }
        assert_eq!(errs.len(), 10, "{}", shown.join("\n"));
    }

    #[test]
    fn bad_risk_values_are_type_errors_with_lines() {
        let text = "[limits.default]\nwash = \"yes\"\n\n[[accounts]]\nname = \"A\"\ntype = \"bogus\"\n\n[[symbols]]\nname = \"X\"\nasset_class = \"bond\"\n";
        let errs = load_str("t.toml", text).unwrap_err().0;
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        for (prefix, line) in [
            ("t.toml:2: limits.default.wash:", 2),
            ("t.toml:6: accounts[0].type:", 6),
            ("t.toml:10: symbols[0].asset_class:", 10),
        ] {
            assert!(
                errs.iter()
                    .any(|e| e.line == line && e.to_string().starts_with(prefix)),
                "missing `{prefix}` in:\n{}",
                shown.join("\n")
            );
        }
    }

    #[test]
    fn webhook_and_copy_group_mistakes_are_errors_with_lines() {
        let text = r#"
[[accounts]]
name = "A"

[[symbols]]
name = "X"

[[copy_groups]]
name = "g"
members = [
  { account = "A", sizing = "fixed" },
  { account = "A", sizing = "multiplier", value = 2 },
  { account = "NOPE", sizing = "percent_of_equity", value = 150 },
  { account = "A", sizing = "signal", value = 1, colour = "red" },
]
symbols = { "NQ1!" = "NQZ2026" }

[[webhooks]]
name = "w"
token = "short"
account = "A"
copy_group = "g"
allow_ips = ["52.89.214.238", "not-an-ip", "10.0.0.0/33"]
max_signal_age_s = 0
delayed_data = "sometimes"

[[webhooks]]
name = "w"
token_sha256 = "xyz"
secret = ""
"#;
        let errs = load_str("w.toml", text).unwrap_err().0;
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        for want in [
            "copy_groups[0].members[0].value: this sizing rule needs a value",
            "copy_groups[0].members[1].account: account `A` is in this group twice",
            "copy_groups[0].members[2].account: unknown account `NOPE`",
            "copy_groups[0].members[2].value: a percentage of equity above 100",
            "copy_groups[0].members[3].colour: unknown key",
            "copy_groups[0].symbols.NQ1!: maps `NQ1!` to `NQZ2026`, which is not a configured symbol",
            "webhooks[0].delayed_data:",
            "webhooks[1].token_sha256: must be 64 hex digits",
            "webhooks[1].secret: must not be empty",
            "webhooks[1].name: a webhook trades exactly one of account or copy_group",
        ] {
            assert!(
                shown.iter().any(|e| e.contains(want)),
                "missing `{want}` in:\n{}",
                shown.join("\n")
            );
        }
        // The first webhook's type error (delayed_data) hides its other fields, so check them on their own.
        let text2 = text.replace("delayed_data = \"sometimes\"\n", "");
        let shown: Vec<String> = load_str("w.toml", &text2)
            .unwrap_err()
            .0
            .iter()
            .map(|e| e.to_string())
            .collect();
        for want in [
            "webhooks[0].token: must be at least 16 characters",
            "webhooks[0].name: a webhook trades exactly one of account or copy_group",
            "webhooks[0].allow_ips[1]: `not-an-ip` is not an IP address or CIDR block",
            "webhooks[0].allow_ips[2]: `10.0.0.0/33` is not an IP address or CIDR block",
            "webhooks[0].max_signal_age_s: 0 is out of range; allowed 1 to 3600",
            "webhooks[1].name: `w` is not a valid, unique webhook name",
        ] {
            assert!(
                shown.iter().any(|e| e.contains(want)),
                "missing `{want}` in:\n{}",
                shown.join("\n")
            );
        }
    }

    #[test]
    fn webhook_defaults_allow_only_tradingview() {
        let c = load(None).unwrap();
        let demo = c.webhooks.iter().find(|w| w.name == "demo").unwrap();
        assert_eq!(demo.max_signal_age_s, 30);
        let text = "[[accounts]]\nname = \"A\"\n[[symbols]]\nname = \"X\"\n[[webhooks]]\nname = \"w\"\ntoken = \"0123456789abcdef\"\naccount = \"A\"\n";
        let c = load_str("d.toml", text).unwrap();
        assert_eq!(
            c.webhooks[0].allow_ips,
            TRADINGVIEW_IPS.map(String::from).to_vec()
        );
        assert!(c.webhooks[0].trusted_proxies.is_empty());
        assert_eq!(c.webhooks[0].delayed_data, DelayedDataPolicy::Reject);
        assert_eq!(c.webhooks[0].brackets, BracketPolicy::Reject);
    }

    #[test]
    fn syntax_error_names_the_line() {
        let errs = load_str("x.toml", "[gateway]\nhttp_listen = \n")
            .unwrap_err()
            .0;
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 2);
        assert!(errs[0].message.contains("syntax"));
    }
}
