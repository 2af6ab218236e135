//! Generates a population into a directory and reports the rate.
//!
//! ```text
//! cargo run -p datasets --release --example generate -- <accounts> <seed> <dir>
//! ```

use std::path::PathBuf;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let accounts: usize = args.next().as_deref().unwrap_or("1000000").parse()?;
    let seed: u64 = args.next().as_deref().unwrap_or("42").parse()?;
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "out/synthetic".to_owned()));
    let cfg = datasets::Config::new(accounts, seed);
    let started = Instant::now();
    let summary = datasets::generate_to_dir(&cfg, &dir, &mut |n| eprint!("\r{n} accounts"))?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!();
    println!("{}", serde_json::to_string_pretty(&summary)?);
    eprintln!(
        "{} accounts and {} inquiries in {secs:.2} s ({:.0} accounts/s) into {}",
        summary.accounts,
        summary.inquiries,
        summary.accounts as f64 / secs,
        dir.display()
    );
    Ok(())
}
