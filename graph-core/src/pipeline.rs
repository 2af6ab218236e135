//! One batch link run: read the ingest folder, link, find rings, score, write the results.

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::LinkConfig;
use crate::dedupe::{self, BlockReport, DedupeConfig, DedupeResult, Model, RuleStats};
use crate::error::{Error, Result};
use crate::io::{
    SCHEMA_VERSION, TableBuilder, WRITE_CHUNK_ROWS, read_anchors, read_compared,
    read_ingest_entities, read_link_attributes, read_values, write_batch, write_chunks,
};
use crate::keys::{Keyer, key_hex};
use crate::linker::{IdText, KindStats, LinkOutput, base_kind, cluster_id, hash_of_id, link};
use crate::normalize::mask;
use crate::record::EntityType;
use crate::rings::{Reason, RingReport, ring_facts, rings_from};
use crate::score::{Scores, scores};
use crate::table::{Attributes, Entities, LinkInput, RowValues, Values};

/// A ring as the summary shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RingSummary {
    /// Stable cluster id.
    pub cluster_id: String,
    /// Accounts in the ring.
    pub accounts: u32,
    /// Distinct identities.
    pub distinct_identities: u32,
    /// 0–100.
    pub ring_score: f64,
    /// Reason sentences, strongest first.
    pub reasons: Vec<String>,
}

/// What `summary.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Output schema version.
    pub schema_version: u32,
    /// Entities read.
    pub entities: u64,
    /// Accounts among them.
    pub accounts: u64,
    /// Inquiries among them.
    pub inquiries: u64,
    /// Attribute rows read.
    pub attribute_rows: u64,
    /// Clusters with two or more accounts.
    pub linked_clusters: u64,
    /// Accounts in the largest cluster.
    pub largest_cluster_accounts: u64,
    /// Clusters flagged as rings.
    pub rings: u64,
    /// Accounts in rings.
    pub ring_accounts: u64,
    /// Hubs held back.
    pub hubs: u64,
    /// Per kind: rule, cap, counts.
    pub kinds: Vec<KindStats>,
    /// The highest-scoring rings (at most 10).
    pub top_rings: Vec<RingSummary>,
    /// Duplicate detection, when it ran.
    pub duplicates: Option<DuplicateSummary>,
    /// Time per step; the clusters are written beside the values, rings and scores, so the
    /// steps add up to more than `wall_ms`.
    pub timings_ms: Vec<(String, u64)>,
    /// Wall time of the whole run, writing included.
    pub wall_ms: u64,
}

/// What `summary.json` says about duplicate detection.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateSummary {
    /// Records (anchors) compared.
    pub records: u64,
    /// Candidate pairs the blocking rules produced.
    pub candidate_pairs: u64,
    /// Pairs at or above the threshold (rows of `duplicates.parquet`).
    pub pairs: u64,
    /// Duplicate groups of two or more.
    pub groups: u64,
    /// Largest group.
    pub largest_group: u64,
    /// Merges refused so that no group chains unrelated people.
    pub refused_merges: u64,
    /// The prior match weight `log2(λ / (1 − λ))` every pair's weight starts from.
    pub prior_weight: f64,
    /// Match-probability threshold.
    pub threshold: f64,
    /// Whether the model was trained in this run (false: loaded with `--model`).
    pub trained: bool,
    /// EM iterations and whether EM converged (of the model used).
    pub em_iterations: u32,
    /// See `em_iterations`.
    pub em_converged: bool,
    /// What each blocking rule contributed.
    pub rules: Vec<RuleStats>,
    /// Blocks skipped as oversized (keyed hashes, never values), largest first, at most 20.
    pub oversized_blocks: Vec<BlockReport>,
    /// Oversized blocks in all.
    pub oversized_blocks_total: u64,
}

/// Duplicate pairs and groups of one run, with the model that scored them.
#[derive(Debug, Clone)]
pub struct Duplicates {
    /// The model (trained in this run or loaded).
    pub model: Model,
    /// Whether `model` was trained in this run.
    pub trained: bool,
    /// Pairs, groups, reports.
    pub result: DedupeResult,
}

impl Duplicates {
    /// `(a, b, match probability)` per pair, as the entity scores take them.
    pub fn probabilities(&self) -> Vec<(u32, u32, f64)> {
        self.result
            .pairs
            .iter()
            .map(|p| (p.a, p.b, p.match_probability))
            .collect()
    }

