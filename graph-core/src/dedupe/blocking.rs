//! Blocking: which record pairs are compared at all.
//!
//! Every rule gives each record a key (a keyed hash of the rule's parts, or none when a part
//! is missing). Records sharing a key form a block; all pairs inside a block are candidates.
//! A block larger than [`DedupeConfig::max_block_size`] is skipped and reported instead, so a
//! common value (a family phone line, a default address) costs nothing. The candidates are the
//! union over the rules, each pair once.
//!
//! Keys are computed with the deployment's [`Keyer`], so a reported block hash cannot be
//! tested against guessed values by anyone without the secret.

use rayon::prelude::*;
use rphonetic::{Encoder, Soundex};
use serde::Serialize;

use crate::keys::{Keyer, key_hex};

use super::config::{BlockKey, BlockingRule, DedupeConfig};
use super::records::{DedupeRecord, DedupeRecords, Dob, dob_parts, format_dob};

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
    /// Record pairs `a << 32 | b` with `a < b`, ascending, unique.
    pub pairs: Vec<u64>,
    /// Oversized blocks, largest first.
    pub oversized: Vec<BlockReport>,
    /// Per-rule statistics, in rule order.
    pub rules: Vec<RuleStats>,
}

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
    if ascii.is_empty() { name.to_owned() } else { Soundex::default().encode(&ascii) }
}

/// The values a blocking key is built from.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeySource<'a> {
    pub first: Option<&'a str>,
    pub first_sound: Option<&'a str>,
    pub last: Option<&'a str>,
    pub last_sound: Option<&'a str>,
    pub dob: Dob,
    pub gov: Option<&'a str>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub address: Option<&'a str>,
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
        BlockKey::Birthdate => format_dob(s.dob).map(|v| buf.push_str(&v)).is_some(),
        BlockKey::BirthdateUnordered => dob
            .map(|(y, m, d)| {
                let _ = write!(buf, "{y}-{}-{}", m.min(d), m.max(d));
            })
            .is_some(),
        BlockKey::BirthYear => dob.map(|(y, _, _)| {
            let _ = write!(buf, "{y}");
        })
        .is_some(),
        BlockKey::Email => s.email.map(|v| buf.push_str(v)).is_some(),
        BlockKey::EmailLocal => {
            s.email.and_then(|e| e.rsplit_once('@')).map(|(l, _)| buf.push_str(l)).is_some()
        }
        BlockKey::Phone => s.phone.map(|v| buf.push_str(v)).is_some(),
        BlockKey::Address => s.address.map(|v| buf.push_str(v)).is_some(),
        BlockKey::Postal => s
            .address
            .and_then(|a| a.rsplit_once('|'))
            .map(|(_, p)| p)
            .filter(|p| !p.is_empty())
            .map(|p| buf.push_str(p))
            .is_some(),
    };
    buf.push('\u{1f}');
    ok
}

/// The key of `src` under a rule, or `None` when a part is missing.
fn rule_key(keyer: &Keyer, kind: &str, rule: &BlockingRule, src: &KeySource<'_>, buf: &mut String) -> Option<u64> {
    buf.clear();
    for &k in &rule.keys {
        if !push_part(buf, k, src) {
            return None;
        }
    }
    Some(keyer.key(kind, buf))
}

fn rule_kind(rule: &BlockingRule) -> String {
    format!("dedupe_block:{}", rule.name)
}

/// Phonetic codes of every distinct first and last name.
struct Sounds {
    first: Vec<Box<str>>,
    last: Vec<Box<str>>,
}

impl Sounds {
    fn new(records: &DedupeRecords) -> Self {
        let code = |dict: &[Box<str>]| dict.par_iter().map(|v| sound(v).into_boxed_str()).collect();
        Sounds { first: code(&records.first_name.dict), last: code(&records.last_name.dict) }
    }

