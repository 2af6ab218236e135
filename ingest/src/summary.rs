//! The run summary written to `ingest_summary.json` and returned by [`crate::run`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counts for one input file.
///
/// `rows_read = accounts_written + inquiries_written + rows_rejected` always holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSummary {
    /// The file, as given.
    pub path: String,
    /// `account` or `inquiry`.
    pub entity_type: String,
    /// The format it was read as.
    pub format: String,
    /// Data rows read (header and blank lines excluded; unparseable lines included).
    pub rows_read: u64,
    /// Account entities written.
    pub accounts_written: u64,
    /// Inquiry entities written.
    pub inquiries_written: u64,
    /// Rows rejected as a whole (`action = row_rejected`).
    pub rows_rejected: u64,
    /// Field values dropped from kept rows (`action = field_dropped`).
    pub fields_dropped: u64,
    /// Rejected rows by reject code.
    pub rows_rejected_by_code: BTreeMap<String, u64>,
    /// Dropped fields by issue code.
    pub fields_dropped_by_code: BTreeMap<String, u64>,
    /// Rows of `attributes.parquet` produced from this file.
    pub attributes_written: u64,
    /// Wall time spent on this file.
    pub elapsed_ms: u64,
}

/// Counts over all files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Number of input files.
    pub files: u64,
    /// See [`FileSummary::rows_read`].
    pub rows_read: u64,
    /// Entities written (accounts + inquiries) = rows of `entities.parquet`.
    pub entities_written: u64,
    /// See [`FileSummary::accounts_written`].
    pub accounts_written: u64,
    /// See [`FileSummary::inquiries_written`].
    pub inquiries_written: u64,
    /// See [`FileSummary::rows_rejected`].
    pub rows_rejected: u64,
    /// See [`FileSummary::fields_dropped`].
    pub fields_dropped: u64,
    /// See [`FileSummary::rows_rejected_by_code`].
    pub rows_rejected_by_code: BTreeMap<String, u64>,
    /// See [`FileSummary::fields_dropped_by_code`].
    pub fields_dropped_by_code: BTreeMap<String, u64>,
    /// Rows of `attributes.parquet`.
    pub attributes_written: u64,
    /// Inquiries whose `account_id` names a known account.
    pub inquiries_anchored: u64,
}

/// The result of an ingest run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Version of the output schemas ([`crate::SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Per input file, in processing order (accounts first).
    pub files: Vec<FileSummary>,
    /// Over all files.
    pub totals: Totals,
    /// Wall time of the whole run.
    pub elapsed_ms: u64,
}

impl Totals {
    pub(crate) fn add(&mut self, f: &FileSummary) {
        self.files += 1;
        self.rows_read += f.rows_read;
        self.accounts_written += f.accounts_written;
        self.inquiries_written += f.inquiries_written;
        self.entities_written += f.accounts_written + f.inquiries_written;
        self.rows_rejected += f.rows_rejected;
        self.fields_dropped += f.fields_dropped;
        self.attributes_written += f.attributes_written;
        for (k, v) in &f.rows_rejected_by_code {
            *self.rows_rejected_by_code.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &f.fields_dropped_by_code {
            *self.fields_dropped_by_code.entry(k.clone()).or_default() += v;
        }
    }
}
