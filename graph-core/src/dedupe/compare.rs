//! The comparisons: per field, the level two records agree at.
//!
//! A pair's comparison vector is packed into a `u32`, three bits per comparison: 0 means the
//! value is missing on either side ("null", weight 0), `k ≥ 1` is level `k − 1` of
//! [`COMPARISONS`]. Every comparison is symmetric, so `compare(a, b) == compare(b, a)` bit
//! for bit: Jaro-Winkler (whose greedy matching need not be) runs on the two strings in a
//! fixed (sorted) order, and the other measures are symmetric by construction.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::xxh3_64;

use super::records::{ADDRESS_TOKENS, NULL, Row, UNKNOWN, View, dob_parts};

/// A comparison: its field name and its non-null levels, strongest first, `else` last.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ComparisonDef {
    pub field: &'static str,
    pub levels: &'static [&'static str],
}

pub(crate) const FIRST_NAME: usize = 0;
pub(crate) const LAST_NAME: usize = 1;
pub(crate) const BIRTHDATE: usize = 2;
pub(crate) const GOV_ID: usize = 3;
pub(crate) const EMAIL: usize = 4;
pub(crate) const PHONE: usize = 5;
pub(crate) const ADDRESS: usize = 6;
/// Number of comparisons.
pub(crate) const NCOMP: usize = 7;
/// Largest level code (null + at most 6 levels fit in three bits).
pub(crate) const MAX_CODES: usize = 8;

const NAME_LEVELS: &[&str] = &["exact", "jaro_winkler>=0.92", "jaro_winkler>=0.80", "else"];

/// The built-in comparisons, in vector order.
pub(crate) const COMPARISONS: [ComparisonDef; NCOMP] = [
    ComparisonDef {
        field: "first_name",
        levels: NAME_LEVELS,
    },
    ComparisonDef {
        field: "last_name",
        levels: NAME_LEVELS,
    },
    ComparisonDef {
        field: "birthdate",
        levels: &[
            "exact",
            "transposed_day_month",
            "one_component_differs",
            "same_year",
            "else",
        ],
    },
    ComparisonDef {
        field: "gov_id",
        levels: &["exact", "one_edit", "else"],
    },
    ComparisonDef {
        field: "email",
        levels: &["exact", "same_local_part", "else"],
    },
    ComparisonDef {
        field: "phone",
        levels: &["exact", "else"],
    },
    ComparisonDef {
        field: "address",
        levels: &["exact", "token_jaccard>=0.5", "else"],
    },
];

/// The weight row of the address comparison when the phone numbers are equal.
///
/// Household members share an address together with a landline or a surname, so counting
/// the address as independent of those (over 40 bits with the phone) would make two family
/// members look like one person. The address levels therefore have their own m and u when
/// the phones are equal, and again when (only) the last names are equal.
pub(crate) const ADDRESS_GIVEN_PHONE: usize = 7;
/// The weight row of the address comparison when the last names are equal (and the phones
/// are not); see [`ADDRESS_GIVEN_PHONE`].
pub(crate) const ADDRESS_GIVEN_LAST_NAME: usize = 8;
/// Weight rows: the comparisons, then the conditional address rows.
pub(crate) const NROWS: usize = 9;

const CONDITIONAL_DEFS: [ComparisonDef; NROWS - NCOMP] = [
    ComparisonDef {
        field: "address|phone_exact",
        levels: &[
            "exact|phone_exact",
            "token_jaccard>=0.5|phone_exact",
            "else|phone_exact",
        ],
    },
    ComparisonDef {
        field: "address|last_name_exact",
        levels: &[
            "exact|last_name_exact",
            "token_jaccard>=0.5|last_name_exact",
            "else|last_name_exact",
        ],
    },
];

/// The definition of weight row `r`.
pub(crate) fn row_def(r: usize) -> &'static ComparisonDef {
    if r >= NCOMP {
        &CONDITIONAL_DEFS[r - NCOMP]
    } else {
        &COMPARISONS[r]
    }
}

/// The weight row of comparison `c` in vector `g`.
#[inline]
pub(crate) fn row_of(g: u32, c: usize) -> usize {
    if c != ADDRESS {
        c
    } else if code(g, PHONE) == EXACT {
        ADDRESS_GIVEN_PHONE
    } else if code(g, LAST_NAME) == EXACT {
        ADDRESS_GIVEN_LAST_NAME
    } else {
        ADDRESS
    }
}

