//! Small deterministic building blocks: a bijective mixer, a keyed permutation used to hand out
//! collision-free values, integer formatting and calendar arithmetic.
//!
//! Everything here uses integer arithmetic only, so output does not depend on the platform's
//! floating-point library.

use std::fmt::Write as _;

/// The SplitMix64 finaliser. It is a bijection on `u64`, so distinct inputs give distinct
/// outputs; that is what makes tokens derived from sequence numbers collision-free.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A keyed pseudo-random permutation of `0..size` (a four-round Feistel network over the
/// smallest even bit width that covers `size`, with cycle walking).
///
/// It lets the generator give every person a *distinct* phone number, SSN, address or email
/// suffix in O(1) memory: value `i` goes to the `i`-th person, and no two persons collide.
#[derive(Debug, Clone)]
pub(crate) struct Perm {
    size: u64,
    half_bits: u32,
    mask: u64,
    keys: [u64; 4],
}

impl Perm {
    pub(crate) fn new(size: u64, key: u64) -> Self {
        let size = size.max(2);
        let bits = 64 - (size - 1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let mask = (1u64 << half_bits) - 1;
        let keys = [mix(key), mix(key ^ 1), mix(key ^ 2), mix(key ^ 3)];
        Perm {
            size,
            half_bits,
            mask,
            keys,
        }
    }

    /// Maps `x` (taken modulo the size) to its image. Expected cost: under four Feistel passes.
    pub(crate) fn apply(&self, x: u64) -> u64 {
        let mut v = x % self.size;
        loop {
            v = self.round(v);
            if v < self.size {
                return v;
            }
        }
    }

    fn round(&self, v: u64) -> u64 {
        let mut l = v >> self.half_bits;
        let mut r = v & self.mask;
        for k in self.keys {
            let f = mix(r ^ k) & self.mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half_bits) | r
    }
}

/// A stream of distinct values in `0..size`: the `n`-th call returns `perm(n)`.
#[derive(Debug, Clone)]
pub(crate) struct Unique {
    perm: Perm,
    next: u64,
}

impl Unique {
    pub(crate) fn new(size: u64, key: u64) -> Self {
        Unique {
            perm: Perm::new(size, key),
            next: 0,
        }
    }

    pub(crate) fn take(&mut self) -> u64 {
        let v = self.perm.apply(self.next);
        self.next += 1;
        v
    }
}

/// "00" to "99", so two digits are appended per step without UTF-8 checks.
const PAIRS: &str = "0001020304050607080910111213141516171819\
                     2021222324252627282930313233343536373839\
                     4041424344454647484950515253545556575859\
                     6061626364656667686970717273747576777879\
                     8081828384858687888990919293949596979899";

/// Number of decimal digits of `n`.
fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

/// Appends `n` in decimal.
pub(crate) fn push_u64(out: &mut String, n: u64) {
    if n >= 100 {
        push_u64(out, n / 100);
        let k = (n % 100) as usize * 2;
        out.push_str(&PAIRS[k..k + 2]);
    } else if n >= 10 {
        let k = n as usize * 2;
        out.push_str(&PAIRS[k..k + 2]);
    } else {
        out.push(char::from(b'0' + n as u8));
    }
}

/// Appends `n` in decimal, left-padded with zeros to `width` digits.
pub(crate) fn push_padded(out: &mut String, n: u64, width: usize) {
    for _ in decimal_len(n)..width {
        out.push('0');
    }
    push_u64(out, n);
}

/// Appends the low `digits` hex digits of `v`, lowercase.
pub(crate) fn push_hex(out: &mut String, v: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits.min(16)).rev() {
        out.push(char::from(HEX[((v >> (i * 4)) & 0xF) as usize]));
    }
}

/// Appends `len` base-62 characters derived from `v`.
pub(crate) fn push_base62(out: &mut String, mut v: u64, len: usize) {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for _ in 0..len {
        out.push(ALPHABET[(v % 62) as usize] as char);
        v /= 62;
    }
}

