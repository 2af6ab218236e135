//! Character-level folding shared by the value normalisers.
//!
//! Two pipelines exist because two kinds of value need different amounts of forgiveness:
//!
//! * [`fold_basic`] keeps every letter as written (only compatibility forms, case and
//!   whitespace are unified). Emails, custom kinds and reference ids use it: an accent in an
//!   email local part is a different mailbox.
//! * [`fold_words`] additionally strips accents, folds a few letters that have no Unicode
//!   decomposition (`ß`, `ø`, `ł`, …), drops apostrophes and turns all other punctuation into
//!   word breaks. Names, addresses and country names use it: people type "Garcia" for
//!   "García", and the graph must link them.
//!
//! Both pipelines have an ASCII fast path because almost every value in real data is ASCII
//! and Unicode normalisation iterators cost far more than a byte loop.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Characters that carry no visible content: controls (except the whitespace controls, which
/// callers turn into spaces), zero-width spaces and joiners, bidi controls, the byte-order
/// mark, variation selectors, tags.
///
/// They are removed everywhere, because they let two values look identical to a reviewer while
/// comparing unequal (a classic way to slip a duplicate past exact matching), and because keys
/// and exported files must never contain control characters.
pub(crate) fn is_invisible(c: char) -> bool {
    (c.is_control() && !c.is_whitespace())
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Apostrophe look-alikes. They are deleted (not turned into a space) so that "O'Brien",
/// "O’Brien" and "OBrien" agree; a space would make "o brien", which people never type.
pub(crate) fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '`'
            | '\u{00B4}'
            | '\u{02B9}'
            | '\u{02BB}'
            | '\u{02BC}'
            | '\u{02BD}'
            | '\u{2018}'
            | '\u{2019}'
            | '\u{201B}'
            | '\u{2032}'
            | '\u{FF07}'
    )
}

/// Appends `c` to `out`, writing one pending space first. Keeps the "collapse whitespace,
/// trim both ends" logic in one place for both pipelines.
#[inline]
fn push_char(out: &mut String, pending_space: &mut bool, c: char) {
    if *pending_space {
        // No space at the start, nor right after an address segment break.
        if !out.is_empty() && !out.ends_with(',') {
            out.push(' ');
        }
        *pending_space = false;
    }
    out.push(c);
}

/// NFKC, invisible characters removed, every whitespace run collapsed to one ASCII space,
/// trimmed, and lower-cased when `lower` is set. Appends to `out` (which should be empty).
///
/// The result is a fixed point: folding it again gives the same string (NFKC and lower-casing
/// do not commute for a handful of characters, so non-ASCII results are re-folded until stable).
pub(crate) fn fold_basic(raw: &str, lower: bool, out: &mut String) {
    fold_basic_once(raw, lower, out);
    if !out.is_ascii() && !is_basic_fixed_point(out, lower) {
        // Rare path: at most a couple of extra passes, needed only when lower-casing produced
        // a character whose NFKC form differs (or the reverse).
        for _ in 0..3 {
            let mut again = String::with_capacity(out.len());
            fold_basic_once(out, lower, &mut again);
            if again == *out {
                break;
            }
            *out = again;
        }
    }
}

/// Cheap sufficient test that folding `s` again would not change it: it is NFKC (quick
/// check) and, when lower-casing, every character is its own lower case. True for almost all
/// real text, so the re-fold below is rarely paid.
fn is_basic_fixed_point(s: &str, lower: bool) -> bool {
    unicode_normalization::is_nfkc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes
        && (!lower
            || s.chars().all(|c| {
                let mut l = c.to_lowercase();
                l.next() == Some(c) && l.next().is_none()
            }))
}

