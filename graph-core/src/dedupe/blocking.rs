//! Blocking: which record pairs are compared at all.
//!
//! Every rule gives each record a key (a hash of the rule's parts, or none when a part is
//! missing). Records sharing a key form a block; all pairs inside a block are candidates.
//! A block larger than [`DedupeConfig::max_block_size`] is skipped and reported instead, so a
//! common value (a family phone line, a default address) costs nothing. The candidates are the
//! union over the rules, each pair once.
//!
//! Block keys are fast unkeyed hashes that never leave the process; the hash a report shows
//! for an oversized block is computed with the deployment's [`Keyer`], so it cannot be tested
//! against guessed values by anyone without the secret.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use rphonetic::{Encoder, Soundex};
use serde::Serialize;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::keys::{Keyer, key_hex};
use crate::sort::sort_hashed;

use super::compare::{
    ADDRESS, BIRTHDATE, EMAIL, FIRST_NAME, GOV_ID, LAST_NAME, NameCache, PHONE, compare_cached,
};
use super::config::{BlockKey, BlockingRule, DedupeConfig};
use super::records::{
    Column, DedupeRecord, DedupeRecords, Dob, NULL, dob_parts, format_dob, pack_dob,
};

/// A block that was skipped because more records share its key than
/// [`DedupeConfig::max_block_size`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockReport {
    /// The blocking rule.
    pub rule: String,
    /// Records (anchors) in the block.
    pub entity_count: u32,
    /// The block's keyed hash, 16 hex digits; never the plaintext value.
    pub key_hash: String,
}

/// What one blocking rule contributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleStats {
    /// Rule name.
    pub rule: String,
    /// Records that have every part of the rule.
    pub keyed_records: u64,
    /// Pairs the rule produced (before the union removes pairs other rules also found).
    pub pairs: u64,
    /// Blocks skipped as oversized.
    pub oversized_blocks: u64,
}

/// The candidate pairs of a record set.
#[derive(Debug, Clone, Default)]
pub(crate) struct Candidates {
    /// The pairs, in chunks of a few tens of thousands, in the order the rules find them
    /// (rule, then block, then position in the block). Chunks are never joined into one
    /// list: at 10M records there are tens of millions of pairs, and growing or
    /// concatenating one list would copy them and hold two copies at once.
    pub chunks: Vec<Chunk>,
    /// Oversized blocks, largest first.
    pub oversized: Vec<BlockReport>,
    /// Per-rule statistics, in rule order.
    pub rules: Vec<RuleStats>,
}

/// Some candidate pairs and their comparison vectors.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chunk {
    /// Record pairs `a << 32 | b` with `a < b`, unique across all chunks.
    pub pairs: Vec<u64>,
    /// The comparison vector of each pair (see [`super::compare::compare`]).
    pub gammas: Vec<u32>,
}

impl Candidates {
    /// Number of candidate pairs.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.pairs.len()).sum()
    }

    /// All pairs in one list, in order.
    #[cfg(test)]
    pub fn pairs(&self) -> Vec<u64> {
        self.chunks
            .iter()
            .flat_map(|c| c.pairs.iter().copied())
            .collect()
    }
}

/// Pairs (counted before earlier rules remove theirs) after which a chunk of blocks is
/// closed; chunks are the unit of parallel work and of allocation.
const CHUNK_PAIRS: usize = 1 << 16;

pub(crate) fn pack(a: u32, b: u32) -> u64 {
    u64::from(a) << 32 | u64::from(b)
}

pub(crate) fn unpack(p: u64) -> (u32, u32) {
    ((p >> 32) as u32, p as u32)
}

/// The phonetic code of a name: Soundex of its Latin letters, or the name itself when it has
/// none (names in other scripts then block on their exact value instead of all sharing an
/// empty code). Soundex keeps the first letter and codes consonant classes, so the typing
/// errors seen in duplicate registrations (swapped, dropped or doubled letters after the
/// first) mostly keep the code.
pub(crate) fn sound(name: &str) -> String {
    // Soundex indexes a 26-letter table and would panic on other letters; give it ASCII only.
    let ascii: String = name.chars().filter(char::is_ascii_alphabetic).collect();
    if ascii.is_empty() {
        name.to_owned()
    } else {
        Soundex::default().encode(&ascii)
    }
}

