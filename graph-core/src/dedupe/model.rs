//! The Fellegi–Sunter model ([`Model`]): per comparison level an m and a u probability,
//! term frequencies for names, the prior; and how they are estimated without labels.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

use super::blocking::Candidates;
use super::compare::{
    ADDRESS, ADDRESS_GIVEN_LAST_NAME, ADDRESS_GIVEN_PHONE, COMPARISONS, EXACT, FIRST_NAME,
    LAST_NAME, MAX_CODES, NCOMP, NROWS, NameCache, PHONE, code, compare_cached, row_def, row_of,
};
use super::config::DedupeConfig;
use super::records::{Column, DedupeRecords, NULL};

/// Version of the model's JSON layout; [`Model::from_json`] refuses other versions.
pub const MODEL_VERSION: u32 = 1;

/// A trained duplicate model. Serialise it with [`Model::to_json`] so the live service can
/// reload it ([`Model::from_json`]) and score new records against the batch's records.
///
/// # Estimation
/// * **u** (how often a level occurs between two *different* identities) comes from random
///   record pairs, because almost every random pair is a non-match. The `exact` level is
///   computed exactly from value counts instead, `Σ c(c−1) / n(n−1)`: exact agreement on an id
///   is far too rare for a sample of a million pairs to measure. The other levels are sampled
///   (seeded, deterministic) and share the remaining mass; a level never seen in the sample
///   gets half an observation.
/// * **m** (how often a level occurs between two records of the *same* identity) and the
///   prior **λ** (the probability that two random records match) come from
///   expectation–maximisation over the candidate pairs, with u held fixed (as Splink does).
///   The E step uses the *global* prior, the probability over all `n(n−1)/2` pairs, and
///   the pairs that blocking did not produce are taken as non-matches. That is the EM over
///   all pairs with the non-candidates' negligible posteriors dropped, and it keeps EM from
///   mistaking the blocked non-matches (which agree on their blocking key far more often than
///   random pairs) for matches. Term frequencies are not used during EM, only in scoring.
/// * m and u are conditional on both values being present; a missing value is level `null`
///   with weight 0. m is floored at [`DedupeConfig::m_floor`] and u at half an observation,
///   so no level ever has probability 0 or 1.
///
/// # Term frequencies
/// An exact match on a name counts `log2(m_exact / f(v))` where `f(v)` is the share of
/// records holding that value (Splink's term-frequency adjustment): a shared rare surname is
/// stronger evidence than a shared "smith". When the first names are equal too, the last
/// name counts `log2(m_exact / f(last | first))`, the share of records with that first name
/// that also carry that last name: first and last names travel together (both come from one
/// naming culture), so "nguyen" after "thi" is far less surprising than "nguyen" alone, and
/// two equal full names are weighed by how common the *full* name is. Values held by one
/// record only are not stored (the model would otherwise list every unique name); they, and
/// values never seen, count as held by one record.
///
/// # Address given phone or surname
/// The address levels have a second set of m and u used when the phone numbers are equal,
/// and a third when only the last names are equal, because a household shares its address
/// together with a landline or a surname and the two are not independent evidence: u of
/// their `exact` level is the share of record pairs sharing the phone (the surname) that
/// also share an address, computed from value counts, and m is estimated by EM from the pairs
/// in that situation. They appear in explanations as levels such as `exact|phone_exact`.
///
/// # Fixed m
/// [`DedupeConfig::fixed_m`] holds levels out of EM (by default a wholly different id
/// number, see there for why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// [`MODEL_VERSION`].
    pub version: u32,
    /// Prior: the probability that two records drawn at random are the same identity.
    #[serde(with = "exact_f64")]
    pub lambda: f64,
    /// One entry per comparison, in the fixed order `first_name`, `last_name`, `birthdate`,
    /// `gov_id`, `email`, `phone`, `address`.
    pub comparisons: Vec<ComparisonModel>,
    /// The address levels used when the phone numbers are equal (field
    /// `address|phone_exact`), then when only the last names are equal
    /// (`address|last_name_exact`); see the module docs.
    pub conditional: Vec<ComparisonModel>,
    /// Counts of `first|last` name combinations, for the last-name weight given an equal
    /// first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_pairs: Option<TermFrequencies>,
    /// How the model was trained.
    pub training: TrainingReport,
}

