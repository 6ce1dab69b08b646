//! Webhook signals, pure and synchronous. [`alert::parse`] turns an alert body (TradersPost-compatible JSON,
//! or the LuxAlgo and OpenAlgo shapes) into a validated [`Alert`] or a precise [`AlertError`];
//! [`key::idempotency_key`] gives the spec §5.3 key; [`plan::plan`] maps an alert against one account's
//! position, working orders and sizing rule to the child requests (cancels, exit, entry) the sequencer runs
//! through the risk chain. No I/O and no clock: time is an argument.
#![forbid(unsafe_code)]

pub mod alert;
pub mod key;
pub mod plan;

pub use alert::{
    parse, Action, Alert, AlertError, AlertOrderType, AlertTif, QuantityType, Sentiment, Shape,
};
pub use key::idempotency_key;
pub use plan::{plan, AccountView, Child, ChildRole, PlanError, PlanOptions, Sizing, Working};
