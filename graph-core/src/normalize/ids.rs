//! Identifiers: government ids, IP addresses, devices, fingerprints, bank accounts, and the
//! generic rule for custom kinds.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use unicode_normalization::UnicodeNormalization;

use super::country::country;
use super::text::{fold_basic, is_invisible};

const INVALID_GOV_ID: &str = "invalid_gov_id";
const INVALID_IP: &str = "invalid_ip";

/// Longest accepted government id number, in characters after separators are removed. Real
/// national ids and passport numbers are far shorter; longer values are pasted garbage.
const MAX_GOV_ID: usize = 32;

/// Normalises a government id to `COUNTRY:NUMBER`, e.g. `US:123456789`.
///
/// The number is NFKC-folded, stripped of everything that is not a letter or digit (spaces,
/// dashes, dots, slashes: "123-45-6789" = "123 45 6789" = `123456789`) and upper-cased.
/// `country` goes through [`country`]; when it is absent or not recognised the prefix is
/// `XX`, so an id is never silently attributed to a guessed country. The country is part of
/// the key because the same digits in two countries are two different documents.
///
/// # Errors
/// `"invalid_gov_id"` when no digit remains (`N/A`, `none`, `unknown`: no country's ID or
/// passport number is letters alone, and such a value typed by many people would link them),
/// or more than 32 letters and digits remain.
pub fn gov_id(number: &str, country_raw: Option<&str>) -> Result<String, &'static str> {
    let cc = country_raw.and_then(country);
    let cc = cc.as_deref().unwrap_or("XX");
    let mut out = String::with_capacity(cc.len() + 1 + number.len());
    out.push_str(cc);
    out.push(':');
    let (mut count, mut digits) = (0, 0);
    let mut push = |c: char, out: &mut String| {
        if c.is_alphanumeric() {
            count += 1;
            digits += usize::from(c.is_numeric());
            out.extend(c.to_uppercase());
        }
    };
    if number.is_ascii() {
        for c in number.chars() {
            push(c, &mut out);
        }
    } else {
        for c in number.chars().nfkc() {
            push(c, &mut out);
        }
    }
    if digits == 0 || count > MAX_GOV_ID {
        return Err(INVALID_GOV_ID);
    }
    Ok(out)
}

/// Normalises an IP address to its canonical text form.
///
/// Accepts a bare address, `1.2.3.4:443`, `[2001:db8::1]:80`, `[::1]`, and a zone suffix
/// (`fe80::1%eth0`, dropped: zones are local to one host). IPv4-mapped IPv6 addresses
/// (`::ffff:1.2.3.4`) become IPv4, because dual-stack servers log the same client either way.
/// IPv6 is printed compressed and lower-case (RFC 5952), so every spelling of one address
/// agrees. IPv4 with leading zeros (`010.0.0.1`) is rejected, as the standard library does:
/// it is octal to some tools and decimal to others.
///
/// # Errors
/// `"invalid_ip"` when the text is none of the above.
pub fn ip(raw: &str) -> Result<String, &'static str> {
    let s = raw.trim();
    let addr = parse_ip(s)
        .or_else(|| {
            // Tolerate invisible characters pasted around or inside the address.
            let cleaned: String = s
                .chars()
                .filter(|&c| !is_invisible(c) && !c.is_whitespace())
                .collect();
            if cleaned.len() == s.len() {
                None
            } else {
                parse_ip(&cleaned)
            }
        })
        .ok_or(INVALID_IP)?;
    Ok(match addr.to_canonical() {
        IpAddr::V4(a) => ipv4_text(a),
        a @ IpAddr::V6(_) => a.to_string(),
    })
}

