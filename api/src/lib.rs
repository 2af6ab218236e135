//! The Ringfence service and the `ringfence` command-line tool.
//!
//! The binary is glue: `main` parses arguments, sets up tracing and calls [`cli::run`].
#![forbid(unsafe_code)]
pub mod cli;
mod progress;
pub mod serve;
pub mod settings;
pub mod store;
