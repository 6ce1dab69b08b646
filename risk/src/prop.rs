//! Prop-firm rule sets as compositions of the floor primitives of spec §3.1: STATIC_FLOOR, DAILY_FLOOR,
//! TRAIL_EOD, TRAIL_INTRADAY and STEP_LOCK, each with a breach action (HARD: evaluation failed, lock for good;
//! SOFT: flatten and block until the next day boundary). Firm templates are data (`config/prop-firms/*.toml`)
//! deserialized into [`FirmTemplate`]. [`PropAccount`] keeps the per-account state (balances, peaks, floors)
//! and is driven by equity updates and day boundaries; floors only ever rise, and the state is journaled
//! through the sequencer so it survives restarts. Objectives and consistency rules are pure functions.

use bulwark_model::{Notional, Px};
use serde::{Deserialize, Deserializer};

/// A decimal from config: a TOML integer, float or string, read exactly into 10^-8 fixed point. (A TOML float
/// is taken by its shortest round-trip text, which is the literal as written.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dec(pub Px);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            I(i64),
            F(f64),
            S(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::I(v) => v.to_string(),
            Raw::F(v) => format!("{v}"),
            Raw::S(s) => s,
        };
        Px::parse(&text)
            .map(Dec)
            .map_err(|e| serde::de::Error::custom(format!("`{text}`: {e}")))
    }
}

impl Dec {
    fn money(self) -> Notional {
        Notional::from_raw(i128::from(self.0.raw()))
    }
    /// `value x self / 100`, for percentages.
    fn percent_of(self, value: Notional) -> Notional {
        Notional::from_raw(
            value.raw() * i128::from(self.0.raw()) / (100 * i128::from(bulwark_model::FIXED_SCALE)),
        )
    }
}

/// What a breach does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachAction {
    /// Flatten, cancel all, lock the account permanently.
    Hard,
    /// Flatten, cancel all, block until the next day boundary.
    Soft,
    /// Block new orders until the next day boundary, positions untouched (TTP daily pause).
    Pause,
}

/// Basis of a daily floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DailyBasis {
    SodBalance,
    MaxSodBalanceEquity,
    SodRealized,
}

/// An amount given either in currency or in percent of the initial balance.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Amount {
    #[serde(default)]
    pub usd: Option<Dec>,
    #[serde(default)]
    pub pct_of_initial: Option<Dec>,
}

impl Amount {
    /// Resolves to money for an account of initial balance `b0`.
    pub fn resolve(&self, b0: Notional) -> Result<Notional, String> {
        let hundred = Px::from_units(100);
        match (self.usd, self.pct_of_initial) {
            (Some(v), None) if v.0.raw() >= 0 => Ok(v.money()),
            (None, Some(p)) if p.0.raw() >= 0 && p.0 <= hundred => Ok(p.percent_of(b0)),
            _ => Err(
                "an amount needs exactly one of `usd` (>= 0) or `pct_of_initial` (0 to 100)".into(),
            ),
        }
    }
}

/// One floor primitive as configured.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum FloorSpec {
    Static {
        name: String,
        loss: Amount,
        action: BreachAction,
        #[serde(default)]
        breach_on_equal: bool,
    },
    Daily {
        name: String,
        loss: Amount,
        basis: DailyBasis,
        action: BreachAction,
        #[serde(default)]
        breach_on_equal: bool,
    },
    TrailEod {
        name: String,
        drawdown: Amount,
        #[serde(default)]
        lock_above_initial: Option<Amount>,
        action: BreachAction,
        #[serde(default)]
        breach_on_equal: bool,
    },
    TrailIntraday {
        name: String,
        drawdown: Amount,
        #[serde(default)]
        lock_above_initial: Option<Amount>,
        action: BreachAction,
        #[serde(default)]
        breach_on_equal: bool,
    },
    StepLock {
        name: String,
        loss: Amount,
        trigger_above_initial: Amount,
        lock_above_initial: Amount,
        action: BreachAction,
        #[serde(default)]
        breach_on_equal: bool,
    },
}

