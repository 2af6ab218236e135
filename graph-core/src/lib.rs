//! Ringfence graph engine: normalisation, keyed property keys, link rules, the rayon-parallel
//! linker, stable clusters, rings and scores.
//!
//! graph-core knows no HTTP, SQL, async runtime or polars; its columnar interchange is
//! Arrow/Parquet (arrow-rs). It never reads environment variables: secrets and settings come in
//! as arguments.
//!
//! ```
//! use graph_core::{EntityType, Field, Keyer, LinkConfig, LinkInput, NormalizeOptions, RawRecord};
//!
//! let opts = NormalizeOptions::default();
//! let records: Vec<_> = [("a1", "+1 (415) 555-2671"), ("a2", "4155552671"), ("a3", "+44 7700 900123")]
//!     .iter()
//!     .map(|(id, phone)| {
//!         let raw = RawRecord::new(EntityType::Account)
//!             .with(Field::AccountId, id)
//!             .with(Field::Phone, phone);
//!         graph_core::normalize_record(&raw, &opts).unwrap()
//!     })
//!     .collect();
//! let input = LinkInput::from_records(&records, Keyer::new(b"example secret"));
//! let out = graph_core::link(&input, &LinkConfig::default());
//! // a1 and a2 share a phone number written two ways; a3 stands alone.
//! assert_eq!(out.cluster_of[0], out.cluster_of[1]);
//! assert_ne!(out.cluster_of[0], out.cluster_of[2]);
//! ```
mod config;
pub mod dedupe;
pub mod durable;
mod error;
pub mod eval;
mod io;
mod keys;
mod linker;
mod live;
pub mod normalize;
mod pipeline;
mod record;
mod rings;
mod score;
mod sort;
mod table;
mod uf;

pub use config::{Cap, HubConfig, KindRule, LinkConfig, LinkMode, RingConfig, STRONG, ScoreConfig};
pub use error::{Error, Result};
pub use io::{
    ATTRIBUTE_FILLER_COLUMN, ATTRIBUTE_KEY_COLUMN, KEY_CHECK_METADATA, ParallelWriter,
    SCHEMA_VERSION, TableBuilder, attribute_key, read_columns, read_ingest_dir,
    read_ingest_dir_kinds, write_batch,
};
pub use keys::{Keyer, key_hex};
pub use linker::{
    Cluster, Hub, HubReason, KindStats, LinkOutput, SharedProperty, Singles, base_kind, cluster_id,
    link,
};
pub use live::{
    Change, ClusterView, DEFAULT_SYNC_RESCORE_LIMIT, DuplicateView, HubView, LiveGraph,
    MemoryReport, PropertyView, RescoreJob, Risk,
};
pub use normalize::{
    DEFAULT_CACHE_ENTRIES, NormalizeCache, NormalizeOptions, normalize_record,
    normalize_record_cached,
};
pub use pipeline::{
    DUPLICATE_RECORDS_STEP, DedupeRunSummary, DuplicateSummary, Duplicates, LINKING_STEP,
    RingSummary, RunResult, RunSummary, find_duplicates, link_input, run_dedupe, run_link,
};
pub use record::{
    Attribute, Entity, EntityType, Field, FieldIssue, Label, Normalized, RawRecord, RowReject,
    kinds,
};
pub use rings::{Reason, RingReport};
pub use score::{EntityScore, Scores};
pub use table::{Attributes, Entities, EntityIds, LinkInput, RowValues};
pub use uf::ConcurrentUnionFind;
