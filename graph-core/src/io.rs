//! Parquet in and out (arrow-rs): reading the canonical ingest output, writing link results.
//!
//! Schemas are a versioned contract documented in `docs/data-contract.md`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Float64Builder, Int64Array, ListBuilder,
    RecordBatch, StringArray, StringBuilder, StringViewArray, TimestampMillisecondArray,
    UInt32Array, UInt64Array,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field as ArrowField, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::arrow_writer::compute_leaves;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use crate::config::LinkConfig;
use crate::dedupe::ComparedRows;
use crate::durable::{WRITE_BACK_BYTES, WriteBack};
use crate::error::{Error, Result};
use crate::keys::{Keyer, KindKeyer};
use crate::record::{EntityType, Label};
use crate::table::{
    Attributes, Entities, EntityIds, LinkInput, RowValues, can_be_typed_filler, is_typed_filler,
};

/// Version of the output schemas, written into `summary.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// The column of `attributes.parquet` holding each row's property key, written by ingest
/// when it is given the deployment's keyer, with [`ATTRIBUTE_FILLER_COLUMN`] and the keyer's
/// [`Keyer::check`] under [`KEY_CHECK_METADATA`]. A link whose keyer gives the same check
/// reads these columns instead of decoding and hashing every value.
pub const ATTRIBUTE_KEY_COLUMN: &str = "key";
/// The column of `attributes.parquet` telling whether a row's value is a typed filler (see
/// [`ATTRIBUTE_KEY_COLUMN`] and [`attribute_key`]).
pub const ATTRIBUTE_FILLER_COLUMN: &str = "typed_filler";
/// The file metadata entry of `attributes.parquet` holding the [`Keyer::check`] of the
/// keyer that computed its [`ATTRIBUTE_KEY_COLUMN`].
pub const KEY_CHECK_METADATA: &str = "ringfence.key_check";

/// What ingest stores of an attribute row for the link: its property key and whether its
/// value is a typed filler (an ID or phone number such as `000000000`), exactly as the
/// link computes them when it reads the values instead. `scratch` is any buffer, reused
/// from call to call ([`Keyer::key_in`]).
pub fn attribute_key(keyer: &Keyer, scratch: &mut Vec<u8>, kind: &str, value: &str) -> (u64, bool) {
    let filler = can_be_typed_filler(kind) && is_typed_filler(kind, value);
    (keyer.key_in(scratch, kind, value), filler)
}

fn pq_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Rows decoded per record batch. Small enough that a batch's buffers (16-byte string views,
/// the strings) are small allocations the allocator reuses from batch to batch: buffers of
/// a megabyte or more were handed back to the system when freed and faulted in afresh (and
/// zeroed by the kernel) for every batch.
const BATCH_SIZE: usize = 8_192;

/// One Parquet file opened for reading some of its columns by row group: the footer is
/// parsed once here and shared by every row group's reader (parsing it per group made
/// opening a file of `g` groups cost `O(g²)`).
#[derive(Clone)]
struct RowGroups<'a> {
    path: &'a Path,
    metadata: ArrowReaderMetadata,
    /// The leaf columns read.
    leaves: Vec<usize>,
    /// The file's index of each group's first row, and the file's row count at the end.
    first_rows: Vec<u64>,
    rows: u64,
}

impl<'a> RowGroups<'a> {
    /// Opens `path` for reading `columns`, which must all be in it.
    fn open(path: &'a Path, columns: &[&str]) -> Result<Self> {
        Self::load(path)?.select(columns)
    }

    /// Opens `path`, reading no columns until [`RowGroups::select`] names them.
    fn load(path: &'a Path) -> Result<Self> {
        let metadata = ArrowReaderMetadata::load(&open(path)?, ArrowReaderOptions::default())
            .map_err(|e| pq_err(path, e))?;
        let mut first_rows = Vec::new();
        let mut rows = 0u64;
        for g in metadata.metadata().row_groups() {
            first_rows.push(rows);
            rows += g.num_rows() as u64;
        }
        Ok(RowGroups {
            path,
            metadata,
            leaves: Vec::new(),
            first_rows,
            rows,
        })
    }

    /// Reads `columns` (instead of those named before), which must all be in the file.
    fn select(mut self, columns: &[&str]) -> Result<Self> {
        if let Some(c) = columns.iter().find(|c| !self.has_column(c)) {
            return Err(Error::Schema {
                path: self.path.to_path_buf(),
                message: format!("missing column `{c}` (is this an ingest output folder?)"),
            });
        }
        let schema = self.metadata.parquet_schema();
        self.leaves = (0..schema.num_columns())
            .filter(|&i| columns.contains(&schema.get_column_root(i).name()))
            .collect();
        Ok(self)
    }

    fn has_column(&self, name: &str) -> bool {
        self.metadata.schema().field_with_name(name).is_ok()
    }

    /// The value of the file's metadata entry `key`, if it has one.
    fn key_value(&self, key: &str) -> Option<&str> {
        let kv = self
            .metadata
            .metadata()
            .file_metadata()
            .key_value_metadata()?;
        kv.iter().find(|e| e.key == key)?.value.as_deref()
    }

    /// Number of row groups.
    fn len(&self) -> usize {
        self.first_rows.len()
    }

    /// The file rows of group `g`: `first..end`.
    fn bounds(&self, g: usize) -> (u64, u64) {
        let end = self.first_rows.get(g + 1).copied().unwrap_or(self.rows);
        (self.first_rows[g], end)
    }

    /// Decodes the columns of group `g` (only the rows of `selection`, when given).
    fn read(&self, g: usize, selection: Option<RowSelection>) -> Result<Vec<RecordBatch>> {
        self.batches(g, selection)?.collect()
    }

    /// [`RowGroups::read`], one record batch at a time: a batch's buffers are freed before
    /// the next is decoded, so the allocator hands the same memory out again.
    fn batches(
        &self,
        g: usize,
        selection: Option<RowSelection>,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + use<'a>> {
        let path = self.path;
        let b =
            ParquetRecordBatchReaderBuilder::new_with_metadata(open(path)?, self.metadata.clone());
        let mask = ProjectionMask::leaves(b.parquet_schema(), self.leaves.iter().copied());
        let mut b = b
            .with_projection(mask)
            .with_row_groups(vec![g])
            .with_batch_size(BATCH_SIZE);
        if let Some(sel) = selection {
            b = b.with_row_selection(sel);
        }
        let reader = b.build().map_err(|e| pq_err(path, e))?;
        Ok(reader.map(move |b| b.map_err(|e| pq_err(path, e))))
    }
}

/// Reads the named columns of every row group of a Parquet file, in parallel, calling
/// `each(first_row, batches)` with the file's index of the group's first row; results come
/// back in row-group order. With `only` (file rows, ascending), just those rows are decoded
/// and handed over, and groups holding none of them are skipped.
fn read_row_groups<T: Send>(
    path: &Path,
    columns: &[&str],
    only: Option<&[u32]>,
    each: impl Fn(u64, Vec<RecordBatch>) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let file = RowGroups::open(path, columns)?;
    let selection = |g: usize| -> Option<RowSelection> {
        let rows = only?;
        let (first, end) = file.bounds(g);
        let lo = rows.partition_point(|&r| u64::from(r) < first);
        let hi = rows.partition_point(|&r| u64::from(r) < end);
        let mut selectors = Vec::new();
        let mut at = first;
        for &r in &rows[lo..hi] {
            let r = u64::from(r);
            if r > at {
                selectors.push(RowSelector::skip((r - at) as usize));
            }
            selectors.push(RowSelector::select(1));
            at = r + 1;
        }
        if end > at {
            selectors.push(RowSelector::skip((end - at) as usize));
        }
        Some(RowSelection::from(selectors))
    };
    let groups: Vec<usize> = (0..file.len())
        .filter(|&g| {
            only.is_none_or(|rows| {
                let (first, end) = file.bounds(g);
                let i = rows.partition_point(|&r| u64::from(r) < first);
                rows.get(i).is_some_and(|&r| u64::from(r) < end)
            })
        })
        .collect();
    groups
        .into_par_iter()
        .map(|g| each(file.bounds(g).0, file.read(g, selection(g))?))
        .collect()
}

fn column(path: &Path, batch: &RecordBatch, name: &str, ty: &DataType) -> Result<ArrayRef> {
    let col = batch.column_by_name(name).ok_or_else(|| Error::Schema {
        path: path.to_path_buf(),
        message: format!("missing column `{name}`"),
    })?;
    if col.data_type() == ty {
        return Ok(col.clone());
    }
    cast(col, ty).map_err(|e| Error::Schema {
        path: path.to_path_buf(),
        message: format!(
            "column `{name}` has type {} (expected {ty}): {e}",
            col.data_type()
        ),
    })
}

