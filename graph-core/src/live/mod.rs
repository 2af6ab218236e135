//! The live graph: the batch linker's result, kept current one record at a time.
//!
//! [`LiveGraph`] holds the same facts as a batch run — entities with their anchors, one
//! property node per `(kind, normalised value)` key with its postings, hub decisions, clusters
//! with stable ids, ring reports and entity scores — and updates them as records arrive:
//!
//! * [`LiveGraph::upsert`] adds or replaces one normalised record. Its postings go into the
//!   property nodes (plain kinds and `with` combinations, exactly as the batch linker forms
//!   them); each touched property is re-judged (placeholder, cap, link mode) and, when it links,
//!   its anchors' clusters are merged (`alone`: all anchors; `window`: observations within the
//!   window). This is the common, cheap path: `O(attributes × postings of the touched
//!   properties)` plus the rescoring of the one cluster the record ends up in.
//! * What cannot be done by merging — a property crossing its cap (it stops linking, so a
//!   cluster may split), a record replaced or removed, an inquiry re-anchored to an account that
//!   arrived after it — marks the clusters involved *dirty*; they are re-clustered from their
//!   postings (a local re-link, exact because no link leaves a cluster) before the call returns.
//! * Scores of the affected clusters are recomputed with the batch functions
//!   ([`crate::rings`], [`crate::score`]) over a sub-graph holding just those clusters, so live
//!   and batch scores cannot drift apart.
//!
//! Caps: a `cap = "auto"` rule is resolved once, when the graph is built
//! ([`LiveGraph::from_records`] runs the batch linker, which chooses caps from the data), and is
//! then held fixed; [`LiveGraph::caps`] shows them. Rebuilding (the service's background
//! re-link) chooses them again. Under the caps in force, the live graph's keys, clusters, hubs
//! and score points equal a batch run over the same records, whatever order the records arrive
//! in (`tests::live_equals_batch…` property tests).
//!
//! Reasons naming a count (a hub's entity count, "shares … with N other accounts") are
//! refreshed for the clusters a write touches; users of a hub elsewhere keep the count they had
//! until their own cluster changes or the graph is rebuilt. Their points do not change.
//!
//! ```
//! use graph_core::{EntityType, Field, Keyer, LinkConfig, LiveGraph, NormalizeOptions, RawRecord};
//!
//! let mut g = LiveGraph::new(Keyer::new(b"example secret"), LinkConfig::default());
//! let opts = NormalizeOptions::default();
//! for (id, device) in [("a1", "dev-1"), ("a2", "dev-1"), ("a3", "dev-2")] {
//!     let raw = RawRecord::new(EntityType::Account)
//!         .with(Field::AccountId, id)
//!         .with(Field::DeviceId, device);
//!     g.upsert(graph_core::normalize_record(&raw, &opts).unwrap());
//! }
//! let a1 = g.risk(EntityType::Account, "a1").unwrap();
//! let a2 = g.risk(EntityType::Account, "a2").unwrap();
//! assert_eq!(a1.cluster_id, a2.cluster_id);
//! assert_ne!(a1.cluster_id, g.risk(EntityType::Account, "a3").unwrap().cluster_id);
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::config::{Cap, KindRule, LinkConfig, LinkMode, STRONG};
use crate::error::{Error, Result};
use crate::keys::Keyer;
use crate::linker::{Cluster, Hub, HubReason, LinkOutput, SharedProperty, base_kind, cluster_id};
use crate::normalize::mask;
use crate::record::{EntityType, Label, Normalized};
use crate::rings::{Reason, RingReport, rings};
use crate::score::{EntityScore, scores};
use crate::table::{Attributes, Entities, LinkInput};

const NONE: u32 = u32::MAX;
/// A time that never falls into a window (entities without `created_at`), as in the batch linker.
const NO_TIME: i64 = i64::MAX;

/// One normalised attribute of an entity, with its key.
#[derive(Debug, Clone)]
struct Row {
    kind: u16,
    key: u64,
    value: Box<str>,
}

/// One observation of a property: which anchor, through which entity's row, when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Post {
    anchor: u32,
    entity: u32,
    /// Index into the entity's rows: the row whose value the property shows (for a combination,
    /// the main kind's row).
    row: u16,
    time: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Fewer than two anchors: nothing to link or report.
    Single,
    /// Shared, but the kind does not link on its own (`with`, the raw side of a combination).
    Shared,
    /// Shared and linking under its kind's rule.
    Linking,
    /// Held back.
    Hub(HubReason),
}

/// A property node and its postings.
#[derive(Debug, Clone)]
struct Prop {
    kind: u16,
    /// Sorted by `(anchor, entity, row)`; unique.
    posts: Vec<Post>,
    /// Distinct anchors among the posts.
    anchors: u32,
    placeholder: bool,
    status: Status,
}

/// A cluster slot.
#[derive(Debug, Clone, Default)]
struct Slot {
    id: String,
    oldest: u32,
    /// Entities (accounts and inquiries), unordered.
    members: Vec<u32>,
    ring: Option<RingReport>,
}

/// The risk of one entity, as the live graph knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Risk {
    /// 0–100.
    pub score: f64,
    /// Reasons, largest contribution first.
    pub reasons: Vec<Reason>,
    /// Stable id of the entity's cluster.
    pub cluster_id: String,
    /// Entities in the cluster (accounts and inquiries).
    pub cluster_entities: u32,
    /// Distinct accounts (anchors) in the cluster.
    pub cluster_accounts: u32,
    /// Whether the cluster is a ring.
    pub is_ring: bool,
    /// The cluster's ring score (0 for clusters with one account).
    pub ring_score: f64,
}

/// A cluster as the live graph knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    /// Stable id.
    pub id: String,
    /// Members as `(type, id)`, oldest first.
    pub members: Vec<(EntityType, String)>,
    /// Distinct accounts (anchors).
    pub accounts: u32,
    /// Whether the cluster is a ring.
    pub is_ring: bool,
    /// Ring score.
    pub ring_score: f64,
    /// Ring reasons, largest first (empty for one-account clusters).
    pub reasons: Vec<Reason>,
}

