//! Postal addresses.
//!
//! # The key
//! `street|postal` when a postal code is known, else `street|city`, else `street|`.
//!
//! * Only the street line and **one** locality component are used, because the key must not
//!   change when a source merely omits some components: one system stores city, state,
//!   postal code and country, another only the postal code. A postal code identifies the
//!   locality more precisely than a city name (which has spelling variants, "St. Louis" vs
//!   "Saint Louis", and districts), so it wins whenever present; the city is the fallback.
//!   Subdivision and country never enter the key: the postal code or city plus the street
//!   already tell addresses apart, and a missing country column must not split one address
//!   into two keys.
//! * The street part is folded like a name (accents, case, punctuation), every token is
//!   abbreviated to its USPS-style short form (`street`→`st`, `north`→`n`, `straße`→`str`, …),
//!   runs of single letters are joined (`N.W.` = `N W` = `nw`, `P.O. Box` = `po box`), and unit
//!   designators (`apartment`, `apt`, `unit`, `suite`, `ste`, `#`, `no`, `flat`, `room`) with
//!   their value become `unit N`, moved to the end ("Apt 4, 123 Main St" = "123 Main St #4").
//! * Postal codes are upper-cased without spaces or dashes; nine digits (US ZIP+4) become the
//!   five-digit ZIP. This rule does not look at the country, so it cannot depend on whether
//!   the country is present.
//! * The city is folded like the street; a trailing US state or Canadian province code is
//!   dropped ("Springfield IL" = "Springfield"), and a city value that reads as a postal code
//!   ("10115 Berlin") is used as the postal code.
//!
//! # Single-line addresses
//! A whole address may arrive in `street` ("123 Main St Apt 4, Springfield, IL 62704, USA").
//! It is split on commas (and `;`, `|`, line breaks): the street is the first segment holding
//! a number (a leading building name such as "Rose Cottage" is skipped), unit segments anywhere
//! before the locality are attached to it, a trailing country segment is ignored, a postal
//! code is taken from the locality segments when no postal field is given, and the first
//! locality segment is the city when no city field is given. Without commas only a trailing
//! ZIP/UK/Canadian postal code is recognised, and then the street is cut after its last street
//! suffix (and unit). So the single line keys equal to the same address given in columns
//! whenever it has a postal code or commas; a comma-less line without a postal code keeps its
//! city words in the street part and does not match.
//!
//! Because `|` separates segments, feeding a key back in as a single line returns the same key.

use super::text::{WordMode, fold_words};

/// Defines `abbreviation` as a `match` (compiled to a length switch and a few comparisons:
/// this lookup runs for every token of every address) and, for tests, the same table as data.
macro_rules! abbreviations {
    ($($short:literal <= $($long:literal)|+;)*) => {
        fn abbreviation(token: &str) -> Option<&'static str> {
            match token {
                $($($long)|+ => Some($short),)*
                _ => None,
            }
        }

        #[cfg(test)]
        const ABBREVIATIONS: &[(&str, &[&str])] = &[$(($short, &[$($long),+])),*];
    };
}

// Street-type words, directionals and common address words, and their USPS Publication 28
// style abbreviations. Every abbreviation maps to itself (checked by a test), which makes the
// rewrite idempotent.
abbreviations! {
    "aly" <= "allee" | "alley" | "ally";
    "ave" <= "av" | "aven" | "avenu" | "avenue" | "avn" | "avnue";
    "bldg" <= "building";
    "blvd" <= "boul" | "boulevard" | "boulv";
    "cir" <= "circ" | "circl" | "circle" | "crcl" | "crcle";
    "cl" <= "close";
    "cres" <= "crescent";
    "cswy" <= "causeway";
    "ct" <= "court";
    "ctr" <= "center" | "centre" | "cntr";
    "dr" <= "drive" | "drv";
    "e" <= "east";
    "ests" <= "estates";
    "expy" <= "expressway" | "expw";
    "fl" <= "floor";
    "ft" <= "fort";
    "fwy" <= "freeway" | "frwy";
    "gdn" <= "garden";
    "gdns" <= "gardens";
    "grv" <= "grove";
    "hts" <= "heights";
    "hwy" <= "highway" | "hiway" | "hiwy" | "hway";
    "jct" <= "junction";
    "ln" <= "lane";
    "mt" <= "mount";
    "mtn" <= "mountain";
    "n" <= "north";
    "ne" <= "northeast";
    "nw" <= "northwest";
    "pkwy" <= "parkway" | "parkwy" | "pkway" | "pky";
    "pl" <= "place";
    "plz" <= "plaza" | "plza";
    "pt" <= "point";
    "rd" <= "road";
    "rdg" <= "ridge";
    "rte" <= "route";
    "s" <= "south";
    "se" <= "southeast";
    "sq" <= "sqr" | "squ" | "square";
    "st" <= "saint" | "street";
    "str" <= "strasse";
    "sw" <= "southwest";
    "ter" <= "terrace";
    "tpke" <= "turnpike";
    "trl" <= "trail" | "trails";
    "w" <= "west";
    "xing" <= "crossing";
}

