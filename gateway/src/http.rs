//! The REST edge (axum on hyper). Handlers validate everything against the immutable catalog before anything
//! is journaled: malformed JSON, unknown fields, bad numbers, unknown accounts or symbols and oversize bodies
//! are answered 4xx with a machine-readable code and a sentence, and never reach the sequencer. Valid requests
//! go into the inbound ring with `try_send` (a full ring answers 503 at once; an I/O thread never blocks), and
//! the answer is sent only when the sequencer releases it, i.e. once the event is as durable as the policy says.

use crate::catalog::Catalog;
use crate::sequencer::{Answer, Inbound, Query, SharedStatus};
use axum::body::Body;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bulwark_model::*;
use bulwark_ring::{RingTx, TrySendError};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Everything the handlers share; all of it read-only or atomic.
#[derive(Debug)]
pub struct AppState {
    pub inbound: RingTx<Inbound>,
    pub catalog: Arc<Catalog>,
    pub status: Arc<SharedStatus>,
    pub reply_timeout: Duration,
    pub body_bytes_max: usize,
    /// Prefix and counter for generated client order ids.
    pub boot_ms: i64,
    pub generated_ids: AtomicU64,
    /// Configured TradingView webhooks.
    pub webhooks: Arc<crate::webhook::WebhookSet>,
    /// Bearer tokens and roles.
    pub auth: Arc<crate::auth::Authenticator>,
    /// Configured account group (firm) names, by group index.
    pub groups: Arc<[String]>,
    /// The sequencer's live feed of durable journal records, for the event stream.
    pub feed: Arc<crate::sequencer::LiveFeed>,
    /// Where the journal is, for the event stream's history.
    pub journal_dir: std::path::PathBuf,
    /// Dead-man's switches of the configured strategies.
    pub deadman: Arc<crate::deadman::DeadMan>,
    /// Each account's group index (for the account state).
    pub account_groups: Arc<[Option<u32>]>,
    /// Each FIX session's client CompID and the accounts it trades (the kill switch's session scope).
    pub fix_sessions: Arc<[(String, Vec<AccountId>)]>,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/orders", post(post_order).get(get_orders))
        .route("/api/v1/orders/{id}", get(get_order).delete(delete_order))
        .route("/api/v1/positions", get(get_positions))
        .route("/api/v1/headroom", get(get_headroom))
        .route("/api/v1/prices", post(post_price))
        .route(
            "/api/v1/kill",
            post(crate::control::post_kill).get(crate::control::get_kill),
        )
        .route("/api/v1/kill/reset", post(crate::control::post_reset))
        .route("/api/v1/events", get(crate::events::get_events))
        .route(
            "/api/v1/accounts/{account}/state",
            get(crate::control::get_account_state),
        )
        .route(
            "/api/v1/accounts/{account}/unlock",
            post(crate::control::post_unlock),
        )
        .route(
            "/api/v1/heartbeat/{strategy}",
            post(crate::deadman::post_heartbeat),
        )
        .route(
            "/api/v1/webhooks/tradingview/{token}",
            post(crate::webhook::post_tradingview),
        )
        .route("/api/v1/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(state)
}

/// Nanoseconds since the Unix epoch: the edge's timestamp for every event it creates.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// An error answer: status, code, sentence and optional extra fields.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
        }
    }
    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    /// Adds fields to the error object (merging with any added before).
    fn with(mut self, extra: Value) -> Self {
        match (&mut self.extra, extra) {
            (Some(Value::Object(have)), Value::Object(more)) => have.extend(more),
            (slot, more) => *slot = Some(more),
        }
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let (Some(Value::Object(extra)), Value::Object(e)) = (self.extra, &mut error) {
            e.extend(extra);
        }
        let mut resp = (self.status, Json(json!({ "error": error }))).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

type ApiResult = Result<Response, ApiError>;

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
}