/// Level code 1 is always `exact`.
pub(crate) const EXACT: u8 = 1;

/// The level code of comparison `c` in the packed vector `g`.
#[inline]
pub(crate) fn code(g: u32, c: usize) -> u8 {
    ((g >> (3 * c)) & 7) as u8
}

/// Compares two records into a packed comparison vector. See [`compare_cached`].
pub(crate) fn compare<A: View, B: View>(a: &A, b: &B) -> u32 {
    compare_cached(a, b, None)
}

/// Memoised name levels by interned id pair, one map per name comparison.
///
/// Names repeat far more than other values (a few thousand distinct first names cover most
/// people), so the same two names meet again and again across pairs; Jaro-Winkler is the
/// most expensive measure here. The cache never changes a result, only skips recomputation.
#[derive(Debug, Default)]
pub(crate) struct NameCache {
    maps: [HashMap<u64, u8, BuildHasherDefault<Mixed>>; 2],
}

impl NameCache {
    /// Entries kept per map before it is cleared, bounding memory on very diverse names.
    const LIMIT: usize = 1 << 20;
}

/// A hasher for `u64` keys that are not random: one multiply-xorshift round.
#[derive(Default)]
pub(crate) struct Mixed(u64);

impl Hasher for Mixed {
    fn finish(&self) -> u64 {
        let z = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z ^ (z >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Compares two records into a packed comparison vector. Equal interned ids settle
/// exactness without touching the strings, and different ids settle inequality, so the
/// string measures run only where a fuzzy level is possible. Cost: a few id comparisons,
/// Jaro-Winkler only for names that differ (memoised through `cache` when given).
pub(crate) fn compare_cached<A: View, B: View>(
    a: &A,
    b: &B,
    mut cache: Option<&mut NameCache>,
) -> u32 {
    let mut g = 0u32;
    for c in [FIRST_NAME, LAST_NAME, GOV_ID, EMAIL, PHONE, ADDRESS] {
        let (ia, ib) = (a.id(c), b.id(c));
        if ia == NULL || ib == NULL {
            continue;
        }
        let interned = ia != UNKNOWN && ib != UNKNOWN;
        let level = if interned && ia == ib {
            1
        } else if c == PHONE && interned {
            2
        } else if (c == FIRST_NAME || c == LAST_NAME)
            && interned
            && matches!((a.name_sig(c), b.name_sig(c)), (Some(x), Some(y)) if names_surely_differ(x, y))
        {
            4
        } else if let (FIRST_NAME | LAST_NAME, true, Some(cache)) =
            (c, interned, cache.as_deref_mut())
        {
            // The strings are only read on a cache miss: reading them is a memory miss of its
            // own, and would dominate when the level is already known.
            let map = &mut cache.maps[c];
            if map.len() >= NameCache::LIMIT {
                map.clear();
            }
            let key = u64::from(ia.min(ib)) << 32 | u64::from(ia.max(ib));
            *map.entry(key)
                .or_insert_with(|| name_level(a.text(c), b.text(c)))
        } else if let (true, Some(level)) = (interned, settled_by_signature(c, a.row(), b.row())) {
            level
        } else {
            let (x, y) = (a.text(c), b.text(c));
            if !interned && x == y {
                1
            } else {
                match c {
                    FIRST_NAME | LAST_NAME => name_level(x, y),
                    GOV_ID => gov_level(x, y),
                    EMAIL => email_level(x, y),
                    PHONE => 2,
                    _ => address_level(x, y),
                }
            }
        };
        g |= u32::from(level) << (3 * c);
    }
    let (da, db) = (a.dob(), b.dob());
    if da != 0 && db != 0 {
        g |= u32::from(dob_level(da, db)) << (3 * BIRTHDATE);
    }
    g
}

/// The level of two *different* interned values of comparison `c` when their signatures
/// already show it is `else`, without reading the texts; `None` when the texts must decide.
/// Each test is a sound bound, so the result equals what the text measure would give.
#[inline]
fn settled_by_signature(c: usize, a: Option<&Row>, b: Option<&Row>) -> Option<u8> {
    let (a, b) = (a?, b?);
    match c {
        // One edit changes at most two of the character-class counts, by one each.
        GOV_ID => (signature_distance(a.gov_sig, b.gov_sig) > 2).then_some(3),
        // Different local-part hashes mean different local parts.
        EMAIL => (a.email_local != b.email_local).then_some(3),
        // Jaccard ≥ 0.5 needs 3·|A ∩ B| ≥ |A| + |B|; equal hashes bound |A ∩ B| from above.
        ADDRESS if a.addr_tokens != u32::MAX && b.addr_tokens != u32::MAX => {
            let (ha, hb) = (
                &a.addr_hashes[..a.addr_tokens as usize],
                &b.addr_hashes[..b.addr_tokens as usize],
            );
            let (mut i, mut j, mut common) = (0, 0, 0u32);
            while i < ha.len() && j < hb.len() {
                match ha[i].cmp(&hb[j]) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        common += 1;
                        i += 1;
                        j += 1;
                    }
                }
            }
            (3 * common < a.addr_tokens + b.addr_tokens).then_some(3)
        }
        _ => None,
    }
}

/// Character-class counts of an id number: eight 4-bit counters (saturating), one per class
/// of characters. Used by [`settled_by_signature`].
pub(crate) fn gov_signature(s: &str) -> u32 {
    let mut counts = [0u8; 8];
    for ch in s.chars() {
        let class = ((ch as u32).wrapping_mul(0x9E37_79B1) >> 29) as usize;
        counts[class] = (counts[class] + 1).min(15);
    }
    counts
        .iter()
        .enumerate()
        .fold(0, |acc, (i, &n)| acc | u32::from(n) << (4 * i))
}

/// The L1 distance of two [`gov_signature`]s; a lower bound of the character-count
/// distance (merging characters into classes and saturating only shrink differences).
fn signature_distance(a: u32, b: u32) -> u32 {
    (0..8)
        .map(|i| ((a >> (4 * i)) & 15).abs_diff((b >> (4 * i)) & 15))
        .sum()
}

/// A 32-bit hash of an email's local part (never 0).
pub(crate) fn local_hash(email: &str) -> u32 {
    let local = email.rsplit_once('@').map_or(email, |(l, _)| l);
    (xxh3_64(local.as_bytes()) as u32).max(1)
}

/// The number of distinct tokens of an address key (as [`jaccard`] splits it) and their
/// sorted 16-bit hashes; `u32::MAX` tokens when there are more than fit.
pub(crate) fn address_signature(s: &str) -> (u32, [u16; ADDRESS_TOKENS]) {
    with_tokens(s, |toks| {
        let mut h = [0u16; ADDRESS_TOKENS];
        if toks.len() > ADDRESS_TOKENS {
            return (u32::MAX, h);
        }
        for (slot, t) in h.iter_mut().zip(toks) {
            *slot = xxh3_64(t.as_bytes()) as u16;
        }
        h[..toks.len()].sort_unstable();
        (toks.len() as u32, h)
    })
}

/// exact / Jaro-Winkler ≥ 0.92 / ≥ 0.80 / else.
/// Character counts of a name for a quick upper bound of its Jaro-Winkler similarity to
/// another ([`names_surely_differ`]): 64 two-bit counters, `a`–`z` one each, every other
/// character hashed into the remaining 38; `chars` is the length in characters, 0 when the
/// bound cannot be used (an empty name, or a counter that would pass 3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NameSig {
    counts: u128,
    chars: u32,
}