    /// The summary of this run.
    pub fn summary(&self) -> DuplicateSummary {
        let r = &self.result;
        let mut oversized = r.oversized_blocks.clone();
        oversized.sort_by(|a, b| {
            b.entity_count
                .cmp(&a.entity_count)
                .then_with(|| a.key_hash.cmp(&b.key_hash))
        });
        let total = oversized.len() as u64;
        oversized.truncate(20);
        DuplicateSummary {
            records: r.stats.records,
            candidate_pairs: r.candidate_pairs,
            pairs: r.pairs.len() as u64,
            groups: r.groups.len() as u64,
            largest_group: r.stats.largest_group,
            refused_merges: r.stats.refused_merges,
            prior_weight: r.stats.prior_weight,
            threshold: r.stats.threshold,
            trained: self.trained,
            em_iterations: self.model.training.em_iterations,
            em_converged: self.model.training.em_converged,
            rules: r.stats.rules.clone(),
            oversized_blocks: oversized,
            oversized_blocks_total: total,
        }
    }
}

/// Finds duplicate identities among the anchors of `input`: trains a model on them, or scores
/// with `model` when one is given (a model saved by an earlier run). `config` gives the
/// detection's settings and the placeholders, which are missing values.
pub fn find_duplicates(
    input: &LinkInput,
    config: &LinkConfig,
    model: Option<&Model>,
) -> Duplicates {
    duplicates_of(
        &dedupe::records_from_input(input, config),
        &config.dedupe,
        model,
    )
}

/// Duplicate detection on an ingest output folder, reading neither the entities (only their
/// anchors) nor the attribute table: the anchors' own values of the kinds compared, then by
/// row the few inquiry values that fill their gaps. Each step's time is added to `timings`.
/// Returns the anchors too, for [`checked_entities`]. `config` as for [`find_duplicates`].
fn duplicates_in_folder(
    in_dir: &Path,
    keyer: &Keyer,
    config: &LinkConfig,
    model: Option<&Model>,
    progress: &mut dyn FnMut(&str),
    timings: &mut Vec<(String, u64)>,
) -> Result<(Duplicates, Vec<u32>)> {
    let mut t = Instant::now();
    progress("duplicates: reading the values compared");
    let anchor = read_anchors(in_dir)?;
    let compared = read_compared(in_dir, &anchor, dedupe::COMPARED_KINDS, config)?;
    timings.push(("read compared rows".to_owned(), ms(t)));
    t = Instant::now();
    progress(DUPLICATE_RECORDS_STEP);
    let records =
        dedupe::records_from_compared(&anchor, keyer, compared, |rows| read_values(in_dir, rows))?;
    timings.push(("duplicate records".to_owned(), ms(t)));
    progress(if model.is_some() {
        "duplicates: scoring pairs with the given model"
    } else {
        "duplicates: training and scoring"
    });
    let dups = duplicates_of(&records, &config.dedupe, model);
    timings.extend(dups.result.stats.timings_ms.iter().cloned());
    Ok((dups, anchor))
}

/// The entities of an ingest output folder, read after duplicate detection found its
/// duplicates from their `anchors`, which they must still have.
///
/// # Errors
/// As [`read_ingest_entities`]; other anchors than duplicate detection read (the folder was
/// rewritten during the run).
pub(crate) fn checked_entities(in_dir: &Path, anchors: Option<&[u32]>) -> Result<Entities> {
    let entities = read_ingest_entities(in_dir)?;
    if anchors.is_some_and(|a| a != entities.anchor.as_slice()) {
        return Err(Error::Schema {
            path: in_dir.join("entities.parquet"),
            message: "the entities changed during the run (was the folder rewritten?)".to_owned(),
        });
    }
    Ok(entities)
}

/// Milliseconds since `t`.
fn ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

fn duplicates_of(
    records: &dedupe::DedupeRecords,
    cfg: &DedupeConfig,
    model: Option<&Model>,
) -> Duplicates {
    match model {
        Some(m) => Duplicates {
            result: dedupe::score_pairs(records, m, cfg),
            model: m.clone(),
            trained: false,
        },
        None => {
            let (model, result) = dedupe::dedupe(records, cfg);
            Duplicates {
                model,
                trained: true,
                result,
            }
        }
    }
}

