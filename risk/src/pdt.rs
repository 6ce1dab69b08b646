//! Day trading rules for US margin accounts: the legacy FINRA 4210(f)(8)(B) pattern-day-trader regime
//! (day-trade counting §1.2, pattern determination, broker "PDT protection" §1.4) and the intraday margin
//! regime that replaces it from 2026-06-04 (§1.6), with the regime chosen by trade date and broker (§0).
//! Everything here is a pure function of its inputs; the engine keeps the per-day counts and supplies them.

use crate::calendar::Calendar;
use bulwark_model::{Notional, Side};

/// Which day-trading regime applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PdtMode {
    Legacy,
    IntradayMargin,
}

/// Trade-date boundaries of the regime change (days since 1970-01-01): 2026-06-04 and 2027-10-21.
pub const AMENDMENT_EFFECTIVE_DAY: i32 = 20_608;
pub const IMPLEMENTATION_END_DAY: i32 = 21_112;

/// The regime for a trade date at a broker that switched on `broker_switch_day` (None: not yet switched).
/// Before the amendment: legacy; from 2027-10-21: intraday margin for everyone; in between, per broker.
pub fn pdt_mode(trade_day: i32, broker_switch_day: Option<i32>) -> PdtMode {
    if trade_day < AMENDMENT_EFFECTIVE_DAY {
        PdtMode::Legacy
    } else if trade_day >= IMPLEMENTATION_END_DAY
        || broker_switch_day.is_some_and(|s| trade_day >= s)
    {
        PdtMode::IntradayMargin
    } else {
        PdtMode::Legacy
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum Run {
    #[default]
    None,
    Opening,
    Closing,
}

/// Day-trade counter for one (account, security, trading day), fed fills in execution time order (§1.2).
/// Quantities are raw fixed-point; only their signs and comparisons matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DayTradeCounter {
    pos: i64,
    open_long: i64,
    open_short: i64,
    run: Run,
    count: u32,
}

impl DayTradeCounter {
    /// A counter for a day that starts with `carried` (signed) from the previous day.
    pub fn new(carried: i64) -> Self {
        DayTradeCounter {
            pos: carried,
            ..Default::default()
        }
    }

    pub fn count(&self) -> u32 {
        self.count
    }
    pub fn position(&self) -> i64 {
        self.pos
    }

    /// Quantity opened today on the side the current position is on (what a closing order would day-trade).
    pub fn opened_today_on_position_side(&self) -> i64 {
        match self.pos.signum() {
            1 => self.open_long,
            -1 => self.open_short,
            _ => 0,
        }
    }

    pub fn on_fill(&mut self, side: Side, qty: i64) {
        assert!(qty > 0, "fill quantity must be positive");
        let signed = qty * side.sign();
        let reducing = self.pos != 0 && self.pos.signum() != signed.signum();
        let closing = if reducing { qty.min(self.pos.abs()) } else { 0 };
        let opening = qty - closing;
        if closing > 0 {
            let open_today = if self.pos > 0 {
                &mut self.open_long
            } else {
                &mut self.open_short
            };
            if *open_today > 0 {
                if self.run == Run::Opening {
                    self.count += 1;
                }
                *open_today -= closing.min(*open_today);
            }
            self.run = Run::Closing;
        }
        if opening > 0 {
            match side {
                Side::Buy => self.open_long += opening,
                Side::Sell => self.open_short += opening,
            }
            self.run = Run::Opening;
        }
        self.pos += signed;
    }
}

/// `dt_count >= min_count` and `dt_count / trades > ratio` (strict), the ratio in basis points (600 = 6%).
pub fn is_pdt_pattern(dt_count_5d: u32, trades_5d: u32, min_count: u32, ratio_bp: u32) -> bool {
    dt_count_5d >= min_count
        && u64::from(dt_count_5d) * 10_000 > u64::from(ratio_bp) * u64::from(trades_5d)
}

/// Sum of `per_day(d)` over the `window` NYSE trading days ending with `day` (inclusive).
pub fn window_sum(
    calendar: &Calendar,
    day: i32,
    window: usize,
    per_day: impl Fn(i32) -> u32,
) -> u32 {
    calendar
        .trading_days_back(day, window)
        .iter()
        .map(|d| per_day(*d))
        .sum()
}

/// Parameters of the legacy protection (§1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdtParams {
    pub min_count: u32,
    pub min_equity: Notional,
    pub count_pending_pairs: bool,
}

