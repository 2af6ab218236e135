//! Linking throughput on a generated population, against a sequential HashMap + petgraph
//! union-find peer on the same input (same run, same machine).
use criterion::{Criterion, criterion_group, criterion_main};
use graph_core::{LinkConfig, kinds};

fn bench(c: &mut Criterion) {
    let accounts: usize = std::env::var("RINGFENCE_BENCH_ACCOUNTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let tmp = std::env::temp_dir().join(format!("ringfence-bench-link-{accounts}"));
    let input = benches::population(accounts, &tmp);
    // Duplicate detection is benchmarked on its own (benches/scripts/dedupe_vs_splink.sh);
    // here the linker is measured against a linker.
    let mut config = LinkConfig::default();
    config.dedupe.enabled = false;
    let alone = [
        kinds::GOV_ID,
        kinds::DEVICE_ID,
        kinds::CARD_FINGERPRINT,
        kinds::BANK_ACCOUNT,
        kinds::REFERENCE_ID,
        kinds::EMAIL,
        kinds::PHONE,
        kinds::NAME_DOB,
        kinds::BROWSER_FINGERPRINT,
    ];
    let mut g = c.benchmark_group(format!("link_{accounts}_accounts"));
    g.sample_size(10);
    g.bench_function("ringfence_link", |b| {
        b.iter(|| graph_core::link(&input, &config))
    });
    g.bench_function("ringfence_link_rings_scores", |b| {
        b.iter(|| graph_core::link_input(input.clone(), &config, &mut |_| {}).expect("link"))
    });
    g.bench_function("peer_sequential_hashmap_unionfind", |b| {
        b.iter(|| benches::sequential_peer(&input, &alone))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