/// Everything a run computed, for callers that want more than the files.
#[derive(Debug)]
pub struct RunResult {
    /// The input as read. After [`run_link`] its attributes are empty (they are freed once
    /// rings are found, to bound the run's peak memory; after [`link_input`] they are as
    /// given); the values the outputs show are in `values`.
    pub input: LinkInput,
    /// The values of the attribute rows the outputs show: one row per hub and per shared
    /// property ([`Hub::row`](crate::Hub::row), [`SharedProperty::row`](crate::SharedProperty::row)).
    pub values: RowValues,
    /// Clusters, shared properties, hubs.
    pub link: LinkOutput,
    /// Ring reports of multi-anchor clusters.
    pub rings: Vec<RingReport>,
    /// Per-entity scores (held per anchor).
    pub scores: Scores,
    /// Duplicate identities, unless disabled in the configuration. After [`run_link`] the
    /// pairs' `fields` are empty: they were written to `duplicates.parquet` (with the
    /// explanations) before linking, and freed to bound the run's peak memory.
    pub duplicates: Option<Duplicates>,
    /// The summary written to `summary.json`.
    pub summary: RunSummary,
}

/// Links an ingest output folder and writes `clusters`, `rings`, `scores`, `hubs`, `links`
/// Parquet files and `summary.json` into `out_dir`. `progress` is told each step as it starts.
///
/// The files are written into a staging folder inside `out_dir` (`.ringfence-partial`) and
/// moved into place once all of them are written, the previous `summary.json` removed first
/// and the new one moved last: a run that fails leaves the previous run's files as
/// they were, never this run's clusters beside the last run's rings.
///
/// # Errors
/// Unreadable input, unwritable output.
pub fn run_link(
    in_dir: &Path,
    out_dir: &Path,
    config: &LinkConfig,
    keyer: Keyer,
    progress: &mut dyn FnMut(&str),
) -> Result<RunResult> {
    let mut timings = Vec::new();
    let start = Instant::now();
    let mut t = Instant::now();
    // Duplicate detection first, then linking: each is rayon-parallel inside, and at 10M
    // accounts running them side by side held both working sets and the attribute table at
    // once (10.9 GiB). Duplicate detection reads neither the entities nor the attribute
    // table: the anchors, the anchors' own values of the kinds it compares and, by row, the
    // few inquiry values it still needs.
    let (dups, anchors) = if config.dedupe.enabled {
        let (dups, anchors) =
            duplicates_in_folder(in_dir, &keyer, config, None, progress, &mut timings)?;
        timings.push(("duplicates".to_owned(), ms(t)));
        (Some(dups), Some(anchors))
    } else {
        (None, None)
    };
    t = Instant::now();
    progress("reading ingest output");
    let entities = checked_entities(in_dir, anchors.as_deref())?;
    drop(anchors);
    timings.push(("read entities".to_owned(), ms(t)));
    let stage = Staging::new(out_dir)?;
    // The duplicates are written beside reading the attribute table, and the pairs'
    // explanations freed: nothing after needs them, and at 10M accounts they were ~100 MB
    // held through linking, the peak of a run.
    t = Instant::now();
    progress("reading the attribute table");
    let (written, attributes) = rayon::join(
        || {
            let t = Instant::now();
            dups.as_ref()
                .map(|d| write_duplicates(&entities, d, stage.path()).map(|()| ms(t)))
                .transpose()
        },
        || read_link_attributes(in_dir, &entities, &keyer),
    );
    let attributes = attributes?;
    timings.push(("read attributes".to_owned(), ms(t)));
    if let Some(took) = written? {
        timings.push((
            "duplicates written (beside reading attributes)".to_owned(),
            took,
        ));
    }
    let dups = dups.map(|mut d| {
        for p in &mut d.result.pairs {
            p.fields = Vec::new();
        }
        d
    });
    let input = LinkInput {
        entities,
        attributes,
        keyer,
    };
    // `clusters.parquet` needs nothing but the clusters, so it is written while the values
    // are read and rings and scores are found.
    let mut result = link_with(
        input,
        dups,
        config,
        progress,
        &|_, rows| read_values(in_dir, rows),
        &|ents, out| write_clusters(ents, out, stage.path()),
        true,
    )?;
    result.summary.timings_ms.splice(0..0, timings);
    t = Instant::now();
    progress("writing results");
    write_results(&result, stage.path())?;
    result.summary.timings_ms.push(("write".to_owned(), ms(t)));
    result.summary.wall_ms = ms(start);
    write_json(&stage.path().join(SUMMARY), &result.summary)?;
    let stale: &[&str] = if result.duplicates.is_none() {
        &STALE_WITHOUT_DUPLICATES
    } else {
        &[]
    };
    stage.publish(stale)?;
    Ok(result)
}

/// The file whose presence says a run of `ringfence link` completed: moved into place last.
const SUMMARY: &str = "summary.json";

