//! The batch linker: postings per property, hub handling, rule-qualified links, parallel
//! union-find, stable cluster ids.
//!
//! # Algorithm
//! 1. Every attribute row becomes `(key, anchor, row)` in its kind's list; kinds with a
//!    `with` rule also emit one combination row per value of the required kinds, keyed
//!    `combine(key, other key)`.
//!    Kinds are gathered in batches of about a quarter of the attribute rows, at most
//!    [`BATCH_ROWS`] ([`batch_budget`]), one pass over the attribute rows per batch.
//! 2. Each kind's list is sorted by key: a parallel counting pass scatters it into buckets by
//!    the key's top bits, which are sorted one by one ([`sort_into`]); a run of equal keys is
//!    one property node with its postings. Sorting instead of hashing keeps memory flat and
//!    the result independent of input order.
//! 3. A property shared by more distinct anchors than its kind's cap, or whose value is a
//!    placeholder, is a hub: reported, never linked. Placeholders are decided by key, not by
//!    value: the keys of every listed placeholder value of the kind, and of the rows whose
//!    value is a typed filler ([`Attributes`](crate::Attributes) notes them as they are
//!    pushed), so linking needs no values at all.
//! 4. Otherwise its anchors are united in a lock-free union-find, all properties in parallel:
//!    all of them (`alone`), or only observations within the time window of each other
//!    (`window`, sorted by time, consecutive pairs), or never (`never`, and the raw side of a
//!    `with` rule).
//! 5. A cluster's id is derived from its oldest member ([`Entities::age_order`]), so it
//!    survives re-runs, new members and input reordering.
//!
//! Time is `O(R log R)` for `R` attribute rows (the sorts) plus `O(R α(R))` for the unions;
//! memory is 16 bytes per row of a batch on top of the input, and one kind's rows again while
//! they are sorted (a `window` kind's times are looked up through the row's entity when its
//! properties are linked, not carried in every row).

use foldhash::{HashMap, HashSet};
use std::time::Instant;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::config::{Cap, KindRule, LinkConfig, LinkMode};
use crate::sort::{Hashed, filled, sort_into, split_lengths};
use crate::table::{Attributes, Entities, LinkInput};
use crate::uf::ConcurrentUnionFind;

/// Why a property was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubReason {
    /// The value is on a placeholder list.
    Placeholder,
    /// More distinct accounts share it than the kind's cap.
    OverCap,
}

impl HubReason {
    /// `placeholder` or `over_cap`.
    pub fn as_str(self) -> &'static str {
        match self {
            HubReason::Placeholder => "placeholder",
            HubReason::OverCap => "over_cap",
        }
    }
}

/// A property that did not link because it is a hub.
#[derive(Debug, Clone)]
pub struct Hub {
    /// Kind index into [`LinkOutput::kinds`].
    pub kind: u16,
    /// Property key.
    pub key: u64,
    /// An attribute row holding the value (for the masked display).
    pub row: u32,
    /// Distinct anchors sharing it.
    pub entity_count: u32,
    /// Why it was held back.
    pub reason: HubReason,
    /// The anchors sharing it, ascending (`entity_count` of them).
    pub anchors: Vec<u32>,
}

/// A property that linked two or more anchors.
#[derive(Debug, Clone)]
pub struct SharedProperty {
    /// Kind index into [`LinkOutput::kinds`].
    pub kind: u16,
    /// Property key.
    pub key: u64,
    /// An attribute row holding the value (for the masked display).
    pub row: u32,
    /// The anchors it linked, ascending.
    pub anchors: Vec<u32>,
}

/// The per-kind facts of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KindStats {
    /// Kind name.
    pub kind: String,
    /// How it links.
    pub link: String,
    /// The cap in force (chosen from data when the rule says `auto`).
    pub cap: u32,
    /// Whether the cap was chosen from the data.
    pub cap_auto: bool,
    /// Attribute rows of this kind.
    pub rows: u64,
    /// Distinct values shared by two or more anchors.
    pub shared_values: u64,
    /// Shared values that linked.
    pub linking_values: u64,
    /// Hubs held back.
    pub hubs: u64,
}

/// A cluster: a connected component of rule-qualified links.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Stable id, `cl_` + 16 hex digits derived from the oldest member.
    pub id: String,
    /// Oldest member (entity index).
    pub oldest: u32,
    /// Members (entity indexes, ascending).
    pub members: Vec<u32>,
    /// Distinct anchors among the members (ascending).
    pub anchors: Vec<u32>,
}

/// Clusters of one entity: most clusters at scale, kept as 12 bytes each rather than as
/// [`Cluster`] records (about 130 bytes and three allocations each, gigabytes at 10M
/// accounts).
#[derive(Debug, Clone, Default)]
pub struct Singles {
    /// The entity of each (ascending).
    pub entity: Vec<u32>,
    /// The hash each one's id is made of (the id is `cl_` and it in hexadecimal).
    pub hash: Vec<u64>,
}

/// The result of linking.
#[derive(Debug, Clone)]
pub struct LinkOutput {
    /// Kind names, including combination kinds such as `address+name_last`.
    pub kinds: Vec<String>,
    /// Cluster index of each entity: below `clusters.len()` one of `clusters`, else the
    /// singleton `singles.entity[i - clusters.len()]` (see [`LinkOutput::members`]).
    pub cluster_of: Vec<u32>,
    /// Clusters of two or more members: those with two or more anchors first, then those of
    /// one anchor and its inquiries, each part sorted by id. Clusters of one entity follow
    /// them, in entity order, in `singles`.
    pub clusters: Vec<Cluster>,
    /// Number of leading entries of `clusters` that have two or more anchors.
    pub multi_clusters: usize,
    /// Clusters of one entity, numbered after `clusters`.
    pub singles: Singles,
    /// Properties that linked.
    pub shared: Vec<SharedProperty>,
    /// Properties held back as hubs.
    pub hubs: Vec<Hub>,
    /// Per-kind statistics.
    pub kind_stats: Vec<KindStats>,
    /// Wall time of each step, for the run summary.
    pub timings_ms: Vec<(String, u64)>,
}

impl LinkOutput {
    /// Clusters in all, singletons included.
    pub fn cluster_count(&self) -> usize {
        self.clusters.len() + self.singles.entity.len()
    }

    /// The index in `singles` of cluster `ci`, if it is a singleton.
    fn single(&self, ci: u32) -> Option<usize> {
        (ci as usize).checked_sub(self.clusters.len())
    }

    /// The members of cluster `ci` (entity indexes, ascending).
    pub fn members(&self, ci: u32) -> &[u32] {
        match self.single(ci) {
            None => &self.clusters[ci as usize].members,
            Some(i) => std::slice::from_ref(&self.singles.entity[i]),
        }
    }

    /// The oldest member of cluster `ci`.
    pub fn oldest(&self, ci: u32) -> u32 {
        match self.single(ci) {
            None => self.clusters[ci as usize].oldest,
            Some(i) => self.singles.entity[i],
        }
    }

    /// The stable id of cluster `ci`.
    pub fn cluster_id(&self, ci: u32) -> std::borrow::Cow<'_, str> {
        match self.single(ci) {
            None => self.clusters[ci as usize].id.as_str().into(),
            Some(i) => id_of_hash(self.singles.hash[i]).into(),
        }
    }
}

/// Stable id of a cluster whose oldest member is `entity`.
pub fn cluster_id(entities: &Entities, oldest: u32) -> String {
    id_of_hash(cluster_hash(entities, oldest))
}

/// The hash a cluster's id is made of: of the oldest member's type, `:` and id.
fn cluster_hash(entities: &Entities, oldest: u32) -> u64 {
    let i = oldest as usize;
    let (ty, id) = (
        entities.types[i].as_str().as_bytes(),
        entities.ids[i].as_bytes(),
    );
    let len = ty.len() + 1 + id.len();
    // On the stack for any usual id: this runs for every singleton.
    let mut stack = [0u8; 96];
    let mut heap = Vec::new();
    let buf: &mut [u8] = match stack.get_mut(..len) {
        Some(b) => b,
        None => {
            heap.resize(len, 0);
            &mut heap
        }
    };
    buf[..ty.len()].copy_from_slice(ty);
    buf[ty.len()] = b':';
    buf[ty.len() + 1..].copy_from_slice(id);
    xxh3_64(buf)
}

/// `cl_` and the hash in 16 hexadecimal digits: ids sort as their hashes do.
fn id_of_hash(hash: u64) -> String {
    IdText::of(hash).as_ref().to_owned()
}

/// The inverse of the id's formatting: the hash of a cluster id, if `id` is one.
pub(crate) fn hash_of_id(id: &str) -> Option<u64> {
    let hex = id.strip_prefix("cl_")?;
    let digits = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (hex.len() == 16 && digits)
        .then(|| u64::from_str_radix(hex, 16).ok())
        .flatten()
}

/// A cluster id's text on the stack, for writers of millions of ids (no `String` each).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdText([u8; 19]);

impl IdText {
    pub(crate) fn of(hash: u64) -> IdText {
        let mut text = *b"cl_0000000000000000";
        for (i, d) in text[3..].iter_mut().enumerate() {
            *d = b"0123456789abcdef"[(hash >> (60 - 4 * i)) as usize & 0xf];
        }
        IdText(text)
    }

