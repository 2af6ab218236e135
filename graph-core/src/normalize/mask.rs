//! Masking of normalised values for logs and for callers without `pii:read`.

use crate::record::kinds;

/// Well-known mailbox providers whose domain reveals nothing about the person, so it is
/// shown (useful to an analyst: "all on one disposable domain"). Other domains may be a
/// family's or a small company's and are masked like the local part.
const PUBLIC_DOMAINS: &[&str] = &[
    "aol.com",
    "gmail.com",
    "gmx.de",
    "gmx.net",
    "hotmail.com",
    "icloud.com",
    "live.com",
    "mail.ru",
    "outlook.com",
    "proton.me",
    "qq.com",
    "yahoo.com",
    "yandex.ru",
];

/// The first `head` and last `tail` characters of `s` around an ellipsis. Char-based, so it
/// never splits a UTF-8 sequence.
fn ends(s: &str, head: usize, tail: usize) -> String {
    let n = s.chars().count();
    if head + tail >= n {
        return "***".to_owned();
    }
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

/// First character then `***`, for words of three characters or more; `***` otherwise, since
/// one letter of a two-letter word is half of it.
fn initial(word: &str) -> String {
    let mut chars = word.chars();
    match (chars.next(), word.chars().count()) {
        (Some(c), n) if n >= 3 => format!("{c}***"),
        _ => "***".to_owned(),
    }
}

fn mask_words(s: &str) -> String {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(initial)
        .collect::<Vec<_>>()
        .join(" ")
}

fn mask_email(v: &str) -> String {
    let Some((local, domain)) = v.rsplit_once('@') else {
        return mask_generic(v);
    };
    let local = if local.chars().count() >= 4 {
        initial(local)
    } else {
        "***".to_owned()
    };
    let domain = if PUBLIC_DOMAINS.contains(&domain) {
        domain.to_owned()
    } else {
        // "j***@e***.com": the top-level domain alone is not identifying.
        match domain.rsplit_once('.') {
            Some((name, tld)) if tld.chars().count() <= 6 => format!("{}.{tld}", initial(name)),
            _ => "***".to_owned(),
        }
    };
    format!("{local}@{domain}")
}

/// "+12175550134" → "+1*******134": the country code's first digit and the last three.
fn mask_phone(v: &str) -> String {
    let chars: Vec<char> = v.chars().collect();
    let n = chars.len();
    if n < 8 {
        return "+***".to_owned();
    }
    let mut out: String = chars[..2].iter().collect();
    out.extend(std::iter::repeat_n('*', n - 5));
    out.extend(&chars[n - 3..]);
    out
}

/// "US:123456789" → "US:*****6789".
fn mask_gov_id(v: &str) -> String {
    let (cc, number) = v.split_once(':').unwrap_or(("", v));
    let n = number.chars().count();
    let shown = match n {
        0..=5 => 0,
        6..=8 => 2,
        _ => 4,
    };
    let mut out = String::with_capacity(v.len());
    if !cc.is_empty() {
        out.push_str(&cc.chars().take(3).collect::<String>());
        out.push(':');
    }
    out.extend(std::iter::repeat_n('*', n - shown));
    out.extend(number.chars().skip(n - shown));
    out
}

/// "203.0.113.7" → "203.0.113.*"; IPv6 keeps its /48 prefix.
fn mask_ip(v: &str) -> String {
    match v.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => {
            let o = a.octets();
            format!("{}.{}.{}.*", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(a)) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}:*", s[0], s[1], s[2])
        }
        Err(_) => mask_generic(v),
    }
}

/// Address keys: every word reduced to its first character (numbers too), standard
/// abbreviations kept, the postal code kept; the city, when it is the locality, masked.
fn mask_address(v: &str) -> String {
    let (street, locality) = v.split_once('|').unwrap_or((v, ""));
    let keep = |w: &str| {
        matches!(
            w,
            "st" | "ave"
                | "rd"
                | "blvd"
                | "dr"
                | "ln"
                | "ct"
                | "pl"
                | "ter"
                | "hwy"
                | "pkwy"
                | "sq"
                | "cir"
                | "way"
                | "str"
                | "n"
                | "s"
                | "e"
                | "w"
                | "ne"
                | "nw"
                | "se"
                | "sw"
                | "unit"
                | "po"
                | "box"
        )
    };
    let mut out = String::with_capacity(v.len());
    for w in street.split(' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        if keep(w) {
            out.push_str(w);
        } else {
            // First character of words of two or more characters ("1**", "m***"); a
            // one-character word (a unit number) is fully masked.
            let mut chars = w.chars();
            match (chars.next(), w.chars().count()) {
                (Some(c), 2..) => {
                    out.push(c);
                    out.extend(chars.map(|_| '*'));
                }
                _ => out.push('*'),
            }
        }
    }
    if !locality.is_empty() {
        out.push_str(" … ");
        // Postal codes are upper-case; a locality with lower-case letters is a city name.
        if locality.chars().any(char::is_lowercase) {
            out.push_str(&mask_words(locality));
        } else {
            out.push_str(locality);
        }
    }
    out
}

