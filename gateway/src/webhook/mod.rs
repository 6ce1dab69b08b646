//! The TradingView webhook relay: `POST /api/v1/webhooks/tradingview/{token}`. In order, and with nothing
//! journaled until every check has passed: the path token picks the webhook (SHA-256 compared in constant
//! time against every configured one; 401 with no detail), the source address must be on its allowlist
//! (TradingView's four by default; `X-Forwarded-For` believed only from trusted proxies; 403), the body is
//! parsed as JSON whatever its Content-Type ([`bulwark_signals::parse`]), the body `secret` is checked
//! (401), then staleness, delayed data, brackets and the symbol map. The signal then goes to the sequencer,
//! which answers a repeated idempotency key with `200 {"duplicate":true}`, or plans every member account,
//! journals the signal and its child orders and returns each account's risk decisions: `202` well inside
//! TradingView's 3-second budget, never waiting on a broker.

pub mod dedup;

use crate::config::{BracketPolicy, Config, DelayedDataPolicy, SizingName, WebhookSection};
use crate::http::{now_ns, order_json, ApiError, AppState, OrderView, RejectView};
use crate::sequencer::{
    AccountOutcome, Answer, Inbound, SignalAnswer, SignalMember, SignalRequest,
};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bulwark_model::*;
use bulwark_signals::{Alert, AlertError, AlertOrderType, AlertTif, PlanOptions, Sizing};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// One configured webhook, ready to serve.
#[derive(Debug)]
pub struct Webhook {
    pub name: String,
    token_sha256: [u8; 32],
    secret_sha256: Option<[u8; 32]>,
    pub strategy: String,
    allow: Vec<(IpAddr, u8)>,
    trusted: Vec<(IpAddr, u8)>,
    max_age_ns: i64,
    require_time: bool,
    delayed_data: DelayedDataPolicy,
    brackets: BracketPolicy,
    add_on_same_side: bool,
    /// Ticker -> symbol: the copy group's map overlaid with the webhook's.
    symbols: BTreeMap<String, String>,
    members: Arc<[SignalMember]>,
}

/// Every configured webhook, and the symbols' contract multipliers.
#[derive(Debug, Default)]
pub struct WebhookSet {
    hooks: Vec<Webhook>,
    multipliers: BTreeMap<String, u32>,
}

use crate::auth::sha256;

fn sizing_of(name: SizingName, value: Option<Decimal>) -> Sizing {
    let v = value.unwrap_or(Decimal::ZERO);
    match name {
        SizingName::Signal => Sizing::Signal,
        SizingName::Fixed => Sizing::Fixed(v),
        SizingName::Multiplier => Sizing::Multiplier(v),
        SizingName::PercentOfEquity => Sizing::PercentOfEquity(v),
        SizingName::DollarAmount => Sizing::DollarAmount(v),
        SizingName::RiskDollarAmount => Sizing::RiskDollarAmount(v),
    }
}