/// A calendar date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ymd {
    pub(crate) year: i32,
    pub(crate) month: u32,
    pub(crate) day: u32,
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian), after Howard Hinnant.
pub(crate) fn days_from_civil(d: Ymd) -> i64 {
    let y = i64::from(d.year) - i64::from(d.month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(d.month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (days since 1970-01-01).
pub(crate) fn civil_from_days(z: i64) -> Ymd {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = y + i64::from(m <= 2);
    Ymd {
        year: year as i32,
        month: m as u32,
        day: d as u32,
    }
}

/// Appends an RFC 3339 UTC timestamp (`2024-03-05T14:22:07Z`) for Unix seconds `secs`.
pub(crate) fn push_rfc3339(out: &mut String, secs: i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let d = civil_from_days(days);
    push_padded(out, d.year.max(0) as u64, 4);
    out.push('-');
    push_padded(out, u64::from(d.month), 2);
    out.push('-');
    push_padded(out, u64::from(d.day), 2);
    out.push('T');
    push_padded(out, (rem / 3600) as u64, 2);
    out.push(':');
    push_padded(out, (rem / 60 % 60) as u64, 2);
    out.push(':');
    push_padded(out, (rem % 60) as u64, 2);
    out.push('Z');
}

/// Appends a prefixed, zero-padded id such as `acct_0000000042`.
pub(crate) fn push_id(out: &mut String, prefix: &str, n: u64, width: usize) {
    out.push_str(prefix);
    push_padded(out, n, width);
}

/// ISO 7064 mod 97-10 check digits for an IBAN: `country` + `bban`.
pub(crate) fn push_iban(out: &mut String, country: &str, bban: &str) {
    // Rearranged: BBAN + country + "00", letters as 10..35, then 98 - (n mod 97).
    let mut rem: u32 = 0;
    let mut feed = |c: char| {
        if let Some(d) = c.to_digit(10) {
            rem = (rem * 10 + d) % 97;
        } else if c.is_ascii_alphabetic() {
            let v = u32::from(c.to_ascii_uppercase() as u8 - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    };
    bban.chars().for_each(&mut feed);
    country.chars().for_each(&mut feed);
    feed('0');
    feed('0');
    let check = 98 - rem;
    out.push_str(country);
    let _ = write!(out, "{check:02}");
    out.push_str(bban);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perm_is_a_bijection() {
        for size in [2u64, 3, 10, 97, 1000, 4096, 5000] {
            let p = Perm::new(size, 7);
            let mut seen = vec![false; size as usize];
            for x in 0..size {
                let y = p.apply(x) as usize;
                assert!(!seen[y], "size {size}: {x} collides");
                seen[y] = true;
            }
        }
    }

    #[test]
    fn calendar_roundtrip() {
        for z in [-25_567i64, 0, 10_957, 19_723, 20_453, 20_818] {
            assert_eq!(days_from_civil(civil_from_days(z)), z);
        }
        assert_eq!(
            days_from_civil(Ymd {
                year: 2024,
                month: 1,
                day: 1
            }),
            19_723
        );
        let mut s = String::new();
        push_rfc3339(&mut s, 1_704_067_200 + 3_661);
        assert_eq!(s, "2024-01-01T01:01:01Z");
    }

    #[test]
    fn iban_check_digits() {
        // The textbook example: DE89 3704 0044 0532 0130 00.
        let mut s = String::new();
        push_iban(&mut s, "DE", "370400440532013000");
        assert_eq!(s, "DE89370400440532013000");
        s.clear();
        push_iban(&mut s, "GB", "NWBK60161331926819");
        assert_eq!(s, "GB29NWBK60161331926819");
    }

    #[test]
    fn padding() {
        let mut s = String::new();
        push_padded(&mut s, 42, 6);
        push_u64(&mut s, 0);
        push_padded(&mut s, 1234, 2);
        assert_eq!(s, "00004201234");
    }
}
