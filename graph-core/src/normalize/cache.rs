//! A bounded memo of recently normalised raw values, for callers that normalise many records.
//!
//! Real and generated data repeat some raw values a lot: first and last names come from a few
//! thousand spellings, birthdates and countries repeat, and an inquiry often repeats its
//! account's phone. [`NormalizeCache`] remembers the result of those per-value functions by
//! raw value, so [`normalize_record_cached`](super::normalize_record_cached) normalises a
//! repeated value once.
//!
//! Only kinds whose values repeat within a few tens of thousands of rows are cached: names,
//! birthdates and countries (over 50% hits per thread on generated data at 1M accounts), and
//! phones, whose parsing is costly enough that 10% hits pay for the misses. Emails (11%), IPs
//! (16%) and addresses (5%) cost less to normalise than a miss costs (hashing the key, storing
//! key and value), so they are not cached.
//!
//! The cache is invisible in results: every function it wraps is pure given its arguments,
//! so a hit returns exactly what the call would. (One input is not an argument: a birthdate
//! is checked against today's date, so in a process that runs past midnight a cached answer
//! for a date equal to the new day is the previous day's answer until the table is emptied.)
//!
//! Memory is bounded: each table holds at most its capacity of entries and is emptied when it
//! is full (cheaper than an LRU and good enough for values that repeat in bursts or from small
//! pools).

use std::collections::HashMap;

use super::{birthdate, country, name_part, phone};

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
    birthdates: Table<Result<String, &'static str>>,
    /// The birthdate format the `birthdates` table was filled with.
    birthdate_format: Option<String>,
    countries: Table<Option<String>>,
    /// Keyed by region, a NUL byte and the raw number.
    phones: Table<Result<String, &'static str>>,
    key: String,
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
            birthdates: Table::new(entries),
            birthdate_format: None,
            countries: Table::new(entries),
            phones: Table::new(entries),
            key: String::new(),
        }
    }

    /// Entries currently held, over all kinds.
    pub fn len(&self) -> usize {
        self.names.map.len()
            + self.birthdates.map.len()
            + self.countries.map.len()
            + self.phones.map.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn name_part(&mut self, raw: &str) -> String {
        self.names.get_or(raw, || name_part(raw))
    }

    pub(super) fn birthdate(
        &mut self,
        raw: &str,
        format: Option<&str>,
    ) -> Result<String, &'static str> {
        if self.birthdate_format.as_deref() != format {
            self.birthdates.map.clear();
            self.birthdate_format = format.map(str::to_owned);
        }
        self.birthdates.get_or(raw, || birthdate(raw, format))
    }

    pub(super) fn country(&mut self, raw: &str) -> Option<String> {
        self.countries.get_or(raw, || country(raw))
    }

    pub(super) fn phone(&mut self, raw: &str, region: &str) -> Result<String, &'static str> {
        let key = &mut self.key;
        key.clear();
        key.push_str(region);
        key.push('\0');
        key.push_str(raw);
        self.phones.get_or(key, || phone(raw, region))
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
            let _ = c.phone(&format!("+1 415 555 {i:04}"), "US");
            assert!(c.len() <= 3 * 8);
        }
        assert!(!c.is_empty());
    }

    #[test]
    fn disabled_cache_holds_nothing() {
        let mut c = NormalizeCache::new(0);
        assert_eq!(c.name_part(" Émile "), name_part(" Émile "));
        assert!(c.is_empty());
    }

    #[test]
    fn keys_of_different_arguments_differ() {
        let mut c = NormalizeCache::default();
        // The same raw number in two regions.
        assert_eq!(c.phone("020 7946 0958", "GB"), phone("020 7946 0958", "GB"));
        assert_eq!(c.phone("020 7946 0958", "US"), phone("020 7946 0958", "US"));
        assert_ne!(
            c.phone("020 7946 0958", "GB"),
            c.phone("020 7946 0958", "US")
        );
        // A birthdate format change empties the birthdate table.
        let us = c.birthdate("01/02/1990", Some("%m/%d/%Y"));
        let eu = c.birthdate("01/02/1990", Some("%d/%m/%Y"));
        assert_eq!(us, birthdate("01/02/1990", Some("%m/%d/%Y")));
        assert_eq!(eu, birthdate("01/02/1990", Some("%d/%m/%Y")));
        assert_ne!(us, eu);
    }
}
