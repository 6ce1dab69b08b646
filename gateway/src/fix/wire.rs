//! FIX messages in and out, with no QuickFIX data dictionary: the acceptor runs with `UseDataDictionary=N`
//! and this module validates the four supported application messages in code (required tags per spec §6.1,
//! enumerations, number formats, precision per symbol), turning a violation into the answer FIX prescribes:
//! a session-level Reject (35=3) for a missing or malformed tag, an ExecutionReport (35=8) or
//! OrderCancelReject (35=9) for an order the gateway understood but refuses, and a BusinessMessageReject
//! (35=j) only for message types it does not support. Outbound messages are plain tag lists ([`Out`]) that
//! the acceptor turns into QuickFIX messages.

use crate::catalog::Catalog;
use bulwark_model::*;

/// The two supported protocol versions.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FixVersion {
    Fix42,
    Fix44,
}

impl FixVersion {
    pub fn from_begin_string(s: &str) -> Option<FixVersion> {
        match s {
            "FIX.4.2" => Some(FixVersion::Fix42),
            "FIX.4.4" => Some(FixVersion::Fix44),
            _ => None,
        }
    }
}

/// An outbound message: its type and body fields in order (QuickFIX adds header and trailer).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Out {
    pub msg_type: &'static str,
    pub fields: Vec<(i32, String)>,
}

impl Out {
    fn new(msg_type: &'static str) -> Out {
        Out {
            msg_type,
            fields: Vec::with_capacity(20),
        }
    }
    fn f(mut self, tag: i32, v: impl ToString) -> Out {
        self.fields.push((tag, v.to_string()));
        self
    }
    fn opt(self, tag: i32, v: Option<&str>) -> Out {
        match v {
            Some(v) if !v.is_empty() => self.f(tag, v),
            _ => self,
        }
    }
}

/// An inbound application message, read out of QuickFIX: its type, sequence number and body fields.
#[derive(Clone, Debug, Default)]
pub struct Inbound {
    pub msg_type: String,
    pub seq_num: u64,
    pub fields: Vec<(i32, String)>,
}

impl Inbound {
    pub fn get(&self, tag: i32) -> Option<&str> {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }
}

/// What a client sent, as the gateway will echo it on an ExecutionReport.
#[derive(Clone, Debug, Default)]
pub struct Echo {
    pub cl_ord_id: String,
    pub orig_cl_ord_id: Option<String>,
    pub account: Option<String>,
    pub symbol: String,
    pub side: String,
    pub qty: Option<String>,
    pub ord_type: Option<String>,
    pub price: Option<String>,
}

/// A validated application request, ready for the sequencer.
#[derive(Clone, Debug)]
pub enum Request {
    New(NewOrder),
    Cancel(CancelOrder),
    Replace(ReplaceOrder),
    Status { account: AccountId, target: ClOrdId },
}

/// Why an inbound message cannot become a request, and so the answer it gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Session-level Reject (35=3): `373` reason, `371` tag.
    Session { tag: i32, reason: u32, text: String },
    /// A NewOrderSingle refused before the risk chain: ExecutionReport rejected.
    Order(Reject, String),
    /// A cancel or replace refused before the risk chain: OrderCancelReject.
    CancelReject(Reject, String),
    /// BusinessMessageReject (35=j): unsupported message type.
    Unsupported,
}

/// SessionRejectReason (373) values used here.
pub const SRR_REQUIRED_TAG_MISSING: u32 = 1;
pub const SRR_VALUE_INCORRECT: u32 = 5;
pub const SRR_INCORRECT_DATA_FORMAT: u32 = 6;

fn missing(tag: i32) -> Refusal {
    Refusal::Session {
        tag,
        reason: SRR_REQUIRED_TAG_MISSING,
        text: "Required tag missing".into(),
    }
}

fn bad_value(tag: i32, v: &str) -> Refusal {
    Refusal::Session {
        tag,
        reason: SRR_VALUE_INCORRECT,
        text: format!("Value is incorrect (out of range) for this tag: `{v}`"),
    }
}

