//! The alert parser. The body is read as JSON whatever the Content-Type says (TradingView sends `text/plain`
//! whenever the message is not valid JSON, so the header is only a hint). Three shapes are understood:
//!
//! * **TradersPost** (the default): `ticker`, `action` (buy, sell, exit, cancel, add), `sentiment`, `orderType`,
//!   `limitPrice`, `stopPrice`, `signalPrice`, legacy `price` (a limit order), `quantity`, `quantityType`,
//!   `timeInForce`, `extendedHours`, `takeProfit`, `stopLoss`, plus our `time`, `orderId`, `signalId`/`id` and
//!   `secret`. Unknown properties are ignored, as TradersPost does.
//! * **LuxAlgo** strategy alerts: a body with `strategy_event` (or `event`) instead of `action`, valued
//!   `long`, `short`, `exit long`, `exit short` (the `[[strategy_event]]` placeholder); `price` is the chart's
//!   signal price, not a limit.
//! * **OpenAlgo** alerts: `symbol` instead of `ticker`, `action` BUY/SELL, `pricetype` MARKET/LIMIT, `price`,
//!   `quantity`; `product`, `strategy` and `apikey` are ignored; `position_size` (smart orders) is refused.
//!
//! Numbers may arrive as strings; `""`, `"NA"`, `"NaN"` and values still holding a `{{placeholder}}` (or a
//! LuxAlgo `[[placeholder]]`) are refused as unresolved placeholders. The `_DL`/`_DLY` suffix of `exchange`
//! (delayed data) is stripped and remembered.

use bulwark_model::fixed::parse_decimal;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// Most bytes of a text field (ticker, ids, secret).
pub const TEXT_LEN_MAX: usize = 128;

/// Which producer's JSON shape the body had.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    TradersPost,
    LuxAlgo,
    OpenAlgo,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    /// Exit a short, then open (or, with `add_on_same_side`, add to) a long.
    Buy,
    /// Exit a long, then open a short.
    Sell,
    /// Close the position (all of it, or `quantity`); cancel working orders. Never reverses.
    Exit,
    /// Cancel working orders only; never touches the position.
    Cancel,
    /// Add to the position in its direction (or the sentiment's).
    Add,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Buy => "buy",
            Action::Sell => "sell",
            Action::Exit => "exit",
            Action::Cancel => "cancel",
            Action::Add => "add",
        }
    }
}

