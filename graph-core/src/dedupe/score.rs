//! Scoring pairs, explaining them, and forming duplicate groups.

use std::collections::HashMap;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::blocking::{BlockReport, Candidates, DedupeIndex, RuleStats, candidates, unpack};
use super::compare::{
    COMPARISONS, EXACT, FIRST_NAME, LAST_NAME, NCOMP, code, compare, row_def, row_of,
};
use super::config::DedupeConfig;
use super::model::{Compiled, Model, train_from};
use super::records::{Column, DedupeRecord, DedupeRecords, NULL, View};

/// `b` of the pairs [`score_record`] returns: the new record, which has no entity index yet.
pub const NEW_RECORD: u32 = u32::MAX;

/// One comparison's part of a pair's explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldScore {
    /// Field (`first_name`, `last_name`, `birthdate`, `gov_id`, `email`, `phone`, `address`).
    pub field: &'static str,
    /// Level the pair agrees at (`exact`, `jaro_winkler>=0.92`, `transposed_day_month`,
    /// `one_edit`, `null`, `else`, …). The address levels used when the phones (or else the
    /// last names) are equal carry a suffix: `exact|phone_exact`, `else|last_name_exact`.
    pub level: &'static str,
    /// `log2(m/u)` of the level. For an exact first-name match `log2(m/f(first))`, for an
    /// exact last-name match `log2(m/f(last))`, or `log2(m/f(last | first))` when the first
    /// names are equal too (term-frequency adjustment, see [`Model`]); 0 for `null`.
    pub weight: f64,
}

/// A scored pair of anchors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairScore {
    /// Entity index of the first anchor (`a < b`).
    pub a: u32,
    /// Entity index of the second anchor, or [`NEW_RECORD`].
    pub b: u32,
    /// Posterior probability that both are the same identity, `2^w / (1 + 2^w)`.
    pub match_probability: f64,
    /// `w`: the prior weight ([`Model::prior_weight`]) plus the `fields` weights, summed in
    /// that order, so the explanation adds up to it exactly.
    pub match_weight: f64,
    /// Every comparison, in the fixed order.
    pub fields: Vec<FieldScore>,
}

/// Run statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DedupeStats {
    /// Records (anchors) compared.
    pub records: u64,
    /// Prior weight used.
    pub prior_weight: f64,
    /// Threshold used.
    pub threshold: f64,
    /// What each blocking rule contributed.
    pub rules: Vec<RuleStats>,
    /// Pairs at or above the threshold.
    pub matches: u64,
    /// Groups of two or more.
    pub groups: u64,
    /// Largest group.
    pub largest_group: u64,
    /// Group merges refused because a pair across them scored below the threshold or the
    /// group would exceed [`DedupeConfig::max_group_size`].
    pub refused_merges: u64,
    /// Wall time per step in milliseconds.
    pub timings_ms: Vec<(String, u64)>,
}

/// The duplicates of a record set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DedupeResult {
    /// Pairs at or above the threshold, sorted by `(a, b)`.
    pub pairs: Vec<PairScore>,
    /// Duplicate groups (entity indexes, ascending; groups ordered by first member). Every
    /// two members of a group score at or above the threshold; [`score_pairs`] describes how
    /// they are formed.
    pub groups: Vec<Vec<u32>>,
    /// Blocks skipped because they were larger than the cap.
    pub oversized_blocks: Vec<BlockReport>,
    /// Candidate pairs compared.
    pub candidate_pairs: u64,
    /// Statistics.
    pub stats: DedupeStats,
}

/// Pair scoring over one record set, with the term-frequency weights of its distinct names
/// (and first/last combinations) computed once.
pub(crate) struct Scorer<'a> {
    records: &'a DedupeRecords,
    comp: Compiled<'a>,
    tf_first: Vec<f64>,
    tf_last: Vec<f64>,
    /// Per record, the index into `tf_pair` of its first/last combination ([`NULL`] without).
    pair_of: Vec<u32>,
    /// Last-name weight given an equal first name, per distinct combination.
    tf_pair: Vec<f64>,
    /// The largest exact first-name and last-name weights any pair can get (+∞ when
    /// unknown), for [`Scorer::bound`].
    max_exact: [f64; 2],
}