/// Tokens after which a street line ends (used to cut a comma-less single line).
fn is_street_suffix(t: &str) -> bool {
    matches!(
        t,
        "aly"
            | "ave"
            | "blvd"
            | "cir"
            | "cl"
            | "cres"
            | "ct"
            | "ctr"
            | "cswy"
            | "dr"
            | "expy"
            | "fwy"
            | "hwy"
            | "ln"
            | "loop"
            | "pike"
            | "pkwy"
            | "pl"
            | "plz"
            | "rd"
            | "rte"
            | "sq"
            | "st"
            | "str"
            | "ter"
            | "tpke"
            | "trl"
            | "way"
            | "xing"
    )
}

/// Words that introduce a unit number.
fn is_unit_designator_word(t: &str) -> bool {
    matches!(
        t,
        "apartment" | "apt" | "unit" | "suite" | "ste" | "no" | "nr" | "flat" | "room" | "rm" | "#"
    )
}

/// US state and Canadian province codes, removed from the end of a city taken from a
/// single line ("Springfield IL" is the city "springfield").
fn is_state_code(t: &str) -> bool {
    matches!(
        t,
        "ab" | "ak"
            | "al"
            | "ar"
            | "az"
            | "bc"
            | "ca"
            | "co"
            | "ct"
            | "dc"
            | "de"
            | "fl"
            | "ga"
            | "hi"
            | "ia"
            | "id"
            | "il"
            | "in"
            | "ks"
            | "ky"
            | "la"
            | "ma"
            | "mb"
            | "md"
            | "me"
            | "mi"
            | "mn"
            | "mo"
            | "ms"
            | "mt"
            | "nb"
            | "nc"
            | "nd"
            | "ne"
            | "nh"
            | "nj"
            | "nl"
            | "nm"
            | "ns"
            | "nt"
            | "nu"
            | "nv"
            | "ny"
            | "oh"
            | "ok"
            | "on"
            | "or"
            | "pa"
            | "pe"
            | "pr"
            | "qc"
            | "ri"
            | "sc"
            | "sd"
            | "sk"
            | "tn"
            | "tx"
            | "ut"
            | "va"
            | "vt"
            | "wa"
            | "wi"
            | "wv"
            | "wy"
            | "yt"
    )
}

fn abbreviate(token: &str) -> &str {
    if token.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return token;
    }
    match abbreviation(token) {
        Some(short) => short,
        // German compounds: "hauptstrasse" (from "Hauptstraße") is "hauptstr".
        None => match token.strip_suffix("strasse") {
            Some(stem) if !stem.is_empty() => &token[..stem.len() + 3],
            _ => token,
        },
    }
}

fn is_unit_designator(t: &str) -> bool {
    is_unit_designator_word(t)
}

/// A unit value is a number-like token ("4", "4b", "12a") or a single character ("b").
/// Requiring this keeps "Ste Catherine" and "Unit Road" as street words.
fn is_unit_value(t: &str) -> bool {
    t.bytes().any(|b| b.is_ascii_digit()) || t.chars().count() == 1
}

/// One token of a segment, after abbreviation.
type Tokens<'a> = Vec<&'a str>;

