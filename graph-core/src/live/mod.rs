//! The live graph: the batch linker's result, kept current one record at a time.
//!
//! [`LiveGraph`] holds the same facts as a batch run — entities with their anchors, one
//! property node per `(kind, normalised value)` key with its postings, hub decisions, clusters
//! with stable ids, ring reports, duplicate pairs and entity scores — and updates them as
//! records arrive:
//!
//! * [`LiveGraph::upsert`] adds or replaces one normalised record. Its postings go into the
//!   property nodes (plain kinds and `with` combinations, exactly as the batch linker forms
//!   them); each touched property is re-judged (placeholder, cap, link mode) and, when it links,
//!   its anchors' clusters are merged (`alone`: all anchors; `window`: observations within the
//!   window, in groups of at least the rule's `min_accounts`). This is the common, cheap
//!   path: `O(attributes × postings of the touched properties)` plus the rescoring of the
//!   cluster the record ends up in.
//! * What cannot be done by merging — a property crossing its cap (it stops linking, so a
//!   cluster may split), a record replaced or removed, an inquiry re-anchored to an account that
//!   arrived after it — marks the clusters involved *dirty*; they are re-clustered from their
//!   postings (a local re-link, exact because no link leaves a cluster) before the call returns.
//! * **Duplicates** ([`crate::dedupe`]): every anchor's duplicate record (its own values, gaps
//!   filled from its inquiries, as the batch builds it) sits in an incremental blocking index
//!   ([`crate::dedupe::LiveBlocks`]); a write that changes an anchor's record finds its
//!   candidates through the blocks, scores them with the batch's comparisons and model
//!   ([`crate::dedupe::PairScorer`]) and keeps the pairs at or above the threshold. A block
//!   crossing the size cap drops (or, falling back under it, restores) the pairs only it
//!   produced, so the pairs always equal a batch run's under the same model.
//! * Scores of the affected clusters are recomputed with the batch functions
//!   ([`crate::rings`], [`crate::score`]) over a sub-graph holding just those clusters (and the
//!   duplicate partners their anchors name), so live and batch scores cannot drift apart.
//!   A write that cannot change any score — an inquiry of a known account that adds no shared
//!   value, identity fact, fraud label or duplicate evidence — rescoring nothing: the inquiry
//!   carries its account's score. A cluster larger than [`LiveGraph::sync_rescore_limit`]
//!   entities is not rescored inside the write: it is marked stale (its members keep their
//!   previous scores, [`Risk::pending`] says so) and rescored by a background pass
//!   ([`LiveGraph::prepare_rescore`] under a read lock, [`RescoreJob::run`] without one,
//!   [`LiveGraph::apply_rescore`] under a short write lock, dropped if the cluster changed
//!   meanwhile), so the work inside a write is bounded.
//!
//! Caps: a `cap = "auto"` rule is resolved once, when the graph is built
//! ([`LiveGraph::from_records`] runs the batch linker, which chooses caps from the data), and is
//! then held fixed; [`LiveGraph::caps`] shows them. Rebuilding (the service's background
//! re-link) chooses them again. The duplicate model is likewise trained (or loaded) when the
//! graph is built and held fixed. Under the caps and model in force, and once stale clusters
//! are settled ([`LiveGraph::settle_stale`]), the live graph's keys, clusters, hubs, duplicate
//! pairs and score points equal a batch run over the same records, whatever order the records
//! arrive in (`tests::live_equals_batch…` property tests).
//!
//! Reasons naming a count (a hub's entity count, "shares … with N other accounts") are
//! refreshed for the clusters a write touches; users of a hub elsewhere keep the count they had
//! until their own cluster changes or the graph is rebuilt. Their points do not change.
//!
//! Memory: values are stored once per entity in one string (rows point into it), ids once in
//! an arena with a hashed index, postings inline for single-use properties, scores only for
//! anchors with reasons, ring reports boxed; [`LiveGraph::memory`] counts the structures.
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

mod dups;
mod store;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::config::{Cap, KindRule, LinkConfig, LinkMode, STRONG};
use crate::dedupe::{FieldScore, Model};
use crate::error::{Error, Result};
use crate::keys::Keyer;
use crate::linker::{Cluster, Hub, HubReason, LinkOutput, SharedProperty, Singles, base_kind};
use crate::normalize::mask;
use crate::record::{EntityType, Label, Normalized, kinds};
use crate::rings::{Reason, RingReport, rings};
use crate::score::{EntityScore, Scores, scores};
use crate::table::{Attributes, Entities, LinkInput};

use self::dups::Dups;
use self::store::{Ids, Post, Posts, Values};

const NONE: u32 = u32::MAX;
/// A time that never falls into a window (entities without `created_at`), as in the batch linker.
const NO_TIME: i64 = i64::MAX;

/// Clusters up to this many entities are rescored inside the write by default.
pub const DEFAULT_SYNC_RESCORE_LIMIT: usize = 2000;

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
    /// Sorted by `(anchor, entity, row)`; unique.
    posts: Posts,
    kind: u16,
    /// Distinct anchors among the posts.
    anchors: u32,
    placeholder: bool,
    status: Status,
}

/// A cluster slot. Its id is derived from its oldest member when asked for.
#[derive(Debug, Clone, Default)]
struct Slot {
    oldest: u32,
    /// Entities (accounts and inquiries), unordered.
    members: Vec<u32>,
    ring: Option<Box<RingReport>>,
    /// Bumped by every change to the slot, so a background rescore computed from an older
    /// state is not applied.
    version: u32,
    /// Waiting for a background rescore.
    stale: bool,
}

/// A likely duplicate of an entity's identity, as the live graph knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateView {
    /// The partner's type.
    pub entity_type: EntityType,
    /// The partner's id (an anchor: an account, or an inquiry without a known account).
    pub id: String,
    /// Posterior probability that both are the same identity.
    pub match_probability: f64,
    /// Match weight (the prior weight plus the field weights).
    pub match_weight: f64,
    /// Per field: level and weight; never values.
    pub fields: Vec<FieldScore>,
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
    /// Likely duplicates of the entity's identity (its anchor's), strongest first.
    pub duplicates: Vec<DuplicateView>,
    /// The cluster changed and waits for its background rescore: score, reasons and ring
    /// figures are the ones before the change (for a new account, only its own label and
    /// the cluster's last ring report).
    pub pending: bool,
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
    /// `linking`, `shared` (shared but its kind does not link on its own, or a window kind
    /// whose observations link no group), `single`, or `hub`.
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
    /// Clusters left for the background rescore (larger than the synchronous limit).
    pub deferred: usize,
}