impl<'a> Scorer<'a> {
    pub fn new(records: &'a DedupeRecords, model: &'a Model) -> Self {
        let comp = Compiled::new(model);
        let tf = |c: usize, col: &Column| -> Vec<f64> {
            (0..col.distinct() as u32)
                .into_par_iter()
                .map(|id| comp.exact_weight(c, col.value(id)))
                .collect()
        };
        let tf_first = tf(FIRST_NAME, &records.first_name);
        let tf_last = tf(LAST_NAME, &records.last_name);
        // Distinct first/last combinations, so the model's tables are consulted once each.
        let mut combos: Vec<(u64, u32)> = records
            .rows
            .par_iter()
            .enumerate()
            .filter(|(_, r)| r[FIRST_NAME] != NULL && r[LAST_NAME] != NULL)
            .map(|(i, r)| {
                (
                    u64::from(r[FIRST_NAME]) << 32 | u64::from(r[LAST_NAME]),
                    i as u32,
                )
            })
            .collect();
        combos.par_sort_unstable();
        let mut pair_of = vec![NULL; records.len()];
        let mut distinct: Vec<u64> = Vec::new();
        for &(key, rec) in &combos {
            if distinct.last() != Some(&key) {
                distinct.push(key);
            }
            pair_of[rec as usize] = (distinct.len() - 1) as u32;
        }
        let tf_pair: Vec<f64> = distinct
            .par_iter()
            .map(|&k| {
                let (f, l) = ((k >> 32) as u32, k as u32);
                comp.last_given_first_weight(
                    records.first_name.value(f),
                    records.last_name.value(l),
                )
            })
            .collect();
        let max = |ws: &[&[f64]]| {
            let m = ws
                .iter()
                .flat_map(|w| w.iter().copied())
                .fold(f64::NEG_INFINITY, f64::max);
            if m.is_finite() { m } else { f64::INFINITY }
        };
        let max_exact = [max(&[&tf_first]), max(&[&tf_last, &tf_pair])];
        Scorer {
            records,
            comp,
            tf_first,
            tf_last,
            pair_of,
            tf_pair,
            max_exact,
        }
    }

    /// An upper bound of the match weight of any pair with comparison vector `g`, from the
    /// vector alone: the exact name levels count the largest weight a name can get. Far
    /// cheaper than [`Scorer::fields`] (no look-up into the records), so pairs that cannot
    /// reach the threshold are dropped before their exact weight is computed.
    fn bound(&self, g: u32) -> f64 {
        (0..NCOMP).fold(self.comp.prior, |acc, c| {
            let k = code(g, c);
            acc + match (c, k) {
                (FIRST_NAME, EXACT) => self.max_exact[0],
                (LAST_NAME, EXACT) => self.max_exact[1],
                _ => self.comp.w[row_of(g, c)][k as usize],
            }
        })
    }

    /// Field weights of records `a` and `b` with comparison vector `g`.
    fn fields(&self, g: u32, a: usize) -> [f64; NCOMP] {
        let row = &self.records.rows[a];
        let mut w = [0.0; NCOMP];
        for (c, wc) in w.iter_mut().enumerate() {
            let k = code(g, c);
            *wc = match (c, k) {
                (FIRST_NAME, EXACT) => self.tf_first[row[FIRST_NAME] as usize],
                (LAST_NAME, EXACT) if code(g, FIRST_NAME) == EXACT => {
                    self.tf_pair[self.pair_of[a] as usize]
                }
                (LAST_NAME, EXACT) => self.tf_last[row[LAST_NAME] as usize],
                _ => self.comp.w[row_of(g, c)][k as usize],
            };
        }
        w
    }

    fn weight(&self, fields: &[f64; NCOMP]) -> f64 {
        fields.iter().fold(self.comp.prior, |acc, w| acc + w)
    }

    /// The match weight of records `a` and `b`.
    pub fn pair_weight(&self, a: usize, b: usize) -> f64 {
        let g = compare(&self.records.side(a), &self.records.side(b));
        self.weight(&self.fields(g, a))
    }

    fn pair_score(&self, a: usize, b: usize, g: u32) -> PairScore {
        let f = self.fields(g, a);
        explain(
            self.records.anchors[a],
            self.records.anchors[b],
            g,
            &f,
            self.weight(&f),
        )
    }
}

fn probability(w: f64) -> f64 {
    1.0 / (1.0 + (-w).exp2())
}

