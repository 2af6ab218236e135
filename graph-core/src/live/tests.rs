//! Live equals batch: the same records give the same keys, clusters, hubs and score points
//! whichever way they arrive (all at once, one by one in any order, replaced, removed).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::record::{Attribute, Entity, kinds};

/// (inquiry of account #, created_at hour, label fraud, attributes (kind #, value #))
type Spec = Vec<(Option<usize>, Option<u8>, bool, Vec<(u8, u8)>)>;

const KINDS: &[&str] = &[
    kinds::EMAIL,
    kinds::DEVICE_ID,
    kinds::IP,
    kinds::ADDRESS,
    kinds::NAME_LAST,
    kinds::GOV_ID,
    kinds::NAME,
];

fn records(spec: &Spec) -> Vec<Normalized> {
    spec.iter()
        .enumerate()
        .map(|(i, (inq_of, hour, fraud, attrs))| {
            let (entity_type, id, account_id) = match inq_of {
                Some(a) => (
                    EntityType::Inquiry,
                    format!("inq_{i}"),
                    Some(format!("acct_{a}")),
                ),
                None => (EntityType::Account, format!("acct_{i}"), None),
            };
            let mut attributes: Vec<Attribute> = attrs
                .iter()
                .map(|&(k, v)| Attribute {
                    kind: KINDS[k as usize % KINDS.len()].to_owned(),
                    // Value 0 is a placeholder for every kind.
                    value: if v == 0 {
                        "n/a".to_owned()
                    } else {
                        format!("v{v}")
                    },
                })
                .collect();
            attributes.sort();
            attributes.dedup();
            Normalized {
                entity: Entity {
                    entity_type,
                    id,
                    account_id,
                    created_at: hour.map(|h| h as i64 * 3_600_000),
                    status: None,
                    label: fraud.then_some(Label::Fraud),
                },
                attributes,
                issues: Vec::new(),
            }
        })
        .collect()
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    prop::collection::vec(
        (
            prop::option::weighted(0.3, 0usize..30),
            prop::option::weighted(0.9, 0u8..100),
            prop::bool::weighted(0.1),
            prop::collection::vec((0u8..7, 0u8..10), 0..5),
        ),
        1..30,
    )
}

fn config() -> LinkConfig {
    let mut c = LinkConfig::default();
    for k in KINDS {
        let mut r = c.rule(k);
        r.cap = Cap::Fixed(5);
        c.rules.insert((*k).to_owned(), r);
    }
    c
}

fn keyer() -> Keyer {
    Keyer::new(b"live test secret")
}

/// What a batch run says, in the live graph's terms.
#[derive(Debug, PartialEq)]
struct Facts {
    clusters: BTreeMap<(EntityType, String), String>,
    hubs: BTreeSet<(String, u32)>,
    scores: BTreeMap<(EntityType, String), i64>,
    rings: BTreeMap<String, (bool, i64)>,
}

fn batch(records: &[Normalized], config: &LinkConfig) -> Facts {
    let input = LinkInput::from_records(records, keyer());
    let out = crate::linker::link(&input, config);
    let rs = rings(&input, &out, config);
    let sc = scores(&input, &out, &rs, &[], config);
    let key = |e: usize| (input.entities.types[e], input.entities.ids[e].clone());
    Facts {
        clusters: (0..input.entities.len())
            .map(|e| (key(e), out.clusters[out.cluster_of[e] as usize].id.clone()))
            .collect(),
        hubs: out
            .hubs
            .iter()
            .map(|h| (crate::keys::key_hex(h.key), h.entity_count))
            .collect(),
        scores: (0..input.entities.len())
            .map(|e| (key(e), (sc[e].score * 10.0).round() as i64))
            .collect(),
        rings: rs
            .iter()
            .map(|r| {
                (
                    out.clusters[r.cluster as usize].id.clone(),
                    (r.is_ring, (r.ring_score * 10.0).round() as i64),
                )
            })
            .collect(),
    }
}

