//! Builds the risk engine's configuration from the gateway config: the exchange calendars and prop-firm
//! templates shipped in `config/calendars/` and `config/prop-firms/` (compiled into the binary, so the gateway
//! runs from anywhere), optionally extended or overridden by files in `gateway.calendars_dir` and
//! `gateway.prop_firms_dir`; limits profiles; account groups; and the day boundaries the timer task fires.

use crate::catalog::Catalog;
use crate::config::{AccountType, AssetClassName, Config, LimitsSection};
use bulwark_model::{AccountId, Notional, Qty};
use bulwark_risk::calendar::{Calendar, CalendarSpec};
use bulwark_risk::prop::{FirmTemplate, PropAccount};
use bulwark_risk::{AccountRisk, AssetClass, EngineConfig, Limits, PdtSettings, SymbolRisk};
use std::collections::HashMap;
use std::path::Path;

/// (file name, contents) of the shipped calendars.
pub const EMBEDDED_CALENDARS: &[(&str, &str)] = &[
    (
        "XNYS.toml",
        include_str!("../../config/calendars/XNYS.toml"),
    ),
    (
        "XNAS.toml",
        include_str!("../../config/calendars/XNAS.toml"),
    ),
    (
        "CMES.toml",
        include_str!("../../config/calendars/CMES.toml"),
    ),
    (
        "XNSE.toml",
        include_str!("../../config/calendars/XNSE.toml"),
    ),
    (
        "CRYPTO.toml",
        include_str!("../../config/calendars/CRYPTO.toml"),
    ),
    (
        "ALWAYS.toml",
        include_str!("../../config/calendars/ALWAYS.toml"),
    ),
];

/// (file name, contents) of the shipped prop-firm templates.
pub const EMBEDDED_FIRMS: &[(&str, &str)] = &[
    (
        "ftmo-2step-100k.toml",
        include_str!("../../config/prop-firms/ftmo-2step-100k.toml"),
    ),
    (
        "ftmo-2step-200k.toml",
        include_str!("../../config/prop-firms/ftmo-2step-200k.toml"),
    ),
    (
        "ftmo-1step-100k.toml",
        include_str!("../../config/prop-firms/ftmo-1step-100k.toml"),
    ),
    (
        "topstep-50k.toml",
        include_str!("../../config/prop-firms/topstep-50k.toml"),
    ),
    (
        "topstep-100k.toml",
        include_str!("../../config/prop-firms/topstep-100k.toml"),
    ),
    (
        "topstep-150k.toml",
        include_str!("../../config/prop-firms/topstep-150k.toml"),
    ),
    (
        "topstepx-50k.toml",
        include_str!("../../config/prop-firms/topstepx-50k.toml"),
    ),
    (
        "apex-50k-intraday.toml",
        include_str!("../../config/prop-firms/apex-50k-intraday.toml"),
    ),
    (
        "apex-50k-eod.toml",
        include_str!("../../config/prop-firms/apex-50k-eod.toml"),
    ),
    (
        "apex-50k-legacy-pa.toml",
        include_str!("../../config/prop-firms/apex-50k-legacy-pa.toml"),
    ),
    (
        "ttp-day-flex-50k.toml",
        include_str!("../../config/prop-firms/ttp-day-flex-50k.toml"),
    ),
];

/// A problem in a calendar or template file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

fn read_dir_toml(dir: &Path) -> Result<Vec<(String, String)>, DataError> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| DataError {
        file: dir.display().to_string(),
        line: 0,
        message: format!("cannot read directory: {e}"),
    })?;
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(&p).map_err(|err| DataError {
                file: p.display().to_string(),
                line: 0,
                message: format!("cannot read: {err}"),
            })?;
            out.push((p.display().to_string(), text));
        }
    }
    out.sort();
    Ok(out)
}

fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, DataError> {
    toml::from_str(text).map_err(|e| DataError {
        file: file.to_string(),
        line: e.span().map_or(1, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        }),
        message: e.message().to_string(),
    })
}

/// The shipped files of `config/<what>/`, then those of `extra_dir` (which override by name): (label, text).
fn data_files(
    embedded: &[(&str, &str)],
    what: &str,
    extra_dir: Option<&Path>,
    errors: &mut Vec<DataError>,
) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = embedded
        .iter()
        .map(|(n, t)| (format!("<embedded config/{what}/{n}>"), t.to_string()))
        .collect();
    if let Some(d) = extra_dir {
        match read_dir_toml(d) {
            Ok(f) => files.extend(f),
            Err(e) => errors.push(e),
        }
    }
    files
}