fn explain(a: u32, b: u32, g: u32, f: &[f64; NCOMP], w: f64) -> PairScore {
    PairScore {
        a,
        b,
        match_probability: probability(w),
        match_weight: w,
        fields: (0..NCOMP)
            .map(|c| {
                let k = code(g, c) as usize;
                FieldScore {
                    field: COMPARISONS[c].field,
                    level: if k == 0 {
                        "null"
                    } else {
                        row_def(row_of(g, c)).levels[k - 1]
                    },
                    weight: f[c],
                }
            })
            .collect(),
    }
}

/// Scores the pairs of a new record against the records it blocks with.
fn score_new(
    model: &Model,
    records: &DedupeRecords,
    new: &DedupeRecord,
    with: &[u32],
    min_probability: f64,
) -> Vec<PairScore> {
    let comp = Compiled::new(model);
    let side = new.side();
    let mut out: Vec<PairScore> =
        with.iter()
            .filter_map(|&r| {
                let other = records.side(r as usize);
                let g = compare(&other, &side);
                let mut f = [0.0; NCOMP];
                for (c, fc) in f.iter_mut().enumerate() {
                    let k = code(g, c);
                    *fc = match (c, k) {
                        (LAST_NAME, EXACT) if code(g, FIRST_NAME) == EXACT => comp
                            .last_given_first_weight(other.text(FIRST_NAME), other.text(LAST_NAME)),
                        (FIRST_NAME | LAST_NAME, EXACT) => comp.exact_weight(c, other.text(c)),
                        _ => comp.w[row_of(g, c)][k as usize],
                    };
                }
                let w = f.iter().fold(comp.prior, |acc, x| acc + x);
                (probability(w) >= min_probability)
                    .then(|| explain(records.anchors[r as usize], NEW_RECORD, g, &f, w))
            })
            .collect();
    out.sort_by(|x, y| {
        y.match_weight
            .total_cmp(&x.match_weight)
            .then(x.a.cmp(&y.a))
    });
    out
}

/// Scores pairs of records outside any record set (the live graph's), with the same
/// comparisons, term-frequency weights and summation order as the batch, so a pair scores
/// bit for bit as the batch scores it (`a` is the record with the smaller entity index).
#[derive(Debug, Clone)]
pub struct PairScorer<'m> {
    comp: Compiled<'m>,
}

impl<'m> PairScorer<'m> {
    /// A scorer under `model`.
    pub fn new(model: &'m Model) -> Self {
        PairScorer {
            comp: Compiled::new(model),
        }
    }

    /// The score of records `a` (entity index `ia`) and `b` (`ib`), whatever their
    /// probability. Symmetric: the result does not depend on which side is `a`, except for
    /// the order of the indexes it carries.
    pub fn score(&self, ia: u32, a: &DedupeRecord, ib: u32, b: &DedupeRecord) -> PairScore {
        let (sa, sb) = (a.side(), b.side());
        let g = compare(&sa, &sb);
        let comp = &self.comp;
        let mut f = [0.0; NCOMP];
        for (c, fc) in f.iter_mut().enumerate() {
            let k = code(g, c);
            *fc = match (c, k) {
                (LAST_NAME, EXACT) if code(g, FIRST_NAME) == EXACT => {
                    comp.last_given_first_weight(sa.text(FIRST_NAME), sa.text(LAST_NAME))
                }
                (FIRST_NAME | LAST_NAME, EXACT) => comp.exact_weight(c, sa.text(c)),
                _ => comp.w[row_of(g, c)][k as usize],
            };
        }
        let w = f.iter().fold(comp.prior, |acc, x| acc + x);
        explain(ia, ib, g, &f, w)
    }
}

impl DedupeIndex {
    /// Scores `new` against the indexed records it blocks with and returns the pairs whose
    /// probability is at least `min_probability`, strongest first (then by entity index).
    /// `a` is the existing anchor, `b` is [`NEW_RECORD`]. `O(K log A + C)` for `C` candidates.
    pub fn score(
        &self,
        model: &Model,
        records: &DedupeRecords,
        new: &DedupeRecord,
        min_probability: f64,
    ) -> Vec<PairScore> {
        score_new(model, records, new, &self.candidates(new), min_probability)
    }
}

