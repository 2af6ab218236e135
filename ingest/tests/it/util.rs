//! Shared helpers: run an ingest into a temp folder, read the outputs back with polars.

use std::fs::File;
use std::path::{Path, PathBuf};

use graph_core::EntityType;
use ingest::{IngestOptions, Mapping, Progress, Source, Summary};
use polars::prelude::*;

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn account(path: impl Into<PathBuf>) -> Source {
    Source::new(path, EntityType::Account)
}

pub fn inquiry(path: impl Into<PathBuf>) -> Source {
    Source::new(path, EntityType::Inquiry)
}

/// The outputs of one run.
pub struct Out {
    pub dir: tempfile::TempDir,
    pub summary: Summary,
    pub events: Vec<Progress>,
}

impl Out {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn entities(&self) -> DataFrame {
        read_parquet(&self.path(ingest::ENTITIES_FILE))
    }
    pub fn attributes(&self) -> DataFrame {
        read_parquet(&self.path(ingest::ATTRIBUTES_FILE))
    }
    pub fn rejects(&self) -> DataFrame {
        read_parquet(&self.path(ingest::REJECTS_FILE))
    }
}

pub fn options(sources: Vec<Source>, mapping: Option<Mapping>, dir: &Path) -> IngestOptions {
    let mut opts = IngestOptions::new(sources, dir);
    opts.mapping = mapping;
    opts
}

pub fn try_run(
    sources: Vec<Source>,
    mapping: Option<Mapping>,
    chunk_rows: usize,
) -> (tempfile::TempDir, ingest::Result<Summary>) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(sources, mapping, &dir.path().join("out"));
    opts.chunk_rows = chunk_rows;
    let res = ingest::run(&opts, &mut |_| {});
    (dir, res)
}

pub fn run_with(sources: Vec<Source>, mapping: Option<Mapping>, chunk_rows: usize) -> Out {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(sources, mapping, dir.path());
    opts.chunk_rows = chunk_rows;
    let mut events = Vec::new();
    let summary = ingest::run(&opts, &mut |p| events.push(p)).unwrap();
    Out {
        dir,
        summary,
        events,
    }
}

pub fn run(sources: Vec<Source>, mapping: Option<Mapping>) -> Out {
    run_with(sources, mapping, ingest::DEFAULT_CHUNK_ROWS)
}

pub fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(File::open(path).unwrap())
        .finish()
        .unwrap()
}

pub fn strs(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

pub fn u32s(df: &DataFrame, name: &str) -> Vec<u32> {
    df.column(name)
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

pub fn u64s(df: &DataFrame, name: &str) -> Vec<u64> {
    df.column(name)
        .unwrap()
        .u64()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

pub fn i64s(df: &DataFrame, name: &str) -> Vec<Option<i64>> {
    df.column(name).unwrap().i64().unwrap().iter().collect()
}

pub fn some(v: &[&str]) -> Vec<Option<String>> {
    v.iter().map(|s| Some((*s).to_owned())).collect()
}

/// `(kind, value)` attributes of one entity.
pub fn attrs_of(out: &Out, idx: u32) -> Vec<(String, String)> {
    let df = out.attributes();
    let idxs = u32s(&df, "entity_idx");
    let kinds = strs(&df, "kind");
    let values = strs(&df, "value");
    idxs.iter()
        .zip(kinds.into_iter().zip(values))
        .filter(|(i, _)| **i == idx)
        .map(|(_, (k, v))| (k.unwrap(), v.unwrap()))
        .collect()
}

/// Index of an entity by id.
pub fn idx_of(ents: &DataFrame, id: &str) -> u32 {
    let ids = strs(ents, "entity_id");
    let pos = ids.iter().position(|i| i.as_deref() == Some(id)).unwrap();
    u32s(ents, "entity_idx")[pos]
}

/// One column's value for the entity with `id`.
pub fn ent_value(ents: &DataFrame, id: &str, column: &str) -> Option<String> {
    let ids = strs(ents, "entity_id");
    let pos = ids.iter().position(|i| i.as_deref() == Some(id)).unwrap();
    strs(ents, column)[pos].clone()
}

/// Reject rows as `(row_number, code, action)`.
pub fn reject_codes(out: &Out) -> Vec<(u64, String, String)> {
    let df = out.rejects();
    let rows = u64s(&df, "row_number");
    let codes = strs(&df, "code");
    let actions = strs(&df, "action");
    rows.into_iter()
        .zip(codes.into_iter().zip(actions))
        .map(|(r, (c, a))| (r, c.unwrap(), a.unwrap()))
        .collect()
}

/// Quotes one CSV field (always), doubling inner quotes.
pub fn csv_field(v: &str) -> String {
    format!("\"{}\"", v.replace('"', "\"\""))
}

/// Output folder holds exactly the final files (no temporaries).
pub fn assert_clean_outputs(dir: &Path) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ingest::ATTRIBUTES_FILE,
            ingest::ENTITIES_FILE,
            ingest::SUMMARY_FILE,
            ingest::REJECTS_FILE
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
}
