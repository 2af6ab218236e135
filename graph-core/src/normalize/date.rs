//! Birthdates and timestamps.
//!
//! Hand-written parsers rather than a list of strftime patterns tried in turn: one pass over
//! the text decides the shape, which is both faster and makes the ambiguity rules (US vs
//! European day/month order) explicit in one place.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use super::text::fold_basic;

const INVALID_BIRTHDATE: &str = "invalid_birthdate";
const INVALID_TIMESTAMP: &str = "invalid_timestamp";

/// Full-width digits and odd spaces become ASCII; plain ASCII input is borrowed untouched.
fn prepare(raw: &str) -> Cow<'_, str> {
    if raw.is_ascii() {
        Cow::Borrowed(raw.trim())
    } else {
        let mut s = String::with_capacity(raw.len());
        fold_basic(raw, false, &mut s);
        Cow::Owned(s)
    }
}

fn month_from_name(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = word.trim_end_matches('.');
    if w.len() < 3 {
        return None;
    }
    if w.eq_ignore_ascii_case("sept") {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|m| {
            m.len() >= w.len()
                && m[..w.len()].eq_ignore_ascii_case(w)
                && (w.len() == 3 || w.len() == m.len())
        })
        .map(|i| i as u32 + 1)
}

fn is_weekday(word: &str) -> bool {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let w = word.trim_end_matches('.');
    w.len() >= 3
        && DAYS.iter().any(|d| {
            d.len() >= w.len()
                && d[..w.len()].eq_ignore_ascii_case(w)
                && (w.len() == 3 || w.len() == d.len())
        })
}

/// Parses a run of 1..=4 ASCII digits.
fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Strips an English ordinal suffix ("12th") from a day number. Tokens are ASCII here.
fn strip_ordinal(s: &str) -> &str {
    if s.len() > 2 && s.is_ascii() {
        let (head, suf) = s.split_at(s.len() - 2);
        let is_suffix = ["st", "nd", "rd", "th"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(suf));
        if is_suffix && head.bytes().all(|b| b.is_ascii_digit()) {
            return head;
        }
    }
    s
}

/// `YYYY-MM-DD` at the start of `s` (exactly 10 bytes).
fn iso_prefix(s: &str) -> Option<(i32, u32, u32)> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = num(s.get(0..4)?)?;
    let (m, d) = (num(s.get(5..7)?)?, num(s.get(8..10)?)?);
    Some((y as i32, m, d))
}

/// The date forms shared by birthdates and date-only timestamps. Returns a valid calendar date
/// or `None`; range checks are the caller's.
///
/// Accepted: `YYYY-MM-DD` (optionally followed by `T`/space and a time, which is ignored),
/// `YYYYMMDD`, `YYYY/MM/DD`, `YYYY.MM.DD`; `MM/DD/YYYY` (US order, the default when both
/// numbers are ≤ 12; read as `DD/MM/YYYY` when the first is > 12); `DD.MM.YYYY` and
/// `DD-MM-YYYY` (European order, read as month-first when only that is valid); and month
/// names in English, full or three letters, in any order with a day and a four-digit year
/// ("12 Apr 1987", "April 12, 1987", "Apr 12 1987", "12-APR-1987", "Sun, 12 Apr 1987").
/// Two-digit years are never accepted: "01/02/03" has too many readings to guess.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if let Some((y, m, d)) = iso_prefix(s) {
        let rest = &s[10..];
        let time_follows = rest.is_empty()
            || (rest.starts_with(['T', 't', ' '])
                && rest[1..].starts_with(|c: char| c.is_ascii_digit()));
        return if time_follows {
            NaiveDate::from_ymd_opt(y, m, d)
        } else {
            None
        };
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        let (y, m, d) = (num(&s[0..4])?, num(&s[4..6])?, num(&s[6..8])?);
        return NaiveDate::from_ymd_opt(y as i32, m, d);
    }
    // Tokenise into at most four alphanumeric tokens, remembering the first separator.
    let mut tokens: [&str; 4] = [""; 4];
    let mut n = 0;
    let mut first_sep: Option<char> = None;
    for tok in s.split(|c: char| !c.is_ascii_alphanumeric()) {
        if tok.is_empty() {
            continue;
        }
        if n == 4 {
            return None;
        }
        tokens[n] = tok;
        n += 1;
    }
    if let Some(end) = s.find(|c: char| !c.is_ascii_alphanumeric()) {
        first_sep = s[end..].chars().next();
    }
    let mut toks: &[&str] = &tokens[..n];
    if let [first, rest @ ..] = toks
        && rest.len() == 3
        && is_weekday(first)
    {
        toks = rest;
    }
    let [a, b, c] = toks else { return None };
    let all_digits = |t: &str| t.bytes().all(|x| x.is_ascii_digit());
    if all_digits(a) && all_digits(b) && all_digits(c) {
        if a.len() == 4 && b.len() <= 2 && c.len() <= 2 {
            return NaiveDate::from_ymd_opt(num(a)? as i32, num(b)?, num(c)?);
        }
        if c.len() != 4 || a.len() > 2 || b.len() > 2 {
            return None;
        }
        let (x, y, year) = (num(a)?, num(b)?, num(c)? as i32);
        let month_first = if first_sep == Some('/') {
            x <= 12
        } else {
            y > 12 && x <= 12
        };
        let (m, d) = if month_first { (x, y) } else { (y, x) };
        return NaiveDate::from_ymd_opt(year, m, d);
    }
    // One month name, a day of 1–2 digits and a four-digit year, in any order.
    let mut month = None;
    let mut day = None;
    let mut year = None;
    for t in [a, b, c] {
        let t = strip_ordinal(t);
        if all_digits(t) {
            match t.len() {
                1 | 2 if day.is_none() => day = num(t),
                4 if year.is_none() => year = num(t),
                _ => return None,
            }
        } else if month.is_none() {
            month = Some(month_from_name(t)?);
        } else {
            return None;
        }
    }
    NaiveDate::from_ymd_opt(year? as i32, month?, day?)
}

