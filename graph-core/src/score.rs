//! Per-entity risk scores (0–100) with ordered reasons.
//!
//! The score adds points for the entity's own fraud label, its ring, its **closeness to known
//! fraud** (hop distance over shared properties from accounts labelled fraud, decaying per hop —
//! a propagation in the spirit of personalised PageRank that can name the path it took), strong
//! properties it shares, likely duplicates and hub exposure. Weights are
//! [`ScoreConfig`](crate::ScoreConfig). Inquiries carry their account's score.

use std::collections::VecDeque;

use foldhash::HashMap;
use rayon::prelude::*;

use crate::config::{LinkConfig, STRONG};
use crate::linker::{LinkOutput, base_kind};
use crate::normalize::mask;
use crate::record::Label;
use crate::rings::{Reason, RingReport};
use crate::table::{LinkInput, PerIndex, Values};

/// The score of one entity.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EntityScore {
    /// 0–100.
    pub score: f64,
    /// Reasons, largest contribution first.
    pub reasons: Vec<Reason>,
}

/// Every entity's score, held once per anchor: an inquiry scores what its account scores,
/// and an anchor without reasons (most of them) scores 0 with nothing stored. When every
/// inquiry held a copy of its account's reasons, the scoring step of a 10M-account link
/// faulted in about 2.7 GB of fresh pages (BENCHMARKS.md, twentieth session).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    /// Per entity: `Some` for an anchor with reasons, `None` for every other entity.
    by_anchor: Vec<Option<Box<EntityScore>>>,
}

impl Scores {
    /// The stored score of the anchor of entity `e` (`anchor` maps entities to their
    /// anchors), `None` when it has no reasons (a score of 0).
    pub fn get(&self, anchor: &[u32], e: usize) -> Option<&EntityScore> {
        let a = *anchor.get(e)? as usize;
        self.by_anchor.get(a)?.as_deref()
    }

    /// Entity `e`'s score (0 without reasons) and its reasons, largest first.
    pub fn of(&self, anchor: &[u32], e: usize) -> (f64, &[Reason]) {
        self.get(anchor, e)
            .map_or((0.0, &[][..]), |s| (s.score, &s.reasons[..]))
    }

    /// The stored scores, per entity (`Some` only for anchors with reasons).
    pub(crate) fn into_per_anchor(self) -> Vec<Option<Box<EntityScore>>> {
        self.by_anchor
    }
}

/// How an anchor was reached from known fraud.
#[derive(Debug, Clone, Copy)]
struct Reach {
    hops: u32,
    seed: u32,
    via: usize,
}