/// The OpenAPI document of the whole HTTP API (docs/openapi.json, compiled in).
pub const OPENAPI_JSON: &str = include_str!("../../docs/openapi.json");

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_JSON,
    )
        .into_response()
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok", "version": crate::VERSION}))
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    if s.status.journal_failed.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "journal failed; trading halted"})),
        )
            .into_response();
    }
    if !s.status.ready.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "recovering"})),
        )
            .into_response();
    }
    Json(json!({"ready": true, "journal_next_seq": s.status.next_seq.load(Ordering::Relaxed)}))
        .into_response()
}

/// Reads the whole body up to the configured limit.
pub(crate) async fn read_body(
    s: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            format!("request body exceeds {} bytes", s.body_bytes_max),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > s.body_bytes_max) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, s.body_bytes_max)
        .await
        .map_err(|_| too_large())
}

/// Parses JSON into `T` with codes that say what was wrong.
pub(crate) fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        match e.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => ApiError::bad(
                "MALFORMED_JSON",
                format!("request body is not valid JSON: {text}"),
            ),
            serde_json::error::Category::Data if text.starts_with("unknown field") => {
                ApiError::bad("UNKNOWN_FIELD", text)
            }
            serde_json::error::Category::Data if text.starts_with("missing field") => {
                ApiError::bad("MISSING_FIELD", text)
            }
            serde_json::error::Category::Data => ApiError::bad("INVALID_FIELD", text),
        }
    })
}

/// The text of a JSON number or decimal string, exactly as sent.
fn decimal_text(field: &'static str, raw: &RawValue) -> Result<String, ApiError> {
    let s = raw.get().trim();
    if s.starts_with('"') {
        return serde_json::from_str::<String>(s)
            .map_err(|_| ApiError::bad("INVALID_FIELD", format!("{field} is not a valid string")));
    }
    if s.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Ok(s.to_string());
    }
    Err(ApiError::bad(
        "INVALID_FIELD",
        format!("{field} must be a number or a decimal string"),
    ))
}

/// A fixed-point quantity or price as the HTTP edge parses it.
trait FixedPoint: Sized {
    fn parse_text(text: &str) -> Result<Self, FixedError>;
    fn raw_units(&self) -> i64;
    fn decimals(&self) -> u32;
}

impl FixedPoint for Qty {
    fn parse_text(text: &str) -> Result<Self, FixedError> {
        Qty::parse(text)
    }
    fn raw_units(&self) -> i64 {
        self.raw()
    }
    fn decimals(&self) -> u32 {
        self.decimals_used()
    }
}

impl FixedPoint for Px {
    fn parse_text(text: &str) -> Result<Self, FixedError> {
        Px::parse(text)
    }
    fn raw_units(&self) -> i64 {
        self.raw()
    }
    fn decimals(&self) -> u32 {
        self.decimals_used()
    }
}

/// Parses a decimal field into fixed-point, checking sign and the symbol's precision.
fn parse_positive<T: FixedPoint>(
    field: &'static str,
    raw: &RawValue,
    decimals_max: u32,
    symbol: &str,
    code: &'static str,
) -> Result<T, ApiError> {
    let text = decimal_text(field, raw)?;
    let v = T::parse_text(&text).map_err(|e| {
        ApiError::unprocessable(code, format!("{field} `{text}` is not acceptable: {e}"))
            .with(json!({"field": field}))
    })?;
    if v.raw_units() <= 0 {
        return Err(
            ApiError::unprocessable(code, format!("{field} must be greater than zero"))
                .with(json!({"field": field})),
        );
    }
    if v.decimals() > decimals_max {
        return Err(ApiError::unprocessable(
            code,
            format!(
                "{field} `{text}` has more than {decimals_max} decimals, the most {symbol} allows"
            ),
        )
        .with(json!({"field": field})));
    }
    Ok(v)
}

pub(crate) fn account_of(s: &AppState, name: &str) -> Result<AccountId, ApiError> {
    s.catalog.account(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "UNKNOWN_ACCOUNT",
            format!("account `{name}` is not configured"),
        )
    })
}