impl NameSig {
    pub(crate) fn of(s: &str) -> NameSig {
        let mut counts = 0u128;
        let mut chars = 0u32;
        for ch in s.chars() {
            let bucket = if ch.is_ascii_lowercase() {
                ch as u32 - 'a' as u32
            } else {
                26 + (ch as u32).wrapping_mul(0x9E37_79B1) % 38
            };
            let shift = 2 * bucket;
            if (counts >> shift) & 3 == 3 {
                return NameSig::default();
            }
            counts += 1 << shift;
            chars += 1;
        }
        NameSig { counts, chars }
    }
}

/// Whether two different names are certainly below the lowest fuzzy name level
/// (Jaro-Winkler 0.80), from their [`NameSig`]s alone. Sound: Jaro matches characters one to
/// one, so the matches `m` are at most the sum over counters of the smaller count (merging
/// characters into a counter only raises that sum); Jaro is then at most
/// `(m/|a| + m/|b| + 1) / 3`, and the Winkler prefix bonus (four characters at 0.1) at most
/// `0.4 (1 − jaro)`. Most pairs of unrelated names share too few letters to reach 0.80, and
/// settle here without reading either string or running Jaro.
#[inline]
pub(crate) fn names_surely_differ(a: NameSig, b: NameSig) -> bool {
    if a.chars == 0 || b.chars == 0 {
        return false;
    }
    let mut m = 0u32;
    let (mut x, mut y) = (a.counts, b.counts);
    while x != 0 && y != 0 {
        m += ((x & 3) as u32).min((y & 3) as u32);
        x >>= 2;
        y >>= 2;
    }
    if m == 0 {
        return true;
    }
    let m = f64::from(m);
    let jaro = (m / f64::from(a.chars) + m / f64::from(b.chars) + 1.0) / 3.0;
    // A margin below 0.80 absorbs floating-point rounding in either computation.
    jaro + 0.4 * (1.0 - jaro) < 0.799
}