    fn source<'a>(&'a self, r: &'a DedupeRecords, rec: usize) -> KeySource<'a> {
        let f = r.first_name.ids[rec];
        let l = r.last_name.ids[rec];
        KeySource {
            first: r.first_name.get(rec),
            first_sound: r.first_name.get(rec).map(|_| &*self.first[f as usize]),
            last: r.last_name.get(rec),
            last_sound: r.last_name.get(rec).map(|_| &*self.last[l as usize]),
            dob: r.birthdate[rec],
            gov: r.gov_id.get(rec),
            email: r.email.get(rec),
            phone: r.phone.get(rec),
            address: r.address.get(rec),
        }
    }
}

/// `(key, record)` of every record that has a key under `rule`, sorted.
fn keyed(records: &DedupeRecords, sounds: &Sounds, rule: &BlockingRule) -> Vec<(u64, u32)> {
    let kind = rule_kind(rule);
    let mut keys: Vec<(u64, u32)> = (0..records.len())
        .into_par_iter()
        .map_init(String::new, |buf, rec| {
            rule_key(&records.keyer, &kind, rule, &sounds.source(records, rec), buf).map(|k| (k, rec as u32))
        })
        .flatten_iter()
        .collect();
    keys.par_sort_unstable();
    keys
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

/// Builds the candidate pairs. Time `O(K·A log A + P log P)` for `K` rules, `A` records and
/// `P` emitted pairs (at most `A·max_block_size/2` per rule); memory 8 bytes per pair.
pub(crate) fn candidates(records: &DedupeRecords, cfg: &DedupeConfig) -> Candidates {
    let sounds = Sounds::new(records);
    let cap = cfg.block_cap();
    let mut all: Vec<u64> = Vec::new();
    let mut out = Candidates::default();
    for rule in &cfg.blocking {
        let keys = keyed(records, &sounds, rule);
        let runs = runs(&keys);
        let mut stats = RuleStats {
            rule: rule.name.clone(),
            keyed_records: keys.len() as u64,
            pairs: 0,
            oversized_blocks: 0,
        };
        for &(s, e) in &runs {
            if e - s > cap {
                stats.oversized_blocks += 1;
                out.oversized.push(BlockReport {
                    rule: rule.name.clone(),
                    entity_count: (e - s) as u32,
                    key_hash: key_hex(keys[s].0),
                });
            }
        }
        let pairs: Vec<u64> = runs
            .par_iter()
            .filter(|&&(s, e)| e - s >= 2 && e - s <= cap)
            .flat_map_iter(|&(s, e)| {
                let block = &keys[s..e];
                (0..block.len()).flat_map(move |i| (i + 1..block.len()).map(move |j| pack(block[i].1, block[j].1)))
            })
            .collect();
        stats.pairs = pairs.len() as u64;
        all.extend_from_slice(&pairs);
        out.rules.push(stats);
    }
    all.par_sort_unstable();
    all.dedup();
    out.pairs = all;
    out.oversized.sort_by(|a, b| b.entity_count.cmp(&a.entity_count).then_with(|| a.rule.cmp(&b.rule)).then_with(|| a.key_hash.cmp(&b.key_hash)));
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
        let sounds = Sounds::new(records);
        DedupeIndex {
            rules: cfg.blocking.iter().map(|r| keyed(records, &sounds, r)).collect(),
            config_rules: cfg.blocking.clone(),
            cap: cfg.block_cap(),
        }
    }

    /// The records that block with `new` under any rule, ascending and unique. A block that
    /// would exceed the size cap with `new` added is skipped, as the batch path skips it.
    /// `O(K log A + C)` for `C` candidates.
    pub fn candidates(&self, records: &DedupeRecords, new: &DedupeRecord) -> Vec<u32> {
        let first_sound = new.first_name.as_deref().map(sound);
        let last_sound = new.last_name.as_deref().map(sound);
        let side = new.side();
        let src = KeySource {
            first: side.first,
            first_sound: first_sound.as_deref(),
            last: side.last,
            last_sound: last_sound.as_deref(),
            dob: side.dob,
            gov: side.gov,
            email: side.email,
            phone: side.phone,
            address: side.address,
        };
        let mut buf = String::new();
        let mut out = Vec::new();
        for (rule, keys) in self.config_rules.iter().zip(&self.rules) {
            let Some(k) = rule_key(&records.keyer, &rule_kind(rule), rule, &src, &mut buf) else { continue };
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