impl WebhookSet {
    /// Builds the set from a validated configuration.
    pub fn from_config(config: &Config, catalog: &crate::catalog::Catalog) -> WebhookSet {
        let nets = |list: &[String]| -> Vec<(IpAddr, u8)> {
            list.iter()
                .filter_map(|s| crate::config::parse_ip_net(s))
                .collect()
        };
        let hooks = config
            .webhooks
            .iter()
            .map(|w: &WebhookSection| {
                let mut symbols = BTreeMap::new();
                let members: Vec<SignalMember> = match (&w.account, &w.copy_group) {
                    (Some(a), _) => catalog
                        .account(a)
                        .map(|account| SignalMember {
                            account,
                            sizing: Sizing::Signal,
                        })
                        .into_iter()
                        .collect(),
                    (None, Some(g)) => {
                        let group = config.copy_groups.iter().find(|c| &c.name == g);
                        if let Some(group) = group {
                            symbols.extend(group.symbols.clone());
                        }
                        group
                            .into_iter()
                            .flat_map(|c| c.members.iter())
                            .filter_map(|m| {
                                Some(SignalMember {
                                    account: catalog.account(&m.account)?,
                                    sizing: sizing_of(m.sizing, m.value.map(|v| v.0.to_decimal())),
                                })
                            })
                            .collect()
                    }
                    (None, None) => Vec::new(),
                };
                symbols.extend(w.symbols.clone());
                Webhook {
                    name: w.name.clone(),
                    token_sha256: match (&w.token, &w.token_sha256) {
                        (Some(t), _) => sha256(t.as_bytes()),
                        (None, Some(h)) => crate::config::hex32(h),
                        (None, None) => [0; 32],
                    },
                    secret_sha256: match (&w.secret, &w.secret_sha256) {
                        (Some(s), _) => Some(sha256(s.as_bytes())),
                        (None, Some(h)) => Some(crate::config::hex32(h)),
                        (None, None) => None,
                    },
                    strategy: w.strategy.clone().unwrap_or_else(|| w.name.clone()),
                    allow: nets(&w.allow_ips),
                    trusted: nets(&w.trusted_proxies),
                    max_age_ns: (w.max_signal_age_s as i64) * 1_000_000_000,
                    require_time: w.require_time,
                    delayed_data: w.delayed_data,
                    brackets: w.brackets,
                    add_on_same_side: w.add_on_same_side,
                    symbols,
                    members: members.into(),
                }
            })
            .collect();
        WebhookSet {
            hooks,
            multipliers: config
                .symbols
                .iter()
                .map(|s| (s.name.clone(), s.multiplier))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// The webhook whose token is `token` (constant-time over every configured hash).
    fn find(&self, token: &str) -> Option<&Webhook> {
        crate::auth::find_by_hash(self.hooks.iter().map(|h| (&h.token_sha256, h)), token)
    }
}

fn in_net(ip: IpAddr, (net, prefix): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|a4| in_net(IpAddr::V4(a4), (net, prefix))),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

fn in_any(ip: IpAddr, nets: &[(IpAddr, u8)]) -> bool {
    nets.iter().any(|n| in_net(ip, *n))
}

/// The address that sent the request: the peer, or, when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[(IpAddr, u8)]) -> IpAddr {
    if !in_any(peer, trusted) {
        return peer;
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for part in text.split(',').rev() {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) if in_any(ip, trusted) => client = ip,
                Ok(ip) => return ip,
                Err(_) => return client,
            }
        }
    }
    client
}

/// A webhook error: TradersPost's `success`/`messageCode`/`message` and our `error` object.
fn hook_error(
    status: StatusCode,
    code: &str,
    message_code: &str,
    message: &str,
    extra: Value,
) -> Response {
    let mut body = json!({
        "success": false,
        "messageCode": message_code,
        "message": message,
        "error": {"code": code, "message": message},
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    (status, Json(body)).into_response()
}

fn unauthorized() -> Response {
    hook_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "unauthorized",
        "unauthorized",
        json!({}),
    )
}

fn alert_error(e: &AlertError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let extra = match e.field() {
        Some(f) => json!({"field": f}),
        None => json!({}),
    };
    hook_error(status, e.code(), e.message_code(), &e.to_string(), extra)
}

fn refuse(code: &'static str, message: String) -> Response {
    hook_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        code,
        &code.to_ascii_lowercase().replace('_', "-"),
        &message,
        json!({}),
    )
}

fn api_error(e: ApiError) -> Response {
    e.into_response()
}

/// The configured symbol a ticker means: the map (exact ticker, then `EXCHANGE:TICKER`), then the ticker
/// without an `EXCHANGE:` prefix.
fn resolve_symbol(
    hook: &Webhook,
    alert: &Alert,
    catalog: &crate::catalog::Catalog,
) -> Option<String> {
    let mut candidates = vec![alert.ticker.clone()];
    if let Some(ex) = &alert.exchange {
        candidates.push(format!("{ex}:{}", alert.ticker));
    }
    for c in &candidates {
        if let Some(to) = hook.symbols.get(c) {
            return Some(to.clone());
        }
    }
    let bare = alert
        .ticker
        .rsplit_once(':')
        .map_or(alert.ticker.as_str(), |(_, t)| t);
    if let Some(to) = hook.symbols.get(bare) {
        return Some(to.clone());
    }
    catalog.symbol(bare).map(|_| bare.to_string())
}

