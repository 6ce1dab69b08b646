//! Helpers for engine tests: a small configured engine and order builders.
#![allow(dead_code)]
use bulwark_model::*;
use bulwark_risk::*;

pub const SEC: i64 = 1_000_000_000;
pub const MS: i64 = 1_000_000;
/// 2026-11-20 15:00:00 UTC, a Friday (markets open), used as "now" unless a test says otherwise.
pub const T0: i64 = 1_795_186_800 * SEC;

pub fn px(s: &str) -> Px {
    Px::parse(s).unwrap()
}
pub fn qty(n: i64) -> Qty {
    Qty::from_units(n)
}
pub fn usd(s: &str) -> Notional {
    Notional::from_raw(i128::from(px(s).raw()))
}

pub fn engine_with(accounts: Vec<AccountRisk>, symbols: usize) -> Engine {
    Engine::with_config(EngineConfig {
        accounts,
        symbols: vec![SymbolRisk::default(); symbols],
        calendars: vec![],
        groups: 2,
        open_orders_max: 10_000,
        orders_reserved: 64,
    })
}

pub fn account(limits: Limits) -> AccountRisk {
    AccountRisk {
        limits: Limits {
            enforce_hours: false,
            ..limits
        },
        margin: true,
        initial_balance: usd("1000000"),
        ..AccountRisk::default()
    }
}

pub struct Ord {
    pub account: u32,
    pub symbol: u32,
    pub side: Side,
    pub qty: i64,
    pub px: Option<&'static str>,
    pub tif: Tif,
    pub cl: String,
}

pub fn order(side: Side, q: i64, p: Option<&'static str>) -> Ord {
    Ord {
        account: 0,
        symbol: 0,
        side,
        qty: q,
        px: p,
        tif: Tif::Gtc,
        cl: String::new(),
    }
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Ord {
    pub fn event(&self) -> Event {
        let cl = if self.cl.is_empty() {
            format!(
                "t{}",
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            )
        } else {
            self.cl.clone()
        };
        Event::NewOrder(NewOrder {
            account: AccountId(self.account),
            symbol: SymbolId(self.symbol),
            side: self.side,
            ord_type: if self.px.is_some() {
                OrdType::Limit
            } else {
                OrdType::Market
            },
            tif: self.tif,
            qty: qty(self.qty),
            limit_px: self.px.map(px),
            cl_ord_id: ClOrdId::try_new(&cl).unwrap(),
            ingress: Ingress::Rest,
            ext_hours: false,
        })
    }
}

/// Applies `ev` at `ts` and returns the decision.
pub fn decide(e: &mut Engine, ev: &Event, ts: i64) -> Decision {
    let mut out = Vec::new();
    e.apply(ev, ts, &mut out).expect("a request has a decision")
}

pub fn apply(e: &mut Engine, ev: &Event, ts: i64) -> Vec<Output> {
    let mut out = Vec::new();
    e.apply(ev, ts, &mut out);
    out
}

pub fn reason(d: &Decision) -> Option<RejectReason> {
    match d.verdict {
        Verdict::Accept => None,
        Verdict::Reject(r) => Some(r.reason),
    }
}

pub fn price(e: &mut Engine, symbol: u32, p: &str, ts: i64) {
    apply(
        e,
        &Event::Price(PriceUpdate {
            symbol: SymbolId(symbol),
            px: px(p),
        }),
        ts,
    );
}

pub fn fill(e: &mut Engine, id: OrderId, q: i64, p: &str, ts: i64) {
    apply(e, &Event::Venue(VenueReport::Ack { order: id }), ts);
    apply(
        e,
        &Event::Venue(VenueReport::Fill {
            order: id,
            exec_id: id.0,
            qty: qty(q),
            px: px(p),
        }),
        ts,
    );
}
