//! Bad rows are rejected one by one; bad files fail the run.

use ingest::Error;

use crate::util::*;

#[test]
fn bad_rows_are_rejected_and_counted() {
    let out = run(vec![account(data("bad_accounts.csv"))], None);
    let f = &out.summary.files[0];
    assert_eq!(f.rows_read, 7);
    assert_eq!(f.accounts_written, 2);
    assert_eq!(f.rows_rejected, 5);
    assert_eq!(f.rows_read, f.accounts_written + f.rows_rejected);
    let by_code: Vec<(&str, u64)> = f
        .rows_rejected_by_code
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        by_code,
        [
            ("bad_quoting", 1),
            ("duplicate_id", 1),
            ("missing_id", 1),
            ("wrong_field_count", 2)
        ]
    );

    let rows: Vec<_> = reject_codes(&out)
        .into_iter()
        .filter(|(_, _, a)| a == "row_rejected")
        .collect();
    assert_eq!(
        rows,
        vec![
            (2, "wrong_field_count".into(), "row_rejected".into()),
            (3, "bad_quoting".into(), "row_rejected".into()),
            (4, "missing_id".into(), "row_rejected".into()),
            (5, "duplicate_id".into(), "row_rejected".into()),
            (7, "wrong_field_count".into(), "row_rejected".into()),
        ]
    );
    let rj = out.rejects();
    let raws = strs(&rj, "raw");
    let reasons = strs(&rj, "reason");
    let ids = strs(&rj, "entity_id");
    let files = strs(&rj, "source_file");
    assert!(
        files
            .iter()
            .all(|f| f.as_deref().unwrap().ends_with("bad_accounts.csv"))
    );
    // Unparseable lines keep their raw text.
    assert_eq!(
        raws[0].as_deref(),
        Some("B2,Too,Many,fields@example.com,+1 415 555 0124,1991-02-03,2024-01-01,extra")
    );
    assert!(
        reasons[0]
            .as_deref()
            .unwrap()
            .contains("expected 7 fields, found 8")
    );
    assert_eq!(
        raws[1].as_deref(),
        Some(r#"B3,"Bad"quote,X,bq@example.com,,,"#)
    );
    // Parsed rows keep column -> value JSON.
    let missing: serde_json::Value = serde_json::from_str(raws[2].as_deref().unwrap()).unwrap();
    assert_eq!(missing["name_first"], "No");
    assert_eq!(missing["account_id"], "");
    assert_eq!(ids[2], None);
    assert_eq!(ids[3].as_deref(), Some("B1"));
    let dup_reason = reasons[3].as_deref().unwrap();
    assert!(
        dup_reason.contains("bad_accounts.csv row 1"),
        "{dup_reason}"
    );

    // B5 is kept; its unusable phone and birthdate are dropped, not the row.
    let ents = out.entities();
    assert_eq!(strs(&ents, "entity_id"), some(&["B1", "B5"]));
    assert_eq!(
        ent_value(&ents, "B5", "phone").as_deref(),
        Some("not a phone")
    );
    let dropped: Vec<(u64, String, Option<String>, Option<String>)> = {
        let rows = u64s(&rj, "row_number");
        let fields = strs(&rj, "field");
        let actions = strs(&rj, "action");
        let codes = strs(&rj, "code");
        (0..rj.height())
            .filter(|&i| actions[i].as_deref() == Some("field_dropped"))
            .map(|i| {
                (
                    rows[i],
                    codes[i].clone().unwrap(),
                    fields[i].clone(),
                    ids[i].clone(),
                )
            })
            .collect()
    };
    let dropped_fields: Vec<&str> = dropped.iter().filter_map(|d| d.2.as_deref()).collect();
    assert!(dropped_fields.contains(&"phone"), "{dropped:?}");
    assert!(dropped_fields.contains(&"birthdate"), "{dropped:?}");
    assert!(
        dropped
            .iter()
            .all(|d| d.0 == 6 && d.3.as_deref() == Some("B5")),
        "{dropped:?}"
    );
    assert_eq!(f.fields_dropped, dropped.len() as u64);
    let b5 = attrs_of(&out, 1);
    assert!(
        !b5.iter().any(|(k, _)| k == "phone" || k == "birthdate"),
        "{b5:?}"
    );
    assert!(
        b5.contains(&("email".into(), "bad@example.com".into())),
        "{b5:?}"
    );
}