#[allow(clippy::result_large_err)] // the error is the HTTP answer itself, built once per refused request
fn decimal_px(d: Decimal, decimals: u32, field: &str, symbol: &str) -> Result<Px, Response> {
    let px = Px::try_from_decimal(d)
        .map_err(|e| refuse("INCORRECT_PRICE", format!("{field} {d} is not usable: {e}")))?;
    if px.decimals_used() > decimals {
        return Err(refuse(
            "INCORRECT_PRICE",
            format!("{field} {d} has more than {decimals} decimals, the most {symbol} allows"),
        ));
    }
    Ok(px)
}

pub async fn post_tradingview(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let received_ns = now_ns();
    let Some(hook) = s.webhooks.find(&token) else {
        return unauthorized();
    };
    let ip = client_ip(peer.ip(), &headers, &hook.trusted);
    if !in_any(ip, &hook.allow) {
        tracing::warn!(webhook = %hook.name, %ip, "webhook post from an address not on the allowlist");
        return hook_error(
            StatusCode::FORBIDDEN,
            "IP_NOT_ALLOWED",
            "forbidden",
            &format!("source address {ip} is not allowed to post to this webhook"),
            json!({}),
        );
    }
    let bytes = match crate::http::read_body(&s, &headers, body).await {
        Ok(b) => b,
        Err(e) => return api_error(e),
    };
    let alert = match bulwark_signals::parse(&bytes) {
        Ok(a) => a,
        Err(e) => return alert_error(&e),
    };
    if let Some(want) = &hook.secret_sha256 {
        let got = sha256(alert.secret.as_deref().unwrap_or("").as_bytes());
        if alert.secret.is_none() || !bool::from(want.ct_eq(&got)) {
            return unauthorized();
        }
    }
    match alert.time_ns {
        Some(t) => {
            let age = received_ns.saturating_sub(t);
            if age > hook.max_age_ns {
                return refuse(
                    "STALE_SIGNAL",
                    format!(
                        "signal time {} is {:.1} s old; this webhook accepts signals up to {} s old",
                        alert.time_text.as_deref().unwrap_or(""),
                        age as f64 / 1e9,
                        hook.max_age_ns / 1_000_000_000
                    ),
                );
            }
            if -age > hook.max_age_ns {
                return refuse(
                    "STALE_SIGNAL",
                    format!(
                        "signal time {} is {:.1} s in the future; check the sender's clock",
                        alert.time_text.as_deref().unwrap_or(""),
                        -age as f64 / 1e9
                    ),
                );
            }
        }
        None if hook.require_time => {
            return hook_error(
                StatusCode::BAD_REQUEST,
                "MISSING_TIME",
                "invalid-payload",
                "this webhook requires a time field (use \"time\":\"{{timenow}}\")",
                json!({"field": "time"}),
            )
        }
        None => {}
    }
    if alert.delayed_data && hook.delayed_data == DelayedDataPolicy::Reject {
        return refuse(
            "DELAYED_DATA",
            format!(
                "the alert came from delayed data (exchange {}_DL); this webhook trades only on real-time data",
                alert.exchange.as_deref().unwrap_or("")
            ),
        );
    }
    if (alert.take_profit.is_some() || alert.stop_loss.is_some())
        && hook.brackets == BracketPolicy::Reject
    {
        return refuse(
            "BRACKET_UNSUPPORTED",
            "the venue cannot hold attached take-profit/stop-loss orders; remove takeProfit and stopLoss, or set brackets = \"size_only\" on the webhook to use stopLoss for sizing only".into(),
        );
    }
    let Some(symbol_name) = resolve_symbol(hook, &alert, &s.catalog) else {
        return refuse(
            "UNKNOWN_SYMBOL",
            format!(
                "ticker `{}` maps to no configured symbol (add it to the webhook's symbols map)",
                alert.ticker
            ),
        );
    };
    let Some(symbol) = s.catalog.symbol(&symbol_name) else {
        return refuse(
            "UNKNOWN_SYMBOL",
            format!("symbol `{symbol_name}` is not configured"),
        );
    };
    let spec = s
        .catalog
        .symbol_spec(symbol)
        .expect("resolved symbol has a spec");
    let (ord_type, limit_px) = match alert.order_type {
        AlertOrderType::Market => (OrdType::Market, None),
        AlertOrderType::Limit => {
            let d = alert.limit_px.unwrap_or(Decimal::ZERO);
            match decimal_px(d, spec.px_decimals, "limitPrice", &spec.name) {
                Ok(px) => (OrdType::Limit, Some(px)),
                Err(r) => return r,
            }
        }
    };
    let tif = match alert.tif {
        None | Some(AlertTif::Day) => Tif::Day,
        Some(AlertTif::Gtc) => Tif::Gtc,
        Some(AlertTif::Ioc) => Tif::Ioc,
        Some(AlertTif::Fok) => Tif::Fok,
    };
    let key = bulwark_signals::idempotency_key(&hook.strategy, &alert);
    let request = SignalRequest {
        key,
        symbol,
        members: hook.members.clone(),
        options: PlanOptions {
            qty_decimals: spec.qty_decimals,
            multiplier: Decimal::from(*s.webhooks.multipliers.get(&spec.name).unwrap_or(&1)),
            add_on_same_side: hook.add_on_same_side,
        },
        ord_type,
        limit_px,
        tif,
        ext_hours: alert.extended_hours,
        alert,
    };
    let summary = Summary {
        key: request.key,
        symbol,
        ticker: request.alert.ticker.clone(),
        action: request.alert.action.as_str(),
        unkeyed: request.alert.time_text.is_none()
            && request.alert.order_id.is_none()
            && request.alert.signal_id.is_none(),
        brackets: request.alert.stop_loss.is_some() || request.alert.take_profit.is_some(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    if let Err(e) = crate::http::enqueue(
        &s,
        Inbound::Signal {
            ts_ns: received_ns,
            request: Box::new(request),
            reply: tx,
        },
    ) {
        return api_error(e);
    }
    let answer = match crate::http::await_reply(&s, rx)
        .await
        .and_then(crate::http::settled)
    {
        Ok(Answer::Signal(a)) => a,
        Ok(other) => {
            tracing::error!("unexpected sequencer answer to a signal: {other:?}");
            return api_error(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "unexpected answer from the sequencer",
            ));
        }
        Err(e) => return api_error(e),
    };
    answer_json(&s, hook, &summary, answer)
}

/// What the answer repeats of the signal.
struct Summary {
    key: SignalKey,
    symbol: SymbolId,
    ticker: String,
    action: &'static str,
    /// No time, orderId or signalId: the key cannot tell two identical signals apart.
    unkeyed: bool,
    brackets: bool,
}

#[derive(Serialize)]
struct SignalView<'a> {
    id: String,
    webhook: &'a str,
    strategy: &'a str,
    ticker: &'a str,
    symbol: &'a str,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seq: Option<u64>,
}