/// A property held back as a hub.
#[derive(Debug, Clone, PartialEq)]
pub struct HubView {
    /// Kind (combination kinds as `address+name_last`).
    pub kind: String,
    /// Masked value.
    pub masked_value: String,
    /// Property key, 16 hex digits.
    pub key: String,
    /// Distinct accounts sharing it.
    pub entity_count: u32,
    /// `placeholder` or `over_cap`.
    pub reason: HubReason,
}

/// A property of an entity, for neighbourhood queries.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyView {
    /// Kind.
    pub kind: String,
    /// Masked value.
    pub masked_value: String,
    /// Property key, 16 hex digits.
    pub key: String,
    /// Distinct accounts sharing it.
    pub entity_count: u32,
    /// `linking`, `shared` (shared but its kind does not link on its own), `single`, or
    /// `hub`.
    pub status: &'static str,
}

/// What one write changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Change {
    /// The cluster the record is in now.
    pub cluster_id: String,
    /// Ids of clusters that now exist and whose membership or scores changed (sorted).
    pub changed_clusters: Vec<String>,
    /// Whether clusters had to be re-clustered locally (a cap crossing, a replaced record, a
    /// re-anchored inquiry).
    pub reclustered: bool,
}

/// The incrementally maintained graph: the batch linker's result kept current one record at a
/// time. Adds and merges are incremental; cap crossings, replacements and removals re-cluster
/// the clusters involved; scores are recomputed with the batch functions for the clusters a
/// write changes. Under the caps in force ([`LiveGraph::caps`]; `auto` caps are chosen when the
/// graph is built and held until it is rebuilt) it equals a batch run over the same records.
#[derive(Debug, Clone)]
pub struct LiveGraph {
    config: LinkConfig,
    keyer: Keyer,
    kinds: Vec<String>,
    kind_ids: HashMap<String, u16>,
    rules: Vec<KindRule>,
    caps: Vec<u32>,
    /// Per kind: `(required kind, combination kind)` for kinds with a `with` rule.
    combos: Vec<Vec<(u16, u16)>>,
    /// Caps chosen by the batch run this graph was built from, by kind name.
    resolved_caps: HashMap<String, u32>,
    ents: Entities,
    alive: Vec<bool>,
    rows: Vec<Vec<Row>>,
    /// Keys each entity posts under.
    keys_of: Vec<Vec<u64>>,
    /// For an account: the inquiries anchored to it.
    dependents: Vec<Vec<u32>>,
    accounts: HashMap<String, u32>,
    inquiries: HashMap<String, u32>,
    /// Inquiries naming an account id that is not in the graph (yet).
    waiting: HashMap<String, Vec<u32>>,
    /// The account id each inquiry names.
    account_ref: Vec<Option<String>>,
    props: HashMap<u64, Prop>,
    hubs: BTreeSet<u64>,
    cluster_of: Vec<u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    scores: Vec<EntityScore>,
}

impl LiveGraph {
    /// An empty graph. `auto` caps start at the configured floor (`hubs.floor`).
    pub fn new(keyer: Keyer, config: LinkConfig) -> Self {
        LiveGraph {
            config,
            keyer,
            kinds: Vec::new(),
            kind_ids: HashMap::new(),
            rules: Vec::new(),
            caps: Vec::new(),
            combos: Vec::new(),
            resolved_caps: HashMap::new(),
            ents: Entities::default(),
            alive: Vec::new(),
            rows: Vec::new(),
            keys_of: Vec::new(),
            dependents: Vec::new(),
            accounts: HashMap::new(),
            inquiries: HashMap::new(),
            waiting: HashMap::new(),
            account_ref: Vec::new(),
            props: HashMap::new(),
            hubs: BTreeSet::new(),
            cluster_of: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            scores: Vec::new(),
        }
    }

    /// Builds the graph from records with the batch linker (parallel), then fills the live
    /// structures from its result. `auto` caps are the ones the batch run chose.
    ///
    /// Time: one batch run (`O(R log R)` for `R` attribute rows) plus `O(R)` to index.
    ///
    /// # Errors
    /// [`Error::DuplicateId`] when two records of one type share an id;
    /// [`Error::TooLarge`] past 2³² − 2 entities.
    pub fn from_records(records: &[Normalized], keyer: Keyer, config: LinkConfig) -> Result<Self> {
        if records.len() >= NONE as usize {
            return Err(Error::TooLarge(records.len()));
        }
        let mut seen: HashSet<(EntityType, &str)> = HashSet::with_capacity(records.len());
        for r in records {
            if !seen.insert((r.entity.entity_type, r.entity.id.as_str())) {
                return Err(Error::DuplicateId {
                    entity_type: r.entity.entity_type.as_str(),
                    id: r.entity.id.clone(),
                });
            }
        }
        drop(seen);
        let input = LinkInput::from_records(records, keyer.clone());
        let out = crate::linker::link(&input, &config);
        let rs = rings(&input, &out, &config);
        let sc = scores(&input, &out, &rs, &[], &config);

        let mut g = LiveGraph::new(keyer, config);
        g.resolved_caps = out
            .kind_stats
            .iter()
            .map(|s| (s.kind.clone(), s.cap))
            .collect();
        let n = records.len();
        g.ents = input.entities;
        g.alive = vec![true; n];
        g.rows = vec![Vec::new(); n];
        g.keys_of = vec![Vec::new(); n];
        g.dependents = vec![Vec::new(); n];
        g.account_ref = records
            .iter()
            .map(|r| r.entity.account_id.clone())
            .collect();
        g.cluster_of = vec![NONE; n];
        g.scores = sc;
        for (e, r) in records.iter().enumerate() {
            let e32 = e as u32;
            match r.entity.entity_type {
                EntityType::Account => {
                    g.accounts.insert(r.entity.id.clone(), e32);
                }
                EntityType::Inquiry => {
                    g.inquiries.insert(r.entity.id.clone(), e32);
                    let anchor = g.ents.anchor[e];
                    if anchor != e32 {
                        g.dependents[anchor as usize].push(e32);
                    } else if let Some(acct) = &r.entity.account_id {
                        g.waiting.entry(acct.clone()).or_default().push(e32);
                    }
                }
            }
            let mut rows = Vec::with_capacity(r.attributes.len());
            for a in &r.attributes {
                rows.push(Row {
                    kind: g.kind_id(&a.kind),
                    key: g.keyer.key(&a.kind, &a.value),
                    value: a.value.as_str().into(),
                });
            }
            g.rows[e] = rows;
        }
        // Postings, anchor group by anchor group; statuses once at the end.
        for a in 0..n as u32 {
            if g.ents.anchor[a as usize] == a {
                for (key, kind, post) in g.group_posts(a) {
                    g.insert_post(key, kind, post);
                }
            }
        }
        let keys: Vec<u64> = g.props.keys().copied().collect();
        for k in keys {
            let status = g.judge(k);
            if let Some(p) = g.props.get_mut(&k) {
                p.status = status;
            }
            if matches!(status, Status::Hub(_)) {
                g.hubs.insert(k);
            }
        }
        // Clusters and rings from the batch run.
        let mut ring_of: HashMap<u32, RingReport> =
            rs.into_iter().map(|r| (r.cluster, r)).collect();
        for (ci, c) in out.clusters.into_iter().enumerate() {
            let slot = g.slots.len() as u32;
            for &m in &c.members {
                g.cluster_of[m as usize] = slot;
            }
            g.slots.push(Slot {
                id: c.id,
                oldest: c.oldest,
                members: c.members,
                ring: ring_of.remove(&(ci as u32)),
            });
        }
        Ok(g)
    }

