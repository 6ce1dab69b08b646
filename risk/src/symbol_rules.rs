//! Symbol-level entry restrictions of prop programs (Trade The Pool, spec §3.5): no entries after a fast move,
//! a wait after a volatility halt resumes, a minimum day volume by session, and no overnight position into an
//! earnings report. Pure functions over the market data the caller keeps (a bounded window of reference
//! prices, the day's volume, the earnings calendar); each returns the reject to report.

use crate::calendar::Phase;
use bulwark_model::{Measure, Px, Reject, RejectReason, RuleId};

/// Parameters (TTP defaults ⚠: configuration, not constants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SymbolRuleParams {
    /// No entries after a move of at least this many basis points within `move_window_ns`.
    pub move_bp: u32,
    pub move_window_ns: i64,
    /// After a volatility halt resumes, wait this long.
    pub resume_wait_ns: i64,
    /// Minimum day volume (shares) in the regular session and in pre/post sessions, strict `>`.
    pub min_volume_regular: u64,
    pub min_volume_extended: u64,
}

impl Default for SymbolRuleParams {
    fn default() -> Self {
        SymbolRuleParams {
            move_bp: 800,
            move_window_ns: 4 * 60 * 1_000_000_000,
            resume_wait_ns: 60 * 1_000_000_000,
            min_volume_regular: 200_000,
            min_volume_extended: 20_000,
        }
    }
}

/// The largest move within the window ending at `now_ns`, in basis points of the window's low: the range
/// (high - low) / low over `(ts, px)` samples in time order.
pub fn move_bp(samples: &[(i64, Px)], now_ns: i64, window_ns: i64) -> u32 {
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    for (ts, px) in samples.iter().rev() {
        if *ts < now_ns - window_ns {
            break;
        }
        lo = lo.min(px.raw());
        hi = hi.max(px.raw());
    }
    if lo <= 0 || hi < lo {
        return 0;
    }
    (i128::from(hi - lo) * 10_000 / i128::from(lo)) as u32
}

/// VOLATILITY_RESTRICTION: a fast move, or too soon after a halt resumed.
pub fn check_volatility(
    p: &SymbolRuleParams,
    samples: &[(i64, Px)],
    resumed_at_ns: Option<i64>,
    now_ns: i64,
) -> Result<(), Reject> {
    let m = move_bp(samples, now_ns, p.move_window_ns);
    if m >= p.move_bp {
        return Err(Reject::with(
            RuleId::Symbol,
            RejectReason::VolatilityRestriction,
            Measure::Bp,
            i64::from(m),
            i64::from(p.move_bp),
        ));
    }
    if let Some(r) = resumed_at_ns {
        if now_ns >= r && now_ns - r < p.resume_wait_ns {
            return Err(Reject::with(
                RuleId::Symbol,
                RejectReason::VolatilityRestriction,
                Measure::AgeMs,
                (now_ns - r) / 1_000_000,
                p.resume_wait_ns / 1_000_000,
            ));
        }
    }
    Ok(())
}

/// Minimum day volume for the session the order enters.
pub fn check_volume(p: &SymbolRuleParams, phase: Phase, day_volume: u64) -> Result<(), Reject> {
    let min = match phase {
        Phase::Regular => p.min_volume_regular,
        _ => p.min_volume_extended,
    };
    if day_volume > min {
        Ok(())
    } else {
        Err(Reject::with(
            RuleId::Symbol,
            RejectReason::InsufficientVolume,
            Measure::Count,
            day_volume as i64,
            min as i64,
        ))
    }
}

/// EARNINGS_OVERNIGHT: a swing account may not increase a position it would carry into an earnings report.
pub fn check_earnings_overnight(
    swing_account: bool,
    reports_before_next_session: bool,
    risk_increasing: bool,
) -> Result<(), Reject> {
    if swing_account && reports_before_next_session && risk_increasing {
        Err(Reject::plain(
            RuleId::Symbol,
            RejectReason::EarningsOvernight,
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60 * 1_000_000_000;
    const S: i64 = 1_000_000_000;

    fn px(s: &str) -> Px {
        Px::parse(s).unwrap()
    }

    #[test]
    fn tp_6() {
        let p = SymbolRuleParams::default();
        let t = 10 * 60 * MIN;
        // +8.2% within the last 4 minutes.
        let samples = [
            (t - 3 * MIN, px("10.00")),
            (t - 2 * MIN, px("10.50")),
            (t - 10 * S, px("10.82")),
        ];
        let r = check_volatility(&p, &samples, None, t).unwrap_err();
        assert_eq!(r.reason, RejectReason::VolatilityRestriction);
        assert_eq!(r.detail(), "bp=820>max=800");
        // The same move spread over more than 4 minutes is no restriction.
        let slow = [(t - 5 * MIN, px("10.00")), (t - 10 * S, px("10.82"))];
        assert!(check_volatility(&p, &slow, None, t).is_ok());
        // A 10%/5-minute halt resumed at 10:31:00: 10:31:30 is too soon, 10:32:00 is fine.
        let resumed = 10 * 60 * MIN + 31 * MIN;
        assert!(check_volatility(&p, &[], Some(resumed), resumed + 30 * S).is_err());
        assert!(check_volatility(&p, &[], Some(resumed), resumed + 60 * S).is_ok());
    }

    #[test]
    fn tp_7() {
        let p = SymbolRuleParams::default();
        let r = check_volume(&p, Phase::Regular, 150_000).unwrap_err();
        assert_eq!(r.reason, RejectReason::InsufficientVolume);
        assert!(
            check_volume(&p, Phase::Pre, 25_000).is_ok(),
            "07:00 ET is the pre-market: > 20,000 suffices"
        );
        assert!(
            check_volume(&p, Phase::Regular, 200_000).is_err(),
            "strictly more than 200,000"
        );
    }

    #[test]
    fn tp_8() {
        let r = check_earnings_overnight(true, true, true).unwrap_err();
        assert_eq!(r.reason, RejectReason::EarningsOvernight);
        assert!(
            check_earnings_overnight(true, true, false).is_ok(),
            "reducing is allowed"
        );
        assert!(
            check_earnings_overnight(false, true, true).is_ok(),
            "day accounts are flat by the close anyway"
        );
    }
}