impl Default for PdtParams {
    fn default() -> Self {
        PdtParams {
            min_count: 4,
            min_equity: Notional::from_raw(25_000 * 100_000_000),
            count_pending_pairs: true,
        }
    }
}

/// What PDT-PROTECT needs to know about one new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtectInput {
    pub mode: PdtMode,
    pub exempt: bool,
    pub margin_account: bool,
    pub prior_close_equity: Notional,
    pub dt_count_5d: u32,
    /// The order closes (fully or partly) quantity opened today in the security.
    pub closes_opened_today: bool,
    /// A working order on the opposite side of the same security exists.
    pub opposite_working: bool,
}

/// PDT-PROTECT (§1.4): true when the order must be rejected with PDT_PROTECTION.
pub fn pdt_protect_rejects(p: &PdtParams, i: &ProtectInput) -> bool {
    if i.mode != PdtMode::Legacy || i.exempt || !i.margin_account {
        return false;
    }
    if i.prior_close_equity >= p.min_equity {
        return false;
    }
    let would_create = i.closes_opened_today || (p.count_pending_pairs && i.opposite_working);
    would_create && i.dt_count_5d + 1 >= p.min_count
}

/// Beginning-of-day day-trading buying power: `multiplier x (equity - maintenance)`, never negative.
pub fn dtbp_bod(last_equity: Notional, last_maintenance: Notional, multiplier: i64) -> Notional {
    let excess = (last_equity - last_maintenance).raw().max(0);
    Notional::from_raw(excess * i128::from(multiplier))
}

/// Parameters of the house intraday-margin precheck (§1.6), rates in basis points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImrParams {
    pub long_rate_bp: u32,
    pub short_rate_bp: u32,
    pub min_margin_equity: Notional,
}

impl Default for ImrParams {
    fn default() -> Self {
        ImrParams {
            long_rate_bp: 2_500,
            short_rate_bp: 3_000,
            min_margin_equity: Notional::from_raw(2_000 * 100_000_000),
        }
    }
}

/// Maintenance requirement of long and short market values.
pub fn imr_requirement(p: &ImrParams, long_mv: Notional, short_mv: Notional) -> Notional {
    let l = long_mv.raw().abs() * i128::from(p.long_rate_bp) / 10_000;
    let s = short_mv.raw().abs() * i128::from(p.short_rate_bp) / 10_000;
    Notional::from_raw(l + s)
}

/// Why IMR-PRECHECK refuses an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImrRefusal {
    /// Equity below the minimum for margin trading: (equity, minimum).
    BelowMinimumEquity(Notional, Notional),
    /// The order would create or increase a deficit: (requirement after, equity).
    Deficit(Notional, Notional),
}

