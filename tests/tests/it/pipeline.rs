use std::path::Path;

use graph_core::{Keyer, LinkConfig, NormalizeOptions};

const SECRET: &[u8] = b"end-to-end test secret, not for production";

fn ingest_dir(data: &Path, out: &Path) -> ingest::Summary {
    let opts = ingest::IngestOptions {
        sources: vec![
            ingest::Source {
                path: data.join("accounts.csv"),
                entity_type: graph_core::EntityType::Account,
                format: None,
            },
            ingest::Source {
                path: data.join("inquiries.csv"),
                entity_type: graph_core::EntityType::Inquiry,
                format: None,
            },
        ],
        mapping: None,
        out_dir: out.to_path_buf(),
        normalize: NormalizeOptions::default(),
        chunk_rows: 8_192,
    };
    ingest::run(&opts, &mut |_| {}).expect("ingest")
}

/// The quality bars on a generated population full of typos and look-alikes: ring pair
/// F1 ≥ 0.9, no cluster larger than 1.5 × the largest planted ring, duplicate pair F1 ≥ 0.95
/// and score AUC for ring members ≥ 0.95.
#[test]
fn generated_population_meets_the_ring_quality_bar() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, canonical, results) = (
        tmp.path().join("data"),
        tmp.path().join("c"),
        tmp.path().join("r"),
    );
    let summary = datasets::generate_to_dir(&datasets::Config::new(30_000, 11), &data, &mut |_| {})
        .expect("generate");
    assert!(summary.rings > 10, "{summary:?}");
    let ing = ingest_dir(&data, &canonical);
    let ing_json = serde_json::to_value(&ing).unwrap();
    assert!(
        ing_json.to_string().contains("30000"),
        "ingest summary counts the accounts: {ing_json}"
    );

    let run = graph_core::run_link(
        &canonical,
        &results,
        &LinkConfig::default(),
        Keyer::new(SECRET),
        &mut |_| {},
    )
    .expect("link");
    for f in ["clusters", "rings", "scores", "hubs", "links", "duplicates"] {
        assert!(
            results.join(format!("{f}.parquet")).exists(),
            "{f}.parquet written"
        );
    }
    assert!(results.join("summary.json").exists());
    assert!(results.join("dedupe_model.json").exists());
    let dups = run.summary.duplicates.as_ref().expect("duplicates ran");
    assert!(dups.em_converged, "{dups:?}");
    assert!(dups.pairs > 100, "{dups:?}");
    assert!(
        run.summary.hubs > 0,
        "placeholders and carrier-NAT IPs are reported as hubs"
    );

    let truth = ingest::read_truth(&data.join("truth.csv")).expect("truth");
    let report = graph_core::eval::evaluate_results_dir(&truth, &results).expect("eval");
    eprintln!("{report:#?}");
    assert_eq!(report.missing_from_results, 0);
    assert!(
        report.ring_pairs.f1 >= 0.9,
        "ring pair F1 {:.4} < 0.9: {report:#?}",
        report.ring_pairs.f1
    );
    assert!(
        report.largest_cluster_accounts as f64 <= 1.5 * report.largest_true_ring as f64,
        "largest cluster {} > 1.5 × largest planted ring {}",
        report.largest_cluster_accounts,
        report.largest_true_ring
    );
    assert!(
        report.score_auc >= 0.95,
        "score AUC {:.4}",
        report.score_auc
    );
    let d = report.duplicate_pairs.expect("duplicates evaluated");
    assert!(
        d.actual > 100,
        "the population has duplicates to find: {d:?}"
    );
    assert!(d.f1 >= 0.95, "duplicate pair F1 {:.4} < 0.95: {d:?}", d.f1);
}

/// Cluster ids are stable across re-runs of the same data (and the outputs are identical).
#[test]
fn rerun_gives_identical_cluster_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/sample");
    let canonical = tmp.path().join("c");
    ingest_dir(&data, &canonical);
    let cols = |out: &Path| {
        graph_core::run_link(
            &canonical,
            out,
            &LinkConfig::default(),
            Keyer::new(SECRET),
            &mut |_| {},
        )
        .expect("link");
        let mut c =
            graph_core::read_columns(&out.join("clusters.parquet"), &["entity_id", "cluster_id"])
                .unwrap();
        c.extend(
            graph_core::read_columns(
                &out.join("duplicates.parquet"),
                &[
                    "entity_a",
                    "entity_b",
                    "match_weight",
                    "group_id",
                    "explanation",
                ],
            )
            .unwrap(),
        );
        c
    };
    let a = cols(&tmp.path().join("r1"));
    let b = cols(&tmp.path().join("r2"));
    assert_eq!(a, b);
    assert!(a[0].len() > 2_000);
}
