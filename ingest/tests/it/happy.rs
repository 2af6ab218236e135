//! Canonical CSV in, everything out.

use std::fs::File;

use graph_core::EntityType;
use ingest::Progress;
use polars::prelude::*;

use crate::util::*;

#[test]
fn canonical_csv_happy_path() {
    // Inquiries given first on purpose: accounts must still come first.
    let out = run(
        vec![
            inquiry(data("inquiries.csv")),
            account(data("accounts.csv")),
        ],
        None,
    );
    let s = &out.summary;
    assert_eq!(s.schema_version, ingest::SCHEMA_VERSION);
    assert_eq!(s.totals.files, 2);
    assert_eq!(s.totals.rows_read, 7);
    assert_eq!(s.totals.accounts_written, 3);
    assert_eq!(s.totals.inquiries_written, 4);
    assert_eq!(s.totals.entities_written, 7);
    assert_eq!(
        s.totals.rows_rejected, 0,
        "{:?}",
        s.totals.rows_rejected_by_code
    );
    assert_eq!(s.totals.inquiries_anchored, 2);
    assert_eq!(s.files[0].entity_type, "account");
    assert!(s.files[0].path.ends_with("accounts.csv"));
    assert_eq!(s.files[0].format, "csv");

    // Schemas are the documented contract.
    let ents = out.entities();
    assert_eq!(ents.schema().as_ref(), &ingest::entities_schema());
    assert_eq!(
        out.attributes().schema().as_ref(),
        &ingest::attributes_schema(false)
    );
    let rejects = out.rejects();
    assert_eq!(rejects.schema().as_ref(), &ingest::rejects_schema());
    let row_rejects = strs(&rejects, "action")
        .iter()
        .filter(|a| a.as_deref() == Some("row_rejected"))
        .count();
    assert_eq!(row_rejects, 0);

    assert_eq!(u32s(&ents, "entity_idx"), (0..7).collect::<Vec<u32>>());
    assert_eq!(
        strs(&ents, "entity_id"),
        some(&["A1", "A2", "A3", "I1", "I2", "I3", "I4"])
    );
    assert_eq!(
        strs(&ents, "entity_type"),
        some(&[
            "account", "account", "account", "inquiry", "inquiry", "inquiry", "inquiry"
        ])
    );
    assert_eq!(
        strs(&ents, "account_id"),
        vec![
            None,
            None,
            None,
            Some("A1".into()),
            Some("A9".into()),
            None,
            Some("A3".into())
        ]
    );
    // I1 -> A1 (0), I2's account is unknown (own idx 4), I3 has none (5), I4 -> A3 (2).
    assert_eq!(u32s(&ents, "anchor_idx"), vec![0, 1, 2, 0, 4, 5, 2]);
    assert_eq!(u64s(&ents, "source_row"), vec![1, 2, 3, 1, 2, 3, 4]);
    let files = strs(&ents, "source_file");
    assert!(
        files[..3]
            .iter()
            .all(|f| f.as_deref().unwrap().ends_with("accounts.csv"))
    );
    assert!(
        files[3..]
            .iter()
            .all(|f| f.as_deref().unwrap().ends_with("inquiries.csv"))
    );
    let created = i64s(&ents, "created_at_ms");
    assert_eq!(created[0], Some(1_704_164_645_000)); // 2024-01-02T03:04:05Z
    assert_eq!(created[2], Some(1_707_552_000_000)); // 2024-02-10T10:00:00+02:00
    assert_eq!(created[3], Some(1_709_294_400_000)); // 2024-03-01T12:00:00Z
    assert_eq!(
        strs(&ents, "label"),
        vec![
            Some("fraud".into()),
            Some("legit".into()),
            None,
            None,
            None,
            None,
            None
        ]
    );
    assert_eq!(
        ent_value(&ents, "I1", "status").as_deref(),
        Some("completed")
    );

    // PII columns carry the trimmed raw values.
    assert_eq!(
        ent_value(&ents, "A1", "email").as_deref(),
        Some("Alice.Smith@Example.com")
    );
    assert_eq!(
        ent_value(&ents, "A3", "address_street").as_deref(),
        Some("10 Downing St, Flat 2")
    );
    assert_eq!(ent_value(&ents, "A2", "name_middle"), None);
    assert_eq!(
        ent_value(&ents, "I1", "user_agent").as_deref(),
        Some("Mozilla/5.0")
    );
    assert!(strs(&ents, "name").iter().all(Option::is_none));
    for f in ingest::pii_fields() {
        assert!(ents.column(f.name()).is_ok(), "missing PII column {f}");
    }

    // Attributes: normalised, per entity, and shared values link.
    let a1 = attrs_of(&out, 0);
    assert!(
        a1.contains(&("email".into(), "alice.smith@example.com".into())),
        "{a1:?}"
    );
    assert!(a1.iter().any(|(k, _)| k == "phone"), "{a1:?}");
    assert!(a1.iter().any(|(k, _)| k == "device_id"), "{a1:?}");
    let attrs = out.attributes();
    assert!(u32s(&attrs, "entity_idx").iter().all(|&i| i < 7));
    assert_eq!(attrs.height() as u64, s.totals.attributes_written);
    let dev1 = attrs_of(&out, 0)
        .into_iter()
        .find(|(k, _)| k == "device_id")
        .unwrap();
    for id in ["A3", "I1", "I3"] {
        let idx = idx_of(&ents, id);
        assert!(
            attrs_of(&out, idx).contains(&dev1),
            "{id} should share {dev1:?}"
        );
    }

    // The summary on disk is the one returned; no temporary files are left.
    let json = std::fs::read_to_string(out.path(ingest::SUMMARY_FILE)).unwrap();
    let on_disk: ingest::Summary = serde_json::from_str(&json).unwrap();
    assert_eq!(&on_disk, s);
    assert_clean_outputs(out.dir.path());
}

