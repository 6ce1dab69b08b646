//! The Bulwark gateway as a library, so that the binary, the benches and the tests share one implementation:
//! the journal files, configuration, the sequencer thread and the HTTP edge.
#![deny(unsafe_code)]

pub mod config;
pub mod journal;