fn strings(path: &Path, batch: &RecordBatch, name: &str) -> Result<StringViewArray> {
    let a = column(path, batch, name, &DataType::Utf8View)?;
    a.as_any()
        .downcast_ref::<StringViewArray>()
        .cloned()
        .ok_or_else(|| pq_err(path, "string cast"))
}

fn prim<A: Array + Clone + 'static>(
    path: &Path,
    batch: &RecordBatch,
    name: &str,
    ty: DataType,
) -> Result<A> {
    let a = column(path, batch, name, &ty)?;
    a.as_any()
        .downcast_ref::<A>()
        .cloned()
        .ok_or_else(|| pq_err(path, format!("cast of `{name}`")))
}

/// Reads `entities.parquet` and `attributes.parquet` of an ingest output folder, computing
/// property keys with `keyer`.
///
/// # Errors
/// Missing files or columns, unreadable Parquet.
pub fn read_ingest_dir(dir: &Path, keyer: Keyer) -> Result<LinkInput> {
    read_ingest(dir, keyer, AttrRead::All)
}

/// Like [`read_ingest_dir`], but keeps only the attributes of `kinds` and computes no
/// property keys (every key is 0): for work that compares values instead of linking on
/// keys, such as duplicate detection, which then reads a fraction of the data.
///
/// # Errors
/// As [`read_ingest_dir`].
pub fn read_ingest_dir_kinds(dir: &Path, keyer: Keyer, kinds: &[&str]) -> Result<LinkInput> {
    read_ingest(dir, keyer, AttrRead::Kinds(kinds))
}

/// The entities of an ingest output folder (`entities.parquet`), checked: fewer than
/// `u32::MAX`, every anchor one of them.
///
/// # Errors
/// Missing file or column, unreadable Parquet, an anchor out of range, too many entities.
pub(crate) fn read_ingest_entities(dir: &Path) -> Result<Entities> {
    let epath = dir.join("entities.parquet");
    let cols = [
        "entity_id",
        "entity_type",
        "anchor_idx",
        "created_at_ms",
        "label",
    ];
    let entities = read_entities(&epath, &cols)?;
    check_anchors(epath, &entities.anchor)?;
    Ok(entities)
}

/// Checks the anchors read from `epath`: fewer than `u32::MAX` entities, each anchor one of
/// them.
fn check_anchors(epath: PathBuf, anchor: &[u32]) -> Result<()> {
    let n = anchor.len();
    if n >= u32::MAX as usize {
        return Err(Error::TooLarge(n));
    }
    if let Some(bad) = anchor.iter().find(|&&a| a as usize >= n) {
        return Err(Error::Schema {
            path: epath,
            message: format!("anchor_idx {bad} out of range"),
        });
    }
    Ok(())
}

/// The attribute table of a batch link for the entities `ents` of the same folder: every
/// attribute row with its key but without its value ([`Attributes::has_values`] is false;
/// typed fillers are noted as the rows are read). The values the outputs show are fetched
/// later with [`read_values`].
///
/// # Errors
/// As [`read_ingest_dir`].
pub(crate) fn read_link_attributes(
    dir: &Path,
    ents: &Entities,
    keyer: &Keyer,
) -> Result<Attributes> {
    read_attribute_keys(&dir.join("attributes.parquet"), ents.anchor.len(), keyer)
}

/// The anchor of each entity of an ingest output folder (`anchor_idx` of `entities.parquet`,
/// checked like [`read_ingest_entities`]): all duplicate detection needs of the entities.
///
/// # Errors
/// Missing file or column, unreadable Parquet, an anchor out of range, too many entities.
pub(crate) fn read_anchors(dir: &Path) -> Result<Vec<u32>> {
    let epath = dir.join("entities.parquet");
    let parts = read_row_groups(&epath, &["anchor_idx"], None, |_, batches| {
        let mut part = Vec::new();
        for b in batches {
            let a: UInt32Array = prim(&epath, &b, "anchor_idx", DataType::UInt32)?;
            part.extend(a.values().iter().copied());
        }
        Ok(part)
    })?;
    let anchor = parts.concat();
    check_anchors(epath, &anchor)?;
    Ok(anchor)
}

/// The rows of `kinds` of `attributes.parquet` as duplicate detection reads them without the
/// attribute table ([`ComparedRows`]): the values of the rows of entities that are their own
/// anchor (`anchor[e] == e`) but placeholders, and the row, entity and kind of the others. Row
/// groups are read in parallel: first `entity_idx` and `kind`, then `value` where the group
/// has rows of anchors. Placeholders are those of `rules`.
///
/// # Errors
/// As [`read_ingest_dir`]; an `entity_idx` out of range.
pub(crate) fn read_compared(
    dir: &Path,
    anchor: &[u32],
    kinds: &[&str],
    rules: &LinkConfig,
) -> Result<ComparedRows> {
    let apath = dir.join("attributes.parquet");
    let n = anchor.len();
    let names: Vec<String> = kinds.iter().map(|&k| k.to_owned()).collect();
    let mut all = ComparedRows::new(names, rules);
    let file = RowGroups::load(&apath)?;
    let values = file.clone().select(&["value"])?;
    let places = file.select(&["entity_idx", "kind"])?;
    let mut parts = (0..places.len())
        .into_par_iter()
        .map(|g| {
            let (first, end) = places.bounds(g);
            let group_rows = (end - first) as usize;
            // The group's rows of the compared kinds, the anchors' own (file row, entity,
            // kind) apart from the others (file row, entity, anchor, kind), in lists sized
            // for the whole group and dropped with it: the part's lists, kept to the end of
            // duplicate detection, are then allocated once at their final sizes. Grown by
            // doubling, they were copied into fresh pages the kernel zeroes, a quarter of
            // this step's samples at 10M accounts.
            let mut own: Vec<(u32, u32, u16)> = Vec::with_capacity(group_rows);
            let mut others: Vec<(u32, u32, u32, u16)> = Vec::with_capacity(group_rows);
            let mut at = first;
            for b in places.batches(g, None)? {
                let b = b?;
                let ent: UInt32Array = prim(&apath, &b, "entity_idx", DataType::UInt32)?;
                let kind_col = strings(&apath, &b, "kind")?;
                let mut seen = KindViews::default();
                for (i, &view) in kind_col.views().iter().enumerate() {
                    let row = at as u32;
                    at += 1;
                    let e = ent.value(i);
                    entity_in_range(&apath, e, n)?;
                    let found = || Ok(kinds.iter().position(|k| *k == kind_col.value(i)));
                    let Some(k) = seen.get(view, found)? else {
                        continue;
                    };
                    match anchor[e as usize] {
                        a if a == e => own.push((row, e, k as u16)),
                        a => others.push((row, e, a, k as u16)),
                    }
                }
            }
            let mut part = all.empty_like();
            part.reserve(0, 0, others.len());
            for (row, e, a, k) in others {
                part.push(row, e, a, k, "");
            }
            let (Some(&(lo, ..)), Some(&(hi, ..))) = (own.first(), own.last()) else {
                return Ok(part);
            };
            // Values are decoded from the group's first own row to its last only: a group of
            // inquiries' rows alone (ingest writes an inquiries file's rows together, after
            // the accounts') decodes none, where their values used to be decompressed and
            // decoded only to be dropped. The group's batches are decoded first, so that the
            // bytes of the values kept are known before they are copied.
            let (lo, hi) = (u64::from(lo), u64::from(hi));
            let span = [
                RowSelector::skip((lo - first) as usize),
                RowSelector::select((hi + 1 - lo) as usize),
                RowSelector::skip((end - hi - 1) as usize),
            ];
            let selection = RowSelection::from_iter(span.into_iter().filter(|s| s.row_count > 0));
            let decoded = values
                .batches(g, Some(selection))?
                .map(|b| strings(&apath, &b?, "value"))
                .collect::<Result<Vec<StringViewArray>>>()?;
            // Calls `f` with each own row and its value, in file-row order.
            let each_own = |f: &mut dyn FnMut(u32, u32, u16, &str)| -> Result<()> {
                let mut wanted = own.iter().peekable();
                let mut row = lo;
                for value in &decoded {
                    for i in 0..value.len() {
                        if let Some(&&(r, e, k)) = wanted.peek()
                            && u64::from(r) == row
                        {
                            f(r, e, k, value.value(i));
                            wanted.next();
                        }
                        row += 1;
                    }
                }
                match wanted.next() {
                    Some(_) => Err(pq_err(&apath, "fewer rows decoded than selected")),
                    None => Ok(()),
                }
            };
            let mut bytes = 0;
            each_own(&mut |_, _, _, v| bytes += v.len())?;
            part.reserve(own.len(), bytes, 0);
            each_own(&mut |r, e, k, v| part.push(r, e, e, k, v))?;
            Ok(part)
        })
        .collect::<Result<Vec<ComparedRows>>>()?;
    // The parts' values and places are moved, not copied.
    all.own = RowValues::concat(
        parts
            .iter_mut()
            .map(|p| std::mem::take(&mut p.own))
            .collect(),
    );
    all.parts = parts.into_iter().flat_map(|p| p.parts).collect();
    Ok(all)
}