/// The position the signal intends to leave (TradersPost `sentiment`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sentiment {
    Long,
    Short,
    Flat,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AlertOrderType {
    Market,
    Limit,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AlertTif {
    Day,
    Gtc,
    Ioc,
    Fok,
}

/// How `quantity` is to be read (TradersPost `quantityType`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum QuantityType {
    FixedQuantity,
    DollarAmount,
    /// Money at risk between the entry price and the stop.
    RiskDollarAmount,
    PercentOfEquity,
    PercentOfPosition,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct TakeProfit {
    pub limit_px: Option<Decimal>,
    pub percent: Option<Decimal>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StopLoss {
    pub stop_px: Option<Decimal>,
    /// Distance from the entry price, in price units.
    pub amount: Option<Decimal>,
    pub percent: Option<Decimal>,
}

/// A validated alert.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Alert {
    pub shape: Shape,
    /// As sent (an `EXCHANGE:` prefix is left for the symbol map to resolve).
    pub ticker: String,
    /// Exchange with any `_DL`/`_DLY` suffix removed.
    pub exchange: Option<String>,
    /// The exchange carried a delayed-data suffix.
    pub delayed_data: bool,
    pub action: Action,
    /// The action text used in the idempotency key (lower case).
    pub action_text: String,
    pub sentiment: Option<Sentiment>,
    pub order_type: AlertOrderType,
    pub limit_px: Option<Decimal>,
    pub signal_px: Option<Decimal>,
    pub quantity: Option<Decimal>,
    pub quantity_type: QuantityType,
    /// The strategy's signed position after this order (`{{strategy.position_size}}`), when sent. On a reversal
    /// it sizes the new position, because Pine's order quantity then includes the part that closes the old one.
    pub position_size: Option<Decimal>,
    pub tif: Option<AlertTif>,
    pub extended_hours: bool,
    pub take_profit: Option<TakeProfit>,
    pub stop_loss: Option<StopLoss>,
    /// `time` in ns since the Unix epoch, and as sent (for the idempotency key).
    pub time_ns: Option<i64>,
    pub time_text: Option<String>,
    pub order_id: Option<String>,
    /// An explicit idempotency id (`signalId` or `id`).
    pub signal_id: Option<String>,
    pub secret: Option<String>,
}

/// Why a body is not an acceptable alert. Each has a code, a TradersPost-style message code and a sentence.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AlertError {
    #[error("the body is not valid JSON ({0}); TradingView sends the alert message as text/plain when it is not JSON, so check the alert's message field")]
    NotJson(String),
    #[error("The payload is invalid. The body must be a JSON object.")]
    NotAnObject,
    #[error("The payload is invalid. Both the action and ticker fields are required.")]
    MissingFields,
    #[error("Invalid action provided. Action must be one of: buy, sell, exit, cancel, add.")]
    InvalidAction(String),
    #[error("{field} holds an unresolved placeholder or no value ({value:?}); check the alert message's placeholders")]
    Unresolved { field: &'static str, value: String },
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{field}: {reason}")]
    Unsupported { field: &'static str, reason: String },
}

impl AlertError {
    /// Machine-readable code, as in the rest of the API.
    pub fn code(&self) -> &'static str {
        match self {
            AlertError::NotJson(_) => "MALFORMED_JSON",
            AlertError::NotAnObject | AlertError::MissingFields => "INVALID_PAYLOAD",
            AlertError::InvalidAction(_) => "INVALID_ACTION",
            AlertError::Unresolved { .. } => "UNRESOLVED_PLACEHOLDER",
            AlertError::Invalid { .. } => "INVALID_FIELD",
            AlertError::Unsupported { .. } => "UNSUPPORTED",
        }
    }
    /// TradersPost's `messageCode` spelling.
    pub fn message_code(&self) -> &'static str {
        match self {
            AlertError::NotJson(_) => "invalid-json",
            AlertError::NotAnObject | AlertError::MissingFields => "invalid-payload",
            AlertError::InvalidAction(_) => "invalid-action",
            AlertError::Unresolved { .. } => "unresolved-placeholder",
            AlertError::Invalid { .. } => "invalid-field",
            AlertError::Unsupported { .. } => "unsupported",
        }
    }
    /// 400 for malformed signals, 422 for well-formed ones asking for what this gateway cannot do.
    pub fn http_status(&self) -> u16 {
        match self {
            AlertError::Unsupported { .. } => 422,
            _ => 400,
        }
    }
    /// The field at fault, when one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AlertError::Unresolved { field, .. }
            | AlertError::Invalid { field, .. }
            | AlertError::Unsupported { field, .. } => Some(field),
            AlertError::InvalidAction(_) => Some("action"),
            _ => None,
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> AlertError {
    AlertError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn unsupported(field: &'static str, reason: impl Into<String>) -> AlertError {
    AlertError::Unsupported {
        field,
        reason: reason.into(),
    }
}

/// A value a placeholder left behind: empty, NA, NaN, or still holding `{{…}}` / `[[…]]`.
fn is_unresolved(text: &str) -> bool {
    let t = text.trim();
    t.is_empty()
        || t.eq_ignore_ascii_case("na")
        || t.eq_ignore_ascii_case("nan")
        || t.eq_ignore_ascii_case("n/a")
        || t.contains("{{")
        || t.contains("}}")
        || (t.contains("[[") && t.contains("]]"))
}

/// The body's fields, read with the shape's names.
struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A text field: strings, or numbers written as text.
    fn text(&self, field: &'static str, key: &str) -> Result<Option<String>, AlertError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(invalid(field, "must be a string")),
        };
        if is_unresolved(&text) {
            return Err(AlertError::Unresolved { field, value: text });
        }
        let text = text.trim().to_string();
        if text.len() > TEXT_LEN_MAX {
            return Err(invalid(
                field,
                format!("is longer than {TEXT_LEN_MAX} bytes"),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(invalid(field, "contains control characters"));
        }
        Ok(Some(text))
    }

    /// A decimal field: a JSON number or a decimal string, finite.
    fn decimal(&self, field: &'static str, key: &str) -> Result<Option<Decimal>, AlertError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(invalid(field, "must be a number or a decimal string")),
        };
        if is_unresolved(&text) {
            return Err(AlertError::Unresolved { field, value: text });
        }
        parse_decimal(&text).map(Some).map_err(|e| {
            invalid(
                field,
                format!("`{}` is not a usable number: {e}", text.trim()),
            )
        })
    }

    /// A decimal that must be greater than zero.
    fn positive(&self, field: &'static str, key: &str) -> Result<Option<Decimal>, AlertError> {
        match self.decimal(field, key)? {
            Some(d) if d <= Decimal::ZERO => Err(invalid(field, "must be greater than zero")),
            other => Ok(other),
        }
    }

    fn boolean(&self, field: &'static str, key: &str) -> Result<Option<bool>, AlertError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if is_unresolved(s) => Err(AlertError::Unresolved {
                field,
                value: s.clone(),
            }),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(invalid(field, "must be true or false")),
        }
    }

    fn object(&self, field: &'static str, key: &str) -> Result<Option<Fields<'a>>, AlertError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields { map })),
            Some(_) => Err(invalid(field, "must be an object")),
        }
    }
}

