//! The Bulwark gateway as a library, so that the binary, the benches and the tests share one implementation:
//! the journal files, configuration, the sequencer thread and the HTTP edge.
#![deny(unsafe_code)]

pub mod auth;
pub mod catalog;
pub mod config;
pub mod control;
pub mod ctl;
pub mod deadman;
pub mod events;
pub mod fix;
pub mod http;
pub mod journal;
pub mod maintenance;
pub mod notify;
pub mod risk_setup;
pub mod sequencer;
pub mod server;
pub mod threads;
pub mod tools;
pub mod webhook;

/// Version with the git revision it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BULWARK_GIT_REV"),
    ")"
);