/// The plaintext values a blocking key is built from (used only to compute the keyed hash
/// of an oversized block for its report).
#[derive(Debug, Clone, Copy, Default)]
struct KeySource<'a> {
    first: Option<&'a str>,
    first_sound: Option<&'a str>,
    last: Option<&'a str>,
    last_sound: Option<&'a str>,
    dob: Dob,
    gov: Option<&'a str>,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    address: Option<&'a str>,
}

/// Appends one key part to `buf`; false when the part is missing.
fn push_part(buf: &mut String, k: BlockKey, s: &KeySource<'_>) -> bool {
    use std::fmt::Write;
    let dob = (s.dob != 0).then(|| dob_parts(s.dob));
    let ok = match k {
        BlockKey::GovId => s.gov.map(|v| buf.push_str(v)).is_some(),
        BlockKey::FirstName => s.first.map(|v| buf.push_str(v)).is_some(),
        BlockKey::LastName => s.last.map(|v| buf.push_str(v)).is_some(),
        BlockKey::FirstNamePhonetic => s.first_sound.map(|v| buf.push_str(v)).is_some(),
        BlockKey::LastNamePhonetic => s.last_sound.map(|v| buf.push_str(v)).is_some(),
        BlockKey::FirstNameInitial => initial(s.first).map(|v| buf.push_str(v)).is_some(),
        BlockKey::LastNameInitial => initial(s.last).map(|v| buf.push_str(v)).is_some(),
        BlockKey::Birthdate => format_dob(s.dob).map(|v| buf.push_str(&v)).is_some(),
        BlockKey::BirthdateUnordered => dob
            .map(|(y, m, d)| {
                let _ = write!(buf, "{y}-{}-{}", m.min(d), m.max(d));
            })
            .is_some(),
        BlockKey::BirthYear => dob
            .map(|(y, _, _)| {
                let _ = write!(buf, "{y}");
            })
            .is_some(),
        BlockKey::Email => s.email.map(|v| buf.push_str(v)).is_some(),
        BlockKey::EmailLocal => email_local(s.email).map(|l| buf.push_str(l)).is_some(),
        BlockKey::Phone => s.phone.map(|v| buf.push_str(v)).is_some(),
        BlockKey::Address => s.address.map(|v| buf.push_str(v)).is_some(),
        BlockKey::Postal => postal(s.address).map(|p| buf.push_str(p)).is_some(),
    };
    buf.push('\u{1f}');
    ok
}

/// The first letter of a name (names are normalised: case-folded, accents removed).
fn initial(name: Option<&str>) -> Option<&str> {
    let name = name?;
    let first = name.chars().next()?;
    Some(&name[..first.len_utf8()])
}

fn email_local(email: Option<&str>) -> Option<&str> {
    email
        .and_then(|e| e.rsplit_once('@'))
        .map(|(l, _)| l)
        .filter(|l| !l.is_empty())
}

fn postal(address: Option<&str>) -> Option<&str> {
    address
        .and_then(|a| a.rsplit_once('|'))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty())
}

/// The keyed hash (for reports) of `src` under a rule.
fn keyed_hash(keyer: &Keyer, rule: &BlockingRule, src: &KeySource<'_>) -> Option<u64> {
    let mut buf = String::new();
    for &k in &rule.keys {
        if !push_part(&mut buf, k, src) {
            return None;
        }
    }
    Some(keyer.key(&format!("dedupe_block:{}", rule.name), &buf))
}

/// Number of [`BlockKey`] variants.
const PARTS: usize = 15;