/// The levels of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonModel {
    /// Field name.
    pub field: String,
    /// Levels other than `null`, strongest first.
    pub levels: Vec<LevelModel>,
    /// Value frequencies for the term-frequency adjustment of the `exact` level (names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_frequencies: Option<TermFrequencies>,
}

/// m and u of one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelModel {
    /// Level name (e.g. `exact`, `jaro_winkler>=0.92`, `else`).
    pub level: String,
    /// P(level | same identity, both values present).
    #[serde(with = "exact_f64")]
    pub m: f64,
    /// P(level | different identities, both values present).
    #[serde(with = "exact_f64")]
    pub u: f64,
    /// Whether m was fixed by the configuration rather than estimated.
    #[serde(default)]
    pub m_fixed: bool,
}

/// Value counts of one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermFrequencies {
    /// Records with a value.
    pub total: u64,
    /// Values held by at least two records, with their counts.
    pub counts: BTreeMap<String, u32>,
}

impl TermFrequencies {
    /// Records holding `value` (values not listed count as held by one).
    pub fn count(&self, value: &str) -> u32 {
        self.counts.get(value).copied().unwrap_or(1).max(1)
    }

    /// The share of records holding `value` (values not listed count as held by one).
    pub fn frequency(&self, value: &str) -> f64 {
        f64::from(self.count(value)) / self.total.max(1) as f64
    }
}

/// Facts about a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingReport {
    /// Records trained on.
    pub records: u64,
    /// Candidate pairs EM ran over.
    pub candidate_pairs: u64,
    /// Random pairs compared for u.
    pub u_pairs: u64,
    /// EM iterations run.
    pub em_iterations: u32,
    /// Whether EM met its tolerance before the iteration limit.
    pub em_converged: bool,
    /// Expected number of matching pairs (λ times all pairs).
    pub expected_matches: f64,
}

impl Model {
    /// The model as pretty-printed JSON (deterministic: term frequencies are sorted).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a model written by [`Model::to_json`].
    ///
    /// # Errors
    /// [`Error::Config`] when the JSON does not parse, has another [`MODEL_VERSION`], or its
    /// comparisons, levels or probabilities do not fit this version.
    pub fn from_json(s: &str) -> Result<Model> {
        let m: Model =
            serde_json::from_str(s).map_err(|e| Error::Config(format!("dedupe model: {e}")))?;
        m.check()?;
        Ok(m)
    }

    fn check(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(format!("dedupe model: {msg}")));
        if self.version != MODEL_VERSION {
            return bad(format!(
                "version {} is not supported (expected {MODEL_VERSION})",
                self.version
            ));
        }
        if !(self.lambda > 0.0 && self.lambda < 1.0) {
            return bad("lambda must be within (0, 1)".into());
        }
        if self.comparisons.len() != NCOMP {
            return bad(format!(
                "expected {NCOMP} comparisons, found {}",
                self.comparisons.len()
            ));
        }
        if self.conditional.len() != NROWS - NCOMP {
            return bad(format!(
                "expected {} conditional comparisons",
                NROWS - NCOMP
            ));
        }
        for (r, c) in self.comparisons.iter().chain(&self.conditional).enumerate() {
            let def = row_def(r);
            if c.field != def.field || c.levels.len() != def.levels.len() {
                return bad(format!(
                    "comparison {:?} does not match the built-in {:?}",
                    c.field, def.field
                ));
            }
            for (l, name) in c.levels.iter().zip(def.levels) {
                if l.level != *name {
                    return bad(format!(
                        "{}: level {:?} where {name:?} was expected",
                        c.field, l.level
                    ));
                }
                if !(l.m > 0.0 && l.m <= 1.0 && l.u > 0.0 && l.u <= 1.0) {
                    return bad(format!(
                        "{}/{}: m and u must be within (0, 1]",
                        c.field, l.level
                    ));
                }
            }
        }
        Ok(())
    }

    /// The prior as a weight, `log2(λ / (1 − λ))`: the match weight of a pair with no evidence.
    pub fn prior_weight(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }
}