/// Scores a new record against `records` through the same blocking rules and cap as the batch
/// path, returning the pairs at or above the threshold, strongest first (`a` = the existing
/// anchor, `b` = [`NEW_RECORD`]). A copy of an existing record scores against the others
/// exactly as the batch scored that record's pairs.
///
/// This builds a [`DedupeIndex`] on every call, `O(K·A log A)`; a service scoring many
/// records keeps one index and calls [`DedupeIndex::score`].
pub fn score_record(
    model: &Model,
    records: &DedupeRecords,
    new_record: &DedupeRecord,
    cfg: &DedupeConfig,
) -> Vec<PairScore> {
    DedupeIndex::build(records, cfg).score(model, records, new_record, cfg.threshold_clamped())
}

/// Trains a model on `records`: blocking, u from random pairs, m and the prior by EM over the
/// candidate pairs, term frequencies for names (see [`Model`] for how each is estimated).
///
/// Time: blocking `O(K·A log A + P log P)`, one comparison per candidate pair and per sampled
/// random pair, EM `O(iterations · distinct comparison vectors)`. Never fails: with no
/// candidate pairs the starting m values are kept and [`super::TrainingReport::em_converged`]
/// is false.
pub fn train(records: &DedupeRecords, cfg: &DedupeConfig) -> Model {
    train_from(records, cfg, &candidates(records, cfg))
}

/// Scores every candidate pair of `records` under `model` and forms duplicate groups.
///
/// **Groups** are built greedily from the strongest pairs down (Kruskal order: match weight
/// descending, then `(a, b)`): two groups are merged only if *every* pair across them scores
/// at or above the threshold (pairs that blocking did not produce are scored on the spot)
/// and the result stays within [`DedupeConfig::max_group_size`]. So every two members of a
/// group are a match; one strong pair can never chain two unrelated people through a third
/// record. Refused merges are counted in [`DedupeStats::refused_merges`].
///
/// Time: one comparison per candidate pair plus `O(Σ g²)` comparisons for groups of size `g`.
pub fn score_pairs(records: &DedupeRecords, model: &Model, cfg: &DedupeConfig) -> DedupeResult {
    let t = Instant::now();
    let cands = candidates(records, cfg);
    let blocking_ms = t.elapsed().as_millis() as u64;
    let mut r = score_candidates(records, model, cfg, &cands);
    r.stats
        .timings_ms
        .insert(0, ("blocking and comparing".into(), blocking_ms));
    r
}

/// Trains on `records` and scores them in one go, blocking and comparing only once. This is
/// what the batch job calls; the model it returns is what the live path reloads.
pub fn dedupe(records: &DedupeRecords, cfg: &DedupeConfig) -> (Model, DedupeResult) {
    let mut t = Instant::now();
    let lap = |t: &mut Instant| {
        let ms = t.elapsed().as_millis() as u64;
        *t = Instant::now();
        ms
    };
    let cands = candidates(records, cfg);
    let blocking = lap(&mut t);
    let model = train_from(records, cfg, &cands);
    let training = lap(&mut t);
    let mut r = score_candidates(records, &model, cfg, &cands);
    let mut timings = vec![
        ("blocking and comparing".to_owned(), blocking),
        ("training".to_owned(), training),
    ];
    timings.append(&mut r.stats.timings_ms);
    r.stats.timings_ms = timings;
    (model, r)
}

/// Bits added to [`Scorer::bound`] before it is compared with the threshold (a sum of eight
/// weights of at most a few hundred bits is off by far less).
const BOUND_SLACK: f64 = 1e-6;

