//! A bounded memo of recently normalised raw values, for callers that normalise many records.
//!
//! Real and generated data repeat some raw values a lot: first and last names come from a few
//! thousand spellings and countries from a few hundred. [`NormalizeCache`] remembers the
//! result of those per-value functions by raw value, so
//! [`normalize_record_cached`](super::normalize_record_cached) normalises a repeated value
//! once.
//!
//! Only kinds whose values repeat within a few tens of thousands of rows, and cost more to
//! normalise than a look-up costs (hashing the key, comparing it, copying the result out,
//! storing key and value on a miss), are cached. Simulating each thread's table on the
//! generator's 1M accounts and their inquiries (`benches/scripts/cache_hit_rates.py`) gave
//! these hit rates: names 99.6%, countries 100%; birthdates 57% and phones 5%, which are no
//! longer cached: their tables cost ingest more than they saved (birthdates 195 profile
//! samples of ingest's 5,021 with the table, an estimated 133 computed on every call; phones
//! 131 samples of table work against ~17 saved; ingest's user CPU fell 11% without them).
//! Emails (11%), IPs (16%) and addresses (5%) never were.
//!
//! The cache is invisible in results: every function it wraps is pure given its arguments,
//! so a hit returns exactly what the call would.
//!
//! Memory is bounded: each table holds at most its capacity of entries and is emptied when it
//! is full (cheaper than an LRU and good enough for values that repeat in bursts or from small
//! pools).

use std::collections::HashMap;

use super::{country, name_part};

/// Entries per table by default.
pub const DEFAULT_CACHE_ENTRIES: usize = 32_768;

/// Raw values longer than this are not cached (they are rare, and cost memory).
const MAX_KEY_BYTES: usize = 256;

/// foldhash, seeded randomly per table: a lookup must cost far less than the normalisation it
/// saves (SipHash would take a good part of it), and a random seed keeps a hostile input file
/// from choosing raw values that all collide (with a fixed seed, 32k colliding values would
/// make every lookup walk them all).
type Hasher = foldhash::fast::RandomState;

/// One bounded table from raw text to a result.
#[derive(Debug)]
struct Table<V> {
    map: HashMap<Box<str>, V, Hasher>,
    capacity: usize,
}

impl<V: Clone> Table<V> {
    fn new(capacity: usize) -> Table<V> {
        Table {
            map: HashMap::with_hasher(Hasher::default()),
            capacity,
        }
    }

    /// The cached result for `key`, or `compute()` (remembered when there is room).
    fn get_or(&mut self, key: &str, compute: impl FnOnce() -> V) -> V {
        if key.len() > MAX_KEY_BYTES || self.capacity == 0 {
            return compute();
        }
        if let Some(v) = self.map.get(key) {
            return v.clone();
        }
        let v = compute();
        if self.map.len() >= self.capacity {
            self.map.clear();
        }
        self.map.insert(key.into(), v.clone());
        v
    }
}

/// Remembers the normalised form of raw values, per value kind. See the module docs.
///
/// Not shared between threads: give each worker its own (it is `Send`).
#[derive(Debug)]
pub struct NormalizeCache {
    names: Table<String>,
    countries: Table<Option<String>>,
}

impl Default for NormalizeCache {
    fn default() -> Self {
        NormalizeCache::new(DEFAULT_CACHE_ENTRIES)
    }
}

impl NormalizeCache {
    /// A cache holding at most `entries` values per kind (0 disables it).
    pub fn new(entries: usize) -> NormalizeCache {
        NormalizeCache {
            names: Table::new(entries),
            countries: Table::new(entries),
        }
    }

    /// Entries currently held, over all kinds.
    pub fn len(&self) -> usize {
        self.names.map.len() + self.countries.map.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn name_part(&mut self, raw: &str) -> String {
        self.names.get_or(raw, || name_part(raw))
    }

    pub(super) fn country(&mut self, raw: &str) -> Option<String> {
        self.countries.get_or(raw, || country(raw))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn tables_stay_bounded() {
        let mut c = NormalizeCache::new(8);
        for i in 0..100 {
            c.name_part(&format!("name {i}"));
            c.country(&format!("country {i}"));
            assert!(c.len() <= 2 * 8);
        }
        assert!(!c.is_empty());
    }

    #[test]
    fn disabled_cache_holds_nothing() {
        let mut c = NormalizeCache::new(0);
        assert_eq!(c.name_part(" Émile "), name_part(" Émile "));
        assert!(c.is_empty());
    }
}
