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
        keyer: Some(Keyer::new(SECRET)),
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

/// `run_link` reads keys only and fetches the values its outputs show afterwards; its results
/// equal those of linking the same folder read with every value in memory (hub reasons and
/// masked evidence, links, rings, scores, duplicates).
#[test]
fn keys_only_run_equals_the_run_holding_every_value() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, canonical) = (tmp.path().join("data"), tmp.path().join("c"));
    datasets::generate_to_dir(&datasets::Config::new(5_000, 3), &data, &mut |_| {})
        .expect("generate");
    ingest_dir(&data, &canonical);
    let input = graph_core::read_ingest_dir(&canonical, Keyer::new(SECRET)).expect("read");
    // Placeholders are rare in a population this small: make a shared email one by
    // configuration, so the key-based placeholder decision has something to decide. The
    // email is one a duplicate pair agrees on, so duplicate detection has one to decide too.
    let probe =
        graph_core::link_input(input.clone(), &LinkConfig::default(), &mut |_| {}).expect("link");
    let email_level = |r: &graph_core::RunResult, a: u32, b: u32| -> Option<&'static str> {
        let pairs = &r.duplicates.as_ref().expect("duplicates ran").result.pairs;
        let p = pairs.iter().find(|p| (p.a, p.b) == (a.min(b), a.max(b)))?;
        let f = p.fields.iter().find(|f| f.field == "email");
        Some(f.expect("an email comparison").level)
    };
    let email = probe
        .link
        .shared
        .iter()
        .filter(|s| probe.link.kinds[s.kind as usize] == graph_core::kinds::EMAIL)
        .find(|s| email_level(&probe, s.anchors[0], s.anchors[1]) == Some("exact"))
        .expect("a shared email a duplicate pair agrees on");
    let (a, b) = (email.anchors[0], email.anchors[1]);
    let mut config = LinkConfig::default();
    let mut rule = config.rule(graph_core::kinds::EMAIL);
    rule.placeholders
        .push(probe.values.get(email.row).expect("fetched").to_owned());
    config
        .rules
        .insert(graph_core::kinds::EMAIL.to_owned(), rule);
    let lazy = graph_core::run_link(
        &canonical,
        &tmp.path().join("r"),
        &config,
        Keyer::new(SECRET),
        &mut |_| {},
    )
    .expect("link");
    let full = graph_core::link_input(input, &config, &mut |_| {}).expect("link");
    // `run_link` frees the attribute table once rings are found (its peak memory at 10M);
    // what the outputs show came from the second, by-row read of the values.
    assert_eq!(lazy.input.attributes.len(), 0);

    let hubs = |r: &graph_core::RunResult| -> Vec<(u64, u32, &'static str, String)> {
        r.link
            .hubs
            .iter()
            .map(|h| {
                let kind = graph_core::base_kind(&r.link.kinds[h.kind as usize]);
                let value = r.values.get(h.row).expect("hub value fetched");
                let masked = graph_core::normalize::mask(kind, value);
                (h.key, h.entity_count, h.reason.as_str(), masked)
            })
            .collect()
    };
    assert!(
        hubs(&full)
            .iter()
            .any(|h| h.2 == graph_core::HubReason::Placeholder.as_str()),
        "the configured placeholder is held back"
    );
    assert_eq!(hubs(&lazy), hubs(&full));
    let shared = |r: &graph_core::RunResult| -> Vec<(u64, Vec<u32>, String)> {
        r.link
            .shared
            .iter()
            .map(|s| {
                let value = r.values.get(s.row).expect("shared value fetched");
                (s.key, s.anchors.clone(), value.to_owned())
            })
            .collect()
    };
    assert_eq!(shared(&lazy), shared(&full));
    assert_eq!(lazy.link.cluster_of, full.link.cluster_of);
    let rings = |r: &graph_core::RunResult| -> Vec<(f64, bool, Vec<String>)> {
        r.rings
            .iter()
            .map(|x| {
                let reasons = x.reasons.iter().map(|m| m.message.clone()).collect();
                (x.ring_score, x.is_ring, reasons)
            })
            .collect()
    };
    assert_eq!(rings(&lazy), rings(&full));
    assert_eq!(lazy.scores, full.scores);
    let pairs = |r: &graph_core::RunResult| -> Vec<(u32, u32, f64)> {
        r.duplicates
            .as_ref()
            .expect("duplicates ran")
            .probabilities()
    };
    assert!(!pairs(&full).is_empty());
    assert_eq!(pairs(&lazy), pairs(&full));
    // Duplicate detection took the configured placeholder for a missing email, in both
    // paths: the pair no longer agrees on it, and the weights are equal.
    assert_ne!(email_level(&full, a, b), Some("exact"));
    let weights = |r: &graph_core::RunResult| -> Vec<f64> {
        let pairs = &r.duplicates.as_ref().expect("duplicates ran").result.pairs;
        pairs.iter().map(|p| p.match_weight).collect()
    };
    assert_eq!(weights(&lazy), weights(&full));
    // `run_link` wrote the pairs with their explanations before linking, then freed these.
    let written = graph_core::read_columns(
        &tmp.path().join("r").join("duplicates.parquet"),
        &["explanation"],
    )
    .expect("duplicates written");
    assert_eq!(written[0].len(), pairs(&full).len());
    assert!(
        written[0]
            .iter()
            .all(|e| e.as_deref().is_some_and(|e| e.starts_with("prior ")))
    );
    let kept = &lazy
        .duplicates
        .as_ref()
        .expect("duplicates ran")
        .result
        .pairs;
    assert!(kept.iter().all(|p| p.fields.is_empty()));
}

