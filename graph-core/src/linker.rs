//! The batch linker: postings per property, hub handling, rule-qualified links, parallel
//! union-find, stable cluster ids.
//!
//! # Algorithm
//! 1. Every attribute row becomes `(key, anchor, row, time)` in its kind's list; kinds with a
//!    `with` rule also emit one combination row per value of the required kinds, keyed
//!    `combine(key, other key)`.
//! 2. Each kind's list is sorted by key (rayon); a run of equal keys is one property node with
//!    its postings. Sorting instead of hashing keeps memory flat and the result independent of
//!    input order.
//! 3. A property shared by more distinct anchors than its kind's cap, or whose value is a
//!    placeholder, is a hub: reported, never linked.
//! 4. Otherwise its anchors are united in a lock-free union-find, all properties in parallel:
//!    all of them (`alone`), or only observations within the time window of each other
//!    (`window`, sorted by time, consecutive pairs), or never (`never`, and the raw side of a
//!    `with` rule).
//! 5. A cluster's id is derived from its oldest member ([`Entities::age_order`]), so it
//!    survives re-runs, new members and input reordering.
//!
//! Time is `O(R log R)` for `R` attribute rows (the sorts) plus `O(R α(R))` for the unions;
//! memory is 24 bytes per linking row on top of the input.

use std::collections::HashMap;
use std::time::Instant;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::config::{Cap, LinkConfig, LinkMode};
use crate::table::{Entities, LinkInput};
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

/// The result of linking.
#[derive(Debug, Clone)]
pub struct LinkOutput {
    /// Kind names, including combination kinds such as `address+name_last`.
    pub kinds: Vec<String>,
    /// Cluster index of each entity.
    pub cluster_of: Vec<u32>,
    /// Clusters with two or more anchors, then singletons are implicit: `clusters` holds
    /// every cluster, multi-anchor ones first (sorted by id), singletons after (entity order).
    pub clusters: Vec<Cluster>,
    /// Number of leading entries of `clusters` that have two or more anchors.
    pub multi_clusters: usize,
    /// Properties that linked.
    pub shared: Vec<SharedProperty>,
    /// Properties held back as hubs.
    pub hubs: Vec<Hub>,
    /// Per-kind statistics.
    pub kind_stats: Vec<KindStats>,
    /// Wall time of each step, for the run summary.
    pub timings_ms: Vec<(String, u64)>,
}

/// Stable id of a cluster whose oldest member is `entity`.
pub fn cluster_id(entities: &Entities, oldest: u32) -> String {
    let i = oldest as usize;
    let mut buf = Vec::with_capacity(entities.ids[i].len() + 8);
    buf.extend_from_slice(entities.types[i].as_str().as_bytes());
    buf.push(b':');
    buf.extend_from_slice(entities.ids[i].as_bytes());
    format!("cl_{:016x}", xxh3_64(&buf))
}

#[derive(Debug, Clone, Copy)]
struct Row {
    key: u64,
    anchor: u32,
    row: u32,
    time: i64,
}

