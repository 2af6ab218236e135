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
    kinds::NAME_DOB,
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
                    kind: KINDS[k as usize % KINDS.len()].into(),
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
    // Duplicates have their own tests below (with a model trained up front).
    c.dedupe.enabled = false;
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

type Key = (EntityType, String);

/// What a batch run says, in the live graph's terms. Duplicate probabilities as bits: live
/// and batch must agree exactly.
#[derive(Debug, PartialEq)]
struct Facts {
    clusters: BTreeMap<Key, String>,
    hubs: BTreeSet<(String, u32)>,
    scores: BTreeMap<Key, i64>,
    rings: BTreeMap<String, (bool, i64)>,
    dups: BTreeMap<(Key, Key), u64>,
}

fn batch(records: &[Normalized], config: &LinkConfig) -> Facts {
    batch_with(records, config, None)
}

/// A batch run; with a model, its duplicate pairs (scored as `ringfence link --model` does)
/// feed the scores.
fn batch_with(records: &[Normalized], config: &LinkConfig, model: Option<&Model>) -> Facts {
    let input = LinkInput::from_records(records, keyer());
    let out = crate::linker::link(&input, config);
    let rs = rings(&input, &out, &input.attributes, config);
    let pairs = model
        .map(|m| {
            let recs = crate::dedupe::records_from_input(&input, config);
            crate::dedupe::score_pairs(&recs, m, &config.dedupe).pairs
        })
        .unwrap_or_default();
    let probs: Vec<(u32, u32, f64)> = pairs
        .iter()
        .map(|p| (p.a, p.b, p.match_probability))
        .collect();
    let sc = scores(&input, &out, &input.attributes, &rs, &probs, config);
    let key = |e: usize| (input.entities.types[e], input.entities.ids[e].to_owned());
    Facts {
        dups: pairs
            .iter()
            .map(|p| {
                let (x, y) = (key(p.a as usize), key(p.b as usize));
                let k = if x <= y { (x, y) } else { (y, x) };
                (k, p.match_probability.to_bits())
            })
            .collect(),
        clusters: (0..input.entities.len())
            .map(|e| (key(e), out.cluster_id(out.cluster_of[e]).into_owned()))
            .collect(),
        hubs: out
            .hubs
            .iter()
            .map(|h| (crate::keys::key_hex(h.key), h.entity_count))
            .collect(),
        scores: (0..input.entities.len())
            .map(|e| {
                (
                    key(e),
                    (sc.of(&input.entities.anchor, e).0 * 10.0).round() as i64,
                )
            })
            .collect(),
        rings: rs
            .iter()
            .map(|r| {
                (
                    out.cluster_id(r.cluster).into_owned(),
                    (r.is_ring, (r.ring_score * 10.0).round() as i64),
                )
            })
            .collect(),
    }
}