/// Evaluation objectives and payout consistency.
#[derive(Clone, Debug, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Objectives {
    #[serde(default)]
    pub profit_target: Option<Amount>,
    #[serde(default)]
    pub min_trading_days: u32,
    /// Best day must be below this share of total profit (percent), e.g. Topstep 40 or 50.
    #[serde(default)]
    pub consistency_best_day_pct: Option<Dec>,
    /// Best single trade must not exceed this share of the profit target (percent), e.g. TTP 30.
    #[serde(default)]
    pub consistency_best_trade_pct_of_target: Option<Dec>,
    /// Payout: no day above this share of profit since the last payout (percent), e.g. Apex legacy 30.
    #[serde(default)]
    pub payout_best_day_pct: Option<Dec>,
}

/// A firm's rule set.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmTemplate {
    pub name: String,
    pub firm: String,
    pub initial_balance_usd: Dec,
    /// IANA zone and local time of the day boundary ("00:00" Europe/Prague for FTMO, "17:00" America/Chicago).
    pub day_boundary_timezone: String,
    pub day_boundary: String,
    #[serde(default)]
    pub floors: Vec<FloorSpec>,
    /// Total absolute contracts across products (micros count as full lots unless stated).
    #[serde(default)]
    pub max_position_lots: Option<u32>,
    #[serde(default)]
    pub objectives: Objectives,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub notes: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Static,
    Daily(DailyBasis),
    TrailEod,
    TrailIntraday,
    StepLock { trigger: Notional, lock: Notional },
}

/// A compiled floor with its current value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Floor {
    pub name: String,
    kind: Kind,
    /// Loss or drawdown amount.
    amount: Notional,
    /// Trailing cap (None: trails forever).
    lock: Option<Notional>,
    pub action: BreachAction,
    pub breach_on_equal: bool,
    pub value: Notional,
    step_locked: bool,
}

/// A breach found by an update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    pub floor: String,
    pub action: BreachAction,
    pub equity: Notional,
    pub floor_value: Notional,
}

/// Per-account prop state (§3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropAccount {
    pub b0: Notional,
    pub balance: Notional,
    pub equity: Notional,
    pub sod_balance: Notional,
    pub sod_equity: Notional,
    pub equity_peak: Notional,
    pub floors: Vec<Floor>,
}