fn live(g: &LiveGraph) -> Facts {
    let clusters: BTreeMap<_, _> = g.assignments().into_iter().collect();
    let mut rings = BTreeMap::new();
    let mut scores = BTreeMap::new();
    for k in clusters.keys() {
        let r = g.risk(k.0, &k.1).unwrap();
        scores.insert(k.clone(), (r.score * 10.0).round() as i64);
        if r.cluster_accounts > 1 {
            rings.insert(
                r.cluster_id.clone(),
                (r.is_ring, (r.ring_score * 10.0).round() as i64),
            );
        }
    }
    Facts {
        clusters,
        hubs: g
            .hubs()
            .into_iter()
            .map(|h| (h.key, h.entity_count))
            .collect(),
        scores,
        rings,
    }
}

fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut s = seed | 1;
    for i in (1..v.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.swap(i, (s % (i as u64 + 1)) as usize);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn live_equals_batch_record_by_record_in_any_order(spec in spec_strategy(), seed in any::<u64>()) {
        let recs = records(&spec);
        let cfg = config();
        let mut order = recs.clone();
        shuffle(&mut order, seed);
        let mut g = LiveGraph::new(keyer(), cfg.clone());
        for r in order {
            g.upsert(r);
        }
        prop_assert_eq!(live(&g), batch(&recs, &cfg));
    }

    #[test]
    fn live_equals_batch_when_built_from_batch_then_fed(spec in spec_strategy(), split in 0usize..30) {
        let recs = records(&spec);
        let cfg = config();
        let split = split.min(recs.len());
        let mut g = LiveGraph::from_records(&recs[..split], keyer(), cfg.clone()).unwrap();
        prop_assert_eq!(live(&g), batch(&recs[..split], &cfg));
        for r in &recs[split..] {
            g.upsert(r.clone());
        }
        prop_assert_eq!(live(&g), batch(&recs, &cfg));
    }

    #[test]
    fn live_equals_batch_after_replacements_and_removals(
        spec in spec_strategy(),
        other in spec_strategy(),
        seed in any::<u64>(),
    ) {
        // Every record is stored, then a third are replaced by another record's attributes and
        // a third removed; the graph must equal a batch run over what is left.
        let recs = records(&spec);
        let alt = records(&other);
        let cfg = config();
        let mut g = LiveGraph::new(keyer(), cfg.clone());
        for r in &recs {
            g.upsert(r.clone());
        }
        let mut idx: Vec<usize> = (0..recs.len()).collect();
        shuffle(&mut idx, seed);
        let mut current: BTreeMap<usize, Normalized> = recs.iter().cloned().enumerate().collect();
        for (n, &i) in idx.iter().enumerate() {
            match n % 3 {
                0 => {
                    let mut r = recs[i].clone();
                    let a = &alt[i % alt.len()];
                    r.attributes = a.attributes.clone();
                    r.entity.created_at = a.entity.created_at;
                    r.entity.label = a.entity.label;
                    if r.entity.entity_type == EntityType::Inquiry {
                        r.entity.account_id = Some(format!("acct_{}", seed as usize % 30));
                    }
                    g.upsert(r.clone());
                    current.insert(i, r);
                }
                1 => {
                    let r = &recs[i];
                    prop_assert!(g.remove(r.entity.entity_type, &r.entity.id).is_some());
                    current.remove(&i);
                }
                _ => {}
            }
        }
        let left: Vec<Normalized> = current.into_values().collect();
        prop_assert_eq!(live(&g), batch(&left, &cfg));
        prop_assert_eq!(g.len(), left.len());
    }

    #[test]
    fn evaluate_gives_what_upsert_would_and_changes_nothing(spec in spec_strategy()) {
        let recs = records(&spec);
        let (last, rest) = recs.split_last().unwrap();
        let cfg = config();
        let mut g = LiveGraph::from_records(rest, keyer(), cfg.clone()).unwrap();
        let before = live(&g);
        let risk = g.evaluate(last.clone());
        prop_assert_eq!(live(&g), before);
        g.upsert(last.clone());
        let stored = g.risk(last.entity.entity_type, &last.entity.id).unwrap();
        prop_assert_eq!(risk.score, stored.score);
        prop_assert_eq!(risk.is_ring, stored.is_ring);
    }
}

