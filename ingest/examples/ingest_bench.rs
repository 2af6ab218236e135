//! End-to-end ingest throughput on a generated accounts CSV.
//!
//! ```text
//! cargo run --release -p ingest --example ingest_bench -- [ROWS] [CSV]
//! ```
//! Writes `ROWS` (default 1,000,000) synthetic account rows with the 20 canonical account
//! columns to `CSV` (default: a file in the system temp folder; reused if it exists), runs
//! ingest into a temp folder and prints rows per second. Any existing CSV (for example one
//! from the `datasets` generator) can be passed instead.

#![allow(clippy::unwrap_used)]

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use graph_core::{EntityType, Field, NormalizeOptions, RawRecord};
use ingest::{IngestOptions, Source};
use rayon::prelude::*;

const FIRST: &[&str] = &[
    "Alice", "Bob", "Carol", "Dmitri", "Eve", "Fatima", "Gus", "Hana", "Ivan", "José",
];
const LAST: &[&str] = &[
    "Smith", "Jones", "Diaz", "Nguyen", "Okafor", "Müller", "Rossi", "Kim", "Singh", "Brown",
];
const CITY: &[&str] = &["Springfield", "Portland", "Austin", "Denver", "Boston"];

fn generate(path: &PathBuf, rows: u64) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(
        w,
        "account_id,reference_id,created_at,name_first,name_middle,name_last,birthdate,email,phone,\
         address_street,address_city,address_subdivision,address_postal_code,address_country,\
         gov_id_number,gov_id_country,card_fingerprint,device_id,ip_address,label"
    )?;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        // xorshift64*: deterministic, no dependency.
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for i in 0..rows {
        let r = next();
        let f = FIRST[(r % 10) as usize];
        let l = LAST[((r >> 8) % 10) as usize];
        let label = match (r >> 16) % 50 {
            0 => "fraud",
            1 => "legit",
            _ => "",
        };
        writeln!(
            w,
            "acct_{i},ref-{ref_},2023-{mo:02}-{d:02}T{h:02}:{mi:02}:00Z,{f},,{l},19{y:02}-{mo:02}-{d:02},\
             {fl}.{ll}{n}@example.com,+1 415 555 {ph:04},{house} Main St,{city},CA,9{zip:04},US,\
             {g1:03}-{g2:02}-{g3:04},US,card_{card:x},dev-{dev},10.{a}.{b}.{c},{label}",
            ref_ = r % 1_000_000,
            mo = 1 + (r >> 20) % 12,
            d = 1 + (r >> 24) % 28,
            h = (r >> 28) % 24,
            mi = (r >> 33) % 60,
            y = 40 + (r >> 38) % 60,
            fl = f.to_lowercase(),
            ll = l.to_lowercase(),
            n = r % 10_000,
            ph = (r >> 3) % 10_000,
            house = 1 + (r >> 5) % 999,
            city = CITY[((r >> 11) % 5) as usize],
            zip = (r >> 13) % 10_000,
            g1 = 100 + (r >> 17) % 800,
            g2 = 10 + (r >> 21) % 89,
            g3 = 1000 + (r >> 25) % 8999,
            card = r >> 30,
            dev = (r >> 40) % 500_000,
            a = (r >> 44) % 256,
            b = (r >> 52) % 256,
            c = (r >> 56) % 256,
        )?;
    }
    w.flush()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args.next().map(|a| a.parse().unwrap()).unwrap_or(1_000_000);
    let csv = args.next().map(PathBuf::from).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("ringfence_bench_accounts_{rows}.csv"))
    });
    if !csv.exists() {
        let t = Instant::now();
        generate(&csv, rows).unwrap();
        eprintln!(
            "generated {} in {:.1}s",
            csv.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let out = std::env::temp_dir().join("ringfence_bench_out");
    let opts = IngestOptions::new(vec![Source::new(&csv, EntityType::Account)], &out);
    let t = Instant::now();
    let summary = ingest::run(&opts, &mut |_| {}).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let rows_read = summary.totals.rows_read;
    let bytes = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    println!(
        "{rows_read} rows ({:.0} MB) in {secs:.2}s: {:.0} rows/s, {:.0} MB/s; {} entities, {} attributes, {} rejected, {} fields dropped",
        bytes as f64 / 1e6,
        rows_read as f64 / secs,
        bytes as f64 / 1e6 / secs,
        summary.totals.entities_written,
        summary.totals.attributes_written,
        summary.totals.rows_rejected,
        summary.totals.fields_dropped,
    );
    breakdown(&csv);
}

/// Rough split of the time: CSV parsing alone (csv crate, one thread) and
/// `normalize_record` alone (rayon, all cores), on the same rows.
fn breakdown(csv: &PathBuf) {
    let t = Instant::now();
    let mut rdr = ::csv::Reader::from_path(csv).unwrap();
    let header: Vec<Option<Field>> = rdr
        .headers()
        .unwrap()
        .iter()
        .map(Field::from_name)
        .collect();
    let rows: Vec<::csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    let parse = t.elapsed().as_secs_f64();
    let opts = NormalizeOptions::default();
    let t = Instant::now();
    let attrs: usize = rows
        .par_iter()
        .map(|rec| {
            let mut raw = RawRecord::new(EntityType::Account);
            for (f, v) in header.iter().zip(rec.iter()) {
                if let Some(f) = f {
                    raw.set(*f, Some(v));
                }
            }
            graph_core::normalize_record(&raw, &opts)
                .map(|n| n.attributes.len())
                .unwrap_or(0)
        })
        .sum();
    let norm = t.elapsed().as_secs_f64();
    println!(
        "breakdown: csv-crate parse (1 thread, for scale) {parse:.2}s; normalize_record alone on all cores {norm:.2}s = {:.0} rows/s ({attrs} attributes)",
        rows.len() as f64 / norm
    );
}