    /// The id's ASCII bytes.
    pub(crate) fn bytes(self) -> [u8; 19] {
        self.0
    }
}

impl AsRef<str> for IdText {
    fn as_ref(&self) -> &str {
        std::str::from_utf8(&self.0).expect("an id is ASCII")
    }
}

/// One posting: 16 bytes, sorted by `(key, anchor, row)`. `row` is the attribute row (for a
/// combination, the row of its base kind), through which the value, the entity and its time
/// are found when needed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    key: u64,
    anchor: u32,
    row: u32,
}

impl Hashed for Row {
    fn hash(&self) -> u64 {
        self.key
    }
}

/// The placeholder keys of each kind of a run (combination kinds included): the keys, under
/// the kind of the rows, of every listed placeholder value of the base kind (generic, built
/// in, configured) and of the rows whose value is a typed filler. Asking it about a
/// property's base key gives what [`LinkConfig::is_placeholder`] gives about its value.
fn placeholder_keys(
    attrs: &Attributes,
    kinds: &[String],
    row_kind: &[u16],
    keyer: &crate::keys::Keyer,
    config: &LinkConfig,
) -> Vec<HashSet<u64>> {
    kinds
        .iter()
        .zip(row_kind)
        .map(|(name, &rk)| {
            let base = base_kind(name);
            let row_kind_name = &attrs.kinds[rk as usize];
            let mut keys: HashSet<u64> = config
                .placeholders(base)
                .iter()
                .map(|v| keyer.key(row_kind_name, v))
                .collect();
            // Noted only for rows of ID and phone kinds, the kinds that can hold them.
            keys.extend(attrs.filler_keys(rk));
            keys
        })
        .collect()
}

/// Links `input` under `config`.
pub fn link(input: &LinkInput, config: &LinkConfig) -> LinkOutput {
    link_in_batches(input, config, batch_budget(input.attributes.len()))
}

/// [`link`], gathering about `batch_rows` rows at a time.
fn link_in_batches(input: &LinkInput, config: &LinkConfig, batch_rows: usize) -> LinkOutput {
    let mut timings = Vec::new();
    let mut t = Instant::now();
    let ents = &input.entities;
    let attrs = &input.attributes;

    // Kinds: the input's, then one combination kind per (with-kind, required kind).
    let mut kinds: Vec<String> = attrs.kinds.clone();
    let mut rules: Vec<_> = kinds.iter().map(|k| config.rule(k)).collect();
    let mut combos: Vec<(u16, u16, u16)> = Vec::new(); // (kind, required kind, combo kind)
    for k in 0..attrs.kinds.len() {
        if rules[k].link == LinkMode::With {
            for w in rules[k].with.clone() {
                if let Some(wi) = attrs.kinds.iter().position(|x| *x == w) {
                    let name = format!("{}+{}", attrs.kinds[k], w);
                    let mut rule = rules[k].clone();
                    rule.link = LinkMode::Alone;
                    kinds.push(name);
                    rules.push(rule);
                    combos.push((k as u16, wi as u16, (kinds.len() - 1) as u16));
                }
            }
        }
    }

    // The kind of each kind's attribute rows: its own, or a combination's base kind.
    let mut row_kind: Vec<u16> = (0..attrs.kinds.len() as u16).collect();
    row_kind.extend(combos.iter().map(|c| c.0));
    let placeholders = placeholder_keys(attrs, &kinds, &row_kind, &input.keyer, config);

    // 1–4, a batch of kinds at a time: one pass over the attribute rows gathers the rows of
    // every kind of the batch, and the batch is held to about `batch_rows` rows (at 10M
    // accounts all kinds' rows together were 3–4 GB; one kind at a time scanned every row
    // once per kind).
    // 1. Rows of a kind, `(key, anchor, row)` in row order. Attribute rows are cut into
    // chunks counted per kind once; a batch's rows are then gathered by all chunks in
    // parallel, each into its own slice of its kind's part of the arena.
    let n = attrs.len();
    let chunk = n.div_ceil(rayon::current_num_threads() * 4).max(1);
    let counts: Vec<Vec<usize>> = attrs
        .kind
        .par_chunks(chunk)
        .map(|kinds| {
            let mut c = vec![0usize; attrs.kinds.len()];
            for &k in kinds {
                c[k as usize] += 1;
            }
            c
        })
        .collect();
    let total = |k: u16| -> usize { counts.iter().map(|c| c[k as usize]).sum() };
    // The attribute kinds whose rows kind `k` is made of (none for a kind that never links on
    // its own: it is only needed for the combinations).
    let sources = |k: usize| -> Vec<u16> {
        match combos.iter().find(|c| usize::from(c.2) == k) {
            Some(&(main, required, _)) => vec![main, required],
            None if rules[k].link == LinkMode::Never => Vec::new(),
            None => vec![k as u16],
        }
    };
    let batches = plan_batches(
        (0..kinds.len()).map(|k| {
            let src = sources(k);
            // A combination's own rows are about as many as its base kind's.
            let own = if src.len() > 1 { total(src[0]) } else { 0 };
            (src, own)
        }),
        total,
        batch_rows,
    );
    // Every batch's lists are gathered into one arena, sized for the largest batch and
    // allocated once: fresh memory is faulted in (and zeroed by the kernel, slowly on a VM)
    // page by page, so lists allocated per batch and freed after it cost their size in page
    // faults every batch.
    let gathered = |batch: &[u16]| -> usize { batch.iter().map(|&k| total(k)).sum() };
    let mut arena = filled(batches.iter().map(|(b, _)| gathered(b)).max().unwrap_or(0));
    // Gathers the lists of `batch`'s attribute kinds into the front of `arena`, one after
    // another in the order of `batch`.
    let gather = |batch: &[u16], arena: &mut [Row]| {
        let mut slot_of = vec![usize::MAX; attrs.kinds.len()];
        for (i, &k) in batch.iter().enumerate() {
            slot_of[k as usize] = i;
        }
        // Each chunk's slice of each kind's list.
        let mut slices: Vec<Vec<&mut [Row]>> = counts
            .iter()
            .map(|_| Vec::with_capacity(batch.len()))
            .collect();
        for (list, &k) in split_lengths(arena, batch.iter().map(|&k| total(k)))
            .into_iter()
            .zip(batch)
        {
            let parts = split_lengths(list, counts.iter().map(|c| c[k as usize]));
            for (this, out) in parts.into_iter().zip(&mut slices) {
                out.push(this);
            }
        }
        slices.into_par_iter().enumerate().for_each(|(c, mut out)| {
            let (start, end) = (c * chunk, ((c + 1) * chunk).min(n));
            let mut at = vec![0usize; out.len()];
            let rows = attrs.kind[start..end]
                .iter()
                .zip(&attrs.key[start..end])
                .zip(&attrs.entity[start..end])
                .zip(start as u32..);
            for (((&kind, &key), &e), row) in rows {
                let s = slot_of[kind as usize];
                if s != usize::MAX {
                    out[s][at[s]] = Row {
                        key,
                        anchor: ents.anchor[e as usize],
                        row,
                    };
                    at[s] += 1;
                }
            }
        });
    };
    let mut step_ms = [0u64; 3]; // collect, sort, link
    let mut step = |i: usize, t: &mut Instant| {
        step_ms[i] += t.elapsed().as_millis() as u64;
        *t = Instant::now();
    };

    // 3–4. Caps, hubs and unions.
    let uf = ConcurrentUnionFind::new(ents.len());
    let mut per_kind: Vec<Option<KindResult>> = (0..kinds.len()).map(|_| None).collect();
    // Each kind's list is sorted into this one, kept from kind to kind (and batch to batch).
    let mut sorted: Vec<Row> = Vec::new();
    for (batch, members) in &batches {
        gather(batch, &mut arena);
        // Each attribute kind's list, by kind.
        let mut lists: Vec<Option<&[Row]>> = vec![None; attrs.kinds.len()];
        let mut rest: &[Row] = &arena;
        for &k in batch {
            let (list, tail) = rest.split_at(total(k));
            lists[k as usize] = Some(list);
            rest = tail;
        }
        for &k in members {
            let combined;
            let krows: &[Row] = match combos.iter().find(|c| usize::from(c.2) == k) {
                Some(&(main, required, _)) => {
                    let (Some(m), Some(r)) = (lists[main as usize], lists[required as usize])
                    else {
                        unreachable!("a batch gathers its combinations' sources");
                    };
                    combined = combination_rows(m, r, |a, b| input.keyer.combine(&kinds[k], a, b));
                    &combined
                }
                None if rules[k].link == LinkMode::Never => &[],
                None => lists[k].unwrap_or_default(),
            };
            step(0, &mut t);
            // 2. Sorted by (key, anchor, row): groups of one key, anchors ascending within.
            let krows = sort_into(krows, &mut sorted);
            step(1, &mut t);
            per_kind[k] = Some(link_kind(
                k,
                krows,
                &rules[k],
                &kinds[k],
                config,
                &placeholders[k],
                &uf,
                input,
            ));
            step(2, &mut t);
        }
    }
    drop((arena, sorted));
    let mut shared = Vec::new();
    let mut hubs = Vec::new();
    let mut kind_stats = Vec::new();
    for r in per_kind.into_iter().flatten() {
        shared.extend(r.shared);
        hubs.extend(r.hubs);
        kind_stats.extend(r.stats);
    }
    for (name, ms) in ["collect", "sort", "link"].iter().zip(step_ms) {
        timings.push(((*name).to_owned(), ms));
    }

    // 5. Components and stable ids.
    let roots = uf.roots();
    drop(uf);
    let root_of = |e: usize| roots[ents.anchor[e] as usize];
    let (cluster_of, clusters, multi, singles) = build_clusters(ents, &root_of);
    timings.push(("clusters".to_owned(), t.elapsed().as_millis() as u64));

    LinkOutput {
        kinds,
        cluster_of,
        clusters,
        multi_clusters: multi,
        singles,
        shared,
        hubs,
        kind_stats,
        timings_ms: timings,
    }
}