fn choose<T: Copy>(
    field: &'static str,
    text: &str,
    options: &[(&str, T)],
) -> Result<T, AlertError> {
    options
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            invalid(
                field,
                format!("`{text}` is not one of: {}", names.join(", ")),
            )
        })
}

/// Parses an alert body.
pub fn parse(body: &[u8]) -> Result<Alert, AlertError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| AlertError::NotJson(e.to_string()))?;
    let Value::Object(map) = &value else {
        return Err(AlertError::NotAnObject);
    };
    let f = Fields { map };
    let shape = if f.get("action").is_none()
        && (f.get("strategy_event").is_some() || f.get("event").is_some())
    {
        Shape::LuxAlgo
    } else if f.get("ticker").is_none()
        && (f.get("symbol").is_some() || f.get("pricetype").is_some() || f.get("apikey").is_some())
    {
        Shape::OpenAlgo
    } else {
        Shape::TradersPost
    };
    let ticker_key = if shape == Shape::OpenAlgo {
        "symbol"
    } else {
        "ticker"
    };
    let action_key = match shape {
        Shape::LuxAlgo if f.get("strategy_event").is_some() => "strategy_event",
        Shape::LuxAlgo => "event",
        _ => "action",
    };
    // Both required fields are checked before either's content, as TradersPost answers.
    if f.get(ticker_key).is_none() || f.get(action_key).is_none() {
        return Err(AlertError::MissingFields);
    }
    let ticker = f
        .text("ticker", ticker_key)?
        .ok_or(AlertError::MissingFields)?;
    let action_text = f
        .text("action", action_key)?
        .ok_or(AlertError::MissingFields)?
        .to_ascii_lowercase();
    let (action, implied_sentiment) = match shape {
        Shape::LuxAlgo => match action_text.as_str() {
            "long" => (Action::Buy, Some(Sentiment::Long)),
            "short" => (Action::Sell, Some(Sentiment::Short)),
            "exit long" => (Action::Sell, Some(Sentiment::Flat)),
            "exit short" => (Action::Buy, Some(Sentiment::Flat)),
            _ => {
                return Err(invalid(
                    "action",
                    format!("LuxAlgo strategy_event `{action_text}` is not one of: long, short, exit long, exit short"),
                ))
            }
        },
        _ => match action_text.as_str() {
            "buy" => (Action::Buy, None),
            "sell" => (Action::Sell, None),
            "exit" => (Action::Exit, None),
            "cancel" => (Action::Cancel, None),
            "add" => (Action::Add, None),
            _ => return Err(AlertError::InvalidAction(action_text)),
        },
    };
    let sentiment = match f.text("sentiment", "sentiment")? {
        Some(s) => Some(choose(
            "sentiment",
            &s,
            &[
                ("bullish", Sentiment::Long),
                ("long", Sentiment::Long),
                ("bearish", Sentiment::Short),
                ("short", Sentiment::Short),
                ("flat", Sentiment::Flat),
            ],
        )?),
        None => implied_sentiment,
    };

    let (exchange, delayed_data) = match f.text("exchange", "exchange")? {
        Some(e) => {
            let upper = e.to_ascii_uppercase();
            match upper
                .strip_suffix("_DLY")
                .or_else(|| upper.strip_suffix("_DL"))
            {
                Some(base) => (Some(base.to_string()), true),
                None => (Some(upper), false),
            }
        }
        None => (None, false),
    };

    // Order type and prices. TradersPost's legacy `price` means a limit order; LuxAlgo's is the chart price.
    let type_key = if shape == Shape::OpenAlgo {
        "pricetype"
    } else {
        "orderType"
    };
    let type_text = f.text("orderType", type_key)?;
    let mut limit_px = f.positive("limitPrice", "limitPrice")?;
    let mut signal_px = f.positive("signalPrice", "signalPrice")?;
    let price = f.positive("price", "price")?;
    let order_type = match (shape, type_text.as_deref()) {
        (Shape::OpenAlgo, t) => {
            let t = t.unwrap_or("MARKET");
            match t.to_ascii_uppercase().as_str() {
                "MARKET" => AlertOrderType::Market,
                "LIMIT" => {
                    limit_px = limit_px.or(price);
                    AlertOrderType::Limit
                }
                "SL" | "SL-M" => {
                    return Err(unsupported(
                        "orderType",
                        format!("pricetype {t} (a stop order) is not supported; the venue takes market and limit orders"),
                    ))
                }
                _ => return Err(invalid("orderType", format!("pricetype `{t}` is not one of: MARKET, LIMIT, SL, SL-M"))),
            }
        }
        (_, Some(t)) => match t.to_ascii_lowercase().as_str() {
            "market" => AlertOrderType::Market,
            "limit" => AlertOrderType::Limit,
            "stop" | "stop_limit" | "trailing_stop" => {
                return Err(unsupported(
                    "orderType",
                    format!(
                        "{t} orders are not supported; the venue takes market and limit orders"
                    ),
                ))
            }
            _ => {
                return Err(invalid(
                    "orderType",
                    format!("`{t}` is not one of: market, limit, stop, stop_limit, trailing_stop"),
                ))
            }
        },
        (Shape::TradersPost, None) if price.is_some() || limit_px.is_some() => {
            AlertOrderType::Limit
        }
        (_, None) => AlertOrderType::Market,
    };
    if shape == Shape::LuxAlgo {
        signal_px = signal_px.or(price);
    } else if shape == Shape::TradersPost && order_type == AlertOrderType::Limit {
        limit_px = limit_px.or(price);
    }
    match order_type {
        AlertOrderType::Limit if limit_px.is_none() => {
            return Err(invalid("limitPrice", "a limit order needs limitPrice"))
        }
        AlertOrderType::Market if limit_px.is_some() => {
            return Err(invalid(
                "limitPrice",
                "limitPrice is only allowed on limit orders",
            ))
        }
        _ => {}
    }
    if f.get("stopPrice").is_some() {
        f.positive("stopPrice", "stopPrice")?;
        return Err(unsupported(
            "stopPrice",
            "stop orders are not supported; the venue takes market and limit orders (use stopLoss for risk sizing)",
        ));
    }
    for key in ["trailAmount", "trailPercent"] {
        if f.get(key).is_some() {
            return Err(unsupported(
                if key == "trailAmount" {
                    "trailAmount"
                } else {
                    "trailPercent"
                },
                "trailing stops are not supported",
            ));
        }
    }
    if shape == Shape::OpenAlgo && f.get("position_size").is_some() {
        return Err(unsupported(
            "position_size",
            "OpenAlgo smart orders (position_size) are not supported; send action and quantity",
        ));
    }

    let quantity = f.positive("quantity", "quantity")?;
    let quantity_type = match f.text("quantityType", "quantityType")? {
        Some(t) => choose(
            "quantityType",
            &t,
            &[
                ("fixed_quantity", QuantityType::FixedQuantity),
                ("dollar_amount", QuantityType::DollarAmount),
                ("risk_dollar_amount", QuantityType::RiskDollarAmount),
                ("percent_of_equity", QuantityType::PercentOfEquity),
                ("percent_of_position", QuantityType::PercentOfPosition),
            ],
        )?,
        None => QuantityType::FixedQuantity,
    };
    let position_size = f.decimal("positionSize", "positionSize")?;
    let tif = match f.text("timeInForce", "timeInForce")? {
        Some(t) => match t.to_ascii_lowercase().as_str() {
            "day" => Some(AlertTif::Day),
            "gtc" => Some(AlertTif::Gtc),
            "ioc" => Some(AlertTif::Ioc),
            "fok" => Some(AlertTif::Fok),
            "gtd" | "opg" | "cls" => {
                return Err(unsupported(
                    "timeInForce",
                    format!("timeInForce {t} is not supported; use day, gtc, ioc or fok"),
                ))
            }
            _ => {
                return Err(invalid(
                    "timeInForce",
                    format!("`{t}` is not one of: day, gtc, gtd, opg, cls, ioc, fok"),
                ))
            }
        },
        None => None,
    };
    let extended_hours = f
        .boolean("extendedHours", "extendedHours")?
        .unwrap_or(false);

    let take_profit = match f.object("takeProfit", "takeProfit")? {
        Some(o) => {
            let tp = TakeProfit {
                limit_px: match o.positive("takeProfit.limitPrice", "limitPrice")? {
                    Some(p) => Some(p),
                    None => o.positive("takeProfit.price", "price")?,
                },
                percent: o.positive("takeProfit.percent", "percent")?,
            };
            if tp.limit_px.is_none() && tp.percent.is_none() {
                return Err(invalid(
                    "takeProfit",
                    "needs one of limitPrice, price or percent",
                ));
            }
            Some(tp)
        }
        None => None,
    };
    let stop_loss = match f.object("stopLoss", "stopLoss")? {
        Some(o) => {
            if let Some(t) = o.text("stopLoss.type", "type")? {
                choose(
                    "stopLoss.type",
                    &t,
                    &[("stop", ()), ("stop_limit", ()), ("trailing_stop", ())],
                )?;
            }
            let sl = StopLoss {
                stop_px: o.positive("stopLoss.stopPrice", "stopPrice")?,
                amount: o.positive("stopLoss.amount", "amount")?,
                percent: o.positive("stopLoss.percent", "percent")?,
            };
            if sl.stop_px.is_none() && sl.amount.is_none() && sl.percent.is_none() {
                return Err(invalid(
                    "stopLoss",
                    "needs one of stopPrice, amount or percent",
                ));
            }
            Some(sl)
        }
        None => None,
    };

    let time_text = f.text("time", "time")?;
    let time_ns = match &time_text {
        Some(t) => Some(parse_time(t)?),
        None => None,
    };
    let order_id = f.text("orderId", "orderId")?;
    let signal_id = match f.text("signalId", "signalId")? {
        Some(id) => Some(id),
        None if shape != Shape::LuxAlgo => f.text("id", "id")?,
        None => None,
    };
    let secret = match f.get("secret") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid("secret", "must be a string")),
    };
    Ok(Alert {
        shape,
        ticker,
        exchange,
        delayed_data,
        action,
        action_text,
        sentiment,
        order_type,
        limit_px,
        signal_px,
        quantity,
        quantity_type,
        position_size,
        tif,
        extended_hours,
        take_profit,
        stop_loss,
        time_ns,
        time_text,
        order_id,
        signal_id,
        secret,
    })
}