/// Normalises a birthdate to `YYYY-MM-DD`.
///
/// `format` (a chrono strftime pattern from the mapping file) is tried first; then the
/// built-in forms of `parse_date` (ISO, `YYYYMMDD`, `YYYY/MM/DD`, `MM/DD/YYYY` with
/// `DD/MM/YYYY` when the first number is > 12, `DD.MM.YYYY`, `DD-MM-YYYY`, English month
/// names; never two-digit years).
///
/// # Errors
/// `"invalid_birthdate"` when no form matches, the date does not exist (Feb 30), or it lies
/// outside 1900-01-01 ..= today (UTC): anything else is a typo or a placeholder.
pub fn birthdate(raw: &str, format: Option<&str>) -> Result<String, &'static str> {
    let s = prepare(raw);
    let date = format
        .and_then(|f| NaiveDate::parse_from_str(&s, f).ok())
        .or_else(|| parse_date(&s))
        .ok_or(INVALID_BIRTHDATE)?;
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).ok_or(INVALID_BIRTHDATE)?;
    if date < earliest || date > Utc::now().date_naive() {
        return Err(INVALID_BIRTHDATE);
    }
    Ok(format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month(),
        date.day()
    ))
}

/// Parses `HH:MM[:SS[.fff…]]` and returns the time and what follows it.
fn parse_time(s: &str) -> Option<(NaiveTime, &str)> {
    let b = s.as_bytes();
    let two = |i: usize| -> Option<u32> {
        let t = s.get(i..i + 2)?;
        if t.bytes().all(|x| x.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let h = two(0)?;
    if b.get(2) != Some(&b':') {
        return None;
    }
    let m = two(3)?;
    let mut i = 5;
    let mut sec = 0;
    let mut milli = 0;
    if b.get(5) == Some(&b':') {
        sec = two(6)?;
        i = 8;
        if matches!(b.get(8), Some(b'.') | Some(b',')) {
            i = 9;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                // Truncated, not rounded, to milliseconds: rounding could carry into the next
                // second (or day), and ingest and API must agree to the millisecond.
                if i - start < 3 {
                    milli = milli * 10 + u32::from(b[i] - b'0');
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            for _ in (i - start)..3 {
                milli *= 10;
            }
        }
    }
    // A leap second (":60") is folded into the last millisecond of the minute.
    let time = if sec == 60 {
        NaiveTime::from_hms_milli_opt(h, m, 59, 999)?
    } else {
        NaiveTime::from_hms_milli_opt(h, m, sec, milli)?
    };
    Some((time, &s[i..]))
}

/// Parses a UTC offset suffix: empty, `Z`, ` UTC`, ` GMT`, `±HH:MM`, `±HHMM`, `±HH`.
/// Returns the offset in seconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    let s = s.trim_start();
    if s.is_empty()
        || s.eq_ignore_ascii_case("z")
        || s.eq_ignore_ascii_case("utc")
        || s.eq_ignore_ascii_case("gmt")
    {
        return Some(0);
    }
    let sign = match s.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &s[1..];
    let digits: &str = match rest.len() {
        2 | 4 => rest,
        5 if rest.as_bytes()[2] == b':' => return parse_offset_hm(sign, &rest[..2], &rest[3..]),
        _ => return None,
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    parse_offset_hm(
        sign,
        &digits[..2],
        digits.get(2..).filter(|t| !t.is_empty()).unwrap_or("00"),
    )
}

fn parse_offset_hm(sign: i64, h: &str, m: &str) -> Option<i64> {
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

fn unix_digits(s: &str) -> Option<i64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = int.parse().ok()?;
    match (int.len(), frac.len()) {
        (10, 0) => Some(v * 1000),
        (10, _) => {
            let mut ms = 0;
            for (i, b) in frac.bytes().take(3).enumerate() {
                ms += i64::from(b - b'0') * [100, 10, 1][i];
            }
            Some(v * 1000 + ms)
        }
        (13, 0) => Some(v),
        _ => None,
    }
}

/// Parses a creation timestamp into milliseconds since the Unix epoch (UTC).
///
/// `format` (a chrono strftime pattern from the mapping file) is tried first, as a date-time
/// with an offset, then as a naive date-time (taken as UTC), then as a date (midnight UTC).
/// Built-in forms: RFC 3339 (`2024-03-01T12:00:00Z`, `…+02:00`, `t`/space separator,
/// fractional seconds); `YYYY-MM-DD HH:MM[:SS[.fff]]` and `YYYY-MM-DDTHH:MM:SS` without an
/// offset (taken as UTC); a date alone in any form [`birthdate`] accepts (midnight UTC); Unix
/// time as 10 digits (seconds, optionally with a fraction) or 13 digits (milliseconds).
/// Fractions below a millisecond are truncated.
///
/// # Errors
/// `"invalid_timestamp"` when nothing matches or the date/time does not exist.
pub fn timestamp_ms(raw: &str, format: Option<&str>) -> Result<i64, &'static str> {
    let s = prepare(raw);
    let s = s.as_ref();
    if let Some(f) = format {
        if let Ok(dt) = DateTime::parse_from_str(s, f) {
            return Ok(dt.timestamp_millis());
        }
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(dt.and_utc().timestamp_millis());
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Ok(d.and_time(NaiveTime::MIN).and_utc().timestamp_millis());
        }
    }
    if let Some(ms) = unix_digits(s) {
        return Ok(ms);
    }
    if let Some((y, m, d)) = iso_prefix(s)
        && let Some(rest) = s[10..].strip_prefix(['T', 't', ' '])
        && rest.starts_with(|c: char| c.is_ascii_digit())
    {
        let date = NaiveDate::from_ymd_opt(y, m, d).ok_or(INVALID_TIMESTAMP)?;
        let (time, tail) = parse_time(rest).ok_or(INVALID_TIMESTAMP)?;
        let offset = parse_offset(tail).ok_or(INVALID_TIMESTAMP)?;
        let utc = date.and_time(time).and_utc().timestamp_millis();
        return Ok(utc - offset * 1000);
    }
    let date = parse_date(s).ok_or(INVALID_TIMESTAMP)?;
    Ok(date.and_time(NaiveTime::MIN).and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    const APR12: &str = "1987-04-12";

    #[test]
    fn birthdate_forms_agree() {
        for s in [
            "1987-04-12",
            "19870412",
            "1987/04/12",
            "1987/4/12",
            "04/12/1987",
            "4/12/1987",
            "12.04.1987",
            "12-04-1987",
            "12 Apr 1987",
            "12 April 1987",
            "April 12, 1987",
            "Apr 12 1987",
            "Apr. 12th, 1987",
            "12-APR-1987",
            "Sunday, 12 April 1987",
            "1987-04-12T00:00:00Z",
            "1987-04-12 00:00:00",
            "  1987-04-12\t",
            "１９８７－０４－１２",
        ] {
            assert_eq!(birthdate(s, None).as_deref(), Ok(APR12), "{s}");
        }
        // Day first when the first number cannot be a month; month first when only that works.
        assert_eq!(birthdate("25/04/1987", None).as_deref(), Ok("1987-04-25"));
        assert_eq!(birthdate("04-25-1987", None).as_deref(), Ok("1987-04-25"));
        assert_eq!(birthdate("04.25.1987", None).as_deref(), Ok("1987-04-25"));
        // US default for ambiguous slashes, European for dots and dashes.
        assert_eq!(birthdate("03/04/1987", None).as_deref(), Ok("1987-03-04"));
        assert_eq!(birthdate("03.04.1987", None).as_deref(), Ok("1987-04-03"));
    }

    #[test]
    fn birthdate_custom_format_first() {
        assert_eq!(
            birthdate("12|04|1987", Some("%d|%m|%Y")).as_deref(),
            Ok(APR12)
        );
        // The mapping-file format wins over the US default.
        assert_eq!(
            birthdate("03/04/1987", Some("%d/%m/%Y")).as_deref(),
            Ok("1987-04-03")
        );
        // A format that does not match falls back to the built-ins.
        assert_eq!(
            birthdate("1987-04-12", Some("%d/%m/%Y")).as_deref(),
            Ok(APR12)
        );
        // A nonsense format never panics.
        assert_eq!(birthdate("x", Some("%Q%")), Err(INVALID_BIRTHDATE));
    }

    #[test]
    fn birthdate_rejects() {
        for s in [
            "",
            "12/04/87",
            "87-04-12",
            "1899-12-31",
            "2999-01-01",
            "1987-02-30",
            "1987-13-01",
            "13/13/1987",
            "Smarch 12 1987",
            "12 Apr",
            "1987",
            "0",
            "1987-04-12x",
            "1987-04-12'; DROP TABLE x;--",
            "١٩٨٧",
            "😀",
        ] {
            assert_eq!(birthdate(s, None), Err(INVALID_BIRTHDATE), "{s:?}");
        }
        assert!(birthdate("1900-01-01", None).is_ok());
    }

    #[test]
    fn timestamps() {
        let t = 1_709_294_400_000; // 2024-03-01T12:00:00Z
        for s in [
            "2024-03-01T12:00:00Z",
            "2024-03-01t12:00:00z",
            "2024-03-01T14:00:00+02:00",
            "2024-03-01T14:00:00+0200",
            "2024-03-01T14:00:00+02",
            "2024-03-01T07:00:00-05:00",
            "2024-03-01 12:00:00",
            "2024-03-01 12:00",
            "2024-03-01T12:00:00",
            "2024-03-01 12:00:00 UTC",
            "1709294400",
            "1709294400000",
        ] {
            assert_eq!(timestamp_ms(s, None), Ok(t), "{s}");
        }
        assert_eq!(timestamp_ms("2024-03-01T12:00:00.1239Z", None), Ok(t + 123));
        assert_eq!(timestamp_ms("2024-03-01 12:00:00.5", None), Ok(t + 500));
        assert_eq!(timestamp_ms("1709294400.25", None), Ok(t + 250));
        assert_eq!(timestamp_ms("2024-03-01", None), Ok(t - 12 * 3_600_000));
        assert_eq!(timestamp_ms("03/01/2024", None), Ok(t - 12 * 3_600_000));
        assert_eq!(
            timestamp_ms("2016-12-31T23:59:60Z", None),
            Ok(1_483_228_799_999)
        );
        assert_eq!(
            timestamp_ms("01.03.2024 12h00", Some("%d.%m.%Y %Hh%M")),
            Ok(t)
        );
        assert_eq!(
            timestamp_ms("2024-03-01 14:00 +0200", Some("%Y-%m-%d %H:%M %z")),
            Ok(t)
        );
    }

    #[test]
    fn timestamp_rejects() {
        for s in [
            "",
            "yesterday",
            "170929440",
            "17092944000000",
            "2024-03-01T25:00:00Z",
            "2024-03-01T12:00:00+25:00",
            "2024-03-01T12:00:00 PST",
            "2024-02-30",
            "2024-03-01T12",
            "2024-03-01T12:00:00.Z",
            "😀",
        ] {
            assert_eq!(timestamp_ms(s, None), Err(INVALID_TIMESTAMP), "{s:?}");
        }
    }
}