/// Probabilities are written to JSON as strings holding the shortest decimal that reads back
/// to the same `f64` (`"0.014548831784981809"`), because serde_json's default number parser
/// may land one unit in the last place off, and a reloaded model must score exactly like the
/// batch. Plain JSON numbers are accepted when reading (hand-written models).
mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        // `{:?}` prints the shortest representation that parses back to the same value.
        s.serialize_str(&format!("{v:?}"))
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Number(f64),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Text(t) => t
                .trim()
                .parse::<f64>()
                .map_err(|e| D::Error::custom(format!("{t:?}: {e}"))),
            Repr::Number(n) => Ok(n),
        }
    }
}

/// m, u or a weight per weight row (see [`row_of`]) and level code (code 0, null, unused).
pub(crate) type Table = [[f64; MAX_CODES]; NROWS];

/// The model in the form scoring uses.
#[derive(Debug, Clone)]
pub(crate) struct Compiled<'m> {
    pub prior: f64,
    /// `log2(m/u)` per weight row and level code; 0 for null.
    pub w: Table,
    m_exact: [f64; NCOMP],
    tf: [Option<&'m TermFrequencies>; NCOMP],
    name_pairs: Option<&'m TermFrequencies>,
}

impl<'m> Compiled<'m> {
    pub fn new(model: &'m Model) -> Self {
        let mut w = [[0.0; MAX_CODES]; NROWS];
        let mut m_exact = [0.0; NCOMP];
        let mut tf = [None; NCOMP];
        for (r, cm) in model
            .comparisons
            .iter()
            .chain(&model.conditional)
            .enumerate()
            .take(NROWS)
        {
            for (k, l) in cm.levels.iter().enumerate().take(MAX_CODES - 1) {
                w[r][k + 1] = (l.m / l.u).log2();
            }
            if r < NCOMP {
                m_exact[r] = cm.levels.first().map_or(0.0, |l| l.m);
                tf[r] = cm.term_frequencies.as_ref().filter(|t| t.total > 0);
            }
        }
        let name_pairs = model.name_pairs.as_ref().filter(|t| t.total > 0);
        Compiled {
            prior: model.prior_weight(),
            w,
            m_exact,
            tf,
            name_pairs,
        }
    }

    /// The weight of an exact match on `value` for comparison `c`, with the term-frequency
    /// adjustment when the comparison has one.
    pub fn exact_weight(&self, c: usize, value: &str) -> f64 {
        match self.tf[c] {
            Some(t) => (self.m_exact[c] / t.frequency(value)).log2(),
            None => self.w[c][EXACT as usize],
        }
    }

    /// The weight of an exact last-name match when the first names are equal too:
    /// `log2(m / f(last | first))` (see the module docs).
    pub fn last_given_first_weight(&self, first: &str, last: &str) -> f64 {
        let (Some(firsts), Some(pairs)) = (self.tf[FIRST_NAME], self.name_pairs) else {
            return self.exact_weight(LAST_NAME, last);
        };
        let with_first = firsts.count(first);
        let both = pairs.count(&name_pair_key(first, last)).min(with_first);
        (self.m_exact[LAST_NAME] * f64::from(with_first) / f64::from(both)).log2()
    }
}

/// The key of a first and last name in [`Model::name_pairs`]. Normalised names never
/// contain `|` (punctuation becomes a space), so the key is unambiguous.
pub(crate) fn name_pair_key(first: &str, last: &str) -> String {
    let mut k = String::with_capacity(first.len() + last.len() + 1);
    k.push_str(first);
    k.push('|');
    k.push_str(last);
    k
}

/// A small deterministic generator (SplitMix64); graph-core has no `rand`, and the u sample
/// only needs well-spread indexes.
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; the bias is below 2^-32 for `n < 2^32`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

fn column_exact_u(c: &Column) -> (f64, u64) {
    let n = c.non_null();
    let same: f64 = c
        .counts
        .iter()
        .map(|&k| f64::from(k) * (f64::from(k) - 1.0))
        .sum();
    (same, n)
}

/// Level counts among pairs, per comparison and code.
type Counts = [[u64; MAX_CODES]; NCOMP];

fn add_gamma(counts: &mut Counts, g: u32) {
    for (c, row) in counts.iter_mut().enumerate() {
        row[code(g, c) as usize] += 1;
    }
}