/// Checks that entity index `e`, read from `path`, is below the entity count `n`.
fn entity_in_range(path: &Path, e: u32, n: usize) -> Result<()> {
    if e as usize >= n {
        return Err(Error::Schema {
            path: path.to_path_buf(),
            message: format!("entity_idx {e} out of range (entities: {n})"),
        });
    }
    Ok(())
}

/// Slots of a [`KindViews`] table: a power of two, as its hash takes the top bits.
const KIND_VIEW_SLOTS: usize = 256;
const _: () = assert!(KIND_VIEW_SLOTS.is_power_of_two());

/// What each kind's string view in one record batch stands for: equal views are equal
/// strings within one array, and a dictionary-encoded column repeats a handful of views, so
/// most rows are settled without reading their kind's bytes. The views seen are kept in a
/// small open-addressing table: a row costs one hash and usually one comparison, where a
/// list searched from the start cost a comparison per kind seen before (at 10M accounts,
/// about 200M rows read twice).
struct KindViews<T> {
    slots: Vec<Option<(u128, T)>>,
    held: usize,
}

impl<T: Copy> Default for KindViews<T> {
    fn default() -> Self {
        KindViews {
            slots: vec![None; KIND_VIEW_SLOTS],
            held: 0,
        }
    }
}

impl<T: Copy> KindViews<T> {
    /// What `view` stands for, found by `find` (from its string) the first time.
    fn get(&mut self, view: u128, find: impl FnOnce() -> Result<T>) -> Result<T> {
        let folded = (view as u64) ^ ((view >> 64) as u64);
        let bits = KIND_VIEW_SLOTS.trailing_zeros();
        let mut at = (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize;
        loop {
            match self.slots[at] {
                Some((v, t)) if v == view => return Ok(t),
                Some(_) => at = (at + 1) % KIND_VIEW_SLOTS,
                None => break,
            }
        }
        let t = find()?;
        // Bounded at half the slots, so a search always ends at an empty one: a plainly
        // encoded column gives every long name a view of its own.
        if self.held < KIND_VIEW_SLOTS / 2 {
            self.slots[at] = Some((view, t));
            self.held += 1;
        }
        Ok(t)
    }
}

/// The values of attribute rows `rows` (ascending, without repeats) of an ingest output
/// folder: only the `value` column of `attributes.parquet` is read, and only those rows of it
/// are decoded. Row `i` is the `i`-th row of the file, as in a link's [`Attributes`].
///
/// # Errors
/// Missing file or column, unreadable Parquet, a row beyond the end of the file.
pub(crate) fn read_values(dir: &Path, rows: &[u32]) -> Result<RowValues> {
    let apath = dir.join("attributes.parquet");
    let parts = read_row_groups(&apath, &["value"], Some(rows), |first, batches| {
        let lo = rows.partition_point(|&r| u64::from(r) < first);
        let mut wanted = rows[lo..].iter();
        let mut out = RowValues::default();
        for b in batches {
            let value = strings(&apath, &b, "value")?;
            for i in 0..b.num_rows() {
                let row = wanted
                    .next()
                    .ok_or_else(|| pq_err(&apath, "more rows decoded than selected"))?;
                out.push(*row, value.value(i));
            }
        }
        Ok(out)
    })?;
    let values = RowValues::concat(parts);
    if values.len() != rows.len() {
        return Err(Error::Schema {
            path: apath,
            message: format!(
                "{} attribute rows asked for, {} found (was the folder rewritten during the run?)",
                rows.len(),
                values.len()
            ),
        });
    }
    Ok(values)
}

/// Reads `columns` of `entities.parquet`: every row group decodes its rows in parallel into
/// its slice of columns sized once from the file's metadata; only the ids, whose length is
/// not known before they are decoded, are copied together afterwards (one buffer per group).
fn read_entities(epath: &Path, columns: &[&str]) -> Result<Entities> {
    let file = RowGroups::open(epath, columns)?;
    let n = file.rows as usize;
    let mut types = vec![EntityType::Account; n];
    let mut anchors = vec![0u32; n];
    let mut created_at = vec![None; n];
    let mut labels = vec![None; n];
    let slots: Vec<_> = by_group(&file, &mut types)
        .into_iter()
        .zip(by_group(&file, &mut anchors))
        .zip(by_group(&file, &mut created_at))
        .zip(by_group(&file, &mut labels))
        .collect();
    let ids = slots
        .into_par_iter()
        .enumerate()
        .map(|(g, (((types, anchors), created_at), labels))| {
            let batches = file.read(g, None)?;
            let mut ids = EntityIds::default();
            let mut at = 0usize;
            for b in batches {
                let id = strings(epath, &b, "entity_id")?;
                let ty = strings(epath, &b, "entity_type")?;
                let anchor: UInt32Array = prim(epath, &b, "anchor_idx", DataType::UInt32)?;
                let created: Int64Array = prim(epath, &b, "created_at_ms", DataType::Int64)?;
                let label = strings(epath, &b, "label")?;
                if at + b.num_rows() > types.len() {
                    return Err(pq_err(epath, "a row group holds more rows than it says"));
                }
                ids.reserve(b.num_rows(), id.lengths().map(|l| l as usize).sum());
                for i in 0..b.num_rows() {
                    types[at] = EntityType::parse(ty.value(i)).ok_or_else(|| Error::Schema {
                        path: epath.to_path_buf(),
                        message: format!("unknown entity_type `{}`", ty.value(i)),
                    })?;
                    labels[at] = if label.is_null(i) {
                        None
                    } else {
                        match label.value(i) {
                            "fraud" => Some(Label::Fraud),
                            "legit" => Some(Label::Legit),
                            _ => None,
                        }
                    };
                    ids.push(id.value(i));
                    anchors[at] = anchor.value(i);
                    created_at[at] = (!created.is_null(i)).then(|| created.value(i));
                    at += 1;
                }
            }
            if at != types.len() {
                return Err(pq_err(epath, "a row group holds fewer rows than it says"));
            }
            Ok(ids)
        })
        .collect::<Result<Vec<EntityIds>>>()?;
    let mut all = EntityIds::default();
    all.reserve(n, ids.iter().map(EntityIds::byte_len).sum());
    for part in &ids {
        all.extend_from(part);
    }
    Ok(Entities {
        ids: all,
        types,
        anchor: anchors,
        created_at,
        label: labels,
    })
}

/// What [`read_ingest`] keeps of `attributes.parquet`.
#[derive(Clone, Copy)]
enum AttrRead<'a> {
    /// Every row, with its key and its value.
    All,
    /// The rows of these kinds, with their values; no keys (every key is 0).
    Kinds(&'a [&'a str]),
}