#[derive(Serialize)]
struct ReasonView {
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'static str>,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

#[derive(Serialize)]
struct CancelView {
    order_id: u64,
    accepted: bool,
    reason: Option<RejectView>,
}

#[derive(Serialize)]
struct AccountView<'a> {
    account: &'a str,
    status: &'static str,
    reason: Option<ReasonView>,
    orders: Vec<OrderView<'a>>,
    cancels: Vec<CancelView>,
}

#[derive(Serialize)]
struct AcceptedView<'a> {
    success: bool,
    duplicate: bool,
    signal: SignalView<'a>,
    accounts: Vec<AccountView<'a>>,
    warnings: Vec<&'static str>,
}

fn account_view<'a>(s: &'a AppState, symbol: SymbolId, a: &'a AccountOutcome) -> AccountView<'a> {
    let account = s.catalog.account_name(a.account);
    let children = match &a.result {
        Err(e) => {
            return AccountView {
                account,
                status: if e.code() == "NOTHING_TO_DO" {
                    "nothing_to_do"
                } else {
                    "not_sized"
                },
                reason: Some(ReasonView {
                    code: e.code(),
                    rule: None,
                    message: e.to_string(),
                    detail: None,
                }),
                orders: Vec::new(),
                cancels: Vec::new(),
            }
        }
        Ok(children) => children,
    };
    let mut orders = Vec::with_capacity(children.len());
    let mut cancels = Vec::new();
    let mut accepted = 0usize;
    let mut first_reject: Option<ReasonView> = None;
    for c in children {
        let reject = match c.decision.verdict {
            Verdict::Reject(r) => Some(RejectView::new(&s.catalog, &r, Some(symbol))),
            Verdict::Accept => {
                accepted += 1;
                None
            }
        };
        if first_reject.is_none() {
            first_reject = reject.as_ref().map(|r| ReasonView {
                code: r.code,
                rule: Some(r.rule),
                message: r.message.clone(),
                detail: Some(r.detail.clone()),
            });
        }
        match (c.role, &c.order) {
            (Some(role), Some(o)) => {
                let mut v = order_json(&s.catalog, o);
                v.role = Some(role.as_str());
                orders.push(v);
            }
            _ => cancels.push(CancelView {
                order_id: c.decision.order.0,
                accepted: reject.is_none(),
                reason: reject,
            }),
        }
    }
    let status = match (accepted, children.len()) {
        (a, n) if a == n => "accepted",
        (0, _) => "rejected",
        _ => "partially_accepted",
    };
    AccountView {
        account,
        status,
        reason: first_reject,
        orders,
        cancels,
    }
}

