//! The `ringfence` command line: flags are parsed by clap, resolved into validated settings,
//! then each command calls the engine crates.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use graph_core::eval::EvalReport;
use graph_core::{EntityType, LinkConfig, RunSummary};

use crate::progress::Progress;
use crate::settings::GraphSettings;

/// Ringfence: find fraud rings and duplicate identities in accounts and inquiries.
#[derive(Debug, Parser)]
#[command(name = "ringfence", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
    /// File holding the deployment's key secret (overrides RINGFENCE__GRAPH__KEY_SECRET).
    #[arg(long, global = true, value_name = "FILE")]
    pub key_secret_file: Option<PathBuf>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a synthetic population with planted fraud rings and ground truth.
    Generate {
        /// Number of accounts.
        #[arg(long, default_value_t = 10_000)]
        accounts: usize,
        /// Random seed; the same seed gives the same files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output folder (accounts.csv, inquiries.csv, truth.csv).
        #[arg(long)]
        out: PathBuf,
    },
    /// Normalise raw account and inquiry files into canonical Parquet.
    Ingest {
        /// Account files (CSV, TSV, NDJSON or Parquet).
        #[arg(long, required = true, num_args = 1..)]
        accounts: Vec<PathBuf>,
        /// Inquiry files.
        #[arg(long, num_args = 1..)]
        inquiries: Vec<PathBuf>,
        /// Column mapping file (TOML) for inputs with other column names.
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Region for phone numbers without a country code (ISO 3166-1 alpha-2).
        #[arg(long)]
        region: Option<String>,
        /// Output folder (entities, attributes, rejects Parquet and ingest_summary.json).
        #[arg(long)]
        out: PathBuf,
        /// Rows read and normalised at a time, 1,024 to 1,048,576: fewer hold less memory,
        /// more spread fixed costs over more rows (each chunk's accepted rows, up to 65,536,
        /// are one row group of `entities.parquet`).
        #[arg(long, default_value_t = ingest::DEFAULT_CHUNK_ROWS as u32,
              value_parser = clap::value_parser!(u32).range(1_024..=1_048_576))]
        chunk_rows: u32,
    },
    /// Link an ingest folder: clusters, rings, scores, hubs.
    Link {
        /// Ingest output folder.
        dir: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Link configuration (TOML); defaults apply to everything it leaves out.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Rings to show on stdout.
        #[arg(long, default_value_t = 5)]
        top: usize,
    },
    /// Find duplicate identities in an ingest folder (`ringfence link` does this too).
    Dedupe {
        /// Ingest output folder.
        dir: PathBuf,
        /// Output folder (duplicates.parquet, dedupe_model.json, dedupe_summary.json).
        #[arg(long)]
        out: PathBuf,
        /// Link configuration (TOML); its `[dedupe]` section applies.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Score with this saved model (a `dedupe_model.json`) instead of training one.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Pairs to show on stdout.
        #[arg(long, default_value_t = 5)]
        top: usize,
    },
    /// Score link or dedupe results against ground truth.
    Eval {
        /// Ground truth: a CSV (account_id, person_id, ring_id), or with `--mapping` any
        /// CSV/TSV table whose truth columns the mapping's `[accounts.truth]` names.
        #[arg(long)]
        truth: PathBuf,
        /// Mapping file describing the truth table (id column, `[accounts.truth] person_id`).
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Folder written by `ringfence link`.
        #[arg(long)]
        results: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Generate a small population, ingest it, link it and show the top rings.
    Demo {
        /// Number of accounts.
        #[arg(long, default_value_t = 20_000)]
        accounts: usize,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Working folder (default: ./ringfence-demo).
        #[arg(long, default_value = "ringfence-demo")]
        dir: PathBuf,
    },
    /// Serve the live graph over HTTP: accounts and inquiries in, risk scores out.
    Serve(crate::serve::ServeArgs),
    /// Manage API keys.
    Keys {
        /// The key command.
        #[command(subcommand)]
        command: crate::serve::KeysCommand,
    },
    /// Write the store and the graph's view of it to Parquet for analysts.
    Export {
        /// Database (a SQLite file or `postgres://…`), as for `serve`.
        #[arg(long, default_value = "ringfence.db", env = "RINGFENCE__STORE__URL")]
        db: crate::settings::DbUrl,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Link configuration (TOML), as given to `serve`: the graph exported is the one the
        /// service computes with it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Duplicate model, as given to `serve --dedupe-model`; without it a model is trained
        /// on the store's records, as the service does.
        #[arg(long, value_name = "FILE")]
        dedupe_model: Option<PathBuf>,
    },
}