/// Links `input` under `config`.
pub fn link(input: &LinkInput, config: &LinkConfig) -> LinkOutput {
    let mut timings = Vec::new();
    let mut t = Instant::now();
    let mut lap = |name: &str, t: &mut Instant| {
        timings.push((name.to_owned(), t.elapsed().as_millis() as u64));
        *t = Instant::now();
    };
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

    // 1. Rows per kind.
    let mut rows: Vec<Vec<Row>> = vec![Vec::new(); kinds.len()];
    for (i, ((&e, &k), &key)) in attrs.entity.iter().zip(&attrs.kind).zip(&attrs.key).enumerate() {
        let needed = rules[k as usize].link != LinkMode::Never
            || combos.iter().any(|c| c.1 == k);
        if !needed {
            continue;
        }
        let e = e as usize;
        rows[k as usize].push(Row {
            key,
            anchor: ents.anchor[e],
            row: i as u32,
            time: ents.created_at[e].unwrap_or(i64::MAX),
        });
    }
    for &(k, w, c) in &combos {
        let combo_rows = combination_rows(&rows[k as usize], &rows[w as usize], |a, b| {
            input.keyer.combine(&kinds[c as usize], a, b)
        });
        rows[c as usize] = combo_rows;
    }
    // Required kinds that never link on their own were only needed for the combinations.
    for (k, r) in rows.iter_mut().enumerate() {
        if rules[k].link == LinkMode::Never {
            r.clear();
        }
    }
    lap("collect", &mut t);

    // 2. Sort each kind by (key, anchor, time).
    rows.par_iter_mut().for_each(|r| {
        r.par_sort_unstable_by(|a, b| (a.key, a.anchor, a.time).cmp(&(b.key, b.anchor, b.time)))
    });
    lap("sort", &mut t);

    // 3–4. Caps, hubs and unions.
    let uf = ConcurrentUnionFind::new(ents.len());
    let mut shared = Vec::new();
    let mut hubs = Vec::new();
    let mut kind_stats = Vec::new();
    for (k, krows) in rows.iter().enumerate() {
        let rule = &rules[k];
        let groups = group_bounds(krows);
        let counts: Vec<u32> = groups.par_iter().map(|&(s, e)| distinct_anchors(&krows[s..e])).collect();
        let (cap, cap_auto) = match rule.cap {
            Cap::Fixed(c) => (c, false),
            Cap::Auto(_) => (auto_cap(&counts, config), true),
        };
        let outcomes: Vec<Outcome> = groups
            .par_iter()
            .zip(&counts)
            .filter(|(_, c)| **c >= 2)
            .map(|(&(s, e), &count)| {
                let g = &krows[s..e];
                let first = g[0];
                let value = attrs.value(first.row);
                let kind_name = base_kind(&kinds[k]);
                if config.is_placeholder(kind_name, value) {
                    return Outcome::Hub(Hub {
                        kind: k as u16,
                        key: first.key,
                        row: first.row,
                        entity_count: count,
                        reason: HubReason::Placeholder,
                    });
                }
                if count > cap {
                    return Outcome::Hub(Hub {
                        kind: k as u16,
                        key: first.key,
                        row: first.row,
                        entity_count: count,
                        reason: HubReason::OverCap,
                    });
                }
                let linked = match rule.link {
                    LinkMode::Alone => {
                        let mut anchors: Vec<u32> = g.iter().map(|r| r.anchor).collect();
                        anchors.dedup();
                        for a in &anchors[1..] {
                            uf.union(anchors[0], *a);
                        }
                        anchors
                    }
                    LinkMode::Window => {
                        let window = (rule.window_hours.unwrap_or(24.0) * 3_600_000.0) as i64;
                        window_links(g, window, &uf)
                    }
                    LinkMode::With | LinkMode::Never => Vec::new(),
                };
                if linked.len() >= 2 {
                    Outcome::Linked(SharedProperty {
                        kind: k as u16,
                        key: first.key,
                        row: first.row,
                        anchors: linked,
                    })
                } else {
                    Outcome::Shared
                }
            })
            .collect();
        let mut stat = KindStats {
            kind: kinds[k].clone(),
            link: format!("{:?}", rule.link).to_lowercase(),
            cap,
            cap_auto,
            rows: krows.len() as u64,
            shared_values: outcomes.len() as u64,
            linking_values: 0,
            hubs: 0,
        };
        for o in outcomes {
            match o {
                Outcome::Hub(h) => {
                    stat.hubs += 1;
                    hubs.push(h);
                }
                Outcome::Linked(s) => {
                    stat.linking_values += 1;
                    shared.push(s);
                }
                Outcome::Shared => {}
            }
        }
        if !krows.is_empty() {
            kind_stats.push(stat);
        }
    }
    drop(rows);
    lap("link", &mut t);

    // 5. Components and stable ids.
    let roots = uf.roots();
    let root_of = |e: usize| roots[ents.anchor[e] as usize];
    let (cluster_of, clusters, multi) = build_clusters(ents, &root_of);
    lap("clusters", &mut t);

    LinkOutput {
        kinds,
        cluster_of,
        clusters,
        multi_clusters: multi,
        shared,
        hubs,
        kind_stats,
        timings_ms: timings,
    }
}

enum Outcome {
    Hub(Hub),
    Linked(SharedProperty),
    Shared,
}

/// The kind a (possibly combination) kind name is about: `address+name_last` → `address`.
pub fn base_kind(kind: &str) -> &str {
    kind.split('+').next().unwrap_or(kind)
}

fn combination_rows(main: &[Row], required: &[Row], combine: impl Fn(u64, u64) -> u64 + Sync + Send) -> Vec<Row> {
    // Required keys per anchor, as a sorted (anchor, key) list.
    let mut req: Vec<(u32, u64)> = required.iter().map(|r| (r.anchor, r.key)).collect();
    req.par_sort_unstable();
    req.dedup();
    let combine = &combine;
    main.par_iter()
        .flat_map_iter(|r| {
            let start = req.partition_point(|(a, _)| *a < r.anchor);
            let end = req.partition_point(|(a, _)| *a <= r.anchor);
            req[start..end].iter().map(move |&(_, k)| Row { key: combine(r.key, k), ..*r }).collect::<Vec<_>>()
        })
        .collect()
}