fn bad_format(tag: i32, v: &str) -> Refusal {
    Refusal::Session {
        tag,
        reason: SRR_INCORRECT_DATA_FORMAT,
        text: format!("Incorrect data format for value: `{v}`"),
    }
}

fn req(m: &Inbound, tag: i32) -> Result<&str, Refusal> {
    match m.get(tag) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(missing(tag)),
    }
}

fn side_of(v: &str) -> Result<Side, Refusal> {
    match v {
        "1" => Ok(Side::Buy),
        "2" => Ok(Side::Sell),
        // Sell short (5, 6) and the rest are valid FIX but not supported here: an order-level reject says so.
        "3" | "4" | "5" | "6" | "7" | "8" | "9" | "A" | "B" | "C" | "D" | "E" | "F" | "G" => {
            Err(Refusal::Order(
                Reject::plain(RuleId::Input, RejectReason::Unsupported),
                format!("Side {v} is not supported (1 buy, 2 sell)"),
            ))
        }
        _ => Err(bad_value(54, v)),
    }
}

fn ord_type_of(v: &str) -> Result<OrdType, Refusal> {
    match v {
        "1" => Ok(OrdType::Market),
        "2" => Ok(OrdType::Limit),
        "3" | "4" | "5" | "6" | "7" | "8" | "9" | "A" | "B" | "C" | "D" | "E" | "F" | "G" | "H"
        | "I" | "J" | "K" | "L" | "M" | "P" => Err(Refusal::Order(
            Reject::plain(RuleId::Input, RejectReason::Unsupported),
            format!("OrdType {v} is not supported (1 market, 2 limit)"),
        )),
        _ => Err(bad_value(40, v)),
    }
}

fn tif_of(v: Option<&str>) -> Result<Tif, Refusal> {
    match v {
        None | Some("0") => Ok(Tif::Day),
        Some("1") => Ok(Tif::Gtc),
        Some("3") => Ok(Tif::Ioc),
        Some("4") => Ok(Tif::Fok),
        Some(v @ ("2" | "5" | "6" | "7" | "8")) => Err(Refusal::Order(
            Reject::plain(RuleId::Input, RejectReason::Unsupported),
            format!("TimeInForce {v} is not supported (0 day, 1 GTC, 3 IOC, 4 FOK)"),
        )),
        Some(v) => Err(bad_value(59, v)),
    }
}

/// A decimal field within the symbol's precision.
fn decimal<T>(
    tag: i32,
    v: &str,
    decimals_max: u32,
    parse: fn(&str) -> Result<T, FixedError>,
    used: fn(&T) -> u32,
    order_level: bool,
) -> Result<T, Refusal> {
    // FIX floats: digits with an optional sign and point; no exponent.
    if v.is_empty()
        || !v
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(bad_format(tag, v));
    }
    let x = parse(v).map_err(|_| bad_format(tag, v))?;
    if used(&x) > decimals_max {
        let text = format!("tag {tag} `{v}` has more than {decimals_max} decimals");
        let reject = Reject::plain(RuleId::Input, RejectReason::IncorrectQuantity);
        return Err(if order_level {
            Refusal::Order(reject, text)
        } else {
            Refusal::CancelReject(reject, text)
        });
    }
    Ok(x)
}

fn cl_ord_id(tag: i32, v: &str) -> Result<ClOrdId, Refusal> {
    ClOrdId::try_new(v).map_err(|e| Refusal::Session {
        tag,
        reason: SRR_VALUE_INCORRECT,
        text: e.to_string(),
    })
}

/// Everything a session needs to resolve accounts: the accounts it may trade, the first being its default.
#[derive(Clone, Debug)]
pub struct SessionScope {
    pub version: FixVersion,
    pub accounts: Vec<AccountId>,
}

