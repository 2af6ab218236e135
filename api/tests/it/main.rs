//! The `ringfence` binary, run as a user runs it.
#![forbid(unsafe_code)]
mod cli;
mod serve;
mod serve_crash;
mod serve_live;
