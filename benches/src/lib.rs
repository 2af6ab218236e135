//! Shared fixture builders for the benchmarks, and the peers they are compared with.

use std::collections::HashMap;
use std::path::Path;

use graph_core::{EntityType, Keyer, LinkInput, NormalizeOptions};

/// Secret used by every benchmark.
pub const SECRET: &[u8] = b"benchmark secret, not for production";

/// Generates `accounts` accounts (seed 1) into `dir`, ingests them and reads the canonical
/// folder back as a link input.
///
/// # Panics
/// When generation, ingest or reading fails (benchmarks only).
pub fn population(accounts: usize, dir: &Path) -> LinkInput {
    let data = dir.join("data");
    let canonical = dir.join("canonical");
    datasets::generate_to_dir(&datasets::Config::new(accounts, 1), &data, &mut |_| {})
        .expect("generate");
    let opts = ingest::IngestOptions {
        sources: vec![
            ingest::Source {
                path: data.join("accounts.csv"),
                entity_type: EntityType::Account,
                format: None,
            },
            ingest::Source {
                path: data.join("inquiries.csv"),
                entity_type: EntityType::Inquiry,
                format: None,
            },
        ],
        mapping: None,
        out_dir: canonical.clone(),
        normalize: NormalizeOptions::default(),
        chunk_rows: ingest::DEFAULT_CHUNK_ROWS,
        keyer: Some(Keyer::new(SECRET)),
    };
    ingest::run(&opts, &mut |_| {}).expect("ingest");
    graph_core::read_ingest_dir(&canonical, Keyer::new(SECRET)).expect("read")
}

/// The peer the linker is measured against: a straightforward sequential implementation —
/// group rows of the kinds that link alone in a `HashMap` by key, then union each group with
/// petgraph's `UnionFind`. No hubs, windows or combinations: a lower bound on the work.
/// Returns the number of components.
pub fn sequential_peer(input: &LinkInput, alone_kinds: &[&str]) -> usize {
    let attrs = &input.attributes;
    let kinds: Vec<bool> = attrs
        .kinds
        .iter()
        .map(|k| alone_kinds.contains(&k.as_str()))
        .collect();
    let mut first: HashMap<u64, u32> = HashMap::new();
    let mut uf = petgraph::unionfind::UnionFind::<u32>::new(input.entities.len());
    for i in 0..attrs.len() {
        if !kinds[attrs.kind[i] as usize] {
            continue;
        }
        let anchor = input.entities.anchor[attrs.entity[i] as usize];
        let f = *first.entry(attrs.key[i]).or_insert(anchor);
        uf.union(f, anchor);
    }
    let mut labels = uf.into_labeling();
    labels.sort_unstable();
    labels.dedup();
    labels.len()
}
