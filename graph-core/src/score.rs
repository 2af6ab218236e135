//! Per-entity risk scores (0–100) with ordered reasons.
//!
//! The score adds points for the entity's own fraud label, its ring, its **closeness to known
//! fraud** (hop distance over shared properties from accounts labelled fraud, decaying per hop —
//! a propagation in the spirit of personalised PageRank that can name the path it took), strong
//! properties it shares, likely duplicates and hub exposure. Weights are
//! [`ScoreConfig`](crate::ScoreConfig). Inquiries carry their account's score.

use std::collections::{HashMap, VecDeque};

use rayon::prelude::*;

use crate::config::{LinkConfig, STRONG};
use crate::linker::{LinkOutput, base_kind};
use crate::normalize::mask;
use crate::record::Label;
use crate::rings::{Reason, RingReport};
use crate::table::LinkInput;

/// The score of one entity.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EntityScore {
    /// 0–100.
    pub score: f64,
    /// Reasons, largest contribution first.
    pub reasons: Vec<Reason>,
}

/// How an anchor was reached from known fraud.
#[derive(Debug, Clone, Copy)]
struct Reach {
    hops: u32,
    seed: u32,
    via: usize,
}

/// Multi-source breadth-first search from anchors labelled fraud over shared properties.
/// `O(shared postings)`.
fn fraud_reach(input: &LinkInput, out: &LinkOutput, max_hops: u32) -> HashMap<u32, Reach> {
    let ents = &input.entities;
    let mut props_of: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, s) in out.shared.iter().enumerate() {
        for &a in &s.anchors {
            props_of.entry(a).or_default().push(i);
        }
    }
    let mut seeds: Vec<u32> = (0..ents.len())
        .filter(|&e| ents.label[e] == Some(Label::Fraud))
        .map(|e| ents.anchor[e])
        .collect();
    seeds.sort_unstable();
    seeds.dedup();
    let mut reach: HashMap<u32, Reach> = HashMap::new();
    let mut queue = VecDeque::new();
    for &s in &seeds {
        reach.insert(
            s,
            Reach {
                hops: 0,
                seed: s,
                via: usize::MAX,
            },
        );
        queue.push_back(s);
    }
    while let Some(a) = queue.pop_front() {
        let r = reach[&a];
        if r.hops >= max_hops {
            continue;
        }
        for &p in props_of.get(&a).map(Vec::as_slice).unwrap_or(&[]) {
            for &b in &out.shared[p].anchors {
                if let std::collections::hash_map::Entry::Vacant(v) = reach.entry(b) {
                    v.insert(Reach {
                        hops: r.hops + 1,
                        seed: r.seed,
                        via: p,
                    });
                    queue.push_back(b);
                }
            }
        }
    }
    reach
}