#[test]
fn invalid_utf8_row_is_rejected_lossily() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.csv");
    let mut bytes = b"account_id,name_first,email\n".to_vec();
    bytes.extend_from_slice(b"U1,caf\xe9,u1@example.com\n");
    bytes.extend_from_slice(b"U2,Zo\xc3\xab,u2@example.com\n");
    std::fs::write(&path, bytes).unwrap();
    let out = run(vec![account(&path)], None);
    assert_eq!(
        reject_codes(&out),
        vec![(1, "invalid_utf8".into(), "row_rejected".into())]
    );
    let rj = out.rejects();
    assert_eq!(
        strs(&rj, "raw")[0].as_deref(),
        Some("U1,caf\u{FFFD},u1@example.com")
    );
    assert!(
        strs(&rj, "reason")[0]
            .as_deref()
            .unwrap()
            .contains("name_first")
    );
    let ents = out.entities();
    assert_eq!(strs(&ents, "entity_id"), some(&["U2"]));
    assert_eq!(strs(&ents, "name_first"), some(&["Zoë"]));
}

#[test]
fn unterminated_quote_loses_only_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.csv");
    // A stray quote that never closes must not swallow the rest of the file: only its
    // first line is rejected and reading resumes on the next line.
    std::fs::write(
        &path,
        "account_id,name_first,email\nQ2,fine,q2@example.com\nQ3,\"multi\nline\",q3@example.com\nQ1,\"never closed,q1@example.com\nQ4,after,q4@example.com\n",
    )
    .unwrap();
    let out = run(vec![account(&path)], None);
    assert_eq!(
        reject_codes(&out),
        vec![(4, "unterminated_quote".into(), "row_rejected".into())]
    );
    assert_eq!(
        strs(&out.rejects(), "raw")[0].as_deref(),
        Some("Q1,\"never closed,q1@example.com")
    );
    let ents = out.entities();
    assert_eq!(strs(&ents, "entity_id"), some(&["Q2", "Q3", "Q4"]));
    assert_eq!(
        strs(&ents, "name_first"),
        some(&["fine", "multi\nline", "after"])
    );
    // Physical line numbers minus the header: Q4 is on line 6.
    assert_eq!(u64s(&ents, "source_row"), [1, 2, 5]);
}

#[test]
fn empty_file_is_an_error() {
    let (_d, res) = try_run(vec![account(data("empty.csv"))], None, 100);
    let err = res.unwrap_err();
    assert!(matches!(err, Error::EmptyFile { .. }), "{err:?}");
    assert!(err.is_user_error());
    assert!(err.to_string().contains("empty.csv"));
    assert!(err.path().unwrap().ends_with("empty.csv"));
}

#[test]
fn header_only_file_reads_zero_rows() {
    let out = run(
        vec![
            account(data("accounts.csv")),
            account(data("header_only.csv")),
        ],
        None,
    );
    let f = &out.summary.files[1];
    assert!(f.path.ends_with("header_only.csv"));
    assert_eq!(
        (f.rows_read, f.accounts_written, f.rows_rejected),
        (0, 0, 0)
    );
    assert_eq!(out.entities().height(), 3);
}

#[test]
fn no_usable_accounts_is_an_error() {
    let (dir, res) = try_run(
        vec![
            account(data("header_only.csv")),
            inquiry(data("inquiries.csv")),
        ],
        None,
        100,
    );
    let err = res.unwrap_err();
    assert!(
        matches!(
            err,
            Error::NoAccountRows {
                sources: 1,
                rows_read: 0
            }
        ),
        "{err:?}"
    );
    assert!(err.is_user_error());
    let left: Vec<_> = std::fs::read_dir(dir.path().join("out")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn missing_file_is_an_error_before_any_work() {
    let (_d, res) = try_run(
        vec![
            account(data("accounts.csv")),
            inquiry(data("does_not_exist.csv")),
        ],
        None,
        100,
    );
    let err = res.unwrap_err();
    assert!(matches!(err, Error::OpenInput { .. }), "{err:?}");
    assert!(err.to_string().contains("does_not_exist.csv"));
}

#[test]
fn unknown_extension_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.xlsx");
    std::fs::write(&path, "account_id\nX\n").unwrap();
    let (_d, res) = try_run(vec![account(&path)], None, 100);
    assert!(matches!(res.unwrap_err(), Error::UnknownFormat { .. }));
    // An explicit format wins over the extension.
    let out = run(vec![account(&path).with_format(ingest::Format::Csv)], None);
    assert_eq!(strs(&out.entities(), "entity_id"), some(&["X"]));
}