fn merge(mut a: Counts, b: Counts) -> Counts {
    for (ra, rb) in a.iter_mut().zip(&b) {
        for (x, y) in ra.iter_mut().zip(rb) {
            *x += y;
        }
    }
    a
}

/// Estimates u (see the module docs). Returns the table and the number of pairs compared.
/// Time `O(min(u_pairs, n²))` comparisons plus `O(n log n)` for the birthdate counts.
pub(crate) fn estimate_u(records: &DedupeRecords, cfg: &DedupeConfig) -> (Table, u64) {
    let n = records.len() as u64;
    let total = n * n.saturating_sub(1) / 2;
    let counts: Counts = if total == 0 {
        [[0; MAX_CODES]; NCOMP]
    } else if total <= cfg.u_pairs {
        (0..n as usize)
            .into_par_iter()
            .fold(
                || ([[0; MAX_CODES]; NCOMP], NameCache::default()),
                |(mut acc, mut cache), i| {
                    let a = records.side(i);
                    for j in i + 1..n as usize {
                        add_gamma(
                            &mut acc,
                            compare_cached(&a, &records.side(j), Some(&mut cache)),
                        );
                    }
                    (acc, cache)
                },
            )
            .map(|(acc, _)| acc)
            .reduce(|| [[0; MAX_CODES]; NCOMP], merge)
    } else {
        const CHUNK: u64 = 1 << 16;
        let chunks = cfg.u_pairs.div_ceil(CHUNK);
        (0..chunks)
            .into_par_iter()
            .fold(
                || ([[0; MAX_CODES]; NCOMP], NameCache::default()),
                |(mut acc, mut cache), ch| {
                    // One generator per chunk, seeded from the chunk number: the sample does
                    // not depend on how rayon splits the work.
                    let mut rng = SplitMix(
                        cfg.seed ^ (ch.wrapping_add(1)).wrapping_mul(0xA24B_AED4_963E_E407),
                    );
                    let len = CHUNK.min(cfg.u_pairs - ch * CHUNK);
                    // Drawn first, then compared in order of the first record: the sample
                    // is the same, but one side of each pair is now read in ascending memory
                    // order, which the hardware prefetches, instead of two cache misses per
                    // pair.
                    let mut pairs: Vec<u64> = (0..len)
                        .map(|_| {
                            let i = rng.below(n);
                            let mut j = rng.below(n - 1);
                            if j >= i {
                                j += 1;
                            }
                            i << 32 | j
                        })
                        .collect();
                    pairs.sort_unstable();
                    for p in pairs {
                        let (a, b) = (
                            records.side((p >> 32) as usize),
                            records.side((p & 0xFFFF_FFFF) as usize),
                        );
                        add_gamma(&mut acc, compare_cached(&a, &b, Some(&mut cache)));
                    }
                    (acc, cache)
                },
            )
            .map(|(acc, _)| acc)
            .reduce(|| [[0; MAX_CODES]; NCOMP], merge)
    };
    let sampled = if total == 0 {
        0
    } else {
        total.min(cfg.u_pairs)
    };

    // Exact agreement from value counts.
    let mut dobs: Vec<u32> = records
        .birthdate
        .iter()
        .copied()
        .filter(|&d| d != 0)
        .collect();
    dobs.par_sort_unstable();
    let mut dob_same = 0.0;
    let mut i = 0;
    while i < dobs.len() {
        let j = i + dobs[i..].partition_point(|&d| d == dobs[i]);
        let k = (j - i) as f64;
        dob_same += k * (k - 1.0);
        i = j;
    }
    let exact: [(f64, u64); NCOMP] = [
        column_exact_u(&records.first_name),
        column_exact_u(&records.last_name),
        (dob_same, dobs.len() as u64),
        column_exact_u(&records.gov_id),
        column_exact_u(&records.email),
        column_exact_u(&records.phone),
        column_exact_u(&records.address),
    ];

    let mut u = [[0.0; MAX_CODES]; NROWS];
    for c in 0..NCOMP {
        let levels = COMPARISONS[c].levels.len();
        let (same, present) = exact[c];
        let present = present as f64;
        let pairs = present * (present - 1.0);
        // Half a pair when no two records share a value.
        let u_exact = if pairs > 0.0 {
            (same.max(1.0) / pairs).min(0.999)
        } else {
            1e-6
        };
        u[c][EXACT as usize] = u_exact;
        let observed: u64 = counts[c][2..=levels].iter().sum();
        let mut p = [0.0; MAX_CODES];
        if observed > 0 {
            for (k, pk) in p.iter_mut().enumerate().take(levels + 1).skip(2) {
                *pk = (counts[c][k] as f64).max(0.5) / observed as f64;
            }
        } else {
            // No sample (too little data): the fuzzy levels get a small share, `else` the rest.
            for pk in p.iter_mut().take(levels).skip(2) {
                *pk = 1e-3;
            }
            p[levels] = 1.0;
        }
        let sum: f64 = p[2..=levels].iter().sum();
        for k in 2..=levels {
            u[c][k] = (1.0 - u_exact) * p[k] / sum;
        }
    }
    // Address given an equal phone or last name: exact from the counts of (phone or last
    // name, address) combinations; the other levels keep their unconditional proportions.
    let levels = COMPARISONS[ADDRESS].levels.len();
    for (r, given) in [
        (ADDRESS_GIVEN_PHONE, PHONE),
        (ADDRESS_GIVEN_LAST_NAME, LAST_NAME),
    ] {
        let (same_both, same_given) = address_given_counts(records, given);
        let u_exact = if same_given > 0.0 {
            (same_both.max(0.5) / same_given).min(0.999)
        } else {
            u[ADDRESS][1]
        };
        u[r][1] = u_exact;
        let base = u[ADDRESS];
        let rest: f64 = base[2..=levels].iter().sum();
        for (k, x) in u[r].iter_mut().enumerate().take(levels + 1).skip(2) {
            *x = (1.0 - u_exact) * base[k] / rest;
        }
    }
    (u, sampled)
}

