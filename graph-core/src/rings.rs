//! Ring features, the ring score and the `is_ring` decision, with reasons.
//!
//! A cluster is a ring when it has at least `rings.min_accounts` accounts, reaches
//! `rings.threshold` and rests on **strong evidence**: a strong property (device, card, ID
//! number, email, phone) shared across distinct identities, a synthetic-identity pattern, one
//! identity behind many accounts, or a fraud label. Clusters held together by weak evidence
//! only (an IP within a day, a household's address) are capped below the threshold, which is
//! what keeps dormitories and families out.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::config::{LinkConfig, STRONG};
use crate::linker::{LinkOutput, base_kind};
use crate::normalize::mask;
use crate::record::{Label, kinds};
use crate::table::{LinkInput, Values};

/// One reason behind a score: a stable code, a sentence naming the evidence (masked), and the
/// points it contributed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reason {
    /// Stable machine code, e.g. `shared_strong_property`.
    pub code: &'static str,
    /// Human sentence with masked evidence.
    pub message: String,
    /// Points contributed (negative for discounts).
    pub points: f64,
}

/// Ring features and decision for one cluster with two or more anchors.
#[derive(Debug, Clone)]
pub struct RingReport {
    /// Index into [`LinkOutput::clusters`].
    pub cluster: u32,
    /// Distinct accounts (anchors).
    pub accounts: u32,
    /// All entities (accounts and inquiries).
    pub entities: u32,
    /// Distinct claimed identities (name + birthdate, else name, else the account).
    pub distinct_identities: u32,
    /// Kinds of strong properties shared across distinct identities.
    pub strong_kinds: Vec<String>,
    /// Masked examples of the strong shared properties (`kind value ×count`).
    pub strong_examples: Vec<String>,
    /// Largest number of accounts created within the burst window.
    pub burst_accounts: u32,
    /// Members labelled fraud.
    pub fraud_labels: u32,
    /// One ID number under several names.
    pub synthetic_gov_id: bool,
    /// One name + birthdate under several ID numbers.
    pub synthetic_name_dob: bool,
    /// Most accounts claiming one identity.
    pub identity_reuse: u32,
    /// All accounts share a last name and an address.
    pub household: bool,
    /// Earliest and latest creation time (ms).
    pub first_seen: Option<i64>,
    /// Latest creation time (ms).
    pub last_seen: Option<i64>,
    /// 0–100.
    pub ring_score: f64,
    /// The decision.
    pub is_ring: bool,
    /// Reasons, largest contribution first.
    pub reasons: Vec<Reason>,
}

/// Which profile slot a kind fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Slot {
    NameDob,
    GovId,
    Name,
    NameLast,
}