fn name_level(x: &str, y: &str) -> u8 {
    if x == y {
        return 1;
    }
    // In a fixed order: Jaro's greedy matching is not guaranteed symmetric.
    let jw = if x <= y {
        strsim::jaro_winkler(x, y)
    } else {
        strsim::jaro_winkler(y, x)
    };
    if jw >= 0.92 {
        2
    } else if jw >= 0.80 {
        3
    } else {
        4
    }
}

/// exact / day and month transposed / one of year, month, day differs / same year / else.
fn dob_level(a: u32, b: u32) -> u8 {
    if a == b {
        return 1;
    }
    let (ya, ma, da) = dob_parts(a);
    let (yb, mb, db) = dob_parts(b);
    if ya == yb && ma == db && da == mb {
        return 2;
    }
    let same = u8::from(ya == yb) + u8::from(ma == mb) + u8::from(da == db);
    if same == 2 {
        3
    } else if ya == yb {
        4
    } else {
        5
    }
}

/// exact / one edit (Damerau-Levenshtein ≤ 1: one digit wrong, added, dropped, or two
/// adjacent digits swapped) / else.
fn gov_level(x: &str, y: &str) -> u8 {
    if x == y {
        1
    } else if within_one_edit(x, y) {
        2
    } else {
        3
    }
}

/// exact / same local part at another domain / else.
fn email_level(x: &str, y: &str) -> u8 {
    if x == y {
        return 1;
    }
    match (x.rsplit_once('@'), y.rsplit_once('@')) {
        (Some((lx, _)), Some((ly, _))) if lx == ly => 2,
        _ => 3,
    }
}

/// exact / token Jaccard ≥ 0.5 / else. Tokens are the words of the street part and the
/// locality, so a different unit number or a dropped postal code still scores as similar.
fn address_level(x: &str, y: &str) -> u8 {
    if x == y {
        return 1;
    }
    if jaccard(x, y) >= 0.5 { 2 } else { 3 }
}

/// Up to this many tokens are sorted on the stack; longer addresses (rare) allocate.
const STACK_TOKENS: usize = 24;

/// Calls `f` with the sorted, deduplicated tokens of `s`.
fn with_tokens<R>(s: &str, f: impl FnOnce(&[&str]) -> R) -> R {
    let mut buf: [&str; STACK_TOKENS] = [""; STACK_TOKENS];
    let mut n = 0;
    let mut spill: Vec<&str> = Vec::new();
    for t in s.split([' ', '|', ',']).filter(|t| !t.is_empty()) {
        if n < STACK_TOKENS {
            buf[n] = t;
            n += 1;
        } else {
            if spill.is_empty() {
                spill.extend_from_slice(&buf);
            }
            spill.push(t);
        }
    }
    let toks: &mut [&str] = if spill.is_empty() {
        &mut buf[..n]
    } else {
        &mut spill
    };
    toks.sort_unstable();
    let mut len = 0;
    for i in 0..toks.len() {
        if len == 0 || toks[i] != toks[len - 1] {
            toks[len] = toks[i];
            len += 1;
        }
    }
    f(&toks[..len])
}

/// Jaccard similarity of the two token sets, `|A ∩ B| / |A ∪ B|` (0 when both are empty).
pub(crate) fn jaccard(x: &str, y: &str) -> f64 {
    with_tokens(x, |a| {
        with_tokens(y, |b| {
            let (mut i, mut j, mut inter) = (0, 0, 0usize);
            while i < a.len() && j < b.len() {
                match a[i].cmp(b[j]) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        inter += 1;
                        i += 1;
                        j += 1;
                    }
                }
            }
            let union = a.len() + b.len() - inter;
            if union == 0 {
                0.0
            } else {
                inter as f64 / union as f64
            }
        })
    })
}

