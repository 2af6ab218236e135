//! Phone numbers, in E.164.

use std::fmt::Write as _;

use phonenumber::PhoneNumber;
use phonenumber::country::{Id, Source};
use phonenumber::metadata::DATABASE;

const INVALID: &str = "invalid_phone";

/// The longest digit string handed to the parser. A valid number has at most 15 digits in
/// E.164; written with an international dialling prefix (at most 5 digits) and a stray trunk
/// prefix it stays under 24, so this bound changes no result and caps the parser's work.
const MAX_DIGITS: usize = 24;

/// Maps the decimal digits people paste (ASCII, full-width, Arabic-Indic, Persian) to ASCII.
fn ascii_digit(c: char) -> Option<u8> {
    let v = match c {
        '0'..='9' => c as u32 - '0' as u32,
        '\u{FF10}'..='\u{FF19}' => c as u32 - 0xFF10,
        '\u{0660}'..='\u{0669}' => c as u32 - 0x0660,
        '\u{06F0}'..='\u{06F9}' => c as u32 - 0x06F0,
        _ => return None,
    };
    Some(b'0' + v as u8)
}

/// Separators that appear inside written phone numbers.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || super::text::is_invisible(c)
        || matches!(
            c,
            '-' | '.' | '(' | ')' | '/' | '[' | ']' | '~' | '\u{2010}'
                ..='\u{2015}'
                    | '\u{2212}'
                    | '\u{30FC}'
                    | '\u{FF08}'
                    | '\u{FF09}'
                    | '\u{FF0D}'
                    | '\u{FF0E}'
                    | '\u{FF0F}'
        )
}

/// Reduces a written number to `+?[0-9]*` and returns whether it passed the shape checks.
///
/// Doing this ourselves, instead of handing arbitrary text to the `phonenumber` parser, is
/// both faster and safer: that parser has had panics on odd input, and a key function on the
/// ingest path must not panic. What is accepted: an optional `tel:` prefix, one leading `+`,
/// digits with the usual separators, and an extension (`x`, `ext`, `ext.`, `extension`, `#`,
/// `;ext=`) whose digits are dropped: E.164 has no extensions, and a switchboard number shared
/// by many accounts is exactly what the graph should see. Letters anywhere else (vanity
/// numbers such as 1-800-FLOWERS) are rejected rather than guessed.
fn sanitize(raw: &str, out: &mut String) -> bool {
    let s = raw.trim();
    let s = match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("tel:") => &s[4..],
        _ => s,
    };
    let mut digits = 0;
    for (i, c) in s.char_indices() {
        if let Some(d) = ascii_digit(c) {
            digits += 1;
            if digits > MAX_DIGITS {
                return false;
            }
            out.push(d as char);
        } else if c == '+' || c == '\u{FF0B}' {
            if !out.is_empty() {
                return false;
            }
            out.push('+');
        } else if !is_separator(c) {
            // Anything else may only start an extension.
            let rest = &s[i..];
            let marker = ["extension", ";ext=", "ext.", "ext", "x", "#", ","]
                .into_iter()
                .find(|m| {
                    rest.get(..m.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(m))
                });
            let Some(marker) = marker else { return false };
            let ext = &rest[marker.len()..];
            return ext
                .chars()
                .all(|c| ascii_digit(c).is_some() || is_separator(c));
        }
    }
    true
}