fn live(g: &LiveGraph) -> Facts {
    let mut g = g.clone();
    // Clusters left for the background pass are settled first.
    g.settle_stale();
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
        dups: g
            .duplicate_pairs()
            .into_iter()
            .map(|(a, b, p)| ((a, b), p.to_bits()))
            .collect(),
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
        // Large clusters are left to the background pass: rescored before comparing.
        g.set_sync_rescore_limit((seed % 4) as usize);
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
        // Read-only: `&self`.
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
                kind: (*k).to_owned().into(),
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

// ---------------------------------------------------------------------------------------------
// Duplicates: live pairs and scores equal a batch run's under the same model.

/// (inquiry of account #, label fraud, first #, last #, dob #, gov #, email #, phone #, address #)
/// with each field optional.
type DupSpec = Vec<(Option<usize>, bool, [Option<u8>; 7])>;

const FIRSTS: &[&str] = &["jennifer", "jenifer", "mark", "marc", "anna"];
const LASTS: &[&str] = &["okafor", "okafour", "lee", "li"];
const DOBS: &[&str] = &["1984-03-07", "1984-07-03", "1990-01-01", "1990-01-02"];
const GOVS: &[&str] = &[
    "US:123456780",
    "US:123456789",
    "US:987654321",
    "US:555443333",
];
const EMAILS: &[&str] = &["jo@x.com", "jo@y.com", "mark@z.com", "anna@z.com"];
const PHONES: &[&str] = &["+15551230001", "+15551230002", "+15559870000"];
const ADDRESSES: &[&str] = &["1 main st|10001", "1 main street|10001", "9 elm rd|20002"];

fn dup_records(spec: &DupSpec) -> Vec<Normalized> {
    spec.iter()
        .enumerate()
        .map(|(i, (inq_of, fraud, f))| {
            let (entity_type, id, account_id) = match inq_of {
                Some(a) => (
                    EntityType::Inquiry,
                    format!("inq_{i}"),
                    Some(format!("acct_{a}")),
                ),
                None => (EntityType::Account, format!("acct_{i}"), None),
            };
            let pick =
                |k: usize, pool: &[&str]| f[k].map(|v| pool[v as usize % pool.len()].to_owned());
            let last = pick(1, LASTS);
            let mut attributes = Vec::new();
            let mut add = |kind: &str, v: Option<String>| {
                if let Some(value) = v {
                    attributes.push(Attribute {
                        kind: kind.to_owned().into(),
                        value,
                    });
                }
            };
            let first = pick(0, FIRSTS);
            let full = match (&first, &last) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (Some(f), None) => Some(f.clone()),
                (None, Some(l)) => Some(l.clone()),
                (None, None) => None,
            };
            add(kinds::NAME, full);
            add(kinds::NAME_LAST, last);
            add(kinds::BIRTHDATE, pick(2, DOBS));
            add(kinds::GOV_ID, pick(3, GOVS));
            add(kinds::EMAIL, pick(4, EMAILS));
            add(kinds::PHONE, pick(5, PHONES));
            add(kinds::ADDRESS, pick(6, ADDRESSES));
            attributes.sort();
            Normalized {
                entity: Entity {
                    entity_type,
                    id,
                    account_id,
                    created_at: Some(i as i64 * 3_600_000),
                    status: None,
                    label: fraud.then_some(Label::Fraud),
                },
                attributes,
                issues: Vec::new(),
            }
        })
        .collect()
}

fn dup_spec_strategy() -> impl Strategy<Value = DupSpec> {
    let field = || prop::option::weighted(0.7, 0u8..8);
    prop::collection::vec(
        (
            prop::option::weighted(0.25, 0usize..20),
            prop::bool::weighted(0.15),
            [
                field(),
                field(),
                field(),
                field(),
                field(),
                field(),
                field(),
            ],
        ),
        2..20,
    )
}

/// Small blocks (cap 3) so blocks cross the cap both ways; a low threshold so pairs are
/// common.
fn dup_config() -> LinkConfig {
    let mut c = config();
    c.dedupe.enabled = true;
    c.dedupe.max_block_size = 3;
    c.dedupe.u_pairs = 2_000;
    c.dedupe.threshold = 0.5;
    // A configured placeholder among the generated emails: missing in live and batch records.
    let mut email = c.rule(kinds::EMAIL);
    email.placeholders.push("jo@y.com".to_owned());
    c.rules.insert(kinds::EMAIL.to_owned(), email);
    c
}

