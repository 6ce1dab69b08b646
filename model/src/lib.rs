//! Bulwark's shared vocabulary. Everything that crosses a crate boundary or the journal is defined here:
//! fixed-point [`Px`]/[`Qty`]/[`Notional`], ids, order enums and the [`Order`] record with its state machine,
//! the single [`Event`] enum that the sequencer journals and applies, reject reasons, and the versioned binary
//! record codec. No I/O, no clock, no tokio: this crate is pure data and pure functions.
#![forbid(unsafe_code)]

pub mod codec;
pub mod event;
pub mod fixed;
pub mod ids;
pub mod order;
pub mod reason;

pub use event::*;
pub use fixed::{FixedError, Notional, Px, Qty, FIXED_DECIMALS, FIXED_SCALE};
pub use ids::*;
pub use order::*;
pub use reason::*;
