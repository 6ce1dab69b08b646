//! Fuzzes the webhook body parser and, for every body it accepts, the idempotency key and the planner against
//! a few account states: no input may panic or hang, and every refusal must carry a code and a message.
#![no_main]

use bulwark_model::{OrderId, Qty, Side};
use bulwark_signals::{idempotency_key, parse, plan, AccountView, PlanOptions, Sizing, Working};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

fuzz_target!(|data: &[u8]| {
    let alert = match parse(data) {
        Ok(a) => a,
        Err(e) => {
            assert!(!e.code().is_empty());
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let _ = idempotency_key("fuzz", &alert);
    let working = [Working {
        id: OrderId(1),
        side: Side::Buy,
    }];
    let rules = [
        Sizing::Signal,
        Sizing::Fixed(Decimal::from(3)),
        Sizing::Multiplier(Decimal::new(25, 1)),
        Sizing::PercentOfEquity(Decimal::from(10)),
        Sizing::DollarAmount(Decimal::from(5000)),
        Sizing::RiskDollarAmount(Decimal::from(100)),
    ];
    for pos in [0i64, 100, -100] {
        let view = AccountView {
            position: Qty::from_raw(pos * 100_000_000),
            working: &working,
            equity: Decimal::from(100_000),
            ref_px: Some(Decimal::from(200)),
        };
        for rule in &rules {
            for decimals in [0, 8] {
                let opt = PlanOptions {
                    qty_decimals: decimals,
                    multiplier: Decimal::from(50),
                    add_on_same_side: pos != 0,
                };
                if let Err(e) = plan(&alert, rule, &view, &opt) {
                    assert!(!e.code().is_empty());
                }
            }
        }
    }
});
