//! Personal names.

use super::text::{WordMode, words};

/// Normalises one part of a personal name (a first, middle or last name, or a whole name).
///
/// Rules, chosen so that the spellings people and forms produce for the same name agree:
/// * NFKC compatibility forms unified (full-width `ＪＯＳÉ` is `josé` before accents go);
/// * lower case; accents stripped (NFKD, combining marks dropped) for Latin, Greek, Cyrillic,
///   Hebrew and Arabic; marks that are essential in other scripts (Indic vowel signs) kept;
/// * letters without a decomposition transliterated: `ß`→`ss`, `æ`→`ae`, `œ`→`oe`, `ø`→`o`,
///   `ł`→`l`, `đ`/`ð`→`d`, `þ`→`th`, `ı`→`i`, Greek final `ς`→`σ`, …;
/// * apostrophes deleted ("O'Brien" = "OBrien" = `obrien`); every other punctuation mark,
///   symbol or emoji is a word break ("García-López" = "Garcia Lopez" = `garcia lopez`,
///   "J.R." = `j r`);
/// * invisible characters removed, whitespace collapsed, trimmed.
///
/// The result may be empty (a "name" made only of punctuation or emoji); callers treat that as
/// unusable. It is idempotent.
pub fn name_part(raw: &str) -> String {
    words(raw, WordMode::Plain)
}

/// Titles dropped from the start of a full name.
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "mme", "mlle", "herr", "frau",
];

/// Generational and professional suffixes dropped from the end of a full name.
const SUFFIXES: &[&str] = &[
    "jr", "sr", "jnr", "snr", "ii", "iii", "iv", "phd", "md", "esq", "dds", "mba", "cpa",
];

/// Lower-case particles that belong to the family name when they precede it
/// ("Ludwig van Beethoven" → last name "van Beethoven"), so that a full name splits the way a
/// form with separate first/last fields is filled in.
const PARTICLES: &[&str] = &[
    "van", "von", "de", "der", "den", "del", "della", "dela", "di", "da", "dos", "das", "do", "du",
    "la", "le", "st", "ter", "ten", "bin", "binti", "bint", "ibn", "al", "el", "y",
];

/// Compares a token with a list, ignoring ASCII case and surrounding dots/commas ("Jr.").
fn is_one_of(token: &str, list: &[&str]) -> bool {
    let t = token.trim_matches(|c: char| c == '.' || c == ',');
    list.iter().any(|w| w.eq_ignore_ascii_case(t))
}

fn join(tokens: &[&str]) -> Option<String> {
    if tokens.is_empty() {
        None
    } else {
        Some(tokens.join(" "))
    }
}

/// Splits a full name into `(first, middle, last)`, returning the raw text of each part
/// (callers run [`name_part`] on them).
///
/// * `"Last, First Middle…"` (a comma after the first part) is read family-name first, unless
///   everything after the comma is a suffix ("John Smith, Jr.").
/// * Otherwise the first token is the first name, the last token the last name, and anything
///   between is the middle name; lower-case particles before the last token join it
///   ("Maria de la Cruz" → `de la Cruz`).
/// * Leading titles (Mr, Dr, …) and trailing suffixes (Jr, III, PhD, …) are dropped.
/// * A single token is returned as the **last** name only: a mononym (common in Indonesia,
///   and what single-field forms collect) behaves like a family name for linking and is then
///   never mistaken for a first name plus a missing last name.
/// * Scripts written without spaces (Chinese, Japanese, Korean) therefore yield a last name
///   holding the whole name; no attempt is made to segment them.
pub fn split_full_name(raw: &str) -> (Option<String>, Option<String>, Option<String>) {
    let raw = raw.trim();
    if let Some((before, after)) = raw.split_once(',') {
        let after_tokens: Vec<&str> = after
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .collect();
        let only_suffixes = after_tokens.iter().all(|t| is_one_of(t, SUFFIXES));
        if !only_suffixes {
            let last_tokens: Vec<&str> = before
                .split_whitespace()
                .filter(|t| !is_one_of(t, SUFFIXES) && !is_one_of(t, TITLES))
                .collect();
            let rest: Vec<&str> = after_tokens
                .into_iter()
                .filter(|t| !is_one_of(t, SUFFIXES) && !is_one_of(t, TITLES))
                .collect();
            let (first, middle) = match rest.split_first() {
                Some((f, m)) => (Some((*f).to_owned()), join(m)),
                None => (None, None),
            };
            return (first, middle, join(&last_tokens));
        }
        return split_plain(before);
    }
    split_plain(raw)
}