/// Opaque tokens: "dfp…3f2a" (first 3 + last 4) when long, less when shorter.
fn mask_token(v: &str) -> String {
    match v.chars().count() {
        24.. => ends(v, 3, 4),
        10.. => ends(v, 1, 2),
        _ => "***".to_owned(),
    }
}

fn mask_generic(v: &str) -> String {
    match v.chars().count() {
        10.. => ends(v, 1, 2),
        _ => "***".to_owned(),
    }
}

/// Masks a normalised value of a kind for logs and responses to callers without the
/// `pii:read` scope.
///
/// | kind | example |
/// |---|---|
/// | email | `j***@gmail.com` (domain shown only for big public providers, else `j***@e***.com`) |
/// | phone | `+1*******134` |
/// | gov_id | `US:*****6789` |
/// | device_id, browser/card fingerprint | `dfp…3f2a` (first 3 + last 4 when ≥ 24 chars) |
/// | ip | `203.0.113.*`, IPv6 `2001:db8:85a3:*` |
/// | address | `1** m*** st unit * … 62704` |
/// | name, name_last | `j*** d***` |
/// | birthdate | `****-**-**`; name_dob `j*** d***|****-**-**` |
/// | bank_account | `****3000` |
/// | anything else | `c…01` when ≥ 10 chars, else `***` |
///
/// Apart from the documented conventions above (public email domains, the last four digits
/// of an id, the network part of an IP, a postal code), a mask reveals at most about 30 % of
/// the characters, and never more than one per word. It works on characters, not bytes, and
/// does not panic on any input, including values that are not of the kind's normal form.
pub fn mask(kind: &str, normalized_value: &str) -> String {
    let v = normalized_value;
    if v.is_empty() {
        return String::new();
    }
    match kind {
        kinds::EMAIL => mask_email(v),
        kinds::PHONE => mask_phone(v),
        kinds::GOV_ID => mask_gov_id(v),
        kinds::IP => mask_ip(v),
        kinds::ADDRESS => mask_address(v),
        kinds::NAME | kinds::NAME_LAST => mask_words(v),
        kinds::BIRTHDATE => "****-**-**".to_owned(),
        kinds::NAME_DOB => {
            let name = v.split_once('|').map_or(v, |(n, _)| n);
            format!("{}|****-**-**", mask_words(name))
        }
        kinds::DEVICE_ID | kinds::BROWSER_FINGERPRINT | kinds::CARD_FINGERPRINT => mask_token(v),
        kinds::BANK_ACCOUNT => {
            let n = v.chars().count();
            let shown = if n >= 12 {
                4
            } else if n >= 8 {
                2
            } else {
                0
            };
            let mut out = "****".to_owned();
            out.extend(v.chars().skip(n - shown));
            out
        }
        _ => mask_generic(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        assert_eq!(mask(kinds::EMAIL, "johndoe@gmail.com"), "j***@gmail.com");
        assert_eq!(mask(kinds::EMAIL, "jane@doe-family.org"), "j***@d***.org");
        assert_eq!(mask(kinds::EMAIL, "al@gmail.com"), "***@gmail.com");
        assert_eq!(mask(kinds::PHONE, "+12175550134"), "+1*******134");
        assert_eq!(mask(kinds::GOV_ID, "US:123456789"), "US:*****6789");
        assert_eq!(mask(kinds::GOV_ID, "XX:1234"), "XX:****");
        assert_eq!(
            mask(kinds::DEVICE_ID, "dfp0a1b2c3d4e5f6a7b8c9d3f2a"),
            "dfp…3f2a"
        );
        assert_eq!(mask(kinds::IP, "203.0.113.7"), "203.0.113.*");
        assert_eq!(
            mask(kinds::IP, "2001:db8:85a3::8a2e:370:7334"),
            "2001:db8:85a3:*"
        );
        assert_eq!(
            mask(kinds::ADDRESS, "123 main st unit 4|62704"),
            "1** m*** st unit * … 62704"
        );
        assert_eq!(
            mask(kinds::ADDRESS, "123 main st|springfield"),
            "1** m*** st … s***"
        );
        assert_eq!(mask(kinds::NAME, "john paul smith"), "j*** p*** s***");
        assert_eq!(
            mask(kinds::NAME_DOB, "john smith|1987-04-12"),
            "j*** s***|****-**-**"
        );
        assert_eq!(
            mask(kinds::BANK_ACCOUNT, "DE89370400440532013000"),
            "****3000"
        );
        assert_eq!(mask("loyalty_id", "cust-000123"), "c…23");
        assert_eq!(mask("loyalty_id", "short"), "***");
    }

    #[test]
    fn unicode_never_splits() {
        for kind in kinds::BUILT_IN.iter().chain(&["custom"]) {
            for v in [
                "josé@exämple.com",
                "ÿ",
                "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
                "دبي|١٢٣",
                "a|b|c",
                ":",
                "|",
                "@",
            ] {
                let _ = mask(kind, v);
            }
        }
    }
}
