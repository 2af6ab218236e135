//! One batch link run: read the ingest folder, link, find rings, score, write the results.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::config::LinkConfig;
use crate::error::{Error, Result};
use crate::io::{SCHEMA_VERSION, TableBuilder, read_ingest_dir, write_batch};
use crate::keys::{Keyer, key_hex};
use crate::linker::{KindStats, LinkOutput, base_kind, link};
use crate::normalize::mask;
use crate::record::EntityType;
use crate::rings::{RingReport, rings};
use crate::score::{EntityScore, scores};
use crate::table::LinkInput;

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
    /// Wall time per step.
    pub timings_ms: Vec<(String, u64)>,
}

/// Everything a run computed, for callers that want more than the files.
#[derive(Debug)]
pub struct RunResult {
    /// The input as read.
    pub input: LinkInput,
    /// Clusters, shared properties, hubs.
    pub link: LinkOutput,
    /// Ring reports of multi-anchor clusters.
    pub rings: Vec<RingReport>,
    /// Per-entity scores.
    pub scores: Vec<EntityScore>,
    /// The summary written to `summary.json`.
    pub summary: RunSummary,
}

/// Links an ingest output folder and writes `clusters`, `rings`, `scores`, `hubs`, `links`
/// Parquet files and `summary.json` into `out_dir`. `progress` is told each step as it starts.
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
    let mut t = Instant::now();
    progress("reading ingest output");
    let input = read_ingest_dir(in_dir, keyer)?;
    timings.push(("read".to_owned(), t.elapsed().as_millis() as u64));
    let mut result = link_input(input, config, progress)?;
    result.summary.timings_ms.splice(0..0, timings);
    t = Instant::now();
    progress("writing results");
    write_results(&result, out_dir)?;
    result
        .summary
        .timings_ms
        .push(("write".to_owned(), t.elapsed().as_millis() as u64));
    let json = serde_json::to_vec_pretty(&result.summary).map_err(|e| Error::Parquet {
        path: out_dir.join("summary.json"),
        message: e.to_string(),
    })?;
    std::fs::write(out_dir.join("summary.json"), json).map_err(|source| Error::Io {
        path: out_dir.join("summary.json"),
        source,
    })?;
    Ok(result)
}

/// Links an in-memory input (no files).
///
/// # Errors
/// Currently none; reserved for input validation.
pub fn link_input(
    input: LinkInput,
    config: &LinkConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<RunResult> {
    let mut timings = Vec::new();
    progress("linking");
    let out = link(&input, config);
    timings.extend(out.timings_ms.iter().cloned());
    let t = Instant::now();
    progress("finding rings");
    let rs = rings(&input, &out, config);
    timings.push(("rings".to_owned(), t.elapsed().as_millis() as u64));
    let t = Instant::now();
    progress("scoring");
    let sc = scores(&input, &out, &rs, &[], config);
    timings.push(("scores".to_owned(), t.elapsed().as_millis() as u64));

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
            .then_with(|| {
                out.clusters[a.cluster as usize]
                    .id
                    .cmp(&out.clusters[b.cluster as usize].id)
            })
    });
    let summary = RunSummary {
        schema_version: SCHEMA_VERSION,
        entities: ents.len() as u64,
        accounts,
        inquiries: ents.len() as u64 - accounts,
        attribute_rows: input.attributes.len() as u64,
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
                cluster_id: out.clusters[r.cluster as usize].id.clone(),
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
        timings_ms: timings,
    };
    Ok(RunResult {
        input,
        link: out,
        rings: rs,
        scores: sc,
        summary,
    })
}

fn write_results(r: &RunResult, out_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let ents = &r.input.entities;
    let attrs = &r.input.attributes;
    let out = &r.link;
    let cid = |e: usize| out.clusters[out.cluster_of[e] as usize].id.as_str();

    let clusters = TableBuilder::new()
        .str("entity_id", ents.ids.iter())
        .str("entity_type", ents.types.iter().map(|t| t.as_str()))
        .str("cluster_id", (0..ents.len()).map(cid))
        .finish()?;
    write_batch(&out_dir.join("clusters.parquet"), &clusters)?;

    let rs = &r.rings;
    let rings = TableBuilder::new()
        .str(
            "cluster_id",
            rs.iter()
                .map(|x| out.clusters[x.cluster as usize].id.as_str()),
        )
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
                .map(|x| x.reasons.iter().map(|r| r.message.clone()).collect()),
        )
        .str_list(
            "reason_codes",
            rs.iter()
                .map(|x| x.reasons.iter().map(|r| r.code.to_owned()).collect()),
        )
        .str_list("strong_kinds", rs.iter().map(|x| x.strong_kinds.clone()))
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
    write_batch(&out_dir.join("rings.parquet"), &rings)?;

    let sc = &r.scores;
    let scores = TableBuilder::new()
        .str("entity_id", ents.ids.iter())
        .str("entity_type", ents.types.iter().map(|t| t.as_str()))
        .f64("score", sc.iter().map(|s| s.score))
        .str_list(
            "reasons",
            sc.iter()
                .map(|s| s.reasons.iter().map(|r| r.message.clone()).collect()),
        )
        .str_list(
            "reason_codes",
            sc.iter()
                .map(|s| s.reasons.iter().map(|r| r.code.to_owned()).collect()),
        )
        .finish()?;
    write_batch(&out_dir.join("scores.parquet"), &scores)?;

    let hubs = TableBuilder::new()
        .str(
            "kind",
            out.hubs.iter().map(|h| out.kinds[h.kind as usize].as_str()),
        )
        .str(
            "masked_value",
            out.hubs
                .iter()
                .map(|h| mask(base_kind(&out.kinds[h.kind as usize]), attrs.value(h.row))),
        )
        .str("property_key", out.hubs.iter().map(|h| key_hex(h.key)))
        .u32("entity_count", out.hubs.iter().map(|h| h.entity_count))
        .str("reason", out.hubs.iter().map(|h| h.reason.as_str()))
        .finish()?;
    write_batch(&out_dir.join("hubs.parquet"), &hubs)?;

    // One row per (anchor, property) membership that produced a link: the explanation of
    // every link in the graph.
    let mut l_entity = Vec::new();
    let mut l_kind = Vec::new();
    let mut l_key = Vec::new();
    let mut l_mask = Vec::new();
    for s in &out.shared {
        let kind = out.kinds[s.kind as usize].as_str();
        let masked = mask(base_kind(kind), attrs.value(s.row));
        for &a in &s.anchors {
            l_entity.push(a as usize);
            l_kind.push(kind);
            l_key.push(key_hex(s.key));
            l_mask.push(masked.clone());
        }
    }
    let links = TableBuilder::new()
        .str("entity_id", l_entity.iter().map(|&e| ents.ids[e].as_str()))
        .str("cluster_id", l_entity.iter().map(|&e| cid(e)))
        .str("kind", l_kind.iter())
        .str("property_key", l_key.iter())
        .str("masked_value", l_mask.iter())
        .finish()?;
    write_batch(&out_dir.join("links.parquet"), &links)?;
    Ok(())
}