fn split_plain(raw: &str) -> (Option<String>, Option<String>, Option<String>) {
    let mut tokens: Vec<&str> = raw.split_whitespace().collect();
    while tokens.len() > 1 && is_one_of(tokens[0], TITLES) {
        tokens.remove(0);
    }
    while tokens.len() > 1 && tokens.last().is_some_and(|t| is_one_of(t, SUFFIXES)) {
        tokens.pop();
    }
    match tokens.as_slice() {
        [] => (None, None, None),
        [only] => (None, None, Some((*only).to_owned())),
        [first, rest @ ..] => {
            // Walk back over particles, keeping at least one token for the middle/first side.
            let mut last_start = rest.len() - 1;
            while last_start > 0 && is_particle(rest[last_start - 1]) {
                last_start -= 1;
            }
            (
                Some((*first).to_owned()),
                join(&rest[..last_start]),
                join(&rest[last_start..]),
            )
        }
    }
}

/// A particle is written in lower case ("van", "de"); a capitalised "Van" is more often a
/// middle or first name (Van Morrison), so it is not moved.
fn is_particle(token: &str) -> bool {
    token.chars().next().is_some_and(char::is_lowercase) && PARTICLES.contains(&token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn name_part_rules() {
        assert_eq!(name_part("O'Brien"), "obrien");
        assert_eq!(name_part("O’Brien"), name_part("OBRIEN"));
        assert_eq!(name_part("García-López"), "garcia lopez");
        assert_eq!(name_part("Garcia  Lopez"), "garcia lopez");
        assert_eq!(name_part("ＪＯＳÉ"), "jose");
        assert_eq!(name_part("Jose\u{301}"), name_part("José"));
        assert_eq!(name_part("Müller"), "muller");
        assert_eq!(name_part("Weiß"), "weiss");
        assert_eq!(name_part("Søren Kierkegaard"), "soren kierkegaard");
        assert_eq!(name_part("Łukasz Żółć"), "lukasz zolc");
        assert_eq!(name_part("Þór Æsir"), "thor aesir");
        assert_eq!(name_part("Đặng Thị Ngọc"), "dang thi ngoc");
        assert_eq!(name_part("Фёдор"), name_part("федор"));
        assert_eq!(name_part("محمد"), "محمد");
        assert_eq!(name_part("שָׁלוֹם"), name_part("שלום"));
        assert_eq!(name_part("王小明"), "王小明");
        assert_eq!(name_part("Ana\u{200D}😀"), "ana");
        assert_eq!(
            name_part("Robert'); DROP TABLE students;--"),
            "robert drop table students"
        );
        assert_eq!(name_part("\u{0}\u{1}"), "");
        assert_eq!(name_part("...-"), "");
    }

    #[test]
    fn split_forms() {
        assert_eq!(split_full_name("John Smith"), (s("John"), None, s("Smith")));
        assert_eq!(
            split_full_name("  John  Paul   Smith "),
            (s("John"), s("Paul"), s("Smith"))
        );
        assert_eq!(
            split_full_name("Smith, John Paul"),
            (s("John"), s("Paul"), s("Smith"))
        );
        assert_eq!(split_full_name("Smith,John"), (s("John"), None, s("Smith")));
        assert_eq!(
            split_full_name("John Smith, Jr."),
            (s("John"), None, s("Smith"))
        );
        assert_eq!(
            split_full_name("Dr. John Smith III"),
            (s("John"), None, s("Smith"))
        );
        assert_eq!(split_full_name("Madonna"), (None, None, s("Madonna")));
        assert_eq!(
            split_full_name("Ludwig van Beethoven"),
            (s("Ludwig"), None, s("van Beethoven"))
        );
        assert_eq!(
            split_full_name("Maria de la Cruz"),
            (s("Maria"), None, s("de la Cruz"))
        );
        assert_eq!(
            split_full_name("Van Morrison"),
            (s("Van"), None, s("Morrison"))
        );
        assert_eq!(
            split_full_name("de la Cruz, Maria"),
            (s("Maria"), None, s("de la Cruz"))
        );
        assert_eq!(split_full_name(""), (None, None, None));
        assert_eq!(split_full_name(" , "), (None, None, None));
        assert_eq!(split_full_name("Mr"), (None, None, s("Mr")));
        assert_eq!(split_full_name("王小明"), (None, None, s("王小明")));
    }
}