/// Sizes of the live graph's structures, for memory reports (`serve` logs them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryReport {
    /// `(structure, approximate heap bytes)`, largest first.
    pub parts: Vec<(&'static str, usize)>,
    /// Entities (alive or not), property nodes, cluster slots.
    pub counts: Vec<(&'static str, usize)>,
}

/// A background rescore of one stale cluster: built under a read lock
/// ([`LiveGraph::prepare_rescore`]), run without any lock ([`RescoreJob::run`]), applied under
/// the write lock ([`LiveGraph::apply_rescore`]).
#[derive(Debug)]
pub struct RescoreJob {
    slot: u32,
    version: u32,
    sub: SubGraph,
    result: Option<(Option<RingReport>, Scores)>,
}

impl RescoreJob {
    /// Computes the ring report and scores. Pure; `O(cluster)`.
    pub fn run(&mut self, config: &LinkConfig) {
        self.result = Some(self.sub.compute(config));
    }

    /// Entities in the cluster.
    pub fn size(&self) -> usize {
        self.sub.scored.len()
    }
}

/// The batch input of one cluster's rescore: its members (and, without attributes, the
/// duplicate partners its anchors name, each in a cluster of its own).
#[derive(Debug)]
struct SubGraph {
    /// Global entity index of each scored local entity (the cluster's members).
    scored: Vec<(u32, u32)>,
    input: LinkInput,
    out: LinkOutput,
    dups: Vec<(u32, u32, f64)>,
}

impl SubGraph {
    fn compute(&self, config: &LinkConfig) -> (Option<RingReport>, Scores) {
        let ring = rings(&self.input, &self.out, &self.input.attributes, config)
            .into_iter()
            .next();
        let sc = scores(
            &self.input,
            &self.out,
            &self.input.attributes,
            ring.as_slice(),
            &self.dups,
            config,
        );
        (ring, sc)
    }
}

/// An entity named by its type and id.
pub type TypedId = (EntityType, String);

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
    /// Entity ids and the id → index lookup.
    ids: Ids,
    types: Vec<EntityType>,
    anchor: Vec<u32>,
    created_at: Vec<Option<i64>>,
    label: Vec<Option<Label>>,
    alive: Vec<bool>,
    /// Each entity's attribute rows and values.
    values: Values,
    /// Keys each entity posts under.
    keys_of: Vec<Vec<u64>>,
    /// For an account: the inquiries anchored to it.
    dependents: Vec<Vec<u32>>,
    live_entities: usize,
    /// Inquiries naming an account id that is not in the graph (yet).
    waiting: HashMap<String, Vec<u32>>,
    /// The account id each waiting inquiry names.
    account_ref: HashMap<u32, String>,
    props: HashMap<u64, Prop>,
    hubs: BTreeSet<u64>,
    cluster_of: Vec<u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Scores of anchors with reasons (others score 0); inquiries read their anchor's.
    scores: Vec<Option<Box<EntityScore>>>,
    /// Slots waiting for a background rescore.
    stale: BTreeSet<u32>,
    sync_limit: usize,
    dups: Dups,
    /// In a scratch graph ([`LiveGraph::evaluate`]): the real graph's entity index → this
    /// graph's, for the copied entities. Empty otherwise.
    origin: HashMap<u32, u32>,
}

/// `cl_` + xxh3 of `type:id` of the oldest member: [`crate::linker::cluster_id`]'s formula.
fn cluster_id_of(t: EntityType, id: &str) -> String {
    let mut buf = Vec::with_capacity(id.len() + 8);
    buf.extend_from_slice(t.as_str().as_bytes());
    buf.push(b':');
    buf.extend_from_slice(id.as_bytes());
    format!("cl_{:016x}", xxhash_rust::xxh3::xxh3_64(&buf))
}

/// Kinds whose keys are identity facts of ring reports ([`crate::rings`]).
fn is_ring_fact(kind: &str) -> bool {
    matches!(
        kind,
        kinds::NAME_DOB | kinds::GOV_ID | kinds::NAME | kinds::NAME_LAST
    )
}

impl LiveGraph {
    /// An empty graph. `auto` caps start at the configured floor (`hubs.floor`). Duplicates
    /// are found once a model is given ([`LiveGraph::with_dedupe_model`]).
    pub fn new(keyer: Keyer, config: LinkConfig) -> Self {
        let dups = Dups::new(&config.dedupe, None);
        LiveGraph {
            config,
            keyer,
            kinds: Vec::new(),
            kind_ids: HashMap::new(),
            rules: Vec::new(),
            caps: Vec::new(),
            combos: Vec::new(),
            resolved_caps: HashMap::new(),
            ids: Ids::default(),
            types: Vec::new(),
            anchor: Vec::new(),
            created_at: Vec::new(),
            label: Vec::new(),
            alive: Vec::new(),
            values: Values::default(),
            keys_of: Vec::new(),
            dependents: Vec::new(),
            live_entities: 0,
            waiting: HashMap::new(),
            account_ref: HashMap::new(),
            props: HashMap::new(),
            hubs: BTreeSet::new(),
            cluster_of: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            scores: Vec::new(),
            stale: BTreeSet::new(),
            sync_limit: DEFAULT_SYNC_RESCORE_LIMIT,
            dups,
            origin: HashMap::new(),
        }
    }

    /// Finds duplicates with `model` from now on (an empty graph; [`LiveGraph::from_records`]
    /// takes the model as an argument instead).
    pub fn with_dedupe_model(mut self, model: Model) -> Self {
        assert!(
            self.is_empty(),
            "with_dedupe_model is for empty graphs; from_records_with_model indexes records"
        );
        self.dups = Dups::new(&self.config.dedupe, Some(Arc::new(model)));
        self
    }

    /// Clusters larger than this many entities are rescored in the background instead of
    /// inside the write ([`DEFAULT_SYNC_RESCORE_LIMIT`]); `usize::MAX` rescores every write's
    /// clusters inside it.
    pub fn set_sync_rescore_limit(&mut self, limit: usize) {
        self.sync_limit = limit;
    }

    /// See [`LiveGraph::set_sync_rescore_limit`].
    pub fn sync_rescore_limit(&self) -> usize {
        self.sync_limit
    }

    /// Builds the graph from records with the batch linker (parallel), then fills the live
    /// structures from its result. `auto` caps are the ones the batch run chose. When
    /// duplicate detection is enabled (`config.dedupe.enabled`) a model is trained on the
    /// records, as `ringfence link` does.
    ///
    /// Time: one batch run (`O(R log R)` for `R` attribute rows) plus `O(R)` to index.
    ///
    /// # Errors
    /// [`Error::DuplicateId`] when two records of one type share an id;
    /// [`Error::TooLarge`] past 2³² − 2 entities.
    pub fn from_records(records: &[Normalized], keyer: Keyer, config: LinkConfig) -> Result<Self> {
        Self::from_records_with_model(records, keyer, config, None)
    }