fn trained(records: &[Normalized], cfg: &LinkConfig) -> Model {
    let input = LinkInput::from_records(records, keyer());
    let recs = crate::dedupe::records_from_input(&input, cfg);
    crate::dedupe::train(&recs, &cfg.dedupe)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn live_duplicates_equal_batch_record_by_record(spec in dup_spec_strategy(), limit in 0usize..4) {
        let recs = dup_records(&spec);
        let cfg = dup_config();
        let model = trained(&recs, &cfg);
        let mut g = LiveGraph::new(keyer(), cfg.clone()).with_dedupe_model(model.clone());
        g.set_sync_rescore_limit(limit);
        for r in &recs {
            g.upsert(r.clone());
        }
        prop_assert_eq!(live(&g), batch_with(&recs, &cfg, Some(&model)));
    }

    #[test]
    fn live_duplicates_equal_batch_when_built_from_batch_then_fed(spec in dup_spec_strategy(), split in 0usize..20) {
        let recs = dup_records(&spec);
        let cfg = dup_config();
        let split = split.min(recs.len());
        let model = trained(&recs, &cfg);
        let mut g = LiveGraph::from_records_with_model(&recs[..split], keyer(), cfg.clone(), Some(model.clone())).unwrap();
        prop_assert_eq!(live(&g), batch_with(&recs[..split], &cfg, Some(&model)));
        for r in &recs[split..] {
            g.upsert(r.clone());
        }
        prop_assert_eq!(live(&g), batch_with(&recs, &cfg, Some(&model)));
    }

    #[test]
    fn live_duplicates_equal_batch_after_replacements_removals_and_labels(
        spec in dup_spec_strategy(),
        other in dup_spec_strategy(),
        seed in any::<u64>(),
    ) {
        let recs = dup_records(&spec);
        let alt = dup_records(&other);
        let cfg = dup_config();
        let model = trained(&recs, &cfg);
        let mut g = LiveGraph::from_records_with_model(&recs, keyer(), cfg.clone(), Some(model.clone())).unwrap();
        let mut idx: Vec<usize> = (0..recs.len()).collect();
        shuffle(&mut idx, seed);
        let mut current: BTreeMap<usize, Normalized> = recs.iter().cloned().enumerate().collect();
        for (n, &i) in idx.iter().enumerate() {
            match n % 4 {
                0 => {
                    let mut r = recs[i].clone();
                    r.attributes = alt[i % alt.len()].attributes.clone();
                    g.upsert(r.clone());
                    current.insert(i, r);
                }
                1 => {
                    let r = &recs[i];
                    prop_assert!(g.remove(r.entity.entity_type, &r.entity.id).is_some());
                    current.remove(&i);
                }
                2 => {
                    let mut r = current[&i].clone();
                    let label = match r.entity.label {
                        Some(_) => None,
                        None => Some(Label::Fraud),
                    };
                    g.set_label(r.entity.entity_type, &r.entity.id, label);
                    r.entity.label = label;
                    current.insert(i, r);
                }
                _ => {}
            }
        }
        let left: Vec<Normalized> = current.into_values().collect();
        prop_assert_eq!(live(&g), batch_with(&left, &cfg, Some(&model)));
    }

    #[test]
    fn evaluate_with_duplicates_gives_what_upsert_would(spec in dup_spec_strategy()) {
        let recs = dup_records(&spec);
        let (last, rest) = recs.split_last().unwrap();
        let cfg = dup_config();
        let model = trained(&recs, &cfg);
        let mut g = LiveGraph::from_records_with_model(rest, keyer(), cfg.clone(), Some(model)).unwrap();
        let before = live(&g);
        let risk = g.evaluate(last.clone());
        prop_assert_eq!(live(&g), before);
        g.upsert(last.clone());
        let stored = g.risk(last.entity.entity_type, &last.entity.id).unwrap();
        prop_assert_eq!(risk.score, stored.score);
        prop_assert_eq!(&risk.reasons, &stored.reasons);
        prop_assert_eq!(risk.duplicates.len(), stored.duplicates.len());
        for (a, b) in risk.duplicates.iter().zip(&stored.duplicates) {
            prop_assert_eq!(&a.id, &b.id);
            prop_assert_eq!(a.match_probability.to_bits(), b.match_probability.to_bits());
        }
    }
}

/// Accounts acct_0 (labelled fraud when `fraud`) and acct_1, duplicates of each other, and
/// acct_2, unrelated to both.
fn a_pair_and_a_stranger(fraud: bool) -> DupSpec {
    vec![
        (
            None,
            fraud,
            [Some(0), Some(0), Some(0), Some(0), Some(0), None, None],
        ),
        (
            None,
            false,
            [Some(1), Some(0), Some(1), Some(0), Some(1), None, None],
        ),
        (None, false, [Some(2); 7]),
    ]
}