/// Computes ring reports for every cluster with two or more anchors.
/// `values` gives the value of every shared property's row (the masked examples).
pub(crate) fn rings(
    input: &LinkInput,
    out: &LinkOutput,
    values: &dyn Values,
    config: &LinkConfig,
) -> Vec<RingReport> {
    let ents = &input.entities;
    let attrs = &input.attributes;
    let multi = &out.clusters[..out.multi_clusters];

    // Identity facts of anchors in multi-anchor clusters: (anchor, slot, key).
    let slot_of: Vec<Option<Slot>> = attrs
        .kinds
        .iter()
        .map(|k| match k.as_str() {
            kinds::NAME_DOB => Some(Slot::NameDob),
            kinds::GOV_ID => Some(Slot::GovId),
            kinds::NAME => Some(Slot::Name),
            kinds::NAME_LAST => Some(Slot::NameLast),
            _ => None,
        })
        .collect();
    let in_multi = |anchor: u32| (out.cluster_of[anchor as usize] as usize) < out.multi_clusters;
    let mut facts: Vec<(u32, Slot, u64)> = (0..attrs.len())
        .into_par_iter()
        .filter_map(|i| {
            let slot = slot_of[attrs.kind[i] as usize]?;
            let anchor = ents.anchor[attrs.entity[i] as usize];
            in_multi(anchor).then_some((anchor, slot, attrs.key[i]))
        })
        .collect();
    facts.par_sort_unstable();
    facts.dedup();

    // Shared properties per cluster.
    let mut shared_of: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, s) in out.shared.iter().enumerate() {
        let c = out.cluster_of[s.anchors[0] as usize];
        shared_of.entry(c).or_default().push(i);
    }
    let strengths: Vec<f64> = out
        .kinds
        .iter()
        .map(|k| config.rule(base_kind(k)).strength)
        .collect();

    multi
        .par_iter()
        .enumerate()
        .map(|(ci, cluster)| {
            let anchor_facts = |a: u32| {
                let s = facts.partition_point(|f| f.0 < a);
                let e = facts.partition_point(|f| f.0 <= a);
                &facts[s..e]
            };
            // Identity of an anchor: its first name+dob key, else name key, else itself.
            let identity = |a: u32| -> u64 {
                let f = anchor_facts(a);
                f.iter()
                    .find(|x| x.1 == Slot::NameDob)
                    .or_else(|| f.iter().find(|x| x.1 == Slot::Name))
                    .map(|x| x.2)
                    .unwrap_or(u64::MAX - a as u64)
            };
            let ids: HashMap<u32, u64> =
                cluster.anchors.iter().map(|&a| (a, identity(a))).collect();
            let distinct: HashSet<u64> = ids.values().copied().collect();

            // Strong properties across identities.
            let mut strong_kinds: Vec<String> = Vec::new();
            let mut strong_examples = Vec::new();
            for &si in shared_of
                .get(&(ci as u32))
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                let s = &out.shared[si];
                if strengths[s.kind as usize] < STRONG {
                    continue;
                }
                let idents: HashSet<u64> = s.anchors.iter().map(|a| ids[a]).collect();
                if idents.len() < 2 {
                    continue;
                }
                let kind = base_kind(&out.kinds[s.kind as usize]).to_owned();
                if strong_examples.len() < 5 {
                    strong_examples.push(format!(
                        "{} {} ×{}",
                        kind,
                        mask(&kind, values.value(s.row)),
                        s.anchors.len()
                    ));
                }
                if !strong_kinds.contains(&kind) {
                    strong_kinds.push(kind);
                }
            }
            strong_kinds.sort();

            // Synthetic patterns and identity reuse, over ID numbers and name + birthdate
            // values that actually linked accounts of this cluster (never hubs or
            // placeholders).
            let linked_keys: HashSet<u64> = shared_of
                .get(&(ci as u32))
                .map(|v| v.iter().map(|&si| out.shared[si].key).collect())
                .unwrap_or_default();
            let mut gov_names: HashMap<u64, HashSet<u64>> = HashMap::new();
            let mut dob_govs: HashMap<u64, HashSet<u64>> = HashMap::new();
            let mut per_identity: HashMap<u64, u32> = HashMap::new();
            let mut last_names: HashSet<u64> = HashSet::new();
            let mut accounts_without_last = 0;
            for &a in &cluster.anchors {
                let f = anchor_facts(a);
                let get = |slot| {
                    f.iter()
                        .filter(move |x: &&(u32, Slot, u64)| x.1 == slot)
                        .map(|x| x.2)
                };
                // One name / ID number per account: its identity's, so format noise between an
                // account and its inquiries does not look like a second name.
                let first_name = get(Slot::Name).next();
                let first_gov = get(Slot::GovId).next();
                for g in get(Slot::GovId).filter(|g| linked_keys.contains(g)) {
                    gov_names.entry(g).or_default().extend(first_name);
                }
                for d in get(Slot::NameDob).filter(|d| linked_keys.contains(d)) {
                    dob_govs.entry(d).or_default().extend(first_gov);
                }
                *per_identity.entry(ids[&a]).or_default() += 1;
                let mut any_last = false;
                for l in get(Slot::NameLast) {
                    last_names.insert(l);
                    any_last = true;
                }
                if !any_last {
                    accounts_without_last += 1;
                }
            }
            let synthetic_gov_id = gov_names.values().any(|n| n.len() >= 2);
            let synthetic_name_dob = dob_govs.values().any(|g| g.len() >= 2);
            let identity_reuse = per_identity.values().copied().max().unwrap_or(0);
            let has_address_link = shared_of.get(&(ci as u32)).is_some_and(|v| {
                v.iter().any(|&si| {
                    base_kind(&out.kinds[out.shared[si].kind as usize]) == kinds::ADDRESS
                })
            });
            let household = distinct.len() >= 2
                && last_names.len() == 1
                && accounts_without_last == 0
                && has_address_link;

            // Times and labels.
            let mut times: Vec<i64> = cluster
                .anchors
                .iter()
                .filter_map(|&a| ents.created_at[a as usize])
                .collect();
            times.sort_unstable();
            let window = (config.rings.burst_hours * 3_600_000.0) as i64;
            let mut burst = 0usize;
            let mut lo = 0;
            for hi in 0..times.len() {
                while times[hi] - times[lo] > window {
                    lo += 1;
                }
                burst = burst.max(hi - lo + 1);
            }
            let fraud_labels = cluster
                .members
                .iter()
                .filter(|&&m| ents.label[m as usize] == Some(Label::Fraud))
                .count() as u32;
            let entities = cluster.members.len() as u32;

            let mut r = RingReport {
                cluster: ci as u32,
                accounts: cluster.anchors.len() as u32,
                entities,
                distinct_identities: distinct.len() as u32,
                strong_kinds,
                strong_examples,
                burst_accounts: burst as u32,
                fraud_labels,
                synthetic_gov_id,
                synthetic_name_dob,
                identity_reuse,
                household,
                first_seen: times.first().copied(),
                last_seen: times.last().copied(),
                ring_score: 0.0,
                is_ring: false,
                reasons: Vec::new(),
            };
            score_ring(&mut r, config);
            r
        })
        .collect()
}

