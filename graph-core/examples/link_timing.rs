//! Runs `run_link` on an ingest output folder, as `ringfence link` does, without the CLI
//! (a much faster build than the `ringfence` binary, with the same allocator).
//!
//!     RINGFENCE__GRAPH__KEY_SECRET=… cargo run --release -p graph-core --example link_timing -- \
//!         IN_DIR OUT_DIR [CONFIG.toml]
use std::time::Instant;

use graph_core::{Keyer, LinkConfig, run_link};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: link_timing IN_DIR OUT_DIR [CONFIG.toml]";
    let input = args.next().ok_or(usage)?;
    let out = args.next().ok_or(usage)?;
    let config = match args.next() {
        Some(path) => LinkConfig::from_toml_str(&std::fs::read_to_string(path)?)?,
        None => LinkConfig::default(),
    };
    // An example, not graph-core: reading the environment here is the caller's business.
    let secret = std::env::var("RINGFENCE__GRAPH__KEY_SECRET").unwrap_or_else(|_| "timing".into());
    let mut last = Instant::now();
    let mut faults = minor_faults();
    let mut step = String::new();
    let mut progress = |s: &str| {
        let now = minor_faults();
        if !step.is_empty() {
            eprintln!(
                "{step}: {:.2} s, {} minor page faults",
                last.elapsed().as_secs_f64(),
                now - faults
            );
        }
        step = s.to_owned();
        last = Instant::now();
        faults = now;
    };
    let t = Instant::now();
    let result = run_link(
        input.as_ref(),
        out.as_ref(),
        &config,
        Keyer::new(secret.as_bytes()),
        &mut progress,
    )?;
    progress("");
    eprintln!(
        "total {:.2} s; timings {:?}",
        t.elapsed().as_secs_f64(),
        result.summary.timings_ms
    );
    // `LINK_REPEAT=N`: link the input N more times, for steadier timings of the linker
    // alone on a noisy machine (compare the fastest of each step). `run_link` frees the
    // attributes it read, so they are read again (with their values, which `link` ignores).
    let repeat: usize = std::env::var("LINK_REPEAT").map_or(Ok(0), |r| r.parse())?;
    if repeat > 0 {
        let again = graph_core::read_ingest_dir(input.as_ref(), Keyer::new(secret.as_bytes()))?;
        for _ in 0..repeat {
            let out = graph_core::link(&again, &config);
            eprintln!("link again: {:?}", out.timings_ms);
        }
    }
    let t = Instant::now();
    drop(result);
    eprintln!("dropping the result: {:.2} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// The process's minor page faults so far (Linux; 0 elsewhere): touching fresh memory is
/// what faults, and on a VM whose memory the host hands out lazily it is slow.
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Field 10 (minflt), counted after the parenthesised command name.
            let rest = &s[s.rfind(')')? + 2..];
            rest.split(' ').nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}
