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
    std::fs::write(&cfg, "[rules.ip]\nlink = \"window\"\n").unwrap();
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
        out.contains("Top rings:") && out.contains("ring pairs"),
        "{out}"
    );
}