fn symbol_of<'a>(
    s: &'a AppState,
    name: &str,
) -> Result<(SymbolId, &'a crate::catalog::SymbolSpec), ApiError> {
    let id = s.catalog.symbol(name).ok_or_else(|| {
        ApiError::unprocessable(
            "UNKNOWN_SYMBOL",
            format!("symbol `{name}` is not configured"),
        )
    })?;
    Ok((
        id,
        s.catalog
            .symbol_spec(id)
            .expect("resolved symbol has a spec"),
    ))
}

/// Puts a message on the inbound ring without ever blocking.
pub(crate) fn enqueue(s: &AppState, msg: Inbound) -> Result<(), ApiError> {
    match s.inbound.try_send(msg) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "BUSY",
            "the gateway's inbound queue is full; retry shortly",
        )),
        Err(TrySendError::Disconnected(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SHUTTING_DOWN",
            "the gateway is shutting down",
        )),
    }
}

pub(crate) async fn await_reply<T>(
    s: &AppState,
    rx: tokio::sync::oneshot::Receiver<T>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(s.reply_timeout, rx).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SHUTTING_DOWN",
            "the gateway stopped before answering",
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "TIMEOUT",
            "no answer in time; the request may still take effect, query the order by client_order_id",
        )),
    }
}

/// Sends a journaled request and waits for the sequencer's answer.
async fn request(s: &AppState, event: Event) -> Result<Answer, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    enqueue(
        s,
        Inbound::Request {
            ts_ns: now_ns(),
            event,
            reply: Some(tx),
        },
    )?;
    settled(await_reply(s, rx).await?)
}

/// An answer that took effect, or the error for one that did not (busy venue queue, failed journal).
pub(crate) fn settled(answer: Answer) -> Result<Answer, ApiError> {
    match answer {
        Answer::Busy => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "BUSY",
            "the venue queue is full; retry shortly",
        )),
        Answer::Unavailable(reason) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "JOURNAL_UNAVAILABLE",
            format!("trading is halted because the journal failed: {reason}"),
        )),
        other => Ok(other),
    }
}

pub(crate) async fn query<T>(
    s: &AppState,
    make: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> Query,
) -> Result<T, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    enqueue(s, Inbound::Query(make(tx)))?;
    await_reply(s, rx).await
}

/// The JSON form of an order, serialized straight from the order (no intermediate JSON tree).
#[derive(Debug, Serialize)]
pub struct OrderView<'a> {
    pub order_id: u64,
    pub client_order_id: &'a str,
    pub account: &'a str,
    pub symbol: &'a str,
    pub side: Side,
    #[serde(rename = "type")]
    pub ord_type: OrdType,
    pub tif: Tif,
    pub qty: Qty,
    pub limit_price: Option<Px>,
    pub status: OrderStatus,
    pub filled_qty: Qty,
    pub leaves_qty: Qty,
    pub avg_fill_price: Px,
    pub ingress: Ingress,
    pub created_at_ns: i64,
    pub updated_at_ns: i64,
    pub reject: Option<RejectView>,
    /// Webhook child orders: `entry` or `exit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
}

/// A risk reject as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RejectView {
    pub code: &'static str,
    pub rule: &'static str,
    pub message: String,
    pub detail: String,
}

impl RejectView {
    pub fn new(c: &Catalog, r: &Reject, symbol: Option<SymbolId>) -> RejectView {
        let detail = c.reject_detail(r, symbol);
        RejectView {
            code: r.reason.code(),
            rule: r.rule.as_str(),
            message: r.text_with_detail(&detail),
            detail,
        }
    }
}