/// An error caused by the user's input or flags (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// Exit code for an error: 2 for user errors, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let user = e.chain().any(|c| {
        c.downcast_ref::<UserError>().is_some()
            || c.downcast_ref::<graph_core::Error>()
                .is_some_and(graph_core::Error::is_user_error)
            || c.downcast_ref::<ingest::Error>()
                .is_some_and(ingest::Error::is_user_error)
            || c.downcast_ref::<crate::store::StoreError>()
                .is_some_and(crate::store::StoreError::is_user_error)
    });
    if user { 2 } else { 1 }
}

/// Turns transparent huge pages off for the process, before linking or duplicate detection
/// (the steps that do better with them turn them back on: [`huge_pages_for_step`]). The
/// allocator asks for huge pages, and the kernel zeroes 2 MiB at the first touch of each: a
/// 10M-account link spent 43 s of system time there against 27 s without, and peaked 118 MB
/// higher (BENCHMARKS.md, twelfth session; outputs equal). Ingest fills its buffers whole
/// and was slower without them, so it keeps them. Where the kernel refuses, the run goes on
/// as before.
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(error = %e, "transparent huge pages stay on");
    }
}

/// Transparent huge pages for two steps of a link (the second for `ringfence dedupe` too),
/// off for the others: linking ([`graph_core::LINKING_STEP`]: gathering, sorting and joining
/// hundreds of millions of postings at 10M accounts, then taking the facts rings need and
/// freeing the attribute table) and building the duplicate records
/// ([`graph_core::DUPLICATE_RECORDS_STEP`]), which fill large fresh lists, where 4 KiB pages
/// cost a fault each and many TLB misses. The reads, which take fresh pages while the page
/// cache fills memory, were slower with huge pages, and training and scoring the duplicates
/// no faster (BENCHMARKS.md, twelfth, twentieth and twenty-first sessions). Where the kernel
/// refuses, the run goes on as before.
fn huge_pages_for_step(step: &str) {
    #[cfg(not(target_os = "linux"))]
    let _ = step;
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(
        step != graph_core::LINKING_STEP && step != graph_core::DUPLICATE_RECORDS_STEP,
    ) {
        tracing::debug!(error = %e, step, "transparent huge pages unchanged");
    }
}

/// The progress callback of a link or dedupe run: each step gets its huge-pages setting
/// ([`huge_pages_for_step`]), then is shown.
fn run_steps(p: &mut Progress) -> impl FnMut(&str) + '_ {
    move |s| {
        huge_pages_for_step(s);
        p.step(s);
    }
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever the command fails with; see [`exit_code`].
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let secret_file = cli.key_secret_file.as_deref();
    match cli.command {
        Command::Generate {
            accounts,
            seed,
            out,
        } => {
            generate(accounts, seed, &out)?;
        }
        Command::Ingest {
            accounts,
            inquiries,
            mapping,
            region,
            out,
            chunk_rows,
        } => {
            let settings = GraphSettings::load(secret_file, region.as_deref())?;
            let chunk_rows = chunk_rows as usize;
            ingest_files(
                &accounts,
                &inquiries,
                mapping.as_deref(),
                &settings,
                &out,
                chunk_rows,
            )?;
        }
        Command::Link {
            dir,
            out,
            config,
            top,
        } => {
            let settings = GraphSettings::load(secret_file, None)?;
            without_huge_pages();
            let summary = link_dir(&dir, &out, config.as_deref(), &settings)?;
            print!("{}", render_link_summary(&summary, &out, top));
        }
        Command::Dedupe {
            dir,
            out,
            config,
            model,
            top,
        } => {
            let settings = GraphSettings::load(secret_file, None)?;
            without_huge_pages();
            let summary = dedupe_dir(&dir, &out, config.as_deref(), model.as_deref(), &settings)?;
            print!("{}", render_dedupe_summary(&summary, &out, top)?);
        }
        Command::Eval {
            truth,
            mapping,
            results,
            json,
        } => {
            let report = eval(&truth, mapping.as_deref(), &results)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render_eval(&report));
            }
        }
        Command::Demo {
            accounts,
            seed,
            dir,
        } => {
            let settings = GraphSettings::load(secret_file, None)?;
            let data = dir.join("data");
            let canonical = dir.join("canonical");
            let results = dir.join("results");
            generate(accounts, seed, &data)?;
            ingest_files(
                &[data.join("accounts.csv")],
                &[data.join("inquiries.csv")],
                None,
                &settings,
                &canonical,
                ingest::DEFAULT_CHUNK_ROWS,
            )?;
            without_huge_pages();
            let summary = link_dir(&canonical, &results, None, &settings)?;
            print!("{}", render_link_summary(&summary, &results, 5));
            let report = eval(&data.join("truth.csv"), None, &results)?;
            println!();
            print!("{}", render_eval(&report));
        }
        Command::Serve(args) => {
            let settings = GraphSettings::load(secret_file, None)?;
            crate::serve::run(args, &settings)?;
        }
        Command::Keys { command } => crate::serve::keys(command)?,
        Command::Export {
            db,
            out,
            config,
            dedupe_model,
        } => {
            let settings = GraphSettings::load(secret_file, None)?;
            let config = load_config(config.as_deref())?;
            let model = dedupe_model.as_deref().map(load_model).transpose()?;
            crate::serve::export(db.expose(), &out, &settings, config, model)?;
        }
    }
    Ok(())
}

