//! The ingest pipeline, four stages connected by bounded channels: one thread reads chunks;
//! a second normalises each chunk's rows in parallel with rayon; the calling thread assigns
//! entity indices, detects duplicates and anchors, and builds the output record batches
//! (Arrow arrays, strings copied from the chunk's and the blocks' text arenas); two
//! writer threads write them to Parquet (`attributes.parquet` on one, `entities.parquet` and
//! `rejects.parquet` on the other). So the sequential pass over chunk N runs while chunk
//! N + 1 is being normalised and chunk N - 1 written.
//!
//! Order is deterministic: rayon's indexed `collect` keeps input order, and entity indices,
//! duplicate detection and anchors are assigned in one sequential pass per chunk.
//!
//! Rows are normalised in blocks of [`BLOCK_ROWS`]: a rayon task normalises its block's rows
//! (through its thread's [`NormalizeCache`]) and copies the strings it keeps into one text
//! arena per block, dropping each row's `Normalized` right away. So the many small strings of
//! normalisation are freed on the thread that allocated them, while still hot, and the
//! sequential pass and the frames read borrowed `&str`s instead of moving and freeing
//! millions of `String`s on the main thread.

use std::borrow::Cow;
use std::fs;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use arrow::array::{
    ArrayRef, BooleanBuilder, Int64Array, RecordBatch, StringViewArray, StringViewBuilder,
    UInt32Array, UInt64Array,
};
use arrow::datatypes::SchemaRef;
use graph_core::{
    EntityType, Field, FieldIssue, Label, NormalizeCache, NormalizeOptions, normalize_record_cached,
};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::ids::{Added, Ids};
use crate::mapping::EntityMapping;
use crate::output::{
    ATTRIBUTES_FILE, ENTITIES_FILE, Layout, Metadata, ParquetOut, REJECTS_FILE, SCHEMA_VERSION,
    SUMMARY_FILE, TempFile, attributes_schema, entities_schema, pii_fields, rejects_schema,
};
use crate::plan::{Plan, Src, wanted_columns};
use crate::read::{self, Chunk, ChunkReader, Row, Span};
use crate::source::{Format, Source};
use crate::summary::{FileSummary, Summary, Totals};
use crate::{IngestOptions, Progress};

/// Rejects are buffered and written in batches of this many rows.
const REJECT_BATCH: usize = 65_536;

/// Rows per normalisation task: enough that a task's allocations are few, few enough that
/// the threads share a chunk evenly.
const BLOCK_ROWS: usize = 2048;

/// One reject row before it becomes a DataFrame row.
#[derive(Debug)]
struct RejectRow {
    file: u32,
    row: u64,
    entity_id: Option<String>,
    field: Option<&'static str>,
    code: String,
    reason: String,
    raw: String,
    action: &'static str,
}

/// A batch for the thread writing `entities.parquet` and `rejects.parquet`.
enum WriteMsg {
    Entities(RecordBatch),
    Rejects(RecordBatch),
}

/// The channels to the two writer threads: `attributes.parquet` is about as large as
/// `entities.parquet`, and each file's encoding is sequential, so each has its own thread.
struct Sinks {
    entities: SyncSender<WriteMsg>,
    attributes: SyncSender<RecordBatch>,
}

/// The Arrow schemas of the three outputs, made once.
struct Schemas {
    entities: SchemaRef,
    attributes: SchemaRef,
    rejects: SchemaRef,
}

/// State carried across files.
struct State {
    /// The ids of the entities written so far (entity `i` is the `i`-th).
    ids: Ids,
    files: Vec<String>,
    rejects: Vec<RejectRow>,
    anchored: u64,
    schemas: Schemas,
}

/// One memo per rayon thread (indexed by `rayon::current_thread_index`), kept for the whole
/// run so values repeated across chunks and files are normalised once.
type Caches = [Mutex<NormalizeCache>];

/// What the normalising threads keep for the whole run: their caches and the blocks chunks
/// are normalised into.
struct Scratch {
    caches: Vec<Mutex<NormalizeCache>>,
    blocks: BlockPool,
}

/// A chunk and its normalised rows, on their way from the normalising stage to the
/// sequential pass.
struct Normalised {
    chunk: Chunk,
    blocks: Vec<Block>,
    /// Per block, the outcome of each of its rows.
    outcomes: Vec<Vec<Outcome>>,
}

/// A string in a [`Block`]'s text arena.
#[derive(Debug, Clone, Copy)]
struct Txt {
    start: u32,
    len: u32,
}

/// An attribute's kind: built-in kinds are static, custom kinds are kept in the arena.
#[derive(Debug, Clone, Copy)]
enum KindRef {
    Static(&'static str),
    Text(Txt),
}

/// A normalised row whose strings are in its block's arena.
struct NormRow {
    id: Txt,
    account_id: Option<Txt>,
    created_at: Option<i64>,
    status: Option<Txt>,
    label: Option<Label>,
    issues: Vec<FieldIssue>,
    /// The row's concatenated mapping values (empty without concat mappings).
    concat: Vec<String>,
    /// Its attributes: a range of [`Block::attrs`].
    attrs: std::ops::Range<usize>,
}

/// The outcome of normalising one row.
enum Outcome {
    Ok(NormRow),
    Reject {
        code: &'static str,
        reason: String,
        entity_id: Option<String>,
    },
    /// A row the reader could not parse (its reject is built from the row itself).
    Unparsed,
}

/// The strings of up to [`BLOCK_ROWS`] consecutive normalised rows.
#[derive(Default)]
struct Block {
    text: String,
    attrs: Vec<(KindRef, Txt)>,
    /// Per attribute, its property key and typed-filler flag (when ingest has a keyer).
    keys: Vec<(u64, bool)>,
    /// The buffer property keys are computed in.
    scratch: Vec<u8>,
}

impl Block {
    /// Empties the block, keeping its memory, and makes room for `rows` rows (their
    /// attributes and, when `keyed`, their keys): a new block allocates it once, and a block
    /// kept from a short chunk grows to a full one's size once, not by doubling.
    fn reset(&mut self, rows: usize, keyed: bool) {
        self.text.clear();
        self.attrs.clear();
        self.keys.clear();
        self.text.reserve(rows * 160);
        self.attrs.reserve(rows * 12);
        if keyed {
            self.keys.reserve(rows * 12);
        }
    }