/// Among ordered record pairs equal in field `given` with an address on both sides: how
/// many also share the address, and how many there are. `O(n log n)`.
///
/// These counts include the pairs that are matches, as every exact-level u here does; with
/// a surname or a phone, households dominate them.
fn address_given_counts(records: &DedupeRecords, given: usize) -> (f64, f64) {
    let mut both: Vec<u64> = records
        .rows
        .par_iter()
        .filter(|r| r[given] != NULL && r[ADDRESS] != NULL)
        .map(|r| u64::from(r[given]) << 32 | u64::from(r[ADDRESS]))
        .collect();
    both.par_sort_unstable();
    let pairs = |n: usize| (n as f64) * (n as f64 - 1.0);
    let (mut same_both, mut same_given) = (0.0, 0.0);
    let mut i = 0;
    while i < both.len() {
        let g = both[i] >> 32;
        let j = i + both[i..].partition_point(|&x| x >> 32 == g);
        same_given += pairs(j - i);
        let mut k = i;
        while k < j {
            let l = k + both[k..j].partition_point(|&x| x == both[k]);
            same_both += pairs(l - k);
            k = l;
        }
        i = j;
    }
    (same_both, same_given)
}

/// Starting m values: agreement likely among matches, disagreement unlikely.
fn initial_m() -> Table {
    let mut m = [[0.0; MAX_CODES]; NROWS];
    let rows: [&[f64]; NROWS] = [
        &[0.8, 0.08, 0.04, 0.08],
        &[0.8, 0.08, 0.04, 0.08],
        &[0.8, 0.05, 0.05, 0.05, 0.05],
        &[0.9, 0.05, 0.05],
        &[0.4, 0.1, 0.5],
        &[0.5, 0.5],
        &[0.5, 0.1, 0.4],
        &[0.6, 0.1, 0.3],
        &[0.5, 0.1, 0.4],
    ];
    for (r, init) in rows.iter().enumerate() {
        m[r][1..=init.len()].copy_from_slice(init);
    }
    m
}

/// Fixed m values per weight row and level code.
type Fixed = [[Option<f64>; MAX_CODES]; NROWS];

