//! The comparisons: per field, the level two records agree at.
//!
//! A pair's comparison vector is packed into a `u32`, three bits per comparison: 0 means the
//! value is missing on either side ("null", weight 0), `k ≥ 1` is level `k − 1` of
//! [`COMPARISONS`]. Every comparison is symmetric by construction: string measures are
//! computed with the two strings in a fixed (sorted) order, so `compare(a, b) ==
//! compare(b, a)` bit for bit.

use super::records::{NULL, UNKNOWN, View, dob_parts};

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

/// Level code 1 is always `exact`.
pub(crate) const EXACT: u8 = 1;

/// The level code of comparison `c` in the packed vector `g`.
#[inline]
pub(crate) fn code(g: u32, c: usize) -> u8 {
    ((g >> (3 * c)) & 7) as u8
}

/// Compares two records into a packed comparison vector. Equal interned ids settle
/// exactness without touching the strings; the string measures run only on values that
/// differ. Cost: a few id comparisons, Jaro-Winkler only for names that differ.
pub(crate) fn compare<A: View, B: View>(a: &A, b: &B) -> u32 {
    let mut g = 0u32;
    for c in [FIRST_NAME, LAST_NAME, GOV_ID, EMAIL, PHONE, ADDRESS] {
        let (ia, ib) = (a.id(c), b.id(c));
        if ia == NULL || ib == NULL {
            continue;
        }
        let level = if ia == ib && ia != UNKNOWN {
            1
        } else {
            let (x, y) = (a.text(c), b.text(c));
            // Sorted, so that every measure sees the same argument order either way round.
            let (x, y) = if x <= y { (x, y) } else { (y, x) };
            match c {
                _ if x == y => 1,
                FIRST_NAME | LAST_NAME => name_level(x, y),
                GOV_ID => gov_level(x, y),
                EMAIL => email_level(x, y),
                PHONE => 2,
                _ => address_level(x, y),
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

/// exact / Jaro-Winkler ≥ 0.92 / ≥ 0.80 / else.
fn name_level(x: &str, y: &str) -> u8 {
    if x == y {
        return 1;
    }
    let jw = strsim::jaro_winkler(x, y);
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

fn tokens(s: &str) -> Vec<&str> {
    let mut t: Vec<&str> = s.split([' ', '|', ',']).filter(|t| !t.is_empty()).collect();
    t.sort_unstable();
    t.dedup();
    t
}

/// Jaccard similarity of the two token sets, `|A ∩ B| / |A ∪ B|` (0 when both are empty).
pub(crate) fn jaccard(x: &str, y: &str) -> f64 {
    let (a, b) = (tokens(x), tokens(y));
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