fn fold_basic_once(raw: &str, lower: bool, out: &mut String) {
    if raw.bytes().all(|b| b.is_ascii_graphic()) {
        // No whitespace or control to handle (most emails and ids): copied, then lower-cased.
        let start = out.len();
        out.push_str(raw);
        if lower && let Some(added) = out.get_mut(start..) {
            added.make_ascii_lowercase();
        }
        return;
    }
    let mut pending_space = false;
    if raw.is_ascii() {
        for &b in raw.as_bytes() {
            let c = b as char;
            if c.is_ascii_whitespace() {
                pending_space = true;
            } else if !c.is_ascii_control() {
                push_char(
                    out,
                    &mut pending_space,
                    if lower { c.to_ascii_lowercase() } else { c },
                );
            }
        }
        return;
    }
    for c in raw.chars().filter(|&c| !is_invisible(c)).nfkc() {
        if c.is_whitespace() {
            pending_space = true;
        } else if is_invisible(c) {
            // NFKC can, in theory, produce one again; never let it through.
        } else if lower {
            let mut lc = c.to_lowercase();
            if let Some(first) = lc.next() {
                push_char(out, &mut pending_space, first);
                out.extend(lc);
            }
        } else {
            push_char(out, &mut pending_space, c);
        }
    }
}

/// How [`fold_words`] treats the few characters that carry structure in addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WordMode {
    /// Names and country names: every non-alphanumeric character is a word break.
    Plain,
    /// Addresses: `,`, `;`, `|` and line breaks separate segments (kept as `,`), and `#` is
    /// kept as a token of its own because it designates a unit ("#4").
    Address,
}

/// Letters that have no canonical decomposition but that people routinely transliterate, and
/// Greek final sigma (upper-casing then lower-casing loses the distinction, so it must go).
#[inline]
fn special_fold(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'þ' => "th",
        'ı' => "i",
        'ħ' => "h",
        'ŧ' => "t",
        'ĸ' => "k",
        'ŋ' => "n",
        'ƒ' => "f",
        'ɨ' => "i",
        'ς' => "σ",
        _ => return None,
    })
}

/// Whether a combining mark after `base` is an accent that people omit or type
/// inconsistently (Latin, Greek, Cyrillic, Armenian, and the optional vowel points of Hebrew
/// and Arabic), as opposed to an essential part of a letter (Indic vowel signs, Thai tones),
/// which is kept so names in those scripts do not collapse into each other.
#[inline]
fn mark_is_droppable(base: char) -> bool {
    (base as u32) < 0x0900 || ('\u{1E00}'..='\u{1FFF}').contains(&base)
}

/// Word folding for names, addresses and country names: NFKD with accents stripped, lower
/// case, [`special_fold`] letters transliterated, apostrophes deleted, any other punctuation,
/// symbol or whitespace run turned into a single space; trimmed. Appends to `out`.
///
/// The result holds only lower-case letters, digits, single spaces (and, in
/// [`WordMode::Address`], `,` and `#`). It is in NFC and a fixed point of this function.
pub(crate) fn fold_words(raw: &str, mode: WordMode, out: &mut String) {
    let mut pending_space = false;
    let sink = |c: char, out: &mut String, pending: &mut bool| {
        if is_apostrophe(c) {
            // Also after decomposition: NFKD turns "ŉ" into U+02BC and "n".
        } else if c.is_alphanumeric() {
            push_char(out, pending, c);
        } else if mode == WordMode::Address && matches!(c, ',' | ';' | '|' | '\n' | '\r') {
            *pending = false;
            out.push(',');
        } else if mode == WordMode::Address && c == '#' {
            *pending = true;
            push_char(out, pending, '#');
            *pending = true;
        } else if c.is_whitespace() || !is_invisible(c) {
            *pending = true;
        }
    };
    if raw.is_ascii() {
        for &b in raw.as_bytes() {
            sink((b as char).to_ascii_lowercase(), out, &mut pending_space);
        }
        return;
    }
    let mut last_base = 'a';
    let mut needs_nfc = false;
    // Apostrophes go before decomposition: NFKD turns U+00B4 into a space and a combining
    // accent, which would become a word break instead of nothing.
    for c in raw
        .chars()
        .filter(|&c| !is_apostrophe(c) && !is_invisible(c))
        .nfkd()
    {
        if is_combining_mark(c) {
            // A kept mark must sit right after its letter, or a second pass would see it after
            // a space and drop it.
            if !mark_is_droppable(last_base) && last_base.is_alphanumeric() && !pending_space {
                needs_nfc = true;
                out.push(c);
            }
            continue;
        }
        // Judge marks by the lower-case letter, which is what the output holds: "Ɦ" (U+A7AA)
        // and its lower case "ɦ" (U+0266) sit in different blocks, and a second pass must
        // make the same decision as the first.
        last_base = c.to_lowercase().next().unwrap_or(c);
        for lc in c.to_lowercase() {
            if let Some(s) = special_fold(lc) {
                for sc in s.chars() {
                    sink(sc, out, &mut pending_space);
                }
            } else {
                if ('\u{1100}'..='\u{11FF}').contains(&lc) {
                    // Hangul syllables decompose into conjoining jamo; they must be recomposed.
                    needs_nfc = true;
                }
                sink(lc, out, &mut pending_space);
            }
        }
    }
    if needs_nfc {
        *out = out.nfc().collect();
    }
}