fn score_candidates(
    records: &DedupeRecords,
    model: &Model,
    cfg: &DedupeConfig,
    cands: &Candidates,
) -> DedupeResult {
    let mut t = Instant::now();
    let threshold = cfg.threshold_clamped();
    let scorer = Scorer::new(records, model);
    let mut pairs: Vec<PairScore> = cands
        .chunks
        .par_iter()
        .flat_map_iter(|chunk| chunk.pairs.iter().zip(&chunk.gammas))
        .filter_map(|(&p, &g)| {
            let (a, b) = unpack(p);
            let (a, b) = (a as usize, b as usize);
            // The bound's terms are each at least the exact ones; the slack covers the
            // rounding of summing them in another order, so no match is ever dropped here.
            if probability(scorer.bound(g) + BOUND_SLACK) < threshold {
                return None;
            }
            let w = scorer.weight(&scorer.fields(g, a));
            (probability(w) >= threshold).then(|| scorer.pair_score(a, b, g))
        })
        .collect();
    // The candidates come in rule order; the result is by `(a, b)`.
    pairs.par_sort_unstable_by_key(|p| (p.a, p.b));
    let scoring = t.elapsed().as_millis() as u64;
    t = Instant::now();
    let (groups, refused) = groups(
        records,
        &scorer,
        &pairs,
        threshold,
        cfg.max_group_size.max(2) as usize,
    );
    let grouping = t.elapsed().as_millis() as u64;
    DedupeResult {
        stats: DedupeStats {
            records: records.len() as u64,
            prior_weight: model.prior_weight(),
            threshold,
            rules: cands.rules.clone(),
            matches: pairs.len() as u64,
            groups: groups.len() as u64,
            largest_group: groups.iter().map(|g| g.len() as u64).max().unwrap_or(0),
            refused_merges: refused,
            timings_ms: vec![("scoring".into(), scoring), ("grouping".into(), grouping)],
        },
        pairs,
        groups,
        oversized_blocks: cands.oversized.clone(),
        candidate_pairs: cands.len() as u64,
    }
}

/// Constrained greedy grouping (see [`score_pairs`]). Returns the groups as entity indexes
/// and the number of refused merges.
fn groups(
    records: &DedupeRecords,
    scorer: &Scorer<'_>,
    matches: &[PairScore],
    threshold: f64,
    max_size: usize,
) -> (Vec<Vec<u32>>, u64) {
    // Matches carry entity indexes; anchors are ascending, so the record is a binary search.
    let rec_of = |anchor: u32| records.anchors.partition_point(|&x| x < anchor);
    let edges: Vec<(f64, usize, usize)> = matches
        .iter()
        .map(|p| (p.match_weight, rec_of(p.a), rec_of(p.b)))
        .collect();
    let is_match =
        |x: usize, y: usize| probability(scorer.pair_weight(x.min(y), x.max(y))) >= threshold;
    let (groups, refused) = constrained_groups(records.len(), edges, is_match, max_size);
    let mut out: Vec<Vec<u32>> = groups
        .into_iter()
        .map(|m| {
            let mut g: Vec<u32> = m.iter().map(|&r| records.anchors[r]).collect();
            g.sort_unstable();
            g
        })
        .collect();
    out.sort_unstable();
    (out, refused)
}

/// Merges along `edges` (`(weight, a, b)` over items `0..n`), strongest first, but only
/// when `is_match` holds for every pair across the two groups and the merged group has at
/// most `max_size` members. Returns the groups of two or more (in no particular order) and
/// the number of refused merges. `O(E log E + Σ g²)` calls of `is_match` for final group sizes
/// `g`, since each merge checks the cross pairs once.
pub(crate) fn constrained_groups(
    n: usize,
    mut edges: Vec<(f64, usize, usize)>,
    is_match: impl Fn(usize, usize) -> bool,
    max_size: usize,
) -> (Vec<Vec<usize>>, u64) {
    edges.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    // Union-find with the member list kept at each root (only for items in some edge).
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    fn find(parent: &mut [u32], x: usize) -> usize {
        let mut r = x;
        while parent[r] as usize != r {
            r = parent[r] as usize;
        }
        let mut y = x;
        while parent[y] as usize != r {
            let next = parent[y] as usize;
            parent[y] = r as u32;
            y = next;
        }
        r
    }
    let mut refused = 0u64;
    for &(_, a, b) in &edges {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra == rb {
            continue;
        }
        let ma = members.remove(&ra).unwrap_or_else(|| vec![ra]);
        let mb = members.remove(&rb).unwrap_or_else(|| vec![rb]);
        let ok = ma.len() + mb.len() <= max_size
            && ma.iter().all(|&x| mb.iter().all(|&y| is_match(x, y)));
        if ok {
            let (big, small, mut mbig, msmall) = if ma.len() >= mb.len() {
                (ra, rb, ma, mb)
            } else {
                (rb, ra, mb, ma)
            };
            parent[small] = big as u32;
            mbig.extend(msmall);
            members.insert(big, mbig);
        } else {
            refused += 1;
            members.insert(ra, ma);
            members.insert(rb, mb);
        }
    }
    (
        members.into_values().filter(|m| m.len() >= 2).collect(),
        refused,
    )
}