    fn push(&mut self, s: &str) -> Txt {
        let start = self.text.len();
        self.text.push_str(s);
        // A block holds at most BLOCK_ROWS rows of bounded values, far below 4 GiB.
        Txt {
            start: start as u32,
            len: s.len() as u32,
        }
    }

    fn get(&self, t: Txt) -> &str {
        let start = t.start as usize;
        let s = self.text.get(start..start + t.len as usize);
        // Every `Txt` comes from `push` on the same block.
        debug_assert!(s.is_some(), "a text outside its block");
        s.unwrap_or_default()
    }
}

/// Blocks whose chunk's batches are built, kept for the next chunks' rows: a block is about
/// 1.5 MB of lists, and blocks freshly allocated for every chunk and freed after it had the
/// allocator return their memory to the kernel (mimalloc's purge timer) and fault it in
/// again, zeroed (a fifth of ingest's page faults at 1M accounts).
struct BlockPool {
    kept: Mutex<Vec<Block>>,
    /// Blocks kept at most: three chunks' worth (one being normalised, one waiting in the
    /// channel, one in the sequential pass).
    max: usize,
}

impl BlockPool {
    /// A pool for chunks of `chunk_rows` rows.
    fn new(chunk_rows: usize) -> BlockPool {
        BlockPool {
            kept: Mutex::new(Vec::new()),
            max: 3 * chunk_rows.div_ceil(BLOCK_ROWS),
        }
    }

    /// An empty block with room for `rows` rows: a kept one, else a new one.
    fn take(&self, rows: usize, keyed: bool) -> Block {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut b = kept.unwrap_or_default();
        b.reset(rows, keyed);
        b
    }

    /// Keeps `blocks` for later chunks, up to `max`; the rest are freed outside the lock.
    fn put(&self, mut blocks: Vec<Block>) {
        {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            let room = self.max.saturating_sub(kept.len()).min(blocks.len());
            kept.extend(blocks.drain(..room));
        }
        drop(blocks);
    }
}

/// `raw` trimmed. A value that starts and ends with an ASCII non-space (nearly all) is
/// returned as it is without `str::trim`'s character-by-character search.
fn fast_trim(raw: &str) -> &str {
    let clean = |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii() && !char::from(b).is_whitespace());
    let bytes = raw.as_bytes();
    if clean(bytes.first()) && clean(bytes.last()) {
        return raw;
    }
    raw.trim()
}

/// Runs an ingest: reads every source, writes the outputs into `opts.out_dir` and returns the
/// summary (also written as `ingest_summary.json`).
///
/// Row-level problems never fail the run; they are written to `rejects.parquet`.
///
/// # Errors
/// User errors ([`Error::is_user_error`]): a missing or unreadable file, an empty file, a
/// file without its id column after mapping, a mapping naming a missing column, or no usable
/// account row at all. Internal errors: failure to write the outputs. On error no output
/// file is left under its final name by this run (temporary files are removed).
pub fn run(opts: &IngestOptions, progress: &mut dyn FnMut(Progress)) -> Result<Summary> {
    let started = Instant::now();
    if opts.sources.is_empty() {
        return Err(Error::InvalidOptions("no input sources".to_owned()));
    }
    if opts.chunk_rows == 0 {
        return Err(Error::InvalidOptions(
            "chunk_rows must be at least 1".to_owned(),
        ));
    }
    // Accounts first (stable), so inquiries can be anchored to them.
    let mut sources: Vec<&Source> = opts.sources.iter().collect();
    sources.sort_by_key(|s| s.entity_type == EntityType::Inquiry);
    // Fail fast on files that cannot be opened or whose format is unknown, before spending
    // time on the others.
    let mut formats = Vec::with_capacity(sources.len());
    for src in &sources {
        fs::File::open(&src.path).map_err(|source| Error::OpenInput {
            path: src.path.clone(),
            source,
        })?;
        let mapping = opts
            .mapping
            .as_ref()
            .and_then(|m| m.for_type(src.entity_type));
        let format = src
            .format
            .or(mapping.and_then(|m| m.format))
            .or_else(|| Format::from_path(&src.path))
            .ok_or_else(|| Error::UnknownFormat {
                path: src.path.clone(),
            })?;
        formats.push(format);
    }

    graph_core::durable::create_dir_synced(&opts.out_dir)
        .map_err(|e| Error::write(&opts.out_dir, e))?;
    let entities = ParquetOut::create(
        &opts.out_dir,
        ENTITIES_FILE,
        &entities_schema(),
        ENTITY_LAYOUTS,
        Metadata::new(),
    )?;
    let attributes = ParquetOut::create(
        &opts.out_dir,
        ATTRIBUTES_FILE,
        &attributes_schema(opts.keyer.is_some()),
        ATTRIBUTE_LAYOUTS,
        opts.keyer
            .iter()
            .map(|k| (graph_core::KEY_CHECK_METADATA.to_owned(), k.check()))
            .collect(),
    )?;
    let rejects = ParquetOut::create(
        &opts.out_dir,
        REJECTS_FILE,
        &rejects_schema(),
        &[],
        Metadata::new(),
    )?;
    let schemas = Schemas {
        entities: entities.schema().clone(),
        attributes: attributes.schema().clone(),
        rejects: rejects.schema().clone(),
    };

    let (etx, erx) = sync_channel::<WriteMsg>(2);
    let (atx, arx) = sync_channel::<RecordBatch>(2);
    let (result, written) = thread::scope(|scope| {
        let ents = scope.spawn(move || write_entities(erx, entities, rejects));
        let attrs = scope.spawn(move || write_attributes(arx, attributes));
        let sinks = Sinks {
            entities: etx,
            attributes: atx,
        };
        let result = ingest_all(opts, &sources, &formats, schemas, &sinks, progress);
        drop(sinks);
        let panicked = || Error::Internal("a writer thread panicked".to_owned());
        let ents = ents.join().unwrap_or_else(|_| Err(panicked()));
        let attrs = attrs.join().unwrap_or_else(|_| Err(panicked()));
        (result, ents.and_then(|e| Ok((e, attrs?))))
    });
    // A writer failure explains a failed send on the main side, so report it first.
    let ([rejects, entities], attributes) = written?;
    let files = vec![rejects, attributes, entities];
    let (files_summary, totals) = result?;

    let summary = Summary {
        schema_version: SCHEMA_VERSION,
        files: files_summary,
        totals,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    commit(&opts.out_dir, files, &summary)?;
    Ok(summary)
}

/// Renames the finished (and synced) files into place, the summary last, once the other
/// files' moves are on disk.
fn commit(out_dir: &Path, files: Vec<TempFile>, summary: &Summary) -> Result<()> {
    let summary_file = TempFile::new(out_dir, SUMMARY_FILE);
    let json =
        serde_json::to_vec_pretty(summary).map_err(|e| Error::write(&summary_file.dest, e))?;
    graph_core::durable::write_synced(&summary_file.tmp, &json)
        .map_err(|e| Error::write(&summary_file.dest, e))?;
    let sync_out = || {
        graph_core::durable::sync_dir(out_dir)
            .map_err(|e| Error::write(out_dir, format!("cannot sync the folder: {e}")))
    };
    // Remove the previous run's summary first (on disk before any file is moved in): while
    // the parquet files are being swapped, the folder must not claim to be complete.
    match fs::remove_file(&summary_file.dest) {
        Ok(()) => sync_out()?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::write(&summary_file.dest, e)),
    }
    for f in files {
        f.commit()?;
    }
    sync_out()?;
    summary_file.commit()?;
    sync_out()
}

