//! The planner: one alert, one account, its current position and working orders in the alert's symbol, and the
//! account's sizing rule give the child requests to run through the risk chain, in order. TradersPost
//! semantics (spec §5.2):
//!
//! | action | sentiment | long N | flat | short N |
//! |---|---|---|---|---|
//! | buy | none / long | nothing to do (or add, with `add_on_same_side`) | cancel working, BUY size | cancel working, BUY N (exit), BUY size (no entry without a quantity) |
//! | buy | flat | nothing to do | nothing to do | cancel working, BUY N (exit only) |
//! | buy | short | nothing to do | nothing to do | cancel working, BUY min(size, N) (partial exit; all N without quantity) |
//! | sell | (mirror of buy) | | | |
//! | exit | any | cancel working, SELL N (or min(quantity, N)) | cancel working (nothing to do without any) | cancel working, BUY N |
//! | cancel | any | cancel working | cancel working | cancel working (nothing to do without any) |
//! | add | none / position's side | BUY size | nothing to do without a sentiment; else BUY/SELL size | SELL size |
//!
//! The size of an entry comes from the account's [`Sizing`]; `Signal` reads the alert's `quantity` by its
//! `quantityType`. Sizes are rounded down to the symbol's quantity decimals; a size of zero is refused.

use crate::alert::{Action, Alert, QuantityType, Sentiment};
use bulwark_model::{OrderId, Qty, Side};
use rust_decimal::prelude::*;

/// How one account sizes an entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sizing {
    /// The alert's `quantity` read by its `quantityType` (the default).
    Signal,
    /// Always this many units.
    Fixed(Decimal),
    /// The alert's quantity (as `Signal` resolves it) times this factor.
    Multiplier(Decimal),
    /// This percentage of the account's equity, at the entry price.
    PercentOfEquity(Decimal),
    /// This much money, at the entry price.
    DollarAmount(Decimal),
    /// This much money at risk between the entry price and the alert's stop loss.
    RiskDollarAmount(Decimal),
}

impl Sizing {
    pub fn name(&self) -> &'static str {
        match self {
            Sizing::Signal => "signal",
            Sizing::Fixed(_) => "fixed",
            Sizing::Multiplier(_) => "multiplier",
            Sizing::PercentOfEquity(_) => "percent_of_equity",
            Sizing::DollarAmount(_) => "dollar_amount",
            Sizing::RiskDollarAmount(_) => "risk_dollar_amount",
        }
    }
}

/// A working order of the account in the alert's symbol.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Working {
    pub id: OrderId,
    pub side: Side,
}

/// What the planner knows of one account.
#[derive(Clone, Copy, Debug)]
pub struct AccountView<'a> {
    /// Signed position in the alert's symbol.
    pub position: Qty,
    pub working: &'a [Working],
    /// Equity in account currency (for percent_of_equity).
    pub equity: Decimal,
    /// The gateway's reference price for the symbol, when it has one.
    pub ref_px: Option<Decimal>,
}

/// Per-symbol and per-webhook facts the planner needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PlanOptions {
    pub qty_decimals: u32,
    /// Contract multiplier (1 for shares, 50 for ES).
    pub multiplier: Decimal,
    /// A buy while long (a sell while short) adds instead of being nothing to do.
    pub add_on_same_side: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChildRole {
    /// Closes (part of) the position.
    Exit,
    /// Opens or adds.
    Entry,
}

impl ChildRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ChildRole::Exit => "exit",
            ChildRole::Entry => "entry",
        }
    }
}

/// One request the alert becomes for one account.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Child {
    Cancel(OrderId),
    Order {
        role: ChildRole,
        side: Side,
        qty: Qty,
    },
}

/// Why an alert becomes nothing for an account.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PlanError {
    /// The signal asks for nothing that is not already so (TradersPost rejects such signals).
    #[error("{0}")]
    NothingToDo(String),
    /// The entry could not be sized.
    #[error("{message}")]
    Sizing { code: &'static str, message: String },
}

impl PlanError {
    pub fn code(&self) -> &'static str {
        match self {
            PlanError::NothingToDo(_) => "NOTHING_TO_DO",
            PlanError::Sizing { code, .. } => code,
        }
    }
}

fn sizing(code: &'static str, message: impl Into<String>) -> PlanError {
    PlanError::Sizing {
        code,
        message: message.into(),
    }
}

