//! The pre-trade chain for new orders: small predicates run in a fixed order, the first failing one wins
//! (spec §4.2). This is the spine's placeholder chain: trading halt, known account, known symbol, positive
//! quantity, a limit price exactly when the type needs one, and client-order-id reuse. The full rule set of the
//! spec replaces it without changing the interface: `check_new_order` returns a [`Verdict`], never an error.

use crate::engine::Engine;
use bulwark_model::{Measure, NewOrder, OrdType, Reject, RejectReason, RuleId, Verdict};

/// Runs the chain for `order` against the current state.
pub fn check_new_order(engine: &Engine, order: &NewOrder) -> Verdict {
    match first_failure(engine, order) {
        Some(reject) => Verdict::Reject(reject),
        None => Verdict::Accept,
    }
}

fn first_failure(engine: &Engine, order: &NewOrder) -> Option<Reject> {
    if engine.is_halted() {
        return Some(Reject::plain(RuleId::Kill, RejectReason::KillSwitchActive));
    }
    if order.account.0 as usize >= engine.limits().accounts {
        return Some(Reject::plain(RuleId::Account, RejectReason::UnknownAccount));
    }
    if order.symbol.0 as usize >= engine.limits().symbols {
        return Some(Reject::plain(RuleId::Symbol, RejectReason::UnknownSymbol));
    }
    if !order.qty.is_positive() {
        return Some(Reject::with(
            RuleId::Input,
            RejectReason::IncorrectQuantity,
            Measure::Qty,
            order.qty.raw(),
            0,
        ));
    }
    let price_ok = match (order.ord_type, order.limit_px) {
        (OrdType::Limit, Some(px)) => px.is_positive(),
        (OrdType::Market, None) => true,
        _ => false,
    };
    if !price_ok {
        return Some(Reject::plain(RuleId::Input, RejectReason::IncorrectPrice));
    }
    if engine
        .find_by_cl_ord_id(order.account, &order.cl_ord_id)
        .is_some()
    {
        return Some(Reject::plain(RuleId::Dup, RejectReason::Duplicate));
    }
    if engine.open_order_count() >= engine.limits().open_orders_max {
        return Some(Reject::with(
            RuleId::Input,
            RejectReason::Busy,
            Measure::Count,
            engine.open_order_count() as i64,
            engine.limits().open_orders_max as i64,
        ));
    }
    None
}