/// The layout of the columns of `entities.parquet` that do not take the default (see
/// [`Layout`]): which values rarely repeat within a row group, which cannot be compressed, and
/// which ascend. The compression ratios Snappy reached on each at 1M accounts decided it:
/// about 1.2 for the random ids and fingerprints, 1.16 for the anchors.
const ENTITY_LAYOUTS: &[(&str, Layout)] = &[
    ("entity_idx", Layout::Ascending),
    ("entity_id", Layout::Unique),
    ("account_id", Layout::Unique),
    ("anchor_idx", Layout::Uncompressed),
    ("created_at_ms", Layout::Unique),
    ("source_row", Layout::Ascending),
    ("reference_id", Layout::Unique),
    ("email", Layout::Unique),
    ("phone", Layout::Unique),
    ("address_street", Layout::Unique),
    ("gov_id_number", Layout::Unique),
    ("card_fingerprint", Layout::Uncompressed),
    ("bank_account", Layout::Unique),
    ("device_id", Layout::Uncompressed),
    ("browser_fingerprint", Layout::Uncompressed),
    ("ip_address", Layout::Unique),
];

/// The layout of the columns of `attributes.parquet` that do not take the default.
const ATTRIBUTE_LAYOUTS: &[(&str, Layout)] = &[
    ("entity_idx", Layout::Ascending),
    ("value", Layout::Uncompressed),
    (graph_core::ATTRIBUTE_KEY_COLUMN, Layout::Uncompressed),
];

fn write_entities(
    rx: Receiver<WriteMsg>,
    mut entities: ParquetOut,
    mut rejects: ParquetOut,
) -> Result<[TempFile; 2]> {
    for msg in rx {
        match msg {
            WriteMsg::Entities(b) => entities.write(&b)?,
            WriteMsg::Rejects(b) => rejects.write(&b)?,
        }
    }
    Ok([rejects.finish()?, entities.finish()?])
}

fn write_attributes(rx: Receiver<RecordBatch>, mut attributes: ParquetOut) -> Result<TempFile> {
    for b in rx {
        attributes.write(&b)?;
    }
    attributes.finish()
}

fn send<T>(tx: &SyncSender<T>, msg: T) -> Result<()> {
    // A writer only hangs up after an error, which `run` reports instead of this one.
    tx.send(msg)
        .map_err(|_| Error::Internal("a writer thread stopped".to_owned()))
}

fn ingest_all(
    opts: &IngestOptions,
    sources: &[&Source],
    formats: &[Format],
    schemas: Schemas,
    tx: &Sinks,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Vec<FileSummary>, Totals)> {
    let mut state = State {
        ids: Ids::default(),
        files: Vec::new(),
        rejects: Vec::new(),
        anchored: 0,
        schemas,
    };
    let scratch = Scratch {
        caches: (0..rayon::current_num_threads())
            .map(|_| Mutex::new(NormalizeCache::default()))
            .collect(),
        blocks: BlockPool::new(opts.chunk_rows),
    };
    let mut summaries = Vec::with_capacity(sources.len());
    let mut totals = Totals::default();
    let account_sources = sources
        .iter()
        .filter(|s| s.entity_type == EntityType::Account)
        .count();
    let mut accounts_checked = false;
    for (src, &format) in sources.iter().zip(formats) {
        if src.entity_type == EntityType::Inquiry && !accounts_checked {
            check_accounts(&totals, account_sources)?;
            accounts_checked = true;
        }
        let fs = ingest_file(opts, src, format, &mut state, &scratch, tx, progress)?;
        totals.add(&fs);
        progress(Progress::FileFinished {
            path: src.path.clone(),
            summary: fs.clone(),
        });
        summaries.push(fs);
    }
    if !accounts_checked {
        check_accounts(&totals, account_sources)?;
    }
    flush_rejects(&mut state, tx)?;
    totals.inquiries_anchored = state.anchored;
    Ok((summaries, totals))
}

