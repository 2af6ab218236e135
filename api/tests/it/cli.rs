use std::path::Path;
use std::process::{Command, Output};

fn ringfence(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(args)
        .env(
            "RINGFENCE__GRAPH__KEY_SECRET",
            "cli test secret, long enough",
        )
        .output()
        .expect("run ringfence")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn generate_ingest_link_eval_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |p: &str| tmp.path().join(p).to_string_lossy().into_owned();
    let o = ringfence(&[
        "generate",
        "--accounts",
        "4000",
        "--seed",
        "3",
        "--out",
        &d("data"),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    for f in ["accounts.csv", "inquiries.csv", "truth.csv"] {
        assert!(tmp.path().join("data").join(f).exists(), "{f}");
    }
    let o = ringfence(&[
        "ingest",
        "--accounts",
        &d("data/accounts.csv"),
        "--inquiries",
        &d("data/inquiries.csv"),
        "--out",
        &d("canonical"),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = ringfence(&["link", &d("canonical"), "--out", &d("results")]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("Top rings:"), "{out}");
    assert!(out.contains("score"), "{out}");
    assert!(err.contains("[link] linking"), "progress on stderr: {err}");
    assert!(
        !err.contains("warning: no key secret"),
        "secret came from the environment: {err}"
    );
    let o = ringfence(&[
        "eval",
        "--truth",
        &d("data/truth.csv"),
        "--results",
        &d("results"),
        "--json",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json report");
    assert!(
        report["ring_pairs"]["f1"].as_f64().unwrap() > 0.8,
        "{report}"
    );
    assert_eq!(report["accounts"], 4000);
}

#[test]
fn link_of_a_folder_that_is_not_an_ingest_output_is_a_user_error() {
    let tmp = tempfile::tempdir().unwrap();
    let o = ringfence(&[
        "link",
        &tmp.path().to_string_lossy(),
        "--out",
        &tmp.path().join("r").to_string_lossy(),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no entities.parquet") && err.contains("ringfence ingest"),
        "{err}"
    );
}

#[test]
fn bad_link_config_names_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/sample");
    let canonical = tmp.path().join("c");
    let o = ringfence(&[
        "ingest",
        "--accounts",
        &sample.join("accounts.csv").to_string_lossy(),
        "--out",
        &canonical.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let cfg = tmp.path().join("bad.toml");
    // A custom kind starts from `alone`: a window rule for it needs its window.
    std::fs::write(&cfg, "[rules.loyalty_id]\nlink = \"window\"\n").unwrap();
    let o = ringfence(&[
        "link",
        &canonical.to_string_lossy(),
        "--out",
        &tmp.path().join("r").to_string_lossy(),
        "--config",
        &cfg.to_string_lossy(),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("window_hours"), "{err}");
}

#[test]
fn missing_and_empty_inputs_are_user_errors_with_clear_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = ringfence(&[
        "ingest",
        "--accounts",
        "/nonexistent/accounts.csv",
        "--out",
        &out.to_string_lossy(),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent/accounts.csv"), "{err}");

    let empty = tmp.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let o = ringfence(&[
        "ingest",
        "--accounts",
        &empty.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("empty"), "{err}");

    let o = ringfence(&[
        "generate",
        "--accounts",
        "0",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn demo_runs_the_whole_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let o = ringfence(&[
        "demo",
        "--accounts",
        "3000",
        "--dir",
        &tmp.path().join("demo").to_string_lossy(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("Top rings:") && out.contains("ring pairs") && out.contains("ring errors"),
        "{out}"
    );
}

/// A public-benchmark-shaped table (its own column names, the true identity in a column of
/// its own) goes through ingest with a mapping, `ringfence dedupe`, and `ringfence eval
/// --mapping`; a saved model scores the same pairs again.
#[test]
fn dedupe_and_eval_a_foreign_table_through_a_mapping() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |p: &str| tmp.path().join(p).to_string_lossy().into_owned();
    let firsts = [
        "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sofia", "Mateo", "Chioma", "Kenji",
        "Aarav", "Zofia", "Björn", "Renée", "Ibrahim", "Mei",
    ];
    let lasts = [
        "Okafor",
        "Lindqvist",
        "Nakamura",
        "Oyelaran",
        "Fitzgerald",
        "Kowalczyk",
        "Haddad",
        "Papadopoulos",
        "Schwarzenegger",
        "Abernathy",
        "Castellanos",
        "Dubois",
        "Ekström",
        "Fairweather",
        "Gallagher",
        "Hollingsworth",
        "Iwasaki",
    ];
    let mut table = String::from("rec_id;given;family;dob;ssn;mail;ent\n");
    let mut n = 0;
    for i in 0..240usize {
        let (f, l) = (
            firsts[i % firsts.len()],
            lasts[(i * 7 + i / 16) % lasts.len()],
        );
        let dob = format!(
            "19{:02}-{:02}-{:02}",
            50 + i % 50,
            1 + i % 12,
            1 + (i * 5) % 28
        );
        let ssn = format!("{:03}-{:02}-{:04}", 100 + i, 10 + i % 80, 1000 + i * 37);
        let mail = format!("{}.{}{}@example.org", f.to_lowercase(), l.to_lowercase(), i);
        table += &format!("r{n};{f};{l};{dob};{ssn};{mail};e{i}\n");
        n += 1;
        if i % 4 == 0 {
            // The same person again: a typo in the surname, the email changed.
            let typo = format!("{}{}", &l[..l.len() - 1], "e");
            table += &format!("r{n};{f};{typo};{dob};{ssn};x{i}@mail.test;e{i}\n");
            n += 1;
        }
    }
    std::fs::write(tmp.path().join("bench.csv"), table).unwrap();
    let mapping = r#"
[accounts]
delimiter = ";"
columns = { account_id = "rec_id", name_first = "given", name_last = "family", birthdate = "dob", gov_id_number = "ssn", email = "mail" }
truth = { person_id = "ent" }
"#;
    std::fs::write(tmp.path().join("m.toml"), mapping).unwrap();
    let o = ringfence(&[
        "ingest",
        "--accounts",
        &d("bench.csv"),
        "--mapping",
        &d("m.toml"),
        "--out",
        &d("c"),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = ringfence(&["dedupe", &d("c"), "--out", &d("dups")]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("60 duplicate pairs"), "{out}");
    assert!(out.contains("last_name"), "explanations shown: {out}");
    for f in [
        "duplicates.parquet",
        "dedupe_model.json",
        "dedupe_summary.json",
    ] {
        assert!(tmp.path().join("dups").join(f).exists(), "{f}");
    }
    let o = ringfence(&[
        "eval",
        "--truth",
        &d("bench.csv"),
        "--mapping",
        &d("m.toml"),
        "--results",
        &d("dups"),
        "--json",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["accounts"], 300);
    assert_eq!(report["duplicate_pairs"]["actual"], 60);
    assert_eq!(report["duplicate_pairs"]["f1"], 1.0, "{report}");

    // The saved model scores the same pairs without training.
    let o = ringfence(&[
        "dedupe",
        &d("c"),
        "--out",
        &d("again"),
        "--model",
        &d("dups/dedupe_model.json"),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("model loaded"), "{out}");
    let pairs = |dir: &str| {
        graph_core::read_columns(
            &tmp.path().join(dir).join("duplicates.parquet"),
            &["entity_a", "entity_b", "match_weight"],
        )
        .unwrap()
    };
    assert_eq!(pairs("dups"), pairs("again"));

    // A file that is not a model is the user's error, named.
    std::fs::write(tmp.path().join("bad.json"), "{\"version\": 99}").unwrap();
    let o = ringfence(&[
        "dedupe",
        &d("c"),
        "--out",
        &d("x"),
        "--model",
        &d("bad.json"),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.json") && err.contains("not a usable model"),
        "{err}"
    );
}

#[test]
fn ingest_chunk_rows_leaves_the_counts_alone_and_is_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |p: &str| tmp.path().join(p).to_string_lossy().into_owned();
    let sample = |f: &str| format!("{}/../datasets/sample/{f}", env!("CARGO_MANIFEST_DIR"));
    let ingest = |out: &str, chunk: Option<&str>| {
        let (accounts, inquiries) = (sample("accounts.csv"), sample("inquiries.csv"));
        let mut args = vec![
            "ingest",
            "--accounts",
            &accounts,
            "--inquiries",
            &inquiries,
            "--out",
            out,
        ];
        args.extend(chunk.map(|c| ["--chunk-rows", c]).into_iter().flatten());
        ringfence(&args)
    };
    let o = ingest(&d("default"), None);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = ingest(&d("small"), Some("1024"));
    assert!(o.status.success(), "{:?}", text(&o));
    let totals = |dir: &str| -> serde_json::Value {
        let path = tmp.path().join(dir).join("ingest_summary.json");
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        s["totals"].clone()
    };
    let default = totals("default");
    assert!(
        default["entities_written"].as_u64().unwrap() > 1000,
        "{default}"
    );
    assert_eq!(totals("small"), default);
    for bad in ["0", "1023", "1048577", "1.5", "many"] {
        let o = ingest(&d("bad"), Some(bad));
        let (_, err) = text(&o);
        assert!(!o.status.success(), "{bad}");
        assert!(err.contains("--chunk-rows"), "{bad}: {err}");
        assert!(!tmp.path().join("bad").exists(), "nothing written: {err}");
    }
}
