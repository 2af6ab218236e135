//! The `ringfence` binary, run as a user runs it.
mod cli;
mod serve;
mod serve_crash;
mod serve_live;