fn check_accounts(totals: &Totals, sources: usize) -> Result<()> {
    if totals.accounts_written == 0 {
        return Err(Error::NoAccountRows {
            sources,
            rows_read: totals.rows_read,
        });
    }
    Ok(())
}

fn normalize_options(base: &NormalizeOptions, mapping: Option<&EntityMapping>) -> NormalizeOptions {
    let mut opts = base.clone();
    if let Some(m) = mapping {
        if let Some(f) = &m.birthdate_format {
            opts.birthdate_format = Some(f.clone());
        }
        if let Some(f) = &m.created_at_format {
            opts.timestamp_format = Some(f.clone());
        }
    }
    opts
}

fn ingest_file(
    opts: &IngestOptions,
    src: &Source,
    format: Format,
    state: &mut State,
    scratch: &Scratch,
    tx: &Sinks,
    progress: &mut dyn FnMut(Progress),
) -> Result<FileSummary> {
    let started = Instant::now();
    let mapping = opts
        .mapping
        .as_ref()
        .and_then(|m| m.for_type(src.entity_type));
    let wanted = wanted_columns(mapping);
    let mut reader = read::open(
        &src.path,
        format,
        mapping.and_then(|m| m.delimiter),
        &wanted,
    )?;
    let plan = Plan::resolve(
        &src.path,
        src.entity_type,
        reader.columns(),
        &|c| reader.observed(c),
        mapping,
    )?;
    let columns: Vec<String> = reader.columns().to_vec();
    let norm_opts = normalize_options(&opts.normalize, mapping);
    let file_name = src.path.display().to_string();
    let file_no = state.files.len() as u32;
    state.files.push(file_name.clone());

    let mut fs = FileSummary {
        path: file_name,
        entity_type: src.entity_type.as_str().to_owned(),
        format: format.as_str().to_owned(),
        ..FileSummary::default()
    };
    let bytes_total = fs::metadata(&src.path).ok().map(|m| m.len());
    let rows_total = reader.rows_total();
    progress(Progress::FileStarted {
        path: src.path.clone(),
        entity_type: src.entity_type,
        format,
        bytes_total,
        rows_total,
    });

    let chunk_rows = opts.chunk_rows;
    let file = FileCtx {
        file_no,
        entity_type: src.entity_type,
        plan: &plan,
        columns: &columns,
        norm: &norm_opts,
        keyer: opts.keyer.as_ref(),
        blocks: &scratch.blocks,
    };
    let (ctx, crx) = sync_channel::<Result<Chunk>>(1);
    let (ntx, nrx) = sync_channel::<Result<Normalised>>(1);
    thread::scope(|scope| -> Result<()> {
        scope.spawn(move || read_loop(reader.as_mut(), chunk_rows, ctx));
        let file = &file;
        let caches = &scratch.caches;
        scope.spawn(move || normalize_loop(file, caches, crx, ntx));
        let mut first = true;
        for msg in nrx {
            let mut n = msg?;
            process_chunk(
                file,
                &n.chunk,
                std::mem::take(&mut n.blocks),
                &mut n.outcomes,
                state,
                &mut fs,
                tx,
            )?;
            if first {
                // Room in the id index for the rest of the file, so it does not grow
                // (rehashing every id) a dozen times on the way; after the first chunk, whose
                // ids tell how long the text of the others will be.
                first = false;
                let read = n.chunk.rows.len() as u64;
                // A CSV row of `k` columns takes at least `k` bytes (separators, line end).
                let min_row_bytes = columns.len().max(8) as u64;
                let more = expected_rows(
                    read,
                    n.chunk.bytes_done,
                    bytes_total,
                    rows_total,
                    min_row_bytes,
                );
                state
                    .ids
                    .reserve(file.entity_type, more.saturating_sub(read as usize));
            }
            progress(Progress::Rows {
                path: src.path.clone(),
                rows_done: fs.rows_read,
                bytes_done: n.chunk.bytes_done,
            });
        }
        Ok(())
    })?;
    fs.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(fs)
}

/// The most rows the id index reserves room for ahead: 2^24, a table of 2^25 buckets of 4
/// bytes, 16 bytes per row for where each id ends and its row number, and the ids' text at
/// the first chunk's average length (0.4 GiB plus 16 MiB per byte of id, untouched until
/// filled) when the guess reaches it; an index that needs more grows past it as before.
const MAX_EXPECTED_ROWS: u64 = 1 << 24;

/// How many rows a file of `rows_total` rows, or of `bytes_total` bytes of which the first
/// `read` rows took `bytes_done`, is expected to have, `read` included: the known total
/// (which a Parquet footer states, so it is bounded too), else an extrapolation from the
/// first rows, at most one per `min_row_bytes` bytes of the rest; never more than
/// [`MAX_EXPECTED_ROWS`]. `read` when neither is known.
fn expected_rows(
    read: u64,
    bytes_done: Option<u64>,
    bytes_total: Option<u64>,
    rows_total: Option<u64>,
    min_row_bytes: u64,
) -> usize {
    let guess = match (rows_total, bytes_done, bytes_total) {
        (Some(rows), _, _) => rows,
        (None, Some(done), Some(total)) if done > 0 => {
            let per_byte = read as f64 / done as f64;
            let rest = total.saturating_sub(done);
            read + ((rest as f64 * per_byte) as u64).min(rest / min_row_bytes.max(1))
        }
        _ => read,
    };
    guess.clamp(read.min(MAX_EXPECTED_ROWS), MAX_EXPECTED_ROWS) as usize
}