/// The JSON form of an order.
pub fn order_json<'a>(c: &'a Catalog, o: &'a Order) -> OrderView<'a> {
    OrderView {
        order_id: o.id.0,
        client_order_id: o.cl_ord_id.as_str(),
        account: c.account_name(o.account),
        symbol: c.symbol_name(o.symbol),
        side: o.side,
        ord_type: o.ord_type,
        tif: o.tif,
        qty: o.qty,
        limit_price: o.limit_px,
        status: o.status,
        filled_qty: o.cum_qty,
        leaves_qty: o.leaves_qty(),
        avg_fill_price: o.avg_px(),
        ingress: o.ingress,
        created_at_ns: o.created_ts_ns,
        updated_at_ns: o.updated_ts_ns,
        reject: o.reject.map(|r| RejectView::new(c, &r, Some(o.symbol))),
        role: None,
    }
}

fn reject_error(c: &Catalog, r: &Reject, symbol: Option<SymbolId>) -> ApiError {
    let status = StatusCode::from_u16(r.reason.http_status()).unwrap_or(StatusCode::FORBIDDEN);
    let detail = c.reject_detail(r, symbol);
    ApiError::new(status, r.reason.code(), r.text_with_detail(&detail))
        .with(json!({"rule": r.rule.as_str(), "detail": detail}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderBody {
    account: String,
    symbol: String,
    side: String,
    qty: Box<RawValue>,
    #[serde(rename = "type", default)]
    ord_type: Option<String>,
    #[serde(default)]
    limit_price: Option<Box<RawValue>>,
    #[serde(default)]
    tif: Option<String>,
    #[serde(default)]
    client_order_id: Option<String>,
    #[serde(default)]
    extended_hours: bool,
}

fn enum_field<T: Copy>(
    field: &'static str,
    value: &str,
    options: &[(&str, T)],
) -> Result<T, ApiError> {
    options
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let allowed: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            ApiError::unprocessable(
                "INVALID_FIELD",
                format!("{field} `{value}` is not one of: {}", allowed.join(", ")),
            )
            .with(json!({"field": field}))
        })
}

fn validate_order(s: &AppState, b: OrderBody) -> Result<NewOrder, ApiError> {
    let account = account_of(s, &b.account)?;
    let (symbol, spec) = symbol_of(s, &b.symbol)?;
    let side = enum_field("side", &b.side, &[("buy", Side::Buy), ("sell", Side::Sell)])?;
    let default_type = if b.limit_price.is_some() {
        "limit"
    } else {
        "market"
    };
    let ord_type = enum_field(
        "type",
        b.ord_type.as_deref().unwrap_or(default_type),
        &[("market", OrdType::Market), ("limit", OrdType::Limit)],
    )?;
    let tif = enum_field(
        "tif",
        b.tif.as_deref().unwrap_or("day"),
        &[
            ("day", Tif::Day),
            ("gtc", Tif::Gtc),
            ("ioc", Tif::Ioc),
            ("fok", Tif::Fok),
        ],
    )?;
    let qty: Qty = parse_positive(
        "qty",
        &b.qty,
        spec.qty_decimals,
        &spec.name,
        "INCORRECT_QUANTITY",
    )?;
    let limit_px = match (ord_type, &b.limit_price) {
        (OrdType::Limit, Some(raw)) => Some(parse_positive::<Px>(
            "limit_price",
            raw,
            spec.px_decimals,
            &spec.name,
            "INCORRECT_PRICE",
        )?),
        (OrdType::Limit, None) => {
            return Err(ApiError::unprocessable(
                "INCORRECT_PRICE",
                "a limit order needs limit_price",
            )
            .with(json!({"field": "limit_price"})))
        }
        (OrdType::Market, Some(_)) => {
            return Err(ApiError::unprocessable(
                "INCORRECT_PRICE",
                "limit_price is only allowed on limit orders",
            )
            .with(json!({"field": "limit_price"})))
        }
        (OrdType::Market, None) => None,
    };
    let cl_ord_id = match &b.client_order_id {
        Some(text) => ClOrdId::try_new(text).map_err(|e| {
            ApiError::unprocessable("INVALID_FIELD", e.to_string())
                .with(json!({"field": "client_order_id"}))
        })?,
        None => {
            let n = s.generated_ids.fetch_add(1, Ordering::Relaxed);
            ClOrdId::try_new(&format!("bw-{}-{n}", s.boot_ms)).expect("generated ids are valid")
        }
    };
    Ok(NewOrder {
        account,
        symbol,
        side,
        ord_type,
        tif,
        qty,
        limit_px,
        cl_ord_id,
        ingress: Ingress::Rest,
        ext_hours: b.extended_hours,
    })
}

async fn post_order(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> ApiResult {
    let bytes = read_body(&s, &headers, body).await?;
    let parsed: OrderBody = parse_json(&bytes)?;
    let order = validate_order(&s, parsed)?;
    s.auth
        .require(&headers, LEVEL_TRADER, Some(order.account), "order entry")?;
    match request(&s, Event::NewOrder(order)).await? {
        Answer::Decided {
            decision,
            order: Some(o),
        } => match decision.verdict {
            Verdict::Accept => {
                Ok((StatusCode::CREATED, Json(order_json(&s.catalog, &o))).into_response())
            }
            Verdict::Reject(r) => Err(reject_error(&s.catalog, &r, Some(o.symbol))
                .with(json!({"order": order_json(&s.catalog, &o)}))),
        },
        other => Err(unexpected(other)),
    }
}

fn unexpected(a: Answer) -> ApiError {
    tracing::error!("unexpected sequencer answer {a:?}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "unexpected answer from the sequencer",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountParam {
    account: Option<String>,
}

/// The `?account=` query of the read endpoints, or why it could not be read.
type AccountQuery = Result<UrlQuery<AccountParam>, axum::extract::rejection::QueryRejection>;

fn require_account(s: &AppState, p: &AccountParam) -> Result<AccountId, ApiError> {
    match &p.account {
        Some(name) => account_of(s, name),
        None => Err(ApiError::bad(
            "MISSING_PARAMETER",
            "query parameter `account` is required",
        )),
    }
}

fn query_params<T: serde::de::DeserializeOwned>(
    q: Result<UrlQuery<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|UrlQuery(v)| v)
        .map_err(|e| ApiError::bad("INVALID_PARAMETER", e.body_text()))
}

async fn get_orders(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    q: AccountQuery,
) -> ApiResult {
    let account = require_account(&s, &query_params(q)?)?;
    s.auth
        .require(&headers, LEVEL_VIEWER, Some(account), "reading orders")?;
    let orders = query(&s, |reply| Query::Orders { account, reply }).await?;
    let list: Vec<OrderView<'_>> = orders.iter().map(|o| order_json(&s.catalog, o)).collect();
    Ok(Json(json!({"account": s.catalog.account_name(account), "orders": list})).into_response())
}

fn parse_order_id(id: &str) -> Result<OrderId, ApiError> {
    id.parse::<u64>()
        .ok()
        .filter(|v| *v > 0)
        .map(OrderId)
        .ok_or_else(|| {
            ApiError::bad(
                "INVALID_PARAMETER",
                format!("order id `{id}` is not a positive integer"),
            )
        })
}

async fn find_order(s: &AppState, id: &str, p: &AccountParam) -> Result<Order, ApiError> {
    let id = parse_order_id(id)?;
    let account = p.account.as_deref().map(|a| account_of(s, a)).transpose()?;
    let target = CancelTarget::ById(id);
    query(s, |reply| Query::Order {
        account,
        target,
        reply,
    })
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "UNKNOWN_ORDER",
            format!("order {id} not found"),
        )
    })
}