fn group_bounds(rows: &[Row]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut s = 0;
    for i in 1..=rows.len() {
        if i == rows.len() || rows[i].key != rows[s].key {
            if i > s {
                out.push((s, i));
            }
            s = i;
        }
    }
    out
}

fn distinct_anchors(g: &[Row]) -> u32 {
    // Rows are sorted by anchor within a key.
    1 + g.windows(2).filter(|w| w[0].anchor != w[1].anchor).count() as u32
}

/// The cap chosen from the data: `multiplier ×` the 99.9th percentile of shared-value counts,
/// clamped to the configured floor and ceiling.
fn auto_cap(counts: &[u32], config: &LinkConfig) -> u32 {
    let mut shared: Vec<u32> = counts.iter().copied().filter(|c| *c >= 2).collect();
    if shared.is_empty() {
        return config.hubs.floor;
    }
    shared.sort_unstable();
    let idx = ((shared.len() as f64) * 0.999).floor() as usize;
    let q = shared[idx.min(shared.len() - 1)] as f64;
    let cap = (q * config.hubs.multiplier).ceil() as u32;
    cap.clamp(config.hubs.floor, config.hubs.ceiling)
}

/// Links the anchors of one property whose observations fall within `window` ms of each
/// other: sorted by time, consecutive observations of different anchors within the window are
/// united. Observations without a time never link. Returns the anchors that got a link.
fn window_links(g: &[Row], window: i64, uf: &ConcurrentUnionFind) -> Vec<u32> {
    let mut obs: Vec<(i64, u32)> =
        g.iter().filter(|r| r.time != i64::MAX).map(|r| (r.time, r.anchor)).collect();
    obs.sort_unstable();
    let mut linked = Vec::new();
    // Keep, for the current run, the last observation; a gap over the window ends the run.
    for w in obs.windows(2) {
        let ((t0, a0), (t1, a1)) = (w[0], w[1]);
        if a0 != a1 && t1 - t0 <= window {
            uf.union(a0, a1);
            linked.push(a0);
            linked.push(a1);
        }
    }
    linked.sort_unstable();
    linked.dedup();
    linked
}

type ClusterParts = (Vec<u32>, Vec<Cluster>, usize);

fn build_clusters(ents: &Entities, root_of: &(dyn Fn(usize) -> u32 + Sync)) -> ClusterParts {
    let n = ents.len();
    // Group entities by root: count, then bucket.
    let roots: Vec<u32> = (0..n).into_par_iter().map(root_of).collect();
    let mut members_of: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut size = vec![0u32; n];
    for &r in &roots {
        size[r as usize] += 1;
    }
    for (e, &r) in roots.iter().enumerate() {
        if size[r as usize] > 1 {
            members_of.entry(r).or_default().push(e as u32);
        }
    }
    // Multi-member clusters (in entities; a cluster may hold one anchor and its inquiries).
    let mut multi: Vec<Cluster> = members_of
        .into_par_iter()
        .map(|(_, members)| {
            let oldest = members
                .iter()
                .copied()
                .min_by(|a, b| ents.age_order(*a, *b))
                .unwrap_or(members[0]);
            let mut anchors: Vec<u32> = members.iter().map(|&m| ents.anchor[m as usize]).collect();
            anchors.sort_unstable();
            anchors.dedup();
            Cluster { id: cluster_id(ents, oldest), oldest, members, anchors }
        })
        .collect();
    // Clusters with several anchors first, then by id: the order is part of the output.
    multi.par_sort_unstable_by(|a, b| {
        (b.anchors.len() > 1).cmp(&(a.anchors.len() > 1)).then_with(|| a.id.cmp(&b.id))
    });
    let multi_anchor = multi.iter().take_while(|c| c.anchors.len() > 1).count();
    let mut cluster_of = vec![u32::MAX; n];
    for (ci, c) in multi.iter().enumerate() {
        for &m in &c.members {
            cluster_of[m as usize] = ci as u32;
        }
    }
    let mut clusters = multi;
    // Singletons.
    let singles: Vec<Cluster> = (0..n as u32)
        .into_par_iter()
        .filter(|&e| size[roots[e as usize] as usize] == 1)
        .map(|e| Cluster { id: cluster_id(ents, e), oldest: e, members: vec![e], anchors: vec![ents.anchor[e as usize]] })
        .collect();
    for s in singles {
        cluster_of[s.oldest as usize] = clusters.len() as u32;
        clusters.push(s);
    }
    (cluster_of, clusters, multi_anchor)
}
