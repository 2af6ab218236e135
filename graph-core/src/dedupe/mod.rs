//! Probabilistic duplicate-identity detection (Fellegi–Sunter, trained without labels).
//!
//! Two accounts are duplicates when they claim the same identity: the same person
//! registering twice with typos, or many accounts opened under one stolen identity. The
//! pipeline:
//!
//! 1. **Records** ([`records_from_input`]): one per anchor (an account, or an inquiry without
//!    a known account) with first name, last name, birthdate, government id number, email,
//!    phone and address, columnar with interned strings.
//! 2. **Blocking** ([`DedupeConfig::blocking`]): records sharing a key under any rule
//!    (gov id; phonetic surname + birthdate with day/month unordered; email local part;
//!    phone; address + birth year; postal code + birthdate; …) are compared, each pair once.
//!    A block over [`DedupeConfig::max_block_size`] is skipped and reported, so a record has
//!    fewer than that many candidates per rule however large the population grows.
//! 3. **Comparisons**: per field a level (`exact`, `jaro_winkler>=0.92`,
//!    `transposed_day_month`, `one_edit`, `same_local_part`, `token_jaccard>=0.5`, `else`,
//!    or `null` when a side is missing).
//! 4. **Model** ([`train`]): u from random pairs, m and the prior λ by EM over the candidate
//!    pairs, term frequencies for names; see [`Model`] for the estimation details.
//! 5. **Scores** ([`score_pairs`], [`dedupe`]): the match weight of a pair is the prior weight
//!    plus one `log2(m/u)` per field, its probability `2^w / (1 + 2^w)`; each pair carries
//!    its per-field explanation, which adds up to the weight. Pairs at or above
//!    [`DedupeConfig::threshold`] are matches and form groups in which every two members
//!    match.
//! 6. **Live path** ([`score_record`], [`DedupeIndex`]): a new record is blocked and scored
//!    against the batch's records with a reloaded model ([`Model::from_json`]). The live
//!    graph keeps a [`LiveBlocks`] index current record by record and scores pairs with
//!    [`PairScorer`], so its duplicates equal a batch run's.
//!
//! Everything is deterministic (the random pair sample is seeded; parallel steps collect in
//! a fixed order) and rayon-parallel where the work is per pair or per record.
//!
//! ```
//! use graph_core::dedupe::{self, DedupeConfig};
//! use graph_core::{EntityType, Field, Keyer, LinkConfig, LinkInput, NormalizeOptions, RawRecord};
//!
//! let rows = [
//!     ("a1", "Jennifer", "Okafor", "1984-03-07", "123-45-6780"),
//!     ("a2", "Jenifer", "Okafor", "1984-07-03", "123-45-6780"),
//!     ("a3", "Mark", "Lee", "1990-01-01", "987-65-4329"),
//! ];
//! let opts = NormalizeOptions::default();
//! let records: Vec<_> = rows
//!     .iter()
//!     .map(|(id, first, last, dob, ssn)| {
//!         let raw = RawRecord::new(EntityType::Account)
//!             .with(Field::AccountId, id)
//!             .with(Field::NameFirst, first)
//!             .with(Field::NameLast, last)
//!             .with(Field::Birthdate, dob)
//!             .with(Field::GovIdNumber, ssn)
//!             .with(Field::GovIdCountry, "US");
//!         graph_core::normalize_record(&raw, &opts).unwrap()
//!     })
//!     .collect();
//! let input = LinkInput::from_records(&records, Keyer::new(b"example secret"));
//! let recs = dedupe::records_from_input(&input, &LinkConfig::default());
//! let cfg = DedupeConfig::default();
//! let (model, result) = dedupe::dedupe(&recs, &cfg);
//! // a1 and a2 (a typo and a day/month swap) are one identity; a3 is someone else.
//! assert_eq!(result.pairs.len(), 1);
//! assert_eq!((result.pairs[0].a, result.pairs[0].b), (0, 1));
//! assert_eq!(result.groups, vec![vec![0, 1]]);
//! // The explanation of every pair adds up to its weight.
//! for p in &result.pairs {
//!     let sum = p.fields.iter().fold(model.prior_weight(), |acc, f| acc + f.weight);
//!     assert_eq!(sum, p.match_weight);
//! }
//! // The model survives a JSON round trip for the live service.
//! let reloaded = dedupe::Model::from_json(&model.to_json()).unwrap();
//! assert_eq!(reloaded, model);
//! ```

mod blocking;
mod compare;
mod config;
mod eval;
mod model;
mod records;
mod score;

pub use blocking::{BlockReport, DedupeIndex, LiveBlocks, RuleStats};
pub use config::{BlockKey, BlockingRule, DedupeConfig, FixedM};
pub use eval::{duplicate_pair_prf, person_ids};
pub use model::{
    ComparisonModel, LevelModel, MODEL_VERSION, Model, TermFrequencies, TrainingReport,
};
pub use records::{
    COMPARED_KINDS, Column, ComparedRows, DedupeRecord, DedupeRecords, NULL, records_from_compared,
    records_from_input,
};
pub use score::{
    DedupeResult, DedupeStats, FieldScore, NEW_RECORD, PairScore, PairScorer, dedupe, score_pairs,
    score_record, train,
};

#[cfg(test)]
mod tests;
