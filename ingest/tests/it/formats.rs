//! NDJSON and Parquet input.

use std::fs::File;

use ingest::Mapping;
use polars::prelude::*;

use crate::util::*;

#[test]
fn ndjson_input_with_bad_lines() {
    let out = run(
        vec![
            account(data("accounts.csv")),
            inquiry(data("inquiries_mixed.ndjson")),
        ],
        None,
    );
    let f = &out.summary.files[1];
    assert_eq!(f.format, "ndjson");
    // 8 lines, one blank.
    assert_eq!(f.rows_read, 7);
    assert_eq!(f.inquiries_written, 3);
    assert_eq!(f.rows_rejected, 4);
    let rejects: Vec<_> = reject_codes(&out)
        .into_iter()
        .filter(|(_, _, a)| a == "row_rejected")
        .collect();
    assert_eq!(
        rejects,
        vec![
            (3, "not_an_object".into(), "row_rejected".into()),
            (6, "invalid_json".into(), "row_rejected".into()),
            (7, "duplicate_id".into(), "row_rejected".into()),
            (8, "missing_id".into(), "row_rejected".into()),
        ]
    );
    // The raw of an NDJSON reject is the line itself.
    let rj = out.rejects();
    let raws = strs(&rj, "raw");
    let codes = strs(&rj, "code");
    let raw_of = |code: &str| {
        let i = codes
            .iter()
            .position(|c| c.as_deref() == Some(code))
            .unwrap();
        raws[i].clone().unwrap()
    };
    assert_eq!(raw_of("not_an_object"), "[1, 2, 3]");
    assert_eq!(raw_of("invalid_json"), "{this is not json");
    assert_eq!(
        raw_of("duplicate_id"),
        r#"{"inquiry_id": "N1", "account_id": "A3"}"#
    );

    let ents = out.entities();
    assert_eq!(strs(&ents, "entity_id")[3..], some(&["N1", "N2", "N3"])[..]);
    assert_eq!(u64s(&ents, "source_row")[3..], [1, 4, 5]);
    assert_eq!(
        ent_value(&ents, "N1", "status").as_deref(),
        Some("completed")
    );
    // Numbers become their JSON text; nested values compact JSON; null is absent.
    assert_eq!(
        ent_value(&ents, "N2", "phone").as_deref(),
        Some("14155550199")
    );
    assert_eq!(
        ent_value(&ents, "N3", "device_id").as_deref(),
        Some(r#"{"id":7,"vendor":"x"}"#)
    );
    assert_eq!(
        ent_value(&ents, "N3", "user_agent").as_deref(),
        Some(r#"["a","b"]"#)
    );
    assert_eq!(ent_value(&ents, "N3", "email"), None);
    // N1 -> A1 (0), N2 -> A2 (1), N3 has no account.
    assert_eq!(u32s(&ents, "anchor_idx")[3..], [0, 1, 5]);
}

fn write_parquet(path: &std::path::Path, df: &mut DataFrame) {
    ParquetWriter::new(File::create(path).unwrap())
        .finish(df)
        .unwrap();
}

#[test]
fn parquet_input_with_non_string_types() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.parquet");
    let mut df = DataFrame::new(
        3,
        vec![
            Column::new("account_id".into(), [1001i64, 1002, 1003]),
            Column::new(
                "email".into(),
                [Some("p1@example.com"), None, Some("  p3@example.com ")],
            ),
            Column::new(
                "phone".into(),
                [Some(14_155_550_100i64), None, Some(14_155_550_102)],
            ),
            Column::new("score".into(), [0.25f64, 1.5, -3.0]),
            Column::new("active".into(), [true, false, true]),
            Column::new("age".into(), [Some(31i32), None, Some(47)]),
        ],
    )
    .unwrap();
    write_parquet(&path, &mut df);

    let mapping = Mapping::from_toml_str(
        "[accounts.columns]\nreference_id = \"score\"\n[accounts.custom]\nactive_flag = \"active\"\n",
    )
    .unwrap();
    let out = run_with(vec![account(&path)], Some(mapping), 2);
    let s = &out.summary.files[0];
    assert_eq!(s.format, "parquet");
    assert_eq!((s.rows_read, s.accounts_written), (3, 3));
    let ents = out.entities();
    assert_eq!(strs(&ents, "entity_id"), some(&["1001", "1002", "1003"]));
    assert_eq!(u64s(&ents, "source_row"), [1, 2, 3]);
    assert_eq!(
        strs(&ents, "email"),
        vec![
            Some("p1@example.com".into()),
            None,
            Some("p3@example.com".into())
        ]
    );
    assert_eq!(
        strs(&ents, "phone"),
        vec![Some("14155550100".into()), None, Some("14155550102".into())]
    );
    assert_eq!(strs(&ents, "reference_id"), some(&["0.25", "1.5", "-3.0"]));
    let flags: Vec<String> = (0..3)
        .map(|i| {
            attrs_of(&out, i)
                .into_iter()
                .find(|(k, _)| k == "active_flag")
                .map(|(_, v)| v.to_ascii_lowercase())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(flags, ["true", "false", "true"]);
    assert!(attrs_of(&out, 0).iter().any(|(k, _)| k == "phone"));
}

#[test]
fn parquet_rejects_carry_the_row_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.parquet");
    let mut df = DataFrame::new(
        2,
        vec![
            Column::new("account_id".into(), [Some("P1"), None]),
            Column::new("n".into(), [Some(7i64), None]),
        ],
    )
    .unwrap();
    write_parquet(&path, &mut df);
    let out = run(vec![account(&path)], None);
    assert_eq!(
        reject_codes(&out),
        vec![(2, "missing_id".into(), "row_rejected".into())]
    );
    let raw = strs(&out.rejects(), "raw")[0].clone().unwrap();
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v, serde_json::json!({"account_id": null, "n": null}));
}

#[test]
fn corrupt_parquet_is_a_user_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.parquet");
    std::fs::write(&path, b"PAR1 this is not parquet at all").unwrap();
    let (_d, res) = try_run(vec![account(&path)], None, 100);
    let err = res.unwrap_err();
    assert!(err.is_user_error(), "{err:?}");
    assert!(err.to_string().contains("acc.parquet"), "{err}");
}

#[test]
fn ndjson_keys_are_looked_for_past_the_first_chunk() {
    // The mapped key appears first on the third line: with chunks of one row it still counts
    // as a column of the file (the look-ahead does not follow the chunk size).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.ndjson");
    std::fs::write(
        &path,
        "{\"account_id\":\"a1\",\"email\":\"a1@example.com\"}\n\
         {\"account_id\":\"a2\",\"email\":\"a2@example.com\"}\n\
         {\"account_id\":\"a3\",\"email\":\"a3@example.com\",\"loyalty\":\"L-77\"}\n",
    )
    .unwrap();
    let mapping =
        || Mapping::from_toml_str("[accounts.custom]\nloyalty_id = \"loyalty\"\n").unwrap();
    for chunk_rows in [1, 2, ingest::DEFAULT_CHUNK_ROWS] {
        let out = run_with(vec![account(&path)], Some(mapping()), chunk_rows);
        assert_eq!(out.summary.files[0].accounts_written, 3, "{chunk_rows}");
        let loyalty: Vec<String> = (0..3)
            .flat_map(|i| attrs_of(&out, i))
            .filter(|(k, _)| k == "loyalty_id")
            .map(|(_, v)| v.to_ascii_lowercase())
            .collect();
        assert_eq!(loyalty, ["l-77"], "{chunk_rows}");
    }
}