#[test]
fn a_duplicate_shows_in_both_risks_with_its_explanation_and_reasons() {
    let recs = dup_records(&a_pair_and_a_stranger(true));
    let cfg = dup_config();
    let model = trained(&recs, &cfg);
    let mut g = LiveGraph::new(keyer(), cfg).with_dedupe_model(model);
    for r in &recs {
        g.upsert(r.clone());
    }
    let a1 = g.risk(EntityType::Account, "acct_1").unwrap();
    assert_eq!(a1.duplicates.len(), 1, "{:?}", a1.duplicates);
    let d = &a1.duplicates[0];
    assert_eq!(d.id, "acct_0");
    assert!(d.match_probability >= 0.5);
    // The explanation adds up to the weight, names fields and levels, never values.
    let sum = d
        .fields
        .iter()
        .fold(g.dedupe_model().unwrap().prior_weight(), |acc, f| {
            acc + f.weight
        });
    assert_eq!(sum, d.match_weight);
    assert!(d.fields.iter().all(|f| !f.level.contains("okafor")));
    let codes: Vec<&str> = a1.reasons.iter().map(|r| r.code).collect();
    assert!(codes.contains(&"possible_duplicate"), "{codes:?}");
    assert!(codes.contains(&"duplicate_of_fraud"), "{codes:?}");
    // The partner sees it too; the unrelated record does not.
    assert_eq!(
        g.risk(EntityType::Account, "acct_0")
            .unwrap()
            .duplicates
            .len(),
        1
    );
    assert!(
        g.risk(EntityType::Account, "acct_2")
            .unwrap()
            .duplicates
            .is_empty()
    );
    // Clearing the fraud label takes `duplicate_of_fraud` away from the partner.
    g.set_label(EntityType::Account, "acct_0", None);
    let a1 = g.risk(EntityType::Account, "acct_1").unwrap();
    assert!(!a1.reasons.iter().any(|r| r.code == "duplicate_of_fraud"));
}

#[test]
fn the_first_write_after_a_build_rescores_only_what_it_touches() {
    // acct_0 and acct_1 are duplicates (a pair the build found); acct_2 is unrelated; acct_3
    // comes after the build.
    let mut spec = a_pair_and_a_stranger(false);
    spec.push((
        None,
        false,
        [
            Some(3),
            Some(3),
            Some(3),
            Some(3),
            Some(3),
            Some(2),
            Some(2),
        ],
    ));
    let recs = dup_records(&spec);
    let cfg = dup_config();
    let model = trained(&recs, &cfg);
    let mut g =
        LiveGraph::from_records_with_model(&recs[..3], keyer(), cfg.clone(), Some(model.clone()))
            .unwrap();
    assert_eq!(
        g.risk(EntityType::Account, "acct_1")
            .unwrap()
            .duplicates
            .len(),
        1
    );
    // acct_3 shares acct_2's phone and address: only their cluster changes, not the pair's.
    let change = g.upsert(recs[3].clone());
    let own = g.risk(EntityType::Account, "acct_3").unwrap().cluster_id;
    assert_eq!(change.changed_clusters, vec![own]);
    assert_eq!(live(&g), batch_with(&recs, &cfg, Some(&model)));
}

#[test]
fn an_inquiry_of_a_known_account_with_nothing_new_rescoring_nothing_still_equals_batch() {
    // a0 and a1 share a device (a cluster); an inquiry of a0 from its own device and a new
    // IP changes no score: it carries a0's score.
    let cfg = config();
    let mut recs = vec![
        account("a0", 0, &[(kinds::DEVICE_ID, "dev-1")]),
        account("a1", 1, &[(kinds::DEVICE_ID, "dev-1")]),
    ];
    let mut g = LiveGraph::new(keyer(), cfg.clone());
    for r in &recs {
        g.upsert(r.clone());
    }
    let mut q = account(
        "q0",
        2,
        &[(kinds::DEVICE_ID, "dev-1"), (kinds::IP, "10.0.0.1")],
    );
    q.entity.entity_type = EntityType::Inquiry;
    q.entity.account_id = Some("a0".to_owned());
    // Nothing is rescored, not even with a limit that would defer any rescoring.
    g.set_sync_rescore_limit(0);
    let change = g.upsert(q.clone());
    recs.push(q);
    assert_eq!(change.deferred, 0);
    assert_eq!(g.stale_clusters(), 0);
    let r = g.risk(EntityType::Inquiry, "q0").unwrap();
    assert_eq!(r, {
        let mut a = g.risk(EntityType::Account, "a0").unwrap();
        a.cluster_entities = r.cluster_entities;
        a
    });
    assert_eq!(r.cluster_entities, 3);
    assert_eq!(live(&g), batch(&recs, &cfg));
}