/// Every known calendar (shipped, then the directory's, which override by name), compiled.
pub fn calendars(extra_dir: Option<&Path>) -> Result<Vec<Calendar>, Vec<DataError>> {
    let mut errors = Vec::new();
    let files = data_files(EMBEDDED_CALENDARS, "calendars", extra_dir, &mut errors);
    let mut out: Vec<Calendar> = Vec::new();
    for (file, text) in files {
        match parse::<CalendarSpec>(&file, &text) {
            Ok(spec) => match Calendar::new(&spec) {
                Ok(c) => {
                    out.retain(|x| x.name() != c.name());
                    out.push(c);
                }
                Err(es) => errors.extend(es.into_iter().map(|m| DataError {
                    file: file.clone(),
                    line: 1,
                    message: m,
                })),
            },
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Every known firm template (shipped, then the directory's), validated by compiling it.
pub fn firm_templates(extra_dir: Option<&Path>) -> Result<Vec<FirmTemplate>, Vec<DataError>> {
    let mut errors = Vec::new();
    let files = data_files(EMBEDDED_FIRMS, "prop-firms", extra_dir, &mut errors);
    let mut out: Vec<FirmTemplate> = Vec::new();
    for (file, text) in files {
        match parse::<FirmTemplate>(&file, &text) {
            Ok(t) => {
                if let Err(es) = PropAccount::new(&t) {
                    errors.extend(es.into_iter().map(|m| DataError {
                        file: file.clone(),
                        line: 1,
                        message: m,
                    }));
                    continue;
                }
                if t.day_boundary_timezone.parse::<chrono_tz::Tz>().is_err() {
                    errors.push(DataError {
                        file: file.clone(),
                        line: 1,
                        message: format!(
                            "day_boundary_timezone `{}` is not an IANA zone",
                            t.day_boundary_timezone
                        ),
                    });
                    continue;
                }
                out.retain(|x| x.name != t.name);
                out.push(t);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A day boundary: a time zone and the local minute of the day it falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayBoundary {
    pub tz: chrono_tz::Tz,
    pub minute: u32,
}

/// Boundary 0: midnight New York, the US equities trading date (extended hours included).
pub const DEFAULT_BOUNDARY: DayBoundary = DayBoundary {
    tz: chrono_tz::America::New_York,
    minute: 0,
};

fn parse_minute(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn limits(l: &LimitsSection) -> Limits {
    let qty = |d: Option<bulwark_risk::prop::Dec>| d.map(|d| Qty::from_raw(d.0.raw()));
    let money =
        |d: Option<bulwark_risk::prop::Dec>| d.map(|d| Notional::from_raw(i128::from(d.0.raw())));
    const MS: i64 = 1_000_000;
    Limits {
        max_order_qty: qty(l.max_order_qty),
        max_notional: money(l.max_notional_usd),
        market_buffer_bp: l.market_buffer_bp,
        collar_bp: l.collar_bp,
        collar_low_price_bp: l.collar_low_price_bp,
        collar_low_price_max: l.collar_low_price_max.0,
        reference_max_age_ns: l.reference_max_age_ms as i64 * MS,
        max_position: qty(l.max_position),
        credit_limit: money(l.credit_limit_usd),
        dup_window_ns: l.dup_window_ms as i64 * MS,
        throttle_max: l.throttle_orders_max,
        throttle_window_ns: l.throttle_window_ms as i64 * MS,
        throttle_breaches_to_kill: l.throttle_breaches_to_kill,
        throttle_breach_window_ns: l.throttle_breach_window_ms as i64 * MS,
        wash: l.wash,
        price_floor: l.price_floor.map(|d| d.0),
        enforce_hours: l.enforce_hours,
    }
}

/// The accounts that share a client-order-id space with another: those of a FIX session with several
/// accounts, each mapped to the session's first (FIX asks ClOrdIDs to be unique per session per day). An account
/// belongs to at most one FIX session (checked at load time).
fn cl_ord_scopes(config: &Config, catalog: &Catalog) -> HashMap<String, AccountId> {
    let mut scopes = HashMap::new();
    for session in config.fix.iter().flat_map(|f| &f.sessions) {
        let Some(first) = session.accounts.first().and_then(|n| catalog.account(n)) else {
            continue;
        };
        for name in session.accounts.iter().skip(1) {
            scopes.insert(name.clone(), first);
        }
    }
    scopes
}

/// The engine configuration and the day boundaries (index = `Timer::DayRoll::boundary`). The config was
/// validated at load time, so every name here resolves.
pub fn engine_config(
    config: &Config,
    catalog: &Catalog,
) -> anyhow::Result<(EngineConfig, Vec<DayBoundary>)> {
    let calendars = calendars(config.gateway.calendars_dir.as_deref())
        .map_err(|e| anyhow::anyhow!("calendar data: {e:?}"))?;
    let firms = firm_templates(config.gateway.prop_firms_dir.as_deref())
        .map_err(|e| anyhow::anyhow!("prop-firm templates: {e:?}"))?;
    let calendar_index = |name: &str| calendars.iter().position(|c| c.name() == name);
    let mut boundaries = vec![DEFAULT_BOUNDARY];
    let symbols = config
        .symbols
        .iter()
        .map(|s| SymbolRisk {
            calendar: calendar_index(&s.calendar),
            asset_class: match s.asset_class {
                AssetClassName::Equity => AssetClass::Equity,
                AssetClassName::Option => AssetClass::Option,
                AssetClassName::Future => AssetClass::Future,
                AssetClassName::Crypto => AssetClass::Crypto,
            },
            multiplier: i64::from(s.multiplier),
            px_decimals: s.px_decimals,
            // One venue in this build: every symbol routes to the paper venue.
            venue: 0,
            restricted: s.restricted,
        })
        .collect();
    let default_limits = config.limits.get("default").map(limits).unwrap_or_default();
    let cl_ord_scope = cl_ord_scopes(config, catalog);
    let mut accounts = Vec::with_capacity(config.accounts.len());
    for a in &config.accounts {
        let lim = match &a.limits {
            Some(name) => limits(&config.limits[name]),
            None => default_limits.clone(),
        };
        let firm = a.prop_firm.as_ref().map(|f| {
            firms
                .iter()
                .find(|t| &t.name == f)
                .expect("validated firm name")
        });
        let prop = firm
            .map(|t| PropAccount::new(t).map_err(|e| anyhow::anyhow!("{e:?}")))
            .transpose()?;
        let day_boundary = match firm {
            Some(t) => {
                let b = DayBoundary {
                    tz: t.day_boundary_timezone.parse().expect("validated zone"),
                    minute: parse_minute(&t.day_boundary).unwrap_or(0),
                };
                match boundaries.iter().position(|x| *x == b) {
                    Some(i) => i as u16,
                    None => {
                        boundaries.push(b);
                        (boundaries.len() - 1) as u16
                    }
                }
            }
            None => 0,
        };
        let initial = match (&prop, a.initial_balance_usd) {
            (Some(p), _) => p.b0,
            (None, Some(d)) => Notional::from_raw(i128::from(d.0.raw())),
            (None, None) => Notional::ZERO,
        };
        accounts.push(AccountRisk {
            limits: lim,
            margin: a.account_type == AccountType::Margin,
            initial_balance: initial,
            group: a
                .group
                .as_ref()
                .and_then(|g| config.groups.iter().position(|x| &x.name == g))
                .map(|i| i as u32),
            day_boundary,
            max_position_lots: firm.and_then(|t| t.max_position_lots),
            prop,
            pdt: PdtSettings {
                enabled: a.pdt,
                broker_switch_day: a.broker_pdt_switch_date.as_deref().and_then(|d| {
                    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .ok()
                        .map(bulwark_risk::calendar::days_from_epoch)
                }),
                calendar: calendar_index("XNYS"),
            },
            trading_window: a.trading_window.as_ref().and_then(|w| {
                let cal = calendars.iter().find(|c| c.name() == w.calendar)?;
                let start = crate::config::parse_hhmm(&w.start)?;
                let end = crate::config::parse_hhmm(&w.end)?;
                Some(cal.window_intervals(start, end).into())
            }),
            cl_ord_scope: cl_ord_scope.get(&a.name).copied(),
        });
    }
    debug_assert_eq!(accounts.len(), catalog.account_count());
    Ok((
        EngineConfig {
            accounts,
            symbols,
            calendars,
            groups: config.groups.len(),
            open_orders_max: config.gateway.open_orders_max,
            orders_reserved: 1 << 16,
        },
        boundaries,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_data_compiles() {
        let cals = calendars(None).unwrap();
        assert_eq!(cals.len(), EMBEDDED_CALENDARS.len());
        let firms = firm_templates(None).unwrap();
        assert_eq!(firms.len(), EMBEDDED_FIRMS.len());
        // Every file in the directories is embedded.
        for (dir, list) in [
            ("calendars", EMBEDDED_CALENDARS),
            ("prop-firms", EMBEDDED_FIRMS),
        ] {
            let path = format!("{}/../config/{dir}", env!("CARGO_MANIFEST_DIR"));
            let on_disk = std::fs::read_dir(&path).unwrap().count();
            assert_eq!(on_disk, list.len(), "{path} and the embedded list differ");
        }
    }
}