fn read_loop(reader: &mut dyn ChunkReader, chunk_rows: usize, tx: SyncSender<Result<Chunk>>) {
    loop {
        match reader.next_chunk(chunk_rows) {
            Ok(Some(chunk)) => {
                if tx.send(Ok(chunk)).is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                // The receiver may be gone already; then the error no longer matters.
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

/// Normalises the chunks `rx` brings and passes them on, in order. Stops when either side
/// hangs up; a read error is passed on.
fn normalize_loop(
    file: &FileCtx<'_>,
    caches: &Caches,
    rx: Receiver<Result<Chunk>>,
    tx: SyncSender<Result<Normalised>>,
) {
    for msg in rx {
        let msg = msg.map(|chunk| {
            let (blocks, outcomes) = chunk
                .rows
                .par_chunks(BLOCK_ROWS)
                .map(|rows| normalize_block(file, &chunk, rows, caches))
                .unzip();
            Normalised {
                chunk,
                blocks,
                outcomes,
            }
        });
        if tx.send(msg).is_err() {
            return;
        }
    }
}

struct FileCtx<'a> {
    file_no: u32,
    entity_type: EntityType,
    plan: &'a Plan,
    columns: &'a [String],
    norm: &'a NormalizeOptions,
    keyer: Option<&'a graph_core::Keyer>,
    blocks: &'a BlockPool,
}

/// Normalises one block of rows on a rayon thread, with that thread's cache.
fn normalize_block(
    file: &FileCtx<'_>,
    chunk: &Chunk,
    rows: &[Row],
    caches: &Caches,
) -> (Block, Vec<Outcome>) {
    let mut guard = rayon::current_thread_index()
        .and_then(|i| caches.get(i))
        .and_then(|m| m.try_lock().ok());
    let mut uncached = NormalizeCache::new(0);
    let cache = match guard.as_deref_mut() {
        Some(c) => c,
        None => &mut uncached,
    };
    let mut block = file.blocks.take(rows.len(), file.keyer.is_some());
    let outcomes = rows
        .iter()
        .map(|row| match row {
            Row::Parsed { first, .. } => normalize_row(file, chunk, *first, cache, &mut block),
            Row::Bad { .. } => Outcome::Unparsed,
        })
        .collect();
    (block, outcomes)
}

/// Normalises one parsed row; its kept strings go to `block`'s arena.
fn normalize_row(
    file: &FileCtx<'_>,
    chunk: &Chunk,
    first: usize,
    cache: &mut NormalizeCache,
    block: &mut Block,
) -> Outcome {
    let concat = file.plan.concat_values(chunk, first);
    let raw = file.plan.record(chunk, first, &concat);
    let Some(id) = raw.id() else {
        let id_field = match file.entity_type {
            EntityType::Account => Field::AccountId,
            EntityType::Inquiry => Field::InquiryId,
        };
        return Outcome::Reject {
            code: "missing_id",
            reason: format!("the row has no `{}`", id_field.name()),
            entity_id: None,
        };
    };
    let norm = match normalize_record_cached(&raw, file.norm, cache) {
        Ok(norm) => norm,
        Err(rej) => {
            return Outcome::Reject {
                code: rej.code,
                reason: rej.message,
                entity_id: Some(id.trim().to_owned()),
            };
        }
    };
    let e = &norm.entity;
    let id = block.push(&e.id);
    let account_id = e.account_id.as_deref().map(|a| block.push(a));
    let status = e.status.as_deref().map(|a| block.push(a));
    let attrs_start = block.attrs.len();
    for a in &norm.attributes {
        // Normalisation borrows the built-in kinds' static names and owns only custom ones.
        let kind = match &a.kind {
            Cow::Borrowed(k) => KindRef::Static(k),
            Cow::Owned(k) => KindRef::Text(block.push(k)),
        };
        let value = block.push(&a.value);
        block.attrs.push((kind, value));
        if let Some(keyer) = file.keyer {
            let key = graph_core::attribute_key(keyer, &mut block.scratch, &a.kind, &a.value);
            block.keys.push(key);
        }
    }
    let attrs = attrs_start..block.attrs.len();
    Outcome::Ok(NormRow {
        id,
        account_id,
        created_at: e.created_at,
        status,
        label: e.label,
        issues: norm.issues,
        concat,
        attrs,
    })
}

/// The raw row as a JSON object (column → value), or the original line for NDJSON.
fn raw_json(chunk: &Chunk, columns: &[String], first: usize, raw: Option<Span>) -> String {
    if let Some(span) = raw {
        return chunk.span_str(span).unwrap_or_default().to_owned();
    }
    let mut map = serde_json::Map::new();
    let mut out = String::from("{");
    for (j, name) in columns.iter().enumerate() {
        if map.contains_key(name) {
            continue; // A repeated header name: the first column wins, as in mapping.
        }
        map.insert(name.clone(), serde_json::Value::Null);
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(name.as_str()).to_string());
        out.push(':');
        match chunk.value(first, j) {
            Some(v) => out.push_str(&serde_json::Value::from(v).to_string()),
            None => out.push_str("null"),
        }
    }
    out.push('}');
    out
}

#[derive(Default)]
struct EntityCols<'a> {
    idx: Vec<u32>,
    id: Vec<&'a str>,
    account_id: Vec<Option<&'a str>>,
    anchor: Vec<u32>,
    created: Vec<Option<i64>>,
    status: Vec<Option<&'a str>>,
    label: Vec<Option<&'static str>>,
    row: Vec<u64>,
    /// `(first span, concatenated values)` of each written row, for the PII columns.
    pii_rows: Vec<(usize, &'a [String])>,
}

/// The attributes of one written row: its entity index, its block and the range of the
/// block's [`Block::attrs`].
struct AttrRow {
    idx: u32,
    block: u32,
    attrs: std::ops::Range<usize>,
}

/// The sequential pass over one normalised chunk: entity indices, duplicates, anchors,
/// rejects; then its frames go to the writer.
fn process_chunk(
    file: &FileCtx<'_>,
    chunk: &Chunk,
    blocks: Vec<Block>,
    outcomes: &mut [Vec<Outcome>],
    state: &mut State,
    fs: &mut FileSummary,
    tx: &Sinks,
) -> Result<()> {
    let rows = chunk.rows.len();
    let mut ents = EntityCols {
        idx: Vec::with_capacity(rows),
        id: Vec::with_capacity(rows),
        account_id: Vec::with_capacity(rows),
        anchor: Vec::with_capacity(rows),
        created: Vec::with_capacity(rows),
        status: Vec::with_capacity(rows),
        label: Vec::with_capacity(rows),
        row: Vec::with_capacity(rows),
        pii_rows: Vec::with_capacity(rows),
    };
    let mut attr_rows: Vec<AttrRow> = Vec::with_capacity(rows);
    fs.rows_read += rows as u64;
    let outcomes = blocks
        .iter()
        .zip(outcomes.iter_mut())
        .enumerate()
        .flat_map(|(b, (block, rows))| rows.iter_mut().map(move |o| (b as u32, block, o)));
    for (row, (block_no, block, outcome)) in chunk.rows.iter().zip(outcomes) {
        let (number, first, raw) = match row {
            Row::Bad {
                number,
                code,
                reason,
                raw,
            } => {
                reject_row(
                    state,
                    fs,
                    file.file_no,
                    *number,
                    None,
                    code,
                    reason.clone(),
                    raw.clone(),
                );
                continue;
            }
            Row::Parsed { number, first, raw } => (*number, *first, *raw),
        };
        // A parsed row rejected after all: its raw text is its columns, as JSON.
        let reject_parsed = |state: &mut State,
                             fs: &mut FileSummary,
                             entity_id: Option<String>,
                             code: &str,
                             reason: String| {
            let raw = raw_json(chunk, file.columns, first, raw);
            reject_row(
                state,
                fs,
                file.file_no,
                number,
                entity_id,
                code,
                reason,
                raw,
            );
        };
        let norm = match outcome {
            Outcome::Unparsed => continue,
            Outcome::Reject {
                code,
                reason,
                entity_id,
            } => {
                reject_parsed(state, fs, entity_id.take(), code, std::mem::take(reason));
                continue;
            }
            Outcome::Ok(norm) => norm,
        };
        let issues = std::mem::take(&mut norm.issues);
        let norm: &NormRow = norm;
        let id = block.get(norm.id);
        let added = state
            .ids
            .add(file.entity_type, id, file.file_no, number)
            .map_err(|_| Error::Internal("more than 4,294,967,295 entities".to_owned()))?;
        let idx = match added {
            Added::New(idx) => idx,
            Added::Repeated(prev) => {
                let prev = state.ids.first_seen(prev);
                let id_field = match file.entity_type {
                    EntityType::Account => "account_id",
                    EntityType::Inquiry => "inquiry_id",
                };
                let reason = format!(
                    "duplicate {id_field} `{id}`: first seen in {} row {}",
                    state
                        .files
                        .get(prev.file as usize)
                        .map(String::as_str)
                        .unwrap_or("?"),
                    prev.row
                );
                reject_parsed(state, fs, Some(id.to_owned()), "duplicate_id", reason);
                continue;
            }
        };

        let (account_id, anchor) = match file.entity_type {
            EntityType::Account => {
                fs.accounts_written += 1;
                (None, idx)
            }
            EntityType::Inquiry => {
                fs.inquiries_written += 1;
                let account_id = norm.account_id.map(|a| block.get(a));
                let anchor = account_id.and_then(|a| state.ids.find(EntityType::Account, a));
                if anchor.is_some() {
                    state.anchored += 1;
                }
                (account_id, anchor.unwrap_or(idx))
            }
        };
        if !issues.is_empty() {
            let raw = raw_json(chunk, file.columns, first, raw);
            for issue in issues {
                fs.fields_dropped += 1;
                *fs.fields_dropped_by_code
                    .entry(issue.code.to_owned())
                    .or_default() += 1;
                state.rejects.push(RejectRow {
                    file: file.file_no,
                    row: number,
                    entity_id: Some(id.to_owned()),
                    field: Some(issue.field.name()),
                    code: issue.code.to_owned(),
                    reason: issue.message,
                    raw: raw.clone(),
                    action: "field_dropped",
                });
            }
        }
        ents.idx.push(idx);
        ents.id.push(id);
        ents.account_id.push(account_id);
        ents.anchor.push(anchor);
        ents.created.push(norm.created_at);
        ents.status.push(norm.status.map(|s| block.get(s)));
        ents.label.push(norm.label.map(|l| l.as_str()));
        ents.row.push(number);
        ents.pii_rows.push((first, &norm.concat));
        attr_rows.push(AttrRow {
            idx,
            block: block_no,
            attrs: norm.attrs.clone(),
        });
    }

    let source_file = state
        .files
        .get(file.file_no as usize)
        .cloned()
        .unwrap_or_default();
    let entities = entities_batch(file, chunk, ents, &source_file, &state.schemas.entities)?;
    let attributes = attributes_batch(&attr_rows, &blocks, &state.schemas.attributes)?;
    file.blocks.put(blocks);
    fs.attributes_written += attributes.num_rows() as u64;
    send(&tx.entities, WriteMsg::Entities(entities))?;
    send(&tx.attributes, attributes)?;
    if state.rejects.len() >= REJECT_BATCH {
        flush_rejects(state, tx)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn reject_row(
    state: &mut State,
    fs: &mut FileSummary,
    file: u32,
    row: u64,
    entity_id: Option<String>,
    code: &str,
    reason: String,
    raw: String,
) {
    fs.rows_rejected += 1;
    *fs.rows_rejected_by_code.entry(code.to_owned()).or_default() += 1;
    state.rejects.push(RejectRow {
        file,
        row,
        entity_id,
        field: None,
        code: code.to_owned(),
        reason,
        raw,
        action: "row_rejected",
    });
}

fn batch(schema: &SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| Error::Internal(format!("building a batch: {e}")))
}

/// A `Utf8View` column of `values`. Values of more than 12 bytes are copied into one data
/// block sized up front (shorter ones live in their views).
fn strings<'a, I>(values: I) -> ArrayRef
where
    I: ExactSizeIterator<Item = Option<&'a str>> + Clone,
{
    let long: usize = values
        .clone()
        .map(|v| v.map_or(0, str::len))
        .filter(|&n| n > 12)
        .sum();
    let mut b = StringViewBuilder::with_capacity(values.len())
        .with_fixed_block_size(long.clamp(1, u32::MAX as usize / 2) as u32);
    for v in values {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

/// A `Utf8View` column of `n` copies of `value`, its text stored once.
fn repeated(value: &str, n: usize) -> Result<ArrayRef> {
    let mut b = StringViewBuilder::with_capacity(n);
    b.try_append_value_n(value, n)
        .map_err(|e| Error::Internal(format!("building a batch: {e}")))?;
    Ok(Arc::new(b.finish()))
}

fn entities_batch(
    file: &FileCtx<'_>,
    chunk: &Chunk,
    ents: EntityCols<'_>,
    source_file: &str,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let n = ents.idx.len();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(ents.idx)),
        strings(ents.id.iter().map(|&s| Some(s))),
        repeated(file.entity_type.as_str(), n)?,
        strings(ents.account_id.iter().copied()),
        Arc::new(UInt32Array::from(ents.anchor)),
        Arc::new(Int64Array::from(ents.created)),
        strings(ents.status.iter().copied()),
        strings(ents.label.iter().copied()),
        repeated(source_file, n)?,
        Arc::new(UInt64Array::from(ents.row)),
    ];
    let pii: Vec<Field> = pii_fields().collect();
    // The present PII columns in the file's column order, filled [`PII_GROUP`] at a time row
    // by row: neighbouring columns' values share the row's cache lines of spans and text,
    // which one column at a time would fetch again for every column.
    let mut present: Vec<(usize, &Src)> = pii
        .iter()
        .enumerate()
        .filter_map(|(i, &f)| Some((i, file.plan.source(f)?)))
        .collect();
    present.sort_by_key(|&(_, src)| match src {
        Src::One(c) => *c,
        Src::Concat { .. } => usize::MAX,
    });
    let pii_rows = &ents.pii_rows;
    // Each value is copied into its column's buffer while the row's text is in cache. Views
    // into the chunk's text arena copied nothing, but arrow checks every view of an array
    // it did not build (bounds and UTF-8), which read the text again, cold, column by
    // column: ~6% of ingest's CPU, against ~7% less ingest time with the copies (1M accounts).
    let filled: Vec<(usize, ArrayRef)> = present
        .par_chunks(PII_GROUP)
        .flat_map_iter(|group| {
            let mut cols: Vec<StringViewBuilder> = group
                .iter()
                .map(|_| StringViewBuilder::with_capacity(n))
                .collect();
            for &(first, concat) in pii_rows {
                for (&(_, src), col) in group.iter().zip(&mut cols) {
                    col.append_option(pii_value(chunk, src, first, concat));
                }
            }
            group.iter().map(|&(i, _)| i).zip(
                cols.into_iter()
                    .map(|mut c| Arc::new(c.finish()) as ArrayRef),
            )
        })
        .collect();
    let mut slots: Vec<Option<ArrayRef>> = vec![None; pii.len()];
    for (i, col) in filled {
        if let Some(slot) = slots.get_mut(i) {
            *slot = Some(col);
        }
    }
    // The absent columns share one array of nulls (empty when none is absent).
    let absent = slots.iter().any(Option::is_none);
    let nulls: ArrayRef = Arc::new(StringViewArray::new_null(if absent { n } else { 0 }));
    columns.extend(
        slots
            .into_iter()
            .map(|slot| slot.unwrap_or_else(|| Arc::clone(&nulls))),
    );
    batch(schema, columns)
}

/// PII columns filled together by one task (see [`entities_batch`]): about a cache line of a
/// row's text.
const PII_GROUP: usize = 4;

/// A row's value of a PII column, trimmed; `None` when null or blank.
fn pii_value<'a>(
    chunk: &'a Chunk,
    src: &Src,
    first: usize,
    concat: &'a [String],
) -> Option<&'a str> {
    let raw = match src {
        Src::One(c) => chunk.value(first, *c)?,
        Src::Concat { slot, .. } => concat.get(*slot)?.as_str(),
    };
    let v = fast_trim(raw);
    (!v.is_empty()).then_some(v)
}

/// The attributes of the written rows, their strings copied from the blocks' text arenas
/// into the columns' own buffers: a copy of these short strings costs about what arrow's
/// check of each view of an arena did, and the blocks go back to their pool
/// ([`BlockPool`]) as soon as the chunk's batches are built.
fn attributes_batch(rows: &[AttrRow], blocks: &[Block], schema: &SchemaRef) -> Result<RecordBatch> {
    let n: usize = rows.iter().map(|r| r.attrs.len()).sum();
    let mut idx = Vec::with_capacity(n);
    let mut kind = StringViewBuilder::with_capacity(n);
    let mut value = StringViewBuilder::with_capacity(n);
    let with_keys = schema
        .field_with_name(graph_core::ATTRIBUTE_KEY_COLUMN)
        .is_ok();
    let mut key = Vec::with_capacity(if with_keys { n } else { 0 });
    let mut filler = BooleanBuilder::with_capacity(if with_keys { n } else { 0 });
    for r in rows {
        let Some(block) = blocks.get(r.block as usize) else {
            return Err(Error::Internal(
                "an attribute row without its block".to_owned(),
            ));
        };
        if with_keys {
            let Some(row_keys) = block.keys.get(r.attrs.clone()) else {
                return Err(Error::Internal(
                    "an attribute row without its key".to_owned(),
                ));
            };
            for &(k, f) in row_keys {
                key.push(k);
                filler.append_value(f);
            }
        }
        for &(k, v) in block.attrs.get(r.attrs.clone()).unwrap_or_default() {
            idx.push(r.idx);
            match k {
                KindRef::Static(s) => kind.append_value(s),
                KindRef::Text(t) => kind.append_value(block.get(t)),
            }
            value.append_value(block.get(v));
        }
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(idx)),
        Arc::new(kind.finish()),
        Arc::new(value.finish()),
    ];
    if with_keys {
        columns.push(Arc::new(UInt64Array::from(key)));
        columns.push(Arc::new(filler.finish()));
    }
    batch(schema, columns)
}