/// Splits `tokens` into street words and unit values, reporting each to a callback (the
/// predicates below use it without allocating). Designators without a usable value are
/// dropped; several designators in a row ("Apt. No. 4", "Apt #4") share one value.
fn scan_units<'a>(
    tokens: &[&'a str],
    mut on_word: impl FnMut(&'a str),
    mut on_unit: impl FnMut(&'a str),
) {
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        if is_unit_designator(t) {
            let mut j = i + 1;
            while j < tokens.len() && is_unit_designator(tokens[j]) {
                j += 1;
            }
            if let Some(&v) = tokens.get(j)
                && is_unit_value(v)
            {
                on_unit(v);
                i = j + 1;
                continue;
            }
            if t == "#" || j > i + 1 {
                i = j;
                continue;
            }
        }
        on_word(t);
        i += 1;
    }
}

fn take_units<'a>(tokens: &[&'a str], words: &mut Tokens<'a>, units: &mut Tokens<'a>) {
    scan_units(tokens, |w| words.push(w), |u| units.push(u));
}

/// Whether a segment starts with a unit designator and value ("Apt 4", "#4", "Suite 200").
fn is_unit_segment(tokens: &[&str]) -> bool {
    if !tokens.first().is_some_and(|t| is_unit_designator(t)) {
        return false;
    }
    let mut found = false;
    scan_units(&tokens[..tokens.len().min(3)], |_| {}, |_| found = true);
    found
}

fn all_digits(t: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
}

fn is_uk_outward(t: &str) -> bool {
    let b = t.as_bytes();
    (2..=4).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().all(u8::is_ascii_alphanumeric)
}

fn is_uk_inward(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 3 && b[0].is_ascii_digit() && b[1].is_ascii_lowercase() && b[2].is_ascii_lowercase()
}

fn is_ca_half(t: &str, letter_first: bool) -> bool {
    let b = t.as_bytes();
    b.len() == 3
        && b.iter().enumerate().all(|(i, c)| {
            if (i % 2 == 0) == letter_first {
                c.is_ascii_lowercase()
            } else {
                c.is_ascii_digit()
            }
        })
}

/// A postal code written as one token: digits, or letters and digits mixed the way UK,
/// Canadian, Dutch and similar codes are ("sw1a1aa", "k1a0b1", "1012ab").
fn is_compact_postal(t: &str) -> bool {
    (3..=10).contains(&t.len())
        && t.bytes().all(|b| b.is_ascii_alphanumeric())
        && t.bytes().any(|b| b.is_ascii_digit())
}

/// Finds a postal code in a locality segment. Returns the code (joined, not yet upper-cased)
/// and the token range it occupies.
fn postal_in_segment(tokens: &[&str]) -> Option<(String, usize, usize)> {
    let n = tokens.len();
    if n == 0 {
        return None;
    }
    if n == 1 && is_compact_postal(tokens[0]) {
        return Some((tokens[0].to_owned(), 0, 1));
    }
    let last = tokens[n - 1];
    if n >= 2 {
        let prev = tokens[n - 2];
        // ZIP+4 written with a dash or space: "62704-1234".
        if all_digits(prev, 5..=5) && all_digits(last, 4..=4) {
            return Some((prev.to_owned(), n - 2, n));
        }
        // UK "sw1a 1aa", Canada "k1a 0b1", Japan "123 4567", Netherlands "1012 ab".
        if (is_uk_outward(prev) && is_uk_inward(last))
            || (is_ca_half(prev, true) && is_ca_half(last, false))
            || (all_digits(prev, 3..=3) && all_digits(last, 4..=4))
        {
            return Some((format!("{prev}{last}"), n - 2, n));
        }
        if all_digits(tokens[0], 4..=4)
            && tokens[1].len() == 2
            && tokens[1].bytes().all(|b| b.is_ascii_lowercase())
            && !is_state_code(tokens[1])
        {
            return Some((format!("{}{}", tokens[0], tokens[1]), 0, 2));
        }
    }
    // "il 62704", "sydney nsw 2000", "bengaluru 560001", "k1a0b1".
    if all_digits(last, 4..=6)
        || all_digits(last, 9..=9)
        || (n > 1 && is_compact_postal(last) && last.len() >= 5)
    {
        return Some((last.to_owned(), n - 1, n));
    }
    // Continental order: "10115 berlin", "75001 paris".
    if all_digits(tokens[0], 4..=5) {
        return Some((tokens[0].to_owned(), 0, 1));
    }
    None
}