/// Scores every entity. `duplicates` holds likely duplicate pairs `(anchor a, anchor b,
/// match probability)`.
pub fn scores(
    input: &LinkInput,
    out: &LinkOutput,
    rings: &[RingReport],
    duplicates: &[(u32, u32, f64)],
    config: &LinkConfig,
) -> Vec<EntityScore> {
    let w = &config.scores;
    let ents = &input.entities;
    let attrs = &input.attributes;
    let masked = |kind_idx: u16, row: u32| {
        let kind = base_kind(&out.kinds[kind_idx as usize]);
        (kind.to_owned(), mask(kind, attrs.value(row)))
    };
    // Strong shared properties and hubs per anchor.
    let mut strong_of: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, s) in out.shared.iter().enumerate() {
        if config.rule(base_kind(&out.kinds[s.kind as usize])).strength >= STRONG {
            for &a in &s.anchors {
                strong_of.entry(a).or_default().push(i);
            }
        }
    }
    let hub_keys: HashMap<u64, usize> = out
        .hubs
        .iter()
        .enumerate()
        .map(|(i, h)| (h.key, i))
        .collect();
    let mut hub_of: HashMap<u32, usize> = HashMap::new();
    if !hub_keys.is_empty() {
        for i in 0..attrs.len() {
            if let Some(&h) = hub_keys.get(&attrs.key[i]) {
                hub_of
                    .entry(ents.anchor[attrs.entity[i] as usize])
                    .or_insert(h);
            }
        }
    }
    let mut dup_of: HashMap<u32, (u32, f64)> = HashMap::new();
    for &(a, b, p) in duplicates {
        for (x, y) in [(a, b), (b, a)] {
            let e = dup_of.entry(x).or_insert((y, p));
            if p > e.1 {
                *e = (y, p);
            }
        }
    }
    let mut labelled: HashMap<u32, bool> = HashMap::new();
    for e in 0..ents.len() {
        if ents.label[e] == Some(Label::Fraud) {
            labelled.insert(ents.anchor[e], true);
        }
    }
    let reach = fraud_reach(input, out, w.proximity_max_hops);
    let ring_of: HashMap<u32, &RingReport> = rings.iter().map(|r| (r.cluster, r)).collect();

    let anchor_scores: HashMap<u32, EntityScore> = (0..ents.len() as u32)
        .into_par_iter()
        .filter(|&e| ents.anchor[e as usize] == e)
        .map(|a| {
            let mut reasons = Vec::new();
            let cluster = out.cluster_of[a as usize];
            let c = &out.clusters[cluster as usize];
            if labelled.contains_key(&a) {
                reasons.push(Reason {
                    code: "labelled_fraud",
                    message: "labelled fraud".to_owned(),
                    points: w.labelled_fraud,
                });
            }
            if let Some(r) = ring_of.get(&cluster).filter(|r| r.is_ring) {
                reasons.push(Reason {
                    code: "member_of_ring",
                    message: format!(
                        "member of ring {} ({} accounts, ring score {:.0}: {})",
                        c.id,
                        r.accounts,
                        r.ring_score,
                        r.reasons.first().map_or("", |x| x.message.as_str())
                    ),
                    points: r.ring_score * w.member_of_ring,
                });
            }
            if let Some(r) = reach.get(&a).filter(|r| r.hops > 0) {
                let (kind, value) = masked(out.shared[r.via].kind, out.shared[r.via].row);
                let hops = r.hops;
                reasons.push(Reason {
                    code: "close_to_fraud",
                    message: format!(
                        "{hops} hop{} from {} (labelled fraud), via {kind} {value}",
                        if hops == 1 { "" } else { "s" },
                        ents.ids[r.seed as usize]
                    ),
                    points: w.fraud_proximity * w.proximity_decay.powi(hops as i32 - 1),
                });
            }
            if let Some(shared) = strong_of.get(&a) {
                for &si in shared.iter().take(3) {
                    let s = &out.shared[si];
                    let (kind, value) = masked(s.kind, s.row);
                    reasons.push(Reason {
                        code: "shared_strong_property",
                        message: format!(
                            "shares {kind} {value} with {} other accounts",
                            s.anchors.len() - 1
                        ),
                        points: w.shared_strong_property,
                    });
                }
            }
            if let Some(&(other, p)) = dup_of.get(&a) {
                reasons.push(Reason {
                    code: "possible_duplicate",
                    message: format!(
                        "likely the same person as {} (match probability {:.2})",
                        ents.ids[other as usize], p
                    ),
                    points: w.possible_duplicate * p,
                });
            }
            if let Some(&h) = hub_of.get(&a) {
                let hub = &out.hubs[h];
                let (kind, value) = masked(hub.kind, hub.row);
                reasons.push(Reason {
                    code: "uses_hub_value",
                    message: format!(
                        "uses {kind} {value} shared by {} accounts ({})",
                        hub.entity_count,
                        hub.reason.as_str()
                    ),
                    points: w.uses_hub_value,
                });
            }
            reasons.sort_by(|x, y| y.points.total_cmp(&x.points).then(x.code.cmp(y.code)));
            let score = reasons
                .iter()
                .map(|r| r.points)
                .sum::<f64>()
                .clamp(0.0, 100.0);
            (
                a,
                EntityScore {
                    score: (score * 10.0).round() / 10.0,
                    reasons,
                },
            )
        })
        .collect();
    (0..ents.len())
        .map(|e| anchor_scores[&ents.anchor[e]].clone())
        .collect()
}