/// IMR-PRECHECK: reject when the requirement after the order exceeds equity and the deficit grows.
pub fn imr_check(
    p: &ImrParams,
    equity: Notional,
    (long_before, short_before): (Notional, Notional),
    (long_after, short_after): (Notional, Notional),
) -> Result<(), ImrRefusal> {
    if equity < p.min_margin_equity {
        return Err(ImrRefusal::BelowMinimumEquity(equity, p.min_margin_equity));
    }
    let req_after = imr_requirement(p, long_after, short_after);
    let deficit_after = req_after - equity;
    let deficit_before = imr_requirement(p, long_before, short_before) - equity;
    if deficit_after.raw() > 0 && deficit_after > deficit_before {
        return Err(ImrRefusal::Deficit(req_after, equity));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{days_from_epoch, Calendar, CalendarSpec};
    use bulwark_model::Side::{Buy as B, Sell as S};
    use chrono::NaiveDate;

    fn count(carried: i64, fills: &[(Side, i64)]) -> u32 {
        let mut c = DayTradeCounter::new(carried);
        for (s, q) in fills {
            c.on_fill(*s, *q);
        }
        c.count()
    }

    #[test]
    fn pdt_c1() {
        assert_eq!(count(0, &[(B, 250), (B, 250), (S, 500)]), 1);
    }
    #[test]
    fn pdt_c2() {
        assert_eq!(count(0, &[(B, 100), (S, 100), (B, 100), (S, 100)]), 2);
    }
    #[test]
    fn pdt_c3() {
        assert_eq!(count(0, &[(B, 500), (S, 100), (S, 100), (S, 300)]), 1);
    }
    #[test]
    fn pdt_c4() {
        assert_eq!(
            count(0, &[(B, 250), (B, 300), (B, 100), (S, 150), (S, 175)]),
            1
        );
    }
    #[test]
    fn pdt_c5() {
        assert_eq!(
            count(
                0,
                &[(B, 199), (B, 142), (S, 1), (B, 45), (S, 100), (S, 200)]
            ),
            2
        );
    }
    #[test]
    fn pdt_c6() {
        // Two securities are two counters: ABC and XYZ each day-trade once.
        assert_eq!(
            count(0, &[(B, 200), (S, 100)]) + count(0, &[(B, 100), (S, 100)]),
            2
        );
    }
    #[test]
    fn pdt_c7() {
        assert_eq!(count(100, &[(S, 100), (B, 100)]), 0);
    }
    #[test]
    fn pdt_c8() {
        assert_eq!(count(100, &[(B, 100), (S, 100)]), 1);
    }
    #[test]
    fn pdt_c9() {
        assert_eq!(count(0, &[(S, 100), (B, 100)]), 1);
    }
    #[test]
    fn pdt_c10() {
        // The same option series is one security; different strikes are different securities.
        assert_eq!(count(0, &[(B, 1), (S, 1)]), 1);
        assert_eq!(count(0, &[(B, 1)]) + count(0, &[(S, 1)]), 0);
    }

    #[test]
    fn pdt_p1() {
        assert!(!is_pdt_pattern(3, 10, 4, 600));
    }
    #[test]
    fn pdt_p2() {
        assert!(is_pdt_pattern(4, 60, 4, 600));
    }
    #[test]
    fn pdt_p3() {
        assert!(!is_pdt_pattern(4, 100, 4, 600));
    }
    #[test]
    fn pdt_p4() {
        assert!(!is_pdt_pattern(6, 100, 4, 600));
    }

    fn xnys() -> Calendar {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config/calendars/XNYS.toml"
        ))
        .unwrap();
        Calendar::new(&toml::from_str::<CalendarSpec>(&text).unwrap()).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> i32 {
        days_from_epoch(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn pdt_p5() {
        let cal = xnys();
        let trades = [
            day(2026, 3, 30),
            day(2026, 3, 31),
            day(2026, 4, 1),
            day(2026, 4, 2),
        ];
        let per_day = |d: i32| u32::from(trades.contains(&d));
        let c = window_sum(&cal, day(2026, 4, 6), 5, per_day);
        assert_eq!(c, 4);
        assert!(is_pdt_pattern(c, 40, 4, 600), "4 of 40 = 10% > 6%");
        let c = window_sum(&cal, day(2026, 4, 7), 5, per_day);
        assert_eq!(c, 3);
        assert!(!is_pdt_pattern(c, 40, 4, 600));
    }

    fn usd(v: &str) -> Notional {
        let px = bulwark_model::Px::parse(v).unwrap();
        Notional::from_raw(i128::from(px.raw()))
    }

    fn protect(
        equity: &str,
        dt: u32,
        closes_today: bool,
        opposite: bool,
        exempt: bool,
        mode: PdtMode,
    ) -> bool {
        pdt_protect_rejects(
            &PdtParams::default(),
            &ProtectInput {
                mode,
                exempt,
                margin_account: true,
                prior_close_equity: usd(equity),
                dt_count_5d: dt,
                closes_opened_today: closes_today,
                opposite_working: opposite,
            },
        )
    }

    #[test]
    fn pdt_a1() {
        assert!(protect("24999.99", 3, true, false, false, PdtMode::Legacy));
    }
    #[test]
    fn pdt_a2() {
        assert!(!protect("25000.00", 3, true, false, false, PdtMode::Legacy));
    }
    #[test]
    fn pdt_a3() {
        assert!(!protect("10000", 2, true, false, false, PdtMode::Legacy));
    }
    #[test]
    fn pdt_a4() {
        // Overnight 100, working SELL LMT 100, new BUY 10: a pending pair is a potential day trade.
        let c = DayTradeCounter::new(100);
        assert_eq!(
            c.opened_today_on_position_side(),
            0,
            "nothing was bought today"
        );
        assert!(protect("10000", 3, false, true, false, PdtMode::Legacy));
    }
    #[test]
    fn pdt_a5() {
        assert!(
            !protect("10000", 3, true, true, true, PdtMode::Legacy),
            "crypto is exempt"
        );
    }
    #[test]
    fn pdt_a6() {
        let c = DayTradeCounter::new(100);
        let closes_today = c.opened_today_on_position_side() > 0;
        assert!(!protect(
            "10000",
            3,
            closes_today,
            false,
            false,
            PdtMode::Legacy
        ));
    }
    #[test]
    fn pdt_a7() {
        let alpaca_switch = Some(day(2026, 6, 4));
        let mode = pdt_mode(day(2026, 6, 5), alpaca_switch);
        assert_eq!(mode, PdtMode::IntradayMargin);
        assert!(
            !protect("10000", 3, true, false, false, mode),
            "rule n/a: intraday margin applies instead"
        );
        assert_eq!(pdt_mode(day(2026, 6, 3), alpaca_switch), PdtMode::Legacy);
        assert_eq!(
            pdt_mode(day(2026, 6, 5), None),
            PdtMode::Legacy,
            "a broker that has not switched"
        );
        assert_eq!(pdt_mode(day(2027, 10, 21), None), PdtMode::IntradayMargin);
        assert_eq!(AMENDMENT_EFFECTIVE_DAY, day(2026, 6, 4));
        assert_eq!(IMPLEMENTATION_END_DAY, day(2027, 10, 21));
    }

    #[test]
    fn dtbp_worked_example() {
        assert_eq!(dtbp_bod(usd("50000"), usd("30000"), 4), usd("80000"));
    }

    fn imr(equity: &str, before: &str, after: &str) -> Result<(), ImrRefusal> {
        imr_check(
            &ImrParams::default(),
            usd(equity),
            (usd(before), Notional::ZERO),
            (usd(after), Notional::ZERO),
        )
    }

    #[test]
    fn imr_1() {
        assert_eq!(imr("10000", "0", "40000"), Ok(()));
    }
    #[test]
    fn imr_2() {
        assert_eq!(
            imr("10000", "0", "40004"),
            Err(ImrRefusal::Deficit(usd("10001"), usd("10000")))
        );
    }
    #[test]
    fn imr_3() {
        assert_eq!(
            imr("10000", "50000", "45000"),
            Ok(()),
            "a sell that reduces an existing deficit"
        );
    }
    #[test]
    fn imr_4() {
        assert!(matches!(
            imr("1999", "0", "100"),
            Err(ImrRefusal::BelowMinimumEquity(..))
        ));
    }
}