/// A trailing postal code on a comma-less line: US ZIP (+4), UK or Canadian forms only, since
/// any other trailing number could be a house number ("Hauptstr 5").
fn postal_at_end_of_line(tokens: &[&str]) -> Option<(String, usize)> {
    let n = tokens.len();
    let last = *tokens.last()?;
    let prev = if n >= 2 { tokens[n - 2] } else { "" };
    if all_digits(prev, 5..=5) && all_digits(last, 4..=4) {
        return Some((prev.to_owned(), n - 2));
    }
    if (is_uk_outward(prev) && is_uk_inward(last))
        || (is_ca_half(prev, true) && is_ca_half(last, false))
    {
        return Some((format!("{prev}{last}"), n - 2));
    }
    if all_digits(last, 5..=5) || all_digits(last, 9..=9) {
        return Some((last.to_owned(), n - 1));
    }
    None
}

/// Where a street line that runs on into its locality ends: after the last street suffix
/// (not the first token), plus a following unit designator and value.
fn street_end_in_line(toks: &[&str]) -> Option<usize> {
    let s = toks
        .iter()
        .rposition(|t| is_street_suffix(t))
        .filter(|&s| s >= 1)?;
    let mut end = s + 1;
    if toks.get(end).is_some_and(|t| is_unit_designator(t)) {
        end += 1;
        while toks.get(end).is_some_and(|t| is_unit_designator(t)) {
            end += 1;
        }
        if toks.get(end).is_some_and(|t| is_unit_value(t)) {
            end += 1;
        }
    }
    Some(end)
}

fn has_digit_token(t: &str) -> bool {
    t.bytes().any(|b| b.is_ascii_digit())
}

/// Whether a segment has any street word besides unit designators and values.
fn has_words(seg: &[&str]) -> bool {
    let mut found = false;
    scan_units(seg, |t| found |= !is_unit_designator(t), |_| {});
    found
}

fn has_digit(seg: &[&str]) -> bool {
    seg.iter().any(|t| has_digit_token(t))
}

/// Words that start a street name in languages that put the street type first.
fn is_leading_street_word(t: &str) -> bool {
    matches!(
        t,
        "ave" | "avenida" | "blvd" | "calle" | "carrer" | "po" | "rua" | "rue" | "strada" | "via"
    )
}

/// Whether a segment reads like a street line rather than a locality: a street suffix after
/// the first token ("1234 High St"; but "St Louis" is a city), a leading street-type word
/// ("rue de …"), or a German compound ending in "str". Such segments are never searched for a
/// postal code, so a house number is never mistaken for one.
fn is_street_like(seg: &[&str]) -> bool {
    seg.iter().skip(1).any(|t| is_street_suffix(t))
        || seg.first().is_some_and(|t| is_leading_street_word(t))
        || seg.iter().any(|t| t.len() > 3 && t.ends_with("str"))
}

/// Upper-case, alphanumerics only, ZIP+4 → ZIP.
fn finish_postal(raw: &str) -> Option<String> {
    let mut p: String = if raw.is_ascii() {
        // The same, byte by byte: nearly every postal code.
        raw.bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| char::from(b.to_ascii_uppercase()))
            .collect()
    } else {
        raw.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_uppercase)
            .collect()
    };
    if p.len() == 9 && p.bytes().all(|b| b.is_ascii_digit()) {
        p.truncate(5);
    }
    (!p.is_empty()).then_some(p)
}

/// Normalises a postal code field the same way as one found inside a single line.
fn postal_field(raw: &str) -> Option<String> {
    let mut folded = String::with_capacity(raw.len());
    fold_words(raw, WordMode::Plain, &mut folded);
    finish_postal(&folded)
}

/// Folds a locality (city) into space-separated abbreviated tokens.
fn locality(tokens: &[&str], out: &mut String) {
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(abbreviate(t));
    }
}

