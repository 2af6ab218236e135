//! Evaluation of link results against ground truth: pairwise ring co-membership, ring
//! membership, score AUC and cluster sizes.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::io::read_columns;

/// One ground-truth row: an account, the identity it claims, its ring (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthRow {
    /// Account id.
    pub account_id: String,
    /// Identity the account claims.
    pub person_id: String,
    /// Planted ring, if any.
    pub ring_id: Option<String>,
}

/// Precision, recall and F1 with their counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prf {
    /// True positives.
    pub true_positives: u64,
    /// Predicted positives.
    pub predicted: u64,
    /// Actual positives.
    pub actual: u64,
    /// TP / predicted (1 when nothing is predicted).
    pub precision: f64,
    /// TP / actual (1 when nothing is actual).
    pub recall: f64,
    /// Harmonic mean.
    pub f1: f64,
}

impl Prf {
    /// From counts.
    pub fn new(tp: u64, predicted: u64, actual: u64) -> Self {
        let precision = if predicted == 0 {
            1.0
        } else {
            tp as f64 / predicted as f64
        };
        let recall = if actual == 0 {
            1.0
        } else {
            tp as f64 / actual as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Prf {
            true_positives: tp,
            predicted,
            actual,
            precision,
            recall,
            f1,
        }
    }
}

/// The evaluation report.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Accounts in the truth file.
    pub accounts: u64,
    /// Truth accounts missing from the results (counted as unflagged singletons).
    pub missing_from_results: u64,
    /// Pairs of accounts in the same predicted ring vs the same planted ring.
    pub ring_pairs: Prf,
    /// Accounts flagged as ring members vs planted ring members.
    pub ring_members: Prf,
    /// Probability that a random ring member scores above a random non-member (ties half).
    pub score_auc: f64,
    /// Accounts in the largest predicted cluster.
    pub largest_cluster_accounts: u64,
    /// Accounts in the largest planted ring.
    pub largest_true_ring: u64,
    /// Predicted rings.
    pub predicted_rings: u64,
    /// Planted rings.
    pub true_rings: u64,
    /// Predicted rings none of whose accounts is in a planted ring: each a case an analyst
    /// would open for nothing.
    pub rings_without_planted_member: u64,
    /// Planted rings none of whose accounts is in a predicted ring.
    pub planted_rings_missed: u64,
    /// Duplicate pairs (`duplicates.parquet`) vs pairs of accounts with the same true
    /// identity; `None` when the results hold no duplicates file.
    pub duplicate_pairs: Option<Prf>,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Evaluates. `cluster_of` maps account id → cluster id, `ring_clusters` holds the cluster ids
/// flagged `is_ring`, `score_of` maps account id → score.
pub fn evaluate(
    truth: &[TruthRow],
    cluster_of: &HashMap<String, String>,
    is_ring_cluster: &dyn Fn(&str) -> bool,
    score_of: &HashMap<String, f64>,
) -> EvalReport {
    let mut missing = 0u64;
    let mut pred_size: HashMap<&str, u64> = HashMap::new();
    let mut cluster_size: HashMap<&str, u64> = HashMap::new();
    let mut true_size: HashMap<&str, u64> = HashMap::new();
    let mut cell: HashMap<(&str, &str), u64> = HashMap::new();
    let (mut member_tp, mut member_pred, mut member_actual) = (0u64, 0u64, 0u64);
    let mut pos_scores = Vec::new();
    let mut neg_scores = Vec::new();
    for t in truth {
        let cluster = cluster_of.get(&t.account_id).map(String::as_str);
        if cluster.is_none() {
            missing += 1;
        }
        if let Some(c) = cluster {
            *cluster_size.entry(c).or_default() += 1;
        }
        let predicted = cluster.filter(|c| is_ring_cluster(c));
        let actual = t.ring_id.as_deref();
        if let Some(c) = predicted {
            *pred_size.entry(c).or_default() += 1;
            member_pred += 1;
        }
        if let Some(r) = actual {
            *true_size.entry(r).or_default() += 1;
            member_actual += 1;
        }
        if let (Some(c), Some(r)) = (predicted, actual) {
            *cell.entry((c, r)).or_default() += 1;
            member_tp += 1;
        }
        let s = score_of.get(&t.account_id).copied().unwrap_or(0.0);
        if actual.is_some() {
            pos_scores.push(s)
        } else {
            neg_scores.push(s)
        }
    }
    let hit_rings: HashSet<&str> = cell.keys().map(|&(c, _)| c).collect();
    let found_planted: HashSet<&str> = cell.keys().map(|&(_, r)| r).collect();
    let tp: u64 = cell.values().map(|&n| pairs(n)).sum();
    let pred: u64 = pred_size.values().map(|&n| pairs(n)).sum();
    let act: u64 = true_size.values().map(|&n| pairs(n)).sum();
    EvalReport {
        accounts: truth.len() as u64,
        missing_from_results: missing,
        ring_pairs: Prf::new(tp, pred, act),
        ring_members: Prf::new(member_tp, member_pred, member_actual),
        score_auc: auc(&pos_scores, &neg_scores),
        largest_cluster_accounts: cluster_size.values().copied().max().unwrap_or(0),
        largest_true_ring: true_size.values().copied().max().unwrap_or(0),
        predicted_rings: pred_size.len() as u64,
        true_rings: true_size.len() as u64,
        rings_without_planted_member: (pred_size.len() - hit_rings.len()) as u64,
        planted_rings_missed: (true_size.len() - found_planted.len()) as u64,
        duplicate_pairs: None,
    }
}

/// Evaluates the files `ringfence link` wrote into `results` (`clusters.parquet`,
/// `rings.parquet`, `scores.parquet`) against `truth`. Only accounts are evaluated.
///
/// # Errors
/// Missing or unreadable result files.
pub fn evaluate_results_dir(truth: &[TruthRow], results: &Path) -> Result<EvalReport> {
    let cols = read_columns(
        &results.join("clusters.parquet"),
        &["entity_id", "entity_type", "cluster_id"],
    )?;
    let mut cluster_of = HashMap::new();
    for ((id, ty), c) in cols[0].iter().zip(&cols[1]).zip(&cols[2]) {
        if let (Some(id), Some("account"), Some(c)) = (id, ty.as_deref(), c) {
            cluster_of.insert(id.clone(), c.clone());
        }
    }
    let rings = read_columns(&results.join("rings.parquet"), &["cluster_id", "is_ring"])?;
    let ring_clusters: HashSet<String> = rings[0]
        .iter()
        .zip(&rings[1])
        .filter(|(_, r)| r.as_deref() == Some("true"))
        .filter_map(|(c, _)| c.clone())
        .collect();
    let scores = read_columns(
        &results.join("scores.parquet"),
        &["entity_id", "entity_type", "score"],
    )?;
    let mut score_of = HashMap::new();
    for ((id, ty), s) in scores[0].iter().zip(&scores[1]).zip(&scores[2]) {
        if let (Some(id), Some("account"), Some(s)) = (id, ty.as_deref(), s) {
            score_of.insert(id.clone(), s.parse::<f64>().unwrap_or(0.0));
        }
    }
    let mut report = evaluate(
        truth,
        &cluster_of,
        &|c| ring_clusters.contains(c),
        &score_of,
    );
    let dups = results.join("duplicates.parquet");
    if dups.exists() {
        report.duplicate_pairs = Some(evaluate_duplicates_file(truth, &dups)?);
    }
    Ok(report)
}

/// Precision, recall and F1 of the pairs in a `duplicates.parquet` against the pairs of
/// truth accounts with the same `person_id`. Pairs naming an entity the truth does not list
/// (an inquiry without an account, say) are left out: nothing is known about them.
///
/// # Errors
/// Missing or unreadable file.
pub fn evaluate_duplicates_file(truth: &[TruthRow], path: &Path) -> Result<Prf> {
    let cols = read_columns(path, &["entity_a", "entity_b"])?;
    let person: HashMap<&str, &str> = truth
        .iter()
        .map(|t| (t.account_id.as_str(), t.person_id.as_str()))
        .collect();
    let pairs = cols[0].iter().zip(&cols[1]).filter_map(|(a, b)| {
        let (a, b) = (a.as_deref()?, b.as_deref()?);
        Some((person.get(a)?, person.get(b)?, a.min(b), a.max(b)))
    });
    Ok(duplicate_pair_prf(&person, pairs))
}

/// Pair-level precision/recall/F1 of predicted duplicate pairs `(person of a, person of b,
/// a, b)` against all pairs of accounts sharing a person. Repeated pairs count once.
fn duplicate_pair_prf<'a>(
    person: &HashMap<&'a str, &'a str>,
    predicted: impl Iterator<Item = (&'a &'a str, &'a &'a str, &'a str, &'a str)>,
) -> Prf {
    let mut per_person: HashMap<&str, u64> = HashMap::new();
    for p in person.values() {
        *per_person.entry(p).or_default() += 1;
    }
    let actual: u64 = per_person.values().map(|&n| pairs(n)).sum();
    let mut seen = HashSet::new();
    let (mut tp, mut predicted_n) = (0u64, 0u64);
    for (pa, pb, a, b) in predicted {
        if a != b && seen.insert((a, b)) {
            predicted_n += 1;
            tp += u64::from(pa == pb);
        }
    }
    Prf::new(tp, predicted_n, actual)
}