/// Parses and validates a phone number and returns it in E.164 (`+14155552671`).
///
/// `region` is the ISO 3166-1 alpha-2 country used for numbers written without a country code
/// (the record's country, or the deployment default); numbers written with `+` or an
/// international dialling prefix valid in that region (`011…` in the US, `00…` in Europe) keep
/// their own country. An unknown region is ignored (only `+` numbers then parse).
///
/// # Errors
/// `"invalid_phone"` when the text is not a phone number of the accepted shape (see the
/// module source for the exact shape), cannot be parsed, or is not a valid number for its
/// country according to libphonenumber's metadata (`is_valid`: right length and a number range
/// that is actually assigned).
pub fn phone(raw: &str, region: &str) -> Result<String, &'static str> {
    let mut digits = String::with_capacity(24);
    if !sanitize(raw, &mut digits) {
        return Err(INVALID);
    }
    if digits.len() <= 1 {
        return Err(INVALID);
    }
    if let Some(fast) = nanp::fast_path(&digits, region) {
        return Ok(fast);
    }
    // A number written with "+" is parsed without a region: the parser applies the given
    // region's national-prefix rules even to foreign numbers, so "+39 06 6982 1234" on a
    // German record would lose the Italian leading zero and come out invalid (or, worse, as a
    // different valid number). The same number must give the same key on every record.
    let region = if digits.starts_with('+') {
        None
    } else {
        region_id(region)
    };
    let mut number = phonenumber::parse(region, &digits).map_err(|_| INVALID)?;
    if number.code().source() == Source::Idd {
        // Same problem for "0039 06 …" dialled from Germany: re-read it as "+39 06 …".
        if let Some(n) = reparse_after_idd(&digits, number.code().value()) {
            number = n;
        }
    }
    if !phonenumber::is_valid(&number) {
        return Err(INVALID);
    }
    let mut out = String::with_capacity(16);
    // Written by hand: the crate's E.164 `Display` is the same text but returns `fmt::Error`
    // (which `to_string` turns into a panic) when metadata is missing.
    let _ = write!(out, "+{}{}", number.code().value(), number.national());
    Ok(out)
}

/// Re-parses a number that was dialled with an international prefix (IDD) as `+` followed by
/// what comes after the prefix. The prefix length is found by trying the shortest one after
/// which the country code follows and the number is valid (IDDs are 2–5 digits).
fn reparse_after_idd(digits: &str, code: u16) -> Option<PhoneNumber> {
    let cc = code.to_string();
    (1..=5).find_map(|p| {
        let rest = digits.get(p..)?;
        if !rest.starts_with(&cc) {
            return None;
        }
        let n = phonenumber::parse(None, format!("+{rest}")).ok()?;
        (n.code().value() == code && phonenumber::is_valid(&n)).then_some(n)
    })
}

/// The parser's region id, only when the metadata has that region: the parser unwraps the
/// metadata lookup of the region it is given, so an unknown one must never reach it.
pub(crate) fn region_id(region: &str) -> Option<Id> {
    let id: Id = region.trim().to_ascii_uppercase().parse().ok()?;
    DATABASE.by_id(id.as_ref()).map(|_| id)
}

/// A fast path for North American (+1) numbers, the bulk of most US data: `phonenumber`
/// consults a 100-entry regex cache behind one global mutex, keyed by hashing each (long)
/// pattern, and recompiles patterns as the 25 NANP regions evict each other, which makes a
/// number cost 10–40 µs. Here the same metadata patterns are compiled once and the same
/// validity rules are applied.
///
/// Only a number this path finds **valid** is answered here; anything else (an invalid
/// number, another shape) goes through `phonenumber` as before, so a disagreement could only
/// ever accept a number the crate rejects. A property test compares both on random numbers.
mod nanp {
    use std::sync::OnceLock;

    use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
    use regex::Regex;

    struct Desc {
        re: Regex,
        lengths: Vec<u16>,
    }

    /// Compiled as the crate compiles its metadata patterns (whitespace in them is
    /// insignificant), anchored at the first digit as the crate's matches are.
    fn compile(pattern: &str) -> Option<Regex> {
        regex::RegexBuilder::new(&format!("^(?:{pattern})"))
            .ignore_whitespace(true)
            .build()
            .ok()
    }

    impl Desc {
        fn new(d: &Descriptor) -> Option<Desc> {
            Some(Desc {
                // The crate accepts a match that starts at the first digit.
                re: compile(d.national_number().as_str())?,
                lengths: d.possible_length().to_vec(),
            })
        }