/// Hash of one string part; 0 is reserved for "missing".
fn part_hash(tag: BlockKey, s: &str) -> u64 {
    xxh3_64_with_seed(s.as_bytes(), tag as u64 + 1).max(1)
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The part hashes of one record, indexed by [`BlockKey`]; 0 where the part is missing.
type Parts = [u64; PARTS];

fn dob_hashes(parts: &mut Parts, dob: Dob) {
    if dob != 0 {
        let (y, m, d) = dob_parts(dob);
        let h = |tag: BlockKey, v: u32| mix(u64::from(v) ^ (tag as u64) << 40).max(1);
        parts[BlockKey::Birthdate as usize] = h(BlockKey::Birthdate, dob);
        parts[BlockKey::BirthdateUnordered as usize] = h(
            BlockKey::BirthdateUnordered,
            y << 9 | m.min(d) << 5 | m.max(d),
        );
        parts[BlockKey::BirthYear as usize] = h(BlockKey::BirthYear, y);
    }
}

/// The part hashes of a record outside the record set. Must agree with [`PartTable`].
fn new_parts(r: &DedupeRecord) -> Parts {
    let mut p = [0; PARTS];
    let mut put = |k: BlockKey, v: Option<&str>| {
        if let Some(v) = v {
            p[k as usize] = part_hash(k, v);
        }
    };
    put(BlockKey::FirstName, r.first_name.as_deref());
    put(
        BlockKey::FirstNamePhonetic,
        r.first_name.as_deref().map(sound).as_deref(),
    );
    put(BlockKey::FirstNameInitial, initial(r.first_name.as_deref()));
    put(BlockKey::LastName, r.last_name.as_deref());
    put(BlockKey::LastNameInitial, initial(r.last_name.as_deref()));
    put(
        BlockKey::LastNamePhonetic,
        r.last_name.as_deref().map(sound).as_deref(),
    );
    put(BlockKey::GovId, r.gov_id.as_deref());
    put(BlockKey::Email, r.email.as_deref());
    put(BlockKey::EmailLocal, email_local(r.email.as_deref()));
    put(BlockKey::Phone, r.phone.as_deref());
    put(BlockKey::Address, r.address.as_deref());
    put(BlockKey::Postal, postal(r.address.as_deref()));
    dob_hashes(&mut p, r.birthdate.as_deref().map(pack_dob).unwrap_or(0));
    p
}

/// The key of a record under a rule, or `None` when a part is missing. Keys are unkeyed
/// 64-bit hashes: they never leave the process (reports use [`keyed_hash`]), and a
/// collision only adds a candidate pair.
fn rule_key(rule: &BlockingRule, parts: &Parts) -> Option<u64> {
    let mut h = 0x9E37_79B9_7F4A_7C15u64;
    for &k in &rule.keys {
        let p = parts[k as usize];
        if p == 0 {
            return None;
        }
        h = mix(h ^ p);
    }
    // Never 0, which [`keyed_all`] and [`candidates`] use for "no key" (a collision only adds
    // candidate pairs).
    Some(h.max(1))
}

/// Part hashes of every distinct value, computed once per dictionary entry.
struct PartTable {
    first: Vec<u64>,
    first_sound: Vec<u64>,
    first_initial: Vec<u64>,
    last: Vec<u64>,
    last_sound: Vec<u64>,
    last_initial: Vec<u64>,
    gov: Vec<u64>,
    email: Vec<u64>,
    email_local: Vec<u64>,
    phone: Vec<u64>,
    address: Vec<u64>,
    postal: Vec<u64>,
}

impl PartTable {
    fn new(r: &DedupeRecords) -> Self {
        let table = |col: &Column, k: BlockKey, f: fn(&str) -> Option<String>| -> Vec<u64> {
            (0..col.distinct() as u32)
                .into_par_iter()
                .map(|id| f(col.value(id)).map_or(0, |s| part_hash(k, &s)))
                .collect()
        };
        let same: fn(&str) -> Option<String> = |v| Some(v.to_owned());
        PartTable {
            first: table(&r.first_name, BlockKey::FirstName, same),
            first_sound: table(&r.first_name, BlockKey::FirstNamePhonetic, |v| {
                Some(sound(v))
            }),
            first_initial: table(&r.first_name, BlockKey::FirstNameInitial, |v| {
                initial(Some(v)).map(str::to_owned)
            }),
            last: table(&r.last_name, BlockKey::LastName, same),
            last_sound: table(&r.last_name, BlockKey::LastNamePhonetic, |v| Some(sound(v))),
            last_initial: table(&r.last_name, BlockKey::LastNameInitial, |v| {
                initial(Some(v)).map(str::to_owned)
            }),
            gov: table(&r.gov_id, BlockKey::GovId, same),
            email: table(&r.email, BlockKey::Email, same),
            email_local: table(&r.email, BlockKey::EmailLocal, |v| {
                email_local(Some(v)).map(str::to_owned)
            }),
            phone: table(&r.phone, BlockKey::Phone, same),
            address: table(&r.address, BlockKey::Address, same),
            postal: table(&r.address, BlockKey::Postal, |v| {
                postal(Some(v)).map(str::to_owned)
            }),
        }
    }

    fn parts(&self, r: &DedupeRecords, rec: usize) -> Parts {
        let row = &r.rows[rec];
        let get = |t: &[u64], c: usize| {
            if row[c] == NULL {
                0
            } else {
                t[row[c] as usize]
            }
        };
        let mut p = [0; PARTS];
        p[BlockKey::FirstName as usize] = get(&self.first, FIRST_NAME);
        p[BlockKey::FirstNamePhonetic as usize] = get(&self.first_sound, FIRST_NAME);
        p[BlockKey::LastName as usize] = get(&self.last, LAST_NAME);
        p[BlockKey::LastNamePhonetic as usize] = get(&self.last_sound, LAST_NAME);
        p[BlockKey::FirstNameInitial as usize] = get(&self.first_initial, FIRST_NAME);
        p[BlockKey::LastNameInitial as usize] = get(&self.last_initial, LAST_NAME);
        p[BlockKey::GovId as usize] = get(&self.gov, GOV_ID);
        p[BlockKey::Email as usize] = get(&self.email, EMAIL);
        p[BlockKey::EmailLocal as usize] = get(&self.email_local, EMAIL);
        p[BlockKey::Phone as usize] = get(&self.phone, PHONE);
        p[BlockKey::Address as usize] = get(&self.address, ADDRESS);
        p[BlockKey::Postal as usize] = get(&self.postal, ADDRESS);
        dob_hashes(&mut p, row[BIRTHDATE]);
        p
    }
}

/// `(key, record)` of every record that has a key under `rule`, sorted.
/// For every rule, `(key, record)` of every record that has a key under it, sorted.
///
/// The part hashes of a record are gathered once for all rules (they are random look-ups
/// into the part tables, the expensive step), then each rule's list is sorted.
fn keyed_all(
    records: &DedupeRecords,
    table: &PartTable,
    rules: &[BlockingRule],
) -> Vec<Vec<(u64, u32)>> {
    const NONE: u64 = 0;
    let k = rules.len();
    let mut flat = vec![NONE; records.len() * k];
    flat.par_chunks_mut(k.max(1))
        .enumerate()
        .for_each(|(rec, out)| {
            let parts = table.parts(records, rec);
            for (o, rule) in out.iter_mut().zip(rules) {
                *o = rule_key(rule, &parts).unwrap_or(NONE);
            }
        });
    (0..k)
        .into_par_iter()
        .map(|r| {
            let mut keys: Vec<(u64, u32)> = flat
                .iter()
                .skip(r)
                .step_by(k)
                .enumerate()
                .filter(|&(_, &h)| h != NONE)
                .map(|(rec, &h)| (h, rec as u32))
                .collect();
            sort_hashed(&mut keys, &mut Vec::new());
            keys
        })
        .collect()
}

/// The plaintext key source of record `rec`, for reports.
fn source<'a>(
    records: &'a DedupeRecords,
    rec: usize,
    sounds: &'a (Option<String>, Option<String>),
) -> KeySource<'a> {
    KeySource {
        first: records.first_name.get(rec),
        first_sound: sounds.0.as_deref(),
        last: records.last_name.get(rec),
        last_sound: sounds.1.as_deref(),
        dob: records.birthdate[rec],
        gov: records.gov_id.get(rec),
        email: records.email.get(rec),
        phone: records.phone.get(rec),
        address: records.address.get(rec),
    }
}