#[test]
fn progress_events_in_order() {
    let out = run(
        vec![
            inquiry(data("inquiries.csv")),
            account(data("accounts.csv")),
        ],
        None,
    );
    let kinds: Vec<String> = out
        .events
        .iter()
        .map(|e| match e {
            Progress::FileStarted {
                path,
                entity_type,
                bytes_total,
                ..
            } => {
                assert!(bytes_total.unwrap() > 0);
                format!(
                    "start {} {}",
                    entity_type,
                    path.file_name().unwrap().to_string_lossy()
                )
            }
            Progress::Rows { rows_done, .. } => format!("rows {rows_done}"),
            Progress::FileFinished { summary, .. } => format!("done {}", summary.rows_read),
            _ => "other".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "start account accounts.csv",
            "rows 3",
            "done 3",
            "start inquiry inquiries.csv",
            "rows 4",
            "done 4"
        ]
    );
    assert!(matches!(
        out.events[0],
        Progress::FileStarted {
            entity_type: EntityType::Account,
            ..
        }
    ));
}

#[test]
fn chunking_does_not_change_output() {
    let sources = || {
        vec![
            account(data("accounts.csv")),
            account(data("bad_accounts.csv")),
            inquiry(data("inquiries.csv")),
        ]
    };
    let big = run_with(sources(), None, ingest::DEFAULT_CHUNK_ROWS);
    let small = run_with(sources(), None, 1);
    assert!(big.entities().equals_missing(&small.entities()));
    assert!(big.attributes().equals_missing(&small.attributes()));
    assert!(big.rejects().equals_missing(&small.rejects()));
    let (mut a, mut b) = (big.summary.clone(), small.summary.clone());
    a.elapsed_ms = 0;
    b.elapsed_ms = 0;
    for f in a.files.iter_mut().chain(b.files.iter_mut()) {
        f.elapsed_ms = 0;
    }
    assert_eq!(a, b);
    // Rows written as several row groups still read back as one contiguous range.
    assert_eq!(
        u32s(&small.entities(), "entity_idx"),
        (0..small.entities().height() as u32).collect::<Vec<_>>()
    );
}

#[test]
fn rerun_replaces_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(vec![account(data("accounts.csv"))], None, dir.path());
    ingest::run(&opts, &mut |_| {}).unwrap();
    let opts = options(
        vec![
            account(data("accounts.csv")),
            inquiry(data("inquiries.csv")),
        ],
        None,
        dir.path(),
    );
    let s = ingest::run(&opts, &mut |_| {}).unwrap();
    assert_eq!(s.totals.entities_written, 7);
    assert_eq!(
        read_parquet(&dir.path().join(ingest::ENTITIES_FILE)).height(),
        7
    );
    assert_clean_outputs(dir.path());
}

