//! The outputs read back with arrow-rs, as the linker reads them: the schema is the contract.

use std::fs::File;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, UInt32Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::util::*;

fn arrow_schema(path: &std::path::Path) -> Vec<(String, DataType, bool)> {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    b.schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
        .collect()
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

#[test]
fn arrow_rs_reads_the_outputs() {
    let out = run(
        vec![
            account(data("accounts.csv")),
            inquiry(data("inquiries.csv")),
        ],
        None,
    );
    let ents = arrow_schema(&out.path(ingest::ENTITIES_FILE));
    let expected: Vec<String> = ingest::entities_schema()
        .iter_names()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        ents.iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
        expected
    );
    for (name, t, _) in &ents {
        match name.as_str() {
            "entity_idx" | "anchor_idx" => assert_eq!(t, &DataType::UInt32, "{name}"),
            "created_at_ms" => assert_eq!(t, &DataType::Int64, "{name}"),
            "source_row" => assert_eq!(t, &DataType::UInt64, "{name}"),
            _ => assert!(is_string(t), "{name}: {t:?}"),
        }
    }
    // Strings arrive as Utf8View (DESIGN.md): polars writes the Arrow schema it used.
    assert_eq!(ents[1].1, DataType::Utf8View);

    let attrs = arrow_schema(&out.path(ingest::ATTRIBUTES_FILE));
    assert_eq!(attrs[0], ("entity_idx".into(), DataType::UInt32, true));
    assert!(attrs[1..].iter().all(|c| is_string(&c.1)));
    let rejects = arrow_schema(&out.path(ingest::REJECTS_FILE));
    let names: Vec<&str> = rejects.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "source_file",
            "row_number",
            "entity_id",
            "field",
            "code",
            "reason",
            "raw",
            "action"
        ]
    );
    assert_eq!(rejects[1].1, DataType::UInt64);

    // Values read back too.
    let reader = ParquetRecordBatchReaderBuilder::try_new(
        File::open(out.path(ingest::ENTITIES_FILE)).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut idx = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col = batch.column(0).as_primitive::<UInt32Type>();
        assert_eq!(col.null_count(), 0);
        idx.extend(col.values().iter().copied());
    }
    assert_eq!(idx, (0..7).collect::<Vec<u32>>());
}

#[test]
fn empty_rejects_file_keeps_its_schema() {
    let out = run(vec![account(data("accounts.csv"))], None);
    let rejects = out.rejects();
    assert_eq!(rejects.height(), 0);
    assert_eq!(rejects.schema().as_ref(), &ingest::rejects_schema());
    assert_eq!(arrow_schema(&out.path(ingest::REJECTS_FILE)).len(), 8);
}