#[test]
fn a_large_cluster_is_rescored_in_the_background_and_marked_pending() {
    let cfg = config();
    let mut g = LiveGraph::new(keyer(), cfg.clone());
    g.set_sync_rescore_limit(2);
    let mut recs = Vec::new();
    for i in 0..4 {
        let r = account(&format!("a{i}"), i, &[(kinds::DEVICE_ID, "dev-1")]);
        g.upsert(r.clone());
        recs.push(r);
    }
    assert_eq!(g.stale_clusters(), 1);
    assert!(g.risk(EntityType::Account, "a3").unwrap().pending);
    // A job prepared, then overtaken by a write, is not applied.
    let mut job = g.prepare_rescore().unwrap();
    job.run(g.config());
    let r = account("a4", 4, &[(kinds::DEVICE_ID, "dev-1")]);
    g.upsert(r.clone());
    recs.push(r);
    assert!(!g.apply_rescore(job));
    let mut job = g.prepare_rescore().unwrap();
    job.run(g.config());
    assert!(g.apply_rescore(job));
    assert_eq!(g.stale_clusters(), 0);
    assert!(!g.risk(EntityType::Account, "a3").unwrap().pending);
    assert_eq!(live(&g), batch(&recs, &cfg));
}

#[test]
fn a_third_account_within_the_window_links_a_name_and_birthdates_pair() {
    // Name + birthdate links groups of three or more within 72 hours (an IP any pair).
    let cfg = config();
    assert_eq!(cfg.rule(kinds::NAME_DOB).min_accounts, 3);
    let dob = [(kinds::NAME_DOB, "ana lima|1990-01-01")];
    let (a, b, c) = (
        account("a", 0, &dob),
        account("b", 10, &dob),
        account("c", 20, &dob),
    );
    let mut g = LiveGraph::new(keyer(), cfg.clone());
    let cluster = |g: &LiveGraph, id: &str| g.risk(EntityType::Account, id).unwrap().cluster_id;
    let status = |g: &LiveGraph| {
        let props = g.properties(EntityType::Account, "a").unwrap();
        let p = props.iter().find(|p| p.kind == kinds::NAME_DOB).unwrap();
        (p.entity_count, p.status)
    };
    g.upsert(a.clone());
    g.upsert(b.clone());
    assert_ne!(cluster(&g, "a"), cluster(&g, "b"), "a pair does not link");
    assert_eq!(status(&g), (2, "shared"));
    g.upsert(c.clone());
    assert_eq!(cluster(&g, "a"), cluster(&g, "b"));
    assert_eq!(cluster(&g, "a"), cluster(&g, "c"));
    assert_eq!(status(&g), (3, "linking"));
    assert_eq!(live(&g), batch(&[a.clone(), b.clone(), c.clone()], &cfg));
    // c leaves the window (created 100 hours on): the pair unlinks again.
    g.upsert(account("c", 100, &dob));
    assert_ne!(cluster(&g, "a"), cluster(&g, "b"));
    assert_eq!(
        live(&g),
        batch(&[a.clone(), b.clone(), account("c", 100, &dob)], &cfg)
    );
    // c back, then removed.
    g.upsert(c);
    assert_eq!(cluster(&g, "a"), cluster(&g, "b"));
    g.remove(EntityType::Account, "c");
    assert_ne!(cluster(&g, "a"), cluster(&g, "b"));
    assert_eq!(live(&g), batch(&[a, b], &cfg));
}

#[test]
fn cluster_ids_follow_the_batch_formula() {
    let r = account("acct_9", 0, &[]);
    let input = LinkInput::from_records(std::slice::from_ref(&r), keyer());
    assert_eq!(
        cluster_id_of(EntityType::Account, "acct_9"),
        crate::linker::cluster_id(&input.entities, 0)
    );
}

