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

/// The process's allocator: mimalloc, which with its `override` feature also serves the C and C++ `malloc` of
/// QuickFIX. It is set here, in the library, so that every binary that runs the gateway (`bulwark`, and the FIX
/// bench's in-process gateway) allocates alike. With glibc's allocator, allocation took about a fifth of the FIX
/// acceptor threads' CPU time in a `perf` profile (fields copied out of each message on the QuickFIX thread and
/// freed on the responder's); see the README's Design choices for the measurement.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Version with the git revision it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BULWARK_GIT_REV"),
    ")"
);