fn side_of(sentiment: Sentiment) -> Option<Side> {
    match sentiment {
        Sentiment::Long => Some(Side::Buy),
        Sentiment::Short => Some(Side::Sell),
        Sentiment::Flat => None,
    }
}

fn opposite(side: Side) -> Side {
    match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    }
}

fn describe(position: Qty) -> String {
    match position.raw().signum() {
        1 => format!("long {position}"),
        -1 => format!("short {}", position.abs()),
        _ => "flat".to_string(),
    }
}

/// The children of `alert` for one account.
pub fn plan(
    alert: &Alert,
    sizing_rule: &Sizing,
    view: &AccountView<'_>,
    opt: &PlanOptions,
) -> Result<Vec<Child>, PlanError> {
    let pos = view.position;
    let held = pos.abs();
    // The side that reduces the position, if there is one.
    let closing_side = match pos.raw().signum() {
        1 => Some(Side::Sell),
        -1 => Some(Side::Buy),
        _ => None,
    };
    let cancels = || view.working.iter().map(|w| Child::Cancel(w.id));
    let mut out: Vec<Child> = Vec::new();
    match alert.action {
        Action::Cancel => {
            out.extend(cancels());
            if out.is_empty() {
                return Err(PlanError::NothingToDo(
                    "cancel: there are no working orders in this symbol".into(),
                ));
            }
        }
        Action::Exit => {
            out.extend(cancels());
            if let Some(side) = closing_side {
                let qty = match alert.quantity {
                    Some(_) => size(alert, sizing_rule, view, opt)?.min(held),
                    None => held,
                };
                out.push(Child::Order {
                    role: ChildRole::Exit,
                    side,
                    qty,
                });
            }
            if out.is_empty() {
                return Err(PlanError::NothingToDo(
                    "exit: there is no position and there are no working orders in this symbol"
                        .into(),
                ));
            }
        }
        Action::Buy | Action::Sell => {
            let side = if alert.action == Action::Buy {
                Side::Buy
            } else {
                Side::Sell
            };
            let reduces = closing_side == Some(side);
            match alert.sentiment {
                Some(Sentiment::Flat) => {
                    if !reduces {
                        return Err(PlanError::NothingToDo(format!(
                            "{} with sentiment flat only exits, and the position is {}",
                            alert.action.as_str(),
                            describe(pos)
                        )));
                    }
                    out.extend(cancels());
                    out.push(Child::Order {
                        role: ChildRole::Exit,
                        side,
                        qty: held,
                    });
                }
                Some(s) if side_of(s) == Some(opposite(side)) => {
                    // A sell with a long sentiment (or a buy with a short one) is a partial exit.
                    if !reduces {
                        return Err(PlanError::NothingToDo(format!(
                            "{} with sentiment {} is a partial exit, and the position is {}",
                            alert.action.as_str(),
                            if s == Sentiment::Long {
                                "long"
                            } else {
                                "short"
                            },
                            describe(pos)
                        )));
                    }
                    let qty = match alert.quantity {
                        Some(_) => size(alert, sizing_rule, view, opt)?.min(held),
                        None => held,
                    };
                    out.extend(cancels());
                    out.push(Child::Order {
                        role: ChildRole::Exit,
                        side,
                        qty,
                    });
                }
                _ => {
                    if closing_side == Some(opposite(side)) && !opt.add_on_same_side {
                        return Err(PlanError::NothingToDo(format!(
                            "already {}; send action add to add to it",
                            describe(pos)
                        )));
                    }
                    // "sell: exit long, optionally open short": with no quantity at all, a reversal only exits.
                    let entry = if reduces {
                        match size_reversal(alert, sizing_rule, view, opt) {
                            Ok(q) => Some(q),
                            Err(PlanError::Sizing {
                                code: "MISSING_QUANTITY",
                                ..
                            }) => None,
                            Err(e) => return Err(e),
                        }
                    } else {
                        Some(size(alert, sizing_rule, view, opt)?)
                    };
                    out.extend(cancels());
                    if reduces {
                        out.push(Child::Order {
                            role: ChildRole::Exit,
                            side,
                            qty: held,
                        });
                    }
                    if let Some(qty) = entry {
                        out.push(Child::Order {
                            role: ChildRole::Entry,
                            side,
                            qty,
                        });
                    }
                }
            }
        }
        Action::Add => {
            let by_sentiment = alert.sentiment.and_then(side_of);
            let by_position = closing_side.map(opposite);
            let side = match (by_sentiment, by_position) {
                (Some(s), Some(p)) if s != p => {
                    return Err(PlanError::NothingToDo(format!(
                        "add {} conflicts with the position, which is {}",
                        if s == Side::Buy { "long" } else { "short" },
                        describe(pos)
                    )))
                }
                (Some(s), _) | (None, Some(s)) => s,
                (None, None) => return Err(PlanError::NothingToDo(
                    "add: the position is flat and the signal has no sentiment to say which side"
                        .into(),
                )),
            };
            out.push(Child::Order {
                role: ChildRole::Entry,
                side,
                qty: size(alert, sizing_rule, view, opt)?,
            });
        }
    }
    Ok(out)
}