/// Runs of equal keys, as `(start, end)`.
fn runs(keys: &[(u64, u32)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=keys.len() {
        if i == keys.len() || keys[i].0 != keys[start].0 {
            out.push((start, i));
            start = i;
        }
    }
    out
}

/// Builds the candidate pairs, each once, and compares them, without materialising the
/// rules' overlapping pair lists: rule by rule, a pair inside a block is kept only when no
/// earlier rule already pairs the two records (they share a block of that rule within the
/// cap), so the union needs no sort. Time `O(K·A log A + K·P)` for `K` rules, `A` records
/// and `P` pairs (at most `A·(max_block_size − 1)/2` per rule), plus one comparison per
/// pair; memory `8·K` bytes per record (its key under every rule), 32 per keyed record of
/// the rule being processed (its list and the list it is sorted into), and 12 per pair (the
/// pair and its comparison vector).
pub(crate) fn candidates(records: &DedupeRecords, cfg: &DedupeConfig) -> Candidates {
    const NONE: u64 = 0;
    let table = PartTable::new(records);
    let cap = cfg.block_cap();
    let k = cfg.blocking.len().max(1);
    // Per record and rule: the key hash, 0 when the record has none or (once the rule is
    // processed) when its block is oversized.
    let mut slots = vec![NONE; records.len() * k];
    slots.par_chunks_mut(k).enumerate().for_each(|(rec, out)| {
        let parts = table.parts(records, rec);
        for (o, rule) in out.iter_mut().zip(&cfg.blocking) {
            *o = rule_key(rule, &parts).unwrap_or(NONE);
        }
    });
    drop(table);
    let mut out = Candidates::default();
    // One buffer for every rule's keys (and one to sort them into), so their pages are
    // touched once.
    let (mut keys, mut spare): (Vec<(u64, u32)>, _) = (Vec::new(), Vec::new());
    for (r, rule) in cfg.blocking.iter().enumerate() {
        keys.clear();
        keys.extend(
            slots
                .chunks(k)
                .enumerate()
                .filter(|(_, s)| s[r] != NONE)
                .map(|(rec, s)| (s[r], rec as u32)),
        );
        sort_hashed(&mut keys, &mut spare);
        let runs = runs(&keys);
        let mut stats = RuleStats {
            rule: rule.name.clone(),
            keyed_records: keys.len() as u64,
            pairs: 0,
            oversized_blocks: 0,
        };
        for &(s, e) in &runs {
            let n = (e - s) as u64;
            if e - s > cap {
                stats.oversized_blocks += 1;
                let rec = keys[s].1 as usize;
                let sounds = (
                    records.first_name.get(rec).map(sound),
                    records.last_name.get(rec).map(sound),
                );
                let key = keyed_hash(&records.keyer, rule, &source(records, rec, &sounds))
                    .unwrap_or_default();
                out.oversized.push(BlockReport {
                    rule: rule.name.clone(),
                    entity_count: (e - s) as u32,
                    key_hash: key_hex(key),
                });
            } else {
                stats.pairs += n * (n - 1) / 2;
            }
        }
        let slots_ro = &slots;
        let earlier = |a: u32, b: u32| {
            let (sa, sb) = (a as usize * k, b as usize * k);
            slots_ro[sa..sa + r]
                .iter()
                .zip(&slots_ro[sb..sb + r])
                .any(|(x, y)| *x != NONE && x == y)
        };
        let keys = &keys;
        // The blocks that pair, in chunks of about `CHUNK_PAIRS` pairs. Each chunk's pairs
        // are compared as they are found, while the block's records are in cache, and kept
        // in the chunk's own allocation, sized for all of its pairs up front.
        let blocks: Vec<(usize, usize)> = runs
            .iter()
            .copied()
            .filter(|&(s, e)| e - s >= 2 && e - s <= cap)
            .collect();
        let mut groups: Vec<(usize, usize, usize)> = Vec::new();
        let (mut from, mut upper) = (0, 0);
        for (i, &(s, e)) in blocks.iter().enumerate() {
            upper += (e - s) * (e - s - 1) / 2;
            if upper >= CHUNK_PAIRS || i + 1 == blocks.len() {
                groups.push((from, i + 1, upper));
                (from, upper) = (i + 1, 0);
            }
        }
        let blocks = &blocks;
        out.chunks.par_extend(groups.par_iter().map_init(
            NameCache::default,
            |cache, &(from, to, upper)| {
                let mut chunk = Chunk {
                    pairs: Vec::with_capacity(upper),
                    gammas: Vec::with_capacity(upper),
                };
                for &(s, e) in &blocks[from..to] {
                    let block = &keys[s..e];
                    for (i, &(_, a)) in block.iter().enumerate() {
                        let side = records.side(a as usize);
                        for &(_, b) in &block[i + 1..] {
                            if !earlier(a, b) {
                                chunk.pairs.push(pack(a, b));
                                chunk.gammas.push(compare_cached(
                                    &side,
                                    &records.side(b as usize),
                                    Some(cache),
                                ));
                            }
                        }
                    }
                }
                chunk.pairs.shrink_to_fit();
                chunk.gammas.shrink_to_fit();
                chunk
            },
        ));
        // Members of oversized blocks lose this rule's key, so the rules after it do not count
        // the rule as pairing them (two records with equal keys share a block of at least 2).
        for &(s, e) in runs.iter().filter(|&&(s, e)| e - s > cap) {
            for &(_, rec) in &keys[s..e] {
                slots[rec as usize * k + r] = NONE;
            }
        }
        out.rules.push(stats);
    }
    out.oversized.sort_by(|a, b| {
        b.entity_count
            .cmp(&a.entity_count)
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.key_hash.cmp(&b.key_hash))
    });
    out
}