/// Joins runs of single-letter tokens inside each segment ("n w" → "nw", "p o box" →
/// "po box"), before abbreviation and unit detection so a joined word is treated exactly like
/// the same word typed without spaces.
fn join_single_letters(folded: &str) -> String {
    let mut out = String::with_capacity(folded.len());
    for (si, seg) in folded.split(',').enumerate() {
        if si > 0 {
            out.push(',');
        }
        let mut prev_single = false;
        let mut first = true;
        for t in seg.split(' ').filter(|t| !t.is_empty()) {
            let s = is_single_letter(t);
            if !(first || (s && prev_single)) {
                out.push(' ');
            }
            out.push_str(t);
            prev_single = s;
            first = false;
        }
    }
    out
}

fn is_single_letter(t: &str) -> bool {
    let mut c = t.chars();
    c.next().is_some_and(char::is_alphabetic) && c.next().is_none()
}

/// Writes the street words. Taking the units out can leave single letters next to each
/// other ("A #4 B" → "a b"); they are joined and abbreviated exactly as a second pass over
/// the key would, and a trailing designator without a value (which a second pass would read
/// as the designator of the moved units) is dropped. Repeated until nothing changes, so the
/// key is a fixed point. The common case (no adjacent single letters, no trailing
/// designator) writes the borrowed words directly.
fn push_words(words: &[&str], out: &mut String) {
    let adjacent_singles = words
        .windows(2)
        .any(|w| is_single_letter(w[0]) && is_single_letter(w[1]));
    let trailing = words.last().is_some_and(|t| is_unit_designator(t));
    if !adjacent_singles && !trailing {
        for t in words {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(t);
        }
        return;
    }
    let mut ws: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    loop {
        let before = ws.len();
        let mut joined: Vec<String> = Vec::with_capacity(ws.len());
        let mut i = 0;
        while i < ws.len() {
            let mut j = i;
            while j < ws.len() && is_single_letter(&ws[j]) {
                j += 1;
            }
            if j > i + 1 {
                joined.push(abbreviate(&ws[i..j].concat()).to_owned());
                i = j;
            } else {
                joined.push(std::mem::take(&mut ws[i]));
                i += 1;
            }
        }
        ws = joined;
        while ws.last().is_some_and(|t| is_unit_designator(t)) {
            ws.pop();
        }
        if ws.len() == before {
            break;
        }
    }
    for t in &ws {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(t);
    }
}