    /// The link configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// The keyer.
    pub fn keyer(&self) -> &Keyer {
        &self.keyer
    }

    /// The caps in force, by kind (combination kinds included), sorted by kind.
    pub fn caps(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = self
            .kinds
            .iter()
            .cloned()
            .zip(self.caps.iter().copied())
            .collect();
        v.sort();
        v
    }

    /// The configuration with every cap fixed at the value in force: a batch run under it
    /// decides hubs exactly as this graph does.
    pub fn resolved_config(&self) -> LinkConfig {
        let mut c = self.config.clone();
        for (kind, cap) in self.caps() {
            if kind.contains('+') {
                continue;
            }
            let mut r = c.rule(&kind);
            r.cap = Cap::Fixed(cap);
            c.rules.insert(kind, r);
        }
        c
    }

    /// Number of live entities.
    pub fn len(&self) -> usize {
        self.accounts.len() + self.inquiries.len()
    }

    /// Whether the graph holds no entity.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of property nodes.
    pub fn property_count(&self) -> usize {
        self.props.len()
    }

    fn lookup(&self, t: EntityType, id: &str) -> Option<u32> {
        match t {
            EntityType::Account => self.accounts.get(id),
            EntityType::Inquiry => self.inquiries.get(id),
        }
        .copied()
    }

    /// Whether an entity is in the graph.
    pub fn contains(&self, t: EntityType, id: &str) -> bool {
        self.lookup(t, id).is_some()
    }

    /// The risk of an entity. `O(reasons)`.
    pub fn risk(&self, t: EntityType, id: &str) -> Option<Risk> {
        let e = self.lookup(t, id)?;
        let slot = &self.slots[self.cluster_of[e as usize] as usize];
        let s = &self.scores[e as usize];
        Some(Risk {
            score: s.score,
            reasons: s.reasons.clone(),
            cluster_id: slot.id.clone(),
            cluster_entities: slot.members.len() as u32,
            cluster_accounts: slot.ring.as_ref().map_or(1, |r| r.accounts),
            is_ring: slot.ring.as_ref().is_some_and(|r| r.is_ring),
            ring_score: slot.ring.as_ref().map_or(0.0, |r| r.ring_score),
        })
    }

    /// The cluster of an entity, members oldest first. `O(m log m)` for `m` members.
    pub fn cluster(&self, t: EntityType, id: &str) -> Option<ClusterView> {
        let e = self.lookup(t, id)?;
        Some(self.slot_view(self.cluster_of[e as usize]))
    }

    fn slot_view(&self, slot: u32) -> ClusterView {
        let s = &self.slots[slot as usize];
        let mut members = s.members.clone();
        members.sort_by(|a, b| self.ents.age_order(*a, *b));
        ClusterView {
            id: s.id.clone(),
            members: members
                .iter()
                .map(|&m| {
                    (
                        self.ents.types[m as usize],
                        self.ents.ids[m as usize].clone(),
                    )
                })
                .collect(),
            accounts: s.ring.as_ref().map_or(1, |r| r.accounts),
            is_ring: s.ring.as_ref().is_some_and(|r| r.is_ring),
            ring_score: s.ring.as_ref().map_or(0.0, |r| r.ring_score),
            reasons: s
                .ring
                .as_ref()
                .map(|r| r.reasons.clone())
                .unwrap_or_default(),
        }
    }