/// The files of an output folder, name → bytes.
fn folder(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("output folder")
        .map(|e| e.expect("folder entry"))
        .filter(|e| e.file_type().expect("file type").is_file())
        .map(|e| {
            let name = e.file_name().into_string().expect("utf-8 name");
            (name, std::fs::read(e.path()).expect("output file"))
        })
        .collect()
}

/// `ringfence link` into a folder that holds a previous run: while the run works, and when it
/// fails half-way, the folder keeps the previous run's files, every one of them; once it
/// completes, the folder holds this run's files alone (a run without duplicate detection also
/// removes the previous run's duplicates) and no staging folder.
#[test]
fn a_run_replaces_the_previous_runs_files_only_once_it_is_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/sample");
    let (canonical, out) = (tmp.path().join("c"), tmp.path().join("r"));
    ingest_dir(&data, &canonical);
    let link = |config: &LinkConfig, progress: &mut dyn FnMut(&str)| {
        graph_core::run_link(&canonical, &out, config, Keyer::new(SECRET), progress)
    };
    link(&LinkConfig::default(), &mut |_| {}).expect("first run");
    let previous = folder(&out);
    assert!(previous.contains_key("duplicates.parquet"));
    let staging = out.join(".ringfence-partial");
    let mut no_dedupe = LinkConfig::default();
    no_dedupe.dedupe.enabled = false;

    // A run that fails once its clusters are written: its staging folder vanishes under it.
    let mut steps = Vec::new();
    let failed = link(&no_dedupe, &mut |step| {
        steps.push(step.to_owned());
        if step == "writing results" {
            assert!(staging.join("clusters.parquet").exists(), "clusters staged");
            std::fs::remove_dir_all(&staging).unwrap();
        }
    });
    assert!(failed.is_err(), "steps {steps:?}");
    assert!(steps.iter().any(|s| s == "writing results"), "{steps:?}");
    assert_eq!(folder(&out), previous, "a failed run changes nothing");
    assert!(!staging.exists());

    // A run that completes: the previous files stay until the end, then this run's replace them.
    let mut checked = false;
    link(&no_dedupe, &mut |step| {
        if step == "writing results" {
            assert_eq!(
                folder(&out),
                previous,
                "the previous run's files while this one works"
            );
            checked = true;
        }
    })
    .expect("second run");
    assert!(checked);
    let now = folder(&out);
    assert!(!staging.exists());
    assert!(!now.contains_key("duplicates.parquet") && !now.contains_key("dedupe_model.json"));
    assert_ne!(now["summary.json"], previous["summary.json"]);
    for f in ["clusters", "rings", "scores", "hubs", "links"] {
        assert!(now.contains_key(&format!("{f}.parquet")), "{f}.parquet");
    }
}