fn read_ingest(dir: &Path, keyer: Keyer, read: AttrRead) -> Result<LinkInput> {
    let entities = read_ingest_entities(dir)?;
    let n = entities.len();
    let apath = dir.join("attributes.parquet");
    // Every row with its key and value, or the rows of some kinds with their values only.
    let only = match read {
        AttrRead::Kinds(kinds) => Some(kinds),
        AttrRead::All => None,
    };
    let parts = read_row_groups(
        &apath,
        &["entity_idx", "kind", "value"],
        None,
        |_, batches| {
            let mut a = Attributes::default();
            if only.is_none() {
                // Sized once, up front, when every row is kept: growing by doubling copied
                // each buffer several times over and faulted in fresh pages each time.
                let rows = batches.iter().map(RecordBatch::num_rows).sum();
                let mut bytes = 0;
                for b in &batches {
                    bytes += strings(&apath, b, "value")?
                        .lengths()
                        .map(|l| l as usize)
                        .sum::<usize>();
                }
                a.reserve(rows, bytes);
            }
            let mut last_kind: Option<(String, u16)> = None;
            for b in batches {
                let ent: UInt32Array = prim(&apath, &b, "entity_idx", DataType::UInt32)?;
                let kind = strings(&apath, &b, "kind")?;
                let value = strings(&apath, &b, "value")?;
                for i in 0..b.num_rows() {
                    let e = ent.value(i);
                    entity_in_range(&apath, e, n)?;
                    let k = kind.value(i);
                    let kid = match &last_kind {
                        Some((name, id)) if name == k => *id,
                        _ if only.is_some_and(|o| !o.contains(&k)) => continue,
                        _ => {
                            let id = a.kind_id(k);
                            last_kind = Some((k.to_owned(), id));
                            id
                        }
                    };
                    let v = value.value(i);
                    if only.is_none() {
                        a.push(&keyer, e, kid, v);
                    } else {
                        a.push_keyed(e, kid, 0, v);
                    }
                }
            }
            Ok(a)
        },
    )?;
    let attributes = Attributes::concat(parts);
    if attributes.len() >= u32::MAX as usize {
        return Err(Error::TooLarge(attributes.len()));
    }
    Ok(LinkInput {
        entities,
        attributes,
        keyer,
    })
}

/// The kinds one row group of `attributes.parquet` holds, in the order they first appear
/// in it, with what the keys-only read does with each.
struct GroupKinds<'k> {
    names: Vec<String>,
    keyers: Vec<KindKeyer<'k>>,
    /// Whether values of the kind can be typed fillers.
    filler: Vec<bool>,
}

impl<'k> GroupKinds<'k> {
    /// The group's index of kind `name`, adding it when new.
    fn id(&mut self, name: &str, keyer: &'k Keyer) -> Result<u16> {
        if let Some(i) = self.names.iter().position(|k| k == name) {
            return Ok(i as u16);
        }
        if self.names.len() >= usize::from(u16::MAX) {
            return Err(Error::TooLarge(self.names.len()));
        }
        self.names.push(name.to_owned());
        self.keyers.push(keyer.for_kind(name));
        self.filler.push(can_be_typed_filler(name));
        Ok((self.names.len() - 1) as u16)
    }
}

/// The keys-only read of `attributes.parquet` (see [`read_link_attributes`]) for a folder
/// of `n` entities. Every row group decodes, keys and checks its rows in parallel straight
/// into its slice of the table's columns, which are sized once from the file's metadata: no
/// per-group tables are built and then copied together. Kind indexes follow the order in
/// which kinds first appear in the file, as [`Attributes::kind_id`] numbers them row by row.
///
/// When ingest stored the keys with a keyer whose [`Keyer::check`] equals `keyer`'s, they
/// and the typed-filler flags are read as they are and the values are not decoded;
/// otherwise every value is decoded and keyed here.
fn read_attribute_keys(apath: &Path, n: usize, keyer: &Keyer) -> Result<Attributes> {
    let file = RowGroups::load(apath)?;
    let stored = file.has_column(ATTRIBUTE_KEY_COLUMN)
        && file.has_column(ATTRIBUTE_FILLER_COLUMN)
        && file.key_value(KEY_CHECK_METADATA) == Some(keyer.check().as_str());
    let mut columns = vec!["entity_idx", "kind"];
    if stored {
        columns.extend([ATTRIBUTE_KEY_COLUMN, ATTRIBUTE_FILLER_COLUMN]);
    }
    if !stored {
        columns.push("value");
    }
    let file = file.select(&columns)?;
    let rows = file.rows as usize;
    if rows >= u32::MAX as usize {
        return Err(Error::TooLarge(rows));
    }
    let mut entity = vec![0u32; rows];
    let mut kind = vec![0u16; rows];
    let mut key = vec![0u64; rows];
    let slots: Vec<_> = by_group(&file, &mut entity)
        .into_iter()
        .zip(by_group(&file, &mut kind))
        .zip(by_group(&file, &mut key))
        .collect();
    let parts = slots
        .into_par_iter()
        .enumerate()
        .map(|(g, ((ents, kinds), keys))| {
            let mut local = GroupKinds {
                names: Vec::new(),
                keyers: Vec::new(),
                filler: Vec::new(),
            };
            let mut fillers = Vec::new();
            let mut at = 0usize;
            for b in file.batches(g, None)? {
                let b = b?;
                let ent: UInt32Array = prim(apath, &b, "entity_idx", DataType::UInt32)?;
                let kind_col = strings(apath, &b, "kind")?;
                let value = columns
                    .contains(&"value")
                    .then(|| strings(apath, &b, "value"))
                    .transpose()?;
                let key_filler = if stored {
                    let key: UInt64Array = prim(apath, &b, ATTRIBUTE_KEY_COLUMN, DataType::UInt64)?;
                    let filler: BooleanArray =
                        prim(apath, &b, ATTRIBUTE_FILLER_COLUMN, DataType::Boolean)?;
                    if key.null_count() > 0 || filler.null_count() > 0 {
                        return Err(pq_err(
                            apath,
                            "a stored property key or filler flag is null",
                        ));
                    }
                    Some((key, filler))
                } else {
                    None
                };
                if at + b.num_rows() > ents.len() {
                    return Err(pq_err(apath, "a row group holds more rows than it says"));
                }
                let mut seen = KindViews::default();
                for (i, &view) in kind_col.views().iter().enumerate() {
                    let e = ent.value(i);
                    entity_in_range(apath, e, n)?;
                    let kid = seen.get(view, || local.id(kind_col.value(i), keyer))?;
                    let k = kid as usize;
                    let (row_key, filler) = match (&key_filler, &value) {
                        (Some((key, filler)), _) => {
                            (key.value(i), local.filler[k] && filler.value(i))
                        }
                        (None, Some(value)) => {
                            let v = value.value(i);
                            let filler = local.filler[k] && is_typed_filler(&local.names[k], v);
                            (local.keyers[k].key(v.as_bytes()), filler)
                        }
                        (None, None) => return Err(pq_err(apath, "neither keys nor values read")),
                    };
                    if filler {
                        fillers.push((kid, row_key));
                    }
                    ents[at] = e;
                    kinds[at] = kid;
                    keys[at] = row_key;
                    at += 1;
                }
            }
            if at != ents.len() {
                return Err(pq_err(apath, "a row group holds fewer rows than it says"));
            }
            Ok((local.names, fillers))
        })
        .collect::<Result<Vec<_>>>()?;
    // Number the kinds in the order they first appear in the file, and renumber the groups
    // whose own order differs.
    let mut all = Attributes::default();
    let mut maps = Vec::with_capacity(parts.len());
    let mut fillers = Vec::new();
    for (names, group_fillers) in parts {
        let map: Vec<u16> = names.iter().map(|k| all.kind_id(k)).collect();
        fillers.extend(
            group_fillers
                .into_iter()
                .map(|(k, key)| (map[k as usize], key)),
        );
        maps.push(map);
    }
    by_group(&file, &mut kind)
        .into_par_iter()
        .zip(&maps)
        .filter(|(_, map)| map.iter().enumerate().any(|(i, &m)| usize::from(m) != i))
        .for_each(|(kinds, map)| {
            for k in kinds {
                *k = map[*k as usize];
            }
        });
    Ok(Attributes::from_keys(all.kinds, entity, kind, key, fillers))
}

/// `column` (one value per row of `file`) cut into one slice per row group.
fn by_group<'c, T>(file: &RowGroups, column: &'c mut [T]) -> Vec<&'c mut [T]> {
    let lengths = (0..file.len()).map(|g| {
        let (first, end) = file.bounds(g);
        (end - first) as usize
    });
    crate::sort::split_lengths(column, lengths)
}

/// Writes one record batch to `path` atomically (temp file, synced, then renamed).
pub fn write_batch(path: &Path, batch: &RecordBatch) -> Result<()> {
    write_chunks(
        path,
        batch.num_rows(),
        batch.num_rows().max(1),
        &[],
        |rows| Ok(batch.slice(rows.start, rows.len())),
    )
}

/// Rows per row group of the output files.
const ROW_GROUP_ROWS: usize = 1 << 20;

/// Rows per batch handed to the Parquet writer by [`write_chunks`].
pub(crate) const WRITE_CHUNK_ROWS: usize = 65_536;