/// Multi-source breadth-first search from anchors labelled fraud over shared properties.
/// `O(shared postings)`; nothing when no entity is labelled fraud.
fn fraud_reach(input: &LinkInput, out: &LinkOutput, max_hops: u32) -> HashMap<u32, Reach> {
    let ents = &input.entities;
    let mut seeds: Vec<u32> = (0..ents.len())
        .filter(|&e| ents.label[e] == Some(Label::Fraud))
        .map(|e| ents.anchor[e])
        .collect();
    seeds.sort_unstable();
    seeds.dedup();
    let mut reach: HashMap<u32, Reach> = HashMap::default();
    if seeds.is_empty() {
        return reach;
    }
    let props_of = PerIndex::build(ents.len(), |f| {
        for (i, s) in out.shared.iter().enumerate() {
            for &a in &s.anchors {
                f(a, i as u32);
            }
        }
    });
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
        for &p in props_of.get(a) {
            let p = p as usize;
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

/// Scores every entity (each anchor once; see [`Scores`]). `duplicates` holds likely
/// duplicate pairs `(anchor a, anchor b, match probability)` in any order; each anchor's
/// strongest partner is named (ties go to the smaller entity index, so the result does not
/// depend on the order of the pairs).
///
/// `values` gives the value of every hub's and shared property's row (the masked evidence).
pub(crate) fn scores(
    input: &LinkInput,
    out: &LinkOutput,
    values: &dyn Values,
    rings: &[RingReport],
    duplicates: &[(u32, u32, f64)],
    config: &LinkConfig,
) -> Scores {
    let w = &config.scores;
    let ents = &input.entities;
    let masked = |kind_idx: u16, row: u32| {
        let kind = base_kind(&out.kinds[kind_idx as usize]);
        (kind.to_owned(), mask(kind, values.value(row)))
    };
    // Strong shared properties and hubs per anchor.
    let strong_kind: Vec<bool> = out
        .kinds
        .iter()
        .map(|k| config.rule(base_kind(k)).strength >= STRONG)
        .collect();
    let strong_of = PerIndex::build(ents.len(), |f| {
        for (i, s) in out.shared.iter().enumerate() {
            if strong_kind[s.kind as usize] {
                for &a in &s.anchors {
                    f(a, i as u32);
                }
            }
        }
    });
    // The first hub (in report order) each anchor uses.
    let mut hub_of = vec![u32::MAX; ents.len()];
    for (i, h) in out.hubs.iter().enumerate() {
        for &a in &h.anchors {
            let slot = &mut hub_of[a as usize];
            *slot = (*slot).min(i as u32);
        }
    }
    let mut labelled = vec![false; ents.len()];
    for e in 0..ents.len() {
        if ents.label[e] == Some(Label::Fraud) {
            labelled[ents.anchor[e] as usize] = true;
        }
    }
    // Per anchor, its strongest duplicate partner, and its strongest partner labelled fraud.
    let mut dup_of: HashMap<u32, (u32, f64)> = HashMap::default();
    let mut dup_of_fraud: HashMap<u32, (u32, f64)> = HashMap::default();
    let keep_strongest = |m: &mut HashMap<u32, (u32, f64)>, x: u32, y: u32, p: f64| {
        let e = m.entry(x).or_insert((y, p));
        if p > e.1 || (p == e.1 && y < e.0) {
            *e = (y, p);
        }
    };
    for &(a, b, p) in duplicates {
        for (x, y) in [(a, b), (b, a)] {
            keep_strongest(&mut dup_of, x, y, p);
            if labelled[y as usize] && !labelled[x as usize] {
                keep_strongest(&mut dup_of_fraud, x, y, p);
            }
        }
    }
    let reach = fraud_reach(input, out, w.proximity_max_hops);
    let ring_of: HashMap<u32, &RingReport> = rings.iter().map(|r| (r.cluster, r)).collect();

    let by_anchor = (0..ents.len() as u32)
        .into_par_iter()
        .map(|a| {
            if ents.anchor[a as usize] != a {
                return None;
            }
            let mut reasons = Vec::new();
            let cluster = out.cluster_of[a as usize];
            if labelled[a as usize] {
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
                        out.cluster_id(cluster),
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
                        &ents.ids[r.seed as usize]
                    ),
                    points: w.fraud_proximity * w.proximity_decay.powi(hops as i32 - 1),
                });
            }
            for &si in strong_of.get(a).iter().take(3) {
                let s = &out.shared[si as usize];
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
            if let Some(&(other, p)) = dup_of_fraud.get(&a) {
                reasons.push(Reason {
                    code: "duplicate_of_fraud",
                    message: format!(
                        "likely the same person as {} (labelled fraud; match probability {:.2})",
                        &ents.ids[other as usize], p
                    ),
                    points: w.duplicate_of_fraud * p,
                });
            }
            if let Some(&(other, p)) = dup_of.get(&a) {
                reasons.push(Reason {
                    code: "possible_duplicate",
                    message: format!(
                        "likely the same person as {} (match probability {:.2})",
                        &ents.ids[other as usize], p
                    ),
                    points: w.possible_duplicate * p,
                });
            }
            if let Some(hub) = out.hubs.get(hub_of[a as usize] as usize) {
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
            if reasons.is_empty() {
                return None;
            }
            let score = rank_and_total(&mut reasons);
            Some(Box::new(EntityScore { score, reasons }))
        })
        .collect();
    Scores { by_anchor }
}

/// Orders reasons by points (then code) and returns the score they add up to: clamped to
/// 0–100 and rounded to one decimal. Batch and live scores both finish here, so the same
/// reasons always give the same score.
pub(crate) fn rank_and_total(reasons: &mut [Reason]) -> f64 {
    reasons.sort_by(|x, y| y.points.total_cmp(&x.points).then(x.code.cmp(y.code)));
    let score = reasons.iter().map(|r| r.points).sum::<f64>();
    within_0_100((score * 10.0).round() / 10.0)
}

/// `score` clamped to 0–100, with -0.0 made 0: an empty sum is -0.0 (Rust's float `Sum`
/// starts there) and so is a rounded tiny discount, which `clamp` keeps and Parquet, JSON and
/// notebooks show as "-0.0".
pub(crate) fn within_0_100(score: f64) -> f64 {
    let score = score.clamp(0.0, 100.0);
    if score == 0.0 { 0.0 } else { score }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keyer;
    use crate::linker::link;
    use crate::normalize::{NormalizeOptions, normalize_record};
    use crate::record::{EntityType, Field, RawRecord};
    use crate::rings::rings;

    /// Accounts `(id, device, label)` created a day apart, plus one inquiry on `a0`.
    fn input(rows: &[(&str, &str, &str)]) -> LinkInput {
        let opts = NormalizeOptions::default();
        let mut records: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(i, (id, device, label))| {
                let created = format!("2026-01-{:02}", i + 1);
                let raw = RawRecord::new(EntityType::Account)
                    .with(Field::AccountId, id)
                    .with(Field::CreatedAt, &created)
                    .with(Field::DeviceId, device)
                    .with(Field::Label, label);
                normalize_record(&raw, &opts).unwrap()
            })
            .collect();
        let inq = RawRecord::new(EntityType::Inquiry)
            .with(Field::InquiryId, "inq_1")
            .with(Field::AccountId, rows[0].0);
        records.push(normalize_record(&inq, &opts).unwrap());
        LinkInput::from_records(&records, Keyer::new(b"score test secret"))
    }

    fn scored(input: &LinkInput, dups: &[(u32, u32, f64)]) -> Scores {
        let cfg = LinkConfig::default();
        let out = link(input, &cfg);
        let rs = rings(input, &out, &input.attributes, &cfg);
        scores(input, &out, &input.attributes, &rs, dups, &cfg)
    }

    /// Every entity's score, spelled out (0 and no reasons where nothing is stored).
    fn run(input: &LinkInput, dups: &[(u32, u32, f64)]) -> Vec<EntityScore> {
        let sc = scored(input, dups);
        let anchor = &input.entities.anchor;
        (0..input.entities.len())
            .map(|e| {
                let (score, reasons) = sc.of(anchor, e);
                assert_eq!(sc.get(anchor, e).is_some(), !reasons.is_empty());
                EntityScore {
                    score,
                    reasons: reasons.to_vec(),
                }
            })
            .collect()
    }

    fn idx(input: &LinkInput, id: &str) -> usize {
        input.entities.ids.iter().position(|x| x == id).unwrap()
    }

    fn codes(s: &EntityScore) -> Vec<&'static str> {
        s.reasons.iter().map(|r| r.code).collect()
    }

    #[test]
    fn closeness_to_fraud_decays_per_hop_and_names_the_masked_path() {
        // a0 (fraud) —dev1— a1 —dev2— a2; a3 stands alone.
        let inp = input(&[
            ("a0", "dev-aaaa-1111", "fraud"),
            ("a1", "dev-aaaa-1111", ""),
            ("a2", "dev-bbbb-2222", ""),
            ("a3", "dev-cccc-3333", ""),
        ]);
        // a1 also uses a2's device.
        let mut inp2 = inp.clone();
        let kind = inp2.attributes.kind_id(crate::record::kinds::DEVICE_ID);
        let keyer = Keyer::new(b"score test secret");
        inp2.attributes
            .push(&keyer, idx(&inp, "a1") as u32, kind, "dev-bbbb-2222");
        let sc = run(&inp2, &[]);
        let s = |id: &str| &sc[idx(&inp2, id)];
        assert_eq!(codes(s("a0"))[0], "labelled_fraud");
        let one = s("a1")
            .reasons
            .iter()
            .find(|r| r.code == "close_to_fraud")
            .unwrap();
        let two = s("a2")
            .reasons
            .iter()
            .find(|r| r.code == "close_to_fraud")
            .unwrap();
        assert_eq!(one.points, 40.0);
        assert_eq!(two.points, 20.0);
        assert!(one.message.starts_with("1 hop from a0"), "{}", one.message);
        assert!(two.message.starts_with("2 hops from a0"), "{}", two.message);
        assert!(
            !one.message.contains("dev-aaaa-1111"),
            "values are masked: {}",
            one.message
        );
        assert!(s("a3").reasons.is_empty());
        assert_eq!(s("a3").score, 0.0);
        // Every score is within 0..=100, reasons come strongest first, and an inquiry
        // carries its account's score.
        for e in &sc {
            assert!((0.0..=100.0).contains(&e.score));
            assert!(e.reasons.windows(2).all(|w| w[0].points >= w[1].points));
        }
        assert_eq!(sc[idx(&inp2, "inq_1")], *s("a0"));
        // Held once per anchor: the inquiry's score is its account's, and an account
        // without reasons stores nothing.
        let held = scored(&inp2, &[]);
        let anchor = &inp2.entities.anchor;
        let (inq, a0) = (idx(&inp2, "inq_1"), idx(&inp2, "a0"));
        assert!(std::ptr::eq(
            held.get(anchor, inq).unwrap(),
            held.get(anchor, a0).unwrap()
        ));
        assert!(held.get(anchor, idx(&inp2, "a3")).is_none());
        assert!(held.into_per_anchor()[inq].is_none());
    }

    #[test]
    fn an_anchor_whose_reasons_add_up_to_nothing_keeps_them_at_score_zero() {
        // a0 and a1 share a device (a strong property) weighted 0: a reason worth nothing.
        let inp = input(&[("a0", "dev-aaaa-1111", ""), ("a1", "dev-aaaa-1111", "")]);
        let mut cfg = LinkConfig::default();
        cfg.scores.shared_strong_property = 0.0;
        let out = link(&inp, &cfg);
        let rs = rings(&inp, &out, &inp.attributes, &cfg);
        let sc = scores(&inp, &out, &inp.attributes, &rs, &[], &cfg);
        let anchor = &inp.entities.anchor;
        for id in ["a0", "a1", "inq_1"] {
            let held = sc.get(anchor, idx(&inp, id)).unwrap();
            assert_eq!(held.score, 0.0, "{id}");
            assert!(held.score.is_sign_positive(), "{id}");
            assert_eq!(codes(held), ["shared_strong_property"], "{id}");
        }
    }

    #[test]
    fn no_reasons_or_discounts_alone_score_plain_zero() {
        let discount = |points| Reason {
            code: "household",
            message: String::new(),
            points,
        };
        for mut reasons in [vec![], vec![discount(-5.0)], vec![discount(-0.0)]] {
            let score = rank_and_total(&mut reasons);
            assert_eq!(score, 0.0);
            assert!(score.is_sign_positive(), "{score:?} for {reasons:?}");
        }
        assert_eq!(rank_and_total(&mut [discount(12.34)]), 12.3);
    }

    #[test]
    fn a_duplicate_of_known_fraud_is_scored_and_named() {
        let inp = input(&[
            ("a0", "dev-aaaa-1111", "fraud"),
            ("a1", "dev-bbbb-2222", ""),
            ("a2", "dev-cccc-3333", ""),
        ]);
        let (a0, a1, a2) = (
            idx(&inp, "a0") as u32,
            idx(&inp, "a1") as u32,
            idx(&inp, "a2") as u32,
        );
        let pairs = [(a0, a1, 0.5), (a1, a2, 0.95)];
        let sc = run(&inp, &pairs);
        let r1 = &sc[a1 as usize];
        let fraud = r1
            .reasons
            .iter()
            .find(|r| r.code == "duplicate_of_fraud")
            .unwrap();
        assert_eq!(fraud.points, 30.0);
        assert!(fraud.message.contains("a0"), "{}", fraud.message);
        // The strongest partner is the one `possible_duplicate` names.
        let dup = r1
            .reasons
            .iter()
            .find(|r| r.code == "possible_duplicate")
            .unwrap();
        assert!(dup.message.contains("a2"), "{}", dup.message);
        // 30 + 15 × 0.95 = 44.25, rounded to one decimal.
        assert_eq!(r1.score, 44.3);
        // a2's partner is not labelled: no fraud reason, and the pair order does not matter.
        assert!(!codes(&sc[a2 as usize]).contains(&"duplicate_of_fraud"));
        let reversed = run(&inp, &[(a2, a1, 0.95), (a1, a0, 0.5)]);
        assert_eq!(sc, reversed);
        // The fraud account itself gets no "duplicate of fraud" reason from its partner.
        assert!(!codes(&sc[a0 as usize]).contains(&"duplicate_of_fraud"));
    }
}