fn generate(accounts: usize, seed: u64, out: &Path) -> anyhow::Result<()> {
    if accounts == 0 {
        bail!(UserError("--accounts must be at least 1".into()));
    }
    let mut p = Progress::new("generate");
    p.step(&format!(
        "generating {accounts} accounts (seed {seed}) into {}",
        out.display()
    ));
    let cfg = datasets::Config::new(accounts, seed);
    let summary = datasets::generate_to_dir(&cfg, out, &mut |n| p.count("accounts", n))
        .with_context(|| format!("generating into {}", out.display()))?;
    p.finish();
    eprintln!(
        "generated {} accounts, {} inquiries, {} planted rings ({} ring accounts, largest {})",
        summary.accounts,
        summary.inquiries,
        summary.rings,
        summary.ring_accounts,
        summary.largest_ring
    );
    Ok(())
}

fn ingest_files(
    accounts: &[PathBuf],
    inquiries: &[PathBuf],
    mapping: Option<&Path>,
    settings: &GraphSettings,
    out: &Path,
    chunk_rows: usize,
) -> anyhow::Result<()> {
    let mapping = mapping.map(ingest::Mapping::from_toml_file).transpose()?;
    let sources = accounts
        .iter()
        .map(|p| ingest::Source {
            path: p.clone(),
            entity_type: EntityType::Account,
            format: None,
        })
        .chain(inquiries.iter().map(|p| ingest::Source {
            path: p.clone(),
            entity_type: EntityType::Inquiry,
            format: None,
        }))
        .collect();
    let opts = ingest::IngestOptions {
        sources,
        mapping,
        out_dir: out.to_path_buf(),
        normalize: graph_core::NormalizeOptions {
            default_region: settings.default_region.clone(),
            ..Default::default()
        },
        chunk_rows,
        keyer: Some(settings.keyer()),
    };
    let mut p = Progress::new("ingest");
    let summary = ingest::run(&opts, &mut |ev| match ev {
        ingest::Progress::FileStarted { path, .. } => {
            p.step(&format!("reading {}", path.display()))
        }
        ingest::Progress::Rows { rows_done, .. } => p.count("rows", rows_done),
        _ => {}
    })?;
    p.finish();
    eprintln!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// The link configuration in `config`, or the defaults without one.
///
/// # Errors
/// A user error for an unreadable file; the configuration's own error, in context, for an
/// unusable one.
pub(crate) fn load_config(config: Option<&Path>) -> anyhow::Result<LinkConfig> {
    Ok(match config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                UserError(format!("cannot read link config {}: {e}", path.display()))
            })?;
            LinkConfig::from_toml_str(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => LinkConfig::default(),
    })
}

/// The duplicate model saved in `path` (a `dedupe_model.json`).
///
/// # Errors
/// A user error for an unreadable file or an unusable model.
pub(crate) fn load_model(path: &Path) -> anyhow::Result<graph_core::dedupe::Model> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UserError(format!("cannot read model {}: {e}", path.display())))?;
    graph_core::dedupe::Model::from_json(&text)
        .map_err(|e| UserError(format!("{}: not a usable model: {e}", path.display())).into())
}

