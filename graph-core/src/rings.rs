//! Ring features, the ring score and the `is_ring` decision, with reasons.
//!
//! A cluster is a ring when it has at least `rings.min_accounts` accounts, reaches
//! `rings.threshold` and rests on **strong evidence**: a strong property (device, card, ID
//! number, email, phone) shared across distinct identities, a synthetic-identity pattern, one
//! identity behind many accounts, or a fraud label. Clusters held together by weak evidence
//! only (an IP within a day, a household's address) are capped below the threshold, which is
//! what keeps dormitories and families out.

use foldhash::{HashMap, HashSet};
use rayon::prelude::*;

use crate::config::{LinkConfig, STRONG};
use crate::linker::{LinkOutput, base_kind};
use crate::normalize::mask;
use crate::record::{Label, kinds};
use crate::table::{LinkInput, PerIndex, Values, starts};

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
    /// One name + birthdate under several ID numbers, with two of its accounts with different
    /// numbers sharing something else or three created in a burst (namesakes do neither).
    pub synthetic_name_dob: bool,
    /// Most accounts claiming one identity that can be one person: those that gave the same
    /// ID number, or none.
    pub identity_reuse: u32,
    /// Linked through an address, with all accounts under one last name, or most of them
    /// with no card or bank account shared (see `docs/scoring.md`): a family.
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

/// The identity facts of the anchors in multi-anchor clusters, `(anchor, slot, key)` of their
/// name + birthdate, ID number, name and last-name properties, sorted: all that [`rings`]
/// reads of the attribute table, so a batch link takes them and frees the table (14 bytes a
/// row, 3 GB at 10M accounts) before the values are read and rings found.
#[derive(Debug, Default)]
pub(crate) struct RingFacts {
    facts: Vec<(u32, Slot, u64)>,
    /// Where each anchor's facts start: anchor `a`'s are `facts[first[a]..first[a + 1]]`.
    /// Two binary searches of the whole list per anchor were about half of the rings step at
    /// 10M accounts (tens of millions of facts, a cache miss a step).
    first: Vec<u32>,
}

impl RingFacts {
    /// The facts of `anchors` anchors from their list sorted by anchor, each anchor's start
    /// counted in one pass.
    fn from_sorted(facts: Vec<(u32, Slot, u64)>, anchors: usize) -> RingFacts {
        let first = starts(anchors, |f| facts.iter().for_each(|x| f(x.0)));
        RingFacts { facts, first }
    }

    /// The facts of anchor `a`, sorted.
    fn of(&self, a: u32) -> &[(u32, Slot, u64)] {
        let a = a as usize;
        match (self.first.get(a), self.first.get(a + 1)) {
            (Some(&s), Some(&e)) => &self.facts[s as usize..e as usize],
            _ => &[],
        }
    }
}

/// The [`RingFacts`] of a link's output.
pub(crate) fn ring_facts(input: &LinkInput, out: &LinkOutput) -> RingFacts {
    let ents = &input.entities;
    let attrs = &input.attributes;
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
    RingFacts::from_sorted(facts, ents.len())
}

/// Computes ring reports for every cluster with two or more anchors.
/// `values` gives the value of every shared property's row (the masked examples).
pub(crate) fn rings(
    input: &LinkInput,
    out: &LinkOutput,
    values: &dyn Values,
    config: &LinkConfig,
) -> Vec<RingReport> {
    rings_from(input, out, &ring_facts(input, out), values, config)
}