/// Writes a table of `rows` rows to `path` atomically (temp file, synced, then renamed; the
/// temp file is removed when the write fails), building it `chunk_rows` rows at a time with
/// `chunk(rows)`: the file is the same as one written from a single batch of every row, but
/// no column of the whole table is ever built, so writing a table of millions of rows reuses
/// a few small buffers instead of filling fresh memory.
/// Columns named in `unique` (values that rarely repeat, such as ids) skip dictionary
/// encoding, which could only fall back to plain encoding for them after trying.
pub(crate) fn write_chunks(
    path: &Path,
    rows: usize,
    chunk_rows: usize,
    unique: &[&str],
    chunk: impl Fn(std::ops::Range<usize>) -> Result<RecordBatch> + Sync,
) -> Result<()> {
    let tmp: PathBuf = path.with_extension("parquet.tmp");
    let file = File::create(&tmp)
        .and_then(|f| WriteBack::new(f, WRITE_BACK_BYTES))
        .map_err(|source| Error::Io {
            path: tmp.clone(),
            source,
        })?;
    let encode = move || -> Result<()> {
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(1).map_err(|e| pq_err(path, e))?,
            ))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
        for c in unique {
            props = props.set_column_dictionary_enabled(ColumnPath::from(*c), false);
        }
        let err = |e| pq_err(path, e);
        // The chunks, cut at row-group boundaries, and whether each ends its group.
        let mut ranges = Vec::new();
        let mut at = 0;
        while at < rows {
            let group_end = (at + ROW_GROUP_ROWS).min(rows);
            while at < group_end {
                let end = (at + chunk_rows.max(1)).min(group_end);
                ranges.push((at..end, end == group_end));
                at = end;
            }
        }
        let first = chunk(ranges.first().map_or(0..0, |r| r.0.clone()))?;
        let mut w = ParallelWriter::try_new(file, first.schema(), props.build()).map_err(err)?;
        // Each chunk is built while the one before it is encoded: building a chunk (formatting
        // ids, gathering reasons) is sequential, and encoding keeps only as many threads busy as
        // the table has heavy columns.
        let mut pending = Some(first);
        for (i, (_, ends_group)) in ranges.iter().enumerate() {
            let Some(batch) = pending.take() else {
                break;
            };
            let next = ranges.get(i + 1).map(|r| r.0.clone());
            let (written, built) = rayon::join(|| w.write(&batch), || next.map(&chunk).transpose());
            written.map_err(err)?;
            pending = built?;
            if *ends_group {
                w.close_group().map_err(err)?;
            }
        }
        w.finish()
            .map_err(err)?
            .sync_all()
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(())
    };
    if let Err(e) = encode() {
        // Best effort: the error to report is the write's, not the clean-up's.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A Parquet file written row group by row group, each group's columns encoded and
/// compressed by their own rayon tasks: the arrow writer encodes a group's columns one after
/// another, and a few tables are most of what a run writes. Used by the link's outputs and by
/// ingest's.
pub struct ParallelWriter<W: std::io::Write + Send> {
    writer: parquet::file::writer::SerializedFileWriter<W>,
    columns: parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory,
    schema: arrow::datatypes::SchemaRef,
    /// The open row group's column writers, and its number.
    open: Option<Vec<parquet::arrow::arrow_writer::ArrowColumnWriter>>,
    groups: usize,
}

impl<W: std::io::Write + Send> std::fmt::Debug for ParallelWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelWriter")
            .field("schema", &self.schema)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl<W: std::io::Write + Send> ParallelWriter<W> {
    /// A writer of batches of `schema` into `sink` under `props`.
    ///
    /// # Errors
    /// A schema Parquet cannot hold, or a failed write of the header.
    pub fn try_new(
        sink: W,
        schema: arrow::datatypes::SchemaRef,
        props: WriterProperties,
    ) -> parquet::errors::Result<Self> {
        let (writer, columns) =
            ArrowWriter::try_new(sink, schema.clone(), Some(props))?.into_serialized_writer()?;
        Ok(ParallelWriter {
            writer,
            columns,
            schema,
            open: None,
            groups: 0,
        })
    }

    /// Appends `batch` to the open row group, opening one if none is.
    ///
    /// # Errors
    /// Encoding failures.
    pub fn write(&mut self, batch: &RecordBatch) -> parquet::errors::Result<()> {
        let writers = match &mut self.open {
            Some(w) => w,
            None => self
                .open
                .insert(self.columns.create_column_writers(self.groups)?),
        };
        let mut leaves = Vec::with_capacity(writers.len());
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(compute_leaves(field, column)?);
        }
        writers
            .par_iter_mut()
            .zip(leaves)
            .try_for_each(|(w, leaf)| w.write(&leaf))
    }

    /// Closes the open row group, if any: its columns are finished in parallel and appended.
    ///
    /// # Errors
    /// Encoding or write failures.
    pub fn close_group(&mut self) -> parquet::errors::Result<()> {
        let Some(writers) = self.open.take() else {
            return Ok(());
        };
        let chunks = writers
            .into_par_iter()
            .map(|w| w.close())
            .collect::<parquet::errors::Result<Vec<_>>>()?;
        let mut group = self.writer.next_row_group()?;
        for c in chunks {
            c.append_to_row_group(&mut group)?;
        }
        group.close()?;
        self.groups += 1;
        Ok(())
    }

    /// Closes the open row group, writes the footer and returns the sink.
    ///
    /// # Errors
    /// Encoding or write failures.
    pub fn finish(mut self) -> parquet::errors::Result<W> {
        self.close_group()?;
        self.writer.into_inner()
    }
}

/// A string array of `bytes` cut at `offsets` (`None`: they did not fit in 32 bits), or `None`
/// when the pieces are not UTF-8.
fn string_array(offsets: Option<Vec<i32>>, bytes: &[u8]) -> Option<StringArray> {
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets?));
    StringArray::try_new(offsets, Buffer::from(bytes), None).ok()
}

/// Column builder helpers for output tables.
#[derive(Debug, Default)]
pub struct TableBuilder {
    fields: Vec<ArrowField>,
    columns: Vec<ArrayRef>,
}