/// Whether two strings are within one edit: a substitution, an insertion or deletion, or a
/// transposition of two adjacent characters (optimal-string-alignment distance ≤ 1).
/// `O(n)`, no allocation for ASCII.
pub(crate) fn within_one_edit(x: &str, y: &str) -> bool {
    if x.is_ascii() && y.is_ascii() {
        within_one_edit_slices(x.as_bytes(), y.as_bytes())
    } else {
        let a: Vec<char> = x.chars().collect();
        let b: Vec<char> = y.chars().collect();
        within_one_edit_slices(&a, &b)
    }
}

fn within_one_edit_slices<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let (a, b) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match b.len() - a.len() {
        0 => {
            let Some(i) = a.iter().zip(b).position(|(p, q)| p != q) else {
                return true;
            };
            // One substitution, or one adjacent transposition.
            a[i + 1..] == b[i + 1..]
                || (i + 1 < a.len()
                    && a[i] == b[i + 1]
                    && a[i + 1] == b[i]
                    && a[i + 2..] == b[i + 2..])
        }
        1 => {
            let i = a.iter().zip(b).position(|(p, q)| p != q).unwrap_or(a.len());
            a[i..] == b[i + 1..]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// The quick bound never settles a pair that Jaro-Winkler puts at a fuzzy level.
        #[test]
        fn name_bound_is_sound(
            x in "[a-eé ]{1,9}|[a-z]{1,12}|\\PC{1,6}",
            y in "[a-eé ]{1,9}|[a-z]{1,12}|\\PC{1,6}",
        ) {
            if x != y && names_surely_differ(NameSig::of(&x), NameSig::of(&y)) {
                prop_assert_eq!(name_level(&x, &y), 4, "{} / {}", x, y);
            }
        }
    }

    #[test]
    fn name_bound_settles_unrelated_names_only() {
        let sig = NameSig::of;
        assert!(names_surely_differ(sig("olivia"), sig("kenji")));
        assert!(names_surely_differ(sig("smith"), sig("nakamura")));
        assert!(!names_surely_differ(sig("jennifer"), sig("jenifer")));
        assert!(!names_surely_differ(sig("okafor"), sig("okafro")));
        // Unusable signatures never settle anything.
        assert!(!names_surely_differ(sig(""), sig("ann")));
        assert!(!names_surely_differ(sig("aaaa"), sig("bob")));
    }

    #[test]
    fn one_edit_covers_substitution_insertion_deletion_transposition() {
        assert!(within_one_edit("123456789", "123456788"));
        assert!(within_one_edit("123456789", "12345679"));
        assert!(within_one_edit("12345678", "123456789"));
        assert!(within_one_edit("123456789", "123456798"));
        assert!(within_one_edit("213456789", "123456789"));
        assert!(!within_one_edit("123456789", "123456700"));
        assert!(!within_one_edit("123456789", "1234567"));
        assert!(!within_one_edit("123456789", "132456798"));
        assert!(within_one_edit("ÄB", "BÄ"));
    }

    #[test]
    fn birthdate_levels() {
        let d = |y: u32, m: u32, day: u32| y << 9 | m << 5 | day;
        assert_eq!(dob_level(d(1980, 4, 12), d(1980, 4, 12)), 1);
        assert_eq!(dob_level(d(1980, 4, 12), d(1980, 12, 4)), 2);
        assert_eq!(dob_level(d(1980, 4, 12), d(1980, 4, 13)), 3);
        assert_eq!(dob_level(d(1980, 4, 12), d(1981, 4, 12)), 3);
        assert_eq!(dob_level(d(1980, 4, 12), d(1980, 5, 13)), 4);
        assert_eq!(dob_level(d(1980, 4, 12), d(1990, 5, 13)), 5);
    }

    #[test]
    fn address_and_email_levels() {
        assert_eq!(
            address_level("12 main st unit 4|62704", "12 main st|62704"),
            2
        );
        assert_eq!(address_level("12 main st|62704", "9 oak ave|10001"), 3);
        assert_eq!(email_level("jo@a.com", "jo@b.com"), 2);
        assert_eq!(email_level("jo@a.com", "ann@a.com"), 3);
    }
}