/// The account a request is for: the one its tag 1 names, which must be one of the session's. Without tag 1, a
/// new order needs a session with exactly one account: on a session that trades several, guessing one could put
/// the order on the wrong account. A cancel, replace or status request without tag 1 looks on the session's
/// first account (it can only find an order that exists there). The error carries the reject's text.
fn account_of(
    m: &Inbound,
    scope: &SessionScope,
    c: &Catalog,
) -> Result<AccountId, (Reject, String)> {
    let unknown = Reject::plain(RuleId::Account, RejectReason::UnknownAccount);
    match m.get(1) {
        None | Some("") => match scope.accounts.as_slice() {
            [] => Err((unknown, "This session trades no account".to_string())),
            [first, ..] if m.msg_type != "D" => Ok(*first),
            [only] => Ok(*only),
            several => Err((
                unknown,
                format!(
                    "Account (tag 1) is required on a new order: this session trades {} accounts ({})",
                    several.len(),
                    several
                        .iter()
                        .map(|a| c.account_name(*a))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        },
        Some(name) => c
            .account(name)
            .filter(|a| scope.accounts.contains(a))
            .ok_or_else(|| (unknown, format!("Unknown account {name}"))),
    }
}

/// The echo of what the client sent.
pub fn echo(m: &Inbound) -> Echo {
    Echo {
        cl_ord_id: m.get(11).unwrap_or("NONE").to_string(),
        orig_cl_ord_id: m.get(41).map(str::to_string),
        account: m.get(1).map(str::to_string),
        symbol: m.get(55).unwrap_or("").to_string(),
        side: m.get(54).unwrap_or("").to_string(),
        qty: m.get(38).map(str::to_string),
        ord_type: m.get(40).map(str::to_string),
        price: m.get(44).map(str::to_string),
    }
}

/// Validates an application message into a request for the sequencer.
pub fn decode(m: &Inbound, scope: &SessionScope, c: &Catalog) -> Result<Request, Refusal> {
    match m.msg_type.as_str() {
        "D" => decode_new(m, scope, c).map(Request::New),
        "F" => {
            let orig = req(m, 41)?;
            let cl = req(m, 11)?;
            req(m, 55)?;
            side_of(req(m, 54)?).map_err(as_cancel_reject)?;
            req(m, 60)?;
            let cl = cl_ord_id(11, cl)?;
            let orig = cl_ord_id(41, orig)?;
            let account =
                account_of(m, scope, c).map_err(|(r, text)| Refusal::CancelReject(r, text))?;
            Ok(Request::Cancel(CancelOrder {
                account,
                target: CancelTarget::ByClOrdId(orig),
                ingress: Ingress::Fix,
                cl_ord_id: Some(cl),
            }))
        }
        "G" => {
            let orig = cl_ord_id(41, req(m, 41)?)?;
            let cl = cl_ord_id(11, req(m, 11)?)?;
            if scope.version == FixVersion::Fix42 {
                req(m, 21)?;
            }
            let symbol_text = req(m, 55)?;
            side_of(req(m, 54)?).map_err(as_cancel_reject)?;
            req(m, 60)?;
            let ord_type = ord_type_of(req(m, 40)?).map_err(as_cancel_reject)?;
            let qty_text = req(m, 38)?;
            let account =
                account_of(m, scope, c).map_err(|(r, text)| Refusal::CancelReject(r, text))?;
            let (_, qty, limit_px) = instrument(m, c, symbol_text, qty_text, ord_type, false)?;
            Ok(Request::Replace(ReplaceOrder {
                account,
                target: CancelTarget::ByClOrdId(orig),
                cl_ord_id: cl,
                qty,
                limit_px,
            }))
        }
        "H" => {
            let cl = cl_ord_id(11, req(m, 11)?)?;
            req(m, 55)?;
            req(m, 54)?;
            let account =
                account_of(m, scope, c).map_err(|(r, text)| Refusal::CancelReject(r, text))?;
            Ok(Request::Status {
                account,
                target: cl,
            })
        }
        _ => Err(Refusal::Unsupported),
    }
}

fn as_cancel_reject(r: Refusal) -> Refusal {
    match r {
        Refusal::Order(reject, text) => Refusal::CancelReject(reject, text),
        other => other,
    }
}

fn limit_price(
    m: &Inbound,
    ord_type: OrdType,
    px_decimals: u32,
    order_level: bool,
) -> Result<Option<Px>, Refusal> {
    match (ord_type, m.get(44)) {
        (OrdType::Limit, None | Some("")) => Err(missing(44)),
        (OrdType::Limit, Some(v)) => decimal(
            44,
            v,
            px_decimals.max(4),
            Px::parse,
            |p| p.decimals_used(),
            order_level,
        )
        .map(Some),
        (OrdType::Market, _) => Ok(None),
    }
}

/// The symbol, quantity and limit price of an order or replace, within the symbol's precision.
fn instrument(
    m: &Inbound,
    c: &Catalog,
    symbol_text: &str,
    qty_text: &str,
    ord_type: OrdType,
    order_level: bool,
) -> Result<(SymbolId, Qty, Option<Px>), Refusal> {
    let Some(symbol) = c.symbol(symbol_text) else {
        let r = Reject::plain(RuleId::Symbol, RejectReason::UnknownSymbol);
        let text = format!("Unknown symbol {symbol_text}");
        return Err(if order_level {
            Refusal::Order(r, text)
        } else {
            Refusal::CancelReject(r, text)
        });
    };
    let spec = c.symbol_spec(symbol).expect("catalog symbol");
    let qty = decimal(
        38,
        qty_text,
        spec.qty_decimals,
        Qty::parse,
        |q| q.decimals_used(),
        order_level,
    )?;
    let limit_px = limit_price(m, ord_type, spec.px_decimals, order_level)?;
    Ok((symbol, qty, limit_px))
}

fn decode_new(m: &Inbound, scope: &SessionScope, c: &Catalog) -> Result<NewOrder, Refusal> {
    // Required tags first, in the order the dictionary lists them, so the first missing one is named.
    let cl = req(m, 11)?;
    if scope.version == FixVersion::Fix42 {
        req(m, 21)?;
    }
    let symbol_text = req(m, 55)?;
    let side_text = req(m, 54)?;
    req(m, 60)?;
    let qty_text = req(m, 38)?;
    let ord_type_text = req(m, 40)?;
    let cl_ord_id = cl_ord_id(11, cl)?;
    let side = side_of(side_text)?;
    let ord_type = ord_type_of(ord_type_text)?;
    let tif = tif_of(m.get(59))?;
    let account = account_of(m, scope, c).map_err(|(r, text)| Refusal::Order(r, text))?;
    let (symbol, qty, limit_px) = instrument(m, c, symbol_text, qty_text, ord_type, true)?;
    Ok(NewOrder {
        account,
        symbol,
        side,
        ord_type,
        tif,
        qty,
        limit_px,
        cl_ord_id,
        ingress: Ingress::Fix,
        ext_hours: false,
    })
}

/// OrdRejReason (103) for a reject in this protocol version.
pub fn ord_rej_reason(v: FixVersion, r: &Reject) -> u32 {
    match v {
        FixVersion::Fix44 => r.reason.fix44_ord_rej_reason(),
        FixVersion::Fix42 => r.reason.fix42_ord_rej_reason(),
    }
}

/// Tag 58 for a risk reject, `RISK:<RULE>:<detail>` with market-hours rejects naming the calendar.
pub fn risk_text(c: &Catalog, r: &Reject, symbol: Option<SymbolId>) -> String {
    let detail = c.reject_detail(r, symbol);
    if detail.is_empty() {
        format!("RISK:{}:{}", r.rule.as_str(), r.reason.code())
    } else {
        format!("RISK:{}:{}", r.rule.as_str(), detail)
    }
}

/// OrdStatus (39) of an order.
pub fn ord_status(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::PendingNew => "A",
        OrderStatus::New => "0",
        OrderStatus::PartiallyFilled => "1",
        OrderStatus::Filled => "2",
        OrderStatus::PendingCancel => "6",
        OrderStatus::Canceled => "4",
        OrderStatus::Rejected => "8",
        _ => "0",
    }
}

/// The fields of an ExecutionReport.
#[derive(Clone, Debug)]
pub struct Exec<'a> {
    pub version: FixVersion,
    pub order_id: Option<OrderId>,
    pub exec_id: &'a str,
    /// ExecType (150) in FIX 4.4 terms; fills are mapped to 1/2 for FIX 4.2.
    pub exec_type: &'static str,
    pub ord_status: &'static str,
    pub echo: &'a Echo,
    pub leaves: &'a str,
    pub cum: &'a str,
    pub avg_px: &'a str,
    pub last: Option<(String, String)>,
    pub ord_rej_reason: Option<u32>,
    pub text: Option<&'a str>,
    pub tif: Option<&'static str>,
}

/// ExecutionReport (35=8) as spec §6: echo 11, 41, 1, 55, 54, 38, 40, 44; 4.2 adds ExecTransType 20=0 (20=3 for
/// a status answer).
pub fn exec_report(e: &Exec<'_>) -> Out {
    let exec_type = match (e.version, e.exec_type) {
        (FixVersion::Fix42, "F") if e.ord_status == "2" => "2",
        (FixVersion::Fix42, "F") => "1",
        (FixVersion::Fix42, "I") => e.ord_status,
        (_, t) => t,
    };
    let mut out = Out::new("8")
        .f(
            37,
            e.order_id
                .map_or_else(|| "NONE".to_string(), |o| o.0.to_string()),
        )
        .f(11, &e.echo.cl_ord_id)
        .opt(41, e.echo.orig_cl_ord_id.as_deref())
        .f(17, e.exec_id);
    if e.version == FixVersion::Fix42 {
        out = out.f(20, if e.exec_type == "I" { "3" } else { "0" });
    }
    out = out
        .f(150, exec_type)
        .f(39, e.ord_status)
        .opt(1, e.echo.account.as_deref())
        .f(55, &e.echo.symbol)
        .f(54, &e.echo.side)
        .opt(38, e.echo.qty.as_deref())
        .opt(40, e.echo.ord_type.as_deref())
        .opt(44, e.echo.price.as_deref())
        .opt(59, e.tif);
    if let Some((qty, px)) = &e.last {
        out = out.f(32, qty).f(31, px);
    }
    out = out.f(151, e.leaves).f(14, e.cum).f(6, e.avg_px);
    if let Some(r) = e.ord_rej_reason {
        out = out.f(103, r);
    }
    out.opt(58, e.text)
}

/// OrderCancelReject (35=9): `response_to` 1 = cancel, 2 = replace; `reason` CxlRejReason (102).
pub fn cancel_reject(
    order_id: Option<OrderId>,
    echo: &Echo,
    ord_status: &str,
    response_to: u32,
    reason: u32,
    text: &str,
) -> Out {
    Out::new("9")
        .f(
            37,
            order_id.map_or_else(|| "NONE".to_string(), |o| o.0.to_string()),
        )
        .f(11, &echo.cl_ord_id)
        .f(41, echo.orig_cl_ord_id.as_deref().unwrap_or("NONE"))
        .f(39, ord_status)
        .opt(1, echo.account.as_deref())
        .f(434, response_to)
        .f(102, reason)
        .f(58, text)
}

/// CxlRejReason (102) for a refused cancel or replace.
pub fn cxl_rej_reason(r: &Reject) -> u32 {
    match r.reason {
        RejectReason::UnknownOrder => 1,
        RejectReason::TooLateToCancel => 0,
        RejectReason::Duplicate => 6,
        _ => 2,
    }
}

/// BusinessMessageReject (35=j) for an unsupported message type (380=3).
pub fn business_reject(ref_seq: u64, ref_msg_type: &str, ref_id: Option<&str>) -> Out {
    Out::new("j")
        .f(45, ref_seq)
        .f(372, ref_msg_type)
        .opt(379, ref_id)
        .f(380, 3)
        .f(58, "Unsupported message type")
}

/// Session-level Reject (35=3).
pub fn session_reject(ref_seq: u64, ref_msg_type: &str, tag: i32, reason: u32, text: &str) -> Out {
    Out::new("3")
        .f(45, ref_seq)
        .f(371, tag)
        .f(372, ref_msg_type)
        .f(373, reason)
        .f(58, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::SymbolSpec;

    fn catalog() -> Catalog {
        Catalog::new(
            vec!["ACC1".into(), "ACC2".into()],
            vec![SymbolSpec {
                name: "AAPL".into(),
                qty_decimals: 0,
                px_decimals: 2,
                calendar: "XNYS".into(),
            }],
        )
    }

    fn msg(t: &str, fields: &[(i32, &str)]) -> Inbound {
        Inbound {
            msg_type: t.into(),
            seq_num: 7,
            fields: fields.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        }
    }

    fn scope(v: FixVersion) -> SessionScope {
        SessionScope {
            version: v,
            accounts: vec![AccountId(0)],
        }
    }

    const NOS: &[(i32, &str)] = &[
        (11, "ORD-1"),
        (1, "ACC1"),
        (55, "AAPL"),
        (54, "1"),
        (60, "20261120-15:00:00.000"),
        (38, "20000"),
        (40, "2"),
        (44, "190.00"),
        (59, "0"),
    ];

    #[test]
    fn a_new_order_single_decodes_to_a_fix_new_order() {
        let Request::New(o) =
            decode(&msg("D", NOS), &scope(FixVersion::Fix44), &catalog()).unwrap()
        else {
            panic!("not a new order")
        };
        assert_eq!(o.account, AccountId(0));
        assert_eq!(o.qty, Qty::from_units(20_000));
        assert_eq!(o.limit_px, Some(Px::parse("190").unwrap()));
        assert_eq!(o.ingress, Ingress::Fix);
        assert_eq!(o.tif, Tif::Day);
    }

    #[test]
    fn a_new_order_without_tag_1_needs_a_session_with_a_single_account() {
        let without_1: Vec<_> = NOS.iter().copied().filter(|(t, _)| *t != 1).collect();
        let single = scope(FixVersion::Fix44);
        let Request::New(o) = decode(&msg("D", &without_1), &single, &catalog()).unwrap() else {
            panic!("not a new order")
        };
        assert_eq!(o.account, AccountId(0));
        let several = SessionScope {
            version: FixVersion::Fix44,
            accounts: vec![AccountId(0), AccountId(1)],
        };
        let unknown = Reject::plain(RuleId::Account, RejectReason::UnknownAccount);
        let needs_1 =
            "Account (tag 1) is required on a new order: this session trades 2 accounts (ACC1, ACC2)";
        assert_eq!(
            decode(&msg("D", &without_1), &several, &catalog()).unwrap_err(),
            Refusal::Order(unknown, needs_1.into())
        );
        // A cancel can only find an existing order: without tag 1 it looks on the first account.
        let cancel = [
            (41, "ORD-1"),
            (11, "C-1"),
            (55, "AAPL"),
            (54, "1"),
            (60, "20261120-15:00:00.000"),
        ];
        let Request::Cancel(c) = decode(&msg("F", &cancel), &several, &catalog()).unwrap() else {
            panic!("not a cancel")
        };
        assert_eq!(c.account, AccountId(0));
        // With tag 1, either account of the session; an account of another session is unknown here.
        let Request::New(o) = decode(&msg("D", NOS), &several, &catalog()).unwrap() else {
            panic!("not a new order")
        };
        assert_eq!(o.account, AccountId(0));
        let other: Vec<_> = NOS
            .iter()
            .map(|&(t, v)| if t == 1 { (t, "ACC2") } else { (t, v) })
            .collect();
        assert_eq!(
            decode(&msg("D", &other), &single, &catalog()).unwrap_err(),
            Refusal::Order(unknown, "Unknown account ACC2".into())
        );
    }

    #[test]
    fn fx_7_missing_side_is_a_session_reject_naming_tag_54() {
        let fields: Vec<_> = NOS.iter().copied().filter(|(t, _)| *t != 54).collect();
        let r = decode(&msg("D", &fields), &scope(FixVersion::Fix44), &catalog()).unwrap_err();
        assert_eq!(
            r,
            Refusal::Session {
                tag: 54,
                reason: 1,
                text: "Required tag missing".into()
            }
        );
    }

    #[test]
    fn fix_4_2_requires_handl_inst() {
        let r = decode(&msg("D", NOS), &scope(FixVersion::Fix42), &catalog()).unwrap_err();
        assert!(matches!(
            r,
            Refusal::Session {
                tag: 21,
                reason: 1,
                ..
            }
        ));
    }

    #[test]
    fn bad_numbers_and_enums_are_session_rejects_and_unsupported_values_order_rejects() {
        let with = |tag: i32, v: &'static str| -> Vec<(i32, &'static str)> {
            NOS.iter()
                .map(|(t, x)| if *t == tag { (*t, v) } else { (*t, *x) })
                .collect()
        };
        let s = scope(FixVersion::Fix44);
        let c = catalog();
        assert!(matches!(
            decode(&msg("D", &with(38, "1e3")), &s, &c),
            Err(Refusal::Session {
                tag: 38,
                reason: 6,
                ..
            })
        ));
        assert!(matches!(
            decode(&msg("D", &with(54, "X")), &s, &c),
            Err(Refusal::Session {
                tag: 54,
                reason: 5,
                ..
            })
        ));
        assert!(matches!(
            decode(&msg("D", &with(40, "3")), &s, &c),
            Err(Refusal::Order(r, _)) if r.reason == RejectReason::Unsupported
        ));
        assert!(matches!(
            decode(&msg("D", &with(38, "10.5")), &s, &c),
            Err(Refusal::Order(r, _)) if r.reason == RejectReason::IncorrectQuantity
        ));
        assert!(matches!(
            decode(&msg("D", &with(55, "NOPE")), &s, &c),
            Err(Refusal::Order(r, _)) if r.reason == RejectReason::UnknownSymbol
        ));
        // An account the session may not trade is unknown to it.
        assert!(matches!(
            decode(&msg("D", &with(1, "ACC2")), &s, &c),
            Err(Refusal::Order(r, _)) if r.reason == RejectReason::UnknownAccount
        ));
        assert_eq!(
            decode(&msg("AB", &[(11, "X")]), &s, &c).unwrap_err(),
            Refusal::Unsupported
        );
    }

    #[test]
    fn fx_1_and_fx_2_reject_reports_carry_the_spec_tags() {
        let c = catalog();
        let echo = echo(&msg("D", NOS));
        let r = Reject::with(
            RuleId::Qty,
            RejectReason::MaxOrderQty,
            Measure::Qty,
            Qty::from_units(20_000).raw(),
            Qty::from_units(10_000).raw(),
        );
        let text = risk_text(&c, &r, None);
        assert_eq!(text, "RISK:PT-QTY:qty=20000>max=10000");
        for v in [FixVersion::Fix44, FixVersion::Fix42] {
            let out = exec_report(&Exec {
                version: v,
                order_id: None,
                exec_id: "X1",
                exec_type: "8",
                ord_status: "8",
                echo: &echo,
                leaves: "0",
                cum: "0",
                avg_px: "0",
                last: None,
                ord_rej_reason: Some(ord_rej_reason(v, &r)),
                text: Some(&text),
                tif: None,
            });
            let get = |t: i32| {
                out.fields
                    .iter()
                    .find(|(k, _)| *k == t)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(get(37), Some("NONE"));
            assert_eq!(get(150), Some("8"));
            assert_eq!(get(39), Some("8"));
            assert_eq!(get(103), Some("3"));
            assert_eq!(get(38), Some("20000"));
            assert_eq!(get(44), Some("190.00"));
            assert_eq!(get(151), Some("0"));
            assert_eq!(get(20), (v == FixVersion::Fix42).then_some("0"));
        }
    }
}
