//! End-to-end tests across crates: generate → ingest → link → eval.
mod pipeline;