/// Files of an earlier run with duplicate detection that a run without it removes, so they
/// cannot pass for its own.
const STALE_WITHOUT_DUPLICATES: [&str; 2] = ["duplicates.parquet", "dedupe_model.json"];

/// A folder inside an output folder that a run writes its files into before they replace the
/// previous run's ([`Staging::publish`]). Dropped unpublished (the run failed), it is removed
/// with what it holds, and the output folder is as the previous run left it.
struct Staging {
    out_dir: std::path::PathBuf,
    dir: std::path::PathBuf,
    published: bool,
}

impl Staging {
    /// Name of the staging folder inside the output folder (one run at a time per folder; a
    /// stale one from a killed run is removed).
    const NAME: &'static str = ".ringfence-partial";

    fn new(out_dir: &Path) -> Result<Staging> {
        create_dir(out_dir)?;
        let dir = out_dir.join(Self::NAME);
        removed(&dir, std::fs::remove_dir_all(&dir))?;
        // Not synced into the output folder: its files are moved out and it is removed, so
        // whether it survives a crash does not matter.
        std::fs::create_dir(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Staging {
            out_dir: out_dir.to_path_buf(),
            dir,
            published: false,
        })
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    /// Moves every staged file into the output folder, replacing the previous run's, and
    /// removes `stale` files of earlier runs. The previous summary goes first and the new
    /// one comes last: an output folder with a `summary.json` holds one complete run's files
    /// (renames within one folder are atomic; a failure half-way leaves no summary, never a
    /// summary beside files of two runs).
    fn publish(mut self, stale: &[&str]) -> Result<()> {
        let sync_out = || {
            crate::durable::sync_dir(&self.out_dir).map_err(|source| Error::Io {
                path: self.out_dir.clone(),
                source,
            })
        };
        let mut any_removed = false;
        for f in std::iter::once(&SUMMARY).chain(stale) {
            let path = self.out_dir.join(f);
            match std::fs::remove_file(&path) {
                Ok(()) => any_removed = true,
                r => removed(&path, r)?,
            }
        }
        // The removals on disk before any file is moved in.
        if any_removed {
            sync_out()?;
        }
        let mut names = Vec::new();
        let entries = std::fs::read_dir(&self.dir).map_err(|source| Error::Io {
            path: self.dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                path: self.dir.clone(),
                source,
            })?;
            names.push(entry.file_name());
        }
        // The summary last, once the other files' moves are on disk (each file was synced
        // when written); the rest in a fixed order.
        names.sort_by_key(|n| (n == SUMMARY, n.clone()));
        for name in names {
            if name == SUMMARY {
                sync_out()?;
            }
            let (from, to) = (self.dir.join(&name), self.out_dir.join(&name));
            std::fs::rename(&from, &to).map_err(|source| Error::Io { path: to, source })?;
        }
        sync_out()?;
        self.published = true;
        std::fs::remove_dir(&self.dir).map_err(|source| Error::Io {
            path: self.dir.clone(),
            source,
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            // Best effort: the run's error is what the caller needs; a leftover is removed
            // by the next run.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The result of removing `path`, a file or folder that may not be there: gone is done.
fn removed(path: &Path, r: std::io::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Links an in-memory input (no files); its attributes must hold their values.
///
/// # Errors
/// Currently none; reserved for input validation.
pub fn link_input(
    input: LinkInput,
    config: &LinkConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<RunResult> {
    let dups = config
        .dedupe
        .enabled
        .then(|| find_duplicates(&input, config, None));
    link_with(
        input,
        dups,
        config,
        progress,
        &|input, rows| Ok(RowValues::from_attributes(&input.attributes, rows)),
        &|_, _| Ok(()),
        false,
    )
}

/// The progress step of [`run_link`] (and [`link_input`]) in which the linker gathers its
/// postings, sorts them, joins them and forms the clusters: the step that works on the
/// largest freshly allocated lists, which a caller may want to treat apart (the `ringfence`
/// binary gives it transparent huge pages).
pub const LINKING_STEP: &str = "linking";

/// The progress step of duplicate detection that builds its records (each anchor's compared
/// values, filled from its inquiries, interned per field).
pub const DUPLICATE_RECORDS_STEP: &str = "duplicates: building records";

/// Gives the values of attribute rows (ascending) of an input.
type FetchValues<'a> = &'a (dyn Fn(&LinkInput, &[u32]) -> Result<RowValues> + Sync);

/// Work on the clusters alone, done beside the rest of a run once linking is over.
type Beside<'a> = &'a (dyn Fn(&Entities, &LinkOutput) -> Result<()> + Sync);

/// Links, finds rings and scores (with the duplicates `dups` found before, when
/// duplicate detection is on). `fetch` gives the values the outputs show, asked for once,
/// after linking; `beside` runs on a rayon thread beside fetching values, rings and scores
/// (its error wins over theirs). With `free_attributes`, the attribute table is emptied right
/// after linking, once the facts rings need are taken from it ([`ring_facts`]): at 10M
/// accounts it is 3 GB, which was held through the values, rings and the clusters written
/// beside them, one of the two peaks of a run (`fetch` must then not need it).
fn link_with(
    mut input: LinkInput,
    dups: Option<Duplicates>,
    config: &LinkConfig,
    progress: &mut dyn FnMut(&str),
    fetch: FetchValues,
    beside: Beside,
    free_attributes: bool,
) -> Result<RunResult> {
    let mut timings = Vec::new();
    let start = Instant::now();
    let attribute_rows = input.attributes.len() as u64;
    progress(LINKING_STEP);
    let out = link(&input, config);
    timings.extend(out.timings_ms.iter().cloned());
    let t = Instant::now();
    let facts = ring_facts(&input, &out);
    if free_attributes {
        input.attributes = Attributes::default();
    }
    timings.push(("ring facts".to_owned(), ms(t)));
    let beside_result = std::sync::Mutex::new(None);
    // `in_place_scope`: the rest runs on this thread (`progress` need not be `Send`).
    let rest = rayon::in_place_scope(|scope| {
        let ents = &input.entities;
        scope.spawn(|_| {
            let t = Instant::now();
            let r = beside(ents, &out).map(|()| t.elapsed());
            *beside_result.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        });
        let t = Instant::now();
        progress("reading the values the results show");
        let values = fetch(&input, &output_rows(&out))?;
        timings.push(("values".to_owned(), ms(t)));
        let t = Instant::now();
        progress("finding rings");
        let rs = rings_from(&input, &out, &facts, &values, config);
        // Scores need no facts: free them (hundreds of MB at 10M accounts) before scoring.
        drop(facts);
        timings.push(("rings".to_owned(), ms(t)));
        let t = Instant::now();
        progress("scoring");
        let dup_pairs = dups
            .as_ref()
            .map(Duplicates::probabilities)
            .unwrap_or_default();
        let sc = scores(&input, &out, &values, &rs, &dup_pairs, config);
        timings.push(("scores".to_owned(), ms(t)));
        Ok((values, rs, sc))
    });
    match beside_result
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
    {
        Some(Ok(took)) => timings.push((
            "clusters written (beside values, rings, scores)".to_owned(),
            took.as_millis() as u64,
        )),
        Some(Err(e)) => return Err(e),
        None => {}
    }
    let (values, rs, sc) = rest?;

    let ents = &input.entities;
    let accounts = ents
        .types
        .iter()
        .filter(|t| **t == EntityType::Account)
        .count() as u64;
    let mut ranked: Vec<&RingReport> = rs.iter().filter(|r| r.is_ring).collect();
    ranked.sort_by(|a, b| {
        b.ring_score
            .total_cmp(&a.ring_score)
            .then(b.accounts.cmp(&a.accounts))
            .then_with(|| out.cluster_id(a.cluster).cmp(&out.cluster_id(b.cluster)))
    });
    let summary = RunSummary {
        schema_version: SCHEMA_VERSION,
        entities: ents.len() as u64,
        accounts,
        inquiries: ents.len() as u64 - accounts,
        attribute_rows,
        linked_clusters: out.multi_clusters as u64,
        largest_cluster_accounts: out.clusters[..out.multi_clusters]
            .iter()
            .map(|c| c.anchors.len() as u64)
            .max()
            .unwrap_or(if ents.is_empty() { 0 } else { 1 }),
        rings: ranked.len() as u64,
        ring_accounts: ranked.iter().map(|r| r.accounts as u64).sum(),
        hubs: out.hubs.len() as u64,
        kinds: out.kind_stats.clone(),
        top_rings: ranked
            .iter()
            .take(10)
            .map(|r| RingSummary {
                cluster_id: out.cluster_id(r.cluster).into_owned(),
                accounts: r.accounts,
                distinct_identities: r.distinct_identities,
                ring_score: r.ring_score,
                reasons: r
                    .reasons
                    .iter()
                    .filter(|x| x.points > 0.0)
                    .map(|x| x.message.clone())
                    .collect(),
            })
            .collect(),
        duplicates: dups.as_ref().map(Duplicates::summary),
        timings_ms: timings,
        wall_ms: ms(start),
    };
    Ok(RunResult {
        input,
        values,
        link: out,
        rings: rs,
        scores: sc,
        duplicates: dups,
        summary,
    })
}

/// The attribute rows whose values the outputs show (hubs, shared properties), ascending.
fn output_rows(out: &LinkOutput) -> Vec<u32> {
    let mut rows: Vec<u32> = out
        .hubs
        .iter()
        .map(|h| h.row)
        .chain(out.shared.iter().map(|s| s.row))
        .collect();
    rows.par_sort_unstable();
    rows.dedup();
    rows
}

/// What `dedupe_summary.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct DedupeRunSummary {
    /// Output schema version.
    pub schema_version: u32,
    /// Entities read.
    pub entities: u64,
    /// Duplicate detection.
    pub duplicates: DuplicateSummary,
    /// Wall time per step.
    pub timings_ms: Vec<(String, u64)>,
}

/// Duplicate detection on its own: reads an ingest folder, finds duplicate identities
/// (training a model, or scoring with `model`), and writes `duplicates.parquet`,
/// `dedupe_model.json` and `dedupe_summary.json` into `out_dir`. `config` as for
/// [`find_duplicates`].
///
/// # Errors
/// Unreadable input, unwritable output.
pub fn run_dedupe(
    in_dir: &Path,
    out_dir: &Path,
    config: &LinkConfig,
    model: Option<&Model>,
    keyer: Keyer,
    progress: &mut dyn FnMut(&str),
) -> Result<(Entities, Duplicates, DedupeRunSummary)> {
    let mut timings = Vec::new();
    let mut t = Instant::now();
    let (dups, anchors) =
        duplicates_in_folder(in_dir, &keyer, config, model, progress, &mut timings)?;
    timings.push(("duplicates".to_owned(), ms(t)));
    t = Instant::now();
    let entities = checked_entities(in_dir, Some(&anchors))?;
    drop(anchors);
    timings.push(("read entities".to_owned(), ms(t)));
    t = Instant::now();
    progress("writing results");
    create_dir(out_dir)?;
    write_duplicates(&entities, &dups, out_dir)?;
    timings.push(("write".to_owned(), ms(t)));
    let summary = DedupeRunSummary {
        schema_version: SCHEMA_VERSION,
        entities: entities.len() as u64,
        duplicates: dups.summary(),
        timings_ms: timings,
    };
    write_json(&out_dir.join("dedupe_summary.json"), &summary)?;
    crate::durable::sync_dir(out_dir).map_err(|source| Error::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    Ok((entities, dups, summary))
}

fn create_dir(dir: &Path) -> Result<()> {
    crate::durable::create_dir_synced(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `value` as pretty JSON, atomically (a temporary file renamed into place).
fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, &json)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    crate::durable::write_synced(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Writes `duplicates.parquet` (one row per pair, strongest first, with its explanation) and
/// `dedupe_model.json` (the model, for the live service; it holds name frequencies, so treat
/// it as personal data).
fn write_duplicates(ents: &Entities, d: &Duplicates, out_dir: &Path) -> Result<()> {
    let pairs = &d.result.pairs;
    // Group id per anchor: `dg_` + the hash of the group's oldest member, like cluster ids.
    let mut group_of: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
    for g in &d.result.groups {
        let Some(&oldest) = g.iter().min_by(|&&a, &&b| ents.age_order(a, b)) else {
            continue;
        };
        let id = format!("dg_{}", &cluster_id(ents, oldest)[3..]);
        for &m in g {
            group_of.insert(m, id.clone());
        }
    }
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by(|&x, &y| {
        pairs[y]
            .match_weight
            .total_cmp(&pairs[x].match_weight)
            .then((pairs[x].a, pairs[x].b).cmp(&(pairs[y].a, pairs[y].b)))
    });
    let ps = || order.iter().map(|&i| &pairs[i]);
    let group = |p: &crate::dedupe::PairScore| {
        let (ga, gb) = (group_of.get(&p.a), group_of.get(&p.b));
        (ga.is_some() && ga == gb).then(|| ga.cloned()).flatten()
    };
    let table = TableBuilder::new()
        .str("entity_a", ps().map(|p| &ents.ids[p.a as usize]))
        .str("entity_b", ps().map(|p| &ents.ids[p.b as usize]))
        .f64("match_probability", ps().map(|p| p.match_probability))
        .f64("match_weight", ps().map(|p| p.match_weight))
        .opt_str("group_id", ps().map(group))
        .str_list("fields", ps().map(|p| p.fields.iter().map(|f| f.field)))
        .str_list("levels", ps().map(|p| p.fields.iter().map(|f| f.level)))
        .f64_list(
            "weights",
            ps().map(|p| p.fields.iter().map(|f| f.weight).collect()),
        )
        .str(
            "explanation",
            ps().map(|p| explain(d.model.prior_weight(), p)),
        )
        .finish()?;
    write_batch(&out_dir.join("duplicates.parquet"), &table)?;
    write_atomic(
        &out_dir.join("dedupe_model.json"),
        d.model.to_json().as_bytes(),
    )
}

/// `prior -13.2; first_name exact +6.1; last_name jaro_winkler>=0.92 +4.0; …` (no values, so
/// the explanation carries no personal data).
fn explain(prior: f64, p: &crate::dedupe::PairScore) -> String {
    let mut s = format!("prior {prior:+.2}");
    for f in p.fields.iter().filter(|f| f.level != "null") {
        s.push_str(&format!("; {} {} {:+.2}", f.field, f.level, f.weight));
    }
    s
}

/// Builds and writes one output table.
type WriteTask = fn(&RunResult, &Path) -> Result<()>;

/// Writes every output table but `clusters.parquet` (written beside the end of linking by
/// [`write_clusters`]) and `duplicates.parquet` (written before linking). Each table is
/// built and written by its own task: Parquet encoding and compression are single-threaded
/// per file, so the files are written side by side (the first error wins).
fn write_results(r: &RunResult, out_dir: &Path) -> Result<()> {
    let tasks: [WriteTask; 4] = [write_rings, write_scores, write_hubs, write_links];
    tasks.par_iter().try_for_each(|task| task(r, out_dir))
}

/// The cluster id of entity `e`.
fn cluster_id_of(out: &LinkOutput, e: usize) -> std::borrow::Cow<'_, str> {
    out.cluster_id(out.cluster_of[e])
}

fn write_clusters(ents: &Entities, out: &LinkOutput, out_dir: &Path) -> Result<()> {
    let path = out_dir.join("clusters.parquet");
    // Each cluster's id as the hash it is written from: the singletons' hashes are kept as
    // such, and the other clusters' (a few percent) are read back from their ids once, so
    // an id is formatted from 8 bytes looked up by cluster, with no string behind it.
    let hashes: Option<Vec<u64>> = out.clusters.par_iter().map(|c| hash_of_id(&c.id)).collect();
    let Some(hashes) = hashes else {
        return write_cluster_ids(ents, out, &path, |b, rows| {
            b.str("cluster_id", rows.map(|e| cluster_id_of(out, e)))
        });
    };
    let hash = |ci: u32| match hashes.get(ci as usize) {
        Some(&h) => h,
        None => out.singles.hash[ci as usize - hashes.len()],
    };
    write_cluster_ids(ents, out, &path, |b, rows| {
        b.ascii_fixed(
            "cluster_id",
            rows.map(|e| IdText::of(hash(out.cluster_of[e])).bytes()),
        )
    })
}

/// Writes `clusters.parquet`, `cluster_ids(table, rows)` adding the `cluster_id` column of
/// entities `rows`.
fn write_cluster_ids(
    ents: &Entities,
    out: &LinkOutput,
    path: &Path,
    cluster_ids: impl Fn(TableBuilder, std::ops::Range<usize>) -> TableBuilder + Sync,
) -> Result<()> {
    debug_assert_eq!(out.cluster_of.len(), ents.len());
    write_chunks(
        path,
        ents.len(),
        WRITE_CHUNK_ROWS,
        &["entity_id", "cluster_id"],
        |rows| {
            let b = TableBuilder::new()
                .ids("entity_id", &ents.ids, rows.clone())
                .str(
                    "entity_type",
                    ents.types[rows.clone()].iter().map(|t| t.as_str()),
                );
            cluster_ids(b, rows).finish()
        },
    )
}

fn write_rings(r: &RunResult, out_dir: &Path) -> Result<()> {
    let out = &r.link;
    let rs = &r.rings;
    let rings = TableBuilder::new()
        .str("cluster_id", rs.iter().map(|x| out.cluster_id(x.cluster)))
        .u32("size", rs.iter().map(|x| x.accounts))
        .u32("entities", rs.iter().map(|x| x.entities))
        .u32(
            "distinct_identities",
            rs.iter().map(|x| x.distinct_identities),
        )
        .bool("is_ring", rs.iter().map(|x| x.is_ring))
        .f64("ring_score", rs.iter().map(|x| x.ring_score))
        .str_list(
            "reasons",
            rs.iter()
                .map(|x| x.reasons.iter().map(|r| r.message.as_str())),
        )
        .str_list(
            "reason_codes",
            rs.iter().map(|x| x.reasons.iter().map(|r| r.code)),
        )
        .str_list("strong_kinds", rs.iter().map(|x| &x.strong_kinds))
        .u32("burst_accounts", rs.iter().map(|x| x.burst_accounts))
        .u32("fraud_labels", rs.iter().map(|x| x.fraud_labels))
        .bool("synthetic_gov_id", rs.iter().map(|x| x.synthetic_gov_id))
        .bool(
            "synthetic_name_dob",
            rs.iter().map(|x| x.synthetic_name_dob),
        )
        .u32("identity_reuse", rs.iter().map(|x| x.identity_reuse))
        .bool("household", rs.iter().map(|x| x.household))
        .timestamp_ms("first_seen", rs.iter().map(|x| x.first_seen))
        .timestamp_ms("last_seen", rs.iter().map(|x| x.last_seen))
        .finish()?;
    write_batch(&out_dir.join("rings.parquet"), &rings)
}

impl RunResult {
    /// Entity `e`'s score (0 without reasons) and its reasons, largest first: its anchor's.
    pub fn score_of(&self, e: usize) -> (f64, &[Reason]) {
        self.scores.of(&self.input.entities.anchor, e)
    }
}

fn write_scores(r: &RunResult, out_dir: &Path) -> Result<()> {
    let ents = &r.input.entities;
    let path = out_dir.join("scores.parquet");
    write_chunks(
        &path,
        ents.len(),
        WRITE_CHUNK_ROWS,
        &["entity_id"],
        |rows| {
            let sc: Vec<(f64, &[Reason])> = rows.clone().map(|e| r.score_of(e)).collect();
            TableBuilder::new()
                .ids("entity_id", &ents.ids, rows.clone())
                .str("entity_type", ents.types[rows].iter().map(|t| t.as_str()))
                .f64("score", sc.iter().map(|s| s.0))
                .str_list(
                    "reasons",
                    sc.iter().map(|s| s.1.iter().map(|r| r.message.as_str())),
                )
                .str_list(
                    "reason_codes",
                    sc.iter().map(|s| s.1.iter().map(|r| r.code)),
                )
                .finish()
        },
    )
}

fn write_hubs(r: &RunResult, out_dir: &Path) -> Result<()> {
    let values = &r.values;
    let out = &r.link;
    let hubs = TableBuilder::new()
        .str(
            "kind",
            out.hubs.iter().map(|h| out.kinds[h.kind as usize].as_str()),
        )
        .str(
            "masked_value",
            out.hubs
                .iter()
                .map(|h| mask(base_kind(&out.kinds[h.kind as usize]), values.value(h.row))),
        )
        .str("property_key", out.hubs.iter().map(|h| key_hex(h.key)))
        .u32("entity_count", out.hubs.iter().map(|h| h.entity_count))
        .str("reason", out.hubs.iter().map(|h| h.reason.as_str()))
        .finish()?;
    write_batch(&out_dir.join("hubs.parquet"), &hubs)
}

fn write_links(r: &RunResult, out_dir: &Path) -> Result<()> {
    let ents = &r.input.entities;
    let values = &r.values;
    let out = &r.link;
    // One row per (anchor, property) membership that produced a link: the explanation of
    // every link in the graph. Key and masked value are formatted once per property.
    let props: Vec<(&str, String, String)> = out
        .shared
        .par_iter()
        .map(|s| {
            let kind = out.kinds[s.kind as usize].as_str();
            (
                kind,
                key_hex(s.key),
                mask(base_kind(kind), values.value(s.row)),
            )
        })
        .collect();
    let rows: Vec<(usize, usize)> = out
        .shared
        .iter()
        .enumerate()
        .flat_map(|(p, s)| s.anchors.iter().map(move |&a| (a as usize, p)))
        .collect();
    let links = TableBuilder::new()
        .str("entity_id", rows.iter().map(|&(e, _)| &ents.ids[e]))
        .str(
            "cluster_id",
            rows.iter().map(|&(e, _)| cluster_id_of(out, e)),
        )
        .str("kind", rows.iter().map(|&(_, p)| props[p].0))
        .str(
            "property_key",
            rows.iter().map(|&(_, p)| props[p].1.as_str()),
        )
        .str(
            "masked_value",
            rows.iter().map(|&(_, p)| props[p].2.as_str()),
        )
        .finish()?;
    write_batch(&out_dir.join("links.parquet"), &links)
}