impl TableBuilder {
    /// A new, empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, name: &str, nullable: bool, a: ArrayRef) -> Self {
        self.fields
            .push(ArrowField::new(name, a.data_type().clone(), nullable));
        self.columns.push(a);
        self
    }

    /// A non-null string column.
    pub fn str<S: AsRef<str>>(self, name: &str, values: impl IntoIterator<Item = S>) -> Self {
        let values = values.into_iter();
        // Sized for the values announced at 16 bytes each, rather than grown from nothing.
        let n = values.size_hint().0;
        let mut b = StringBuilder::with_capacity(n, n.saturating_mul(16));
        for v in values {
            b.append_value(v.as_ref());
        }
        self.push(name, false, Arc::new(b.finish()))
    }

    /// A non-null string column of the ids `rows` of `ids`, copied from their buffer in one
    /// piece rather than id by id.
    pub(crate) fn ids(self, name: &str, ids: &EntityIds, rows: std::ops::Range<usize>) -> Self {
        let (text, ends, start) = ids.span(rows.clone());
        let offsets: Option<Vec<i32>> = std::iter::once(Some(0))
            .chain(ends.iter().map(|&e| i32::try_from(e - start).ok()))
            .collect();
        match string_array(offsets, text.as_bytes()) {
            Some(a) => self.push(name, false, Arc::new(a)),
            // Too many bytes for 32-bit offsets.
            None => self.str(name, ids.range(rows)),
        }
    }

    /// A non-null string column of ASCII values all `W` bytes long (cluster ids), written
    /// straight into the column's buffer.
    pub(crate) fn ascii_fixed<const W: usize>(
        self,
        name: &str,
        values: impl ExactSizeIterator<Item = [u8; W]>,
    ) -> Self {
        let n = values.len();
        let mut bytes = Vec::with_capacity(n.saturating_mul(W));
        for v in values {
            bytes.extend_from_slice(&v);
        }
        let n = bytes.len() / W.max(1);
        let offsets: Option<Vec<i32>> = (0..=n).map(|i| i32::try_from(i * W).ok()).collect();
        match string_array(offsets, &bytes) {
            Some(a) => self.push(name, false, Arc::new(a)),
            // Not ASCII after all, or too long for 32-bit offsets: value by value.
            None => self.str(name, bytes.chunks(W.max(1)).map(String::from_utf8_lossy)),
        }
    }

    /// A nullable string column.
    pub fn opt_str(self, name: &str, values: impl IntoIterator<Item = Option<String>>) -> Self {
        let a: StringArray = values.into_iter().collect();
        self.push(name, true, Arc::new(a))
    }

    /// A `u32` column.
    pub fn u32(self, name: &str, values: impl IntoIterator<Item = u32>) -> Self {
        self.push(
            name,
            false,
            Arc::new(values.into_iter().collect::<UInt32Array>()),
        )
    }

    /// A `u64` column.
    pub fn u64(self, name: &str, values: impl IntoIterator<Item = u64>) -> Self {
        self.push(
            name,
            false,
            Arc::new(values.into_iter().collect::<UInt64Array>()),
        )
    }

    /// An `f64` column.
    pub fn f64(self, name: &str, values: impl IntoIterator<Item = f64>) -> Self {
        self.push(
            name,
            false,
            Arc::new(values.into_iter().collect::<Float64Array>()),
        )
    }

    /// A boolean column.
    pub fn bool(self, name: &str, values: impl IntoIterator<Item = bool>) -> Self {
        let a: BooleanArray = values.into_iter().map(Some).collect();
        self.push(name, false, Arc::new(a))
    }

    /// A nullable UTC millisecond timestamp column.
    pub fn timestamp_ms(self, name: &str, values: impl IntoIterator<Item = Option<i64>>) -> Self {
        let a = values
            .into_iter()
            .collect::<TimestampMillisecondArray>()
            .with_timezone("UTC");
        let a: ArrayRef = Arc::new(a);
        let mut s = self;
        s.fields.push(ArrowField::new(
            name,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ));
        s.columns.push(a);
        s
    }

    /// A list-of-strings column: one list of strings per row.
    pub fn str_list<L, S>(self, name: &str, values: impl IntoIterator<Item = L>) -> Self
    where
        L: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut b = ListBuilder::new(StringBuilder::new());
        for v in values {
            for s in v {
                b.values().append_value(s.as_ref());
            }
            b.append(true);
        }
        self.push(name, false, Arc::new(b.finish()))
    }

    /// A list-of-`f64` column.
    pub fn f64_list(self, name: &str, values: impl IntoIterator<Item = Vec<f64>>) -> Self {
        let mut b = ListBuilder::new(Float64Builder::new());
        for v in values {
            b.values().append_slice(&v);
            b.append(true);
        }
        self.push(name, false, Arc::new(b.finish()))
    }

    /// Finishes the table.
    ///
    /// # Errors
    /// Columns of different lengths (a bug).
    pub fn finish(self) -> Result<RecordBatch> {
        let schema = Arc::new(Schema::new(self.fields));
        RecordBatch::try_new(schema, self.columns).map_err(|e| Error::Parquet {
            path: PathBuf::from("<table>"),
            message: e.to_string(),
        })
    }
}