async fn get_order(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: AccountQuery,
) -> ApiResult {
    let p = query_params(q)?;
    s.auth
        .require(&headers, LEVEL_VIEWER, None, "reading orders")?;
    let o = find_order(&s, &id, &p).await?;
    s.auth
        .require(&headers, LEVEL_VIEWER, Some(o.account), "reading orders")?;
    Ok(Json(order_json(&s.catalog, &o)).into_response())
}

async fn delete_order(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: AccountQuery,
) -> ApiResult {
    let p = query_params(q)?;
    s.auth
        .require(&headers, LEVEL_TRADER, None, "canceling orders")?;
    let o = find_order(&s, &id, &p).await?;
    s.auth
        .require(&headers, LEVEL_TRADER, Some(o.account), "canceling orders")?;
    let cancel = CancelOrder::by_id(o.account, o.id, Ingress::Rest);
    match request(&s, Event::CancelOrder(cancel)).await? {
        Answer::Decided { decision, order } => match (decision.verdict, order) {
            (Verdict::Accept, Some(o)) => {
                Ok((StatusCode::ACCEPTED, Json(order_json(&s.catalog, &o))).into_response())
            }
            (Verdict::Reject(r), Some(o)) => Err(reject_error(&s.catalog, &r, Some(o.symbol))
                .with(json!({"order": order_json(&s.catalog, &o)}))),
            (Verdict::Reject(r), None) => Err(reject_error(&s.catalog, &r, None)),
            (Verdict::Accept, None) => Err(unexpected(Answer::Decided {
                decision,
                order: None,
            })),
        },
        other => Err(unexpected(other)),
    }
}