/// Found by `evaluate_with_duplicates_gives_what_upsert_would`: a new account whose waiting
/// inquiry's address, combined with the account's last name, links it to another account.
/// `evaluate` left the waiting inquiry out of the combination keys, missed that account's
/// cluster of three accounts and scored 10 where the stored account scored 50 (that was
/// before a cluster with most accounts under one last name at one address was a household;
/// the cluster sizes still tell the two apart).
#[test]
fn evaluate_combines_a_new_accounts_keys_with_its_waiting_inquiries() {
    let n = None;
    let mut spec: DupSpec = vec![(None, false, [n; 7]); 19];
    spec[11] = (Some(18), false, [n, n, n, n, n, n, Some(0)]);
    spec[15] = (None, false, [n, Some(0), n, n, n, n, Some(3)]);
    spec[17] = (None, false, [n, n, n, n, Some(0), n, n]);
    spec[18] = (None, false, [n, Some(4), n, n, Some(4), n, n]);
    let recs = dup_records(&spec);
    let (last, rest) = recs.split_last().unwrap();
    let cfg = dup_config();
    let model = trained(&recs, &cfg);
    let mut g =
        LiveGraph::from_records_with_model(rest, keyer(), cfg.clone(), Some(model)).unwrap();
    let risk = g.evaluate(last.clone());
    g.upsert(last.clone());
    let stored = g.risk(last.entity.entity_type, &last.entity.id).unwrap();
    assert_eq!(stored.cluster_accounts, 3, "{stored:?}");
    assert_eq!(risk.score, stored.score);
    assert_eq!(risk.reasons, stored.reasons);
    assert_eq!(risk.cluster_accounts, stored.cluster_accounts);
}

#[test]
fn the_first_write_after_a_build_reallocates_no_per_entity_array() {
    let cfg = config();
    let recs = vec![
        account("a0", 0, &[(kinds::DEVICE_ID, "dev-1")]),
        account("a1", 1, &[(kinds::DEVICE_ID, "dev-1")]),
    ];
    let mut g = LiveGraph::from_records(&recs, keyer(), cfg).unwrap();
    let before = (
        g.anchor.as_ptr(),
        g.keys_of.as_ptr(),
        g.scores.as_ptr(),
        g.slots.as_ptr(),
    );
    g.upsert(account("a2", 2, &[(kinds::DEVICE_ID, "dev-1")]));
    assert_eq!(g.anchor.len(), 3);
    assert_eq!(
        before,
        (
            g.anchor.as_ptr(),
            g.keys_of.as_ptr(),
            g.scores.as_ptr(),
            g.slots.as_ptr(),
        )
    );
}

/// Six anchors share an id number over the cap of 5, two of them inquiries waiting for an
/// account. When the account arrives the two become one group, the number has 5 anchors and
/// links them all; `evaluate` must see that too, not only the account's own keys (it once
/// scored 0 where `upsert` gave a ring member 65.2).
#[test]
fn evaluate_sees_an_arriving_account_lift_its_inquiries_hub() {
    let mut spec: DupSpec = vec![(None, false, [None; 7]); 18];
    for i in [2usize, 3, 5, 8, 10, 11] {
        spec[i].2[3] = Some(3);
    }
    spec[2].0 = Some(17);
    spec[5].0 = Some(17);
    let recs = dup_records(&spec);
    let (last, rest) = recs.split_last().expect("18 records");
    let cfg = dup_config();
    let model = trained(&recs, &cfg);
    let mut g =
        LiveGraph::from_records_with_model(rest, keyer(), cfg.clone(), Some(model)).expect("graph");
    assert_eq!(
        live(&g).hubs.len(),
        1,
        "the id number is held back before the account"
    );
    let risk = g.evaluate(last.clone());
    g.upsert(last.clone());
    let stored = g.risk(EntityType::Account, "acct_17").expect("stored");
    assert!(live(&g).hubs.is_empty());
    assert_eq!(stored.cluster_entities, 7);
    assert!(stored.is_ring);
    assert_eq!(risk.score, stored.score);
    assert_eq!(risk.reasons, stored.reasons);
    assert_eq!(risk.cluster_entities, stored.cluster_entities);
    assert_eq!(risk.cluster_id, stored.cluster_id);
}