fn answer_json(s: &AppState, hook: &Webhook, sum: &Summary, answer: SignalAnswer) -> Response {
    let signal = |seq: Option<u64>, first_seq: Option<u64>| SignalView {
        id: sum.key.to_hex(),
        webhook: &hook.name,
        strategy: &hook.strategy,
        ticker: &sum.ticker,
        symbol: s.catalog.symbol_name(sum.symbol),
        action: sum.action,
        seq,
        first_seq,
    };
    match answer {
        SignalAnswer::Duplicate { first_seq } => {
            tracing::info!(webhook = %hook.name, key = %sum.key.to_hex(), first_seq, "duplicate webhook delivery ignored");
            (
                StatusCode::OK,
                Json(json!({"success": true, "duplicate": true, "signal": signal(None, Some(first_seq))})),
            )
                .into_response()
        }
        SignalAnswer::Done { seq, accounts } => {
            let list: Vec<AccountView<'_>> = accounts
                .iter()
                .map(|a| account_view(s, sum.symbol, a))
                .collect();
            let mut warnings = Vec::new();
            if sum.unkeyed {
                warnings.push("the signal has no time, orderId or signalId: an identical signal within 24 h will be treated as a duplicate; add \"time\":\"{{timenow}}\"");
            }
            if sum.brackets {
                warnings.push(
                    "takeProfit/stopLoss were used for sizing only; no attached orders were placed",
                );
            }
            match seq {
                Some(seq) => {
                    tracing::debug!(webhook = %hook.name, seq, accounts = list.len(), "webhook signal accepted");
                    (
                        StatusCode::ACCEPTED,
                        Json(AcceptedView {
                            success: true,
                            duplicate: false,
                            signal: signal(Some(seq), None),
                            accounts: list,
                            warnings,
                        }),
                    )
                        .into_response()
                }
                None => {
                    let (code, message) = accounts
                        .iter()
                        .find_map(|a| a.result.as_ref().err())
                        .map_or(("NOTHING_TO_DO", "nothing to do".to_string()), |e| {
                            (e.code(), e.to_string())
                        });
                    let all_nothing = accounts.iter().all(|a| {
                        a.result
                            .as_ref()
                            .err()
                            .is_none_or(|e| e.code() == "NOTHING_TO_DO")
                    });
                    let code = if all_nothing { "NOTHING_TO_DO" } else { code };
                    tracing::info!(webhook = %hook.name, code, "webhook signal had nothing to do");
                    hook_error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        code,
                        &code.to_ascii_lowercase().replace('_', "-"),
                        &message,
                        json!({"signal": signal(None, None), "accounts": list}),
                    )
                }
            }
        }
    }
}

