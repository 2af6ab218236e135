//! Duplicate identities in the live graph: the incremental blocking index, the pairs at or
//! above the threshold, and how a write changes them.
//!
//! Invariant (checked by `tests::live_duplicates_equal_batch…`): the pairs are exactly the
//! batch's under the same model — two anchors are a pair when they share a block key under
//! some rule whose block holds at most the cap, and their match probability is at or above
//! the threshold. A write that changes anchors' duplicate records keeps it in three steps:
//! 1. the old records leave the index with their pairs;
//! 2. blocks that fell back to the cap get their pairs back (their members are compared);
//! 3. the new records enter the index: a block growing past the cap loses the pairs no other
//!    rule supports, and each new record is compared with its candidates.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::dedupe::{DedupeConfig, DedupeRecord, LiveBlocks, Model, PairScore, PairScorer};
use crate::record::{EntityType, Normalized};

use super::LiveGraph;

/// Affected anchors before a write: `(entity, duplicate record if it is an anchor, labelled)`.
pub(super) type Snapshot = Vec<(u32, Option<DedupeRecord>, bool)>;

fn pack(a: u32, b: u32) -> u64 {
    u64::from(a.min(b)) << 32 | u64::from(a.max(b))
}

#[derive(Debug, Clone, Default)]
pub(super) struct Dups {
    model: Option<Arc<Model>>,
    threshold: f64,
    blocks: LiveBlocks,
    /// Pairs at or above the threshold, by `pack(a, b)`.
    pairs: HashMap<u64, PairScore>,
    /// Partners of each anchor with pairs.
    adj: HashMap<u32, Vec<u32>>,
    /// Anchors whose pairs (or whose partners' labels) changed since the last `take`.
    pub changed: HashSet<u32>,
}

impl Dups {
    pub fn new(cfg: &DedupeConfig, model: Option<Arc<Model>>) -> Self {
        Dups {
            model,
            threshold: cfg.threshold_clamped(),
            blocks: LiveBlocks::new(cfg),
            ..Dups::default()
        }
    }

    /// Pairs only, never updated (a scratch graph's: its writes' duplicates come from the real
    /// graph).
    pub fn frozen(cfg: &DedupeConfig) -> Self {
        Dups::new(cfg, None)
    }

    /// Takes a batch run's model, pairs and index.
    pub fn load(
        &mut self,
        cfg: &DedupeConfig,
        model: Model,
        pairs: Vec<PairScore>,
        blocks: LiveBlocks,
    ) {
        *self = Dups::new(cfg, Some(Arc::new(model)));
        self.blocks = blocks;
        for p in pairs {
            self.add(p.a, p.b, p);
        }
        // The build scored every cluster with these pairs: nothing is left to rescore. (Left
        // marked, the first write after a build rescored every cluster holding a pair.)
        self.changed.clear();
    }

    pub fn model(&self) -> Option<&Model> {
        self.model.as_deref()
    }

    fn add(&mut self, a: u32, b: u32, p: PairScore) {
        if self.pairs.insert(pack(a, b), p).is_none() {
            self.adj.entry(a).or_default().push(b);
            self.adj.entry(b).or_default().push(a);
        }
        self.changed.insert(a);
        self.changed.insert(b);
    }

    fn drop_pair(&mut self, a: u32, b: u32) {
        if self.pairs.remove(&pack(a, b)).is_some() {
            for (x, y) in [(a, b), (b, a)] {
                if let Some(v) = self.adj.get_mut(&x) {
                    v.retain(|&z| z != y);
                    if v.is_empty() {
                        self.adj.remove(&x);
                    }
                }
            }
        }
        self.changed.insert(a);
        self.changed.insert(b);
    }

    fn drop_all(&mut self, a: u32) {
        for b in self.partners(a) {
            self.drop_pair(a, b);
        }
    }

    pub fn partners(&self, a: u32) -> Vec<u32> {
        self.adj.get(&a).cloned().unwrap_or_default()
    }