/// Convenience: [`fold_words`] into a new string.
pub(crate) fn words(raw: &str, mode: WordMode) -> String {
    let mut out = String::with_capacity(raw.len());
    fold_words(raw, mode, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> String {
        let mut out = String::new();
        fold_basic(s, true, &mut out);
        out
    }

    #[test]
    fn basic_fast_path_agrees_with_the_byte_loop() {
        for raw in [
            "John.Doe+x@GMail.com",
            "a",
            "~!@#$%^&*()_+{}|:<>?`-=[]\\;',./",
            "ABC",
        ] {
            for lower in [false, true] {
                let mut fast = "kept ".to_owned();
                fold_basic_once(raw, lower, &mut fast);
                let mut slow = "kept ".to_owned();
                let mut pending = false;
                for c in raw.chars() {
                    push_char(
                        &mut slow,
                        &mut pending,
                        if lower { c.to_ascii_lowercase() } else { c },
                    );
                }
                assert_eq!(fast, slow, "{raw:?} {lower}");
            }
        }
    }

    #[test]
    fn basic_collapses_and_drops_invisibles() {
        assert_eq!(basic("  A\u{200B}b \t\n C\u{0}  "), "ab c");
        assert_eq!(basic("ＪＯＳÉ"), "josé");
        assert_eq!(basic("Jose\u{301}"), "josé");
        assert_eq!(basic("\u{FEFF}\u{202E}abc\u{202C}"), "abc");
        assert_eq!(basic("a\u{3000}b\u{00A0}c"), "a b c");
    }

    #[test]
    fn words_strip_accents_and_punctuation() {
        assert_eq!(words("García-López", WordMode::Plain), "garcia lopez");
        assert_eq!(words("O'Brien", WordMode::Plain), "obrien");
        assert_eq!(words("O´Brien", WordMode::Plain), "obrien");
        assert_eq!(words("Straße", WordMode::Plain), "strasse");
        assert_eq!(
            words("ØRSTED Łukasz Đorđe", WordMode::Plain),
            "orsted lukasz dorde"
        );
        assert_eq!(
            words("ΟΔΥΣΣΕΥΣ", WordMode::Plain),
            words("Οδυσσεύς", WordMode::Plain)
        );
        assert_eq!(words("김민준", WordMode::Plain), "김민준");
        assert_eq!(words("  😀 Ana 😀 ", WordMode::Plain), "ana");
        assert_eq!(
            words("1 Main St., Apt #4", WordMode::Address),
            "1 main st,apt # 4"
        );
    }

    #[test]
    fn words_keep_essential_marks() {
        // Devanagari vowel signs are letters' parts, not accents.
        let ram = words("राम", WordMode::Plain);
        assert_ne!(ram, words("रम", WordMode::Plain));
        assert_eq!(words(&ram, WordMode::Plain), ram);
    }

    #[test]
    fn marks_are_judged_by_the_lower_case_letter() {
        // U+A7AA lower-cases to U+0266, in a block whose accents are droppable.
        let once = words("\u{A7AA}\u{9D7}", WordMode::Plain);
        assert_eq!(once, "\u{266}");
        assert_eq!(words(&once, WordMode::Plain), once);
    }
}