/// [`rings`] from the [`ring_facts`] taken before (the attribute table may be gone).
pub(crate) fn rings_from(
    input: &LinkInput,
    out: &LinkOutput,
    facts: &RingFacts,
    values: &dyn Values,
    config: &LinkConfig,
) -> Vec<RingReport> {
    let ents = &input.entities;
    let multi = &out.clusters[..out.multi_clusters];

    // Shared properties per cluster (a property links anchors of one multi-anchor cluster).
    let shared_of = PerIndex::build(multi.len(), |f| {
        for (i, s) in out.shared.iter().enumerate() {
            let c = out.cluster_of[s.anchors[0] as usize];
            if (c as usize) < multi.len() {
                f(c, i as u32);
            }
        }
    });
    let strengths: Vec<f64> = out
        .kinds
        .iter()
        .map(|k| config.rule(base_kind(k)).strength)
        .collect();

    multi
        .par_iter()
        .enumerate()
        .map(|(ci, cluster)| {
            let anchor_facts = |a: u32| facts.of(a);
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
            let cluster_shared = shared_of.get(ci as u32);
            for &si in cluster_shared {
                let s = &out.shared[si as usize];
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
            let linked_keys: HashSet<u64> = cluster_shared
                .iter()
                .map(|&si| out.shared[si as usize].key)
                .collect();
            let mut gov_names: HashMap<u64, HashSet<u64>> = HashMap::default();
            // Per linked name + birthdate, its accounts with their ID numbers.
            let mut dob_accounts: HashMap<u64, Vec<(u32, Option<u64>)>> = HashMap::default();
            // Per identity, its accounts' ID numbers (None: the account gave none).
            let mut identity_govs: HashMap<u64, Vec<Option<u64>>> = HashMap::default();
            // Per last name, how many accounts gave it; each account's name (its first `name`
            // fact, as for the ID numbers below).
            let mut last_names: HashMap<u64, u32> = HashMap::default();
            let mut names: HashSet<u64> = HashSet::default();
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
                names.extend(first_name);
                let first_gov = get(Slot::GovId).next();
                for g in get(Slot::GovId).filter(|g| linked_keys.contains(g)) {
                    gov_names.entry(g).or_default().extend(first_name);
                }
                for d in get(Slot::NameDob).filter(|d| linked_keys.contains(d)) {
                    dob_accounts.entry(d).or_default().push((a, first_gov));
                }
                identity_govs.entry(ids[&a]).or_default().push(first_gov);
                let mut any_last = false;
                // The facts are deduplicated, so an account counts each of its names once.
                for l in get(Slot::NameLast) {
                    *last_names.entry(l).or_default() += 1;
                    any_last = true;
                }
                if !any_last {
                    accounts_without_last += 1;
                }
            }
            let synthetic_gov_id = gov_names.values().any(|n| n.len() >= 2);
            // Namesakes (one name and birthdate, different ID numbers, nothing else in
            // common) are expected in a large population; see `several_ids_one_operation`.
            let tied = |a: u32, b: u32| {
                cluster_shared.iter().any(|&si| {
                    let s = &out.shared[si as usize];
                    base_kind(&out.kinds[s.kind as usize]) != kinds::NAME_DOB
                        && s.anchors.binary_search(&a).is_ok()
                        && s.anchors.binary_search(&b).is_ok()
                })
            };
            let window = (config.rings.burst_hours * 3_600_000.0) as i64;
            let synthetic_name_dob = dob_accounts.values().any(|accounts| {
                several_ids_one_operation(accounts, tied, |a| ents.created_at[a as usize], window)
            });
            let identity_reuse = identity_govs
                .values()
                .map(|govs| accounts_of_one_id(govs))
                .max()
                .unwrap_or(0);
            let has_address_link = cluster_shared.iter().any(|&si| {
                base_kind(&out.kinds[out.shared[si as usize].kind as usize]) == kinds::ADDRESS
            });
            // Several people: identities, and names (one name under several birthdates is
            // one identity reused, not a family); and not one name and birthdate worked under
            // several ID numbers (at 10M, a synthetic identity of 21 accounts, its name
            // spelled `Jürgen` and `Juergen`, passed the other tests).
            let household = distinct.len() >= 2
                && names.len() >= 2
                && !synthetic_name_dob
                && has_address_link
                && looks_like_a_family(
                    cluster.anchors.len(),
                    &last_names,
                    accounts_without_last,
                    &strong_kinds,
                );

            // Times and labels.
            let mut times: Vec<i64> = cluster
                .anchors
                .iter()
                .filter_map(|&a| ents.created_at[a as usize])
                .collect();
            times.sort_unstable();
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

/// Whether accounts sharing one name and birthdate (`(account, its ID number)`) look like one
/// synthetic identity: they gave at least two different ID numbers, **and** either two of
/// them with different numbers are `tied` by something else they share (a device, an email,
/// an address…) or at least three of them were created within `window_ms` of each other.
///
/// Several ID numbers under one name and birthdate is the mark of a synthetic identity, and
/// also of namesakes: in a population of millions, people with a common name and the same
/// birthday are many (at 10M generated accounts, 7,224 clusters were three namesakes and
/// nothing else). A synthetic identity is worked by one operation, which leaves other common
/// traces or opens its accounts in a burst; namesakes share nothing but the name and the day,
/// and opened their accounts months apart.
fn several_ids_one_operation(
    accounts: &[(u32, Option<u64>)],
    tied: impl Fn(u32, u32) -> bool,
    created_at: impl Fn(u32) -> Option<i64>,
    window_ms: i64,
) -> bool {
    let with_id: Vec<(u32, u64)> = accounts
        .iter()
        .filter_map(|&(a, g)| Some((a, g?)))
        .collect();
    if !with_id.iter().any(|&(_, g)| g != with_id[0].1) {
        return false;
    }
    let tied_pair = with_id.iter().enumerate().any(|(i, &(a, ga))| {
        with_id[i + 1..]
            .iter()
            .any(|&(b, gb)| ga != gb && tied(a, b))
    });
    tied_pair || {
        let mut times: Vec<i64> = accounts
            .iter()
            .filter_map(|&(a, _)| created_at(a))
            .collect();
        times.sort_unstable();
        times.windows(3).any(|w| w[2] - w[0] <= window_ms)
    }
}

/// Whether the last names of a cluster's `accounts` accounts linked through an address (how
/// many accounts gave each name, and how many gave none) look like a family's: **all** of them
/// one name; or **most** of them one name (in-laws and spouses who kept theirs are the rest)
/// while no payment card or bank account is shared across their identities. A card or bank
/// account shared at one address is the card-drop ring's mark, and two of three drop
/// accounts can share a common last name by chance.
fn looks_like_a_family(
    accounts: usize,
    last_names: &HashMap<u64, u32>,
    accounts_without_last: u32,
    strong_kinds: &[String],
) -> bool {
    let all_one = last_names.len() == 1 && accounts_without_last == 0;
    let most = last_names.values().copied().max().unwrap_or(0) as usize;
    let pays_together = strong_kinds
        .iter()
        .any(|k| k == kinds::CARD_FINGERPRINT || k == kinds::BANK_ACCOUNT);
    all_one || (2 * most > accounts && !pays_together)
}

/// How many accounts behind one identity (name and birthdate) can be one person: those that
/// gave its most common ID number, plus those that gave none. Accounts under one name and
/// birthdate with different ID numbers are different people (namesakes) or a synthetic
/// identity, which `synthetic_name_dob` covers, not one identity reused.
fn accounts_of_one_id(govs: &[Option<u64>]) -> u32 {
    let mut ids: Vec<u64> = govs.iter().flatten().copied().collect();
    ids.sort_unstable();
    let most_common = ids
        .chunk_by(|a, b| a == b)
        .map(<[u64]>::len)
        .max()
        .unwrap_or(0);
    let without = govs.iter().filter(|g| g.is_none()).count();
    (most_common + without) as u32
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
            "linked through an address, most or all accounts under one last name (likely a family)"
                .to_owned(),
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
    r.ring_score = crate::score::within_0_100(score);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LinkMode;
    use crate::keys::Keyer;
    use crate::linker::link;
    use crate::normalize::{NormalizeOptions, normalize_record};
    use crate::record::{EntityType, Field, RawRecord};

    #[test]
    fn ring_facts_are_found_by_anchor() {
        let facts = vec![
            (0, Slot::NameDob, 7),
            (0, Slot::Name, 8),
            (2, Slot::GovId, 9),
            (4, Slot::Name, 1),
        ];
        let rf = RingFacts::from_sorted(facts.clone(), 5);
        assert_eq!(rf.of(0), &facts[0..2]);
        // An anchor without facts between two with facts, and the last anchor.
        assert!(rf.of(1).is_empty());
        assert!(rf.of(3).is_empty());
        assert_eq!(rf.of(2), &facts[2..3]);
        assert_eq!(rf.of(4), &facts[3..4]);
        // Past the entities, and an empty table.
        assert!(rf.of(5).is_empty());
        assert!(rf.of(u32::MAX).is_empty());
        assert!(RingFacts::default().of(0).is_empty());
    }

    /// One account: `(id, ID number or "", device or "")`, all named Maria Garcia, born
    /// 1960-01-01, each with an email of its own.
    type Account<'a> = (&'a str, &'a str, &'a str);

    /// Accounts created a month apart, as namesakes' are, linked by name and birthdate at any
    /// distance in time (as a deployment may configure it; by default only within 72 hours):
    /// the ring features must still tell namesakes from one operation.
    fn reports(accounts: &[Account<'_>]) -> Vec<RingReport> {
        let cfg = name_dob_alone();
        reports_created(accounts, |i| format!("2026-{:02}-01", i + 1), &cfg)
    }

    /// The default configuration but a name and birthdate linking at any distance in time.
    fn name_dob_alone() -> LinkConfig {
        let mut cfg = LinkConfig::default();
        let mut rule = cfg.rule(kinds::NAME_DOB);
        (rule.link, rule.window_hours) = (LinkMode::Alone, None);
        cfg.rules.insert(kinds::NAME_DOB.to_owned(), rule);
        cfg
    }

    /// The ring reports of `accounts`, the `i`th created at `created(i)`, linked with `cfg`.
    fn reports_created(
        accounts: &[Account<'_>],
        created: impl Fn(usize) -> String,
        cfg: &LinkConfig,
    ) -> Vec<RingReport> {
        let opts = NormalizeOptions::default();
        let records: Vec<_> = accounts
            .iter()
            .enumerate()
            .map(|(i, &(id, gov, device))| {
                let email = format!("{id}@example.org");
                let created = created(i);
                let mut raw = RawRecord::new(EntityType::Account)
                    .with(Field::AccountId, id)
                    .with(Field::CreatedAt, &created)
                    .with(Field::NameFirst, "Maria")
                    .with(Field::NameLast, "Garcia")
                    .with(Field::Birthdate, "1960-01-01")
                    .with(Field::Email, &email);
                if !gov.is_empty() {
                    raw = raw
                        .with(Field::GovIdNumber, gov)
                        .with(Field::GovIdCountry, "US");
                }
                if !device.is_empty() {
                    raw = raw.with(Field::DeviceId, device);
                }
                normalize_record(&raw, &opts).unwrap()
            })
            .collect();
        let input = LinkInput::from_records(&records, Keyer::new(b"rings test secret"));
        let out = link(&input, cfg);
        rings(&input, &out, &input.attributes, cfg)
    }

    /// Three accounts under one name and birthdate, each with an ID number of its own.
    const THREE_ID_NUMBERS: [Account<'static>; 3] = [
        ("a1", "123-45-6780", ""),
        ("a2", "234-56-7891", ""),
        ("a3", "345-67-8902", ""),
    ];

    fn codes(r: &RingReport) -> Vec<&'static str> {
        r.reasons.iter().map(|x| x.code).collect()
    }

    #[test]
    fn by_default_a_name_and_birthdate_links_three_or_more_accounts_opened_within_72_hours_only() {
        let accounts = THREE_ID_NUMBERS;
        let cfg = LinkConfig::default();
        // A month apart: three namesakes, no cluster to report.
        let rs = reports_created(&accounts, |i| format!("2026-{:02}-01", i + 1), &cfg);
        assert!(rs.is_empty(), "{rs:?}");
        // A day apart: one cluster.
        let rs = reports_created(&accounts, |i| format!("2026-01-{:02}", i + 1), &cfg);
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].accounts, 3);
        // Two a day apart are one person twice or namesakes by chance: no link.
        let rs = reports_created(&accounts[..2], |i| format!("2026-01-{:02}", i + 1), &cfg);
        assert!(rs.is_empty(), "{rs:?}");
    }

    #[test]
    fn namesakes_with_different_id_numbers_and_nothing_else_are_not_a_ring() {
        let rs = reports(&THREE_ID_NUMBERS);
        assert_eq!(rs.len(), 1, "one cluster, linked by the name and birthdate");
        let r = &rs[0];
        assert_eq!(r.accounts, 3);
        assert!(!r.synthetic_name_dob, "{:?}", codes(r));
        assert_eq!(r.identity_reuse, 1);
        assert!(!r.is_ring, "{:?}", codes(r));
    }

    #[test]
    fn one_name_and_birthdate_with_several_id_numbers_and_a_shared_device_is_synthetic() {
        let rs = reports(&[
            ("a1", "123-45-6780", "dev-1111-aaaa"),
            ("a2", "234-56-7891", "dev-1111-aaaa"),
            ("a3", "345-67-8902", ""),
        ]);
        assert_eq!(rs.len(), 1);
        assert!(rs[0].synthetic_name_dob);
        assert!(codes(&rs[0]).contains(&"synthetic_name_dob"));
    }

    #[test]
    fn one_name_and_birthdate_with_several_id_numbers_opened_in_a_burst_is_synthetic() {
        let accounts = THREE_ID_NUMBERS;
        // A day apart: within the default 72-hour burst window.
        let cfg = LinkConfig::default();
        let rs = reports_created(&accounts, |i| format!("2026-01-{:02}", i + 1), &cfg);
        assert_eq!(rs.len(), 1);
        assert!(rs[0].synthetic_name_dob, "{:?}", codes(&rs[0]));
        assert!(rs[0].is_ring, "{:?}", codes(&rs[0]));
        // Two in a burst are not enough: the third came months later.
        let alone = name_dob_alone();
        let rs = reports_created(
            &accounts,
            |i| ["2026-01-01", "2026-01-02", "2026-06-01"][i].into(),
            &alone,
        );
        assert!(!rs[0].synthetic_name_dob, "{:?}", codes(&rs[0]));
    }

    #[test]
    fn a_device_shared_by_accounts_with_one_id_number_does_not_make_it_synthetic() {
        // a1 and a2 give the same ID number; the device ties only them, never two different
        // numbers.
        let rs = reports(&[
            ("a1", "123-45-6780", "dev-1111-aaaa"),
            ("a2", "123-45-6780", "dev-1111-aaaa"),
            ("a3", "345-67-8902", ""),
        ]);
        assert_eq!(rs.len(), 1);
        assert!(!rs[0].synthetic_name_dob, "{:?}", codes(&rs[0]));
        assert_eq!(rs[0].identity_reuse, 2);
    }

    #[test]
    fn a_stolen_identity_behind_several_accounts_is_one_identity_reused() {
        // One victim's name, birthdate and ID number; one account gave no ID number.
        let rs = reports(&[
            ("a1", "123-45-6780", ""),
            ("a2", "123-45-6780", ""),
            ("a3", "", ""),
        ]);
        assert_eq!(rs.len(), 1);
        let r = &rs[0];
        assert_eq!(r.identity_reuse, 3);
        assert!(codes(r).contains(&"identity_reuse"));
        assert!(!r.synthetic_name_dob);
    }

    /// One account at 12 Oak Street, Springfield: `(id, first name, last name, birthdate, what
    /// it shares: (field, value))`.
    type Resident<'a> = (&'a str, &'a str, &'a str, &'a str, (Field, &'a str));

    /// The ring reports of `residents`, each with an email of its own, created a month apart
    /// (as a family's accounts are).
    fn residents(residents: &[Resident<'_>]) -> Vec<RingReport> {
        residents_created(residents, |i| format!("2026-{:02}-01", i + 1))
    }

    /// [`residents`], the `i`th created at `created(i)`.
    fn residents_created(
        residents: &[Resident<'_>],
        created: impl Fn(usize) -> String,
    ) -> Vec<RingReport> {
        let opts = NormalizeOptions::default();
        let records: Vec<_> = residents
            .iter()
            .enumerate()
            .map(|(i, &(id, first, last, dob, (field, shared)))| {
                let email = format!("{id}@example.org");
                let created = created(i);
                let raw = RawRecord::new(EntityType::Account)
                    .with(Field::AccountId, id)
                    .with(Field::CreatedAt, &created)
                    .with(Field::NameFirst, first)
                    .with(Field::NameLast, last)
                    .with(Field::Birthdate, dob)
                    .with(Field::Email, &email)
                    .with(Field::AddressStreet, "12 Oak Street")
                    .with(Field::AddressCity, "Springfield")
                    .with(Field::AddressPostalCode, "62704")
                    .with(Field::AddressCountry, "US")
                    .with(field, shared);
                normalize_record(&raw, &opts).unwrap()
            })
            .collect();
        let input = LinkInput::from_records(&records, Keyer::new(b"rings test secret"));
        let cfg = LinkConfig::default();
        let out = link(&input, &cfg);
        rings(&input, &out, &input.attributes, &cfg)
    }

    /// Six people at one address, under the last names `last`, each sharing `shared`.
    fn six_residents(shared: (Field, &str), last: [&'static str; 6]) -> Vec<RingReport> {
        let firsts = ["Anna", "Ben", "Carl", "Dana", "Emil", "Fay"];
        let ids = ["r1", "r2", "r3", "r4", "r5", "r6"];
        let dobs = [
            "1961-03-04",
            "1963-07-12",
            "1990-01-30",
            "1992-11-02",
            "1958-05-19",
            "1995-08-08",
        ];
        let people: Vec<Resident<'_>> = (0..6)
            .map(|i| (ids[i], firsts[i], last[i], dobs[i], shared))
            .collect();
        residents(&people)
    }

    const LANDLINE: (Field, &str) = (Field::Phone, "+1 217 555 0142");
    const CARD: (Field, &str) = (Field::CardFingerprint, "card_fp_7f3a9c2e1b");
    const MOSTLY_MILLERS: [&str; 6] = ["Miller", "Miller", "Miller", "Miller", "Jones", "Lee"];

    #[test]
    fn a_family_sharing_a_landline_is_a_household_when_most_share_a_last_name() {
        let rs = six_residents(LANDLINE, MOSTLY_MILLERS);
        assert_eq!(rs.len(), 1, "one cluster: the address and the phone");
        let r = &rs[0];
        assert_eq!((r.accounts, r.distinct_identities), (6, 6));
        assert_eq!(r.strong_kinds, ["phone"]);
        assert!(r.household, "{:?}", codes(r));
        assert!(codes(r).contains(&"household_pattern"));
        assert!(!r.is_ring, "{:?}", r.reasons);
        // All six under one name: a household too.
        let rs = six_residents(LANDLINE, ["Miller"; 6]);
        assert!(rs[0].household && !rs[0].is_ring, "{:?}", rs[0].reasons);
    }

    #[test]
    fn one_name_under_several_birthdates_at_one_address_is_not_a_household() {
        // Six accounts of one Anna Miller with a landline, one birthdate typed differently:
        // two identities, one name.
        let people: Vec<Resident<'_>> = (0..6)
            .map(|i| {
                let ids = ["s1", "s2", "s3", "s4", "s5", "s6"];
                let dob = if i == 5 { "1990-01-31" } else { "1990-01-30" };
                (ids[i], "Anna", "Miller", dob, LANDLINE)
            })
            .collect();
        let rs = residents(&people);
        let r = &rs[0];
        assert_eq!((r.accounts, r.distinct_identities), (6, 2));
        assert!(!r.household, "{:?}", r.reasons);
        assert!(!codes(r).contains(&"household_pattern"));
    }

    #[test]
    fn a_synthetic_identity_at_one_address_is_not_a_household() {
        // Four accounts of one Jürgen Wagner (spelled two ways), each with an ID number of its
        // own, opened an hour apart at one address.
        let people: Vec<Resident<'_>> = [
            ("w1", "Jürgen", "123-45-6780"),
            ("w2", "Juergen", "234-56-7891"),
            ("w3", "Jürgen", "345-67-8902"),
            ("w4", "Jürgen", "456-78-9013"),
        ]
        .into_iter()
        .map(|(id, first, gov)| (id, first, "Wagner", "1954-08-03", (Field::GovIdNumber, gov)))
        .collect();
        let rs = residents_created(&people, |i| format!("2026-03-01T{:02}:00:00Z", i + 1));
        let r = &rs[0];
        assert_eq!(r.accounts, 4);
        assert!(r.synthetic_name_dob, "{:?}", r.reasons);
        assert!(!r.household, "{:?}", r.reasons);
        assert!(r.is_ring, "{:?}", r.reasons);
    }

    #[test]
    fn half_under_one_last_name_is_not_a_household() {
        let rs = six_residents(
            LANDLINE,
            ["Miller", "Miller", "Miller", "Jones", "Lee", "Khan"],
        );
        let r = &rs[0];
        assert_eq!(r.accounts, 6);
        assert!(!r.household, "{:?}", codes(r));
        // 6 accounts (16) + 6 identities (15) + a shared phone (20).
        assert!(r.is_ring, "{:?}", r.reasons);
    }

    #[test]
    fn a_card_shared_at_one_address_under_mostly_one_last_name_is_not_a_household() {
        let rs = six_residents(CARD, MOSTLY_MILLERS);
        let r = &rs[0];
        assert_eq!(r.strong_kinds, ["card_fingerprint"]);
        assert!(!r.household, "{:?}", codes(r));
        assert!(r.is_ring, "{:?}", r.reasons);
        // Under one last name for all, the card is the family's.
        let rs = six_residents(CARD, ["Miller"; 6]);
        assert!(rs[0].household && !rs[0].is_ring, "{:?}", rs[0].reasons);
    }

    #[test]
    fn looks_like_a_family_needs_all_or_most_under_one_name_and_no_shared_payment() {
        let names = |counts: &[u32]| -> HashMap<u64, u32> {
            counts
                .iter()
                .enumerate()
                .map(|(i, &c)| (i as u64, c))
                .collect()
        };
        let none: [String; 0] = [];
        let card = ["card_fingerprint".to_owned()];
        let bank = ["bank_account".to_owned(), "phone".to_owned()];
        assert!(looks_like_a_family(3, &names(&[3]), 0, &none));
        assert!(looks_like_a_family(3, &names(&[3]), 0, &card));
        assert!(looks_like_a_family(5, &names(&[3, 1, 1]), 0, &none));
        assert!(looks_like_a_family(3, &names(&[2]), 1, &none));
        assert!(!looks_like_a_family(3, &names(&[2]), 1, &card));
        assert!(!looks_like_a_family(5, &names(&[3, 2]), 0, &bank));
        assert!(!looks_like_a_family(4, &names(&[2, 2]), 0, &none));
        assert!(!looks_like_a_family(4, &names(&[2, 1]), 1, &none));
        assert!(!looks_like_a_family(3, &names(&[]), 3, &none));
    }

    #[test]
    fn accounts_of_one_id_counts_the_most_common_number_and_the_accounts_without_one() {
        assert_eq!(accounts_of_one_id(&[]), 0);
        assert_eq!(accounts_of_one_id(&[None, None]), 2);
        assert_eq!(accounts_of_one_id(&[Some(1), Some(2), Some(3)]), 1);
        assert_eq!(accounts_of_one_id(&[Some(2), Some(1), Some(2), None]), 3);
    }
}
