//! No allocation per check after warm-up: a counting global allocator (counting on this thread only) wraps
//! the system allocator, and the full chain with every rule on runs through accepted and rejected orders.
#![allow(unsafe_code)]
mod common;
use bulwark_model::*;
use bulwark_risk::calendar::{Calendar, CalendarSpec};
use bulwark_risk::*;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a const-initialized
// thread-local Cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(|c| c.get())
}

const ACCOUNTS: u32 = 20;
const SYMBOLS: u32 = 10;
/// 2026-11-20 15:00 UTC = 10:00 ET, a regular session.
const NOW: i64 = T0;

fn engine() -> Engine {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/calendars/XNYS.toml"
    ))
    .unwrap();
    let xnys = Calendar::new(&toml::from_str::<CalendarSpec>(&text).unwrap()).unwrap();
    let limits = Limits {
        max_order_qty: Some(qty(10_000)),
        max_notional: Some(usd("1000000")),
        max_position: Some(qty(100_000)),
        credit_limit: Some(usd("100000000")),
        price_floor: Some(px("1.00")),
        throttle_max: 100_000,
        ..Limits::default()
    };
    let accounts = (0..ACCOUNTS)
        .map(|i| AccountRisk {
            limits: limits.clone(),
            margin: i % 2 == 0,
            initial_balance: usd("100000000"),
            group: Some(i % 2),
            pdt: PdtSettings {
                enabled: true,
                broker_switch_day: None,
                calendar: Some(0),
            },
            ..AccountRisk::default()
        })
        .collect();
    Engine::with_config(EngineConfig {
        accounts,
        symbols: vec![
            SymbolRisk {
                calendar: Some(0),
                ..SymbolRisk::default()
            };
            SYMBOLS as usize
        ],
        calendars: vec![xnys],
        groups: 2,
        open_orders_max: 1_000_000,
        orders_reserved: 200_000,
    })
}

fn new_order(n: u64, account: u32, symbol: u32, side: Side, q: i64, p: Px) -> Event {
    let mut cl = [b'x'; 12];
    let mut v = n;
    for b in cl.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
    Event::NewOrder(NewOrder {
        account: AccountId(account),
        symbol: SymbolId(symbol),
        side,
        ord_type: OrdType::Limit,
        tif: Tif::Gtc,
        qty: qty(q),
        limit_px: Some(p),
        cl_ord_id: ClOrdId::try_new(std::str::from_utf8(&cl).unwrap()).unwrap(),
        ingress: Ingress::Binary,
        ext_hours: false,
    })
}

#[test]
fn no_allocation_per_check_after_warm_up() {
    let mut e = engine();
    let mut out = Vec::with_capacity(1024);
    for s in 0..SYMBOLS {
        e.apply(
            &Event::Price(PriceUpdate {
                symbol: SymbolId(s),
                px: px("100"),
            }),
            NOW,
            &mut out,
        );
    }
    // Warm-up: every book sees working orders (growing its working list), fills and cancels.
    let mut n = 0u64;
    let mut ts = NOW;
    for round in 0..50 {
        for a in 0..ACCOUNTS {
            for s in 0..SYMBOLS {
                n += 1;
                ts += 1_000;
                out.clear();
                let d = e
                    .apply(
                        &new_order(n, a, s, Side::Buy, 10 + round, px("99.00")),
                        ts,
                        &mut out,
                    )
                    .unwrap();
                assert_eq!(d.verdict, Verdict::Accept, "{d:?}");
                if round % 10 == 0 {
                    e.apply(
                        &Event::Venue(VenueReport::Ack { order: d.order }),
                        ts,
                        &mut out,
                    );
                    e.apply(
                        &Event::Venue(VenueReport::Fill {
                            order: d.order,
                            exec_id: n,
                            qty: qty(10 + round),
                            px: px("99"),
                        }),
                        ts,
                        &mut out,
                    );
                }
            }
        }
    }
    let ids: Vec<OrderId> = e.working_orders().map(|o| o.id).collect();
    for id in ids {
        e.apply(
            &Event::Venue(VenueReport::Canceled {
                order: id,
                cause: CancelCause::Requested,
            }),
            ts,
            &mut out,
        );
    }

    // Measured: accepted orders and rejects at several rules, through the whole chain.
    let before = allocations();
    let mut accepted = 0;
    let mut rejected = 0;
    for i in 0..20_000u64 {
        n += 1;
        ts += 1_000;
        let a = (i % u64::from(ACCOUNTS)) as u32;
        let s = (i / 7 % u64::from(SYMBOLS)) as u32;
        let ev = match i % 5 {
            0 => new_order(n, a, s, Side::Buy, 20_000, px("99.00")), // PT-QTY
            1 => new_order(n, a, s, Side::Buy, 10, px("120.00")),    // PT-PRICE
            2 => new_order(n, a, s, Side::Buy, 5_000, px("250.00")), // PT-PRICE before notional
            _ => new_order(n, a, s, Side::Buy, 1 + (i % 997) as i64, px("98.00")), // accepted
        };
        out.clear();
        match e.apply(&ev, ts, &mut out).unwrap().verdict {
            Verdict::Accept => accepted += 1,
            Verdict::Reject(_) => rejected += 1,
        }
        // Steady state: the venue finishes orders as new ones arrive, so working lists stay within the
        // sizes warm-up reached.
        if i % 1_000 == 999 {
            let first = e.order_count() as u64 - 999;
            for id in first..=e.order_count() as u64 {
                e.apply(
                    &Event::Venue(VenueReport::Canceled {
                        order: OrderId(id),
                        cause: CancelCause::Venue,
                    }),
                    ts,
                    &mut out,
                );
            }
        }
    }
    let allocated = allocations() - before;
    assert!(
        accepted > 5_000 && rejected > 5_000,
        "{accepted} accepted, {rejected} rejected"
    );
    assert_eq!(
        allocated, 0,
        "the chain allocated {allocated} times in 20,000 orders after warm-up"
    );
}
