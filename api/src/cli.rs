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
    /// Score link results against ground truth.
    Eval {
        /// Ground truth CSV (account_id, person_id, ring_id).
        #[arg(long)]
        truth: PathBuf,
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
        /// Database URL.
        #[arg(long, default_value = "ringfence.db", env = "RINGFENCE__STORE__URL")]
        db: String,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
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
    });
    if user { 2 } else { 1 }
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
        } => {
            let settings = GraphSettings::load(secret_file, region.as_deref())?;
            ingest_files(&accounts, &inquiries, mapping.as_deref(), &settings, &out)?;
        }
        Command::Link {
            dir,
            out,
            config,
            top,
        } => {
            let settings = GraphSettings::load(secret_file, None)?;
            let summary = link_dir(&dir, &out, config.as_deref(), &settings)?;
            print!("{}", render_link_summary(&summary, &out, top));
        }
        Command::Eval {
            truth,
            results,
            json,
        } => {
            let report = eval(&truth, &results)?;
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
            )?;
            let summary = link_dir(&canonical, &results, None, &settings)?;
            print!("{}", render_link_summary(&summary, &results, 5));
            let report = eval(&data.join("truth.csv"), &results)?;
            println!();
            print!("{}", render_eval(&report));
        }
        Command::Serve(args) => {
            let settings = GraphSettings::load(secret_file, None)?;
            crate::serve::run(args, &settings)?;
        }
        Command::Keys { command } => crate::serve::keys(command)?,
        Command::Export { db, out } => {
            let settings = GraphSettings::load(secret_file, None)?;
            crate::serve::export(&db, &out, &settings)?;
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
        chunk_rows: 262_144,
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

fn link_dir(
    dir: &Path,
    out: &Path,
    config: Option<&Path>,
    settings: &GraphSettings,
) -> anyhow::Result<RunSummary> {
    let config = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                UserError(format!("cannot read link config {}: {e}", path.display()))
            })?;
            LinkConfig::from_toml_str(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => LinkConfig::default(),
    };
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
    let mut p = Progress::new("link");
    let result = graph_core::run_link(dir, out, &config, settings.keyer(), &mut |s| p.step(s))?;
    p.finish();
    Ok(result.summary)
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
    let total: u64 = s.timings_ms.iter().map(|t| t.1).sum();
    let _ = writeln!(
        o,
        "Time: {} ms ({}).",
        total,
        s.timings_ms
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
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
        "\nResults in {}: clusters, rings, scores, hubs, links (.parquet), summary.json",
        out.display()
    );
    o
}

fn eval(truth: &Path, results: &Path) -> anyhow::Result<EvalReport> {
    let truth_rows = ingest::read_truth(truth)?;
    Ok(graph_core::eval::evaluate_results_dir(
        &truth_rows,
        results,
    )?)
}

/// The readable evaluation report.
pub fn render_eval(r: &EvalReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Evaluation over {} accounts ({} missing from results)",
        r.accounts, r.missing_from_results
    );
    let prf = |o: &mut String, name: &str, p: &graph_core::eval::Prf| {
        let _ = writeln!(
            o,
            "  {name:<22} precision {:.4}  recall {:.4}  F1 {:.4}  (tp {}, predicted {}, actual {})",
            p.precision, p.recall, p.f1, p.true_positives, p.predicted, p.actual
        );
    };
    prf(&mut o, "ring pairs", &r.ring_pairs);
    prf(&mut o, "ring members", &r.ring_members);
    let _ = writeln!(o, "  {:<22} {:.4}", "score AUC (ring)", r.score_auc);
    let _ = writeln!(
        o,
        "  {:<22} {} predicted / {} planted; largest cluster {} accounts vs largest planted ring {}",
        "rings", r.predicted_rings, r.true_rings, r.largest_cluster_accounts, r.largest_true_ring
    );
    o
}