    /// `(partner, pair)` of anchor `a`.
    pub fn pairs_of(&self, a: u32) -> impl Iterator<Item = (u32, &PairScore)> + '_ {
        self.adj
            .get(&a)
            .into_iter()
            .flatten()
            .map(move |&b| (b, &self.pairs[&pack(a, b)]))
    }

    /// `(a, b, probability)` of every pair, `a < b`.
    pub fn all_pairs(&self) -> impl Iterator<Item = (u32, u32, f64)> + '_ {
        self.pairs
            .iter()
            .map(|(&k, p)| ((k >> 32) as u32, k as u32, p.match_probability))
    }

    pub fn pair_count(&self) -> usize {
        self.pairs.len()
    }

    /// Replaces the pairs of `a` with `pairs` (partners as entity indexes of the graph
    /// `origin` maps from).
    pub fn set_pairs(&mut self, a: u32, pairs: Vec<(u32, PairScore)>, origin: &HashMap<u32, u32>) {
        self.drop_all(a);
        for (b, p) in pairs {
            if let Some(&b) = origin.get(&b) {
                self.add(a, b, p);
            }
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.blocks.heap_bytes()
            + self.pairs.capacity() * (8 + std::mem::size_of::<PairScore>() + 7 * 40)
            + self.adj.capacity() * 40
    }

    /// The records and label states of the anchors among `xs`, before a write.
    pub fn snapshot(&self, g: &LiveGraph, xs: &[u32]) -> Snapshot {
        if self.model.is_none() {
            return Vec::new();
        }
        xs.iter()
            .map(|&x| {
                let (r, l) = state(g, x);
                (x, r, l)
            })
            .collect()
    }

    /// Brings the pairs up to date after a write that may have changed the anchors in
    /// `before` and `affected` (see the module docs).
    pub fn apply(&mut self, g: &LiveGraph, before: Snapshot, affected: &[u32]) {
        let Some(model) = self.model.clone() else {
            return;
        };
        let scorer = PairScorer::new(&model);
        let mut xs: Vec<u32> = before
            .iter()
            .map(|b| b.0)
            .chain(affected.iter().copied())
            .collect();
        xs.sort_unstable();
        xs.dedup();
        let mut old: HashMap<u32, (Option<DedupeRecord>, bool)> =
            before.into_iter().map(|(x, r, l)| (x, (r, l))).collect();
        let mut changed = Vec::new();
        for x in xs {
            let (o, ol) = old.remove(&x).unwrap_or((None, false));
            let (n, nl) = state(g, x);
            if ol != nl {
                // Partners' `duplicate_of_fraud` reasons follow this anchor's label.
                let p = self.partners(x);
                self.changed.extend(p);
                self.changed.insert(x);
            }
            if o != n {
                changed.push((x, o, n));
            }
        }
        if changed.is_empty() {
            return;
        }
        let cap = self.blocks.cap();
        // 1. Old records out, with their pairs.
        let mut shrunk: HashMap<(usize, u64), usize> = HashMap::new();
        for (x, o, _) in &changed {
            self.drop_all(*x);
            self.changed.insert(*x);
            if let Some(o) = o {
                let keys = self.blocks.keys(o);
                for (r, k) in keys.iter().enumerate() {
                    if let Some(k) = *k {
                        let size = self.blocks.block_size(r, k);
                        shrunk.entry((r, k)).or_insert(size);
                    }
                }
                self.blocks.remove(*x, &keys);
            }
        }
        // 2. Blocks back at the cap: their pairs are candidates again.
        let mut revived: Vec<(usize, u64)> = shrunk
            .into_iter()
            .filter(|&((r, k), was)| was > cap && self.blocks.block_size(r, k) <= cap)
            .map(|(b, _)| b)
            .collect();
        revived.sort_unstable();
        for (r, k) in revived {
            let ms = self.blocks.members(r, k);
            let recs: Vec<DedupeRecord> = ms.iter().map(|&m| g.dedupe_record(m)).collect();
            for i in 0..ms.len() {
                for j in i + 1..ms.len() {
                    if self.pairs.contains_key(&pack(ms[i], ms[j])) {
                        continue;
                    }
                    let p = scorer.score(ms[i], &recs[i], ms[j], &recs[j]);
                    if p.match_probability >= self.threshold {
                        self.add(ms[i], ms[j], p);
                    }
                }
            }
        }
        // 3. New records in.
        for (x, _, n) in &changed {
            let Some(n) = n else { continue };
            let keys = self.blocks.keys(n);
            self.blocks.insert(*x, &keys);
            for (r, k) in keys.iter().enumerate() {
                if let Some(k) = *k
                    && self.blocks.block_size(r, k) == cap + 1
                {
                    self.prune(g, r, k);
                }
            }
            for c in self.blocks.candidates(*x, &keys) {
                let rc = g.dedupe_record(c);
                let p = if *x < c {
                    scorer.score(*x, n, c, &rc)
                } else {
                    scorer.score(c, &rc, *x, n)
                };
                if p.match_probability >= self.threshold {
                    self.add(*x, c, p);
                }
            }
        }
    }

    /// Drops the pairs inside block `(rule, key)`, which has just grown past the cap, that
    /// no other rule makes candidates.
    fn prune(&mut self, g: &LiveGraph, rule: usize, key: u64) {
        let ms = self.blocks.members(rule, key);
        let mut keys: HashMap<u32, Vec<Option<u64>>> = HashMap::new();
        let mut keys_of = |blocks: &LiveBlocks, m: u32| {
            keys.entry(m)
                .or_insert_with(|| blocks.keys(&g.dedupe_record(m)))
                .clone()
        };
        for &m in &ms {
            for p in self.partners(m) {
                if ms.binary_search(&p).is_err() {
                    continue;
                }
                let (km, kp) = (keys_of(&self.blocks, m), keys_of(&self.blocks, p));
                if !self.blocks.is_candidate(&km, &kp) {
                    self.drop_pair(m, p);
                }
            }
        }
    }

    /// The pairs a record would get if it were added now (an unsaved record, for
    /// [`LiveGraph::evaluate`]): `(partner, pair)` at or above the threshold. The record joins
    /// `anchor`'s group (an inquiry of a known account) or stands for itself, adopting the
    /// inquiries waiting for it (an account). Read-only.
    pub fn probe(
        &self,
        g: &LiveGraph,
        record: &Normalized,
        anchor: Option<u32>,
    ) -> Vec<(u32, PairScore)> {
        let Some(model) = self.model.as_deref() else {
            return Vec::new();
        };
        let own: Vec<(&str, &str)> = record
            .attributes
            .iter()
            .map(|a| (&*a.kind, a.value.as_str()))
            .collect();
        let row_pairs = |m: u32| -> Vec<(&str, &str)> {
            g.values
                .rows(m)
                .iter()
                .map(|r| (g.kinds[r.kind as usize].as_str(), g.values.value(m, r)))
                .collect()
        };
        let mut exclude: Vec<u32> = Vec::new();
        let mut attrs: Vec<(&str, &str)> = Vec::new();
        match anchor {
            Some(a) => {
                exclude.push(a);
                let mut deps = g.dependents[a as usize].clone();
                deps.sort_unstable();
                attrs.extend(row_pairs(a));
                for d in deps {
                    attrs.extend(row_pairs(d));
                }
                attrs.extend(own);
            }
            None => {
                attrs.extend(own);
                if record.entity.entity_type == EntityType::Account
                    && let Some(w) = g.waiting.get(&record.entity.id)
                {
                    let mut w: Vec<u32> =
                        w.iter().copied().filter(|&q| g.alive[q as usize]).collect();
                    w.sort_unstable();
                    for q in w {
                        exclude.push(q);
                        attrs.extend(row_pairs(q));
                    }
                }
            }
        }
        let rec = DedupeRecord::from_attributes(attrs, &g.config);
        let me = anchor.unwrap_or(g.alive.len() as u32);
        let keys = self.blocks.keys(&rec);
        let mut cands = Vec::new();
        for (r, k) in keys.iter().enumerate() {
            let Some(k) = *k else { continue };
            let ms: Vec<u32> = self
                .blocks
                .members(r, k)
                .into_iter()
                .filter(|m| !exclude.contains(m))
                .collect();
            if ms.len() < self.blocks.cap() {
                cands.extend(ms);
            }
        }
        cands.sort_unstable();
        cands.dedup();
        let scorer = PairScorer::new(model);
        cands
            .into_iter()
            .filter_map(|c| {
                let rc = g.dedupe_record(c);
                let p = if me < c {
                    scorer.score(me, &rec, c, &rc)
                } else {
                    scorer.score(c, &rc, me, &rec)
                };
                (p.match_probability >= self.threshold).then_some((c, p))
            })
            .collect()
    }
}

/// An entity's duplicate record (when it is a live anchor) and whether its group is
/// labelled fraud.
fn state(g: &LiveGraph, x: u32) -> (Option<DedupeRecord>, bool) {
    let i = x as usize;
    if i < g.alive.len() && g.alive[i] && g.anchor[i] == x {
        (Some(g.dedupe_record(x)), g.labelled(x))
    } else {
        (None, false)
    }
}