/// The price an entry is sized at: the limit, else the alert's signal price, else the reference price.
fn sizing_px(alert: &Alert, view: &AccountView<'_>) -> Result<Decimal, PlanError> {
    alert
        .limit_px
        .or(alert.signal_px)
        .or(view.ref_px)
        .filter(|p| *p > Decimal::ZERO)
        .ok_or_else(|| {
            sizing(
                "NO_PRICE_FOR_SIZING",
                "sizing by money needs a price: send limitPrice or signalPrice, or post a reference price",
            )
        })
}

/// Distance between the entry price and the stop, in price units.
fn stop_distance(alert: &Alert, px: Decimal) -> Result<Decimal, PlanError> {
    let sl = alert.stop_loss.ok_or_else(|| {
        sizing(
            "NO_STOP_FOR_SIZING",
            "risk_dollar_amount sizing needs stopLoss with stopPrice, amount or percent",
        )
    })?;
    let d = match (sl.stop_px, sl.amount, sl.percent) {
        (Some(stop), _, _) => px.checked_sub(stop).ok_or_else(out_of_range)?.abs(),
        (None, Some(amount), _) => amount,
        (None, None, Some(pct)) => percent_of(px, pct)?,
        (None, None, None) => Decimal::ZERO,
    };
    if d <= Decimal::ZERO {
        return Err(sizing(
            "NO_STOP_FOR_SIZING",
            "the stop loss is at the entry price; risk_dollar_amount cannot size it",
        ));
    }
    Ok(d)
}

/// `money / (px x multiplier)`, or an error naming what overflowed.
fn units_for(money: Decimal, px: Decimal, opt: &PlanOptions) -> Result<Decimal, PlanError> {
    px.checked_mul(opt.multiplier)
        .and_then(|unit| money.checked_div(unit))
        .ok_or_else(out_of_range)
}

fn out_of_range() -> PlanError {
    sizing("SIZE_INVALID", "the size is out of range")
}

/// `value x pct / 100`, checked.
fn percent_of(value: Decimal, pct: Decimal) -> Result<Decimal, PlanError> {
    value
        .checked_mul(pct)
        .and_then(|v| v.checked_div(Decimal::ONE_HUNDRED))
        .ok_or_else(out_of_range)
}

/// The alert's own quantity, read by its quantity type.
fn signal_units(
    alert: &Alert,
    view: &AccountView<'_>,
    opt: &PlanOptions,
) -> Result<Decimal, PlanError> {
    let q = alert.quantity.ok_or_else(|| {
        sizing(
            "MISSING_QUANTITY",
            "the signal has no quantity and this account sizes by the signal",
        )
    })?;
    match alert.quantity_type {
        QuantityType::FixedQuantity => Ok(q),
        QuantityType::DollarAmount => units_for(q, sizing_px(alert, view)?, opt),
        QuantityType::RiskDollarAmount => {
            let px = sizing_px(alert, view)?;
            units_for(q, stop_distance(alert, px)?, opt)
        }
        QuantityType::PercentOfEquity => {
            units_for(percent_of(view.equity, q)?, sizing_px(alert, view)?, opt)
        }
        QuantityType::PercentOfPosition => percent_of(view.position.abs().to_decimal(), q),
    }
}

/// The entry of a reversal. Pine's `strategy.order.contracts` then counts the closing part too (long 100 ->
/// short 100 sends 200), so when the alert says where the strategy ends up (`positionSize`), a rule that
/// follows the signal's quantity sizes the new position from it instead.
fn size_reversal(
    alert: &Alert,
    rule: &Sizing,
    view: &AccountView<'_>,
    opt: &PlanOptions,
) -> Result<Qty, PlanError> {
    let follows_signal = matches!(rule, Sizing::Signal | Sizing::Multiplier(_))
        && alert.quantity_type == QuantityType::FixedQuantity;
    match alert.position_size {
        Some(target) if follows_signal => {
            let reread = Alert {
                quantity: Some(target.abs()),
                ..alert.clone()
            };
            size(&reread, rule, view, opt)
        }
        _ => size(alert, rule, view, opt),
    }
}