        fn is_match(&self, national: &str) -> bool {
            (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
                && self.re.is_match(national)
        }
    }

    struct Region {
        leading: Option<Regex>,
        general: Desc,
        /// Every type whose match makes a number valid (premium rate, toll free, shared cost,
        /// VoIP, personal, pager, UAN, voicemail, fixed line, mobile).
        types: Vec<Desc>,
    }

    impl Region {
        fn new(m: &Metadata) -> Option<Region> {
            let d = m.descriptors();
            let types = [
                d.premium_rate(),
                d.toll_free(),
                d.shared_cost(),
                d.voip(),
                d.personal_number(),
                d.pager(),
                d.uan(),
                d.voicemail(),
                d.fixed_line(),
                d.mobile(),
            ]
            .into_iter()
            .flatten()
            .map(Desc::new)
            .collect::<Option<Vec<_>>>()?;
            let leading = match m.leading_digits() {
                Some(l) => Some(compile(l.as_str())?),
                None => None,
            };
            Some(Region {
                leading,
                general: Desc::new(d.general())?,
                types,
            })
        }

        /// The crate's `number_type(..) != Unknown`.
        fn is_valid(&self, national: &str) -> bool {
            self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
        }
    }

    struct Nanp {
        /// Region ids with country code 1, in the crate's order.
        ids: Vec<String>,
        regions: Vec<Region>,
    }

    fn nanp() -> Option<&'static Nanp> {
        static NANP: OnceLock<Option<Nanp>> = OnceLock::new();
        NANP.get_or_init(|| {
            let ids: Vec<String> = DATABASE
                .region(&1)?
                .into_iter()
                .map(str::to_owned)
                .collect();
            let regions = ids
                .iter()
                .map(|id| Region::new(DATABASE.by_id(id.as_str())?))
                .collect::<Option<Vec<_>>>()?;
            Some(Nanp { ids, regions })
        })
        .as_ref()
    }

    /// The crate's `is_valid` for country code 1: the region is the first whose leading
    /// digits match (that region decides, valid or not), or without leading digits the first
    /// in which the number is valid.
    pub(super) fn is_valid(national: &str) -> bool {
        let Some(n) = nanp() else { return false };
        for r in &n.regions {
            match &r.leading {
                Some(l) if l.is_match(national) => return r.is_valid(national),
                Some(_) => {}
                None if r.is_valid(national) => return true,
                None => {}
            }
        }
        false
    }