/// The rows gathered at once are held to at most about this many (16 bytes each, so
/// 512 MiB): a batch of kinds is gathered in one pass over the attribute rows. Half the
/// earlier 2^26 took 130–150 MB off the peak of a 10M link (the end of its last batch) for
/// about a second more of gathering (more passes).
const BATCH_ROWS: usize = 1 << 25;

/// The rows a batch gathers at once, for `rows` attribute rows: about a quarter of them, and
/// at most [`BATCH_ROWS`]. The gather arena is fresh memory, faulted in and zeroed by the
/// kernel at about 0.35 GB/s on the VM this was measured on (46 ns a posting), while one
/// more pass over the attribute rows costs a few ns a row (estimated at 3): a batch of `B`
/// postings then costs about `46 B + 3 R S / B` ns for `R` rows of which `S` are gathered,
/// least near `B = R / 4`.
fn batch_budget(rows: usize) -> usize {
    (rows / 4).clamp(1 << 20, BATCH_ROWS)
}

/// What linking one kind gives.
struct KindResult {
    stats: Option<KindStats>,
    hubs: Vec<Hub>,
    shared: Vec<SharedProperty>,
}

/// Groups the kinds of a run into batches gathered together: `kinds` gives, per kind, the
/// attribute kinds its rows come from and how many rows of its own it makes beside them (a
/// combination's), `rows` how many rows an attribute kind has. A batch takes kinds in order
/// while its rows stay within `budget` (a kind alone may exceed it). Returns each batch's
/// attribute kinds (ascending, without repeats) and its kinds (ascending).
fn plan_batches(
    kinds: impl Iterator<Item = (Vec<u16>, usize)>,
    rows: impl Fn(u16) -> usize,
    budget: usize,
) -> Vec<(Vec<u16>, Vec<usize>)> {
    let mut batches: Vec<(Vec<u16>, Vec<usize>)> = Vec::new();
    let mut held = 0usize;
    for (k, (sources, own)) in kinds.enumerate() {
        if sources.is_empty() {
            continue;
        }
        let cost = |batch: &[u16]| -> usize {
            sources
                .iter()
                .filter(|s| !batch.contains(s))
                .map(|&s| rows(s))
                .sum::<usize>()
                + own
        };
        match batches.last_mut() {
            Some((batch, members)) if held + cost(batch) <= budget => {
                held += cost(batch);
                batch.extend(&sources);
                members.push(k);
            }
            _ => {
                held = cost(&[]);
                batches.push((sources.clone(), vec![k]));
            }
        }
        if let Some((batch, _)) = batches.last_mut() {
            batch.sort_unstable();
            batch.dedup();
        }
    }
    batches
}

/// Steps 3–4 for kind `k`, whose rows `krows` are sorted: caps, hubs and unions.
#[allow(clippy::too_many_arguments)]
fn link_kind(
    k: usize,
    krows: &[Row],
    rule: &KindRule,
    name: &str,
    config: &LinkConfig,
    placeholders: &HashSet<u64>,
    uf: &ConcurrentUnionFind,
    input: &LinkInput,
) -> KindResult {
    let ents = &input.entities;
    let attrs = &input.attributes;
    let (groups, counts) = shared_groups(krows);
    let window = rule.window_ms();
    let time_of = |row: u32| ents.created_at[attrs.entity[row as usize] as usize];
    // The base key: a combination's own key mixes in the required kind's.
    let placeholder = |g: &[Row]| placeholders.contains(&attrs.key[g[0].row as usize]);
    let (cap, cap_auto) = match rule.cap {
        Cap::Fixed(c) => (c, false),
        Cap::Auto(_) if rule.link == LinkMode::Window => {
            // How many accounts a value links in one burst, not how many share it over time;
            // among the values that can link (no placeholder, none past any cap).
            let sizes: Vec<u32> = groups
                .par_iter()
                .zip(&counts)
                .filter(|&(&(s, e), &c)| {
                    (2..=config.hubs.ceiling).contains(&c) && !placeholder(&krows[s..e])
                })
                .flat_map_iter(|(&(s, e), _)| {
                    burst_sizes(&krows[s..e], window, rule.min_accounts, time_of)
                })
                .collect();
            (auto_cap(&sizes, config), true)
        }
        Cap::Auto(_) => (auto_cap(&counts, config), true),
    };
    let outcomes: Vec<Outcome> = groups
        .par_iter()
        .zip(&counts)
        .map(|(&(s, e), &count)| {
            let g = &krows[s..e];
            let first = g[0];
            if placeholder(g) {
                return Outcome::Hub(Hub {
                    kind: k as u16,
                    key: first.key,
                    row: first.row,
                    entity_count: count,
                    reason: HubReason::Placeholder,
                    anchors: anchors_of(g),
                });
            }
            if count > cap {
                return Outcome::Hub(Hub {
                    kind: k as u16,
                    key: first.key,
                    row: first.row,
                    entity_count: count,
                    reason: HubReason::OverCap,
                    anchors: anchors_of(g),
                });
            }
            // One group of anchors per set the property links; a `window` property seen
            // at times far apart can link two groups that are not otherwise connected,
            // and each must count as evidence only within its own group.
            let groups = match rule.link {
                LinkMode::Alone => {
                    let anchors = anchors_of(g);
                    for a in &anchors[1..] {
                        uf.union(anchors[0], *a);
                    }
                    vec![anchors]
                }
                LinkMode::Window => window_links(g, window, rule.min_accounts, uf, time_of),
                LinkMode::With | LinkMode::Never => Vec::new(),
            };
            let linked: Vec<SharedProperty> = groups
                .into_iter()
                .filter(|a| a.len() >= 2)
                .map(|anchors| SharedProperty {
                    kind: k as u16,
                    key: first.key,
                    row: first.row,
                    anchors,
                })
                .collect();
            if linked.is_empty() {
                Outcome::Shared
            } else {
                Outcome::Linked(linked)
            }
        })
        .collect();
    let mut stat = KindStats {
        kind: name.to_owned(),
        link: format!("{:?}", rule.link).to_lowercase(),
        cap,
        cap_auto,
        rows: krows.len() as u64,
        shared_values: outcomes.len() as u64,
        linking_values: 0,
        hubs: 0,
    };
    let mut hubs = Vec::new();
    let mut shared = Vec::new();
    for o in outcomes {
        match o {
            Outcome::Hub(h) => {
                stat.hubs += 1;
                hubs.push(h);
            }
            Outcome::Linked(s) => {
                stat.linking_values += 1;
                shared.extend(s);
            }
            Outcome::Shared => {}
        }
    }
    KindResult {
        stats: (!krows.is_empty()).then_some(stat),
        hubs,
        shared,
    }
}

enum Outcome {
    Hub(Hub),
    Linked(Vec<SharedProperty>),
    Shared,
}

/// The kind a (possibly combination) kind name is about: `address+name_last` → `address`.
pub fn base_kind(kind: &str) -> &str {
    kind.split('+').next().unwrap_or(kind)
}

/// The rows of a combination kind: one per row of `main` and distinct key among the
/// `required` rows of its anchor, keyed `combine(main key, required key)`, in the order of
/// `main`.
///
/// The rows are counted by parts of `main` in parallel, the list is allocated once and first
/// written by every thread ([`filled`]), and each part writes its rows in place. Collecting
/// them per thread and joining the lists made one thread fault in and copy every 16-byte row
/// while the others waited.
fn combination_rows(
    main: &[Row],
    required: &[Row],
    combine: impl Fn(u64, u64) -> u64 + Sync + Send,
) -> Vec<Row> {
    // The required keys of each anchor, grouped by anchor by a counting sort (anchors are
    // entity indexes, below the largest anchor seen): counted at `end[a + 1]`, summed into
    // each anchor's start at `end[a]`, then moved on by each key placed, so that `end[a]`
    // ends as anchor `a`'s end and `keys[end[a - 1]..end[a]]` are its keys (`0..end[0]` for
    // anchor 0).
    let top = main
        .iter()
        .chain(required)
        .map(|r| r.anchor as usize + 1)
        .max()
        .unwrap_or(0);
    let mut end: Vec<u32> = filled(top + 1);
    for r in required {
        end[r.anchor as usize + 1] += 1;
    }
    for i in 1..end.len() {
        end[i] += end[i - 1];
    }
    let mut keys: Vec<u64> = filled(required.len());
    for r in required {
        let a = r.anchor as usize;
        keys[end[a] as usize] = r.key;
        end[a] += 1;
    }
    let (keys, end, combine) = (&keys, &end, &combine);
    // The distinct required keys of row `r`'s anchor (an anchor has a few).
    let distinct = |r: &Row| {
        let a = r.anchor as usize;
        let start = if a == 0 { 0 } else { end[a - 1] as usize };
        let ks = &keys[start..end[a] as usize];
        ks.iter()
            .enumerate()
            .filter(move |&(i, k)| !ks[..i].contains(k))
            .map(|(_, &k)| k)
    };
    let parts: Vec<&[Row]> = main
        .chunks(main.len().div_ceil(rayon::current_num_threads() * 4).max(1))
        .collect();
    let counts: Vec<usize> = parts
        .par_iter()
        .map(|p| p.iter().map(|r| distinct(r).count()).sum())
        .collect();
    let mut out: Vec<Row> = filled(counts.iter().sum());
    split_lengths(&mut out, counts)
        .into_par_iter()
        .zip(parts)
        .for_each(|(slots, part)| {
            let rows = part.iter().flat_map(|r| {
                distinct(r).map(|k| Row {
                    key: combine(r.key, k),
                    ..*r
                })
            });
            let mut written = 0;
            for (slot, row) in slots.iter_mut().zip(rows) {
                *slot = row;
                written += 1;
            }
            debug_assert_eq!(written, slots.len(), "a part writes the rows it counted");
        });
    out
}