    /// Every entity's cluster id as `((type, id), cluster id)`, sorted. `O(n log n)`; for
    /// tests, exports and consistency checks.
    pub fn assignments(&self) -> Vec<((EntityType, String), String)> {
        let mut v: Vec<_> = self
            .accounts
            .values()
            .chain(self.inquiries.values())
            .map(|&e| {
                (
                    (
                        self.ents.types[e as usize],
                        self.ents.ids[e as usize].clone(),
                    ),
                    self.slots[self.cluster_of[e as usize] as usize].id.clone(),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Hubs, largest first (then by kind and key). `O(h log h)`.
    pub fn hubs(&self) -> Vec<HubView> {
        let mut v: Vec<HubView> = self
            .hubs
            .iter()
            .filter_map(|k| {
                let p = self.props.get(k)?;
                let Status::Hub(reason) = p.status else {
                    return None;
                };
                let kind = &self.kinds[p.kind as usize];
                Some(HubView {
                    kind: kind.clone(),
                    masked_value: mask(base_kind(kind), self.display(p)),
                    key: crate::keys::key_hex(*k),
                    entity_count: p.anchors,
                    reason,
                })
            })
            .collect();
        v.sort_by(|a, b| {
            b.entity_count
                .cmp(&a.entity_count)
                .then_with(|| a.kind.cmp(&b.kind))
                .then_with(|| a.key.cmp(&b.key))
        });
        v
    }

    /// The properties of an entity (the keys it posts under), sorted by kind then key.
    pub fn properties(&self, t: EntityType, id: &str) -> Option<Vec<PropertyView>> {
        let e = self.lookup(t, id)?;
        let mut v: Vec<PropertyView> = self.keys_of[e as usize]
            .iter()
            .filter_map(|k| {
                let p = self.props.get(k)?;
                let kind = &self.kinds[p.kind as usize];
                Some(PropertyView {
                    kind: kind.clone(),
                    masked_value: mask(base_kind(kind), self.display(p)),
                    key: crate::keys::key_hex(*k),
                    entity_count: p.anchors,
                    status: match p.status {
                        Status::Single => "single",
                        Status::Shared => "shared",
                        Status::Linking => "linking",
                        Status::Hub(_) => "hub",
                    },
                })
            })
            .collect();
        v.sort_by(|a, b| (&a.kind, &a.key).cmp(&(&b.kind, &b.key)));
        v.dedup();
        Some(v)
    }

    /// The entities sharing property `key` (16 hex digits) with nothing held back, as
    /// `(type, id)`, sorted; `None` when the key is unknown. Hubs list their entities too:
    /// callers that walk the graph decide whether to step through them.
    pub fn property_entities(&self, key: &str) -> Option<(String, Vec<(EntityType, String)>)> {
        let k = u64::from_str_radix(key, 16).ok()?;
        let p = self.props.get(&k)?;
        let mut v: Vec<(EntityType, String)> = p
            .posts
            .iter()
            .map(|post| {
                (
                    self.ents.types[post.entity as usize],
                    self.ents.ids[post.entity as usize].clone(),
                )
            })
            .collect();
        v.sort();
        v.dedup();
        Some((self.kinds[p.kind as usize].clone(), v))
    }

    fn display(&self, p: &Prop) -> &str {
        p.posts.first().map_or("", |post| {
            &self.rows[post.entity as usize][post.row as usize].value
        })
    }

    fn kind_id(&mut self, kind: &str) -> u16 {
        if let Some(&k) = self.kind_ids.get(kind) {
            return k;
        }
        let k = self.kinds.len() as u16;
        let rule = self.config.rule(kind);
        let cap = self.cap_for(kind, &rule);
        self.kinds.push(kind.to_owned());
        self.kind_ids.insert(kind.to_owned(), k);
        self.rules.push(rule.clone());
        self.caps.push(cap);
        self.combos.push(Vec::new());
        // A combination kind for every (this kind, required kind) pair, and for every existing
        // `with` kind that requires this one, as the batch linker forms them.
        if rule.link == LinkMode::With {
            for w in rule.with.clone() {
                let wk = self.kind_id(&w);
                self.add_combo(k, wk);
            }
        }
        for other in 0..k {
            let r = &self.rules[other as usize];
            if r.link == LinkMode::With && r.with.iter().any(|w| w == kind) {
                self.add_combo(other, k);
            }
        }
        k
    }

    fn add_combo(&mut self, main: u16, required: u16) {
        if self.combos[main as usize].iter().any(|c| c.0 == required) {
            return;
        }
        let name = format!(
            "{}+{}",
            self.kinds[main as usize], self.kinds[required as usize]
        );
        let mut rule = self.rules[main as usize].clone();
        rule.link = LinkMode::Alone;
        let cap = self.cap_for(&name, &rule);
        let c = self.kinds.len() as u16;
        self.kinds.push(name.clone());
        self.kind_ids.insert(name, c);
        self.rules.push(rule);
        self.caps.push(cap);
        self.combos.push(Vec::new());
        self.combos[main as usize].push((required, c));
    }

    fn cap_for(&self, kind: &str, rule: &KindRule) -> u32 {
        match rule.cap {
            Cap::Fixed(c) => c,
            Cap::Auto(_) => self
                .resolved_caps
                .get(kind)
                .copied()
                .unwrap_or(self.config.hubs.floor),
        }
    }

    /// Every posting of an anchor group (the anchor and the inquiries anchored to it): plain
    /// rows of posted kinds, and one combination posting per (main row, required key of the
    /// group), as the batch linker's `combination_rows`.
    fn group_posts(&self, anchor: u32) -> Vec<(u64, u16, Post)> {
        let mut group = vec![anchor];
        group.extend_from_slice(&self.dependents[anchor as usize]);
        let mut out = Vec::new();
        let mut required: Vec<(u16, u64)> = Vec::new();
        for &e in &group {
            for r in &self.rows[e as usize] {
                required.push((r.kind, r.key));
            }
        }
        required.sort_unstable();
        required.dedup();
        for &e in &group {
            let time = self.ents.created_at[e as usize].unwrap_or(NO_TIME);
            for (i, r) in self.rows[e as usize].iter().enumerate() {
                let post = Post {
                    anchor,
                    entity: e,
                    row: i as u16,
                    time,
                };
                if self.rules[r.kind as usize].link != LinkMode::Never {
                    out.push((r.key, r.kind, post));
                }
                for &(req, combo) in &self.combos[r.kind as usize] {
                    let s = required.partition_point(|x| x.0 < req);
                    for &(_, rk) in required[s..].iter().take_while(|x| x.0 == req) {
                        let key = self.keyer.combine(&self.kinds[combo as usize], r.key, rk);
                        out.push((key, combo, post));
                    }
                }
            }
        }
        out
    }

    /// Inserts a posting (idempotent). Returns whether it was new.
    fn insert_post(&mut self, key: u64, kind: u16, post: Post) -> bool {
        let value_kind = base_kind(&self.kinds[kind as usize]).to_owned();
        let placeholder_value = (!self.props.contains_key(&key)).then(|| {
            self.config.is_placeholder(
                &value_kind,
                &self.rows[post.entity as usize][post.row as usize].value,
            )
        });
        let p = self.props.entry(key).or_insert_with(|| Prop {
            kind,
            posts: Vec::new(),
            anchors: 0,
            placeholder: placeholder_value.unwrap_or(false),
            status: Status::Single,
        });
        let at = p.posts.partition_point(|x| {
            (x.anchor, x.entity, x.row) < (post.anchor, post.entity, post.row)
        });
        if p.posts
            .get(at)
            .is_some_and(|x| (x.anchor, x.entity, x.row) == (post.anchor, post.entity, post.row))
        {
            return false;
        }
        let new_anchor = !(at > 0 && p.posts[at - 1].anchor == post.anchor
            || p.posts.get(at).is_some_and(|x| x.anchor == post.anchor));
        p.posts.insert(at, post);
        if new_anchor {
            p.anchors += 1;
        }
        self.keys_of[post.entity as usize].push(key);
        true
    }

    /// Removes every posting of entity `e`; returns the keys touched.
    fn remove_posts(&mut self, e: u32) -> Vec<u64> {
        let keys = std::mem::take(&mut self.keys_of[e as usize]);
        for &k in &keys {
            let Some(p) = self.props.get_mut(&k) else {
                continue;
            };
            let before = p.posts.len();
            let anchor = p.posts.iter().find(|x| x.entity == e).map(|x| x.anchor);
            p.posts.retain(|x| x.entity != e);
            if p.posts.len() != before
                && let Some(a) = anchor
                && !p.posts.iter().any(|x| x.anchor == a)
            {
                p.anchors -= 1;
            }
        }
        keys
    }

    /// The status a property's postings call for.
    fn judge(&self, key: u64) -> Status {
        let Some(p) = self.props.get(&key) else {
            return Status::Single;
        };
        if p.anchors < 2 {
            return Status::Single;
        }
        if p.placeholder {
            return Status::Hub(HubReason::Placeholder);
        }
        if p.anchors > self.caps[p.kind as usize] {
            return Status::Hub(HubReason::OverCap);
        }
        match self.rules[p.kind as usize].link {
            LinkMode::Alone | LinkMode::Window => Status::Linking,
            LinkMode::With | LinkMode::Never => Status::Shared,
        }
    }

    /// The pairs of anchors a linking property unites — a star over all anchors (`alone`), or
    /// the batch linker's window rule (`window`, [`crate::linker::window_groups`]) — and the
    /// groups of anchors it connects.
    fn links_of(&self, p: &Prop) -> (Vec<(u32, u32)>, Vec<Vec<u32>>) {
        let rule = &self.rules[p.kind as usize];
        match rule.link {
            LinkMode::Alone => {
                let mut anchors: Vec<u32> = p.posts.iter().map(|x| x.anchor).collect();
                anchors.dedup();
                let pairs = anchors[1..].iter().map(|&a| (anchors[0], a)).collect();
                (pairs, vec![anchors])
            }
            LinkMode::Window => {
                let window = (rule.window_hours.unwrap_or(24.0) * 3_600_000.0) as i64;
                let obs = p.posts.iter().map(|x| (x.time, x.anchor)).collect();
                crate::linker::window_groups(obs, window)
            }
            LinkMode::With | LinkMode::Never => (Vec::new(), Vec::new()),
        }
    }

    fn new_slot(&mut self, members: Vec<u32>) -> u32 {
        let oldest = members
            .iter()
            .copied()
            .min_by(|a, b| self.ents.age_order(*a, *b))
            .unwrap_or(NONE);
        let slot = Slot {
            id: if oldest == NONE {
                String::new()
            } else {
                cluster_id(&self.ents, oldest)
            },
            oldest,
            members,
            ring: None,
        };
        let s = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = slot;
                s
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        for i in 0..self.slots[s as usize].members.len() {
            let m = self.slots[s as usize].members[i];
            self.cluster_of[m as usize] = s;
        }
        s
    }

    fn free_slot(&mut self, s: u32) {
        self.slots[s as usize] = Slot::default();
        self.free.push(s);
    }

    /// Merges the clusters of two entities (smaller into larger). Returns the slot.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        let (mut sa, mut sb) = (self.cluster_of[a as usize], self.cluster_of[b as usize]);
        if sa == sb {
            return sa;
        }
        if self.slots[sa as usize].members.len() < self.slots[sb as usize].members.len() {
            std::mem::swap(&mut sa, &mut sb);
        }
        let moved = std::mem::take(&mut self.slots[sb as usize].members);
        let other_oldest = self.slots[sb as usize].oldest;
        for &m in &moved {
            self.cluster_of[m as usize] = sa;
        }
        self.slots[sa as usize].members.extend(moved);
        let oldest = self.slots[sa as usize].oldest;
        if self.ents.age_order(other_oldest, oldest).is_lt() {
            self.slots[sa as usize].oldest = other_oldest;
            self.slots[sa as usize].id = cluster_id(&self.ents, other_oldest);
        }
        self.free_slot(sb);
        sa
    }

    /// Adds a record, or replaces the record of the same type and id. Returns what changed.
    ///
    /// An inquiry is anchored to the account its `account_id` names when that account is in
    /// the graph; an account arriving later takes over the inquiries that named it.
    pub fn upsert(&mut self, record: Normalized) -> Change {
        let t = record.entity.entity_type;
        let existing = self.lookup(t, &record.entity.id);
        let mut dirty: HashSet<u32> = HashSet::new();
        let mut touched: Vec<u64> = Vec::new();
        let mut statuses: HashMap<u64, Status> = HashMap::new();

        let e = match existing {
            Some(e) => {
                // Replace: detach the whole anchor group, change the record, re-attach.
                let anchor = self.ents.anchor[e as usize];
                let group = self.group(anchor);
                self.detach(&group, &mut dirty, &mut touched, &mut statuses);
                if t == EntityType::Inquiry && anchor == e {
                    self.unwait(e);
                }
                self.set_entity(e, &record);
                if t == EntityType::Inquiry {
                    // The account it names may have changed.
                    if anchor != e {
                        self.dependents[anchor as usize].retain(|&x| x != e);
                    }
                    self.ents.anchor[e as usize] = e;
                    let new_anchor = self.anchor_for(&record);
                    self.ents.anchor[e as usize] = new_anchor.unwrap_or(e);
                    // The old group without `e`, and `e` in its (possibly new) anchor's group:
                    // adding to a group only adds postings, so that group needs no detaching.
                    let mut to_attach: Vec<u32> = group.into_iter().filter(|&x| x != e).collect();
                    match new_anchor {
                        Some(a) => self.dependents[a as usize].push(e),
                        None => {
                            if let Some(acct) = &record.entity.account_id {
                                self.waiting.entry(acct.clone()).or_default().push(e);
                            }
                        }
                    }
                    to_attach.push(e);
                    self.attach(&to_attach, &mut touched);
                } else {
                    self.attach(&self.group(anchor), &mut touched);
                }
                e
            }
            None => {
                let e = self.push_entity(&record);
                match t {
                    EntityType::Account => {
                        // Inquiries that named this account before it existed join it.
                        let pending = self.waiting.remove(&record.entity.id).unwrap_or_default();
                        let pending: Vec<u32> = pending
                            .into_iter()
                            .filter(|&q| self.alive[q as usize])
                            .collect();
                        if !pending.is_empty() {
                            self.detach(&pending, &mut dirty, &mut touched, &mut statuses);
                            for &q in &pending {
                                self.ents.anchor[q as usize] = e;
                            }
                            self.dependents[e as usize] = pending;
                        }
                        self.attach(&self.group(e), &mut touched);
                    }
                    EntityType::Inquiry => {
                        let anchor = self.anchor_for(&record);
                        match anchor {
                            Some(a) => {
                                self.ents.anchor[e as usize] = a;
                                self.dependents[a as usize].push(e);
                                // Monotonic: the group's new postings are inserted, nothing is
                                // removed, so no re-clustering is needed.
                                self.attach(&self.group(a), &mut touched);
                            }
                            None => {
                                if let Some(acct) = &record.entity.account_id {
                                    self.waiting.entry(acct.clone()).or_default().push(e);
                                }
                                self.attach(&[e], &mut touched);
                            }
                        }
                    }
                }
                e
            }
        };
        self.settle(e, dirty, touched, statuses)
    }

    /// Removes a record. Inquiries anchored to a removed account stand alone again (as in a
    /// batch run without that account). Returns `None` when the record is not in the graph.
    pub fn remove(&mut self, t: EntityType, id: &str) -> Option<Change> {
        let e = self.lookup(t, id)?;
        let mut dirty = HashSet::new();
        let mut touched = Vec::new();
        let mut statuses = HashMap::new();
        let anchor = self.ents.anchor[e as usize];
        let group = self.group(anchor);
        self.detach(&group, &mut dirty, &mut touched, &mut statuses);
        // `e` is alone in a fresh cluster now; drop it.
        let own = self.cluster_of[e as usize];
        self.free_slot(own);
        self.cluster_of[e as usize] = NONE;
        self.alive[e as usize] = false;
        dirty.remove(&e);
        match t {
            EntityType::Account => {
                self.accounts.remove(id);
                let deps = std::mem::take(&mut self.dependents[e as usize]);
                for &q in &deps {
                    self.ents.anchor[q as usize] = q;
                    self.waiting.entry(id.to_owned()).or_default().push(q);
                }
                self.attach(&deps, &mut touched);
            }
            EntityType::Inquiry => {
                self.inquiries.remove(id);
                if anchor == e {
                    self.unwait(e);
                } else {
                    self.dependents[anchor as usize].retain(|&x| x != e);
                    self.attach(&self.group(anchor), &mut touched);
                }
            }
        }
        // Pick any entity of the dirty region to report on; the removed one has no cluster.
        let report = group
            .iter()
            .copied()
            .find(|&x| x != e && self.alive[x as usize]);
        let mut change = self.settle(report.unwrap_or(NONE), dirty, touched, statuses);
        if report.is_none() {
            change.cluster_id.clear();
        }
        Some(change)
    }

    /// Sets or clears an entity's label and rescores its cluster. Returns `None` when the
    /// entity is not in the graph.
    pub fn set_label(&mut self, t: EntityType, id: &str, label: Option<Label>) -> Option<Change> {
        let e = self.lookup(t, id)?;
        self.ents.label[e as usize] = label;
        let slot = self.cluster_of[e as usize];
        self.rescore(slot);
        let cid = self.slots[slot as usize].id.clone();
        Some(Change {
            cluster_id: cid.clone(),
            changed_clusters: vec![cid],
            reclustered: false,
        })
    }

    /// The risk a record would get if it were added now, without keeping it: the record is
    /// added, scored and removed again, so the result is exactly what [`Self::upsert`] would
    /// give. A record whose id is already in the graph is scored under a temporary id.
    pub fn evaluate(&mut self, mut record: Normalized) -> Risk {
        let t = record.entity.entity_type;
        // The record's own id, unless that id is taken (scoring a change to a stored record):
        // then a probe id no normalised id can equal (ids never hold control characters).
        let mut probe = record.entity.id.clone();
        if self.lookup(t, &probe).is_some() {
            probe = format!("\u{0}evaluate:{probe}");
        }
        record.entity.id = probe.clone();
        // An unsaved account must not take over inquiries waiting for the real account.
        self.upsert(record);
        let risk = self.risk(t, &probe);
        self.remove(t, &probe);
        risk.unwrap_or_else(|| Risk {
            score: 0.0,
            reasons: Vec::new(),
            cluster_id: String::new(),
            cluster_entities: 1,
            cluster_accounts: 1,
            is_ring: false,
            ring_score: 0.0,
        })
    }

    fn group(&self, anchor: u32) -> Vec<u32> {
        let mut g = vec![anchor];
        g.extend_from_slice(&self.dependents[anchor as usize]);
        g
    }

    fn unwait(&mut self, e: u32) {
        if let Some(acct) = self.account_ref[e as usize].clone()
            && let Some(list) = self.waiting.get_mut(&acct)
        {
            list.retain(|&x| x != e);
            if list.is_empty() {
                self.waiting.remove(&acct);
            }
        }
    }

    fn anchor_for(&self, record: &Normalized) -> Option<u32> {
        record
            .entity
            .account_id
            .as_ref()
            .and_then(|a| self.accounts.get(a))
            .copied()
    }

    fn push_entity(&mut self, r: &Normalized) -> u32 {
        let e = self.ents.push(
            r.entity.id.clone(),
            r.entity.entity_type,
            None,
            r.entity.created_at,
            r.entity.label,
        );
        self.alive.push(true);
        self.rows.push(Vec::new());
        self.keys_of.push(Vec::new());
        self.dependents.push(Vec::new());
        self.account_ref.push(None);
        self.cluster_of.push(NONE);
        self.scores.push(EntityScore {
            score: 0.0,
            reasons: Vec::new(),
        });
        match r.entity.entity_type {
            EntityType::Account => self.accounts.insert(r.entity.id.clone(), e),
            EntityType::Inquiry => self.inquiries.insert(r.entity.id.clone(), e),
        };
        self.set_entity(e, r);
        self.new_slot(vec![e]);
        e
    }

    fn set_entity(&mut self, e: u32, r: &Normalized) {
        let i = e as usize;
        self.ents.created_at[i] = r.entity.created_at;
        self.ents.label[i] = r.entity.label;
        self.account_ref[i] = r.entity.account_id.clone();
        let rows: Vec<Row> = r
            .attributes
            .iter()
            .map(|a| {
                let kind = self.kind_id(&a.kind);
                Row {
                    kind,
                    key: self.keyer.key(&a.kind, &a.value),
                    value: a.value.as_str().into(),
                }
            })
            .collect();
        self.rows[i] = rows;
    }

    /// Takes entities out of the graph structure: postings removed, each in a cluster of its
    /// own, their former clusters dirty.
    fn detach(
        &mut self,
        entities: &[u32],
        dirty: &mut HashSet<u32>,
        touched: &mut Vec<u64>,
        statuses: &mut HashMap<u64, Status>,
    ) {
        for &e in entities {
            for k in self.keys_of[e as usize].clone() {
                if let Some(p) = self.props.get(&k) {
                    statuses.entry(k).or_insert(p.status);
                }
            }
            touched.extend(self.remove_posts(e));
            let s = self.cluster_of[e as usize];
            if s != NONE {
                self.slots[s as usize].members.retain(|&m| m != e);
                match self.slots[s as usize].members.first() {
                    // Whoever stays behind marks the old cluster for re-clustering.
                    Some(&rest) => {
                        dirty.insert(rest);
                    }
                    None => self.free_slot(s),
                }
            }
            self.cluster_of[e as usize] = NONE;
            self.new_slot(vec![e]);
            dirty.insert(e);
        }
    }

    /// Inserts the postings of the anchor groups of `entities` and puts every group member
    /// into its anchor's cluster. Idempotent.
    fn attach(&mut self, entities: &[u32], touched: &mut Vec<u64>) {
        let mut anchors: Vec<u32> = entities
            .iter()
            .map(|&e| self.ents.anchor[e as usize])
            .collect();
        anchors.sort_unstable();
        anchors.dedup();
        for anchor in anchors {
            for e in self.group(anchor) {
                if e != anchor {
                    self.merge(anchor, e);
                }
            }
            for (key, kind, post) in self.group_posts(anchor) {
                if self.insert_post(key, kind, post) {
                    touched.push(key);
                }
            }
        }
    }

    /// Re-judges touched properties, re-clusters dirty clusters, applies links, rescores.
    fn settle(
        &mut self,
        e: u32,
        mut dirty: HashSet<u32>,
        mut touched: Vec<u64>,
        mut statuses: HashMap<u64, Status>,
    ) -> Change {
        touched.sort_unstable();
        touched.dedup();
        let mut rescore: HashSet<u32> = HashSet::new();
        let mut linking = Vec::new();
        for &k in &touched {
            let new = self.judge(k);
            let Some(p) = self.props.get_mut(&k) else {
                continue;
            };
            let old = *statuses.entry(k).or_insert(p.status);
            p.status = new;
            if p.posts.is_empty() {
                self.props.remove(&k);
                self.hubs.remove(&k);
                continue;
            }
            match new {
                Status::Hub(_) => {
                    self.hubs.insert(k);
                }
                _ => {
                    self.hubs.remove(&k);
                }
            }
            if new == Status::Linking {
                linking.push(k);
            }
            let p = &self.props[&k];
            if old == Status::Linking && new != Status::Linking {
                // It stopped linking: its anchors' cluster may fall apart.
                dirty.extend(p.posts.iter().map(|post| post.entity));
            }
            if std::mem::discriminant(&old) != std::mem::discriminant(&new) {
                for post in &p.posts {
                    rescore.insert(post.entity);
                }
            }
        }
        let reclustered = !dirty.is_empty();
        if reclustered {
            self.recluster(dirty, &mut rescore);
        }
        for k in linking {
            let (pairs, _) = self.links_of(&self.props[&k]);
            for (a, b) in pairs {
                self.merge(a, b);
            }
        }
        if e != NONE {
            rescore.insert(e);
        }
        let mut slots: Vec<u32> = rescore
            .into_iter()
            .filter(|&x| self.alive[x as usize])
            .map(|x| self.cluster_of[x as usize])
            .collect();
        slots.sort_unstable();
        slots.dedup();
        let mut changed = Vec::with_capacity(slots.len());
        for s in slots {
            self.rescore(s);
            changed.push(self.slots[s as usize].id.clone());
        }
        changed.sort();
        Change {
            cluster_id: if e == NONE {
                String::new()
            } else {
                self.slots[self.cluster_of[e as usize] as usize].id.clone()
            },
            changed_clusters: changed,
            reclustered,
        }
    }

    /// Re-clusters the given clusters from their postings. The region is first closed under
    /// linking properties (every cluster one of its linking properties reaches joins), so the
    /// result is exact: no link leaves the region.
    fn recluster(&mut self, dirty: HashSet<u32>, rescore: &mut HashSet<u32>) {
        let mut region: BTreeSet<u32> = dirty
            .into_iter()
            .filter(|&e| self.alive[e as usize])
            .map(|e| self.cluster_of[e as usize])
            .filter(|&s| s != NONE)
            .collect();
        let mut queue: Vec<u32> = region.iter().copied().collect();
        let mut members: Vec<u32> = Vec::new();
        let mut seen_keys: HashSet<u64> = HashSet::new();
        let mut linking: Vec<u64> = Vec::new();
        while let Some(s) = queue.pop() {
            let ms = self.slots[s as usize].members.clone();
            for &m in &ms {
                for &k in &self.keys_of[m as usize] {
                    if !seen_keys.insert(k) {
                        continue;
                    }
                    let Some(p) = self.props.get(&k) else {
                        continue;
                    };
                    if self.judge(k) != Status::Linking {
                        continue;
                    }
                    linking.push(k);
                    for post in &p.posts {
                        let os = self.cluster_of[post.entity as usize];
                        if region.insert(os) {
                            queue.push(os);
                        }
                    }
                }
            }
            members.extend(ms);
        }
        // Local union-find over the region's members.
        let local: HashMap<u32, usize> = members.iter().enumerate().map(|(i, &m)| (m, i)).collect();
        let mut parent: Vec<usize> = (0..members.len()).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        let unite = |parent: &mut Vec<usize>, a: u32, b: u32| {
            if let (Some(&x), Some(&y)) = (local.get(&a), local.get(&b)) {
                let (rx, ry) = (find(parent, x), find(parent, y));
                if rx != ry {
                    parent[rx.max(ry)] = rx.min(ry);
                }
            }
        };
        for &m in &members {
            let a = self.ents.anchor[m as usize];
            unite(&mut parent, m, a);
        }
        for k in linking {
            let (pairs, _) = self.links_of(&self.props[&k]);
            for (a, b) in pairs {
                unite(&mut parent, a, b);
            }
        }
        let mut groups: HashMap<usize, Vec<u32>> = HashMap::new();
        for (i, &m) in members.iter().enumerate() {
            groups.entry(find(&mut parent, i)).or_default().push(m);
        }
        for s in region {
            self.free_slot(s);
        }
        let mut groups: Vec<Vec<u32>> = groups.into_values().collect();
        groups.sort_unstable();
        for g in groups {
            rescore.extend(g.iter().copied());
            self.new_slot(g);
        }
    }

    /// Recomputes the ring report of a cluster and the scores of its members with the batch
    /// functions over a sub-graph of just this cluster. `O(members × attributes)`.
    fn rescore(&mut self, slot: u32) {
        let s = &self.slots[slot as usize];
        let mut members = s.members.clone();
        members.sort_unstable();
        let local: HashMap<u32, u32> = members
            .iter()
            .enumerate()
            .map(|(i, &m)| (m, i as u32))
            .collect();
        let mut ents = Entities::default();
        for &m in &members {
            let i = m as usize;
            let anchor = local.get(&self.ents.anchor[i]).copied();
            ents.push(
                self.ents.ids[i].clone(),
                self.ents.types[i],
                anchor,
                self.ents.created_at[i],
                self.ents.label[i],
            );
        }
        let mut attrs = Attributes::default();
        let mut row_of: HashMap<u64, u32> = HashMap::new();
        let mut keys: Vec<u64> = Vec::new();
        for &m in &members {
            let l = local[&m];
            for r in &self.rows[m as usize] {
                let k = attrs.kind_id(&self.kinds[r.kind as usize]);
                row_of.entry(r.key).or_insert(attrs.len() as u32);
                attrs.push_keyed(l, k, r.key, &r.value);
            }
            keys.extend_from_slice(&self.keys_of[m as usize]);
        }
        keys.sort_unstable();
        keys.dedup();
        let mut shared = Vec::new();
        let mut hubs = Vec::new();
        for k in keys {
            let Some(p) = self.props.get(&k) else {
                continue;
            };
            let Some(first) = p.posts.first() else {
                continue;
            };
            // Every posting of a property shows the same value (for a combination, the main
            // kind's), and a member posts under `k`, so a member's row holds that value.
            let shown = self.rows[first.entity as usize][first.row as usize].key;
            let Some(&row) = row_of.get(&shown) else {
                continue;
            };
            match p.status {
                Status::Linking => {
                    // A group's anchors are connected, so each group lies in one cluster;
                    // keep this cluster's.
                    let (_, groups) = self.links_of(p);
                    for g in groups.iter().filter(|g| g.len() >= 2) {
                        let mut anchors: Vec<u32> =
                            g.iter().filter_map(|a| local.get(a).copied()).collect();
                        if anchors.len() == g.len() {
                            anchors.sort_unstable();
                            shared.push(SharedProperty {
                                kind: p.kind,
                                key: k,
                                row,
                                anchors,
                            });
                        }
                    }
                }
                Status::Hub(reason) => {
                    // This cluster's anchors using the hub (the batch lists them all; scores
                    // only look up the cluster's own).
                    let mut anchors: Vec<u32> = p
                        .posts
                        .iter()
                        .filter_map(|post| local.get(&post.anchor).copied())
                        .collect();
                    anchors.sort_unstable();
                    anchors.dedup();
                    hubs.push(Hub {
                        kind: p.kind,
                        key: k,
                        row,
                        entity_count: p.anchors,
                        reason,
                        anchors,
                    });
                }
                Status::Single | Status::Shared => {}
            }
        }
        // The batch order: kind by kind, keys ascending within a kind.
        shared.sort_by_key(|s| (s.kind, s.key));
        hubs.sort_by_key(|h| (h.kind, h.key));
        let n = members.len();
        let mut anchors: Vec<u32> = (0..n).map(|i| ents.anchor[i]).collect();
        anchors.sort_unstable();
        anchors.dedup();
        let oldest = local.get(&s.oldest).copied().unwrap_or(0);
        let multi = usize::from(anchors.len() > 1);
        let out = LinkOutput {
            kinds: self.kinds.clone(),
            cluster_of: vec![0; n],
            clusters: vec![Cluster {
                id: s.id.clone(),
                oldest,
                members: (0..n as u32).collect(),
                anchors,
            }],
            multi_clusters: multi,
            shared,
            hubs,
            kind_stats: Vec::new(),
            timings_ms: Vec::new(),
        };
        let input = LinkInput {
            entities: ents,
            attributes: attrs,
            keyer: self.keyer.clone(),
        };
        let ring = rings(&input, &out, &self.config).into_iter().next();
        let sc = scores(&input, &out, ring.as_slice(), &[], &self.config);
        for (i, score) in sc.into_iter().enumerate() {
            self.scores[members[i] as usize] = score;
        }
        self.slots[slot as usize].ring = ring;
    }

    /// Whether a kind's shared values count as strong evidence.
    pub fn is_strong(&self, kind: &str) -> bool {
        self.config.rule(base_kind(kind)).strength >= STRONG
    }
}

#[cfg(test)]
mod tests;
