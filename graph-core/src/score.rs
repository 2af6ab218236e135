//! Per-entity risk scores (0–100) with ordered reasons.
//!
//! This first model combines the entity's ring, strong properties it shares, closeness to
//! members labelled fraud in its cluster, its own label and hub exposure. Inquiries carry
//! their account's score.

use std::collections::HashMap;

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

/// Scores every entity.
pub fn scores(
    input: &LinkInput,
    out: &LinkOutput,
    rings: &[RingReport],
    config: &LinkConfig,
) -> Vec<EntityScore> {
    let ents = &input.entities;
    let attrs = &input.attributes;
    // Strong shared properties and hubs per anchor.
    let mut strong_of: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, s) in out.shared.iter().enumerate() {
        if config.rule(base_kind(&out.kinds[s.kind as usize])).strength >= STRONG {
            for &a in &s.anchors {
                strong_of.entry(a).or_default().push(i);
            }
        }
    }
    let hub_keys: HashMap<u64, usize> =
        out.hubs.iter().enumerate().map(|(i, h)| (h.key, i)).collect();
    let mut hub_of: HashMap<u32, usize> = HashMap::new();
    if !hub_keys.is_empty() {
        for i in 0..attrs.len() {
            if let Some(&h) = hub_keys.get(&attrs.key[i]) {
                hub_of.entry(ents.anchor[attrs.entity[i] as usize]).or_insert(h);
            }
        }
    }
    let ring_of: HashMap<u32, &RingReport> = rings.iter().map(|r| (r.cluster, r)).collect();

    let anchor_scores: HashMap<u32, EntityScore> = (0..ents.len() as u32)
        .into_par_iter()
        .filter(|&e| ents.anchor[e as usize] == e)
        .map(|a| {
            let mut reasons = Vec::new();
            let cluster = out.cluster_of[a as usize];
            let c = &out.clusters[cluster as usize];
            if let Some(r) = ring_of.get(&cluster) {
                if r.is_ring {
                    reasons.push(Reason {
                        code: "member_of_ring",
                        message: format!(
                            "member of ring {} ({} accounts, ring score {:.0})",
                            c.id, r.accounts, r.ring_score
                        ),
                        points: r.ring_score * 0.8,
                    });
                }
                let fraud_others = c
                    .members
                    .iter()
                    .filter(|&&m| {
                        ents.anchor[m as usize] != a && ents.label[m as usize] == Some(Label::Fraud)
                    })
                    .count();
                if fraud_others > 0 {
                    reasons.push(Reason {
                        code: "linked_to_fraud",
                        message: format!("linked to {fraud_others} records labelled fraud in cluster {}", c.id),
                        points: 25.0,
                    });
                }
            }
            if let Some(shared) = strong_of.get(&a) {
                for &si in shared.iter().take(3) {
                    let s = &out.shared[si];
                    let kind = base_kind(&out.kinds[s.kind as usize]);
                    reasons.push(Reason {
                        code: "shared_strong_property",
                        message: format!(
                            "shares {kind} {} with {} other accounts",
                            mask(kind, attrs.value(s.row)),
                            s.anchors.len() - 1
                        ),
                        points: 10.0,
                    });
                }
            }
            if c.members.iter().any(|&m| ents.anchor[m as usize] == a && ents.label[m as usize] == Some(Label::Fraud)) {
                reasons.push(Reason {
                    code: "labelled_fraud",
                    message: "labelled fraud".to_owned(),
                    points: 95.0,
                });
            }
            if let Some(&h) = hub_of.get(&a) {
                let hub = &out.hubs[h];
                let kind = base_kind(&out.kinds[hub.kind as usize]);
                reasons.push(Reason {
                    code: "uses_hub_value",
                    message: format!(
                        "uses {kind} {} shared by {} accounts ({})",
                        mask(kind, attrs.value(hub.row)),
                        hub.entity_count,
                        hub.reason.as_str()
                    ),
                    points: 5.0,
                });
            }
            reasons.sort_by(|x, y| y.points.total_cmp(&x.points).then(x.code.cmp(y.code)));
            let score = reasons.iter().map(|r| r.points).sum::<f64>().clamp(0.0, 100.0);
            (a, EntityScore { score: (score * 10.0).round() / 10.0, reasons })
        })
        .collect();
    (0..ents.len())
        .map(|e| anchor_scores[&ents.anchor[e]].clone())
        .collect()
}
