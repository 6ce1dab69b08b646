//! Bulwark's trading state and pre-trade risk chain. Pure, synchronous and deterministic: no tokio, no clock
//! reads, no I/O. The sequencer feeds every journaled [`Event`](bulwark_model::Event) to [`Engine::apply`] with
//! the record's timestamp; the engine answers with the [`Decision`](bulwark_model::Decision) to journal and
//! pushes venue commands into a caller-owned buffer. Replaying the same events therefore rebuilds the same
//! state and the same decisions, which replay checks.
#![deny(unsafe_code)]

pub mod calendar;
pub mod chain;
pub mod engine;
pub mod limits;
pub mod pdt;
pub mod prop;
pub mod symbol_rules;
mod tables;

pub use engine::{Engine, EngineLimits, Headroom, Kill, KillTable, Lock, Output};
pub use limits::{AccountRisk, AssetClass, EngineConfig, Limits, PdtSettings, SymbolRisk};