fn account(id: &str, hour: i64, attrs: &[(&str, &str)]) -> Normalized {
    Normalized {
        entity: Entity {
            entity_type: EntityType::Account,
            id: id.to_owned(),
            account_id: None,
            created_at: Some(hour * 3_600_000),
            status: None,
            label: None,
        },
        attributes: attrs
            .iter()
            .map(|(k, v)| Attribute {
                kind: (*k).to_owned(),
                value: (*v).to_owned(),
            })
            .collect(),
        issues: Vec::new(),
    }
}

#[test]
fn a_cap_crossing_splits_the_cluster_it_had_made() {
    let cfg = config(); // device cap 5
    let mut g = LiveGraph::new(keyer(), cfg.clone());
    let mut recs = Vec::new();
    for i in 0..5 {
        let r = account(&format!("a{i}"), i, &[(kinds::DEVICE_ID, "dev-1")]);
        g.upsert(r.clone());
        recs.push(r);
    }
    let c = g.risk(EntityType::Account, "a0").unwrap();
    assert_eq!(c.cluster_accounts, 5);
    let r = account("a5", 9, &[(kinds::DEVICE_ID, "dev-1")]);
    let change = g.upsert(r.clone());
    recs.push(r);
    assert!(change.reclustered);
    assert_eq!(g.hubs().len(), 1);
    assert_eq!(g.hubs()[0].entity_count, 6);
    assert_eq!(
        g.risk(EntityType::Account, "a0").unwrap().cluster_accounts,
        1
    );
    assert_eq!(live(&g), batch(&recs, &cfg));
}

#[test]
fn an_inquiry_before_its_account_joins_it_when_the_account_arrives() {
    let cfg = config();
    let mut g = LiveGraph::new(keyer(), cfg.clone());
    let mut q = account("q1", 1, &[(kinds::DEVICE_ID, "dev-9")]);
    q.entity.entity_type = EntityType::Inquiry;
    q.entity.account_id = Some("a1".to_owned());
    let other = account("a2", 0, &[(kinds::DEVICE_ID, "dev-9")]);
    let a1 = account("a1", 2, &[(kinds::EMAIL, "x@y.com")]);
    for r in [q.clone(), other.clone(), a1.clone()] {
        g.upsert(r);
    }
    let c = g.cluster(EntityType::Account, "a1").unwrap();
    assert_eq!(c.members.len(), 3);
    assert_eq!(live(&g), batch(&[q, other, a1], &cfg));
}

#[test]
fn from_records_rejects_duplicate_ids() {
    let r = account("a1", 0, &[]);
    let e = LiveGraph::from_records(&[r.clone(), r], keyer(), config()).unwrap_err();
    assert!(matches!(e, Error::DuplicateId { .. }), "{e}");
}

#[test]
fn auto_caps_are_the_batch_runs_and_resolved_config_reproduces_them() {
    let mut recs = Vec::new();
    for i in 0..30 {
        recs.push(account(
            &format!("a{i}"),
            i,
            &[(kinds::DEVICE_ID, if i < 25 { "shared" } else { "own" })],
        ));
    }
    let cfg = LinkConfig::default();
    let g = LiveGraph::from_records(&recs, keyer(), cfg.clone()).unwrap();
    let caps: BTreeMap<String, u32> = g.caps().into_iter().collect();
    assert_eq!(caps[kinds::DEVICE_ID], 75, "3 × the 99th percentile (25)");
    assert_eq!(live(&g), batch(&recs, &g.resolved_config()));
}
