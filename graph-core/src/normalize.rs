//! Normalisation of every value kind, written once and used by the batch and the live path.
//! (Skeleton: the normalisation helper fills this in.)

use crate::record::{Normalized, RawRecord, RowReject};

/// Options for [`normalize_record`].
#[derive(Debug, Clone)]
pub struct NormalizeOptions {
    /// ISO 3166-1 alpha-2 region used to parse phone numbers written without a country code
    /// when the record itself names no country.
    pub default_region: String,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions { default_region: "US".to_owned() }
    }
}

/// Normalises one record into an entity and its attributes.
///
/// # Errors
/// A [`RowReject`] when the row as a whole cannot be used (no id).
pub fn normalize_record(_raw: &RawRecord<'_>, _opts: &NormalizeOptions) -> Result<Normalized, RowReject> {
    todo!()
}