    /// [`LiveGraph::from_records`] with a duplicate model given (`None`: trained on the
    /// records when duplicate detection is enabled).
    ///
    /// # Errors
    /// As [`LiveGraph::from_records`].
    pub fn from_records_with_model(
        records: &[Normalized],
        keyer: Keyer,
        config: LinkConfig,
        model: Option<Model>,
    ) -> Result<Self> {
        if records.len() >= NONE as usize {
            return Err(Error::TooLarge(records.len()));
        }
        let mut g = LiveGraph::new(keyer.clone(), config.clone());
        g.ids = Ids::with_capacity(records.len());
        for r in records {
            g.ids.push(&r.entity.id);
            g.types.push(r.entity.entity_type);
        }
        for e in 0..records.len() as u32 {
            let t = g.types[e as usize];
            if g.ids.lookup(&g.types, t, g.ids.get(e)).is_some() {
                return Err(Error::DuplicateId {
                    entity_type: t.as_str(),
                    id: g.ids.get(e).to_owned(),
                });
            }
            g.ids.index(t, e);
        }
        let input = LinkInput::from_records(records, keyer);
        let dcfg = &config.dedupe;
        let (out, found) = rayon::join(
            || crate::linker::link(&input, &config),
            || {
                (dcfg.enabled || model.is_some()).then(|| {
                    let recs = crate::dedupe::records_from_input(&input, &config);
                    let (m, result) = match model {
                        Some(m) => {
                            let r = crate::dedupe::score_pairs(&recs, &m, dcfg);
                            (m, r)
                        }
                        None => crate::dedupe::dedupe(&recs, dcfg),
                    };
                    let blocks = crate::dedupe::LiveBlocks::build(&recs, dcfg);
                    (m, result.pairs, blocks)
                })
            },
        );
        let rs = rings(&input, &out, &input.attributes, &config);
        let dup_pairs: Vec<(u32, u32, f64)> = found
            .as_ref()
            .map(|f| {
                f.1.iter()
                    .map(|p| (p.a, p.b, p.match_probability))
                    .collect()
            })
            .unwrap_or_default();
        let sc = scores(&input, &out, &input.attributes, &rs, &dup_pairs, &config);

        g.resolved_caps = out
            .kind_stats
            .iter()
            .map(|s| (s.kind.clone(), s.cap))
            .collect();
        let n = records.len();
        g.anchor = input.entities.anchor.clone();
        g.created_at = input.entities.created_at.clone();
        g.label = input.entities.label.clone();
        g.alive = vec![true; n];
        g.live_entities = n;
        g.keys_of = vec![Vec::new(); n];
        g.dependents = vec![Vec::new(); n];
        g.cluster_of = vec![NONE; n];
        g.values.reserve(n);
        g.scores = sc.into_per_anchor();
        for (e, r) in records.iter().enumerate() {
            let e32 = e as u32;
            if r.entity.entity_type == EntityType::Inquiry {
                let anchor = g.anchor[e];
                if anchor != e32 {
                    g.dependents[anchor as usize].push(e32);
                } else if let Some(acct) = &r.entity.account_id {
                    g.wait(e32, acct.clone());
                }
            }
            g.values.push_empty();
            g.set_rows(e32, r);
        }
        drop(input);
        // Postings, anchor group by anchor group; statuses once at the end.
        for a in 0..n as u32 {
            if g.anchor[a as usize] == a {
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
        let several = out.clusters.into_iter().map(|c| (c.oldest, c.members));
        let singles = out.singles.entity.into_iter().map(|e| (e, vec![e]));
        for (ci, (oldest, mut members)) in several.chain(singles).enumerate() {
            let slot = g.slots.len() as u32;
            for &m in &members {
                g.cluster_of[m as usize] = slot;
            }
            members.shrink_to_fit();
            g.slots.push(Slot {
                oldest,
                members,
                ring: ring_of.remove(&(ci as u32)).map(Box::new),
                version: 0,
                stale: false,
            });
        }
        if let Some((m, pairs, blocks)) = found {
            g.dups.load(&g.config.dedupe, m, pairs, blocks);
        }
        g.reserve_entities(n / 4 + 1024);
        Ok(g)
    }

    /// Room for `additional` more entities in every per-entity array. A graph built from
    /// records has arrays of exactly its size, so without this the first write after a build
    /// reallocated and copied every one of them under the write lock (170 ms at 2.2M entities,
    /// while writes queued behind it).
    fn reserve_entities(&mut self, additional: usize) {
        let avg = self.ids.mean_len();
        self.ids.reserve(additional, avg);
        self.types.reserve(additional);
        self.anchor.reserve(additional);
        self.created_at.reserve(additional);
        self.label.reserve(additional);
        self.alive.reserve(additional);
        self.values.reserve(additional);
        self.keys_of.reserve(additional);
        self.dependents.reserve(additional);
        self.cluster_of.reserve(additional);
        self.scores.reserve(additional);
        self.slots.reserve(additional);
    }

    /// The link configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// The keyer.
    pub fn keyer(&self) -> &Keyer {
        &self.keyer
    }

    /// The duplicate model in use, if any.
    pub fn dedupe_model(&self) -> Option<&Model> {
        self.dups.model()
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
        self.live_entities
    }

    /// Whether the graph holds no entity.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of property nodes.
    pub fn property_count(&self) -> usize {
        self.props.len()
    }

    /// Clusters waiting for their background rescore.
    pub fn stale_clusters(&self) -> usize {
        self.stale.len()
    }

    fn lookup(&self, t: EntityType, id: &str) -> Option<u32> {
        self.ids
            .lookup(&self.types, t, id)
            .filter(|&e| self.alive[e as usize])
    }

    /// Whether an entity is in the graph.
    pub fn contains(&self, t: EntityType, id: &str) -> bool {
        self.lookup(t, id).is_some()
    }

    fn slot_id(&self, slot: u32) -> String {
        let o = self.slots[slot as usize].oldest;
        if o == NONE {
            return String::new();
        }
        cluster_id_of(self.types[o as usize], self.ids.get(o))
    }

    /// The risk of an entity. `O(reasons + duplicates)`.
    pub fn risk(&self, t: EntityType, id: &str) -> Option<Risk> {
        let e = self.lookup(t, id)?;
        Some(self.risk_of(e))
    }

    fn risk_of(&self, e: u32) -> Risk {
        let slot_ix = self.cluster_of[e as usize];
        let slot = &self.slots[slot_ix as usize];
        let a = self.anchor[e as usize];
        let (score, reasons) = match &self.scores[a as usize] {
            Some(s) => (s.score, s.reasons.clone()),
            None if slot.stale => self.provisional(a, slot),
            None => (0.0, Vec::new()),
        };
        Risk {
            score,
            reasons,
            cluster_id: self.slot_id(slot_ix),
            cluster_entities: slot.members.len() as u32,
            cluster_accounts: slot.ring.as_ref().map_or(1, |r| r.accounts),
            is_ring: slot.ring.as_ref().is_some_and(|r| r.is_ring),
            ring_score: slot.ring.as_ref().map_or(0.0, |r| r.ring_score),
            duplicates: self.duplicates_of(a),
            pending: slot.stale,
        }
    }

    /// What an anchor without a score yet (a new account in a cluster waiting for its
    /// rescore) is known for: its own fraud label and the cluster's last ring report, with the
    /// points and sentences of [`crate::score`].
    fn provisional(&self, a: u32, slot: &Slot) -> (f64, Vec<Reason>) {
        let w = &self.config.scores;
        let mut reasons = Vec::new();
        if self.labelled(a) {
            reasons.push(Reason {
                code: "labelled_fraud",
                message: "labelled fraud".to_owned(),
                points: w.labelled_fraud,
            });
        }
        if let Some(r) = slot.ring.as_ref().filter(|r| r.is_ring) {
            reasons.push(Reason {
                code: "member_of_ring",
                message: format!(
                    "member of ring {} ({} accounts, ring score {:.0}: {})",
                    cluster_id_of(self.types[slot.oldest as usize], self.ids.get(slot.oldest)),
                    r.accounts,
                    r.ring_score,
                    r.reasons.first().map_or("", |x| x.message.as_str())
                ),
                points: r.ring_score * w.member_of_ring,
            });
        }
        let score = crate::score::rank_and_total(&mut reasons);
        (score, reasons)
    }

    /// Whether an anchor group holds an entity labelled fraud (the scores' `labelled`).
    fn labelled(&self, a: u32) -> bool {
        self.label[a as usize] == Some(Label::Fraud)
            || self.dependents[a as usize]
                .iter()
                .any(|&d| self.label[d as usize] == Some(Label::Fraud))
    }

    fn duplicates_of(&self, a: u32) -> Vec<DuplicateView> {
        let mut v: Vec<DuplicateView> = self
            .dups
            .pairs_of(a)
            .map(|(other, p)| DuplicateView {
                entity_type: self.types[other as usize],
                id: self.ids.get(other).to_owned(),
                match_probability: p.match_probability,
                match_weight: p.match_weight,
                fields: p.fields.clone(),
            })
            .collect();
        v.sort_by(|x, y| {
            y.match_weight
                .total_cmp(&x.match_weight)
                .then_with(|| x.id.cmp(&y.id))
        });
        v
    }

    /// Every duplicate pair as `((type, id), (type, id), match probability)`, each pair once
    /// with the smaller `(type, id)` first, sorted. For tests and exports.
    pub fn duplicate_pairs(&self) -> Vec<(TypedId, TypedId, f64)> {
        let key = |e: u32| (self.types[e as usize], self.ids.get(e).to_owned());
        let mut v: Vec<_> = self
            .dups
            .all_pairs()
            .map(|(a, b, p)| {
                let (x, y) = (key(a), key(b));
                if x <= y { (x, y, p) } else { (y, x, p) }
            })
            .collect();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    }

    /// The cluster of an entity, members oldest first. `O(m log m)` for `m` members.
    pub fn cluster(&self, t: EntityType, id: &str) -> Option<ClusterView> {
        let e = self.lookup(t, id)?;
        Some(self.slot_view(self.cluster_of[e as usize]))
    }

    fn age_order(&self, a: u32, b: u32) -> std::cmp::Ordering {
        let (a, b) = (a as usize, b as usize);
        let ta = self.created_at[a].unwrap_or(i64::MAX);
        let tb = self.created_at[b].unwrap_or(i64::MAX);
        ta.cmp(&tb)
            .then(self.types[a].cmp(&self.types[b]))
            .then_with(|| self.ids.get(a as u32).cmp(self.ids.get(b as u32)))
    }

    fn slot_view(&self, slot: u32) -> ClusterView {
        let s = &self.slots[slot as usize];
        let mut members = s.members.clone();
        members.sort_by(|a, b| self.age_order(*a, *b));
        ClusterView {
            id: self.slot_id(slot),
            members: members
                .iter()
                .map(|&m| (self.types[m as usize], self.ids.get(m).to_owned()))
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
        let mut v: Vec<_> = (0..self.alive.len() as u32)
            .filter(|&e| self.alive[e as usize])
            .map(|e| {
                (
                    (self.types[e as usize], self.ids.get(e).to_owned()),
                    self.slot_id(self.cluster_of[e as usize]),
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
                        // A window property links only the groups its window connects (of
                        // `min_accounts` or more); with none, it is shared, not linking.
                        Status::Linking
                            if self.rules[p.kind as usize].link == LinkMode::Window
                                && self.links_of(p).0.is_empty() =>
                        {
                            "shared"
                        }
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
            .as_slice()
            .iter()
            .map(|post| {
                (
                    self.types[post.entity as usize],
                    self.ids.get(post.entity).to_owned(),
                )
            })
            .collect();
        v.sort();
        v.dedup();
        Some((self.kinds[p.kind as usize].clone(), v))
    }

    fn display(&self, p: &Prop) -> &str {
        p.posts
            .as_slice()
            .first()
            .map_or("", |post| self.values.value_at(post.entity, post.row))
    }

    /// Approximate heap bytes per structure. `O(entities)`.
    pub fn memory(&self) -> MemoryReport {
        let n = self.alive.len();
        let vec_vec = |v: &Vec<Vec<u32>>| {
            v.capacity() * 24
                + v.iter()
                    .map(|x| {
                        if x.capacity() == 0 {
                            0
                        } else {
                            (x.capacity() * 4).max(32)
                        }
                    })
                    .sum::<usize>()
        };
        let keys = self.keys_of.capacity() * 24
            + self
                .keys_of
                .iter()
                .map(|x| {
                    if x.capacity() == 0 {
                        0
                    } else {
                        (x.capacity() * 8 + 8).max(32)
                    }
                })
                .sum::<usize>();
        let props = self.props.capacity() * (8 + std::mem::size_of::<Prop>() + 1)
            + self
                .props
                .values()
                .map(|p| p.posts.heap_bytes())
                .sum::<usize>();
        let slots = self.slots.capacity() * std::mem::size_of::<Slot>()
            + self
                .slots
                .iter()
                .map(|s| {
                    (if s.members.capacity() == 0 {
                        0
                    } else {
                        (s.members.capacity() * 4).max(32)
                    }) + s.ring.as_ref().map_or(0, |r| {
                        std::mem::size_of::<RingReport>()
                            + r.reasons
                                .iter()
                                .map(|x| 48 + x.message.len())
                                .sum::<usize>()
                    })
                })
                .sum::<usize>();
        let scores = self.scores.capacity() * 8
            + self
                .scores
                .iter()
                .flatten()
                .map(|s| {
                    48 + s
                        .reasons
                        .iter()
                        .map(|x| 48 + x.message.len() + 16)
                        .sum::<usize>()
                })
                .sum::<usize>();
        let columns = n * (1 + 4 + 16 + 2 + 1 + 4);
        let mut parts = vec![
            ("property nodes", props),
            ("attribute rows and values", self.values.heap_bytes()),
            ("posting keys per entity", keys),
            ("ids and id index", self.ids.heap_bytes()),
            ("cluster slots and ring reports", slots),
            ("scores", scores),
            ("dependents", vec_vec(&self.dependents)),
            ("entity columns", columns),
            ("duplicate index and pairs", self.dups.heap_bytes()),
        ];
        parts.sort_by_key(|p| std::cmp::Reverse(p.1));
        MemoryReport {
            parts,
            counts: vec![
                ("entities", n),
                ("property nodes", self.props.len()),
                ("cluster slots", self.slots.len() - self.free.len()),
                ("duplicate pairs", self.dups.pair_count()),
            ],
        }
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

    fn time(&self, e: u32) -> i64 {
        self.created_at[e as usize].unwrap_or(NO_TIME)
    }

    /// Every posting of an anchor group (the anchor and the inquiries anchored to it): plain
    /// rows of posted kinds, and one combination posting per (main row, required key of the
    /// group), as the batch linker's `combination_rows`.
    fn group_posts(&self, anchor: u32) -> Vec<(u64, u16, Post)> {
        let group = self.group(anchor);
        let mut out = Vec::new();
        let mut required: Vec<(u16, u64)> = Vec::new();
        for &e in &group {
            for r in self.values.rows(e) {
                required.push((r.kind, r.key));
            }
        }
        required.sort_unstable();
        required.dedup();
        for &e in &group {
            for (i, r) in self.values.rows(e).iter().enumerate() {
                let post = Post {
                    anchor,
                    entity: e,
                    row: i as u16,
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

    /// Inserts a posting (idempotent). Returns whether it was new and whether it made the
    /// property shared by one more anchor (a second or later anchor: a property's first
    /// anchor changes no score).
    fn insert_post(&mut self, key: u64, kind: u16, post: Post) -> (bool, bool) {
        let placeholder_value = (!self.props.contains_key(&key)).then(|| {
            let value_kind = base_kind(&self.kinds[kind as usize]);
            self.config
                .is_placeholder(value_kind, self.values.value_at(post.entity, post.row))
        });
        let p = self.props.entry(key).or_insert_with(|| Prop {
            posts: Posts::default(),
            kind,
            anchors: 0,
            placeholder: placeholder_value.unwrap_or(false),
            status: Status::Single,
        });
        let posts = p.posts.as_slice();
        let at = posts.partition_point(|x| *x < post);
        if posts.get(at) == Some(&post) {
            return (false, false);
        }
        let new_anchor = !(at > 0 && posts[at - 1].anchor == post.anchor
            || posts.get(at).is_some_and(|x| x.anchor == post.anchor));
        p.posts.insert(at, post);
        if new_anchor {
            p.anchors += 1;
        }
        let shared = new_anchor && p.anchors >= 2;
        self.keys_of[post.entity as usize].push(key);
        (true, shared)
    }

    /// Removes every posting of entity `e`; returns the keys touched.
    fn remove_posts(&mut self, e: u32) -> Vec<u64> {
        let keys = std::mem::take(&mut self.keys_of[e as usize]);
        for &k in &keys {
            let Some(p) = self.props.get_mut(&k) else {
                continue;
            };
            let before = p.posts.as_slice().len();
            let anchor = p
                .posts
                .as_slice()
                .iter()
                .find(|x| x.entity == e)
                .map(|x| x.anchor);
            p.posts.retain(|x| x.entity != e);
            if p.posts.as_slice().len() != before
                && let Some(a) = anchor
                && !p.posts.as_slice().iter().any(|x| x.anchor == a)
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
                let mut anchors: Vec<u32> = p.posts.as_slice().iter().map(|x| x.anchor).collect();
                anchors.dedup();
                let pairs = anchors[1..].iter().map(|&a| (anchors[0], a)).collect();
                (pairs, vec![anchors])
            }
            LinkMode::Window => {
                let obs = p
                    .posts
                    .as_slice()
                    .iter()
                    .map(|x| (self.time(x.entity), x.anchor))
                    .collect();
                crate::linker::window_groups(obs, rule.window_ms(), rule.min_accounts)
            }
            LinkMode::With | LinkMode::Never => (Vec::new(), Vec::new()),
        }
    }

    fn new_slot(&mut self, members: Vec<u32>) -> u32 {
        let oldest = members
            .iter()
            .copied()
            .min_by(|a, b| self.age_order(*a, *b))
            .unwrap_or(NONE);
        let s = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        let version = self.slots[s as usize].version.wrapping_add(1);
        self.slots[s as usize] = Slot {
            oldest,
            members,
            ring: None,
            version,
            stale: false,
        };
        for i in 0..self.slots[s as usize].members.len() {
            let m = self.slots[s as usize].members[i];
            self.cluster_of[m as usize] = s;
        }
        s
    }

    fn free_slot(&mut self, s: u32) {
        let version = self.slots[s as usize].version.wrapping_add(1);
        self.slots[s as usize] = Slot {
            oldest: NONE,
            version,
            ..Slot::default()
        };
        self.stale.remove(&s);
        self.free.push(s);
    }

    /// Merges the clusters of two entities (smaller into larger). Returns the slot and
    /// whether two clusters became one.
    fn merge(&mut self, a: u32, b: u32) -> (u32, bool) {
        let (mut sa, mut sb) = (self.cluster_of[a as usize], self.cluster_of[b as usize]);
        if sa == sb {
            return (sa, false);
        }
        if self.slots[sa as usize].members.len() < self.slots[sb as usize].members.len() {
            std::mem::swap(&mut sa, &mut sb);
        }
        let moved = std::mem::take(&mut self.slots[sb as usize].members);
        let other_oldest = self.slots[sb as usize].oldest;
        for &m in &moved {
            self.cluster_of[m as usize] = sa;
        }
        // No version bump: a merge that changes scores goes through `rescore_entities`,
        // which rescores the slot or bumps it stale; an inquiry joining its account's
        // cluster (the neutral path) leaves a background job's result valid.
        let slot = &mut self.slots[sa as usize];
        slot.members.extend(moved);
        let oldest = slot.oldest;
        if self.age_order(other_oldest, oldest).is_lt() {
            self.slots[sa as usize].oldest = other_oldest;
        }
        self.free_slot(sb);
        (sa, true)
    }

    fn wait(&mut self, e: u32, account: String) {
        self.waiting.entry(account.clone()).or_default().push(e);
        self.account_ref.insert(e, account);
    }

    fn push_entity(&mut self, r: &Normalized) -> u32 {
        let e = self.ids.push(&r.entity.id);
        self.types.push(r.entity.entity_type);
        self.anchor.push(e);
        self.created_at.push(r.entity.created_at);
        self.label.push(r.entity.label);
        self.alive.push(true);
        self.values.push_empty();
        self.keys_of.push(Vec::new());
        self.dependents.push(Vec::new());
        self.cluster_of.push(NONE);
        self.scores.push(None);
        self.ids.index(r.entity.entity_type, e);
        self.live_entities += 1;
        self.set_entity(e, r);
        self.new_slot(vec![e]);
        e
    }

    fn set_rows(&mut self, e: u32, r: &Normalized) {
        let rows: Vec<(u16, u64, &str)> = r
            .attributes
            .iter()
            .map(|a| {
                (
                    self.kind_id(&a.kind),
                    self.keyer.key(&a.kind, &a.value),
                    a.value.as_str(),
                )
            })
            .collect();
        self.values.set(e, rows.into_iter());
    }

    fn set_entity(&mut self, e: u32, r: &Normalized) {
        let i = e as usize;
        self.created_at[i] = r.entity.created_at;
        self.label[i] = r.entity.label;
        self.set_rows(e, r);
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
            for k in &self.keys_of[e as usize] {
                if let Some(p) = self.props.get(k) {
                    statuses.entry(*k).or_insert(p.status);
                }
            }
            touched.extend(self.remove_posts(e));
            let s = self.cluster_of[e as usize];
            if s != NONE {
                let slot = &mut self.slots[s as usize];
                slot.members.retain(|&m| m != e);
                match slot.members.first() {
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
    /// into its anchor's cluster. Idempotent. Returns whether a property gained an anchor.
    fn attach(&mut self, entities: &[u32], touched: &mut Vec<u64>) -> bool {
        let mut anchors: Vec<u32> = entities.iter().map(|&e| self.anchor[e as usize]).collect();
        anchors.sort_unstable();
        anchors.dedup();
        let mut gained = false;
        for anchor in anchors {
            for e in self.group(anchor) {
                if e != anchor {
                    self.merge(anchor, e);
                }
            }
            for (key, kind, post) in self.group_posts(anchor) {
                let (new, new_anchor) = self.insert_post(key, kind, post);
                if new {
                    touched.push(key);
                }
                gained |= new_anchor;
            }
        }
        gained
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
        // Anchors whose duplicate record or label state this write may change.
        let mut affected: Vec<u32> = Vec::new();
        // Whether the write could change a score beyond the new entity's own (see `settle`).
        let mut neutral = false;

        let e = match existing {
            Some(e) => {
                // Replace: detach the whole anchor group, change the record, re-attach.
                let anchor = self.anchor[e as usize];
                affected.extend([anchor, e]);
                let before = self.dups.snapshot(self, &affected);
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
                    self.anchor[e as usize] = e;
                    let new_anchor = self.anchor_for(&record);
                    self.anchor[e as usize] = new_anchor.unwrap_or(e);
                    // The old group without `e`, and `e` in its (possibly new) anchor's group:
                    // adding to a group only adds postings, so that group needs no detaching.
                    let mut to_attach: Vec<u32> = group.into_iter().filter(|&x| x != e).collect();
                    match new_anchor {
                        Some(a) => {
                            self.dependents[a as usize].push(e);
                            affected.push(a);
                        }
                        None => {
                            if let Some(acct) = &record.entity.account_id {
                                self.wait(e, acct.clone());
                            }
                        }
                    }
                    to_attach.push(e);
                    self.attach(&to_attach, &mut touched);
                } else {
                    self.attach(&self.group(anchor), &mut touched);
                }
                self.settle_dups(before, &affected);
                e
            }
            None => {
                match t {
                    EntityType::Account => {
                        let pending = self.waiting_for(&record);
                        affected.extend(&pending);
                        let before = self.dups.snapshot(self, &affected);
                        let e = self.push_entity(&record);
                        affected.push(e);
                        // Inquiries that named this account before it existed join it.
                        self.waiting.remove(&record.entity.id);
                        for q in &pending {
                            self.account_ref.remove(q);
                        }
                        if !pending.is_empty() {
                            self.detach(&pending, &mut dirty, &mut touched, &mut statuses);
                            for &q in &pending {
                                self.anchor[q as usize] = e;
                            }
                            self.dependents[e as usize] = pending;
                        }
                        self.attach(&self.group(e), &mut touched);
                        self.settle_dups(before, &affected);
                        e
                    }
                    EntityType::Inquiry => {
                        let anchor = self.anchor_for(&record);
                        if let Some(a) = anchor {
                            affected.push(a);
                        }
                        let before = self.dups.snapshot(self, &affected);
                        let e = self.push_entity(&record);
                        match anchor {
                            Some(a) => {
                                self.anchor[e as usize] = a;
                                self.dependents[a as usize].push(e);
                                // Monotonic: the group's new postings are inserted, nothing is
                                // removed, so no re-clustering is needed.
                                let gained = self.attach(&self.group(a), &mut touched);
                                neutral = !gained
                                    && self.label[e as usize] != Some(Label::Fraud)
                                    && !self.adds_ring_facts(e, a);
                            }
                            None => {
                                affected.push(e);
                                if let Some(acct) = &record.entity.account_id {
                                    self.wait(e, acct.clone());
                                }
                                self.attach(&[e], &mut touched);
                            }
                        }
                        self.settle_dups(before, &affected);
                        e
                    }
                }
            }
        };
        self.settle(e, dirty, touched, statuses, neutral)
    }

    /// Whether inquiry `e` brings its anchor `a`'s group an identity fact (name + birthdate,
    /// ID number, name, last name) the group did not have: ring reports read those.
    fn adds_ring_facts(&self, e: u32, a: u32) -> bool {
        self.values.rows(e).iter().any(|r| {
            is_ring_fact(&self.kinds[r.kind as usize])
                && !self
                    .group(a)
                    .iter()
                    .filter(|&&m| m != e)
                    .any(|&m| self.values.rows(m).iter().any(|x| x.key == r.key))
        })
    }

    /// Removes a record. Inquiries anchored to a removed account stand alone again (as in a
    /// batch run without that account). Returns `None` when the record is not in the graph.
    pub fn remove(&mut self, t: EntityType, id: &str) -> Option<Change> {
        let e = self.lookup(t, id)?;
        let mut dirty = HashSet::new();
        let mut touched = Vec::new();
        let mut statuses = HashMap::new();
        let anchor = self.anchor[e as usize];
        let mut affected = vec![anchor, e];
        affected.extend(&self.dependents[e as usize]);
        let before = self.dups.snapshot(self, &affected);
        let group = self.group(anchor);
        self.detach(&group, &mut dirty, &mut touched, &mut statuses);
        // `e` is alone in a fresh cluster now; drop it.
        let own = self.cluster_of[e as usize];
        self.free_slot(own);
        self.cluster_of[e as usize] = NONE;
        self.alive[e as usize] = false;
        self.ids.unindex(t, e);
        self.live_entities -= 1;
        self.scores[e as usize] = None;
        dirty.remove(&e);
        match t {
            EntityType::Account => {
                let deps = std::mem::take(&mut self.dependents[e as usize]);
                for &q in &deps {
                    self.anchor[q as usize] = q;
                    self.wait(q, id.to_owned());
                }
                self.attach(&deps, &mut touched);
            }
            EntityType::Inquiry => {
                if anchor == e {
                    self.unwait(e);
                } else {
                    self.dependents[anchor as usize].retain(|&x| x != e);
                    self.attach(&self.group(anchor), &mut touched);
                }
            }
        }
        self.settle_dups(before, &affected);
        // Pick any entity of the dirty region to report on; the removed one has no cluster.
        let report = group
            .iter()
            .copied()
            .find(|&x| x != e && self.alive[x as usize]);
        let mut change = self.settle(report.unwrap_or(NONE), dirty, touched, statuses, false);
        if report.is_none() {
            change.cluster_id.clear();
        }
        Some(change)
    }

    /// Sets or clears an entity's label and rescores its cluster (and the clusters of its
    /// duplicate partners, whose `duplicate_of_fraud` reason may change). Returns `None` when
    /// the entity is not in the graph.
    pub fn set_label(&mut self, t: EntityType, id: &str, label: Option<Label>) -> Option<Change> {
        let e = self.lookup(t, id)?;
        let a = self.anchor[e as usize];
        let was = self.labelled(a);
        self.label[e as usize] = label;
        let mut rescore: HashSet<u32> = HashSet::from([e]);
        if self.labelled(a) != was {
            rescore.extend(self.dups.partners(a));
        }
        Some(self.rescore_entities(e, rescore, false))
    }

    /// Applies the duplicate changes of a write: `before` holds the affected anchors'
    /// records and label states before it. The anchors whose scores change are left in
    /// `Dups::changed` for [`LiveGraph::settle`].
    fn settle_dups(&mut self, before: dups::Snapshot, affected: &[u32]) {
        let mut d = std::mem::take(&mut self.dups);
        d.apply(self, before, affected);
        self.dups = d;
    }

    /// Re-judges touched properties, re-clusters dirty clusters, applies links, rescores.
    /// `neutral`: the write added an inquiry to a known account without bringing a new anchor
    /// to any property, a fraud label or an identity fact, so no ring report or score can
    /// change through the graph (the duplicate step reports its own changes).
    fn settle(
        &mut self,
        e: u32,
        mut dirty: HashSet<u32>,
        mut touched: Vec<u64>,
        mut statuses: HashMap<u64, Status>,
        mut neutral: bool,
    ) -> Change {
        touched.sort_unstable();
        touched.dedup();
        let mut rescore: HashSet<u32> = std::mem::take(&mut self.dups.changed);
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
                if self.rules[p.kind as usize].link == LinkMode::Window {
                    // A new observation can change the window groups.
                    neutral = false;
                }
            }
            let p = &self.props[&k];
            if old == Status::Linking && new != Status::Linking {
                // It stopped linking: its anchors' cluster may fall apart.
                dirty.extend(p.posts.as_slice().iter().map(|post| post.entity));
            }
            if std::mem::discriminant(&old) != std::mem::discriminant(&new) {
                neutral = false;
                for post in p.posts.as_slice() {
                    rescore.insert(post.entity);
                }
            }
        }
        let reclustered = !dirty.is_empty();
        if reclustered {
            neutral = false;
            self.recluster(dirty, &mut rescore);
        }
        for k in linking {
            let (pairs, _) = self.links_of(&self.props[&k]);
            for (a, b) in pairs {
                if self.merge(a, b).1 {
                    neutral = false;
                }
            }
        }
        if e != NONE && !neutral {
            rescore.insert(e);
        }
        self.rescore_entities(e, rescore, reclustered)
    }

    /// Rescores the clusters of `entities` (inside the call up to the synchronous limit,
    /// else marked stale for the background pass) and reports the change for entity `e`.
    fn rescore_entities(&mut self, e: u32, entities: HashSet<u32>, reclustered: bool) -> Change {
        let mut slots: Vec<u32> = entities
            .into_iter()
            .filter(|&x| self.alive[x as usize])
            .map(|x| self.cluster_of[x as usize])
            .collect();
        slots.sort_unstable();
        slots.dedup();
        let mut changed = Vec::with_capacity(slots.len() + 1);
        let mut deferred = 0;
        for s in slots {
            if self.slots[s as usize].members.len() <= self.sync_limit {
                self.rescore(s);
            } else {
                self.mark_stale(s);
                deferred += 1;
            }
            changed.push(self.slot_id(s));
        }
        let own = if e != NONE && self.alive[e as usize] {
            self.cluster_of[e as usize]
        } else {
            NONE
        };
        if own != NONE {
            // Its membership changed at least, whether or not it was rescored.
            changed.push(self.slot_id(own));
        }
        changed.sort();
        changed.dedup();
        Change {
            cluster_id: if own == NONE {
                String::new()
            } else {
                self.slot_id(own)
            },
            changed_clusters: changed,
            reclustered,
            deferred,
        }
    }

    fn mark_stale(&mut self, s: u32) {
        let slot = &mut self.slots[s as usize];
        slot.stale = true;
        slot.version = slot.version.wrapping_add(1);
        self.stale.insert(s);
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
                    for post in p.posts.as_slice() {
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
            let a = self.anchor[m as usize];
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

    /// The batch input of one cluster's rescore: the members (all their rows), the
    /// duplicate partners of its anchors outside it (no rows, each in a cluster of its own,
    /// labelled fraud when their group is), local indexes in global entity order so ties
    /// between duplicate partners go to the same partner as in a batch run.
    /// `O(members × attributes)`.
    fn sub_graph(&self, slot: u32) -> SubGraph {
        let s = &self.slots[slot as usize];
        let in_cluster: HashSet<u32> = s.members.iter().copied().collect();
        let mut extras: Vec<u32> = Vec::new();
        let mut dup_pairs: Vec<(u32, u32, f64)> = Vec::new();
        for &m in &s.members {
            if self.anchor[m as usize] != m {
                continue;
            }
            for (other, p) in self.dups.pairs_of(m) {
                if !in_cluster.contains(&other) {
                    extras.push(other);
                }
                dup_pairs.push((m, other, p.match_probability));
            }
        }
        extras.sort_unstable();
        extras.dedup();
        let mut all: Vec<u32> = s
            .members
            .iter()
            .copied()
            .chain(extras.iter().copied())
            .collect();
        all.sort_unstable();
        let local: HashMap<u32, u32> = all
            .iter()
            .enumerate()
            .map(|(i, &m)| (m, i as u32))
            .collect();
        let mut ents = Entities::default();
        for &m in &all {
            let i = m as usize;
            let extra = !in_cluster.contains(&m);
            let anchor = if extra {
                None
            } else {
                local.get(&self.anchor[i]).copied()
            };
            let label = if extra && self.labelled(m) {
                Some(Label::Fraud)
            } else if extra {
                None
            } else {
                self.label[i]
            };
            ents.push(
                self.ids.get(m),
                self.types[i],
                anchor,
                self.created_at[i],
                label,
            );
        }
        let mut attrs = Attributes::default();
        let mut kind_map: HashMap<u16, u16> = HashMap::new();
        let mut row_of: HashMap<u64, u32> = HashMap::new();
        let mut keys: Vec<u64> = Vec::new();
        for &m in &all {
            if !in_cluster.contains(&m) {
                continue;
            }
            let l = local[&m];
            for r in self.values.rows(m) {
                let k = *kind_map
                    .entry(r.kind)
                    .or_insert_with(|| attrs.kind_id(&self.kinds[r.kind as usize]));
                row_of.entry(r.key).or_insert(attrs.len() as u32);
                attrs.push_keyed(l, k, r.key, self.values.value(m, r));
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
            let Some(first) = p.posts.as_slice().first() else {
                continue;
            };
            // Every posting of a property shows the same value (for a combination, the main
            // kind's), and a member posts under `k`, so a member's row holds that value.
            let shown = self.values.rows(first.entity)[first.row as usize].key;
            let Some(&row) = row_of.get(&shown) else {
                continue;
            };
            match p.status {
                Status::Linking => {
                    // A group's anchors are connected, so each group lies in one cluster;
                    // keep this cluster's.
                    let (_, groups) = self.links_of(p);
                    for g in groups.iter().filter(|g| g.len() >= 2) {
                        let mut anchors: Vec<u32> = g
                            .iter()
                            .filter(|a| in_cluster.contains(a))
                            .filter_map(|a| local.get(a).copied())
                            .collect();
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
                        .as_slice()
                        .iter()
                        .filter(|post| in_cluster.contains(&post.anchor))
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
        let member_local: Vec<u32> = all
            .iter()
            .enumerate()
            .filter(|(_, m)| in_cluster.contains(m))
            .map(|(i, _)| i as u32)
            .collect();
        let mut anchors: Vec<u32> = member_local
            .iter()
            .map(|&i| ents.anchor[i as usize])
            .collect();
        anchors.sort_unstable();
        anchors.dedup();
        let oldest = local.get(&s.oldest).copied().unwrap_or(0);
        let multi = usize::from(anchors.len() > 1);
        let mut cluster_of = vec![0u32; all.len()];
        // The slot's cluster is the one `Cluster` record even when it has one member (the
        // accessors answer for it either way); the others are singletons whose ids nothing
        // reads, hence hash 0.
        let clusters = vec![Cluster {
            id: self.slot_id(slot),
            oldest,
            members: member_local.clone(),
            anchors,
        }];
        let mut singles = Singles::default();
        for (i, &m) in all.iter().enumerate() {
            if !in_cluster.contains(&m) {
                cluster_of[i] = (clusters.len() + singles.entity.len()) as u32;
                singles.entity.push(i as u32);
                singles.hash.push(0);
            }
        }
        let out = LinkOutput {
            kinds: self.kinds.clone(),
            cluster_of,
            clusters,
            multi_clusters: multi,
            singles,
            shared,
            hubs,
            kind_stats: Vec::new(),
            timings_ms: Vec::new(),
        };
        let dups = dup_pairs
            .into_iter()
            .map(|(a, b, p)| (local[&a], local[&b], p))
            .collect();
        let scored = member_local.iter().map(|&i| (i, all[i as usize])).collect();
        SubGraph {
            scored,
            input: LinkInput {
                entities: ents,
                attributes: attrs,
                keyer: self.keyer.clone(),
            },
            out,
            dups,
        }
    }

    /// Recomputes the ring report of a cluster and the scores of its members with the batch
    /// functions over a sub-graph of just this cluster. `O(members × attributes)`.
    fn rescore(&mut self, slot: u32) {
        let sub = self.sub_graph(slot);
        let (ring, sc) = sub.compute(&self.config);
        self.store_scores(slot, &sub, ring, sc);
    }

    fn store_scores(&mut self, slot: u32, sub: &SubGraph, ring: Option<RingReport>, sc: Scores) {
        let local_anchor = &sub.input.entities.anchor;
        for &(l, m) in &sub.scored {
            self.scores[m as usize] = sc
                .get(local_anchor, l as usize)
                .filter(|_| self.anchor[m as usize] == m)
                .map(|s| Box::new(s.clone()));
        }
        let s = &mut self.slots[slot as usize];
        s.ring = ring.map(Box::new);
        s.stale = false;
        self.stale.remove(&slot);
    }

    /// The next stale cluster's rescore, built from the graph as it is now (take a read
    /// lock); `None` when nothing is stale. `O(cluster)`.
    pub fn prepare_rescore(&self) -> Option<RescoreJob> {
        let &slot = self.stale.iter().next()?;
        Some(RescoreJob {
            slot,
            version: self.slots[slot as usize].version,
            sub: self.sub_graph(slot),
            result: None,
        })
    }

    /// Applies a job run with [`RescoreJob::run`]. Returns `false` (and changes nothing)
    /// when the cluster changed since the job was prepared: it stays stale and a later job
    /// rescores it.
    pub fn apply_rescore(&mut self, job: RescoreJob) -> bool {
        let s = &self.slots[job.slot as usize];
        if s.version != job.version || !s.stale {
            return false;
        }
        let Some((ring, sc)) = job.result else {
            return false;
        };
        self.store_scores(job.slot, &job.sub, ring, sc);
        true
    }

    /// Rescores every stale cluster now. Returns how many.
    pub fn settle_stale(&mut self) -> usize {
        let mut n = 0;
        while let Some(&s) = self.stale.iter().next() {
            self.rescore(s);
            n += 1;
        }
        n
    }

    /// Whether a kind's shared values count as strong evidence.
    pub fn is_strong(&self, kind: &str) -> bool {
        self.config.rule(base_kind(kind)).strength >= STRONG
    }

    fn group(&self, anchor: u32) -> Vec<u32> {
        let mut g = vec![anchor];
        g.extend_from_slice(&self.dependents[anchor as usize]);
        g
    }

    fn unwait(&mut self, e: u32) {
        if let Some(acct) = self.account_ref.remove(&e)
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
            .and_then(|a| self.lookup(EntityType::Account, a))
    }

    /// The duplicate record of anchor `a`, as the batch builds it: its own values first,
    /// gaps filled from its inquiries in entity order.
    fn dedupe_record(&self, a: u32) -> crate::dedupe::DedupeRecord {
        let mut group = self.dependents[a as usize].clone();
        group.sort_unstable();
        group.insert(0, a);
        crate::dedupe::DedupeRecord::from_attributes(
            group.iter().flat_map(|&m| {
                self.values.rows(m).iter().map(move |r| {
                    (
                        self.kinds[r.kind as usize].as_str(),
                        self.values.value(m, r),
                    )
                })
            }),
            &self.config,
        )
    }

    /// The risk a record would get if it were added now, without keeping it or changing
    /// anything: the clusters the record could touch are copied into a scratch graph (with
    /// the real graph's property counts and hub decisions), the record is added there, and
    /// its duplicates are found through the real graph's blocks. So the result is what
    /// [`Self::upsert`] would give, and callers need only a read lock. A record whose id is
    /// already in the graph is scored under a temporary id. `O(size of those clusters)`.
    pub fn evaluate(&self, mut record: Normalized) -> Risk {
        let t = record.entity.entity_type;
        // The record's own id, unless that id is taken (scoring a change to a stored record):
        // then a probe id no normalised id can equal (ids never hold control characters).
        let mut probe = record.entity.id.clone();
        if self.lookup(t, &probe).is_some() {
            probe = format!("\u{0}evaluate:{probe}");
        }
        record.entity.id = probe.clone();
        let anchor = match t {
            EntityType::Inquiry => self.anchor_for(&record),
            EntityType::Account => None,
        };
        // Entities whose clusters the record can reach: its anchor's, the posters of every
        // key it could post under, inquiries waiting for it.
        let mut seeds: Vec<u32> = anchor.into_iter().collect();
        seeds.extend(self.waiting_for(&record));
        for k in self.would_post(&record, anchor) {
            if let Some(p) = self.props.get(&k) {
                seeds.extend(p.posts.as_slice().iter().map(|x| x.entity));
            }
        }
        let mut slots: Vec<u32> = seeds.iter().map(|&e| self.cluster_of[e as usize]).collect();
        slots.sort_unstable();
        slots.dedup();
        let mut scratch = self.scratch(&slots);
        // Duplicates through the real graph's blocks; the scratch graph has none of its own.
        let pairs = self.dups.probe(self, &record, anchor);
        let partners: Vec<u32> = pairs.iter().map(|p| p.0).collect();
        scratch.add_context(self, &partners);
        scratch.upsert(record);
        let Some(e) = scratch.lookup(t, &probe) else {
            return Risk {
                score: 0.0,
                reasons: Vec::new(),
                cluster_id: String::new(),
                cluster_entities: 1,
                cluster_accounts: 1,
                is_ring: false,
                ring_score: 0.0,
                duplicates: Vec::new(),
                pending: false,
            };
        };
        let a = scratch.anchor[e as usize];
        scratch.dups.set_pairs(a, pairs, &scratch.origin);
        let slot = scratch.cluster_of[e as usize];
        scratch.rescore(slot);
        scratch.risk_of(e)
    }

    /// The live inquiries waiting for `record`'s account to arrive (none for an inquiry).
    fn waiting_for(&self, record: &Normalized) -> Vec<u32> {
        if record.entity.entity_type != EntityType::Account {
            return Vec::new();
        }
        self.waiting
            .get(&record.entity.id)
            .map(|w| {
                w.iter()
                    .copied()
                    .filter(|&q| self.alive[q as usize])
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every key a record would post under (plain and combination keys with its group: its
    /// anchor's, or for a new account the inquiries waiting for it, whose own keys it takes
    /// over), for kinds the graph knows (a kind it does not know has no postings yet).
    fn would_post(&self, record: &Normalized, anchor: Option<u32>) -> Vec<u64> {
        let mut mine: Vec<(u16, u64)> = Vec::new();
        for a in &record.attributes {
            if let Some(&k) = self.kind_ids.get(&*a.kind) {
                mine.push((k, self.keyer.key(&a.kind, &a.value)));
            }
        }
        let group = match anchor {
            Some(a) => self.group(a),
            None => self.waiting_for(record),
        };
        let mut group_rows: Vec<(u16, u64)> = Vec::new();
        for m in group {
            group_rows.extend(self.values.rows(m).iter().map(|r| (r.kind, r.key)));
        }
        let all: Vec<(u16, u64)> = mine.iter().chain(&group_rows).copied().collect();
        let mut out: Vec<u64> = mine.iter().map(|x| x.1).collect();
        let combos = |main: &[(u16, u64)], req: &[(u16, u64)], out: &mut Vec<u64>| {
            for &(k, key) in main {
                for &(rk, combo) in &self.combos[k as usize] {
                    for &(qk, qkey) in req {
                        if qk == rk {
                            out.push(self.keyer.combine(&self.kinds[combo as usize], key, qkey));
                        }
                    }
                }
            }
        };
        combos(&mine, &all, &mut out);
        combos(&group_rows, &mine, &mut out);
        if anchor.is_none() {
            // Waiting inquiries join one group only when their account arrives: their
            // combinations with each other are new too, and their own keys lose anchors (two
            // inquiries become one group), which can turn a hub back into a link to every
            // other poster.
            combos(&group_rows, &group_rows, &mut out);
            out.extend(group_rows.iter().map(|x| x.1));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// A scratch graph holding the given clusters: same kinds, caps and configuration, the
    /// members with their rows, postings, clusters, ring reports and scores, and for every
    /// property the real graph's anchor count and placeholder flag (so hub decisions and
    /// counts are the real ones even where postings lie outside the copy). Rescores inside it
    /// are never deferred.
    fn scratch(&self, slots: &[u32]) -> LiveGraph {
        let mut g = LiveGraph::new(self.keyer.clone(), self.config.clone());
        g.kinds = self.kinds.clone();
        g.kind_ids = self.kind_ids.clone();
        g.rules = self.rules.clone();
        g.caps = self.caps.clone();
        g.combos = self.combos.clone();
        g.resolved_caps = self.resolved_caps.clone();
        g.sync_limit = usize::MAX;
        g.dups = Dups::frozen(&self.config.dedupe);
        let mut members: Vec<u32> = slots
            .iter()
            .flat_map(|&s| self.slots[s as usize].members.iter().copied())
            .collect();
        members.sort_unstable();
        let local: HashMap<u32, u32> = members
            .iter()
            .enumerate()
            .map(|(i, &m)| (m, i as u32))
            .collect();
        for &m in &members {
            let e = g.copy_entity(self, m, true);
            debug_assert_eq!(local[&m], e);
            g.origin.insert(m, e);
        }
        for &m in &members {
            let l = local[&m];
            let a = self.anchor[m as usize];
            g.anchor[l as usize] = local.get(&a).copied().unwrap_or(l);
            if a != m && local.contains_key(&a) {
                g.dependents[local[&a] as usize].push(l);
            }
            if let Some(acct) = self.account_ref.get(&m) {
                g.wait(l, acct.clone());
            }
        }
        for l in 0..members.len() as u32 {
            if g.anchor[l as usize] == l {
                for (key, kind, post) in g.group_posts(l) {
                    g.insert_post(key, kind, post);
                }
            }
        }
        let keys: Vec<u64> = g.props.keys().copied().collect();
        for k in keys {
            if let Some(real) = self.props.get(&k) {
                let p = g.props.get_mut(&k).expect("key just listed");
                p.anchors = real.anchors;
                p.placeholder = real.placeholder;
            }
            let status = g.judge(k);
            if let Some(p) = g.props.get_mut(&k) {
                p.status = status;
            }
            if matches!(status, Status::Hub(_)) {
                g.hubs.insert(k);
            }
        }
        for &s in slots {
            let real = &self.slots[s as usize];
            let ms: Vec<u32> = real.members.iter().map(|m| local[m]).collect();
            let ns = g.new_slot(ms);
            g.slots[ns as usize].ring = real.ring.clone();
        }
        for &m in &members {
            g.scores[local[&m] as usize] = self.scores[m as usize].clone();
        }
        // The members' duplicate pairs, partners copied as context.
        let mut partners = Vec::new();
        for &m in &members {
            partners.extend(self.dups.pairs_of(m).map(|(o, _)| o));
        }
        g.add_context(self, &partners);
        for &m in &members {
            let pairs: Vec<(u32, crate::dedupe::PairScore)> =
                self.dups.pairs_of(m).map(|(o, p)| (o, p.clone())).collect();
            g.dups.set_pairs(local[&m], pairs, &g.origin);
        }
        g
    }

    /// Copies the duplicate partners among `partners` (real graph indexes) that this scratch
    /// graph lacks, without rows, each in a cluster of its own, labelled fraud when their
    /// group is: what scores read of a partner.
    fn add_context(&mut self, from: &LiveGraph, partners: &[u32]) {
        for &p in partners {
            if self.origin.contains_key(&p) {
                continue;
            }
            let e = self.copy_entity(from, p, false);
            self.label[e as usize] = from.labelled(p).then_some(Label::Fraud);
            self.new_slot(vec![e]);
            self.origin.insert(p, e);
        }
    }

    /// Copies entity `m` of `from` (id, type, time, label, and its rows when `rows`) as a new
    /// entity standing alone; returns its index.
    fn copy_entity(&mut self, from: &LiveGraph, m: u32, rows: bool) -> u32 {
        let i = m as usize;
        let e = self.ids.push(from.ids.get(m));
        self.types.push(from.types[i]);
        self.anchor.push(e);
        self.created_at.push(from.created_at[i]);
        self.label.push(from.label[i]);
        self.alive.push(true);
        self.values.push_empty();
        if rows {
            self.values.set(
                e,
                from.values
                    .rows(m)
                    .iter()
                    .map(|r| (r.kind, r.key, from.values.value(m, r))),
            );
        }
        self.keys_of.push(Vec::new());
        self.dependents.push(Vec::new());
        self.cluster_of.push(NONE);
        self.scores.push(None);
        self.ids.index(from.types[i], e);
        self.live_entities += 1;
        e
    }
}

#[cfg(test)]
mod tests;