/// The runs of equal keys of sorted `rows` (sorted by anchor within a key) that hold two or
/// more distinct anchors, as `(start, end)` in order, and the number of distinct anchors of
/// each: the values that are shared. The runs are found in parallel, each part of the list
/// cut at a change of key.
///
/// Runs of one anchor (an account and its own inquiries sharing a device, an email, an IP:
/// most runs of most kinds) share nothing and are left out here. Listed with the others and
/// counted afterwards, they were most of the lists' length, and most of the step's page
/// faults.
fn shared_groups(rows: &[Row]) -> (Vec<(usize, usize)>, Vec<u32>) {
    let n = rows.len();
    let parts = (rayon::current_num_threads() * 4)
        .min(n.div_ceil(4096))
        .max(1);
    let mut cuts: Vec<usize> = (0..=parts).map(|i| i * n / parts).collect();
    for c in &mut cuts[1..parts] {
        while *c < n && *c > 0 && rows[*c].key == rows[*c - 1].key {
            *c += 1;
        }
    }
    let found: Vec<Vec<((usize, usize), u32)>> = cuts
        .par_windows(2)
        .map(|w| {
            let (lo, hi) = (w[0], w[1].max(w[0]));
            let mut out = Vec::new();
            let mut s = lo;
            // Distinct anchors of the run that starts at `s`, so far.
            let mut anchors = 1;
            for i in lo + 1..=hi {
                if i == hi || rows[i].key != rows[s].key {
                    if anchors >= 2 {
                        out.push(((s, i), anchors));
                    }
                    s = i;
                    anchors = 1;
                } else if rows[i].anchor != rows[i - 1].anchor {
                    anchors += 1;
                }
            }
            out
        })
        .collect();
    found.into_iter().flatten().unzip()
}

/// The distinct anchors of one key's rows (sorted by anchor within the key).
fn anchors_of(g: &[Row]) -> Vec<u32> {
    let mut anchors: Vec<u32> = g.iter().map(|r| r.anchor).collect();
    anchors.dedup();
    anchors
}

/// The cap chosen from the data: `multiplier ×` the 99th percentile of `counts` (those of 2
/// or more), clamped to the configured floor and ceiling. `counts` are how many accounts
/// share each value; for a `window` kind, how many accounts each burst it links holds (see
/// [`burst_sizes`]): a name and birthdate is shared over the years by namesakes the window
/// keeps apart, while a burst of 40 accounts under one of them is what the window is there to
/// link.
fn auto_cap(counts: &[u32], config: &LinkConfig) -> u32 {
    let mut shared: Vec<u32> = counts.iter().copied().filter(|c| *c >= 2).collect();
    if shared.is_empty() {
        return config.hubs.floor;
    }
    shared.sort_unstable();
    let idx = ((shared.len() as f64) * 0.99).floor() as usize;
    let q = shared[idx.min(shared.len() - 1)] as f64;
    let cap = (q * config.hubs.multiplier).ceil() as u32;
    cap.clamp(config.hubs.floor, config.hubs.ceiling)
}

/// The sizes of the **bursts** one `window` property's rows `g` link, the rows' times given
/// by `time_of`: the groups of anchors it connects (see [`window_groups`]) whose linking
/// observations all fall within one window. Groups that chain on for longer (a dorm's IP
/// over months) are left out.
fn burst_sizes(
    g: &[Row],
    window: i64,
    min_accounts: u32,
    time_of: impl Fn(u32) -> Option<i64>,
) -> Vec<u32> {
    let mut obs = observations(g, time_of);
    obs.retain(|o| o.0 != i64::MAX);
    obs.sort_unstable();
    let (_, groups) = window_groups(obs.clone(), window, min_accounts);
    let group_of: HashMap<u32, usize> = groups
        .iter()
        .enumerate()
        .flat_map(|(i, anchors)| anchors.iter().map(move |&a| (a, i)))
        .collect();
    // Each group's earliest and latest observation that linked (as `window_groups` links
    // them): an account seen again long after its burst does not stretch the burst.
    let mut span = vec![(i64::MAX, i64::MIN); groups.len()];
    for i in linked_steps(&obs, window) {
        let ((t0, a0), (t1, _)) = (obs[i], obs[i + 1]);
        if let Some(&g) = group_of.get(&a0) {
            span[g] = (span[g].0.min(t0), span[g].1.max(t1));
        }
    }
    groups
        .iter()
        .zip(span)
        .filter(|(_, (first, last))| last - first <= window)
        .map(|(anchors, _)| anchors.len() as u32)
        .collect()
}

/// The steps a window links in observations `obs` (sorted by time, every one timed): each
/// `i` whose `obs[i]` and `obs[i + 1]` are of different anchors within `window` ms.
fn linked_steps(obs: &[(i64, u32)], window: i64) -> impl Iterator<Item = usize> + '_ {
    (0..obs.len().saturating_sub(1)).filter(move |&i| {
        let ((t0, a0), (t1, a1)) = (obs[i], obs[i + 1]);
        a0 != a1 && t1 - t0 <= window
    })
}

/// The observations `(time, anchor)` of rows `g` for [`window_groups`] (`i64::MAX`: no time).
fn observations(g: &[Row], time_of: impl Fn(u32) -> Option<i64>) -> Vec<(i64, u32)> {
    g.iter()
        .map(|r| (time_of(r.row).unwrap_or(i64::MAX), r.anchor))
        .collect()
}

/// Links the anchors of one property whose observations fall within `window` ms of each
/// other (see [`window_groups`]) and returns the groups of anchors it connected. `time_of`
/// gives the creation time of an attribute row's entity.
fn window_links(
    g: &[Row],
    window: i64,
    min_accounts: u32,
    uf: &ConcurrentUnionFind,
    time_of: impl Fn(u32) -> Option<i64>,
) -> Vec<Vec<u32>> {
    let (pairs, groups) = window_groups(observations(g, time_of), window, min_accounts);
    for (a, b) in pairs {
        uf.union(a, b);
    }
    groups
}