    /// `Some(E.164)` for a valid North American number written `+1` and ten digits, or in a
    /// NANP region as ten digits (optionally after a leading `1`) starting with 2–9.
    pub(super) fn fast_path(digits: &str, region: &str) -> Option<String> {
        let national = match digits.strip_prefix("+1") {
            Some(rest) => rest,
            None => {
                let n = nanp()?;
                let region = region.trim();
                if !n.ids.iter().any(|id| id.eq_ignore_ascii_case(region)) {
                    return None;
                }
                if digits.len() == 11 {
                    digits.strip_prefix('1')?
                } else {
                    digits
                }
            }
        };
        let b = national.as_bytes();
        if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) || b[0] < b'2' {
            return None;
        }
        is_valid(national).then(|| format!("+1{national}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The crate's answer, without the fast path.
    fn crate_valid(national: &str) -> bool {
        phonenumber::parse(None, format!("+1{national}"))
            .map(|n| n.national().to_string() == national && phonenumber::is_valid(&n))
            .unwrap_or(false)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// The fast path accepts exactly the numbers `phonenumber` accepts.
        #[test]
        fn nanp_fast_path_agrees_with_the_crate(n in "[2-9][0-9]{9}") {
            prop_assert_eq!(nanp::is_valid(&n), crate_valid(&n), "{}", n);
        }
    }

    #[test]
    fn nanp_fast_path_agrees_on_area_code_edges() {
        // Toll-free, premium, Canadian, Caribbean and unassigned area codes, and N11 codes.
        for n in [
            "8005550123",
            "9005550123",
            "4165550123",
            "2685550123",
            "8765550123",
            "3405550123",
            "2115550123",
            "4115550123",
            "9115550123",
            "5555550123",
            "4155550100",
            "2015550123",
            "6045550123",
            "2425550123",
            "7875550123",
            "6715550123",
            "6845550123",
            "9995550123",
        ] {
            assert_eq!(nanp::is_valid(n), crate_valid(n), "{n}");
        }
    }

    #[test]
    fn format_noise_gives_one_key() {
        let want = Ok("+14155552671".to_owned());
        for s in [
            "+1 415 555 2671",
            "(415) 555-2671",
            "415.555.2671",
            "415-555-2671",
            "4155552671",
            "1-415-555-2671",
            "+1 (415) 555-2671 ext. 99",
            "415 555 2671 x12",
            "tel:+1-415-555-2671",
            "011 1 415 555 2671",
            "＋１ ４１５ ５５５ ２６７１",
            "\u{202A}+1 415 555 2671\u{202C}",
            "+1\u{00A0}415\u{00A0}555\u{00A0}2671",
        ] {
            assert_eq!(phone(s, "US"), want, "{s}");
        }
    }

    #[test]
    fn region_is_used_for_national_numbers() {
        assert_eq!(phone("030 123456", "DE").as_deref(), Ok("+4930123456"));
        assert_eq!(phone("+49 30 123456", "US").as_deref(), Ok("+4930123456"));
        assert_eq!(phone("0049 30 123456", "DE").as_deref(), Ok("+4930123456"));
        // A foreign number keeps its own national rules whatever the record's region.
        for region in ["DE", "GB", "US", "IT", "FR"] {
            assert_eq!(
                phone("+39 06 6982 1234", region).as_deref(),
                Ok("+390669821234"),
                "{region}"
            );
        }
        assert_eq!(
            phone("0039 06 6982 1234", "DE").as_deref(),
            Ok("+390669821234")
        );
        assert_eq!(
            phone("011 39 06 6982 1234", "US").as_deref(),
            Ok("+390669821234")
        );
        assert_eq!(
            phone("00 44 20 7946 0958", "FR").as_deref(),
            Ok("+442079460958")
        );
        assert_eq!(phone("020 7946 0958", "GB").as_deref(), Ok("+442079460958"));
        assert_eq!(phone("06 12 34 56 78", "fr").as_deref(), Ok("+33612345678"));
        // Italian fixed lines keep their leading zero in E.164.
        assert_eq!(
            phone("+39 06 6982 1234", "IT").as_deref(),
            Ok("+390669821234")
        );
    }

    #[test]
    fn invalid_numbers() {
        for s in [
            "",
            "abc",
            "1-800-FLOWERS",
            "555-2671",
            "123",
            "0000000000",
            "+1 111 111 1111",
            "9999999999999999999999999",
            "+1 415 555 2671 + 1",
            "4155552671; DROP TABLE",
            "+",
            "++14155552671",
            "4155552671x12a",
            "😀",
        ] {
            assert_eq!(phone(s, "US"), Err(INVALID), "{s:?}");
        }
        // Without a usable region a national number cannot be placed.
        assert_eq!(phone("4155552671", "ZZ"), Err(INVALID));
        assert_eq!(phone("4155552671", ""), Err(INVALID));
        assert_eq!(
            phone("+14155552671", "nonsense").as_deref(),
            Ok("+14155552671")
        );
    }

    #[test]
    fn placeholder_looking_numbers_are_left_to_the_hub_list() {
        // libphonenumber's metadata accepts many all-same-digit numbers (this one is a valid
        // French number), so rejecting them here would change results; placeholders such as
        // these are the hub placeholder list's business.
        assert_eq!(phone("01 11 11 11 11", "FR").as_deref(), Ok("+33111111111"));
        assert_eq!(phone("0000000000", "US"), Err(INVALID));
    }
}