/// Points of the ring score. Documented in `docs/scoring.md`; kept together so the reasons
/// and the arithmetic cannot drift apart.
fn score_ring(r: &mut RingReport, config: &LinkConfig) {
    let mut reasons = Vec::new();
    let mut add = |code: &'static str, points: f64, message: String| {
        reasons.push(Reason {
            code,
            message,
            points,
        });
    };
    let n = r.accounts;
    if n >= 3 {
        add(
            "ring_size",
            (10.0 + 2.0 * (n - 3) as f64).min(25.0),
            format!("{n} accounts linked"),
        );
    }
    if r.distinct_identities >= 3 {
        add(
            "many_identities",
            15.0,
            format!(
                "{} distinct identities in one cluster",
                r.distinct_identities
            ),
        );
    }
    if !r.strong_kinds.is_empty() {
        let pts = (20.0 + 10.0 * (r.strong_kinds.len() - 1) as f64).min(35.0);
        add(
            "shared_strong_property",
            pts,
            format!(
                "identities share {}: {}",
                r.strong_kinds.join(", "),
                r.strong_examples.join("; ")
            ),
        );
    }
    if r.burst_accounts >= 3 && 2 * r.burst_accounts >= n {
        add(
            "creation_burst",
            20.0,
            format!(
                "{} of {n} accounts created within {} h",
                r.burst_accounts, config.rings.burst_hours
            ),
        );
    }
    if r.synthetic_gov_id {
        add(
            "synthetic_gov_id",
            30.0,
            "one ID number used under several names".to_owned(),
        );
    }
    if r.synthetic_name_dob {
        add(
            "synthetic_name_dob",
            30.0,
            "one name and birthdate used with several ID numbers".to_owned(),
        );
    }
    if r.identity_reuse >= 3 {
        add(
            "identity_reuse",
            30.0,
            format!("one identity behind {} accounts", r.identity_reuse),
        );
    }
    if r.fraud_labels > 0 {
        add(
            "fraud_labels",
            20.0,
            format!("{} members labelled fraud", r.fraud_labels),
        );
    }
    if r.household {
        add(
            "household_pattern",
            -40.0,
            "all accounts share a last name and an address (likely a family)".to_owned(),
        );
    }
    let strong_evidence = !r.strong_kinds.is_empty()
        || r.synthetic_gov_id
        || r.synthetic_name_dob
        || r.identity_reuse >= 3
        || r.fraud_labels > 0;
    let mut score: f64 = reasons.iter().map(|x| x.points).sum();
    if !strong_evidence {
        let cap = (config.rings.threshold - 10.0).max(0.0);
        if score > cap {
            reasons.push(Reason {
                code: "weak_evidence_only",
                points: cap - score,
                message: "linked by weak evidence only (shared IP, address)".to_owned(),
            });
            score = cap;
        }
    }
    r.ring_score = score.clamp(0.0, 100.0);
    r.is_ring =
        n >= config.rings.min_accounts && strong_evidence && r.ring_score >= config.rings.threshold;
    reasons.sort_by(|a, b| {
        b.points
            .abs()
            .total_cmp(&a.points.abs())
            .then(a.code.cmp(b.code))
    });
    r.reasons = reasons;
}