impl PropAccount {
    /// Compiles a template for an account starting at its initial balance.
    pub fn new(t: &FirmTemplate) -> Result<PropAccount, Vec<String>> {
        let b0 = t.initial_balance_usd.money();
        let mut errors = Vec::new();
        let mut floors = Vec::new();
        let res = |a: &Amount, what: &str, errors: &mut Vec<String>| {
            a.resolve(b0).unwrap_or_else(|e| {
                errors.push(format!("{}: {what}: {e}", t.name));
                Notional::ZERO
            })
        };
        for f in &t.floors {
            let (name, kind, amount, lock, action, boe) = match f {
                FloorSpec::Static {
                    name,
                    loss,
                    action,
                    breach_on_equal,
                } => (
                    name,
                    Kind::Static,
                    res(loss, "loss", &mut errors),
                    None,
                    *action,
                    *breach_on_equal,
                ),
                FloorSpec::Daily {
                    name,
                    loss,
                    basis,
                    action,
                    breach_on_equal,
                } => (
                    name,
                    Kind::Daily(*basis),
                    res(loss, "loss", &mut errors),
                    None,
                    *action,
                    *breach_on_equal,
                ),
                FloorSpec::TrailEod {
                    name,
                    drawdown,
                    lock_above_initial,
                    action,
                    breach_on_equal,
                } => (
                    name,
                    Kind::TrailEod,
                    res(drawdown, "drawdown", &mut errors),
                    lock_above_initial.map(|l| b0 + res(&l, "lock", &mut errors)),
                    *action,
                    *breach_on_equal,
                ),
                FloorSpec::TrailIntraday {
                    name,
                    drawdown,
                    lock_above_initial,
                    action,
                    breach_on_equal,
                } => (
                    name,
                    Kind::TrailIntraday,
                    res(drawdown, "drawdown", &mut errors),
                    lock_above_initial.map(|l| b0 + res(&l, "lock", &mut errors)),
                    *action,
                    *breach_on_equal,
                ),
                FloorSpec::StepLock {
                    name,
                    loss,
                    trigger_above_initial,
                    lock_above_initial,
                    action,
                    breach_on_equal,
                } => {
                    let trigger = b0 + res(trigger_above_initial, "trigger", &mut errors);
                    let lock = b0 + res(lock_above_initial, "lock", &mut errors);
                    (
                        name,
                        Kind::StepLock { trigger, lock },
                        res(loss, "loss", &mut errors),
                        None,
                        *action,
                        *breach_on_equal,
                    )
                }
            };
            floors.push(Floor {
                name: name.clone(),
                kind,
                amount,
                lock,
                action,
                breach_on_equal: boe,
                value: b0 - amount,
                step_locked: false,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PropAccount {
            b0,
            balance: b0,
            equity: b0,
            sod_balance: b0,
            sod_equity: b0,
            equity_peak: b0,
            floors,
        })
    }

    fn breached(f: &Floor, equity: Notional) -> bool {
        if f.breach_on_equal {
            equity <= f.value
        } else {
            equity < f.value
        }
    }

    fn test(&self) -> Option<Breach> {
        // The most severe breach wins: HARD, then SOFT, then PAUSE.
        let rank = |a: BreachAction| match a {
            BreachAction::Hard => 0,
            BreachAction::Soft => 1,
            BreachAction::Pause => 2,
        };
        self.floors
            .iter()
            .filter(|f| Self::breached(f, self.equity))
            .min_by_key(|f| rank(f.action))
            .map(|f| Breach {
                floor: f.name.clone(),
                action: f.action,
                equity: self.equity,
                floor_value: f.value,
            })
    }

    /// An intraday update (fill or price): new balance (realized, net of fees) and equity. Updates peaks and
    /// intraday floors, then tests every floor (§3.7: update, then test).
    pub fn on_update(&mut self, balance: Notional, equity: Notional) -> Option<Breach> {
        self.balance = balance;
        self.equity = equity;
        self.equity_peak = self.equity_peak.max(equity);
        for f in &mut self.floors {
            match f.kind {
                Kind::TrailIntraday => {
                    let candidate = self.equity_peak - f.amount;
                    let candidate = f.lock.map_or(candidate, |l| candidate.min(l));
                    f.value = f.value.max(candidate);
                }
                Kind::StepLock { trigger, lock } if !f.step_locked && equity >= trigger => {
                    f.step_locked = true;
                    f.value = f.value.max(lock);
                }
                _ => {}
            }
        }
        self.test()
    }

    /// The firm's day boundary: snapshot start-of-day values, recompute daily floors, trail end-of-day floors,
    /// then test (FT-2: a breach can happen at the reset instant).
    pub fn on_day_boundary(&mut self) -> Option<Breach> {
        self.sod_balance = self.balance;
        self.sod_equity = self.equity;
        for f in &mut self.floors {
            match f.kind {
                Kind::Daily(basis) => {
                    let base = match basis {
                        DailyBasis::SodBalance | DailyBasis::SodRealized => self.sod_balance,
                        DailyBasis::MaxSodBalanceEquity => self.sod_balance.max(self.sod_equity),
                    };
                    // Daily floors are recomputed each day (not monotone across days by design of the rule).
                    f.value = base - f.amount;
                }
                Kind::TrailEod => {
                    let candidate = self.balance - f.amount;
                    let candidate = f.lock.map_or(candidate, |l| candidate.min(l));
                    f.value = f.value.max(candidate);
                }
                _ => {}
            }
        }
        self.test()
    }

    pub fn floor(&self, name: &str) -> Option<Notional> {
        self.floors.iter().find(|f| f.name == name).map(|f| f.value)
    }
}

/// FTMO-style evaluation: passed when the closed balance reaches the target with no open position and at
/// least `min_days` trading days (days on which a position was opened).
pub fn objective_passed(
    closed_balance: Notional,
    open_positions: bool,
    target_balance: Notional,
    trading_days: u32,
    min_days: u32,
) -> bool {
    !open_positions && closed_balance >= target_balance && trading_days >= min_days
}

/// Best day strictly below `pct` percent of total profit (Topstep consistency).
pub fn consistency_ok(best_day: Notional, total_profit: Notional, pct: Dec) -> bool {
    total_profit.raw() > 0 && best_day < pct.percent_of(total_profit)
}

/// Payout consistency (Apex): no day above `pct` percent of profit since the last payout. When it is not
/// allowed, returns the total profit that would make the best day compliant.
pub fn payout_allowed(
    best_day: Notional,
    profit_since_payout: Notional,
    pct: Dec,
) -> Result<(), Notional> {
    if best_day <= pct.percent_of(profit_since_payout) {
        return Ok(());
    }
    let scale = i128::from(bulwark_model::FIXED_SCALE);
    let num = best_day.raw() * 100 * scale;
    let den = i128::from(pct.0.raw());
    Err(Notional::from_raw((num + den - 1) / den))
}

/// Best single trade at most `pct` percent of the profit target (TTP consistency).
pub fn best_trade_ok(best_trade: Notional, profit_target: Notional, pct: Dec) -> bool {
    best_trade <= pct.percent_of(profit_target)
}

/// Total absolute lots after an order of `order_lots` (signed) in a product now at `product_pos` (signed),
/// given the sum of absolute lots across all products now.
pub fn lots_after(total_abs_lots: u32, product_pos: i64, order_lots: i64) -> u32 {
    let before = product_pos.unsigned_abs() as u32;
    let after = (product_pos + order_lots).unsigned_abs() as u32;
    total_abs_lots - before + after
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn usd(v: &str) -> Notional {
        Notional::from_raw(i128::from(bulwark_model::Px::parse(v).unwrap().raw()))
    }

    fn template(name: &str) -> FirmTemplate {
        let path = format!(
            "{}/../config/prop-firms/{name}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn account(name: &str) -> PropAccount {
        PropAccount::new(&template(name)).unwrap()
    }

    #[test]
    fn ft_1() {
        let mut a = account("ftmo-2step-200k");
        assert_eq!(a.floor("max_daily_loss"), Some(usd("190000")));
        assert_eq!(a.on_update(usd("204000"), usd("204000")), None);
        assert_eq!(
            a.on_update(usd("204000"), usd("191000")),
            None,
            "191,000 >= 190,000"
        );
    }

    #[test]
    fn ft_2() {
        let mut a = account("ftmo-2step-200k");
        a.on_update(usd("204000"), usd("191000"));
        let b = a.on_day_boundary().expect("breach at the reset instant");
        assert_eq!(a.floor("max_daily_loss"), Some(usd("194000")));
        assert_eq!(
            (b.floor.as_str(), b.action),
            ("max_daily_loss", BreachAction::Hard)
        );
    }

    #[test]
    fn ft_3() {
        // A day that started at balance 92,000 (daily floor 87,000), so only the static floor is in play.
        let start_day = |a: &mut PropAccount| {
            a.on_update(usd("92000"), usd("92000"));
            a.on_day_boundary();
        };
        let mut a = account("ftmo-2step-100k");
        start_day(&mut a);
        let b = a
            .on_update(usd("92000"), usd("89999"))
            .expect("below 90% of initial");
        assert_eq!(
            (b.floor.as_str(), b.action),
            ("max_loss", BreachAction::Hard)
        );
        let mut a = account("ftmo-2step-100k");
        start_day(&mut a);
        assert_eq!(a.on_update(usd("92000"), usd("90000")), None);
    }

    #[test]
    fn ft_4() {
        let mut a = account("ftmo-1step-100k");
        assert_eq!(a.floor("max_loss"), Some(usd("90000")));
        a.on_update(usd("104000"), usd("104000"));
        a.on_day_boundary();
        assert_eq!(a.floor("max_loss"), Some(usd("94000")));
        a.on_update(usd("103000"), usd("103000"));
        a.on_day_boundary();
        assert_eq!(a.floor("max_loss"), Some(usd("94000")), "never decreases");
    }

    #[test]
    fn ft_5() {
        let t = template("ftmo-2step-100k");
        let target = usd("100000")
            + t.objectives
                .profit_target
                .unwrap()
                .resolve(usd("100000"))
                .unwrap();
        assert_eq!(target, usd("110000"));
        assert!(!objective_passed(
            usd("110200"),
            false,
            target,
            3,
            t.objectives.min_trading_days
        ));
        assert!(objective_passed(
            usd("110050"),
            false,
            target,
            4,
            t.objectives.min_trading_days
        ));
    }

    #[test]
    fn ft_6() {
        assert!(
            !objective_passed(usd("109000"), true, usd("110000"), 4, 4),
            "equity 111,000 but the target is closed balance"
        );
    }

    #[test]
    fn ft_7() {
        let t = template("ftmo-2step-100k");
        let prague: chrono_tz::Tz = t.day_boundary_timezone.parse().unwrap();
        let opened = chrono_tz::America::New_York
            .with_ymd_and_hms(2026, 3, 15, 19, 30, 0)
            .unwrap();
        assert_eq!(
            opened.with_timezone(&prague).date_naive().to_string(),
            "2026-03-16"
        );
        let reset = prague.with_ymd_and_hms(2026, 3, 16, 0, 0, 0).unwrap();
        assert_eq!(
            reset
                .with_timezone(&chrono_tz::America::New_York)
                .format("%H:%M")
                .to_string(),
            "19:00"
        );
    }

    #[test]
    fn ts_1() {
        let mut a = account("topstep-50k");
        assert_eq!(a.floor("maximum_loss_limit"), Some(usd("48000")));
        a.on_update(usd("50500"), usd("50500"));
        a.on_day_boundary();
        assert_eq!(a.floor("maximum_loss_limit"), Some(usd("48500")));
        a.on_update(usd("50000"), usd("50000"));
        a.on_day_boundary();
        assert_eq!(a.floor("maximum_loss_limit"), Some(usd("48500")));
    }

    #[test]
    fn ts_2() {
        let mut a = account("topstep-50k");
        for eod in ["52500", "55000", "54000"] {
            a.on_update(usd(eod), usd(eod));
            a.on_day_boundary();
            assert_eq!(
                a.floor("maximum_loss_limit"),
                Some(usd("50000")),
                "locked at the starting balance"
            );
        }
    }

    #[test]
    fn ts_3() {
        let mut a = account("topstep-50k");
        a.on_update(usd("50000"), usd("51800"));
        a.on_update(usd("50200"), usd("50200"));
        a.on_day_boundary();
        assert_eq!(
            a.floor("maximum_loss_limit"),
            Some(usd("48200")),
            "intraday peak ignored"
        );
    }

    #[test]
    fn ts_4() {
        // The MLL alone (the DLL would fire first on a non-TopstepX account).
        let mut a = account("topstepx-50k");
        a.on_update(usd("50500"), usd("50500"));
        a.on_day_boundary();
        let b = a.on_update(usd("50500"), usd("48499.99")).expect("breach");
        assert_eq!(
            (b.floor.as_str(), b.action),
            ("maximum_loss_limit", BreachAction::Hard)
        );
        let mut a = account("topstepx-50k");
        a.on_update(usd("50500"), usd("50500"));
        a.on_day_boundary();
        assert!(a.on_update(usd("50500"), usd("48500.00")).is_none());
    }

    #[test]
    fn ts_5() {
        let cap = template("topstep-50k").max_position_lots.unwrap();
        // Long 2 ES + short 3 CL = 5 lots; BUY 1 MES (a micro counts as a full lot) makes 6.
        let after = lots_after(5, 0, 1);
        assert_eq!(after, 6);
        assert!(after > cap, "REJECT MAX_POSITION");
    }

    #[test]
    fn ts_6() {
        let mut a = account("topstep-50k");
        a.on_update(usd("50800"), usd("50800"));
        a.on_day_boundary();
        assert_eq!(a.floor("daily_loss_limit"), Some(usd("49800")));
        let b = a
            .on_update(usd("50800"), usd("49799"))
            .expect("soft breach");
        assert_eq!(
            (b.floor.as_str(), b.action),
            ("daily_loss_limit", BreachAction::Soft)
        );
        // TopstepX accounts created after 2024-08-25 have no DLL: the same equity is no breach.
        let mut x = account("topstepx-50k");
        x.on_update(usd("50800"), usd("50800"));
        x.on_day_boundary();
        assert_eq!(x.on_update(usd("50800"), usd("49799")), None);
    }

    #[test]
    fn ts_7() {
        let pct = |v| Dec(Px::from_units(v));
        assert!(consistency_ok(usd("900"), usd("2800"), pct(40)));
        assert!(!consistency_ok(usd("1300"), usd("3000"), pct(40)));
        assert!(consistency_ok(usd("1300"), usd("3000"), pct(50)));
        let topstep = template("topstep-50k")
            .objectives
            .consistency_best_day_pct
            .unwrap();
        assert_eq!(
            topstep,
            pct(50),
            "the current Combine figure (40% was the 2021 rule)"
        );
    }

    #[test]
    fn ax_1() {
        let mut a = account("apex-50k-intraday");
        assert_eq!(a.floor("trailing_threshold"), Some(usd("47500")));
        a.on_update(usd("50000"), usd("50875"));
        assert_eq!(a.floor("trailing_threshold"), Some(usd("48375")));
        a.on_update(usd("50100"), usd("50100"));
        assert_eq!(
            a.floor("trailing_threshold"),
            Some(usd("48375")),
            "never moves down"
        );
    }

    #[test]
    fn ax_2() {
        let mut a = account("apex-50k-legacy-pa");
        a.on_update(usd("50000"), usd("52700"));
        assert_eq!(
            a.floor("trailing_threshold"),
            Some(usd("50100")),
            "clamped at B0 + 100"
        );
        a.on_update(usd("50000"), usd("56000"));
        assert_eq!(
            a.floor("trailing_threshold"),
            Some(usd("50100")),
            "locked permanently"
        );
    }

    #[test]
    fn ax_3() {
        let mut a = account("apex-50k-eod");
        a.on_update(usd("50000"), usd("51000"));
        assert_eq!(
            a.floor("trailing_threshold"),
            Some(usd("47500")),
            "unchanged intraday"
        );
        a.on_update(usd("50400"), usd("50400"));
        a.on_day_boundary();
        assert_eq!(a.floor("trailing_threshold"), Some(usd("47900")));
    }

    #[test]
    fn ax_4() {
        let legacy = template("apex-50k-legacy-pa")
            .objectives
            .payout_best_day_pct
            .unwrap();
        let need = payout_allowed(usd("3200"), usd("10000"), legacy).unwrap_err();
        assert_eq!(need, usd("10666.66666667"), "needs total >= 10,666.67");
        let current = template("apex-50k-intraday")
            .objectives
            .payout_best_day_pct
            .unwrap();
        assert_eq!(payout_allowed(usd("3200"), usd("10000"), current), Ok(()));
    }

    #[test]
    fn ax_5() {
        let mut a = account("apex-50k-intraday");
        a.on_update(usd("50000"), usd("50875"));
        let b = a.on_update(usd("50000"), usd("48375.00"));
        assert!(
            b.is_some(),
            "Apex breaches when equity reaches the threshold (breach_on_equal)"
        );
    }

    #[test]
    fn tp_1() {
        let mut a = account("ttp-day-flex-50k");
        let b = a
            .on_update(usd("50000"), usd("49000.00"))
            .expect("daily pause");
        assert_eq!(
            (b.floor.as_str(), b.action),
            ("daily_pause", BreachAction::Pause)
        );
        let mut a = account("ttp-day-flex-50k");
        assert_eq!(a.on_update(usd("50000"), usd("49000.01")), None);
    }

    #[test]
    fn tp_2() {
        let mut a = account("ttp-day-flex-50k");
        let b = a.on_update(usd("50000"), usd("47999.99")).expect("breach");
        assert_eq!(
            (b.floor.as_str(), b.action),
            ("max_loss", BreachAction::Hard)
        );
    }

    #[test]
    fn tp_3() {
        let mut a = account("ttp-day-flex-50k");
        a.on_update(usd("53000"), usd("53000"));
        assert_eq!(
            a.floor("max_loss"),
            Some(usd("50000")),
            "locked at the initial balance"
        );
        a.on_day_boundary();
        let b = a.on_update(usd("53000"), usd("49999.99")).expect("breach");
        assert_eq!(
            (b.floor.as_str(), b.action),
            ("max_loss", BreachAction::Hard)
        );
    }

    #[test]
    fn tp_4() {
        let t = template("ttp-day-flex-50k");
        let pct = t.objectives.consistency_best_trade_pct_of_target.unwrap();
        assert!(!best_trade_ok(usd("1000"), usd("3000"), pct), "cap is 900");
        assert!(best_trade_ok(usd("900"), usd("3000"), pct));
    }

    #[test]
    fn every_template_compiles() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/prop-firms");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let t: FirmTemplate = toml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            assert_eq!(
                format!("{}.toml", t.name),
                p.file_name().unwrap().to_str().unwrap()
            );
            PropAccount::new(&t).unwrap();
            n += 1;
        }
        assert!(n >= 11);
    }
}