/// Applies fixed values and the floor, and renormalises the free levels so each row sums
/// to 1.
fn constrain(m: &mut Table, fixed: &Fixed, floor: f64) {
    for r in 0..NROWS {
        let levels = row_def(r).levels.len();
        let fixed_sum: f64 = (1..=levels).filter_map(|k| fixed[r][k]).sum();
        let free_mass = (1.0 - fixed_sum).max(floor);
        // Two rounds: flooring after normalising can lift the total slightly above 1.
        for _ in 0..2 {
            let free_sum: f64 = (1..=levels)
                .filter(|&k| fixed[r][k].is_none())
                .map(|k| m[r][k].max(floor))
                .sum();
            for k in 1..=levels {
                m[r][k] = match fixed[r][k] {
                    Some(v) => v,
                    None => (m[r][k].max(floor) / free_sum * free_mass).max(floor),
                };
            }
        }
    }
}

/// The fixed m values of `cfg` (entries naming no level are ignored; see
/// [`DedupeConfig::validate`]).
fn fixed_of(cfg: &DedupeConfig) -> Fixed {
    let mut fixed = [[None; MAX_CODES]; NROWS];
    for f in &cfg.fixed_m {
        for (r, row) in fixed.iter_mut().enumerate() {
            let def = row_def(r);
            if def.field == f.field
                && let Some(k) = def.levels.iter().position(|l| *l == f.level)
                && f.m > 0.0
                && f.m < 1.0
            {
                row[k + 1] = Some(f.m);
            }
        }
    }
    fixed
}

/// Result of EM.
pub(crate) struct EmResult {
    pub m: Table,
    pub lambda: f64,
    pub iterations: u32,
    pub converged: bool,
}

/// Runs EM over the distinct comparison vectors `patterns` (vector, number of pairs) with u
/// fixed. `total_pairs` is `n(n−1)/2`. Each iteration is `O(P·K)` for `P` patterns.
pub(crate) fn em(
    patterns: &[(u32, u64)],
    u: &Table,
    total_pairs: f64,
    cfg: &DedupeConfig,
) -> EmResult {
    let fixed = fixed_of(cfg);
    let floor = if cfg.m_floor > 0.0 && cfg.m_floor < 0.1 {
        cfg.m_floor
    } else {
        1e-3
    };
    let mut m = initial_m();
    constrain(&mut m, &fixed, floor);
    let candidates: u64 = patterns.iter().map(|p| p.1).sum();
    let min_lambda = 1e-3 / total_pairs.max(1.0);
    let mut lambda = (0.05 * candidates as f64 / total_pairs.max(1.0)).clamp(min_lambda, 0.5);
    if patterns.is_empty() {
        return EmResult {
            m,
            lambda,
            iterations: 0,
            converged: false,
        };
    }
    let tol = if cfg.em_tolerance > 0.0 {
        cfg.em_tolerance
    } else {
        1e-6
    };
    for it in 1..=cfg.em_max_iterations {
        let mut lw = [[0.0; MAX_CODES]; NROWS];
        for r in 0..NROWS {
            for k in 1..MAX_CODES {
                if u[r][k] > 0.0 && m[r][k] > 0.0 {
                    lw[r][k] = (m[r][k] / u[r][k]).log2();
                }
            }
        }
        let prior = (lambda / (1.0 - lambda)).log2();
        let mut num = [[0.0; MAX_CODES]; NROWS];
        let mut expected = 0.0;
        for &(g, count) in patterns {
            let w: f64 = (0..NCOMP)
                .map(|c| lw[row_of(g, c)][code(g, c) as usize])
                .sum();
            let post = 1.0 / (1.0 + (-(prior + w)).exp2());
            let mass = post * count as f64;
            expected += mass;
            for c in 0..NCOMP {
                num[row_of(g, c)][code(g, c) as usize] += mass;
            }
        }
        let mut next = m;
        for r in 0..NROWS {
            let levels = row_def(r).levels.len();
            let den: f64 = num[r][1..=levels].iter().sum();
            if den > 0.0 {
                for k in 1..=levels {
                    next[r][k] = num[r][k] / den;
                }
            }
        }
        constrain(&mut next, &fixed, floor);
        let next_lambda = (expected / total_pairs).clamp(min_lambda, 0.999);
        let dm = (0..NROWS)
            .flat_map(|r| (1..MAX_CODES).map(move |k| (r, k)))
            .map(|(r, k)| (next[r][k] - m[r][k]).abs())
            .fold(0.0, f64::max);
        let dl = (next_lambda - lambda).abs() / lambda;
        m = next;
        lambda = next_lambda;
        if dm < tol && dl < tol {
            return EmResult {
                m,
                lambda,
                iterations: it,
                converged: true,
            };
        }
    }
    EmResult {
        m,
        lambda,
        iterations: cfg.em_max_iterations,
        converged: false,
    }
}