/// The size of an entry (or of a partial exit) under `rule`, rounded down to the symbol's decimals.
fn size(
    alert: &Alert,
    rule: &Sizing,
    view: &AccountView<'_>,
    opt: &PlanOptions,
) -> Result<Qty, PlanError> {
    let units = match *rule {
        Sizing::Signal => signal_units(alert, view, opt)?,
        Sizing::Fixed(n) => n,
        Sizing::Multiplier(m) => signal_units(alert, view, opt)?
            .checked_mul(m)
            .ok_or_else(out_of_range)?,
        Sizing::PercentOfEquity(p) => {
            units_for(percent_of(view.equity, p)?, sizing_px(alert, view)?, opt)?
        }
        Sizing::DollarAmount(d) => units_for(d, sizing_px(alert, view)?, opt)?,
        Sizing::RiskDollarAmount(r) => {
            let px = sizing_px(alert, view)?;
            units_for(r, stop_distance(alert, px)?, opt)?
        }
    };
    let rounded = units.round_dp_with_strategy(opt.qty_decimals, RoundingStrategy::ToZero);
    if rounded <= Decimal::ZERO {
        return Err(sizing(
            "SIZE_ZERO",
            format!(
                "{} sizing gives {} units, which rounds down to 0 at {} decimals",
                rule.name(),
                units.round_dp(8).normalize(),
                opt.qty_decimals
            ),
        ));
    }
    Qty::try_from_decimal(rounded).map_err(|e| {
        sizing(
            "SIZE_INVALID",
            format!("the size {rounded} is not usable: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::parse;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn q(s: &str) -> Qty {
        Qty::parse(s).unwrap()
    }
    fn alert(body: &str) -> Alert {
        parse(body.as_bytes()).unwrap()
    }
    const OPT: PlanOptions = PlanOptions {
        qty_decimals: 0,
        multiplier: Decimal::ONE,
        add_on_same_side: false,
    };
    fn view<'a>(pos: &str, working: &'a [Working]) -> AccountView<'a> {
        AccountView {
            position: q(pos),
            working,
            equity: d("100000"),
            ref_px: Some(d("200")),
        }
    }
    fn order(role: ChildRole, side: Side, qty: &str) -> Child {
        Child::Order {
            role,
            side,
            qty: q(qty),
        }
    }

    #[test]
    fn w_7_sell_with_sentiment_flat_exits_the_long_only() {
        let a = alert(r#"{"ticker":"AAPL","action":"sell","sentiment":"flat"}"#);
        let p = plan(&a, &Sizing::Signal, &view("100", &[]), &OPT).unwrap();
        assert_eq!(p, vec![order(ChildRole::Exit, Side::Sell, "100")]);
        // And with nothing to exit, nothing happens: flat never reverses.
        let e = plan(&a, &Sizing::Signal, &view("0", &[]), &OPT).unwrap_err();
        assert_eq!(e.code(), "NOTHING_TO_DO");
        assert!(plan(&a, &Sizing::Signal, &view("-5", &[]), &OPT).is_err());
    }

    #[test]
    fn w_8_exit_with_no_position_and_no_orders_is_nothing_to_do() {
        let a = alert(r#"{"ticker":"AAPL","action":"exit"}"#);
        let e = plan(&a, &Sizing::Signal, &view("0", &[]), &OPT).unwrap_err();
        assert_eq!(e.code(), "NOTHING_TO_DO");
        // Working orders alone are something to do: they are canceled.
        let w = [Working {
            id: OrderId(7),
            side: Side::Buy,
        }];
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("0", &w), &OPT).unwrap(),
            vec![Child::Cancel(OrderId(7))]
        );
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("-30", &w), &OPT).unwrap(),
            vec![
                Child::Cancel(OrderId(7)),
                order(ChildRole::Exit, Side::Buy, "30")
            ]
        );
    }

    #[test]
    fn buy_exits_a_short_then_opens_long() {
        let a = alert(r#"{"ticker":"AAPL","action":"buy","quantity":10}"#);
        let w = [Working {
            id: OrderId(3),
            side: Side::Sell,
        }];
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("-50", &w), &OPT).unwrap(),
            vec![
                Child::Cancel(OrderId(3)),
                order(ChildRole::Exit, Side::Buy, "50"),
                order(ChildRole::Entry, Side::Buy, "10")
            ]
        );
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("0", &[]), &OPT).unwrap(),
            vec![order(ChildRole::Entry, Side::Buy, "10")]
        );
    }

    #[test]
    fn a_pine_reversal_sizes_the_new_position_from_position_size() {
        // Long 100 -> short 100: Pine sends contracts 200 and position_size -100.
        let a = alert(
            r#"{"ticker":"AAPL","action":"sell","sentiment":"short","quantity":"200","positionSize":"-100"}"#,
        );
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("100", &[]), &OPT).unwrap(),
            vec![
                order(ChildRole::Exit, Side::Sell, "100"),
                order(ChildRole::Entry, Side::Sell, "100")
            ]
        );
        assert_eq!(
            plan(&a, &Sizing::Multiplier(d("0.5")), &view("50", &[]), &OPT).unwrap(),
            vec![
                order(ChildRole::Exit, Side::Sell, "50"),
                order(ChildRole::Entry, Side::Sell, "50")
            ]
        );
        // From flat, the order quantity is the entry.
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("0", &[]), &OPT).unwrap(),
            vec![order(ChildRole::Entry, Side::Sell, "200")]
        );
    }

    #[test]
    fn a_reversal_without_quantity_only_exits() {
        let a = alert(r#"{"ticker":"AAPL","action":"sell"}"#);
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("10", &[]), &OPT).unwrap(),
            vec![order(ChildRole::Exit, Side::Sell, "10")]
        );
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("0", &[]), &OPT)
                .unwrap_err()
                .code(),
            "MISSING_QUANTITY"
        );
    }

    #[test]
    fn buy_while_long_is_nothing_to_do_unless_adding_is_allowed() {
        let a = alert(r#"{"ticker":"AAPL","action":"buy","quantity":10}"#);
        let e = plan(&a, &Sizing::Signal, &view("20", &[]), &OPT).unwrap_err();
        assert_eq!(
            e.to_string(),
            "already long 20; send action add to add to it"
        );
        let opt = PlanOptions {
            add_on_same_side: true,
            ..OPT
        };
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("20", &[]), &opt).unwrap(),
            vec![order(ChildRole::Entry, Side::Buy, "10")]
        );
    }

    #[test]
    fn sell_with_a_long_sentiment_is_a_partial_exit_capped_at_the_position() {
        let a = alert(r#"{"ticker":"AAPL","action":"sell","sentiment":"long","quantity":30}"#);
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("100", &[]), &OPT).unwrap(),
            vec![order(ChildRole::Exit, Side::Sell, "30")]
        );
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("20", &[]), &OPT).unwrap(),
            vec![order(ChildRole::Exit, Side::Sell, "20")]
        );
    }

    #[test]
    fn cancel_cancels_working_orders_only() {
        let a = alert(r#"{"ticker":"AAPL","action":"cancel"}"#);
        let w = [
            Working {
                id: OrderId(1),
                side: Side::Buy,
            },
            Working {
                id: OrderId(2),
                side: Side::Sell,
            },
        ];
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("100", &w), &OPT).unwrap(),
            vec![Child::Cancel(OrderId(1)), Child::Cancel(OrderId(2))]
        );
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("100", &[]), &OPT)
                .unwrap_err()
                .code(),
            "NOTHING_TO_DO"
        );
    }

    #[test]
    fn add_follows_the_position_or_the_sentiment() {
        let a = alert(r#"{"ticker":"AAPL","action":"add","quantity":5}"#);
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("-10", &[]), &OPT).unwrap(),
            vec![order(ChildRole::Entry, Side::Sell, "5")]
        );
        assert!(plan(&a, &Sizing::Signal, &view("0", &[]), &OPT).is_err());
        let a = alert(r#"{"ticker":"AAPL","action":"add","sentiment":"long","quantity":5}"#);
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("0", &[]), &OPT).unwrap(),
            vec![order(ChildRole::Entry, Side::Buy, "5")]
        );
        assert!(plan(&a, &Sizing::Signal, &view("-1", &[]), &OPT).is_err());
    }

    #[test]
    fn sizing_rules() {
        let a = alert(
            r#"{"ticker":"AAPL","action":"buy","quantity":10,"signalPrice":"200","stopLoss":{"stopPrice":"195"}}"#,
        );
        let v = view("0", &[]);
        let entry = |rule: Sizing| match plan(&a, &rule, &v, &OPT).unwrap()[..] {
            [Child::Order { qty, .. }] => qty,
            ref other => panic!("{other:?}"),
        };
        assert_eq!(entry(Sizing::Signal), q("10"));
        assert_eq!(entry(Sizing::Fixed(d("7"))), q("7"));
        assert_eq!(entry(Sizing::Multiplier(d("2.5"))), q("25"));
        // 100,000 equity x 5% / 200 = 25.
        assert_eq!(entry(Sizing::PercentOfEquity(d("5"))), q("25"));
        // 3,000 / 200 = 15.
        assert_eq!(entry(Sizing::DollarAmount(d("3000"))), q("15"));
        // 500 at risk / (200 - 195) = 100.
        assert_eq!(entry(Sizing::RiskDollarAmount(d("500"))), q("100"));
        // Rounds down, and zero is refused with the numbers.
        assert_eq!(entry(Sizing::DollarAmount(d("399"))), q("1"));
        let e = plan(&a, &Sizing::DollarAmount(d("199")), &v, &OPT).unwrap_err();
        assert_eq!(e.code(), "SIZE_ZERO");
        assert!(e.to_string().contains("0.995"), "{e}");
    }

    #[test]
    fn sizing_arithmetic_never_overflows() {
        // Found by the fuzzer: a huge stop price times a percentage overflowed a Decimal multiplication.
        let a = alert(
            r#"{"ticker":"AAPL","action":"buy","orderType":"limit","limitPrice":80.496,"quantity":1000,"quantityType":"dollar_amount","stopLoss":{"stopPrice":"000000000000000040000000000000000001905230150"}}"#,
        );
        for rule in [
            Sizing::PercentOfEquity(d("100")),
            Sizing::RiskDollarAmount(d("79228162514264337593543950335")),
            Sizing::Multiplier(d("79228162514264337593543950335")),
            Sizing::Signal,
        ] {
            let big = AccountView {
                position: Qty::from_raw(i64::MAX),
                working: &[],
                equity: Decimal::MAX,
                ref_px: Some(Decimal::MAX),
            };
            let opt = PlanOptions {
                multiplier: Decimal::MAX,
                ..OPT
            };
            let _ = plan(&a, &rule, &big, &opt);
        }
    }

    #[test]
    fn sizing_needs_what_it_uses() {
        let v = AccountView {
            position: Qty::ZERO,
            working: &[],
            equity: d("1000"),
            ref_px: None,
        };
        let a = alert(r#"{"ticker":"AAPL","action":"buy"}"#);
        assert_eq!(
            plan(&a, &Sizing::Signal, &v, &OPT).unwrap_err().code(),
            "MISSING_QUANTITY"
        );
        assert_eq!(
            plan(&a, &Sizing::DollarAmount(d("100")), &v, &OPT)
                .unwrap_err()
                .code(),
            "NO_PRICE_FOR_SIZING"
        );
        let a = alert(r#"{"ticker":"AAPL","action":"buy","signalPrice":10}"#);
        assert_eq!(
            plan(&a, &Sizing::RiskDollarAmount(d("100")), &v, &OPT)
                .unwrap_err()
                .code(),
            "NO_STOP_FOR_SIZING"
        );
    }

    #[test]
    fn the_quantity_type_of_the_signal_is_honoured() {
        let v = view("40", &[]);
        let a = alert(
            r#"{"ticker":"AAPL","action":"sell","sentiment":"long","quantity":25,"quantityType":"percent_of_position"}"#,
        );
        assert_eq!(
            plan(&a, &Sizing::Signal, &v, &OPT).unwrap(),
            vec![order(ChildRole::Exit, Side::Sell, "10")]
        );
        let a = alert(
            r#"{"ticker":"AAPL","action":"buy","quantity":1000,"quantityType":"dollar_amount","limitPrice":"100","orderType":"limit"}"#,
        );
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("0", &[]), &OPT).unwrap(),
            vec![order(ChildRole::Entry, Side::Buy, "10")]
        );
        // Futures: the contract multiplier divides money-based sizes.
        let opt = PlanOptions {
            multiplier: d("50"),
            ..OPT
        };
        let a = alert(
            r#"{"ticker":"ES","action":"buy","quantity":600000,"quantityType":"dollar_amount","signalPrice":"6000"}"#,
        );
        assert_eq!(
            plan(&a, &Sizing::Signal, &view("0", &[]), &opt).unwrap(),
            vec![order(ChildRole::Entry, Side::Buy, "2")]
        );
    }
}