fn flush_rejects(state: &mut State, tx: &Sinks) -> Result<()> {
    if state.rejects.is_empty() {
        return Ok(());
    }
    let rows = std::mem::take(&mut state.rejects);
    let files = &state.files;
    let b = batch(
        &state.schemas.rejects,
        vec![
            strings(rows.iter().map(|r| {
                Some(
                    files
                        .get(r.file as usize)
                        .map(String::as_str)
                        .unwrap_or_default(),
                )
            })),
            Arc::new(rows.iter().map(|r| r.row).collect::<UInt64Array>()),
            strings(rows.iter().map(|r| r.entity_id.as_deref())),
            strings(rows.iter().map(|r| r.field)),
            strings(rows.iter().map(|r| Some(r.code.as_str()))),
            strings(rows.iter().map(|r| Some(r.reason.as_str()))),
            strings(rows.iter().map(|r| Some(r.raw.as_str()))),
            strings(rows.iter().map(|r| Some(r.action))),
        ],
    )?;
    send(&tx.entities, WriteMsg::Rejects(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_rows_trusts_a_known_count_and_extrapolates_from_bytes() {
        assert_eq!(expected_rows(100, None, None, Some(5_000), 8), 5_000);
        // 100 rows in 10 kB of a 1 MB file: 10,000 rows.
        assert_eq!(
            expected_rows(100, Some(10_000), Some(1_000_000), None, 8),
            10_000
        );
        // Tiny first rows do not promise more than a row per `min_row_bytes` of the rest.
        assert_eq!(
            expected_rows(1_000, Some(1_000), Some(81_000), None, 8),
            11_000
        );
        assert_eq!(
            expected_rows(1_000, Some(1_000), Some(81_000), None, 20),
            5_000
        );
        // Nothing known, a file already done, a header-only start, and the bound, also on a
        // footer's claim.
        assert_eq!(expected_rows(7, None, None, None, 8), 7);
        assert_eq!(expected_rows(7, Some(70), Some(70), None, 8), 7);
        assert_eq!(expected_rows(0, Some(0), Some(1 << 40), None, 8), 0);
        assert_eq!(
            expected_rows(1 << 20, Some(1 << 20), Some(1 << 60), None, 8),
            1 << 24
        );
        assert_eq!(expected_rows(5, None, None, Some(u64::MAX), 8), 1 << 24);
    }

    #[test]
    fn pooled_blocks_come_back_empty_with_their_memory_and_the_pool_is_bounded() {
        let pool = BlockPool::new(BLOCK_ROWS + 1);
        let mut b = pool.take(4, true);
        let t = b.push("a value of the first chunk");
        b.attrs.push((KindRef::Static("email"), t));
        b.keys.push((7, true));
        let room = (b.text.capacity(), b.attrs.capacity(), b.keys.capacity());
        pool.put(vec![b]);
        let mut again = pool.take(4, true);
        assert!(again.text.is_empty() && again.attrs.is_empty() && again.keys.is_empty());
        assert_eq!(
            (
                again.text.capacity(),
                again.attrs.capacity(),
                again.keys.capacity()
            ),
            room
        );
        // A reused block's texts start at its beginning again.
        let t = again.push("next");
        assert_eq!((t.start, again.get(t)), (0, "next"));
        // Room for `max` blocks: three chunks' worth, the last block of a chunk counted whole.
        assert_eq!(pool.max, 3 * 2);
        pool.put(vec![again, Block::default()]);
        pool.put((0..10).map(|_| Block::default()).collect());
        assert_eq!(pool.kept.lock().unwrap().len(), pool.max);
        // A block kept from a short chunk comes back with room for a full one.
        let big = pool.take(BLOCK_ROWS, true);
        assert!(big.text.capacity() >= BLOCK_ROWS * 160);
        assert!(big.attrs.capacity() >= BLOCK_ROWS * 12 && big.keys.capacity() >= BLOCK_ROWS * 12);
    }

    #[test]
    fn fast_trim_is_trim() {
        for raw in [
            "",
            " ",
            "x",
            " x",
            "x ",
            "\u{b}x\u{b}",
            "\u{a0}x",
            "x\u{3000}",
            "é",
            " é ",
            "a b",
        ] {
            assert_eq!(fast_trim(raw), raw.trim(), "{raw:?}");
        }
    }
}