/// A lookup structure for the live path: the sorted `(key, record)` lists of every rule, so
/// the records blocking with a new record are found by binary search.
///
/// Build once per record set ([`DedupeIndex::build`], `O(K·A log A)`, 12 bytes per keyed
/// record and rule); it is not updated in place — the batch re-link rebuilds it.
#[derive(Debug, Clone)]
pub struct DedupeIndex {
    rules: Vec<Vec<(u64, u32)>>,
    config_rules: Vec<BlockingRule>,
    cap: usize,
}

impl DedupeIndex {
    /// Indexes `records` under the blocking rules of `cfg`.
    pub fn build(records: &DedupeRecords, cfg: &DedupeConfig) -> Self {
        let table = PartTable::new(records);
        DedupeIndex {
            rules: keyed_all(records, &table, &cfg.blocking),
            config_rules: cfg.blocking.clone(),
            cap: cfg.block_cap(),
        }
    }

    /// The records that block with `new` under any rule, ascending and unique. A block that
    /// would exceed the size cap with `new` added is skipped, as the batch path skips it.
    /// `O(K log A + C)` for `C` candidates.
    pub fn candidates(&self, new: &DedupeRecord) -> Vec<u32> {
        let parts = new_parts(new);
        let mut out = Vec::new();
        for (rule, keys) in self.config_rules.iter().zip(&self.rules) {
            let Some(k) = rule_key(rule, &parts) else {
                continue;
            };
            let start = keys.partition_point(|e| e.0 < k);
            let end = keys.partition_point(|e| e.0 <= k);
            if end - start < self.cap {
                out.extend(keys[start..end].iter().map(|e| e.1));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The block key of `r` under each rule of `rules` (`None` where a part is missing); the same
/// keys the batch path gives the record (see [`new_parts`]).
fn record_keys(rules: &[BlockingRule], r: &DedupeRecord) -> Vec<Option<u64>> {
    let parts = new_parts(r);
    rules.iter().map(|rule| rule_key(rule, &parts)).collect()
}

/// An incrementally updated blocking index, for the live graph: which items (anchors) share a
/// block key with a record, as records are added, changed and removed.
///
/// Built from a record set with the batch's sorted `(key, item)` lists (12 bytes per keyed
/// record and rule); records that change after the build are voided there and kept in a hash
/// map of blocks instead, so nothing is rebuilt in place. Candidate pairs are exactly the
/// batch's: two items are candidates when they share a key under some rule whose block holds
/// at most [`DedupeConfig::max_block_size`] items ([`LiveBlocks::is_candidate`]).
#[derive(Debug, Clone, Default)]
pub struct LiveBlocks {
    rules: Vec<BlockingRule>,
    cap: usize,
    /// Per rule, `(key, item)` of the records indexed at build time, sorted.
    base: Vec<Vec<(u64, u32)>>,
    /// Items whose base entries no longer hold (changed or removed since the build).
    void: HashSet<u32>,
    /// Blocks of the records indexed since the build: `(rule, key)` → items.
    overlay: HashMap<(u32, u64), Vec<u32>>,
}

impl LiveBlocks {
    /// An empty index under the blocking rules of `cfg`.
    pub fn new(cfg: &DedupeConfig) -> Self {
        LiveBlocks {
            rules: cfg.blocking.clone(),
            cap: cfg.block_cap(),
            base: vec![Vec::new(); cfg.blocking.len()],
            void: HashSet::new(),
            overlay: HashMap::new(),
        }
    }

    /// Indexes `records`; item `i` of record `rec` is `records.anchors[rec]`.
    /// `O(K·A log A)` for `K` rules and `A` records.
    pub fn build(records: &DedupeRecords, cfg: &DedupeConfig) -> Self {
        let table = PartTable::new(records);
        let mut base = keyed_all(records, &table, &cfg.blocking);
        for keys in &mut base {
            // Anchors ascend with the record index, so the lists stay sorted.
            for e in keys.iter_mut() {
                e.1 = records.anchors[e.1 as usize];
            }
            keys.shrink_to_fit();
        }
        LiveBlocks {
            base,
            ..LiveBlocks::new(cfg)
        }
    }

    /// Number of blocking rules.
    pub fn rules(&self) -> usize {
        self.rules.len()
    }

    /// The block key of `r` under each rule (`None` where a part is missing).
    pub fn keys(&self, r: &DedupeRecord) -> Vec<Option<u64>> {
        record_keys(&self.rules, r)
    }

    /// The items in the block `key` of rule `rule`, ascending.
    pub fn members(&self, rule: usize, key: u64) -> Vec<u32> {
        let keys = &self.base[rule];
        let s = keys.partition_point(|e| e.0 < key);
        let mut out: Vec<u32> = keys[s..]
            .iter()
            .take_while(|e| e.0 == key)
            .map(|e| e.1)
            .filter(|i| !self.void.contains(i))
            .collect();
        if let Some(more) = self.overlay.get(&(rule as u32, key)) {
            out.extend_from_slice(more);
        }
        out.sort_unstable();
        out
    }

    /// Items in a block.
    pub fn block_size(&self, rule: usize, key: u64) -> usize {
        let keys = &self.base[rule];
        let s = keys.partition_point(|e| e.0 < key);
        let base = keys[s..]
            .iter()
            .take_while(|e| e.0 == key)
            .filter(|e| !self.void.contains(&e.1))
            .count();
        base + self.overlay.get(&(rule as u32, key)).map_or(0, Vec::len)
    }

    /// The size cap: larger blocks give no pairs.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Adds `item` with its keys ([`LiveBlocks::keys`]); it must not be indexed.
    pub fn insert(&mut self, item: u32, keys: &[Option<u64>]) {
        self.void.insert(item);
        for (r, k) in keys.iter().enumerate() {
            if let Some(k) = k {
                self.overlay.entry((r as u32, *k)).or_default().push(item);
            }
        }
    }

    /// Removes `item`, indexed under `keys`.
    pub fn remove(&mut self, item: u32, keys: &[Option<u64>]) {
        self.void.insert(item);
        for (r, k) in keys.iter().enumerate() {
            if let Some(k) = k
                && let std::collections::hash_map::Entry::Occupied(mut e) =
                    self.overlay.entry((r as u32, *k))
            {
                e.get_mut().retain(|&x| x != item);
                if e.get().is_empty() {
                    e.remove();
                }
            }
        }
    }

    /// The items sharing a block of at most the cap with a record keyed `keys`, `item`
    /// itself left out; ascending and unique. `O(K log A + C)` for `C` candidates.
    pub fn candidates(&self, item: u32, keys: &[Option<u64>]) -> Vec<u32> {
        let mut out = Vec::new();
        for (r, k) in keys.iter().enumerate() {
            let Some(k) = *k else { continue };
            if self.block_size(r, k) <= self.cap {
                out.extend(self.members(r, k).into_iter().filter(|&x| x != item));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether two indexed records (keyed `a` and `b`) are a candidate pair: they share a key
    /// under some rule whose block holds at most the cap.
    pub fn is_candidate(&self, a: &[Option<u64>], b: &[Option<u64>]) -> bool {
        a.iter().zip(b).enumerate().any(|(r, (x, y))| {
            x.is_some() && x == y && self.block_size(r, x.unwrap_or(0)) <= self.cap
        })
    }

    /// Heap bytes held, roughly (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.base.iter().map(|b| b.capacity() * 16).sum::<usize>()
            + self.void.capacity() * 5
            + self.overlay.capacity() * 40
            + self
                .overlay
                .values()
                .map(|v| v.capacity() * 4)
                .sum::<usize>()
    }
}