async fn get_positions(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    q: AccountQuery,
) -> ApiResult {
    let account = require_account(&s, &query_params(q)?)?;
    s.auth
        .require(&headers, LEVEL_VIEWER, Some(account), "reading positions")?;
    let positions = query(&s, |reply| Query::Positions { account, reply }).await?;
    let list: Vec<Value> = positions
        .iter()
        .map(|(sym, pos)| {
            json!({
                "symbol": s.catalog.symbol_name(*sym),
                "qty": pos.qty,
                "avg_price": pos.avg_px,
                "realized_pnl": pos.realized_pnl,
            })
        })
        .collect();
    Ok(
        Json(json!({"account": s.catalog.account_name(account), "positions": list}))
            .into_response(),
    )
}

async fn get_headroom(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    q: AccountQuery,
) -> ApiResult {
    let account = require_account(&s, &query_params(q)?)?;
    s.auth
        .require(&headers, LEVEL_VIEWER, Some(account), "reading headroom")?;
    let ts_ns = now_ns();
    let h = query(&s, |reply| Query::Headroom {
        account,
        ts_ns,
        reply,
    })
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "UNKNOWN_ACCOUNT",
            "account not found",
        )
    })?;
    let positions: Vec<Value> = h
        .position_room
        .iter()
        .map(|(sym, buy, sell)| json!({"symbol": s.catalog.symbol_name(*sym), "buy_qty": buy, "sell_qty": sell}))
        .collect();
    let floors: Vec<Value> = h
        .floors
        .iter()
        .map(|(name, value, room)| json!({"name": name, "floor": value, "room": room}))
        .collect();
    Ok(Json(json!({
        "account": s.catalog.account_name(account),
        "killed": h.killed,
        "lock": h.lock,
        "balance": h.balance,
        "equity": h.equity,
        "credit_room": h.credit_room,
        "cash_room": h.cash_room,
        "throttle_room": h.throttle_room,
        "position_room": positions,
        "floors": floors,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceBody {
    symbol: String,
    price: Box<RawValue>,
}

async fn post_price(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> ApiResult {
    s.auth
        .require(&headers, LEVEL_TRADER, None, "posting reference prices")?;
    let bytes = read_body(&s, &headers, body).await?;
    let b: PriceBody = parse_json(&bytes)?;
    let (symbol, spec) = symbol_of(&s, &b.symbol)?;
    let px: Px = parse_positive(
        "price",
        &b.price,
        spec.px_decimals.max(4),
        &spec.name,
        "INCORRECT_PRICE",
    )?;
    match request(&s, Event::Price(PriceUpdate { symbol, px })).await? {
        Answer::Applied => Ok(Json(json!({"symbol": spec.name, "price": px})).into_response()),
        other => Err(unexpected(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::SymbolSpec;
    use tower::ServiceExt;

    fn state(inbound: RingTx<Inbound>) -> Arc<AppState> {
        Arc::new(AppState {
            inbound,
            catalog: Arc::new(Catalog::new(
                vec!["A".into()],
                vec![SymbolSpec {
                    name: "X".into(),
                    qty_decimals: 0,
                    px_decimals: 2,
                    calendar: "ALWAYS".into(),
                }],
            )),
            status: Arc::new(SharedStatus::default()),
            reply_timeout: Duration::from_millis(50),
            body_bytes_max: 1024,
            boot_ms: 0,
            generated_ids: AtomicU64::new(0),
            webhooks: Arc::default(),
            auth: Arc::default(),
            groups: Arc::from(Vec::new()),
            feed: crate::sequencer::LiveFeed::new(16),
            journal_dir: std::path::PathBuf::new(),
            deadman: Arc::default(),
            account_groups: Arc::from(Vec::new()),
            fix_sessions: Arc::from(Vec::new()),
        })
    }

    fn order_request() -> axum::http::Request<Body> {
        axum::http::Request::post("/api/v1/orders")
            .body(Body::from(
                r#"{"account":"A","symbol":"X","side":"buy","qty":1}"#,
            ))
            .unwrap()
    }

    #[test]
    fn the_openapi_document_lists_every_route() {
        let doc: Value = serde_json::from_str(OPENAPI_JSON).expect("docs/openapi.json is JSON");
        let paths = doc["paths"].as_object().expect("paths");
        for (path, methods) in [
            ("/healthz", &["get"][..]),
            ("/readyz", &["get"]),
            ("/api/v1/orders", &["get", "post"]),
            ("/api/v1/orders/{id}", &["get", "delete"]),
            ("/api/v1/positions", &["get"]),
            ("/api/v1/headroom", &["get"]),
            ("/api/v1/prices", &["post"]),
            ("/api/v1/webhooks/tradingview/{token}", &["post"]),
            ("/api/v1/kill", &["get", "post"]),
            ("/api/v1/kill/reset", &["post"]),
            ("/api/v1/events", &["get"]),
            ("/api/v1/openapi.json", &["get"]),
            ("/api/v1/heartbeat/{strategy}", &["post"]),
            ("/api/v1/accounts/{account}/state", &["get"]),
            ("/api/v1/accounts/{account}/unlock", &["post"]),
        ] {
            for m in methods {
                assert!(
                    paths[path][m].is_object(),
                    "{m} {path} missing from docs/openapi.json"
                );
            }
        }
        assert_eq!(
            paths.len(),
            15,
            "a path in docs/openapi.json that the router does not serve"
        );
    }

    #[tokio::test]
    async fn a_full_inbound_ring_answers_busy_at_once() {
        let (tx, rx) = bulwark_ring::ring(1, &bulwark_ring::Doorbell::new());
        tx.send(Inbound::Shutdown).unwrap();
        let resp = router(state(tx)).oneshot(order_request()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "BUSY");
        assert_eq!(rx.len(), 1, "nothing was added to the ring");
    }

    #[tokio::test]
    async fn no_answer_in_time_is_a_timeout_not_a_hang() {
        let (tx, _rx) = bulwark_ring::ring(16, &bulwark_ring::Doorbell::new());
        let resp = router(state(tx)).oneshot(order_request()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    }

    #[tokio::test]
    async fn readiness_follows_the_journal() {
        let (tx, _rx) = bulwark_ring::ring(16, &bulwark_ring::Doorbell::new());
        let s = state(tx);
        let get = || {
            axum::http::Request::get("/readyz")
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(
            router(s.clone()).oneshot(get()).await.unwrap().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        s.status.ready.store(true, Ordering::SeqCst);
        assert_eq!(
            router(s.clone()).oneshot(get()).await.unwrap().status(),
            StatusCode::OK
        );
        s.status.journal_failed.store(true, Ordering::SeqCst);
        assert_eq!(
            router(s).oneshot(get()).await.unwrap().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