#[test]
fn tsv_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.tsv");
    std::fs::write(&path, "account_id\temail\tname\r\nT1\tt1@example.com\tAda Lovelace\r\nT2\t, comma@example.com\t\r\n").unwrap();
    let out = run(vec![account(&path)], None);
    let ents = out.entities();
    assert_eq!(strs(&ents, "entity_id"), some(&["T1", "T2"]));
    assert_eq!(
        strs(&ents, "email"),
        some(&["t1@example.com", ", comma@example.com"])
    );
    assert_eq!(strs(&ents, "name"), vec![Some("Ada Lovelace".into()), None]);
    assert_eq!(out.summary.files[0].format, "tsv");
    let _ = DataType::String;
}

/// An input of several normalisation blocks (2,048 rows each) whose values repeat across rows,
/// as real data's do, so the per-thread memo answers most of them: every attribute is exactly
/// what `normalize_record` (uncached) gives for its row, in input order, for any chunk size.
#[test]
fn many_repeated_rows_match_uncached_normalisation() {
    use graph_core::{Field, NormalizeOptions, RawRecord, normalize_record};

    let firsts = ["Ann", "Émile", "  bob ", "ZOË", "Jean-Luc"];
    let lasts = ["O'Brien", "Smith", "van der Berg", "Nguyễn", "", "Ng"];
    let dobs = [
        "1990-02-01",
        "01/02/1985",
        "19700101",
        "not a date",
        "2999-01-01",
    ];
    let emails = [
        "John.Doe+x@GoogleMail.com",
        "a@b.co",
        "bad@",
        "Ann@Example.ORG",
    ];
    let phones = [
        "(415) 555-2671",
        "+44 20 7946 0958",
        "020 7946 0958",
        "12",
        "+49 30 901820",
    ];
    let streets = ["12 High Street", "1 Main St. Apt 4", "PO Box 7", "#"];
    let cities = ["London", "San Francisco", "Berlin"];
    let countries = ["US", "gb", "Germany", "", "XX"];
    let ips = ["10.0.0.1", "::ffff:10.0.0.1", "300.1.1.1", "2001:DB8::1"];
    let field_values: [(Field, &[&str]); 10] = [
        (Field::NameFirst, &firsts),
        (Field::NameLast, &lasts),
        (Field::Birthdate, &dobs),
        (Field::Email, &emails),
        (Field::Phone, &phones),
        (Field::AddressStreet, &streets),
        (Field::AddressCity, &cities),
        (Field::AddressCountry, &countries),
        (Field::GovIdCountry, &countries),
        (Field::IpAddress, &ips),
    ];
    let rows = 5_000;
    let mut text = String::from("account_id");
    for (f, _) in &field_values {
        text.push(',');
        text.push_str(f.name());
    }
    text.push('\n');
    let mut want = Vec::new();
    // Raw PII values as entities.parquet keeps them: trimmed, blank as null.
    let mut want_raw: Vec<(Field, Option<String>)> = Vec::new();
    for i in 0..rows {
        let id = format!("a{i}");
        text.push_str(&id);
        let mut raw = RawRecord::new(EntityType::Account).with(Field::AccountId, &id);
        // Different strides, so combinations vary while each value repeats often.
        for (j, (f, values)) in field_values.iter().enumerate() {
            let v = values[(i * (j + 1) + i / 7) % values.len()];
            text.push(',');
            text.push_str(&csv_field(v));
            if !v.is_empty() {
                raw = raw.with(*f, v);
            }
            if matches!(f, Field::NameFirst | Field::NameLast) {
                let v = v.trim();
                want_raw.push((*f, (!v.is_empty()).then(|| v.to_owned())));
            }
        }
        text.push('\n');
        let n = normalize_record(&raw, &NormalizeOptions::default()).unwrap();
        for a in n.attributes {
            want.push((i as u32, a.kind.into_owned(), a.value));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.csv");
    std::fs::write(&path, text).unwrap();
    for chunk_rows in [ingest::DEFAULT_CHUNK_ROWS, 3_000, 7] {
        let out = run_with(vec![account(&path)], None, chunk_rows);
        assert_eq!(out.summary.totals.accounts_written, rows as u64);
        let df = out.attributes();
        let got: Vec<(u32, String, String)> = u32s(&df, "entity_idx")
            .into_iter()
            .zip(strs(&df, "kind"))
            .zip(strs(&df, "value"))
            .map(|((i, k), v)| (i, k.unwrap(), v.unwrap()))
            .collect();
        assert_eq!(got.len(), want.len(), "chunk_rows {chunk_rows}");
        assert!(got == want, "chunk_rows {chunk_rows}");
        // The raw values too, built chunk by chunk.
        let ents = out.entities();
        for f in [Field::NameFirst, Field::NameLast] {
            let want: Vec<Option<String>> = want_raw
                .iter()
                .filter(|(g, _)| *g == f)
                .map(|(_, v)| v.clone())
                .collect();
            assert!(
                strs(&ents, f.name()) == want,
                "{f:?}, chunk_rows {chunk_rows}"
            );
        }
    }
}

#[test]
fn with_a_keyer_each_attribute_row_carries_the_key_and_filler_flag_the_link_would_compute() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("accounts.csv");
    std::fs::write(
        &csv,
        "account_id,name_first,name_last,email,phone,gov_id_number,gov_id_country,device_id\n\
         A1,Zoë,Ångström,zoe@example.com,+1 415 555 0100,000-00-0000,US,dev-1\n\
         A2,名前,例え,名前@例え.jp,+1 111 111 1111,123-45-6789,US,🦀\n\
         A3,Bob,Jones,bob@example.com,(415) 555-0101,,,\n",
    )
    .unwrap();
    let keyer = graph_core::Keyer::new(b"ingest test secret");
    // In one chunk, and a row a chunk: the later chunks are keyed in blocks kept from the
    // earlier ones.
    let mut path = std::path::PathBuf::new();
    for chunk_rows in [ingest::DEFAULT_CHUNK_ROWS, 1] {
        let out = tmp.path().join(format!("out-{chunk_rows}"));
        let mut opts = options(vec![account(&csv)], None, &out);
        opts.keyer = Some(keyer.clone());
        opts.chunk_rows = chunk_rows;
        ingest::run(&opts, &mut |_| {}).unwrap();

        path = out.join(ingest::ATTRIBUTES_FILE);
        let attrs = read_parquet(&path);
        assert_eq!(attrs.schema().as_ref(), &ingest::attributes_schema(true));
        let (kinds, values) = (strs(&attrs, "kind"), strs(&attrs, "value"));
        let keys = u64s(&attrs, graph_core::ATTRIBUTE_KEY_COLUMN);
        let fillers: Vec<bool> = attrs
            .column(graph_core::ATTRIBUTE_FILLER_COLUMN)
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .map(Option::unwrap)
            .collect();
        for i in 0..attrs.height() {
            let (kind, value) = (kinds[i].as_deref().unwrap(), values[i].as_deref().unwrap());
            assert_eq!(
                (keys[i], fillers[i]),
                graph_core::attribute_key(&keyer, &mut Vec::new(), kind, value),
                "{kind} {value}, chunk_rows {chunk_rows}"
            );
        }
        let flagged: Vec<&str> = (0..attrs.height())
            .filter(|&i| fillers[i])
            .map(|i| values[i].as_deref().unwrap())
            .collect();
        assert_eq!(
            flagged,
            ["US:000000000", "US:123456789"],
            "the typed fillers only, chunk_rows {chunk_rows}"
        );
    }

    // The keyer's check is in the file's metadata; the keys are neither dictionary-encoded
    // nor compressed (hashes do not shrink), nor are the values (every link reads them back).
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
    let meta = reader.metadata();
    let kv = meta.file_metadata().key_value_metadata().unwrap();
    let check = kv
        .iter()
        .find(|e| e.key == graph_core::KEY_CHECK_METADATA)
        .and_then(|e| e.value.clone());
    assert_eq!(check, Some(keyer.check()));
    let group = meta.row_group(0);
    for name in [graph_core::ATTRIBUTE_KEY_COLUMN, "value"] {
        let column = (0..group.num_columns())
            .map(|c| group.column(c))
            .find(|c| c.column_path().string() == name)
            .unwrap();
        assert_eq!(
            column.compression(),
            parquet::basic::Compression::UNCOMPRESSED,
            "{name}"
        );
        assert!(
            !column
                .encodings()
                .any(|e| e == parquet::basic::Encoding::RLE_DICTIONARY),
            "{name}: {:?}",
            column.encodings().collect::<Vec<_>>()
        );
    }
}
