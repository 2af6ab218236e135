//! Unicode-heavy and hostile values survive into `entities.parquet` byte for byte (trimmed).

use crate::util::*;

#[test]
fn hostile_values_survive_intact() {
    let long = "ж".repeat(50_000) + "end";
    let values: Vec<(&str, String)> = vec![
        ("name_first", "👩‍👩‍👧‍👦 Zoë".to_owned()),
        ("name_last", "مرحبا بالعالم".to_owned()),
        ("name_middle", long.clone()),
        (
            "address_street",
            "שלום 12, \"quoted\" apt\n2nd line".to_owned(),
        ),
        ("address_city", "bell\u{7}ctl\u{1}\u{1b}[31mred".to_owned()),
        (
            "user_agent",
            "nul\u{0}byte\u{200d}zwj\u{202e}rtl-override".to_owned(),
        ),
        (
            "reference_id",
            "e\u{301} combining, 'quotes' and ; , \t tabs".to_owned(),
        ),
        ("device_id", "  padded  ".to_owned()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.csv");
    let header: Vec<&str> = std::iter::once("account_id")
        .chain(values.iter().map(|(k, _)| *k))
        .collect();
    let row: Vec<String> = std::iter::once(csv_field("H-1 ✓"))
        .chain(values.iter().map(|(_, v)| csv_field(v)))
        .collect();
    std::fs::write(&path, format!("{}\n{}\n", header.join(","), row.join(","))).unwrap();

    let out = run(vec![account(&path)], None);
    assert_eq!(
        out.summary.totals.rows_rejected, 0,
        "{:?}",
        out.summary.totals
    );
    let ents = out.entities();
    assert_eq!(strs(&ents, "entity_id"), some(&["H-1 ✓"]));
    for (col, v) in &values {
        assert_eq!(
            ent_value(&ents, "H-1 ✓", col).as_deref(),
            Some(v.trim()),
            "column {col}"
        );
    }

    // The same values through NDJSON.
    let nd = dir.path().join("hostile.ndjson");
    let mut obj = serde_json::Map::new();
    obj.insert("inquiry_id".into(), "Ж-1".into());
    for (k, v) in &values {
        obj.insert((*k).into(), v.as_str().into());
    }
    std::fs::write(&nd, serde_json::Value::Object(obj).to_string() + "\n").unwrap();
    let out = run(vec![account(&path), inquiry(&nd)], None);
    let ents = out.entities();
    for (col, v) in &values {
        assert_eq!(
            ent_value(&ents, "Ж-1", col).as_deref(),
            Some(v.trim()),
            "column {col}"
        );
    }
}

#[test]
fn bom_and_crlf_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bom.csv");
    std::fs::write(
        &path,
        "\u{feff}account_id,email\r\nR1,r1@example.com\r\n\r\nR2,\"r2@example.com\"\r\n",
    )
    .unwrap();
    let out = run(vec![account(&path)], None);
    let ents = out.entities();
    assert_eq!(strs(&ents, "entity_id"), some(&["R1", "R2"]));
    assert_eq!(
        strs(&ents, "email"),
        some(&["r1@example.com", "r2@example.com"])
    );
    // The blank line still counts as a line: R2 is on line 4.
    assert_eq!(u64s(&ents, "source_row"), [1, 3]);
}