fn check_ingest_dir(dir: &Path, settings: &GraphSettings) -> anyhow::Result<()> {
    if settings.key_secret_is_default {
        eprintln!(
            "warning: no key secret configured ({}); property keys use the public development secret",
            crate::settings::KEY_SECRET_ENV
        );
    }
    if !dir.join("entities.parquet").exists() {
        bail!(UserError(format!(
            "{} has no entities.parquet; run `ringfence ingest … --out {}` first",
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

fn link_dir(
    dir: &Path,
    out: &Path,
    config: Option<&Path>,
    settings: &GraphSettings,
) -> anyhow::Result<RunSummary> {
    let config = load_config(config)?;
    check_ingest_dir(dir, settings)?;
    let mut p = Progress::new("link");
    let result = graph_core::run_link(dir, out, &config, settings.keyer(), &mut run_steps(&mut p))?;
    p.finish();
    let summary = result.summary.clone();
    // The result holds millions of small allocations (ids, clusters, reasons); freeing them
    // one by one took a noticeable share of a run. A command exits right after, so they are
    // freed on a thread of their own that the exit does not wait for.
    std::thread::spawn(move || drop(result));
    Ok(summary)
}

fn dedupe_dir(
    dir: &Path,
    out: &Path,
    config: Option<&Path>,
    model: Option<&Path>,
    settings: &GraphSettings,
) -> anyhow::Result<graph_core::DedupeRunSummary> {
    let config = load_config(config)?;
    let model = model.map(load_model).transpose()?;
    check_ingest_dir(dir, settings)?;
    let mut p = Progress::new("dedupe");
    let (_, _, summary) = graph_core::run_dedupe(
        dir,
        out,
        &config,
        model.as_ref(),
        settings.keyer(),
        &mut run_steps(&mut p),
    )?;
    p.finish();
    Ok(summary)
}

fn render_duplicates(o: &mut String, d: &graph_core::DuplicateSummary) {
    let _ = writeln!(
        o,
        "{} duplicate pairs in {} groups (largest {}) among {} records; {} candidate pairs, \
         {} oversized blocks skipped, {} merges refused; prior weight {:+.2}, threshold {}{}.",
        d.pairs,
        d.groups,
        d.largest_group,
        d.records,
        d.candidate_pairs,
        d.oversized_blocks_total,
        d.refused_merges,
        d.prior_weight,
        d.threshold,
        if d.trained {
            if d.em_converged {
                format!(", EM converged in {} iterations", d.em_iterations)
            } else {
                format!(", EM did NOT converge in {} iterations", d.em_iterations)
            }
        } else {
            ", model loaded".to_owned()
        }
    );
}

/// The readable summary `ringfence dedupe` prints: counts and the strongest pairs with their
/// explanations (entity ids and comparison levels only, no personal data).
///
/// # Errors
/// The duplicates file cannot be read back.
pub fn render_dedupe_summary(
    s: &graph_core::DedupeRunSummary,
    out: &Path,
    top: usize,
) -> anyhow::Result<String> {
    let mut o = String::new();
    render_duplicates(&mut o, &s.duplicates);
    let total: u64 = s.timings_ms.iter().map(|t| t.1).sum();
    let _ = writeln!(o, "Time: {total} ms.");
    if top > 0 && s.duplicates.pairs > 0 {
        let cols = graph_core::read_columns(
            &out.join("duplicates.parquet"),
            &["entity_a", "entity_b", "match_probability", "explanation"],
        )?;
        let _ = writeln!(o, "\nStrongest pairs:");
        let cell = |c: &Option<String>| c.clone().unwrap_or_default();
        let rows = cols[0]
            .iter()
            .zip(&cols[1])
            .zip(cols[2].iter().zip(&cols[3]))
            .take(top);
        for ((a, b), (p, why)) in rows {
            let _ = writeln!(
                o,
                "  {} ~ {}  p={}\n      {}",
                cell(a),
                cell(b),
                cell(p),
                cell(why)
            );
        }
    }
    let _ = writeln!(
        o,
        "\nResults in {}: duplicates.parquet, dedupe_model.json, dedupe_summary.json",
        out.display()
    );
    Ok(o)
}

/// The readable summary `ringfence link` prints.
pub fn render_link_summary(s: &RunSummary, out: &Path, top: usize) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Linked {} entities ({} accounts, {} inquiries, {} attributes).",
        s.entities, s.accounts, s.inquiries, s.attribute_rows
    );
    let _ = writeln!(
        o,
        "{} linked clusters (largest: {} accounts), {} rings with {} accounts, {} hubs held back.",
        s.linked_clusters, s.largest_cluster_accounts, s.rings, s.ring_accounts, s.hubs
    );
    let _ = writeln!(
        o,
        "Time: {} ms ({}).",
        s.wall_ms,
        s.timings_ms
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(d) = &s.duplicates {
        render_duplicates(&mut o, d);
    }
    if !s.top_rings.is_empty() {
        let _ = writeln!(o, "\nTop rings:");
    }
    for (i, r) in s.top_rings.iter().take(top).enumerate() {
        let _ = writeln!(
            o,
            "{:>2}. {}  score {:>3.0}  {} accounts, {} identities",
            i + 1,
            r.cluster_id,
            r.ring_score,
            r.accounts,
            r.distinct_identities
        );
        for reason in &r.reasons {
            let _ = writeln!(o, "      - {reason}");
        }
    }
    let _ = writeln!(
        o,
        "\nResults in {}: clusters, rings, scores, hubs, links{} (.parquet), summary.json",
        out.display(),
        if s.duplicates.is_some() {
            ", duplicates (+ dedupe_model.json)"
        } else {
            ""
        }
    );
    o
}

/// What `ringfence eval` reports: the full report for link results, or only the duplicate
/// pairs for a folder `ringfence dedupe` wrote.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Evaluation {
    /// Link results.
    Link(EvalReport),
    /// Dedupe results.
    Dedupe {
        /// Accounts in the truth.
        accounts: u64,
        /// Duplicate pairs vs pairs of accounts with the same true identity.
        duplicate_pairs: graph_core::eval::Prf,
    },
}

fn eval(truth: &Path, mapping: Option<&Path>, results: &Path) -> anyhow::Result<Evaluation> {
    let truth_rows = match mapping {
        Some(m) => ingest::read_truth_mapped(truth, &ingest::Mapping::from_toml_file(m)?)?,
        None => ingest::read_truth(truth)?,
    };
    if results.join("clusters.parquet").exists() {
        Ok(Evaluation::Link(graph_core::eval::evaluate_results_dir(
            &truth_rows,
            results,
        )?))
    } else if results.join("duplicates.parquet").exists() {
        Ok(Evaluation::Dedupe {
            accounts: truth_rows.len() as u64,
            duplicate_pairs: graph_core::eval::evaluate_duplicates_file(
                &truth_rows,
                &results.join("duplicates.parquet"),
            )?,
        })
    } else {
        bail!(UserError(format!(
            "{} holds neither clusters.parquet (`ringfence link`) nor duplicates.parquet (`ringfence dedupe`)",
            results.display()
        )))
    }
}

/// The readable evaluation report.
pub fn render_eval(e: &Evaluation) -> String {
    let mut o = String::new();
    let r = match e {
        Evaluation::Link(r) => r,
        Evaluation::Dedupe {
            accounts,
            duplicate_pairs,
        } => {
            let _ = writeln!(o, "Evaluation over {accounts} accounts");
            prf(&mut o, "duplicate pairs", duplicate_pairs);
            return o;
        }
    };
    let _ = writeln!(
        o,
        "Evaluation over {} accounts ({} missing from results)",
        r.accounts, r.missing_from_results
    );
    prf(&mut o, "ring pairs", &r.ring_pairs);
    prf(&mut o, "ring members", &r.ring_members);
    let _ = writeln!(o, "  {:<22} {:.4}", "score AUC (ring)", r.score_auc);
    let _ = writeln!(
        o,
        "  {:<22} {} predicted / {} planted; largest cluster {} accounts vs largest planted ring {}",
        "rings", r.predicted_rings, r.true_rings, r.largest_cluster_accounts, r.largest_true_ring
    );
    let _ = writeln!(
        o,
        "  {:<22} {} predicted without a planted member, {} planted with no member flagged",
        "ring errors", r.rings_without_planted_member, r.planted_rings_missed
    );
    if let Some(d) = &r.duplicate_pairs {
        prf(&mut o, "duplicate pairs", d);
    }
    o
}

fn prf(o: &mut String, name: &str, p: &graph_core::eval::Prf) {
    let _ = writeln!(
        o,
        "  {name:<22} precision {:.4}  recall {:.4}  F1 {:.4}  (tp {}, predicted {}, actual {})",
        p.precision, p.recall, p.f1, p.true_positives, p.predicted, p.actual
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_are_off_but_for_two_link_steps() {
        // One test, as the setting is the process's.
        super::without_huge_pages();
        assert!(rustix::thread::transparent_huge_pages_are_disabled().unwrap());
        for on in [graph_core::DUPLICATE_RECORDS_STEP, graph_core::LINKING_STEP] {
            super::huge_pages_for_step(on);
            assert!(!rustix::thread::transparent_huge_pages_are_disabled().unwrap());
            super::huge_pages_for_step("reading the values the results show");
            assert!(rustix::thread::transparent_huge_pages_are_disabled().unwrap());
        }
    }
}