/// The dotted-decimal text of an IPv4 address, as its `Display` writes it, without the
/// formatting machinery (which cost several times the parse; most addresses are IPv4).
fn ipv4_text(a: Ipv4Addr) -> String {
    let mut s = String::with_capacity(15);
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if o >= 100 {
            s.push(char::from(b'0' + o / 100));
        }
        if o >= 10 {
            s.push(char::from(b'0' + o / 10 % 10));
        }
        s.push(char::from(b'0' + o % 10));
    }
    s
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    if let Ok(a) = s.parse::<IpAddr>() {
        return Some(a);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    let unbracketed = s
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(s);
    let without_zone = unbracketed.split_once('%').map_or(unbracketed, |(a, _)| a);
    if without_zone.len() != s.len()
        && let Ok(a) = without_zone.parse::<std::net::Ipv6Addr>()
    {
        return Some(IpAddr::V6(a));
    }
    // "[fe80::1%eth0]:80"
    let (host, port) = s.rsplit_once(':')?;
    let host = host.strip_prefix('[')?.strip_suffix(']')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let host = host.split_once('%').map_or(host, |(a, _)| a);
    host.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

/// Normalises a device id: trimmed, invisible characters removed, lower-cased. Device ids are
/// hex strings or UUIDs, which SDKs print in either case. Inner whitespace is kept (it is
/// meaningful in no known format, but removing it could merge distinct opaque ids).
///
/// May return an empty string (an id made only of invisible characters); callers treat that
/// as unusable.
pub fn device_id(raw: &str) -> String {
    if raw.bytes().all(|b| b.is_ascii_graphic()) {
        // Nothing to trim, collapse or remove (the usual hex id or UUID): only the case.
        return raw.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(raw.len());
    if raw.is_ascii() {
        // Byte loop for the usual hex/UUID ids: `char::to_lowercase` costs several times more.
        for &b in raw.trim().as_bytes() {
            if b.is_ascii_whitespace() {
                out.push(' ');
            } else if !b.is_ascii_control() {
                out.push(b.to_ascii_lowercase() as char);
            }
        }
    } else {
        for c in raw.trim().chars() {
            if c.is_whitespace() {
                out.push(' ');
            } else if !is_invisible(c) {
                out.extend(c.to_lowercase());
            }
        }
    }
    let trimmed = out.trim();
    if trimmed.len() != out.len() {
        trimmed.to_owned()
    } else {
        out
    }
}

/// Normalises a card or browser fingerprint. Fingerprints are opaque, case-sensitive tokens
/// (base64 and friends), so the only safe changes are removing whitespace (line-wrapped
/// exports) and invisible characters. Nothing else is touched.
///
/// May return an empty string; callers treat that as unusable.
pub fn fingerprint(raw: &str) -> String {
    // In ASCII the whitespace and invisible characters are exactly the non-graphic ones
    // (controls, space, DEL), so ASCII fingerprints skip the per-character tests.
    if raw.is_ascii() {
        if raw.bytes().all(|b| b.is_ascii_graphic()) {
            return raw.to_owned();
        }
        return raw
            .bytes()
            .filter(u8::is_ascii_graphic)
            .map(char::from)
            .collect();
    }
    raw.chars()
        .filter(|&c| !c.is_whitespace() && !is_invisible(c))
        .collect()
}

/// Normalises a bank account number (IBAN or domestic): ASCII letters and digits only
/// (after NFKC, so full-width digits count), upper-cased. "DE89 3704 0044 0532 0130 00" =
/// `DE89370400440532013000`.
///
/// May return an empty string; callers treat that as unusable.
pub fn bank_account(raw: &str) -> String {
    let keep = |c: char| c.is_ascii_alphanumeric().then(|| c.to_ascii_uppercase());
    if raw.is_ascii() {
        raw.chars().filter_map(keep).collect()
    } else {
        raw.chars().nfkc().filter_map(keep).collect()
    }
}

/// The rule for custom kinds and `reference_id`: NFKC, invisible characters removed,
/// whitespace collapsed, trimmed, lower-cased. Nothing kind-specific is assumed.
///
/// May return an empty string; callers treat that as unusable. Idempotent.
pub fn generic(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    fold_basic(raw, true, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The character rule of `fingerprint`, for comparing its ASCII fast paths.
    fn fingerprint_by_chars(raw: &str) -> String {
        raw.chars()
            .filter(|&c| !c.is_whitespace() && !is_invisible(c))
            .collect()
    }

    #[test]
    fn fast_paths_agree_with_the_full_loops() {
        // Every ASCII byte, alone and between letters, and some ordinary ids.
        let mut inputs: Vec<String> = (0u8..128)
            .flat_map(|b| {
                let c = char::from(b);
                [c.to_string(), format!("Ab{c}9f"), format!("{c}x{c}")]
            })
            .collect();
        inputs.extend(
            [
                "c4456d85-8F2E-4492-9a82-4c2d7680af16",
                "fp_3xIYIzP9Vl49q7Bn",
                " AB cd ",
                "a\u{b}b",
                "",
            ]
            .map(str::to_owned),
        );
        for raw in &inputs {
            assert_eq!(fingerprint(raw), fingerprint_by_chars(raw), "{raw:?}");
            // The byte loop `device_id` takes for ASCII that is not all graphic.
            let mut slow = String::new();
            for &b in raw.trim().as_bytes() {
                if b.is_ascii_whitespace() {
                    slow.push(' ');
                } else if !b.is_ascii_control() {
                    slow.push(char::from(b.to_ascii_lowercase()));
                }
            }
            assert_eq!(device_id(raw), slow.trim(), "{raw:?}");
        }
    }

    #[test]
    fn ipv4_text_is_display() {
        for a in [
            0u32,
            1,
            9,
            10,
            99,
            100,
            255,
            0x0a00_0001,
            0x7f00_0001,
            0xc0a8_0a64,
            u32::MAX,
        ]
        .into_iter()
        .chain((0..=u32::MAX).step_by(99_991))
        {
            let a = Ipv4Addr::from(a);
            assert_eq!(ipv4_text(a), a.to_string());
        }
    }

    #[test]
    fn gov_ids() {
        for (n, c) in [
            ("123-45-6789", Some("US")),
            ("123 45 6789", Some("usa")),
            ("123.45.6789", Some("United States")),
            ("１２３４５６７８９", Some("U.S.")),
            ("\u{200B}123456789\u{0}", Some("US")),
        ] {
            assert_eq!(gov_id(n, c).as_deref(), Ok("US:123456789"), "{n}");
        }
        assert_eq!(
            gov_id("ab123456c", Some("GB")).as_deref(),
            Ok("GB:AB123456C")
        );
        assert_eq!(gov_id("X1234567", None).as_deref(), Ok("XX:X1234567"));
        assert_eq!(
            gov_id("X1234567", Some("Narnia")).as_deref(),
            Ok("XX:X1234567")
        );
        assert_eq!(gov_id("αβ123", Some("GR")).as_deref(), Ok("GR:ΑΒ123"));
        assert_ne!(
            gov_id("123456789", Some("US")),
            gov_id("123456789", Some("CA"))
        );
        for bad in [
            "",
            "---",
            "😀",
            "\u{0}",
            &"9".repeat(33),
            "NA",
            "n/a",
            "none",
            "Unknown",
            "XXXXXXXXX",
        ] {
            assert_eq!(gov_id(bad, Some("US")), Err(INVALID_GOV_ID), "{bad:?}");
        }
        assert!(gov_id(&"9".repeat(32), Some("US")).is_ok());
    }

    #[test]
    fn ips() {
        for s in [
            "203.0.113.7",
            " 203.0.113.7 ",
            "203.0.113.7:443",
            "::ffff:203.0.113.7",
            "[::ffff:203.0.113.7]:80",
        ] {
            assert_eq!(ip(s).as_deref(), Ok("203.0.113.7"), "{s}");
        }
        for s in [
            "2001:db8::1",
            "2001:DB8:0:0:0:0:0:1",
            "2001:0db8:0000:0000:0000:0000:0000:0001",
            "[2001:db8::1]",
            "[2001:db8::1]:8080",
            "2001:db8::1%eth0",
            "[2001:db8::1%eth0]:80",
            "2001:db8::1\u{200B}",
        ] {
            assert_eq!(ip(s).as_deref(), Ok("2001:db8::1"), "{s}");
        }
        assert_eq!(ip("::1").as_deref(), Ok("::1"));
        for s in [
            "",
            "localhost",
            "1.2.3",
            "256.1.1.1",
            "010.0.0.1",
            "1.2.3.4:99999",
            "1.2.3.4/24",
            "::g",
            "😀",
            "[1.2.3.4]",
        ] {
            assert_eq!(ip(s), Err(INVALID_IP), "{s:?}");
        }
    }

    #[test]
    fn opaque_ids() {
        assert_eq!(
            device_id("  550E8400-E29B-41D4-A716-446655440000 "),
            "550e8400-e29b-41d4-a716-446655440000"
        );
        assert_eq!(device_id("AB\u{0}CD"), "abcd");
        assert_eq!(device_id("\u{200B}"), "");
        assert_eq!(fingerprint(" AbC+/=\n dEf \t"), "AbC+/=dEf");
        assert_eq!(fingerprint("a\u{200D}b"), "ab");
        assert_eq!(
            bank_account("de89 3704 0044 0532 0130 00"),
            "DE89370400440532013000"
        );
        assert_eq!(bank_account("１２-３４"), "1234");
        assert_eq!(bank_account("---"), "");
        assert_eq!(generic("  ＡＢＣ\t  Déf\u{200B} "), "abc déf");
        assert_eq!(generic("CUST-001; DROP TABLE x"), "cust-001; drop table x");
    }
}