/// `time` as TradingView writes `{{timenow}}` (`2026-11-20T15:00:01Z`), or any RFC 3339 time.
fn parse_time(text: &str) -> Result<i64, AlertError> {
    let t = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
        invalid(
            "time",
            format!("`{text}` is not an RFC 3339 time like 2026-11-20T15:00:01Z: {e}"),
        )
    })?;
    t.timestamp_nanos_opt()
        .ok_or_else(|| invalid("time", format!("`{text}` is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn ok(body: &str) -> Alert {
        parse(body.as_bytes()).expect("parses")
    }
    fn err(body: &str) -> AlertError {
        parse(body.as_bytes()).expect_err("refused")
    }
    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn w_1_body_parses_with_string_numbers_and_time() {
        let a = ok(
            r#"{"ticker":"AAPL","action":"buy","quantity":"10","secret":"ok","time":"2026-11-20T15:00:01Z"}"#,
        );
        assert_eq!(a.shape, Shape::TradersPost);
        assert_eq!(a.action, Action::Buy);
        assert_eq!(a.quantity, Some(d("10")));
        assert_eq!(a.order_type, AlertOrderType::Market);
        assert_eq!(a.secret.as_deref(), Some("ok"));
        assert_eq!(a.time_ns, Some(1_795_186_801_000_000_000));
    }

    #[test]
    fn w_3_invalid_action_has_traderspost_message() {
        let e = err(r#"{"ticker":"NQ","action":"bu"}"#);
        assert_eq!(e.message_code(), "invalid-action");
        assert_eq!(
            e.to_string(),
            "Invalid action provided. Action must be one of: buy, sell, exit, cancel, add."
        );
        assert_eq!(e.http_status(), 400);
    }

    #[test]
    fn w_4_missing_ticker_or_action() {
        for body in [r#"{"action":"buy"}"#, r#"{"ticker":"AAPL"}"#, "{}"] {
            let e = err(body);
            assert_eq!(e, AlertError::MissingFields, "{body}");
            assert_eq!(
                e.to_string(),
                "The payload is invalid. Both the action and ticker fields are required."
            );
        }
    }

    #[test]
    fn w_9_unresolved_placeholders_and_nan_are_refused() {
        for q in [
            r#""{{strategy.order.contracts}}""#,
            r#""NaN""#,
            r#""NA""#,
            r#""""#,
            r#"" ""#,
        ] {
            let e = err(&format!(
                r#"{{"ticker":"AAPL","action":"buy","quantity":{q}}}"#
            ));
            assert_eq!(e.code(), "UNRESOLVED_PLACEHOLDER", "{q}");
            assert_eq!(e.field(), Some("quantity"));
        }
        let e = err(r#"{"ticker":"{{ticker}}","action":"buy"}"#);
        assert_eq!(e.field(), Some("ticker"));
        let e = err(r#"{"ticker":"AAPL","action":"{{strategy.order.action}}"}"#);
        assert_eq!(e.code(), "UNRESOLVED_PLACEHOLDER");
    }

    #[test]
    fn numbers_as_json_numbers_and_strings_are_equal() {
        let a = ok(
            r#"{"ticker":"AAPL","action":"buy","orderType":"limit","limitPrice":420.69,"quantity":1.5}"#,
        );
        let b = ok(
            r#"{"ticker":"AAPL","action":"buy","orderType":"limit","limitPrice":"420.69","quantity":"1.5"}"#,
        );
        assert_eq!(a.limit_px, Some(d("420.69")));
        assert_eq!(a.limit_px, b.limit_px);
        assert_eq!(a.quantity, b.quantity);
    }

    #[test]
    fn legacy_price_means_a_limit_order() {
        let a = ok(r#"{"ticker":"TSLA","action":"buy","price":"420.69"}"#);
        assert_eq!(a.order_type, AlertOrderType::Limit);
        assert_eq!(a.limit_px, Some(d("420.69")));
    }

    #[test]
    fn delayed_exchange_suffix_is_stripped_and_remembered() {
        let a = ok(r#"{"ticker":"CL1!","action":"buy","exchange":"NYMEX_DL"}"#);
        assert_eq!(a.exchange.as_deref(), Some("NYMEX"));
        assert!(a.delayed_data);
        let a = ok(r#"{"ticker":"AAPL","action":"buy","exchange":"nasdaq_dly"}"#);
        assert_eq!(a.exchange.as_deref(), Some("NASDAQ"));
        assert!(a.delayed_data);
        let a = ok(r#"{"ticker":"AAPL","action":"buy","exchange":"NASDAQ"}"#);
        assert!(!a.delayed_data);
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            (
                r#"{"ticker":"A","action":"buy","quantity":"-1"}"#,
                "quantity",
                "INVALID_FIELD",
            ),
            (
                r#"{"ticker":"A","action":"buy","quantity":"ten"}"#,
                "quantity",
                "INVALID_FIELD",
            ),
            (
                r#"{"ticker":"A","action":"buy","quantity":true}"#,
                "quantity",
                "INVALID_FIELD",
            ),
            (
                r#"{"ticker":"A","action":"buy","sentiment":"up"}"#,
                "sentiment",
                "INVALID_FIELD",
            ),
            (
                r#"{"ticker":"A","action":"buy","orderType":"stop","stopPrice":1}"#,
                "orderType",
                "UNSUPPORTED",
            ),
            (
                r#"{"ticker":"A","action":"buy","stopPrice":1}"#,
                "stopPrice",
                "UNSUPPORTED",
            ),
            (
                r#"{"ticker":"A","action":"buy","orderType":"limit"}"#,
                "limitPrice",
                "INVALID_FIELD",
            ),
            (
                r#"{"ticker":"A","action":"buy","limitPrice":1,"orderType":"market"}"#,
                "limitPrice",
                "INVALID_FIELD",
            ),
            (
                r#"{"ticker":"A","action":"buy","timeInForce":"gtd"}"#,
                "timeInForce",
                "UNSUPPORTED",
            ),
            (
                r#"{"ticker":"A","action":"buy","time":"yesterday"}"#,
                "time",
                "INVALID_FIELD",
            ),
            (
                r#"{"ticker":"A","action":"buy","extendedHours":"maybe"}"#,
                "extendedHours",
                "INVALID_FIELD",
            ),
            (
                r#"{"ticker":"A","action":"buy","takeProfit":{}}"#,
                "takeProfit",
                "INVALID_FIELD",
            ),
            (
                r#"{"ticker":"A","action":"buy","quantityType":"lots"}"#,
                "quantityType",
                "INVALID_FIELD",
            ),
            (r#"{"ticker":1e400,"action":"buy"}"#, "", "MALFORMED_JSON"),
        ];
        for (body, field, code) in cases {
            let e = err(body);
            assert_eq!(e.code(), code, "{body}: {e}");
            if !field.is_empty() {
                assert_eq!(e.field(), Some(field), "{body}: {e}");
            }
        }
        assert_eq!(err("not json").code(), "MALFORMED_JSON");
        assert_eq!(err("[1,2]"), AlertError::NotAnObject);
    }

    #[test]
    fn unknown_properties_are_ignored() {
        let a = ok(
            r#"{"ticker":"AAPL","action":"sell","positionSize":"0","interval":"5","comment":"x"}"#,
        );
        assert_eq!(a.action, Action::Sell);
    }

    #[test]
    fn luxalgo_events_map_to_actions_and_sentiments() {
        let cases = [
            ("long", Action::Buy, Sentiment::Long),
            ("short", Action::Sell, Sentiment::Short),
            ("exit long", Action::Sell, Sentiment::Flat),
            ("Exit Short", Action::Buy, Sentiment::Flat),
        ];
        for (event, action, sentiment) in cases {
            let a = ok(&format!(
                r#"{{"ticker":"ESZ2026","strategy_event":"{event}","price":"6010.25","time":"2026-11-20T15:00:01Z"}}"#
            ));
            assert_eq!(a.shape, Shape::LuxAlgo);
            assert_eq!((a.action, a.sentiment), (action, Some(sentiment)));
            assert_eq!(
                a.order_type,
                AlertOrderType::Market,
                "LuxAlgo price is the signal price"
            );
            assert_eq!(a.signal_px, Some(d("6010.25")));
        }
        assert_eq!(
            err(r#"{"ticker":"ES","strategy_event":"[[strategy_event]]"}"#).code(),
            "UNRESOLVED_PLACEHOLDER"
        );
    }

    #[test]
    fn openalgo_alerts_map_cleanly() {
        let a = ok(
            r#"{"apikey":"k","strategy":"s","symbol":"RELIANCE","action":"BUY","exchange":"NSE","pricetype":"LIMIT","price":"2500.5","product":"MIS","quantity":"1"}"#,
        );
        assert_eq!(a.shape, Shape::OpenAlgo);
        assert_eq!(a.ticker, "RELIANCE");
        assert_eq!(a.action, Action::Buy);
        assert_eq!(a.order_type, AlertOrderType::Limit);
        assert_eq!(a.limit_px, Some(d("2500.5")));
        let a = ok(r#"{"symbol":"SBIN","action":"sell","pricetype":"MARKET","quantity":5}"#);
        assert_eq!(a.order_type, AlertOrderType::Market);
        assert_eq!(
            err(r#"{"symbol":"SBIN","action":"BUY","position_size":"10"}"#).code(),
            "UNSUPPORTED"
        );
        assert_eq!(
            err(r#"{"symbol":"SBIN","action":"BUY","pricetype":"SL"}"#).code(),
            "UNSUPPORTED"
        );
    }

    #[test]
    fn brackets_are_read() {
        let a = ok(
            r#"{"ticker":"AAPL","action":"buy","takeProfit":{"percent":"2"},"stopLoss":{"type":"stop","stopPrice":"180"}}"#,
        );
        assert_eq!(a.take_profit.unwrap().percent, Some(d("2")));
        assert_eq!(a.stop_loss.unwrap().stop_px, Some(d("180")));
    }
}
