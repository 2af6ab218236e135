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
    let region_id = region_id(region);
    if let Some(fast) = fast::fast_path(&digits, region_id.as_ref().map(|id| id.as_ref())) {
        return Ok(fast);
    }
    parse_with_crate(&digits, region_id)
}

/// `phone` through the `phonenumber` crate alone, for what the fast path leaves.
fn parse_with_crate(digits: &str, region: Option<Id>) -> Result<String, &'static str> {
    // A number written with "+" is parsed without a region: the parser applies the given
    // region's national-prefix rules even to foreign numbers, so "+39 06 6982 1234" on a
    // German record would lose the Italian leading zero and come out invalid (or, worse, as a
    // different valid number). The same number must give the same key on every record.
    let region = if digits.starts_with('+') {
        None
    } else {
        region
    };
    let mut number = phonenumber::parse(region, digits).map_err(|_| INVALID)?;
    if number.code().source() == Source::Idd {
        // Same problem for "0039 06 …" dialled from Germany: re-read it as "+39 06 …".
        if let Some(n) = reparse_after_idd(digits, number.code().value()) {
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
///
/// A region of two ASCII letters (nearly every one) is looked up in a table of all 676,
/// filled on first use: parsing the name (a match over some 250 names) and finding its
/// metadata cost 1.5% of ingest's CPU, for the same few regions every time.
pub(crate) fn region_id(region: &str) -> Option<Id> {
    static TWO_LETTERS: std::sync::OnceLock<Vec<Option<Id>>> = std::sync::OnceLock::new();
    let letter = |b: u8| {
        b.is_ascii_alphabetic()
            .then(|| usize::from(b.to_ascii_uppercase() - b'A'))
    };
    if let &[a, b] = region.as_bytes()
        && let (Some(a), Some(b)) = (letter(a), letter(b))
    {
        let table = TWO_LETTERS.get_or_init(|| {
            (b'A'..=b'Z')
                .flat_map(|a| (b'A'..=b'Z').map(move |b| [a, b]))
                .map(|code| std::str::from_utf8(&code).ok().and_then(parse_region_id))
                .collect()
        });
        return table.get(a * 26 + b).copied().flatten();
    }
    parse_region_id(region)
}

/// [`region_id`] without the table.
fn parse_region_id(region: &str) -> Option<Id> {
    // Regions usually come as two upper-case letters already: no copy to upper-case then.
    let id: Id = if region.bytes().all(|b| b.is_ascii_uppercase()) {
        region.parse().ok()?
    } else {
        region.trim().to_ascii_uppercase().parse().ok()?
    };
    DATABASE.by_id(id.as_ref()).map(|_| id)
}

/// A fast path that answers most numbers without the crate's regex cache: `phonenumber`
/// consults a 100-entry regex cache behind one global mutex, keyed by hashing each (long)
/// pattern, and recompiles patterns as regions evict each other, which makes a number cost
/// 10–40 µs and was a quarter of ingest's CPU. Here each country code's metadata patterns are
/// compiled once, on first use, and the crate's own parsing and validity rules are followed
/// step by step (`parser::parse_with`, `helper::country_code`, `helper::national_number`,
/// `validator::is_valid_with`, phonenumber 0.3.10).
///
/// Only a number this path finds **valid** is answered here, and only in the common shapes
/// (`+` and a country code, a national number, or either after the region's international
/// dialling prefix, in regions whose national prefix needs no transform rule); anything else
/// goes through `phonenumber` as before, so a disagreement could only ever accept a number
/// the crate rejects. Property tests compare both on random numbers of many countries.
mod fast {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::sync::OnceLock;

    use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
    use regex::Regex;

    /// `consts::MIN_LENGTH_FOR_NSN` and `MAX_LENGTH_FOR_NSN` of the crate.
    const MIN_NSN: usize = 2;
    const MAX_NSN: usize = 17;
    /// Country codes are below 1000.
    const CODES: usize = 1000;

    #[derive(Clone)]
    struct Desc {
        re: Regex,
        lengths: Vec<u16>,
    }

    /// Compiled as the crate compiles its metadata patterns (whitespace in them is
    /// insignificant), anchored at the first digit: the crate accepts a leftmost match that
    /// starts there, and a match starting at 0 exists exactly when the leftmost one does.
    fn compile(pattern: &str) -> Option<Regex> {
        regex::RegexBuilder::new(&format!("^(?:{pattern})"))
            .ignore_whitespace(true)
            .build()
            .ok()
    }

    impl Desc {
        fn new(d: &Descriptor) -> Option<Desc> {
            Some(Desc {
                re: compile(d.national_number().as_str())?,
                lengths: d.possible_length().to_vec(),
            })
        }

        /// `Descriptor::is_match`.
        fn is_match(&self, national: &str) -> bool {
            (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
                && self.re.is_match(national)
        }
    }

    /// How `validator::length(meta, n, Type::Unknown)` classes a length.
    #[derive(PartialEq)]
    enum Length {
        Possible,
        TooShort,
        Impossible,
    }

    #[derive(Clone)]
    struct Region {
        id: String,
        leading: Option<Regex>,
        general: Desc,
        local_lengths: Vec<u16>,
        /// Every type whose match makes a number valid (`validator::number_type` is not
        /// `Unknown`), fixed-line and mobile first: most numbers are one of them, and the
        /// answer does not depend on the order. In `number_type`'s order (fixed-line and
        /// mobile last), a valid number was tried against up to eight other patterns first,
        /// a regex search each: 2.5% of ingest's CPU.
        types: Vec<Desc>,
        national_prefix: Option<String>,
        prefix_for_parsing: Option<Regex>,
        has_transform: bool,
        idd: Option<Regex>,
    }

    impl Region {
        fn new(m: &Metadata) -> Option<Region> {
            let d = m.descriptors();
            let types = [
                d.fixed_line(),
                d.mobile(),
                d.premium_rate(),
                d.toll_free(),
                d.shared_cost(),
                d.voip(),
                d.personal_number(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ]
            .into_iter()
            .flatten()
            .map(Desc::new)
            .collect::<Option<Vec<_>>>()?;
            let opt = |pattern: Option<&str>| match pattern {
                Some(p) => compile(p).map(Some),
                None => Some(None),
            };
            Some(Region {
                id: m.id().to_owned(),
                leading: opt(m.leading_digits().map(|r| r.as_str()))?,
                general: Desc::new(d.general())?,
                local_lengths: d.general().possible_local_length().to_vec(),
                types,
                national_prefix: m.national_prefix().map(str::to_owned),
                prefix_for_parsing: opt(m.national_prefix_for_parsing().map(|r| r.as_str()))?,
                has_transform: m.national_prefix_transform_rule().is_some(),
                idd: opt(m.international_prefix().map(|r| r.as_str()))?,
            })
        }

        /// `validator::number_type(..) != Type::Unknown`.
        fn is_valid(&self, national: &str) -> bool {
            self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
        }

        /// `validator::length(meta, n, Type::Unknown)`, reduced to what parsing asks of it.
        fn length(&self, len: usize) -> Length {
            let possible = &self.general.lengths;
            let len = len as u16;
            match possible.first() {
                None => Length::Impossible,
                Some(_) if self.local_lengths.contains(&len) => Length::Possible,
                Some(&min) if len < min => Length::TooShort,
                Some(_) if possible.contains(&len) => Length::Possible,
                Some(_) => Length::Impossible,
            }
        }

        /// `helper::national_number` followed by the national-prefix trim and the length
        /// check of `parse_with`; `None` where the crate would apply a transform rule.
        fn strip<'a>(&self, national: &'a str) -> Option<&'a str> {
            let mut potential = national;
            match &self.prefix_for_parsing {
                None => {
                    if let Some(p) = &self.national_prefix {
                        potential = potential.strip_prefix(p.as_str()).unwrap_or(potential);
                    }
                }
                Some(re) => {
                    if let Some(m) = re.find(potential) {
                        if self.has_transform {
                            return None;
                        }
                        // Without a transform rule the crate always strips the match (its
                        // "viable" guard compares the number with itself).
                        potential = &potential[m.end()..];
                    }
                }
            }
            if let Some(p) = &self.national_prefix {
                potential = potential.strip_prefix(p.as_str()).unwrap_or(potential);
            }
            if self.length(potential.len()) == Length::TooShort {
                potential = national;
            }
            Some(potential)
        }
    }

    /// The regions of one country code, in the crate's order.
    #[derive(Clone)]
    struct Code {
        code: u16,
        regions: Vec<Region>,
    }

    impl Code {
        fn new(code: u16) -> Option<Code> {
            let ids = DATABASE.region(&code)?;
            if ids.contains(&"001") {
                return None; // Non-geographic codes: left to the crate.
            }
            let regions = ids
                .iter()
                .map(|id| Region::new(DATABASE.by_id(*id)?))
                .collect::<Option<Vec<_>>>()?;
            Some(Code { code, regions })
        }

        /// `validator::source_for`: the one region, or the first whose leading digits match,
        /// or without leading digits the first in which the number is valid. With it, when
        /// choosing it already told, whether the number is valid in that region (a region
        /// without leading digits is chosen by validating the number in it, which costs a
        /// dozen regex searches: they are not run again).
        fn source_and_validity(&self, national: &str) -> Option<(&Region, Option<bool>)> {
            if let [only] = self.regions.as_slice() {
                return Some((only, None));
            }
            self.regions.iter().find_map(|r| match &r.leading {
                Some(l) => l.is_match(national).then_some((r, None)),
                None => r.is_valid(national).then_some((r, Some(true))),
            })
        }

        /// `validator::is_valid_with`.
        fn is_valid(&self, national: &str) -> bool {
            match self.source_and_validity(national) {
                Some((_, Some(valid))) => valid,
                Some((r, None)) => r.is_valid(national),
                None => false,
            }
        }
    }

    /// The code's patterns, compiled once for the process.
    fn compiled(code: u16) -> Option<&'static Code> {
        static TABLE: [OnceLock<Option<Code>>; CODES] = [const { OnceLock::new() }; CODES];
        TABLE
            .get(usize::from(code))?
            .get_or_init(|| Code::new(code))
            .as_ref()
    }

    thread_local! {
        /// This thread's clones of the compiled codes, by code (`None` inside: a code left to
        /// the crate). A `Regex` keeps a pool of search caches whose fast path serves only the
        /// first thread to search with it; the others take a slower one (a thread-id lookup,
        /// a lock, putting the cache back), which cost ingest, normalising on two threads,
        /// about as much as the searches themselves. A clone shares the compiled program but
        /// has a pool of its own, so every thread searches on the fast path.
        static LOCAL: RefCell<Vec<Option<Option<Rc<Code>>>>> = const { RefCell::new(Vec::new()) };
    }

    /// This thread's copy of the code's patterns.
    fn code(code: u16) -> Option<Rc<Code>> {
        let at = usize::from(code);
        if at >= CODES {
            return None;
        }
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if local.len() < CODES {
                local.resize(CODES, None);
            }
            local
                .get_mut(at)?
                .get_or_insert_with(|| compiled(code).map(|c| Rc::new(c.clone())))
                .clone()
        })
    }

    /// The crate's `is_valid` for a number with this country code and national number.
    #[cfg(test)]
    pub(super) fn is_valid(cc: u16, national: &str) -> bool {
        code(cc).is_some_and(|c| c.is_valid(national))
    }

    /// `+`, the country code (below 1000) and the national number: `format!` without the
    /// formatting machinery, which cost a tenth of a phone's normalisation.
    fn e164(code: u16, national: &str) -> String {
        let mut out = String::with_capacity(4 + national.len());
        out.push('+');
        let digits = [code / 100 % 10, code / 10 % 10, code % 10];
        let skip = match code {
            0..10 => 2,
            10..100 => 1,
            _ => 0,
        };
        out.extend(digits[skip..].iter().map(|&d| char::from(b'0' + d as u8)));
        out.push_str(national);
        out
    }

    #[cfg(test)]
    #[test]
    fn e164_is_the_formatted_number() {
        for code in [1, 7, 20, 44, 49, 99, 100, 358, 998, 999] {
            assert_eq!(e164(code, "0123"), format!("+{code}0123"));
        }
    }

    /// E.164 when the result is valid, the national number has no doubtful zeros, and its
    /// length is in the crate's bounds.
    fn answer(c: &Code, national: &str) -> Option<String> {
        if !usable(national) {
            return None;
        }
        c.is_valid(national).then(|| e164(c.code, national))
    }

    /// Whether a national number is one this path answers for: `NationalNumber` keeps
    /// leading zeros as a count; two or more, an all-zero number or more than 16 digits are
    /// left to the crate.
    fn usable(national: &str) -> bool {
        let ok = (MIN_NSN..=16).contains(&national.len())
            && !national.starts_with("00")
            && !national.bytes().all(|b| b == b'0');
        debug_assert!(!ok || national.len() <= MAX_NSN);
        ok
    }

    /// A national number that starts with the international dialling prefix of the record's
    /// region `r` (`idd`, which matches at its start: `00 44 7911 …` on a German record):
    /// what `parse_with_crate` answers, when this path can tell. The crate strips the prefix
    /// and takes the country code after it (not after a `0`), then reads the rest with the
    /// record region's national-prefix rules and fails on what that leaves unusable (all
    /// zeros, too short or long: `810 49 800 0000 0000` on a Russian record loses its `8`);
    /// only then does `reparse_after_idd` take, of the digits after the first 1–5, the first
    /// that start with that code and read validly as `+` and them. Country codes are
    /// prefix-free, so such digits have that code here too, and the first of them is
    /// answered as a `+` number; when this path cannot answer it (or the crate would take
    /// another step), the whole number goes to the crate. Before this, these numbers (about
    /// 0.3% of the generator's) cost ingest 2% of its CPU in the crate.
    fn after_idd(r: &Region, idd: &Regex, digits: &str) -> Option<String> {
        let end = idd.find(digits)?.end();
        let after = digits.get(end..)?;
        if after.len() <= MIN_NSN || after.starts_with('0') {
            return None;
        }
        // `helper::country_code`, Idd source: the shortest known code.
        let cc = (1..=3).find_map(|len| {
            let cc: u16 = after.get(..len)?.parse().ok()?;
            DATABASE.region(&cc).map(|_| cc.to_string())
        })?;
        // The crate's first reading, with the record region's rules, must succeed.
        if !usable(r.strip(after.get(cc.len()..)?)?) {
            return None;
        }
        let rest = (1..=5).find_map(|p| digits.get(p..).filter(|d| d.starts_with(&cc)))?;
        fast_path(&format!("+{rest}"), None)
    }

    /// `Some(E.164)` for a valid number in a common shape; `None` sends it to the crate.
    /// `digits` is the sanitised `+?[0-9]*` text; `region` the record's region id when the
    /// metadata has it.
    pub(super) fn fast_path(digits: &str, region: Option<&str>) -> Option<String> {
        match digits.strip_prefix('+') {
            Some(rest) => {
                // `helper::country_code`, Plus source: the shortest known code.
                if rest.len() <= MIN_NSN + 1 || rest.starts_with('0') {
                    return None;
                }
                let (cc, national) = (1..=3).find_map(|len| {
                    let cc: u16 = rest.get(..len)?.parse().ok()?;
                    DATABASE.region(&cc).map(|_| (cc, &rest[len..]))
                })?;
                let c = &*code(cc)?;
                // `parse_with` without a region: the metadata is the number's own region,
                // chosen on the national number without leading zeros.
                let unpadded = national.trim_start_matches('0');
                let source = c.source_and_validity(unpadded);
                let national = match source {
                    Some((r, _)) => r.strip(national)?,
                    None => national,
                };
                // Validity is the source region's answer for the number as stripped; when
                // stripping left it as the source was chosen on, that region is its source
                // again, and a validity found while choosing it stands.
                match source {
                    Some((r, known)) if national == unpadded && usable(national) => {
                        let valid = known.unwrap_or_else(|| r.is_valid(national));
                        valid.then(|| e164(c.code, national))
                    }
                    _ => answer(c, national),
                }
            }
            None => {
                let meta = DATABASE.by_id(region?)?;
                let c = &*code(meta.country_code())?;
                let r = c.regions.iter().find(|r| r.id == meta.id())?;
                if let Some(idd) = &r.idd
                    && idd.is_match(digits)
                {
                    return after_idd(r, idd, digits);
                }
                // `helper::country_code`, Default source: a national number that starts
                // with the country code and is not a possible number as it stands loses it.
                let cc = c.code.to_string();
                let national = match digits.strip_prefix(cc.as_str()) {
                    Some(rest)
                        if !r.general.is_match(digits)
                            || r.length(digits.len()) != Length::Possible =>
                    {
                        rest
                    }
                    _ => digits,
                };
                answer(c, r.strip(national)?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The crate's answer for a national number with country code 1.
    fn crate_valid(national: &str) -> bool {
        phonenumber::parse(None, format!("+1{national}"))
            .map(|n| n.national().to_string() == national && phonenumber::is_valid(&n))
            .unwrap_or(false)
    }

    /// The fast path's answer, when it gives one, is the crate's.
    fn agrees(digits: &str, region: &str) -> Result<bool, TestCaseError> {
        let id = region_id(region);
        let Some(fast) = fast::fast_path(digits, id.as_ref().map(|i| i.as_ref())) else {
            return Ok(false);
        };
        prop_assert_eq!(
            parse_with_crate(digits, id).ok(),
            Some(fast),
            "{} in {}",
            digits,
            region
        );
        Ok(true)
    }

    /// Regions whose numbers the property test writes, with their country codes: the
    /// generator's countries and others with unusual national-prefix rules (IT keeps a
    /// leading zero, AR/BR/MX/CO have national-prefix-for-parsing patterns, RU's prefix is 8,
    /// GB shares +44 with the Crown dependencies, SG/HK have none).
    const REGIONS: [(&str, &str); 16] = [
        ("US", "1"),
        ("CA", "1"),
        ("GB", "44"),
        ("DE", "49"),
        ("FR", "33"),
        ("IT", "39"),
        ("ES", "34"),
        ("BR", "55"),
        ("AR", "54"),
        ("MX", "52"),
        ("CO", "57"),
        ("IN", "91"),
        ("RU", "7"),
        ("JP", "81"),
        ("SG", "65"),
        ("AU", "61"),
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// The fast path accepts exactly the NANP numbers `phonenumber` accepts.
        #[test]
        fn nanp_fast_path_agrees_with_the_crate(n in "[2-9][0-9]{9}") {
            prop_assert_eq!(fast::is_valid(1, &n), crate_valid(&n), "{}", n);
        }

        /// Random digit strings in national form, with `+` and a country code, and with a
        /// national prefix: whatever the fast path answers, the crate answers too.
        #[test]
        fn fast_path_agrees_with_the_crate(
            which in 0..REGIONS.len(),
            prefix in prop::sample::select(vec!["", "0", "00", "1", "8", "9", "15", "044"]),
            idd in prop::sample::select(vec!["00", "011", "0011", "010", "810", "001", "0014", "000", "0"]),
            body in "[0-9]{4,14}|[0-9]{1,4}0{6,12}",
        ) {
            let (region, cc) = REGIONS[which];
            agrees(&format!("{prefix}{body}"), region)?;
            agrees(&format!("+{cc}{prefix}{body}"), region)?;
            agrees(&format!("{idd}{cc}{prefix}{body}"), region)?;
            agrees(&format!("{idd}{body}"), region)?;
        }
    }

    /// Every example number in the metadata (each type of each region), written with `+`,
    /// nationally, with the national prefix, and dialled from the US, Germany, Australia and
    /// Japan with their international prefixes: the fast path agrees with the crate whenever
    /// it answers, and answers for most of them (it is the path most numbers take).
    #[test]
    fn fast_path_agrees_on_every_metadata_example() {
        let (mut tried, mut answered) = (0, 0);
        let (mut idd_tried, mut idd_answered) = (0, 0);
        for meta in DATABASE.iter() {
            let d = meta.descriptors();
            let examples = [
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.voip(),
                d.uan(),
            ]
            .into_iter()
            .flatten()
            .filter_map(|d| d.example());
            for ex in examples {
                let cc = meta.country_code();
                let prefix = meta.national_prefix().unwrap_or("");
                for digits in [format!("+{cc}{ex}"), ex.to_owned(), format!("{prefix}{ex}")] {
                    tried += 1;
                    if agrees(&digits, meta.id()).unwrap_or_else(|e| panic!("{e}")) {
                        answered += 1;
                    }
                }
                for (from, idd) in [("US", "011"), ("DE", "00"), ("AU", "0011"), ("JP", "010")] {
                    idd_tried += 1;
                    let digits = format!("{idd}{cc}{ex}");
                    if agrees(&digits, from).unwrap_or_else(|e| panic!("{e}")) {
                        idd_answered += 1;
                    }
                }
            }
        }
        assert!(tried > 2000, "{tried}");
        assert!(answered * 10 > tried * 7, "{answered} of {tried}");
        assert!(
            idd_answered * 10 > idd_tried * 7,
            "{idd_answered} of {idd_tried}"
        );
    }

    /// Numbers dialled with the record region's international prefix answer as the crate
    /// path does, also where the crate's first reading with that region's national prefix
    /// fails (the review's cases: what follows the `8` is all zeros).
    #[test]
    fn idd_numbers_answer_as_the_crate_does() {
        for (raw, region) in [
            ("0044 7911 123456", "DE"),
            ("00 49 151 34083071", "GB"),
            ("011 44 20 7946 0958", "US"),
            ("810 49 800 0000 0000", "RU"),
            ("810 44 800 000 0000", "BY"),
            ("8 10 49 30 901820", "RU"),
        ] {
            let mut digits = String::new();
            assert!(sanitize(raw, &mut digits), "{raw}");
            let crate_only = parse_with_crate(&digits, region_id(region));
            assert_eq!(phone(raw, region), crate_only, "{raw} in {region}");
        }
        assert!(phone("0044 7911 123456", "DE").is_ok());
        assert_eq!(phone("810 49 800 0000 0000", "RU"), Err(INVALID));
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
        // Regions are read case- and space-insensitively (upper-case ones without a copy).
        for region in ["FR", "fr", " Fr ", "FR "] {
            assert_eq!(region_id(region), region_id("FR"), "{region:?}");
        }
        assert!(region_id("FR").is_some());
        assert!(region_id("ZZZ").is_none());
        // The two-letter table answers what parsing does, in either case.
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let (la, lb) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
                for code in [[a, b], [la, b], [a, lb], [la, lb], [a, b'1'], [b'-', lb]] {
                    let code = std::str::from_utf8(&code).unwrap();
                    assert_eq!(region_id(code), parse_region_id(code), "{code}");
                }
            }
        }
        assert_eq!(
            region_id("UK"),
            None,
            "not an ISO code: the record's country maps it"
        );
        // NANP: the source region of a +1 number is chosen by validating it in the US
        // first, then by the other regions' leading digits; national numbers likewise.
        assert_eq!(
            phone("+1 617 358 7789", "DE").as_deref(),
            Ok("+16173587789")
        );
        assert_eq!(phone("617-358-7789", "US").as_deref(), Ok("+16173587789"));
        assert_eq!(
            phone("+1 416 555 0199", "US"),
            parse_with_crate("+14165550199", None)
        );
        assert_eq!(phone("+1 123 456 7890", "US"), Err(INVALID));
        assert_eq!(
            phone("+1 416 967 1111", "US").as_deref(),
            Ok("+14169671111")
        );
        assert_eq!(phone("416 967 1111", "CA").as_deref(), Ok("+14169671111"));
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
    fn every_thread_gets_the_same_answers_from_its_own_patterns() {
        // Each thread compiles nothing but clones the process's patterns on first use; the
        // answers must not depend on which thread asks, nor on the order codes are first seen.
        let numbers = [
            ("+1 415 555 2671", "US"),
            ("020 7946 0958", "GB"),
            ("+39 06 6982 1234", "DE"),
            ("030 901820", "DE"),
            ("(11) 91234-5678", "BR"),
            ("+81 3-1234-5678", "JP"),
            ("+1 111 111 1111", "US"),
        ];
        let expected: Vec<_> = numbers.iter().map(|(n, r)| phone(n, r)).collect();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (numbers, expected) = (&numbers, &expected);
                s.spawn(move || {
                    for i in 0..numbers.len() {
                        // Threads start at different numbers, so codes are cloned in
                        // different orders.
                        let at = (i + t) % numbers.len();
                        let (n, r) = numbers[at];
                        assert_eq!(phone(n, r), expected[at], "{n} in {r} on thread {t}");
                    }
                });
            }
        });
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
