//! Times the steps of duplicate detection on an ingest output folder, without the CLI.
//!
//!     cargo run --release -p graph-core --example dedupe_timing -- DIR [RUNS [U_PAIRS]]
use std::time::Instant;

use graph_core::dedupe::{self, DedupeConfig};
use graph_core::{Keyer, LinkConfig, read_ingest_dir_kinds};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: dedupe_timing DIR [RUNS]")?;
    let runs: usize = args.next().map_or(Ok(3), |r| r.parse())?;
    let mut cfg = DedupeConfig::default();
    if let Some(u) = args.next() {
        cfg.u_pairs = u.parse()?;
    }
    for run in 0..runs {
        let t = Instant::now();
        let input =
            read_ingest_dir_kinds(dir.as_ref(), Keyer::new(b"timing"), dedupe::COMPARED_KINDS)?;
        let read = t.elapsed();
        let t = Instant::now();
        let records = dedupe::records_from_input(&input, &LinkConfig::default());
        let recs = t.elapsed();
        let t = Instant::now();
        let (model, result) = dedupe::dedupe(&records, &cfg);
        let all = t.elapsed();
        println!(
            "run {run}: read {:.0} ms, records {:.0} ms, dedupe {:.0} ms {:?}; {} pairs, EM {} iterations (converged {})",
            read.as_secs_f64() * 1e3,
            recs.as_secs_f64() * 1e3,
            all.as_secs_f64() * 1e3,
            result.stats.timings_ms,
            result.pairs.len(),
            model.training.em_iterations,
            model.training.em_converged
        );
    }
    Ok(())
}