/// Normalises a postal address into a key; see the `normalize::address` module source for the key
/// layout and the single-line rules.
///
/// `street` may be a street line or a whole address on one line. `subdivision` and `country`
/// are accepted so every caller passes all components and the choice of what enters the key
/// stays here; they do not enter the key (see the module docs for why).
///
/// Returns `None` when `street` is absent or holds nothing usable.
pub fn address(
    street: Option<&str>,
    city: Option<&str>,
    subdivision: Option<&str>,
    postal: Option<&str>,
    country: Option<&str>,
) -> Option<String> {
    // Deliberately unused, see above.
    let _ = (subdivision, country);
    let mut folded = String::with_capacity(street?.len() + 8);
    fold_words(street?, WordMode::Address, &mut folded);
    // Runs of single letters are joined after abbreviation ("South West" → "s w" → "sw") and
    // the joined words abbreviated again below. Only lines that have a single-letter word
    // pay for the rewrite.
    if folded
        .split([' ', ','])
        .any(|t| t.chars().count() == 1 || matches!(t, "north" | "south" | "east" | "west"))
    {
        let mut abbreviated = String::with_capacity(folded.len());
        for (i, seg) in folded.split(',').enumerate() {
            if i > 0 {
                abbreviated.push(',');
            }
            for (j, t) in seg.split(' ').filter(|t| !t.is_empty()).enumerate() {
                if j > 0 {
                    abbreviated.push(' ');
                }
                abbreviated.push_str(abbreviate(t));
            }
        }
        folded = join_single_letters(&abbreviated);
    }
    let mut segments: Vec<Tokens<'_>> = folded
        .split(',')
        .map(|seg| {
            seg.split(' ')
                .filter(|t| !t.is_empty())
                .map(abbreviate)
                .collect::<Tokens<'_>>()
        })
        .filter(|seg| !seg.is_empty())
        .collect();
    if segments.is_empty() {
        return None;
    }
    // A trailing country segment ("…, USA") is neither street nor city. Only from the third
    // segment on: in "Main St, Jordan" the second segment is more likely a town.
    if segments.len() >= 3
        && super::country::country(&segments[segments.len() - 1].join(" ")).is_some()
    {
        segments.pop();
    }

    let mut line_postal: Option<String> = None;
    let mut postal_seg: Option<usize> = None;
    for i in (1..segments.len()).rev() {
        if is_street_like(&segments[i]) || is_unit_segment(&segments[i]) {
            continue;
        }
        if let Some((code, from, to)) = postal_in_segment(&segments[i]) {
            line_postal = Some(code);
            segments[i].drain(from..to);
            postal_seg = Some(i);
            break;
        }
    }
    if postal_seg.is_none() {
        // A comma-less line (or a last segment that runs street and locality together):
        // only a trailing ZIP/UK/Canadian code is recognised, and the street is cut after its
        // last street suffix plus a following unit, so "… St Apt 4 Springfield IL 62704"
        // keeps "… St Apt 4". Without a suffix nothing is cut or extracted: the trailing
        // number may belong to the street.
        let last = segments.len() - 1;
        if let Some((code, at)) = postal_at_end_of_line(&segments[last])
            && let Some(end) = street_end_in_line(&segments[last][..at])
        {
            line_postal = Some(code);
            segments[last].truncate(end);
        }
    }
    let locality_end = postal_seg.unwrap_or(segments.len());

    // The street: the first segment before the locality that holds a digit and is not a unit
    // segment ("Rose Cottage, 12 High St" → "12 High St"); else the first non-unit segment.
    let candidates = &segments[..locality_end];
    let streetish = |s: &Tokens<'_>| !is_unit_segment(s) && has_words(s);
    let street_idx = candidates
        .iter()
        .position(|s| streetish(s) && has_digit(s))
        .or_else(|| candidates.iter().position(streetish))
        .unwrap_or(0);
    let mut street_end = street_idx + 1;
    // "12, rue de l'Église, Paris": a bare house number followed by the street name. Only
    // when a locality still follows, so that a key "12|paris" reads back as itself.
    if segments[street_idx].iter().all(|t| has_digit_token(t))
        && street_end < locality_end
        && (postal_seg.is_some() || street_end + 1 < segments.len())
        && !is_unit_segment(&segments[street_end])
    {
        street_end += 1;
    }
    let mut words: Tokens<'_> = Vec::new();
    let mut units: Tokens<'_> = Vec::new();
    for (i, seg) in segments.iter().enumerate().take(locality_end) {
        if (street_idx..street_end).contains(&i) {
            take_units(seg, &mut words, &mut units);
        } else if (i < street_idx || i == street_end) && is_unit_segment(seg) {
            let mut ignored = Vec::new();
            take_units(&seg[..seg.len().min(3)], &mut ignored, &mut units);
        }
    }
    let mut key = String::with_capacity(folded.len() + 16);
    push_words(&words, &mut key);
    for u in &units {
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str("unit ");
        key.push_str(u);
    }
    if key.is_empty() {
        return None;
    }
    key.push('|');
    if let Some(p) = postal
        .and_then(postal_field)
        .or_else(|| line_postal.as_deref().and_then(finish_postal))
    {
        key.push_str(&p);
        return Some(key);
    }
    let folded_city: String;
    let city_tokens: Option<Tokens<'_>> = match city {
        Some(c) => {
            let mut f = String::with_capacity(c.len());
            fold_words(c, WordMode::Plain, &mut f);
            folded_city = f;
            Some(
                folded_city
                    .split(' ')
                    .filter(|t| !t.is_empty())
                    .map(abbreviate)
                    .collect(),
            )
        }
        // The first locality segment of a single line.
        None => segments
            .iter()
            .skip(street_end)
            .find(|s| !s.is_empty() && !is_unit_segment(s))
            .cloned(),
    };
    if let Some(mut toks) = city_tokens {
        // A trailing state or province code is not part of the city ("Springfield IL").
        while toks.len() > 1 && toks.last().is_some_and(|t| is_state_code(t)) {
            toks.pop();
        }
        // A "city" that reads as a postal code is used as one: a key holding it must read
        // back the same way, and "10115 Berlin" in a city column does name the postal code.
        match postal_in_segment(&toks).and_then(|(code, _, _)| finish_postal(&code)) {
            Some(p) => key.push_str(&p),
            None => locality(&toks, &mut key),
        }
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The ASCII path of `finish_postal` gives what the general one gives.
        #[test]
        fn ascii_postal_codes_finish_as_any_text_does(raw in "[ -~]{0,14}") {
            let general: String = raw
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_uppercase)
                .collect();
            let want = if general.len() == 9 && general.bytes().all(|b| b.is_ascii_digit()) {
                general[..5].to_owned()
            } else {
                general
            };
            proptest::prop_assert_eq!(finish_postal(&raw), (!want.is_empty()).then_some(want));
        }
    }

    fn one(line: &str) -> Option<String> {
        address(Some(line), None, None, None, None)
    }

    #[test]
    fn abbreviations_are_stable() {
        for (short, longs) in ABBREVIATIONS {
            assert_eq!(abbreviate(short), *short);
            for long in *longs {
                assert_eq!(abbreviate(long), *short);
            }
        }
    }

    #[test]
    fn spellings_of_one_street_agree() {
        let want = Some("123 n main st unit 4|62704".to_owned());
        for street in [
            "123 North Main Street, Apt 4",
            "123 N. Main St. Apt. 4",
            "123 n main st #4",
            "123 N Main St Unit 4",
            "123 N MAIN STREET SUITE 4",
            "123 N Main St Ste 4",
            "123 N Main St Apt. No. 4",
            "123 N Main St Apt #4",
            "Apt 4, 123 North Main Street",
            "123 N Main St\nApt 4",
            "  123   N   Main   St   apt   4  ",
        ] {
            assert_eq!(
                address(
                    Some(street),
                    Some("Springfield"),
                    Some("IL"),
                    Some("62704-1234"),
                    Some("US")
                ),
                want,
                "{street}"
            );
        }
    }

    #[test]
    fn presence_of_other_components_does_not_matter() {
        let want = Some("123 main st|62704".to_owned());
        assert_eq!(
            address(Some("123 Main St"), None, None, Some("62704"), None),
            want
        );
        assert_eq!(
            address(
                Some("123 Main St"),
                Some("Springfield"),
                None,
                Some("62704"),
                None
            ),
            want
        );
        assert_eq!(
            address(
                Some("123 Main St"),
                Some("Springfield"),
                Some("Illinois"),
                Some("62704 1234"),
                Some("United States")
            ),
            want
        );
        let by_city = Some("123 main st|springfield".to_owned());
        assert_eq!(
            address(Some("123 Main St"), Some("Springfield"), None, None, None),
            by_city
        );
        assert_eq!(
            address(
                Some("123 Main St"),
                Some("SPRINGFIELD"),
                Some("IL"),
                None,
                Some("US")
            ),
            by_city
        );
        assert_eq!(
            address(Some("123 Main St"), None, None, None, None),
            Some("123 main st|".to_owned())
        );
    }

    #[test]
    fn single_lines_match_columns() {
        let cols = address(
            Some("123 Main St Apt 4"),
            Some("Springfield"),
            Some("IL"),
            Some("62704"),
            Some("US"),
        );
        for line in [
            "123 Main St Apt 4, Springfield, IL 62704",
            "123 Main St Apt 4, Springfield, IL 62704-1234, USA",
            "123 Main Street, Apartment 4, Springfield, Illinois 62704",
            "123 Main St Apt 4 Springfield IL 62704",
            "123 Main St #4 Springfield IL 62704-1234",
            "123 main st unit 4|62704",
        ] {
            assert_eq!(one(line), cols, "{line}");
        }
        // Without a postal code, commas still let the city be found.
        assert_eq!(
            one("123 Main St, Springfield, IL"),
            address(Some("123 Main St"), Some("Springfield"), None, None, None)
        );
        assert_eq!(
            one("123 Main St, Springfield IL"),
            address(Some("123 Main St"), Some("Springfield"), None, None, None)
        );
    }

    #[test]
    fn international() {
        let de = address(
            Some("Hauptstraße 5"),
            Some("Berlin"),
            None,
            Some("10115"),
            Some("DE"),
        );
        assert_eq!(de.as_deref(), Some("hauptstr 5|10115"));
        assert_eq!(
            address(Some("Hauptstr. 5"), None, None, Some("10115"), None),
            de
        );
        assert_eq!(
            address(Some("HAUPTSTRASSE 5"), None, None, Some("10115"), None),
            de
        );
        assert_eq!(one("Hauptstraße 5, 10115 Berlin, Deutschland"), de);
        assert_eq!(
            address(
                Some("Konrad-Adenauer-Straße 1"),
                None,
                None,
                Some("53113"),
                None
            ),
            address(
                Some("Konrad Adenauer Str 1"),
                None,
                None,
                Some("53113"),
                None
            )
        );
        let uk = address(
            Some("10 Downing Street"),
            Some("London"),
            None,
            Some("SW1A 2AA"),
            Some("GB"),
        );
        assert_eq!(uk.as_deref(), Some("10 downing st|SW1A2AA"));
        assert_eq!(one("10 Downing St, London SW1A 2AA, United Kingdom"), uk);
        assert_eq!(one("10 Downing St London SW1A 2AA"), uk);
        assert_eq!(
            one("Flat 3, Rose Court, 12 High St, London, SW1A 1AA"),
            Some("12 high st unit 3|SW1A1AA".to_owned())
        );
        let ca = address(
            Some("24 Sussex Dr"),
            Some("Ottawa"),
            Some("ON"),
            Some("K1M 1M4"),
            Some("CA"),
        );
        assert_eq!(one("24 Sussex Drive, Ottawa ON K1M 1M4"), ca);
        let fr = address(
            Some("12 Rue de l'Église"),
            Some("Paris"),
            None,
            Some("75001"),
            None,
        );
        assert_eq!(fr.as_deref(), Some("12 rue de leglise|75001"));
        assert_eq!(
            one("12, rue de l’Eglise, 75001 Paris, France").as_deref(),
            Some("12 rue de leglise|75001")
        );
        assert_eq!(
            address(
                Some("Rue Ste-Catherine 5"),
                None,
                None,
                Some("H2X 1K4"),
                None
            )
            .as_deref(),
            Some("rue ste catherine 5|H2X1K4")
        );
        assert_eq!(
            address(Some("1-2-3 Shibuya"), None, None, Some("150-0002"), None).as_deref(),
            Some("1 2 3 shibuya|1500002")
        );
    }

    #[test]
    fn po_boxes_and_directionals() {
        let want = address(Some("PO Box 123"), None, None, Some("12345"), None);
        assert_eq!(want.as_deref(), Some("po box 123|12345"));
        for s in ["P.O. Box 123", "p o box 123", "P. O. BOX 123"] {
            assert_eq!(
                address(Some(s), None, None, Some("12345"), None),
                want,
                "{s}"
            );
        }
        assert_eq!(
            address(Some("500 N.W. 1st Ave"), None, None, Some("33101"), None),
            address(
                Some("500 Northwest 1st Avenue"),
                None,
                None,
                Some("33101"),
                None
            )
        );
    }

    #[test]
    fn absent_or_garbage() {
        assert_eq!(
            address(
                None,
                Some("Springfield"),
                Some("IL"),
                Some("62704"),
                Some("US")
            ),
            None
        );
        assert_eq!(address(Some(""), None, None, None, None), None);
        assert_eq!(address(Some(",,, ;"), None, None, None, None), None);
        assert_eq!(address(Some("😀 🏠"), None, None, None, None), None);
        assert_eq!(address(Some("#"), None, None, None, None), None);
        assert!(
            address(
                Some("1 Main St'; DROP TABLE addresses;--"),
                None,
                None,
                None,
                None
            )
            .is_some()
        );
    }

    #[test]
    fn normalised_single_lines_are_stable() {
        for line in [
            "123 Main St Apt 4, Springfield, IL 62704",
            "Hauptstraße 5, 10115 Berlin",
            "10 Downing St, London SW1A 2AA",
            "Flat 3, Rose Court, 12 High St, London, SW1A 1AA",
            "123 Main St, Springfield",
            "Main Street",
            "PO Box 7",
        ] {
            let k = one(line).unwrap_or_default();
            assert_eq!(one(&k).as_deref(), Some(k.as_str()), "{line}");
        }
    }
}
