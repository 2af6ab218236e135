//! Integration tests for `ingest` (one test binary, see STYLE.md).

#![allow(clippy::unwrap_used)]

mod bad_input;
mod contract;
mod formats;
mod happy;
mod hostile;
mod mapping;
mod util;