/// A string-column reader for result files (`clusters.parquet`, …), used by evaluation.
///
/// # Errors
/// Missing file or column.
pub fn read_columns(path: &Path, columns: &[&str]) -> Result<Vec<Vec<Option<String>>>> {
    let parts = read_row_groups(path, columns, None, |_, batches| {
        let mut out: Vec<Vec<Option<String>>> = vec![Vec::new(); columns.len()];
        for b in batches {
            for (ci, c) in columns.iter().enumerate() {
                let a = column(path, &b, c, &DataType::Utf8)?;
                let s = a
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| pq_err(path, "cast"))?;
                out[ci]
                    .extend((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i).to_owned())));
            }
        }
        Ok(out)
    })?;
    let mut out: Vec<Vec<Option<String>>> = vec![Vec::new(); columns.len()];
    for p in parts {
        for (ci, v) in p.into_iter().enumerate() {
            out[ci].extend(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linker::IdText;

    #[test]
    fn kind_views_answer_every_view_and_remember_half_their_slots() {
        let mut seen = KindViews::default();
        let finds = std::cell::Cell::new(0);
        // Views that differ in either half, far more than are remembered, asked twice.
        let views: Vec<u128> = (0..400u128)
            .map(|i| if i % 2 == 0 { i } else { i << 64 })
            .collect();
        for round in 0..2 {
            for (i, &v) in views.iter().enumerate() {
                let got = seen
                    .get(v, || {
                        finds.set(finds.get() + 1);
                        Ok(i)
                    })
                    .unwrap();
                assert_eq!(got, i, "round {round}");
            }
        }
        let held = KIND_VIEW_SLOTS / 2;
        assert_eq!(finds.get(), 400 + (400 - held));
    }

    /// Values no reader should trip over: empty, Unicode in several scripts and normal forms,
    /// quotes, separators, control characters, a long one.
    fn hostile(i: usize) -> String {
        let base = [
            "",
            "zoë ångström",
            "名前@例え.jp",
            "e\u{301}",
            "\"quoted\", 'single'",
            "line\nbreak\r\n",
            "nul\0byte\ttab",
            "🦀🏳️‍🌈",
            "US:000000000",
            "+11234567890",
        ];
        match i % 11 {
            10 => "x".repeat(5_000 + i),
            j => format!("{}{}", base[j], if i.is_multiple_of(3) { "" } else { "·" }),
        }
    }

    /// Writes an ingest folder of `n` accounts with two attribute rows each, in row groups
    /// of 7 rows so that reads cross group boundaries.
    fn write_folder(dir: &Path, n: usize) -> Vec<(u32, &'static str, String)> {
        write_folder_in_groups(dir, n, 7)
    }

    /// [`write_folder`] with row groups of `group` rows.
    fn write_folder_in_groups(
        dir: &Path,
        n: usize,
        group: usize,
    ) -> Vec<(u32, &'static str, String)> {
        write_folder_with_keys(dir, n, group, None)
    }

    /// Each row's stored key and filler flag from its kind and value.
    type KeyOf<'a> = &'a dyn Fn(&str, &str) -> (u64, bool);

    /// [`write_folder_in_groups`] whose attributes also hold what ingest stores with a
    /// keyer: `stored` gives the check to record and each row's key and filler flag.
    fn write_folder_with_keys(
        dir: &Path,
        n: usize,
        group: usize,
        stored: Option<(&str, KeyOf<'_>)>,
    ) -> Vec<(u32, &'static str, String)> {
        write_folder_anchored(dir, n, group, stored, &|e| e)
    }

    /// [`write_folder_with_keys`] with entity `e` anchored to `anchor(e)` (an inquiry when
    /// that is not `e`).
    fn write_folder_anchored(
        dir: &Path,
        n: usize,
        group: usize,
        stored: Option<(&str, KeyOf<'_>)>,
        anchor: &dyn Fn(u32) -> u32,
    ) -> Vec<(u32, &'static str, String)> {
        let n32 = n as u32;
        let entities = TableBuilder::new()
            .str("entity_id", (0..n).map(|i| format!("acct_{i}")))
            .str(
                "entity_type",
                (0..n32).map(|e| if anchor(e) == e { "account" } else { "inquiry" }),
            )
            .u32("anchor_idx", (0..n32).map(anchor))
            .timestamp_ms("created_at_ms", (0..n).map(|i| Some(i as i64)))
            .opt_str("label", (0..n).map(|_| None))
            .finish()
            .unwrap();
        write_batch(&dir.join("entities.parquet"), &entities).unwrap();
        let kinds = ["gov_id", "device_id", "phone", "name"];
        let rows: Vec<(u32, &'static str, String)> = (0..2 * n)
            .map(|i| ((i / 2) as u32, kinds[i % kinds.len()], hostile(i)))
            .collect();
        let mut attrs = TableBuilder::new()
            .u32("entity_idx", rows.iter().map(|r| r.0))
            .str("kind", rows.iter().map(|r| r.1))
            .str("value", rows.iter().map(|r| r.2.as_str()));
        let mut props = WriterProperties::builder().set_max_row_group_row_count(Some(group));
        if let Some((check, key_of)) = stored {
            let keys: Vec<(u64, bool)> = rows.iter().map(|r| key_of(r.1, &r.2)).collect();
            attrs = attrs
                .u64(ATTRIBUTE_KEY_COLUMN, keys.iter().map(|k| k.0))
                .bool(ATTRIBUTE_FILLER_COLUMN, keys.iter().map(|k| k.1));
            props =
                props.set_key_value_metadata(Some(vec![parquet::file::metadata::KeyValue::new(
                    KEY_CHECK_METADATA.to_owned(),
                    check.to_owned(),
                )]));
        }
        let attrs = attrs.finish().unwrap();
        let props = props.build();
        let file = File::create(dir.join("attributes.parquet")).unwrap();
        let mut w = ArrowWriter::try_new(file, attrs.schema(), Some(props)).unwrap();
        w.write(&attrs).unwrap();
        w.close().unwrap();
        rows
    }

    /// A table of `n` rows with a string, a number and a list-of-strings column.
    fn table_of(rows: std::ops::Range<usize>) -> Result<RecordBatch> {
        TableBuilder::new()
            .str("id", rows.clone().map(|i| format!("e{i}")))
            .u32("n", rows.clone().map(|i| i as u32))
            .str_list(
                "l",
                rows.map(|i| (0..i % 3).map(move |j| hostile((i + j) % 40))),
            )
            .finish()
    }

    #[test]
    fn a_table_written_in_chunks_reads_back_as_written_whole() {
        let tmp = tempfile::tempdir().unwrap();
        // More rows than a row group holds, in chunks that do not divide it, in chunks larger
        // than a group, in chunks of no rows (taken as one), and an empty table.
        for (rows, chunk) in [
            (ROW_GROUP_ROWS + 1_234, 100_003),
            (ROW_GROUP_ROWS + 5, 2 * ROW_GROUP_ROWS),
            (50, 7),
            (10, 0),
            (0, 7),
        ] {
            let path = tmp.path().join(format!("t{rows}-{chunk}.parquet"));
            write_chunks(&path, rows, chunk, &["id"], table_of).unwrap();
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
            let groups = reader.metadata().num_row_groups();
            assert_eq!(groups, rows.div_ceil(ROW_GROUP_ROWS), "{rows} rows");
            for g in 0..groups {
                let want = (rows - g * ROW_GROUP_ROWS).min(ROW_GROUP_ROWS);
                assert_eq!(reader.metadata().row_group(g).num_rows() as usize, want);
            }
            let batches: Vec<RecordBatch> = reader
                .build()
                .unwrap()
                .collect::<std::result::Result<_, _>>()
                .unwrap();
            let whole = table_of(0..rows).unwrap();
            let read = arrow::compute::concat_batches(&whole.schema(), &batches).unwrap();
            assert_eq!(read, whole, "{rows} rows in chunks of {chunk}");
        }
    }

    #[test]
    fn id_columns_built_in_one_piece_equal_those_built_value_by_value() {
        let mut ids = EntityIds::default();
        for i in 0..50 {
            ids.push(&format!("{}{i}", hostile(i % 40)));
        }
        for rows in [0..50, 7..23, 49..50, 0..0, 50..50] {
            let fast = TableBuilder::new().ids("id", &ids, rows.clone()).finish();
            let slow = TableBuilder::new()
                .str("id", ids.range(rows.clone()))
                .finish();
            assert_eq!(fast.unwrap(), slow.unwrap(), "{rows:?}");
        }
        let hashes = [0u64, 1, u64::MAX, 0x0123_4567_89ab_cdef];
        let fixed = TableBuilder::new()
            .ascii_fixed("c", hashes.iter().map(|&h| IdText::of(h).bytes()))
            .finish()
            .unwrap();
        let each = TableBuilder::new()
            .str("c", hashes.iter().map(|&h| IdText::of(h)))
            .finish()
            .unwrap();
        assert_eq!(fixed, each);
        // Bytes that are not UTF-8 fall back to a lossy copy, value by value.
        let odd = TableBuilder::new()
            .ascii_fixed("c", [*b"ab", [0xff, b'c']].into_iter())
            .finish()
            .unwrap();
        let col = odd
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(col.value(0), "ab");
        assert_eq!(col.value(1), "\u{fffd}c");
    }

    #[test]
    fn a_chunk_that_fails_fails_the_write_and_leaves_no_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.parquet");
        // The second chunk is built while the first is encoded; its error is the write's.
        let failing = |rows: std::ops::Range<usize>| {
            if rows.start > 0 {
                Err(Error::TooLarge(rows.start))
            } else {
                table_of(rows)
            }
        };
        let err = write_chunks(&path, 30, 10, &["id"], failing).unwrap_err();
        assert!(matches!(err, Error::TooLarge(10)), "{err}");
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "no temporary file"
        );
    }

    #[test]
    fn read_values_returns_just_the_rows_asked_for_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let rows = write_folder(tmp.path(), 40);
        // First and last rows, a run across a group boundary, rows far apart, and nothing.
        let wanted: Vec<u32> = vec![0, 5, 6, 7, 8, 13, 14, 33, 62, 79];
        let v = read_values(tmp.path(), &wanted).unwrap();
        assert_eq!(v.len(), wanted.len());
        for &r in &wanted {
            assert_eq!(v.get(r), Some(rows[r as usize].2.as_str()), "row {r}");
        }
        assert_eq!(v.get(1), None);
        assert!(read_values(tmp.path(), &[]).unwrap().is_empty());
        let e = read_values(tmp.path(), &[3, 80]).unwrap_err();
        assert!(e.to_string().contains("2 attribute rows asked for"), "{e}");
    }

    #[test]
    fn a_file_cut_short_before_its_footer_is_an_error_not_a_crash() {
        // The footer intact, so the file opens, but its column chunks now lie elsewhere or
        // past the end of the file.
        let tmp = tempfile::tempdir().unwrap();
        write_folder(tmp.path(), 40);
        let path = tmp.path().join("attributes.parquet");
        let whole = std::fs::read(&path).unwrap();
        let footer = {
            let tail = &whole[whole.len() - 8..];
            u32::from_le_bytes(tail[..4].try_into().unwrap()) as usize + 8
        };
        let data = whole.len() - footer;
        assert!(data - 4 > footer, "a cut past the footer's length is tried");
        for cut in [1, 100, data / 2, data - 4] {
            // The magic, the data less `cut` bytes from its start, the footer.
            let mut bytes = whole[..4].to_vec();
            bytes.extend_from_slice(&whole[4 + cut..]);
            std::fs::write(&path, &bytes).unwrap();
            let all: Vec<u32> = (0..80).collect();
            let e = read_values(tmp.path(), &all).unwrap_err();
            assert!(
                e.to_string().contains("attributes.parquet"),
                "cut {cut}: {e}"
            );
            let e = read_ingest_dir(tmp.path(), Keyer::new(b"s")).unwrap_err();
            assert!(
                e.to_string().contains("attributes.parquet"),
                "cut {cut}: {e}"
            );
            // The last group alone (its columns end past the end of the file once more
            // bytes are cut than the footer holds).
            assert!(read_values(tmp.path(), &[79]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn keys_only_read_equals_the_full_read_without_its_values() {
        // Small groups, and groups of more rows than a record batch holds.
        keys_only_read_equals_the_full_read(40, 7);
        keys_only_read_equals_the_full_read(BATCH_SIZE, 2 * BATCH_SIZE + 10);
    }

    #[test]
    fn keys_stored_by_ingest_read_as_the_keys_computed_from_values() {
        let keyer = Keyer::new(b"io test secret");
        let check = keyer.check();
        let key_of = |kind: &str, value: &str| attribute_key(&keyer, &mut Vec::new(), kind, value);
        for (n, group) in [(40, 7), (BATCH_SIZE, 2 * BATCH_SIZE + 10)] {
            keys_only_read_equals_the_full_read_stored(n, group, Some((&check, &key_of)));
        }
    }

    #[test]
    fn stored_keys_are_read_only_under_the_same_keyers_check() {
        let tmp = tempfile::tempdir().unwrap();
        let keyer = Keyer::new(b"io test secret");
        // Stored keys that no keyer computes, so the test sees which were read.
        let marked = |kind: &str, value: &str| (keyer.key(kind, value) ^ 1, true);
        let rows = write_folder_with_keys(tmp.path(), 40, 7, Some((&keyer.check(), &marked)));
        let read = keys_only(tmp.path(), keyer.clone()).unwrap();
        let a = &read.attributes;
        let expected: Vec<u64> = rows.iter().map(|r| marked(r.1, &r.2).0).collect();
        assert_eq!(a.key, expected, "the same check: the stored keys");
        // Stored flags count only for the kinds that can be fillers.
        let phone = a.kinds.iter().position(|k| k == "phone").unwrap() as u16;
        let name = a.kinds.iter().position(|k| k == "name").unwrap() as u16;
        assert_eq!(a.filler_keys(phone).count(), 20);
        assert_eq!(a.filler_keys(name).count(), 0);

        // Another secret: every key computed again from the values.
        let other = Keyer::new(b"another deployment's secret");
        let read = keys_only(tmp.path(), other.clone()).unwrap();
        let expected: Vec<u64> = rows.iter().map(|r| other.key(r.1, &r.2)).collect();
        assert_eq!(
            read.attributes.key, expected,
            "another check: computed keys"
        );
    }

    /// A batch link's read of a folder: its entities and the keys-only attribute table.
    fn keys_only(dir: &Path, keyer: Keyer) -> Result<LinkInput> {
        let entities = read_ingest_entities(dir)?;
        let attributes = read_link_attributes(dir, &entities, &keyer)?;
        Ok(LinkInput {
            entities,
            attributes,
            keyer,
        })
    }

    fn keys_only_read_equals_the_full_read(n: usize, group: usize) {
        keys_only_read_equals_the_full_read_stored(n, group, None);
    }

    fn keys_only_read_equals_the_full_read_stored(
        n: usize,
        group: usize,
        stored: Option<(&str, KeyOf<'_>)>,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        write_folder_with_keys(tmp.path(), n, group, stored);
        let keyer = Keyer::new(b"io test secret");
        let full = read_ingest_dir(tmp.path(), keyer.clone()).unwrap();
        let keys = keys_only(tmp.path(), keyer.clone()).unwrap();
        let (a, b) = (&full.attributes, &keys.attributes);
        assert!(a.has_values() && !b.has_values());
        assert_eq!(
            (&a.kinds, &a.entity, &a.kind, &a.key),
            (&b.kinds, &b.entity, &b.kind, &b.key)
        );
        assert_eq!(full.entities.ids, keys.entities.ids);
        for k in 0..a.kinds.len() as u16 {
            let sorted = |t: &Attributes| {
                let mut f: Vec<u64> = t.filler_keys(k).collect();
                f.sort_unstable();
                f
            };
            assert_eq!(sorted(a), sorted(b), "fillers of {}", a.kinds[k as usize]);
        }
        let phone = a.kinds.iter().position(|k| k == "phone").unwrap() as u16;
        assert!(b.filler_keys(phone).count() > 0, "row 42 is +11234567890");
    }

    #[test]
    fn compared_read_equals_the_full_reads_rows_of_the_named_kinds() {
        let mut placeholders = 0;
        // Small groups, and groups of more rows than a record batch holds.
        for (n, group) in [(40, 7), (BATCH_SIZE, 2 * BATCH_SIZE + 10)] {
            // Every third entity an inquiry of the one before it, every ninth one without
            // a known account (its own anchor).
            let mixed = |e: u32| if e % 3 == 1 && e % 9 != 4 { e - 1 } else { e };
            // As ingest writes them: the accounts, then their inquiries (every fifth one
            // without a known account), so that whole groups, and the ends of others, hold
            // no anchor's own row.
            let half = n as u32 / 2;
            let accounts_first = |e: u32| {
                if e >= half && !e.is_multiple_of(5) {
                    e - half
                } else {
                    e
                }
            };
            placeholders += compared_read_equals_the_full_reads(n, group, &mixed);
            placeholders += compared_read_equals_the_full_reads(n, group, &accounts_first);
        }
        assert!(placeholders > 0, "row 42 is +11234567890, a phone filler");
    }

    /// Checks the compared read of a folder of `n` entities anchored by `anchor`, in groups
    /// of `group` rows, against its rows as written; returns how many of the anchors' own
    /// rows were left out as placeholders.
    fn compared_read_equals_the_full_reads(
        n: usize,
        group: usize,
        anchor: &dyn Fn(u32) -> u32,
    ) -> usize {
        let tmp = tempfile::tempdir().unwrap();
        let rows = write_folder_anchored(tmp.path(), n, group, None, anchor);
        let anchors = read_anchors(tmp.path()).unwrap();
        assert_eq!(anchors, read_ingest_entities(tmp.path()).unwrap().anchor);
        let kinds = ["phone", "name", "not in the file"];
        let read = read_compared(tmp.path(), &anchors, &kinds, &LinkConfig::default()).unwrap();
        assert_eq!(read.kinds, kinds);
        let (mut own, mut other) = (Vec::new(), Vec::new());
        let rules = crate::LinkConfig::default();
        let mut placeholders = 0;
        for (r, (e, kind, value)) in rows.iter().enumerate() {
            let Some(k) = kinds.iter().position(|k| k == kind) else {
                continue;
            };
            if anchor(*e) == *e {
                // An anchor's own placeholder can fill no field and is not kept.
                if rules.is_placeholder(kind, value) {
                    placeholders += 1;
                } else {
                    own.push((r as u32, value.as_str(), *e, k as u16));
                }
            } else {
                other.push((r as u32, *e, k as u16));
            }
        }
        assert!(!other.is_empty() && !own.is_empty());
        let own_read: Vec<(u32, &str, u32, u16)> = read
            .own_places()
            .map(|(i, e, k)| {
                let (row, value) = read.own.at(i as usize);
                (row, value, e, k)
            })
            .collect();
        assert_eq!(own_read.len(), read.own.len());
        assert_eq!(own_read, own);
        let other_read: Vec<(u32, u32, u16)> = read.parts.iter().flat_map(|p| p.others()).collect();
        assert_eq!(other_read, other);
        placeholders
    }

    #[test]
    fn attribute_rows_of_entities_beyond_the_entities_file_are_refused_by_every_reader() {
        // The attributes of 20 entities beside the entities file of 12 (a folder written
        // over in part): each reader names an entity out of range (row groups are read in
        // parallel, so not always the first).
        let (tmp, fewer) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_folder(tmp.path(), 20);
        write_folder(fewer.path(), 12);
        std::fs::copy(
            fewer.path().join("entities.parquet"),
            tmp.path().join("entities.parquet"),
        )
        .unwrap();
        let keyer = Keyer::new(b"range");
        let refused = |r: Result<()>| match r {
            Err(Error::Schema { path, message }) => {
                assert!(path.ends_with("attributes.parquet"), "{path:?}");
                let e: u32 = (message.strip_prefix("entity_idx "))
                    .and_then(|m| m.strip_suffix(" out of range (entities: 12)"))
                    .and_then(|e| e.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected message: {message}"));
                assert!((12..20).contains(&e), "{message}");
            }
            other => panic!("expected an entity out of range, got {other:?}"),
        };
        refused(read_ingest_dir(tmp.path(), keyer.clone()).map(drop));
        let entities = read_ingest_entities(tmp.path()).unwrap();
        refused(read_link_attributes(tmp.path(), &entities, &keyer).map(drop));
        refused(
            read_compared(
                tmp.path(),
                &entities.anchor,
                &["name", "phone"],
                &LinkConfig::default(),
            )
            .map(drop),
        );
    }

    #[test]
    fn entities_read_after_duplicate_detection_must_keep_its_anchors() {
        let tmp = tempfile::tempdir().unwrap();
        write_folder_anchored(tmp.path(), 30, 7, None, &|e| e - e % 2);
        let anchors = read_anchors(tmp.path()).unwrap();
        let read = crate::pipeline::checked_entities(tmp.path(), Some(&anchors)).unwrap();
        assert_eq!(read.anchor, anchors);
        let mut other = anchors.clone();
        other[3] = 3;
        let e = crate::pipeline::checked_entities(tmp.path(), Some(&other)).unwrap_err();
        assert!(e.to_string().contains("changed during the run"), "{e}");
    }

    #[test]
    fn run_link_frees_the_attributes_and_equals_the_run_holding_every_value() {
        let tmp = tempfile::tempdir().unwrap();
        let rows = write_folder(tmp.path(), 60);
        let keyer = Keyer::new(b"io test secret");
        let config = crate::LinkConfig::default();
        let out = tmp.path().join("out");
        let run = crate::run_link(tmp.path(), &out, &config, keyer.clone(), &mut |_| {}).unwrap();
        assert!(
            run.input.attributes.is_empty(),
            "freed once rings are found"
        );
        assert_eq!(run.summary.attribute_rows, rows.len() as u64);
        let full = read_ingest_dir(tmp.path(), keyer).unwrap();
        let held = crate::link_input(full, &config, &mut |_| {}).unwrap();
        assert_eq!(
            held.input.attributes.len(),
            rows.len(),
            "kept by `link_input`"
        );
        let summary = |r: &crate::RunResult| {
            let mut s = r.summary.clone();
            (s.timings_ms, s.wall_ms) = (Vec::new(), 0);
            serde_json::to_string(&s).unwrap()
        };
        assert_eq!(summary(&run), summary(&held));
        assert_eq!(run.scores, held.scores);
    }
}
