//! Country names and codes.

use super::country_data::{ALPHA2, ALPHA3, NAMES};
use super::text::{WordMode, fold_words};

/// Resolves a country written as an ISO alpha-2 or alpha-3 code or a common name to its
/// ISO 3166-1 alpha-2 code (upper case).
///
/// Accepted: `US`, `usa`, `U.S.`, `U.S.A.`, `United States`, `the United States of America`,
/// `Deutschland`, `Österreich`, `Côte d'Ivoire`, `UK` (→ `GB`, the one exceptionally reserved
/// code in common use), `Kosovo`/`XK`, and the ISO short, common and official English names of
/// every country. Case, accents, punctuation and a leading "the" do not matter.
///
/// Returns `None` for anything else (including sub-national names such as "Texas" and codes
/// that are not assigned); callers then fall back to another source of country.
pub fn country(raw: &str) -> Option<String> {
    // Fast path for the overwhelmingly common case of a clean two-letter code.
    let t = raw.trim();
    if t.len() == 2 && t.bytes().all(|b| b.is_ascii_alphabetic()) {
        return alpha2(&t.to_ascii_uppercase());
    }
    let mut key = String::with_capacity(raw.len());
    fold_words(raw, WordMode::Plain, &mut key);
    let mut k = key.strip_prefix("the ").unwrap_or(&key);
    // "u s a" (from "U. S. A.") is "usa".
    let joined: String;
    if k.len() > 2 && k.split(' ').all(|w| w.chars().count() == 1) {
        joined = k.split(' ').collect();
        k = &joined;
    }
    if k.len() == 2 && k.is_ascii() {
        return alpha2(&k.to_ascii_uppercase());
    }
    if k.len() == 3 && k.is_ascii() {
        let up = k.to_ascii_uppercase();
        if let Ok(i) = ALPHA3.binary_search_by(|(a3, _)| (*a3).cmp(up.as_str())) {
            return Some(ALPHA3[i].1.to_owned());
        }
    }
    NAMES
        .binary_search_by(|(name, _)| (*name).cmp(k))
        .ok()
        .map(|i| NAMES[i].1.to_owned())
}

fn alpha2(up: &str) -> Option<String> {
    if up == "UK" {
        return Some("GB".to_owned());
    }
    ALPHA2.binary_search(&up).ok().map(|_| up.to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::text::words;
    use super::*;

    #[test]
    fn tables_are_sorted_and_folded() {
        assert!(ALPHA2.windows(2).all(|w| w[0] < w[1]));
        assert!(ALPHA3.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, code) in NAMES {
            assert_eq!(words(name, WordMode::Plain), *name);
            assert!(ALPHA2.contains(code), "{code}");
            assert_eq!(country(name).as_deref(), Some(*code), "{name}");
        }
        for (a3, a2) in ALPHA3 {
            assert_eq!(country(a3).as_deref(), Some(*a2));
            assert_eq!(country(&a3.to_ascii_lowercase()).as_deref(), Some(*a2));
        }
        for a2 in ALPHA2 {
            assert_eq!(country(a2).as_deref(), Some(*a2));
        }
    }

    #[test]
    fn common_spellings() {
        for s in [
            "US",
            "us",
            " usa ",
            "U.S.",
            "U.S.A.",
            "U. S. A.",
            "United States",
            "united states of america",
            "The United States",
            "UNITED STATES",
            "ＵＳ",
        ] {
            assert_eq!(country(s).as_deref(), Some("US"), "{s}");
        }
        for s in [
            "UK",
            "GB",
            "GBR",
            "United Kingdom",
            "Great Britain",
            "England",
        ] {
            assert_eq!(country(s).as_deref(), Some("GB"), "{s}");
        }
        assert_eq!(country("Deutschland").as_deref(), Some("DE"));
        assert_eq!(country("Germany").as_deref(), Some("DE"));
        assert_eq!(country("Österreich").as_deref(), Some("AT"));
        assert_eq!(country("Côte d'Ivoire").as_deref(), Some("CI"));
        assert_eq!(country("the Netherlands").as_deref(), Some("NL"));
        assert_eq!(country("Korea, Republic of").as_deref(), Some("KR"));
        assert_eq!(country("Kosovo").as_deref(), Some("XK"));
        assert_eq!(country("россия").as_deref(), Some("RU"));
    }

    #[test]
    fn unknown() {
        for s in [
            "", "ZZ", "XX", "Texas", "Narnia", "U", "USAA", "😀", "\u{0}",
        ] {
            assert_eq!(country(s), None, "{s:?}");
        }
    }
}