/// The alert message to paste into TradingView for `hook` (spec §5.2's canonical strategy alert), and the URL.
pub fn template(config: &Config, name: &str) -> Result<(String, String), String> {
    let Some(w) = config.webhooks.iter().find(|w| w.name == name) else {
        let names: Vec<&str> = config.webhooks.iter().map(|w| w.name.as_str()).collect();
        return Err(if names.is_empty() {
            format!("no webhook `{name}`: the configuration has no [[webhooks]]")
        } else {
            format!("no webhook `{name}` (configured: {})", names.join(", "))
        });
    };
    let mut fields: Vec<(&str, String)> = vec![
        ("ticker", "{{ticker}}".into()),
        ("exchange", "{{exchange}}".into()),
        ("action", "{{strategy.order.action}}".into()),
        ("sentiment", "{{strategy.market_position}}".into()),
        ("quantity", "{{strategy.order.contracts}}".into()),
        ("signalPrice", "{{close}}".into()),
        ("orderId", "{{strategy.order.id}}".into()),
        ("positionSize", "{{strategy.position_size}}".into()),
        ("time", "{{timenow}}".into()),
    ];
    match (&w.secret, &w.secret_sha256) {
        (Some(secret), _) => fields.push(("secret", secret.clone())),
        (None, Some(_)) => fields.push((
            "secret",
            "<the secret whose sha256 is secret_sha256>".into(),
        )),
        (None, None) => {}
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", json!(k), json!(v)))
        .collect();
    let message = format!("{{{}}}", body.join(","));
    let token = w
        .token
        .clone()
        .unwrap_or_else(|| "<the token whose sha256 is token_sha256>".into());
    let url = format!("https://<your-host>/api/v1/webhooks/tradingview/{token}");
    Ok((message, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<(IpAddr, u8)> {
        list.iter()
            .map(|s| crate::config::parse_ip_net(s).unwrap())
            .collect()
    }

    #[test]
    fn cidr_blocks_match() {
        let n = nets(&["10.0.0.0/8", "52.89.214.238", "2001:db8::/32"]);
        assert!(in_any("10.1.2.3".parse().unwrap(), &n));
        assert!(in_any("52.89.214.238".parse().unwrap(), &n));
        assert!(!in_any("52.89.214.239".parse().unwrap(), &n));
        assert!(in_any("2001:db8::1".parse().unwrap(), &n));
        assert!(in_any("::ffff:10.9.9.9".parse().unwrap(), &n));
        assert!(in_any("1.2.3.4".parse().unwrap(), &nets(&["0.0.0.0/0"])));
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = nets(&["127.0.0.1", "10.0.0.0/8"]);
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.1.1.1, 52.89.214.238, 10.0.0.5".parse().unwrap(),
        );
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(local, &h, &trusted),
            "52.89.214.238".parse::<IpAddr>().unwrap()
        );
        let stranger: IpAddr = "203.0.113.5".parse().unwrap();
        assert_eq!(client_ip(stranger, &h, &trusted), stranger);
        assert_eq!(client_ip(local, &HeaderMap::new(), &trusted), local);
        let mut bad = HeaderMap::new();
        bad.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(client_ip(local, &bad, &trusted), local);
    }
}