fn term_frequencies(c: &Column) -> TermFrequencies {
    let counts = (0..c.distinct() as u32)
        .zip(&c.counts)
        .filter(|(_, n)| **n >= 2)
        .map(|(id, n)| (c.value(id).to_owned(), *n))
        .collect();
    TermFrequencies {
        total: c.non_null(),
        counts,
    }
}

/// Counts of the `first|last` combinations held by at least two records.
fn name_pair_frequencies(records: &DedupeRecords) -> TermFrequencies {
    let mut pairs: Vec<u64> = records
        .rows
        .par_iter()
        .filter(|r| r[FIRST_NAME] != NULL && r[LAST_NAME] != NULL)
        .map(|r| u64::from(r[FIRST_NAME]) << 32 | u64::from(r[LAST_NAME]))
        .collect();
    pairs.par_sort_unstable();
    let total = pairs.len() as u64;
    let mut counts = BTreeMap::new();
    let mut i = 0;
    while i < pairs.len() {
        let j = i + pairs[i..].partition_point(|&x| x == pairs[i]);
        if j - i >= 2 {
            let (f, l) = ((pairs[i] >> 32) as u32, pairs[i] as u32);
            counts.insert(
                name_pair_key(records.first_name.value(f), records.last_name.value(l)),
                (j - i) as u32,
            );
        }
        i = j;
    }
    TermFrequencies { total, counts }
}

/// The distinct comparison vectors in `gammas` (chunks of vectors) with their counts,
/// ascending. A histogram (few distinct vectors), so memory does not grow with the number of
/// pairs.
pub(crate) fn patterns(gammas: &[&[u32]]) -> Vec<(u32, u64)> {
    type Counts = foldhash::HashMap<u32, u64>;
    let counts = gammas
        .par_iter()
        .fold(Counts::default, |mut acc, chunk| {
            for &g in *chunk {
                *acc.entry(g).or_default() += 1;
            }
            acc
        })
        .reduce(Counts::default, |mut a, b| {
            for (g, n) in b {
                *a.entry(g).or_default() += n;
            }
            a
        });
    let mut out: Vec<(u32, u64)> = counts.into_iter().collect();
    out.sort_unstable();
    out
}

/// Trains a model from the candidate pairs' comparison vectors.
pub(crate) fn train_from(records: &DedupeRecords, cfg: &DedupeConfig, cands: &Candidates) -> Model {
    let (u, sampled) = estimate_u(records, cfg);
    let gammas: Vec<&[u32]> = cands.chunks.iter().map(|c| &c.gammas[..]).collect();
    let patterns = patterns(&gammas);
    let n = records.len() as f64;
    let total_pairs = (n * (n - 1.0) / 2.0).max(1.0);
    let r = em(&patterns, &u, total_pairs, cfg);
    let fixed = fixed_of(cfg);
    let row = |r_idx: usize| {
        let def = row_def(r_idx);
        ComparisonModel {
            field: def.field.to_owned(),
            levels: def
                .levels
                .iter()
                .enumerate()
                .map(|(k, l)| LevelModel {
                    level: (*l).to_owned(),
                    m: r.m[r_idx][k + 1],
                    u: u[r_idx][k + 1],
                    m_fixed: fixed[r_idx][k + 1].is_some(),
                })
                .collect(),
            term_frequencies: match r_idx {
                FIRST_NAME => Some(term_frequencies(&records.first_name)),
                LAST_NAME => Some(term_frequencies(&records.last_name)),
                _ => None,
            },
        }
    };
    Model {
        version: MODEL_VERSION,
        lambda: r.lambda,
        comparisons: (0..NCOMP).map(row).collect(),
        conditional: (NCOMP..NROWS).map(row).collect(),
        name_pairs: Some(name_pair_frequencies(records)),
        training: TrainingReport {
            records: records.len() as u64,
            candidate_pairs: cands.len() as u64,
            u_pairs: sampled,
            em_iterations: r.iterations,
            em_converged: r.converged,
            expected_matches: r.lambda * total_pairs,
        },
    }
}
