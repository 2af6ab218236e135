//! Mapping files: rename, concat, full name, one-line address, date formats, custom kinds.

use ingest::{Error, Mapping};

use crate::util::*;

fn example_mapping() -> Mapping {
    Mapping::from_toml_file(&data("mapping_example.toml")).unwrap()
}

#[test]
fn example_mapping_applies() {
    let out = run(
        vec![
            account(data("mapped_accounts.csv")),
            inquiry(data("mapped_inquiries.ndjson")),
        ],
        Some(example_mapping()),
    );
    let s = &out.summary;
    assert_eq!(s.totals.accounts_written, 2);
    assert_eq!(s.totals.inquiries_written, 2);
    assert_eq!(
        s.totals.rows_rejected, 0,
        "{:?}",
        s.totals.rows_rejected_by_code
    );
    // `format = "ndjson"` from the mapping is what the file is read as.
    assert_eq!(s.files[1].format, "ndjson");

    let ents = out.entities();
    assert_eq!(
        strs(&ents, "entity_id"),
        some(&["C-001", "C-002", "Q1", "Q2"])
    );
    // Concatenation of two columns, blank parts skipped.
    assert_eq!(
        strs(&ents, "address_street")[..2],
        some(&["12 High Street", "Baker Street"])[..]
    );
    // Full name column lands in `name`; the single-line address in `address_street`.
    assert_eq!(
        ent_value(&ents, "C-001", "name").as_deref(),
        Some("María José García López")
    );
    assert_eq!(ent_value(&ents, "C-001", "name_first"), None);
    assert_eq!(
        ent_value(&ents, "Q1", "address_street").as_deref(),
        Some("12 High Street, Leeds LS1 4AB")
    );
    assert_eq!(
        ent_value(&ents, "C-001", "address_city").as_deref(),
        Some("Leeds")
    );
    assert_eq!(
        ent_value(&ents, "C-001", "birthdate").as_deref(),
        Some("19880214")
    );
    assert_eq!(
        ent_value(&ents, "Q1", "ip_address").as_deref(),
        Some("203.0.113.9")
    );
    // `created_at = "%d/%m/%Y %H:%M"`: 05/06/2023 14:30 UTC.
    assert_eq!(i64s(&ents, "created_at_ms")[0], Some(1_685_975_400_000));
    // Q1's customer is C-001; Q2's is unknown.
    assert_eq!(u32s(&ents, "anchor_idx"), vec![0, 1, 0, 3]);
    assert_eq!(
        ent_value(&ents, "Q1", "status").as_deref(),
        Some("completed")
    );

    let c1 = attrs_of(&out, 0);
    // `%Y%m%d` birthdate parsed.
    assert!(
        c1.contains(&("birthdate".into(), "1988-02-14".into())),
        "{c1:?}"
    );
    assert!(
        c1.iter()
            .any(|(k, v)| k == "name_dob" && v.ends_with("|1988-02-14")),
        "{c1:?}"
    );
    // The full name was split: a last name exists.
    assert!(c1.iter().any(|(k, _)| k == "name_last"), "{c1:?}");
    // Custom kind.
    assert!(
        c1.iter()
            .any(|(k, v)| k == "loyalty_id" && v.eq_ignore_ascii_case("LOY-77")),
        "{c1:?}"
    );
    assert!(c1.iter().any(|(k, _)| k == "address"), "{c1:?}");
    let c2 = attrs_of(&out, 1);
    assert!(
        c2.contains(&("email".into(), "john@example.com".into())),
        "{c2:?}"
    );
    assert!(
        !c2.iter().any(|(k, _)| k == "loyalty_id"),
        "blank custom value: {c2:?}"
    );
    let q1 = attrs_of(&out, 2);
    assert!(q1.iter().any(|(k, _)| k == "address"), "{q1:?}");
    assert!(
        q1.iter().any(|(k, v)| k == "ip" && v == "203.0.113.9"),
        "{q1:?}"
    );
}

#[test]
fn mapping_naming_a_missing_column_fails_with_its_name() {
    let mapping = Mapping::from_toml_str(
        "[accounts.columns]\naccount_id = \"account_id\"\nemail = \"e_mail_typo\"\n",
    )
    .unwrap();
    let (dir, res) = try_run(vec![account(data("accounts.csv"))], Some(mapping), 1000);
    let err = res.unwrap_err();
    assert!(matches!(err, Error::MappingColumnMissing { .. }), "{err:?}");
    assert!(err.is_user_error());
    let msg = err.to_string();
    assert!(
        msg.contains("e_mail_typo") && msg.contains("email"),
        "{msg}"
    );
    assert!(msg.contains("accounts.csv"), "{msg}");
    // Nothing is left behind under a final name (nor as a temporary).
    let out = dir.path().join("out");
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn mapping_concat_with_missing_part_fails() {
    let mapping = Mapping::from_toml_str(
        "[accounts.columns]\naddress_street = [\"address_street\", \"unit_no\"]\n",
    )
    .unwrap();
    let (_dir, res) = try_run(vec![account(data("accounts.csv"))], Some(mapping), 1000);
    let msg = res.unwrap_err().to_string();
    assert!(msg.contains("`unit_no`"), "{msg}");
}

#[test]
fn mapping_file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(&path, "[accounts.columns]\nemial = \"x\"\n").unwrap();
    let err = Mapping::from_toml_file(&path).unwrap_err();
    assert!(err.is_user_error());
    let msg = err.to_string();
    assert!(msg.contains("m.toml") && msg.contains("emial"), "{msg}");
    let err = Mapping::from_toml_file(&dir.path().join("nope.toml")).unwrap_err();
    assert!(err.to_string().contains("nope.toml"));
}

#[test]
fn no_id_column_after_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.csv");
    std::fs::write(&path, "customer,email\nX1,x@example.com\n").unwrap();
    let (_d, res) = try_run(vec![account(&path)], None, 1000);
    let err = res.unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingIdColumn {
                column: "account_id",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("customer, email"), "{err}");
    // With a mapping it works.
    let m = Mapping::from_toml_str("[accounts.columns]\naccount_id = \"customer\"").unwrap();
    let out = run(vec![account(&path)], Some(m));
    assert_eq!(strs(&out.entities(), "entity_id"), some(&["X1"]));
}