/// Area under the ROC curve by the rank-sum (Mann–Whitney) statistic, ties counted half.
/// `O((p + n) log(p + n))`. 0.5 when either side is empty.
pub fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    if pos.is_empty() || neg.is_empty() {
        return 0.5;
    }
    let mut all: Vec<(f64, bool)> = pos
        .iter()
        .map(|&s| (s, true))
        .chain(neg.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j share their average.
        let avg = (i + 1 + j) as f64 / 2.0;
        rank_sum += avg * all[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let p = pos.len() as f64;
    (rank_sum - p * (p + 1.0) / 2.0) / (p * neg.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_random_and_tied_scores() {
        assert_eq!(auc(&[3.0, 4.0], &[1.0, 2.0]), 1.0);
        assert_eq!(auc(&[1.0, 2.0], &[3.0, 4.0]), 0.0);
        assert_eq!(auc(&[1.0, 1.0], &[1.0, 1.0]), 0.5);
        assert_eq!(auc(&[], &[1.0]), 0.5);
    }

    #[test]
    fn duplicate_pairs_count_once_and_skip_unknown_entities() {
        let truth: Vec<TruthRow> = [("a", "p1"), ("b", "p1"), ("c", "p1"), ("d", "p2")]
            .iter()
            .map(|(a, p)| TruthRow {
                account_id: (*a).to_owned(),
                person_id: (*p).to_owned(),
                ring_id: None,
            })
            .collect();
        let person: HashMap<&str, &str> = truth
            .iter()
            .map(|t| (t.account_id.as_str(), t.person_id.as_str()))
            .collect();
        // (a, b) twice in both orders, (c, d) wrong, (a, x) about an unknown entity.
        let predicted = [("a", "b"), ("b", "a"), ("c", "d"), ("a", "x")];
        let pairs = predicted
            .iter()
            .filter_map(|&(a, b)| Some((person.get(a)?, person.get(b)?, a.min(b), a.max(b))));
        let prf = duplicate_pair_prf(&person, pairs);
        assert_eq!((prf.true_positives, prf.predicted, prf.actual), (1, 2, 3));
    }

    #[test]
    fn pairwise_counts_follow_the_contingency_table() {
        let t = |a: &str, r: Option<&str>| TruthRow {
            account_id: a.into(),
            person_id: a.into(),
            ring_id: r.map(Into::into),
        };
        // Planted ring R = {a, b, c}; prediction puts {a, b} in ring X and {c, d} in ring Y.
        // Planted ring S = {f, g} is not flagged; predicted ring W = {h} has no planted member.
        let truth = vec![
            t("a", Some("R")),
            t("b", Some("R")),
            t("c", Some("R")),
            t("d", None),
            t("e", None),
            t("f", Some("S")),
            t("g", Some("S")),
            t("h", None),
        ];
        let clusters: HashMap<String, String> = [
            ("a", "X"),
            ("b", "X"),
            ("c", "Y"),
            ("d", "Y"),
            ("e", "Z"),
            ("f", "Z2"),
            ("g", "Z2"),
            ("h", "W"),
        ]
        .iter()
        .map(|(a, c)| (a.to_string(), c.to_string()))
        .collect();
        let scores: HashMap<String, f64> = [
            ("a", 90.0),
            ("b", 80.0),
            ("c", 70.0),
            ("d", 10.0),
            ("f", 60.0),
            ("g", 50.0),
        ]
        .iter()
        .map(|(a, s)| (a.to_string(), *s))
        .collect();
        let r = evaluate(&truth, &clusters, &|c| !c.starts_with('Z'), &scores);
        assert_eq!(r.ring_pairs.true_positives, 1); // (a, b)
        assert_eq!(r.ring_pairs.predicted, 2); // (a, b), (c, d)
        assert_eq!(r.ring_pairs.actual, 4); // R's three pairs, S's one
        assert!((r.ring_pairs.precision - 0.5).abs() < 1e-9);
        assert_eq!(r.ring_members.true_positives, 3);
        assert_eq!(r.ring_members.predicted, 5);
        assert_eq!(r.score_auc, 1.0);
        assert_eq!(r.largest_cluster_accounts, 2);
        assert_eq!(r.largest_true_ring, 3);
        assert_eq!((r.predicted_rings, r.true_rings), (3, 2)); // X, Y, W; R, S
        assert_eq!(r.rings_without_planted_member, 1); // W
        assert_eq!(r.planted_rings_missed, 1); // S
    }
}