/// The links a `window` property makes among its observations `(time, anchor)`: sorted by
/// time, consecutive observations of different anchors within `window` ms are linked (which
/// connects every pair within the window: the observations between them are within it too),
/// then only the groups of at least `min_accounts` anchors they connect are kept.
/// Observations without a time (`i64::MAX`) never link. Returns the linked pairs and the
/// groups of anchors they connect, each sorted, groups ordered by their smallest anchor. The
/// live graph calls this too, so both apply one rule.
pub(crate) fn window_groups(
    mut obs: Vec<(i64, u32)>,
    window: i64,
    min_accounts: u32,
) -> (Vec<(u32, u32)>, Vec<Vec<u32>>) {
    obs.retain(|o| o.0 != i64::MAX);
    obs.sort_unstable();
    let mut pairs: Vec<(u32, u32)> = linked_steps(&obs, window)
        .map(|i| (obs[i].1, obs[i + 1].1))
        .collect();
    let mut anchors: Vec<u32> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
    anchors.sort_unstable();
    anchors.dedup();
    let mut parent: Vec<usize> = (0..anchors.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let pos = |a: u32| anchors.partition_point(|&x| x < a);
    for &(a, b) in &pairs {
        let (ra, rb) = (find(&mut parent, pos(a)), find(&mut parent, pos(b)));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let mut groups: Vec<Vec<u32>> = Vec::new();
    // Each root's group, by root position (a root is one of the anchors).
    let mut group_of = vec![usize::MAX; anchors.len()];
    for (i, &a) in anchors.iter().enumerate() {
        let r = find(&mut parent, i);
        if group_of[r] == usize::MAX {
            group_of[r] = groups.len();
            groups.push(Vec::new());
        }
        groups[group_of[r]].push(a);
    }
    if groups.iter().any(|g| g.len() < min_accounts as usize) {
        groups.retain(|g| g.len() >= min_accounts as usize);
        // A pair's anchors are in one group: checking one of them is enough.
        let mut kept: Vec<u32> = groups.concat();
        kept.sort_unstable();
        pairs.retain(|&(a, _)| kept.binary_search(&a).is_ok());
    }
    (pairs, groups)
}

type ClusterParts = (Vec<u32>, Vec<Cluster>, usize, Singles);

fn build_clusters(ents: &Entities, root_of: &(dyn Fn(usize) -> u32 + Sync)) -> ClusterParts {
    let n = ents.len();
    // Group entities by root: count, then bucket.
    let mut roots: Vec<u32> = (0..n).into_par_iter().map(root_of).collect();
    let mut size = vec![0u32; n];
    for &r in &roots {
        size[r as usize] += 1;
    }
    // Members of multi-member clusters in one flat list, grouped by root (a counting sort:
    // no map, no per-cluster growth), each group in ascending entity order.
    let mut multi_roots: Vec<u32> = Vec::new();
    let mut cursor = vec![0u32; n];
    let mut total = 0u32;
    for (r, &sz) in size.iter().enumerate() {
        if sz > 1 {
            multi_roots.push(r as u32);
            cursor[r] = total;
            total += sz;
        }
    }
    let mut flat = vec![0u32; total as usize];
    for (e, &r) in roots.iter().enumerate() {
        let r = r as usize;
        if size[r] > 1 {
            flat[cursor[r] as usize] = e as u32;
            cursor[r] += 1;
        }
    }
    let members_of = |r: u32| {
        let end = cursor[r as usize] as usize;
        &flat[end - size[r as usize] as usize..end]
    };
    // Multi-member clusters (in entities; a cluster may hold one anchor and its inquiries)
    // in their order, which is part of the output: those with several anchors first, then
    // by id. An id is its hash in fixed-width hexadecimal, so ids sort as their hashes do;
    // the order is found on `(one anchor, hash, root, oldest)` tuples before any cluster is
    // built, so the clusters are written once, in place, into a list sized once.
    let mut order: Vec<(bool, u64, u32, u32)> = multi_roots
        .par_iter()
        .map(|&r| {
            let members = members_of(r);
            let oldest = members
                .iter()
                .copied()
                .min_by(|a, b| ents.age_order(*a, *b))
                .unwrap_or(members[0]);
            let anchor = ents.anchor[members[0] as usize];
            let one_anchor = members.iter().all(|&m| ents.anchor[m as usize] == anchor);
            (one_anchor, cluster_hash(ents, oldest), r, oldest)
        })
        .collect();
    drop(multi_roots);
    order.par_sort_unstable();
    let multi_anchor = order.iter().take_while(|o| !o.0).count();
    // Singletons come after, in entity order.
    let singles: Vec<u32> = (0..n as u32)
        .into_par_iter()
        .filter(|&e| size[roots[e as usize] as usize] == 1)
        .collect();
    let mut clusters: Vec<Cluster> = Vec::with_capacity(order.len());
    clusters.par_extend(order.par_iter().map(|&(one_anchor, hash, r, oldest)| {
        let members = members_of(r).to_vec();
        // Most clusters are one account and its inquiries: their anchor, without a list of
        // every member's to sort.
        let anchors = if one_anchor {
            vec![ents.anchor[members[0] as usize]]
        } else {
            let mut anchors: Vec<u32> = members.iter().map(|&m| ents.anchor[m as usize]).collect();
            anchors.sort_unstable();
            anchors.dedup();
            anchors
        };
        Cluster {
            id: id_of_hash(hash),
            oldest,
            members,
            anchors,
        }
    }));
    drop(flat);
    // The cluster of each entity, written over its root: a multi-member cluster's index is
    // kept (in `cursor`, no longer needed) at its root; a singleton's follows from how many
    // singletons come before it.
    for (ci, o) in order.iter().enumerate() {
        cursor[o.2 as usize] = ci as u32;
    }
    let multi = order.len() as u32;
    drop(order);
    let chunk = n.div_ceil(rayon::current_num_threads() * 8).max(1);
    roots
        .par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(c, part)| {
            let first = c * chunk;
            let mut next = multi + singles.partition_point(|&s| (s as usize) < first) as u32;
            for r in part {
                if size[*r as usize] == 1 {
                    *r = next;
                    next += 1;
                } else {
                    *r = cursor[*r as usize];
                }
            }
        });
    let cluster_of = roots;
    drop((size, cursor));
    let hash = singles.par_iter().map(|&e| cluster_hash(ents, e)).collect();
    let singles = Singles {
        entity: singles,
        hash,
    };
    (cluster_of, clusters, multi_anchor, singles)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use proptest::prelude::*;

    use super::*;
    use crate::config::KindRule;
    use crate::keys::Keyer;
    use crate::record::{EntityType, kinds};
    use crate::table::{Attributes, Entities};

    /// (id, is_inquiry_of, created_at hours, attributes (kind index, value index))
    type Spec = Vec<(Option<usize>, Option<u8>, Vec<(u8, u8)>)>;

    const KINDS: &[&str] = &[
        kinds::EMAIL,
        kinds::DEVICE_ID,
        kinds::IP,
        kinds::ADDRESS,
        kinds::NAME_LAST,
    ];

    fn build(spec: &Spec, order: &[usize]) -> LinkInput {
        // Accounts keep their ids whatever the order; inquiries point at accounts by id.
        let mut entities = Entities::default();
        let mut attributes = Attributes::default();
        let keyer = Keyer::new(b"proptest secret");
        let mut pos = HashMap::new();
        for (new, &old) in order.iter().enumerate() {
            pos.insert(old, new as u32);
        }
        for &old in order {
            let (inq_of, hour, _) = &spec[old];
            let (id, ty) = match inq_of {
                Some(_) => (format!("inq_{old}"), EntityType::Inquiry),
                None => (format!("acct_{old}"), EntityType::Account),
            };
            let anchor =
                inq_of.and_then(|a| spec.get(a).filter(|s| s.0.is_none()).map(|_| pos[&a]));
            entities.push(id, ty, anchor, hour.map(|h| h as i64 * 3_600_000), None);
        }
        let mut rows = Vec::new();
        for &old in order {
            for &(k, v) in &spec[old].2 {
                rows.push((pos[&old], k, v));
            }
        }
        for (e, k, v) in rows {
            let kid = attributes.kind_id(KINDS[k as usize % KINDS.len()]);
            attributes.push(&keyer, e, kid, &format!("v{v}"));
        }
        LinkInput {
            entities,
            attributes,
            keyer,
        }
    }

    fn spec_strategy() -> impl Strategy<Value = Spec> {
        prop::collection::vec(
            (
                prop::option::weighted(0.3, 0usize..40),
                prop::option::weighted(0.9, 0u8..100),
                prop::collection::vec((0u8..5, 0u8..12), 0..4),
            ),
            1..40,
        )
    }

    fn test_config() -> LinkConfig {
        let mut c = LinkConfig::default();
        for k in [kinds::EMAIL, kinds::DEVICE_ID, kinds::IP, kinds::ADDRESS] {
            let mut r = c.rule(k);
            r.cap = Cap::Fixed(6);
            c.rules.insert(k.to_owned(), r);
        }
        c
    }

    fn clusters_by_id(input: &LinkInput, out: &LinkOutput) -> BTreeMap<String, String> {
        (0..input.entities.len())
            .map(|e| {
                (
                    input.entities.ids[e].to_owned(),
                    out.cluster_id(out.cluster_of[e]).into_owned(),
                )
            })
            .collect()
    }

    /// The partition a naive pairwise implementation gives, as sets of entity ids.
    fn naive_partition(input: &LinkInput, config: &LinkConfig) -> BTreeSet<BTreeSet<String>> {
        let ents = &input.entities;
        let a = &input.attributes;
        let n = ents.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(p: &mut Vec<usize>, x: usize) -> usize {
            if p[x] == x {
                x
            } else {
                let r = find(p, p[x]);
                p[x] = r;
                r
            }
        }
        // Facts per anchor.
        let mut facts: Vec<(usize, String, String, i64)> = Vec::new();
        for i in 0..a.len() {
            let e = a.entity[i] as usize;
            facts.push((
                ents.anchor[e] as usize,
                a.kinds[a.kind[i] as usize].clone(),
                a.value(i as u32).to_owned(),
                ents.created_at[e].unwrap_or(i64::MAX),
            ));
        }
        let mut unions = Vec::new();
        for kind in KINDS {
            let rule: KindRule = config.rule(kind);
            let Cap::Fixed(cap) = rule.cap else { continue };
            // Properties: plain values, or (value, required value) combinations.
            let mut props: BTreeMap<String, Vec<(usize, i64)>> = BTreeMap::new();
            for f in facts.iter().filter(|f| f.1 == *kind) {
                match rule.link {
                    LinkMode::With => {
                        for g in facts
                            .iter()
                            .filter(|g| g.0 == f.0 && rule.with.contains(&g.1))
                        {
                            props
                                .entry(format!("{}|{}", f.2, g.2))
                                .or_default()
                                .push((f.0, f.3));
                        }
                    }
                    _ => props.entry(f.2.clone()).or_default().push((f.0, f.3)),
                }
            }
            for obs in props.values() {
                let distinct: BTreeSet<usize> = obs.iter().map(|o| o.0).collect();
                if distinct.len() < 2 || distinct.len() as u32 > cap {
                    continue;
                }
                match rule.link {
                    LinkMode::Alone | LinkMode::With => {
                        let v: Vec<usize> = distinct.into_iter().collect();
                        for w in &v[1..] {
                            unions.push((v[0], *w));
                        }
                    }
                    LinkMode::Window => {
                        let mut o: Vec<(i64, usize)> = obs
                            .iter()
                            .filter(|o| o.1 != i64::MAX)
                            .map(|o| (o.1, o.0))
                            .collect();
                        o.sort();
                        let w = rule.window_ms();
                        for p in o.windows(2) {
                            if p[1].0 - p[0].0 <= w {
                                unions.push((p[0].1, p[1].1));
                            }
                        }
                    }
                    LinkMode::Never => {}
                }
            }
        }
        for (x, y) in unions {
            let (rx, ry) = (find(&mut parent, x), find(&mut parent, y));
            parent[rx] = ry;
        }
        let mut groups: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
        for e in 0..n {
            let r = find(&mut parent, ents.anchor[e] as usize);
            groups.entry(r).or_default().insert(ents.ids[e].to_owned());
        }
        groups.into_values().collect()
    }

    fn partition(input: &LinkInput, out: &LinkOutput) -> BTreeSet<BTreeSet<String>> {
        let mut groups: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
        for e in 0..input.entities.len() {
            groups
                .entry(out.cluster_of[e])
                .or_default()
                .insert(input.entities.ids[e].to_owned());
        }
        groups.into_values().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn matches_naive_pairwise_linking(spec in spec_strategy()) {
            let order: Vec<usize> = (0..spec.len()).collect();
            let input = build(&spec, &order);
            let cfg = test_config();
            let out = link(&input, &cfg);
            prop_assert_eq!(partition(&input, &out), naive_partition(&input, &cfg));
        }

        #[test]
        fn deterministic_and_independent_of_input_order(spec in spec_strategy(), seed in any::<u64>()) {
            let cfg = test_config();
            let order: Vec<usize> = (0..spec.len()).collect();
            let a = build(&spec, &order);
            let out_a = link(&a, &cfg);
            let again = link(&a, &cfg);
            prop_assert_eq!(clusters_by_id(&a, &out_a), clusters_by_id(&a, &again));
            // A seeded shuffle of the entities (and so of the attribute rows).
            let mut shuffled = order.clone();
            let mut s = seed | 1;
            for i in (1..shuffled.len()).rev() {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                shuffled.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let b = build(&spec, &shuffled);
            let out_b = link(&b, &cfg);
            prop_assert_eq!(clusters_by_id(&a, &out_a), clusters_by_id(&b, &out_b));
            let hubs = |o: &LinkOutput| o.hubs.iter().map(|h| (h.key, h.entity_count)).collect::<BTreeSet<_>>();
            prop_assert_eq!(hubs(&out_a), hubs(&out_b));
        }

        #[test]
        fn linking_in_batches_of_any_size_gives_the_same_output(spec in spec_strategy(), budget in 0usize..40) {
            // Every kind alone (budget 0), a few together, or all at once: the same output.
            let order: Vec<usize> = (0..spec.len()).collect();
            let input = build(&spec, &order);
            let cfg = test_config();
            let whole = link_in_batches(&input, &cfg, usize::MAX);
            let batched = link_in_batches(&input, &cfg, budget);
            prop_assert_eq!(output_facts(&whole), output_facts(&batched));
        }

        /// A cluster id is `cl_` and the xxh3 of the oldest member's type, `:` and id in
        /// hexadecimal, for ids of any length (past the stack buffer too): ids are stable
        /// across versions, so the bytes hashed must never change.
        #[test]
        fn cluster_ids_hash_the_type_a_colon_and_the_id(
            id in "[a-z0-9_]{1,200}",
            inquiry in any::<bool>(),
        ) {
            let ty = if inquiry { EntityType::Inquiry } else { EntityType::Account };
            let mut ents = Entities::default();
            let e = ents.push(&id, ty, None, None, None);
            let hashed = format!("{}:{id}", ty.as_str());
            let want = format!("cl_{:016x}", xxhash_rust::xxh3::xxh3_64(hashed.as_bytes()));
            prop_assert_eq!(cluster_id(&ents, e), want);
        }

        #[test]
        fn clusters_come_in_their_documented_order_and_cluster_of_points_at_them(spec in spec_strategy()) {
            let order: Vec<usize> = (0..spec.len()).collect();
            let input = build(&spec, &order);
            let ents = &input.entities;
            let out = link(&input, &test_config());
            let c = &out.clusters;
            // Every entity is a member of exactly the cluster `cluster_of` names, singletons
            // included (through the accessors, which cover both kinds of cluster).
            let mut seen = vec![0u32; ents.len()];
            for ci in 0..out.cluster_count() as u32 {
                let members = out.members(ci);
                prop_assert!(!members.is_empty());
                prop_assert!(members.windows(2).all(|w| w[0] < w[1]));
                for &m in members {
                    prop_assert_eq!(out.cluster_of[m as usize], ci);
                    seen[m as usize] += 1;
                }
                let oldest = members.iter().copied().min_by(|a, b| ents.age_order(*a, *b));
                prop_assert_eq!(Some(out.oldest(ci)), oldest);
                prop_assert_eq!(out.cluster_id(ci), cluster_id(ents, out.oldest(ci)));
            }
            prop_assert!(seen.iter().all(|&s| s == 1));
            for cl in c {
                let mut anchors: Vec<u32> = cl.members.iter().map(|&m| ents.anchor[m as usize]).collect();
                anchors.sort_unstable();
                anchors.dedup();
                prop_assert_eq!(&cl.anchors, &anchors);
            }
            // Several anchors first, then one anchor with several members, each by id; then
            // singletons in entity order.
            prop_assert!(c.iter().all(|cl| cl.members.len() > 1));
            prop_assert_eq!(out.multi_clusters, c.iter().take_while(|cl| cl.anchors.len() > 1).count());
            prop_assert!(out.singles.entity.windows(2).all(|w| w[0] < w[1]));
            let key = |cl: &Cluster| (cl.anchors.len() == 1, cl.id.clone());
            prop_assert!(c.windows(2).all(|w| key(&w[0]) <= key(&w[1])));
        }

        #[test]
        fn idempotent_under_repeated_facts(spec in spec_strategy()) {
            // Ingesting the same facts twice (every attribute row repeated) changes nothing.
            let cfg = test_config();
            let order: Vec<usize> = (0..spec.len()).collect();
            let once = build(&spec, &order);
            let doubled_spec: Spec = spec
                .iter()
                .map(|(i, h, attrs)| (*i, *h, attrs.iter().chain(attrs.iter()).copied().collect()))
                .collect();
            let twice = build(&doubled_spec, &order);
            prop_assert_eq!(
                clusters_by_id(&once, &link(&once, &cfg)),
                clusters_by_id(&twice, &link(&twice, &cfg))
            );
        }
    }

    /// Values for the placeholder test: listed ones (generic, built in, configured), typed
    /// fillers, and ordinary values, for kinds that link alone, in a window and in a
    /// combination.
    const PLACEHOLDER_KINDS: &[&str] = &[
        kinds::EMAIL,
        kinds::GOV_ID,
        kinds::PHONE,
        kinds::IP,
        kinds::ADDRESS,
        kinds::NAME_LAST,
    ];
    const PLACEHOLDER_VALUES: &[&str] = &[
        "n/a",
        "test@test.com",
        "fake@corp.com",
        "GB:000000000",
        "US:123456789",
        "US:123450000",
        "+11234567890",
        "+440000000000",
        "+14155552671",
        "0.0.0.0",
        "nowhere",
        "1 main st",
        "smith",
        "v1",
    ];

    /// Entities `(hour, [(kind index, value index)])`, all accounts.
    type PlaceholderSpec = Vec<(u8, Vec<(u8, u8)>)>;

    fn placeholder_input(spec: &PlaceholderSpec) -> LinkInput {
        let keyer = Keyer::new(b"placeholder secret");
        let mut entities = Entities::default();
        let mut attributes = Attributes::default();
        for (i, (hour, attrs)) in spec.iter().enumerate() {
            let e = entities.push(
                format!("acct_{i}"),
                EntityType::Account,
                None,
                Some(*hour as i64 * 3_600_000),
                None,
            );
            for &(k, v) in attrs {
                let kid = attributes.kind_id(PLACEHOLDER_KINDS[k as usize]);
                attributes.push(&keyer, e, kid, PLACEHOLDER_VALUES[v as usize]);
            }
        }
        LinkInput {
            entities,
            attributes,
            keyer,
        }
    }

    fn placeholder_config() -> LinkConfig {
        LinkConfig::from_toml_str(
            "[rules.email]\nlink = \"alone\"\nstrength = 0.8\nplaceholders = [\"fake@corp.com\"]\n\
             [rules.address]\nlink = \"with\"\nwith = [\"name_last\"]\nplaceholders = [\"nowhere\"]\n",
        )
        .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The linker decides placeholders by key; the properties it holds back as
        /// placeholders are exactly those whose value `LinkConfig::is_placeholder` (the old,
        /// value-based decision) names, for plain, window and combination kinds.
        #[test]
        fn placeholders_by_key_equal_placeholders_by_value(
            spec in prop::collection::vec(
                (0u8..48, prop::collection::vec((0u8..6, 0u8..14), 0..6)),
                1..30,
            )
        ) {
            let input = placeholder_input(&spec);
            let cfg = placeholder_config();
            let out = link(&input, &cfg);
            let attrs = &input.attributes;
            let keyer = &input.keyer;
            // Expected placeholder hubs, from the values: plain kinds, then the address with
            // each last name of the same account.
            let mut plain: BTreeMap<(&str, &str), BTreeSet<u32>> = BTreeMap::new();
            let mut combo: BTreeMap<(&str, &str), BTreeSet<u32>> = BTreeMap::new();
            for i in 0..attrs.len() {
                let (e, kind, v) = (attrs.entity[i], &attrs.kinds[attrs.kind[i] as usize], attrs.value(i as u32));
                // A `with` kind's own properties are checked too (and never link).
                if kind != kinds::NAME_LAST {
                    plain.entry((kind, v)).or_default().insert(e);
                }
                if kind == kinds::ADDRESS {
                    for j in 0..attrs.len() {
                        if attrs.entity[j] == e && attrs.kinds[attrs.kind[j] as usize] == kinds::NAME_LAST {
                            combo.entry((v, attrs.value(j as u32))).or_default().insert(e);
                        }
                    }
                }
            }
            let mut expected: BTreeSet<(u64, u32)> = BTreeSet::new();
            for ((kind, v), ents) in &plain {
                if ents.len() >= 2 && cfg.is_placeholder(kind, v) {
                    expected.insert((keyer.key(kind, v), ents.len() as u32));
                }
            }
            for ((addr, last), ents) in &combo {
                if ents.len() >= 2 && cfg.is_placeholder(kinds::ADDRESS, addr) {
                    let key = keyer.combine(
                        "address+name_last",
                        keyer.key(kinds::ADDRESS, addr),
                        keyer.key(kinds::NAME_LAST, last),
                    );
                    expected.insert((key, ents.len() as u32));
                }
            }
            let got: BTreeSet<(u64, u32)> = out
                .hubs
                .iter()
                .filter(|h| h.reason == HubReason::Placeholder)
                .map(|h| (h.key, h.entity_count))
                .collect();
            prop_assert_eq!(got, expected);
            // And every reported property agrees with the value of the row it names.
            for h in &out.hubs {
                let by_value = cfg.is_placeholder(base_kind(&out.kinds[h.kind as usize]), attrs.value(h.row));
                prop_assert_eq!(h.reason == HubReason::Placeholder, by_value);
            }
            for s in &out.shared {
                prop_assert!(!cfg.is_placeholder(base_kind(&out.kinds[s.kind as usize]), attrs.value(s.row)));
            }
        }
    }

    /// Everything a link outputs, comparable.
    fn output_facts(out: &LinkOutput) -> String {
        let shared: Vec<_> = out
            .shared
            .iter()
            .map(|s| (s.kind, s.key, s.row, s.anchors.clone()))
            .collect();
        let hubs: Vec<_> = out
            .hubs
            .iter()
            .map(|h| {
                (
                    h.kind,
                    h.key,
                    h.row,
                    h.entity_count,
                    h.reason,
                    h.anchors.clone(),
                )
            })
            .collect();
        format!(
            "{:?}",
            (
                &out.kinds,
                &out.cluster_of,
                &out.clusters,
                out.multi_clusters,
                &out.singles,
                shared,
                hubs,
                serde_json::to_string(&out.kind_stats).expect("json"),
            )
        )
    }

    #[test]
    fn sort_into_sorts_a_list_long_enough_for_many_buckets() {
        // 2^17 rows (512 buckets of 256), keys from a xorshift, a tenth of them 100 repeated keys.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let rows: Vec<Row> = (0..1u32 << 17)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let key = if i % 10 == 0 {
                    u64::from(i % 1000) << 40
                } else {
                    s
                };
                Row {
                    key,
                    anchor: (s >> 3) as u32 % 97,
                    row: i,
                }
            })
            .collect();
        let mut expected = rows.clone();
        expected.sort_unstable();
        let mut out = filled(3);
        let sorted = sort_into(&rows, &mut out);
        assert_eq!(sorted, expected);
        // The runs found in parallel parts are those of one sequential pass, with their
        // distinct anchors.
        let (mut runs, mut counts) = (Vec::new(), Vec::new());
        let mut s = 0;
        for i in 1..=sorted.len() {
            if i == sorted.len() || sorted[i].key != sorted[s].key {
                if distinct_anchors(&sorted[s..i]) >= 2 {
                    runs.push((s, i));
                    counts.push(distinct_anchors(&sorted[s..i]));
                }
                s = i;
            }
        }
        assert!(runs.len() >= 100, "the repeated keys make runs");
        assert_eq!(shared_groups(sorted), (runs, counts));
    }

    /// Distinct anchors of one key's rows, sorted by anchor.
    fn distinct_anchors(g: &[Row]) -> u32 {
        1 + g.windows(2).filter(|w| w[0].anchor != w[1].anchor).count() as u32
    }

    proptest! {
        #[test]
        fn cluster_ids_are_their_hashes_in_hexadecimal_and_read_back(hash: u64) {
            let id = id_of_hash(hash);
            prop_assert_eq!(&id, &format!("cl_{hash:016x}"));
            let text = IdText::of(hash);
            prop_assert_eq!(text.as_ref(), id.as_str());
            prop_assert_eq!(hash_of_id(&id), Some(hash));
        }
    }

    #[test]
    fn only_cluster_ids_read_back_as_hashes() {
        for id in [
            "",
            "cl_",
            "cl_123",
            "cl_0123456789ABCDEF",
            "cl_+123456789abcdef",
            "xx_0123456789abcdef",
            "cl_0123456789abcdef0",
        ] {
            assert_eq!(hash_of_id(id), None, "{id}");
        }
        assert_eq!(hash_of_id("cl_00000000000000ff"), Some(255));
    }

    proptest! {
        #[test]
        fn combination_rows_pair_each_row_with_its_anchors_distinct_required_keys(
            main in prop::collection::vec((0u64..20, 0u32..12), 0..60),
            required in prop::collection::vec((0u64..6, 0u32..12), 0..60),
        ) {
            let rows = |v: &[(u64, u32)]| -> Vec<Row> {
                v.iter().zip(0..).map(|(&(key, anchor), row)| Row { key, anchor, row }).collect()
            };
            let (main, required) = (rows(&main), rows(&required));
            let combine = |a: u64, b: u64| a * 100 + b;
            let mut got = combination_rows(&main, &required, combine);
            got.sort_unstable();
            let mut expected = Vec::new();
            for m in &main {
                let keys: BTreeSet<u64> =
                    required.iter().filter(|r| r.anchor == m.anchor).map(|r| r.key).collect();
                expected.extend(keys.into_iter().map(|k| Row { key: combine(m.key, k), ..*m }));
            }
            expected.sort_unstable();
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn batches_hold_their_sources_within_the_budget() {
        let rows = |k: u16| [10, 20, 30, 40][k as usize];
        // Kinds 0..4 alone, a combination of 0 and 1 (10 rows of its own), and one that
        // never links alone (no sources).
        let kinds = || {
            vec![
                (vec![0], 0),
                (vec![1], 0),
                (vec![2], 0),
                (vec![3], 0),
                (vec![0, 1], 10),
                (vec![], 0),
            ]
            .into_iter()
        };
        assert_eq!(
            plan_batches(kinds(), rows, 1000),
            [(vec![0, 1, 2, 3], vec![0, 1, 2, 3, 4])]
        );
        assert_eq!(
            plan_batches(kinds(), rows, 60),
            [
                (vec![0, 1, 2], vec![0, 1, 2]),
                (vec![3], vec![3]),
                (vec![0, 1], vec![4])
            ]
        );
        assert_eq!(
            plan_batches(kinds(), rows, 0),
            [
                (vec![0], vec![0]),
                (vec![1], vec![1]),
                (vec![2], vec![2]),
                (vec![3], vec![3]),
                (vec![0, 1], vec![4])
            ]
        );
    }

    #[test]
    fn rows_sort_by_key_then_anchor_and_group_by_key() {
        let r = |key, anchor, row| Row { key, anchor, row };
        assert_eq!(std::mem::size_of::<Row>(), 16);
        let mut rows = vec![
            r(9, 1, 0),
            r(3, 7, 1),
            r(9, 0, 2),
            r(3, 2, 3),
            r(9, 1, 4),
            r(5, 4, 5),
            r(3, 7, 6),
            r(5, 4, 7),
        ];
        let mut reversed = rows.clone();
        reversed.reverse();
        rows.sort_unstable();
        reversed.sort_unstable();
        assert_eq!(
            rows, reversed,
            "the order does not depend on the input order"
        );
        assert_eq!(
            rows.iter().map(|x| (x.key, x.anchor)).collect::<Vec<_>>(),
            [
                (3, 2),
                (3, 7),
                (3, 7),
                (5, 4),
                (5, 4),
                (9, 0),
                (9, 1),
                (9, 1)
            ]
        );
        // Runs of one anchor (key 5: two rows of anchor 4) are left out: they share nothing.
        let (groups, counts) = shared_groups(&rows);
        assert_eq!(groups, [(0, 3), (5, 8)]);
        assert_eq!(counts, [2, 2]);
        let (s, e) = groups[0];
        assert_eq!(anchors_of(&rows[s..e]), [2, 7]);
        let (s, e) = groups[1];
        assert_eq!(anchors_of(&rows[s..e]), [0, 1]);
    }

    #[test]
    fn window_groups_keep_the_groups_of_at_least_min_accounts_and_their_pairs() {
        // A pair (anchors 1, 2) and a chain of three (3, 4, 5), far apart in time; anchor 6
        // has no time.
        let obs = vec![(102, 5), (0, 1), (100, 3), (1, 2), (101, 4), (i64::MAX, 6)];
        let (pairs, groups) = window_groups(obs.clone(), 10, 2);
        assert_eq!(pairs, [(1, 2), (3, 4), (4, 5)]);
        assert_eq!(groups, [vec![1, 2], vec![3, 4, 5]]);
        for min in [0, 1] {
            assert_eq!(
                window_groups(obs.clone(), 10, min),
                (pairs.clone(), groups.clone())
            );
        }
        let (pairs, groups) = window_groups(obs.clone(), 10, 3);
        assert_eq!(pairs, [(3, 4), (4, 5)]);
        assert_eq!(groups, [vec![3, 4, 5]]);
        assert_eq!(window_groups(obs, 10, 4), (vec![], vec![]));
    }

    #[test]
    fn window_times_come_from_each_rows_entity() {
        // Rows 0..3 of entities created at hours 0, 30 and 2: only 0 and 2 are within 24 h.
        let times = [Some(0), Some(30 * 3_600_000), Some(2 * 3_600_000), None];
        let uf = ConcurrentUnionFind::new(4);
        let g = [
            Row {
                key: 1,
                anchor: 0,
                row: 0,
            },
            Row {
                key: 1,
                anchor: 1,
                row: 1,
            },
            Row {
                key: 1,
                anchor: 2,
                row: 2,
            },
            Row {
                key: 1,
                anchor: 3,
                row: 3,
            },
        ];
        let groups = window_links(&g, 24 * 3_600_000, 2, &uf, |row| times[row as usize]);
        assert_eq!(groups, [vec![0, 2]]);
        assert_eq!(uf.find(0), uf.find(2));
        // Groups of fewer than `min_accounts` anchors neither link nor count.
        let uf = ConcurrentUnionFind::new(4);
        let groups = window_links(&g, 24 * 3_600_000, 3, &uf, |row| times[row as usize]);
        assert!(groups.is_empty(), "{groups:?}");
        assert_ne!(uf.find(0), uf.find(2));
    }

    #[test]
    fn burst_sizes_leave_out_groups_that_chain_past_one_window() {
        // Anchors 0–2 within two hours: a burst of 3. Anchors 3–6 20 hours apart each: one
        // group through the 24-hour window, spanning 60 hours. Anchor 7 has no time.
        let hours = [0, 1, 2, 100, 120, 140, 160];
        let mut times: Vec<Option<i64>> = hours.iter().map(|h| Some(h * 3_600_000)).collect();
        times.push(None);
        let g: Vec<Row> = (0..8)
            .map(|a| Row {
                key: 1,
                anchor: a,
                row: a,
            })
            .collect();
        let window = 24 * 3_600_000;
        assert_eq!(burst_sizes(&g, window, 2, |row| times[row as usize]), [3]);
        // Anchor 0 seen again 300 hours on (an inquiry): the burst is still the burst.
        let mut again = g.clone();
        again.insert(
            1,
            Row {
                key: 1,
                anchor: 0,
                row: 8,
            },
        );
        times.push(Some(300 * 3_600_000));
        assert_eq!(
            burst_sizes(&again, window, 2, |row| times[row as usize]),
            [3]
        );
        // A 100-hour window makes one group of 0–6, spanning 160 hours: no burst. A 160-hour
        // one makes it a burst.
        assert!(burst_sizes(&g, 100 * 3_600_000, 2, |row| times[row as usize]).is_empty());
        assert_eq!(
            burst_sizes(&g, 160 * 3_600_000, 2, |row| times[row as usize]),
            [7]
        );
    }

    #[test]
    fn an_automatic_window_cap_is_chosen_from_bursts_not_from_sharing_over_time() {
        // 1,000 IPs each used by two accounts ten days apart (shared, never linked: the
        // 99th percentile of how many accounts share a value is 2), and three used by 25
        // accounts each within 12 hours.
        let mut entities = Entities::default();
        let mut attributes = Attributes::default();
        let keyer = Keyer::new(b"burst secret");
        let ip = attributes.kind_id(kinds::IP);
        let mut add = |value: &str, hour: i64| {
            let e = entities.len() as u32;
            let id = format!("acct_{e}");
            entities.push(id, EntityType::Account, None, Some(hour * 3_600_000), None);
            attributes.push(&keyer, e, ip, value);
        };
        for v in 0..1000 {
            let value = format!("10.0.{}.{}", v / 256, v % 256);
            add(&value, 0);
            add(&value, 240);
        }
        for b in 0..3 {
            for i in 0..25 {
                add(&format!("192.168.0.{b}"), i / 2);
            }
        }
        let input = LinkInput {
            entities,
            attributes,
            keyer,
        };
        let out = link(&input, &LinkConfig::default());
        let stats = out.kind_stats.iter().find(|s| s.kind == kinds::IP).unwrap();
        // 3 × 25, the bursts' size: they link; counted by sharing, the floor (20) would have
        // made them hubs.
        assert_eq!((stats.cap, stats.cap_auto), (75, true));
        assert!(out.hubs.is_empty(), "{:?}", out.hubs.len());
        assert_eq!(stats.linking_values, 3);
        let largest = (0..out.cluster_count() as u32)
            .map(|c| out.members(c).len())
            .max();
        assert_eq!(largest, Some(25));
    }

    #[test]
    fn cluster_id_is_the_oldest_members_and_survives_new_members() {
        let spec: Spec = vec![
            (None, Some(10), vec![(1, 1)]),
            (None, Some(5), vec![(1, 1)]),
            (None, Some(50), vec![(1, 2)]),
        ];
        let cfg = test_config();
        let input = build(&spec, &[0, 1, 2]);
        let out = link(&input, &cfg);
        let before = clusters_by_id(&input, &out);
        assert_eq!(before["acct_0"], cluster_id(&input.entities, 1));
        assert_eq!(before["acct_0"], before["acct_1"]);
        // A newer account joins through another device it shares with acct_2; acct_2 joins
        // the cluster through acct_0's device. The id stays acct_1's.
        let mut spec2 = spec.clone();
        spec2.push((None, Some(60), vec![(1, 1), (1, 2)]));
        let input2 = build(&spec2, &[0, 1, 2, 3]);
        let after = clusters_by_id(&input2, &link(&input2, &cfg));
        assert_eq!(after["acct_0"], before["acct_0"]);
        assert_eq!(after["acct_2"], before["acct_0"]);
        assert_eq!(after["acct_3"], before["acct_0"]);
    }

    #[test]
    fn hubs_and_placeholders_do_not_link_and_are_reported() {
        // Eight accounts share one device (cap 6), two share a placeholder email.
        let mut spec: Spec = (0..8).map(|_| (None, Some(1), vec![(1u8, 7u8)])).collect();
        spec.push((None, Some(1), vec![]));
        let cfg = test_config();
        let mut input = build(&spec, &(0..9).collect::<Vec<_>>());
        let email = input.attributes.kind_id(kinds::EMAIL);
        let keyer = input.keyer.clone();
        input.attributes.push(&keyer, 0, email, "test@test.com");
        input.attributes.push(&keyer, 8, email, "test@test.com");
        let out = link(&input, &cfg);
        let distinct: BTreeSet<u32> = out.cluster_of.iter().copied().collect();
        assert_eq!(distinct.len(), 9, "nothing links");
        let reasons: BTreeSet<(&str, u32)> = out
            .hubs
            .iter()
            .map(|h| (h.reason.as_str(), h.entity_count))
            .collect();
        assert_eq!(
            reasons,
            BTreeSet::from([("over_cap", 8), ("placeholder", 2)])
        );
    }

    #[test]
    fn ip_links_only_within_its_window_and_address_only_with_last_name() {
        // acct 0 and 1 share an IP 2 h apart; acct 2 uses it 3 days later.
        // acct 3 and 4 share an address; only acct 4 and 5 also share a last name.
        let spec: Spec = vec![
            (None, Some(0), vec![(2, 1)]),
            (None, Some(2), vec![(2, 1)]),
            (None, Some(74), vec![(2, 1)]),
            (None, Some(0), vec![(3, 1), (4, 1)]),
            (None, Some(0), vec![(3, 1), (4, 2)]),
            (None, Some(0), vec![(3, 1), (4, 2)]),
        ];
        let input = build(&spec, &(0..6).collect::<Vec<_>>());
        let out = link(&input, &test_config());
        let c = &out.cluster_of;
        assert_eq!(c[0], c[1]);
        assert_ne!(c[1], c[2]);
        assert_ne!(c[3], c[4]);
        assert_eq!(c[4], c[5]);
    }
}
