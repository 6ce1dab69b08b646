//! The catalog: configured account and symbol names and their dense ids. Immutable after start and shared
//! read-only by every edge, which resolves names here so that an unknown account or symbol is refused before
//! anything is journaled. [`Remap`] translates ids journaled under an earlier boot's catalog by name.

use crate::config::Config;
use bulwark_model::{AccountId, Boot, Event, KillScope, SymbolId};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolSpec {
    pub name: String,
    pub qty_decimals: u32,
    pub px_decimals: u32,
    /// The trading calendar's name, for messages ("XNYS closed 2026-07-03").
    pub calendar: String,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    accounts: Vec<String>,
    account_index: HashMap<String, AccountId>,
    symbols: Vec<SymbolSpec>,
    symbol_index: HashMap<String, SymbolId>,
}

impl Catalog {
    pub fn from_config(config: &Config) -> Catalog {
        let accounts: Vec<String> = config.accounts.iter().map(|a| a.name.clone()).collect();
        let symbols: Vec<SymbolSpec> = config
            .symbols
            .iter()
            .map(|s| SymbolSpec {
                name: s.name.clone(),
                qty_decimals: s.qty_decimals,
                px_decimals: s.px_decimals,
                calendar: s.calendar.clone(),
            })
            .collect();
        Catalog::new(accounts, symbols)
    }

    pub fn new(accounts: Vec<String>, symbols: Vec<SymbolSpec>) -> Catalog {
        let account_index = accounts
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), AccountId(i as u32)))
            .collect();
        let symbol_index = symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), SymbolId(i as u32)))
            .collect();
        Catalog {
            accounts,
            account_index,
            symbols,
            symbol_index,
        }
    }

    pub fn account(&self, name: &str) -> Option<AccountId> {
        self.account_index.get(name).copied()
    }
    pub fn symbol(&self, name: &str) -> Option<SymbolId> {
        self.symbol_index.get(name).copied()
    }
    pub fn account_name(&self, id: AccountId) -> &str {
        self.accounts.get(id.0 as usize).map_or("?", |s| s.as_str())
    }
    pub fn symbol_spec(&self, id: SymbolId) -> Option<&SymbolSpec> {
        self.symbols.get(id.0 as usize)
    }
    pub fn symbol_name(&self, id: SymbolId) -> &str {
        self.symbol_spec(id).map_or("?", |s| s.name.as_str())
    }
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    /// A reject's detail as clients see it: market-hours rejects name the symbol's calendar.
    pub fn reject_detail(&self, r: &bulwark_model::Reject, symbol: Option<SymbolId>) -> String {
        let detail = r.detail();
        match (r.measure, symbol.and_then(|s| self.symbol_spec(s))) {
            (bulwark_model::Measure::Session, Some(spec)) => format!("{} {detail}", spec.calendar),
            _ => detail,
        }
    }

    /// The boot record journaled at every start.
    pub fn boot_event(&self) -> Event {
        Event::Boot(Boot {
            version: crate::VERSION.to_string(),
            accounts: self.accounts.clone(),
            symbols: self.symbols.iter().map(|s| s.name.clone()).collect(),
        })
    }
}

/// Maps ids written under a journaled boot catalog onto the current catalog.
#[derive(Debug, Clone)]
pub struct Remap {
    accounts: Vec<Option<AccountId>>,
    symbols: Vec<Option<SymbolId>>,
    journaled_accounts: Vec<String>,
    journaled_symbols: Vec<String>,
    identity: bool,
}

impl Remap {
    pub fn new(boot: &Boot, current: &Catalog) -> Remap {
        let accounts: Vec<_> = boot.accounts.iter().map(|n| current.account(n)).collect();
        let symbols: Vec<_> = boot.symbols.iter().map(|n| current.symbol(n)).collect();
        let identity = accounts
            .iter()
            .enumerate()
            .all(|(i, a)| *a == Some(AccountId(i as u32)))
            && symbols
                .iter()
                .enumerate()
                .all(|(i, s)| *s == Some(SymbolId(i as u32)));
        Remap {
            accounts,
            symbols,
            journaled_accounts: boot.accounts.clone(),
            journaled_symbols: boot.symbols.clone(),
            identity,
        }
    }

    fn account(&self, id: AccountId) -> Result<AccountId, String> {
        match self.accounts.get(id.0 as usize) {
            Some(Some(a)) => Ok(*a),
            Some(None) => Err(format!(
                "the journal refers to account `{}`, which is not in the configuration; add it back, or start with an empty data dir",
                self.journaled_accounts[id.0 as usize]
            )),
            None => Err(format!("the journal refers to account id {} beyond its boot catalog", id.0)),
        }
    }

    fn symbol(&self, id: SymbolId) -> Result<SymbolId, String> {
        match self.symbols.get(id.0 as usize) {
            Some(Some(s)) => Ok(*s),
            Some(None) => Err(format!(
                "the journal refers to symbol `{}`, which is not in the configuration; add it back, or start with an empty data dir",
                self.journaled_symbols[id.0 as usize]
            )),
            None => Err(format!("the journal refers to symbol id {} beyond its boot catalog", id.0)),
        }
    }

    /// Rewrites the ids inside `event` to the current catalog's.
    pub fn apply(&self, event: &mut Event) -> Result<(), String> {
        if self.identity {
            return Ok(());
        }
        match event {
            Event::NewOrder(o) => {
                o.account = self.account(o.account)?;
                o.symbol = self.symbol(o.symbol)?;
            }
            Event::CancelOrder(c) => c.account = self.account(c.account)?,
            Event::ReplaceOrder(r) => r.account = self.account(r.account)?,
            Event::EngineOrder(e) => {
                e.new.account = self.account(e.new.account)?;
                e.new.symbol = self.symbol(e.new.symbol)?;
            }
            Event::Price(p) => p.symbol = self.symbol(p.symbol)?,
            Event::Control(c) => match &mut c.scope {
                KillScope::Account(a) => *a = self.account(*a)?,
                KillScope::Symbol(s) => *s = self.symbol(*s)?,
                KillScope::Global | KillScope::Group(_) | KillScope::Venue(_) => {}
            },
            Event::Boot(_)
            | Event::Decision(_)
            | Event::Venue(_)
            | Event::Timer(_)
            | Event::Signal(_)
            | Event::Audit(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_model::{Measure, Reject, RejectReason, RuleId};

    #[test]
    fn market_hours_rejects_name_the_calendar() {
        let c = Catalog::new(
            vec!["A".into()],
            vec![SymbolSpec {
                name: "AAPL".into(),
                qty_decimals: 0,
                px_decimals: 2,
                calendar: "XNYS".into(),
            }],
        );
        let r = Reject::with(
            RuleId::Hours,
            RejectReason::MarketClosed,
            Measure::Session,
            20_260_703,
            0,
        );
        assert_eq!(
            c.reject_detail(&r, Some(SymbolId(0))),
            "XNYS closed 2026-07-03"
        );
        assert_eq!(r.fix_text(), "RISK:HOURS:closed 2026-07-03");
        assert_eq!(
            r.text_with_detail(&c.reject_detail(&r, Some(SymbolId(0)))),
            "the market is closed for this order (XNYS closed 2026-07-03)"
        );
    }
}
