//! Canonical values of one account (the identity it claims, its contact points, payment
//! instruments and session signals) and how each value is written, with format noise.
//!
//! A value is stored once in canonical form; every row that shows it renders it again, with
//! probability `noise` in one of several non-canonical but equivalent spellings. The spellings
//! are the ones a normaliser has to undo.

use rand::Rng as _;
use rand_chacha::ChaCha8Rng;

use crate::geo::{self, Country};
use crate::names::{Culture, push_ascii_fold};
use crate::util::{Ymd, mix, push_base62, push_hex, push_padded, push_u64};

pub(crate) type Rng = ChaCha8Rng;

/// Picks an index with probability proportional to its weight.
pub(crate) fn weighted<T: Copy>(rng: &mut Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|&(_, w)| w).sum();
    let mut x = rng.random_range(0..total.max(1));
    for &(item, w) in items {
        if x < w {
            return item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// Picks one element uniformly.
pub(crate) fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len() as u32) as usize]
}

/// Unit designator of an apartment, suite or flat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitKind {
    Apt,
    Suite,
    Unit,
    Flat,
}

/// A street address in canonical parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Addr {
    pub(crate) country: Country,
    pub(crate) number: u32,
    /// Index into the country's street table (name × type).
    pub(crate) street: u32,
    pub(crate) city: u16,
    pub(crate) unit: Option<(UnitKind, u16)>,
    pub(crate) postal: String,
}

/// An IP address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Ip {
    #[default]
    Missing,
    V4(u32),
    V6 {
        prefix: &'static str,
        high: u32,
        low: u64,
    },
}

/// A government id: canonical characters (digits, or letters and digits) and issuing country.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GovId {
    pub(crate) country: Country,
    pub(crate) value: String,
}

/// A bank account: country and a token that determines the number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bank {
    pub(crate) country: Country,
    pub(crate) token: u64,
}

/// Which values an account row shows (the rest are empty cells).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Show {
    pub(crate) reference: bool,
    pub(crate) name: bool,
    pub(crate) middle: bool,
    pub(crate) birth: bool,
    pub(crate) email: bool,
    pub(crate) phone: bool,
    pub(crate) address: bool,
    pub(crate) gov: bool,
    pub(crate) card: bool,
    pub(crate) bank: bool,
    pub(crate) device: bool,
    pub(crate) ip: bool,
}

/// A placeholder value somebody typed instead of real data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholder {
    Email(&'static str),
    Phone(&'static str),
    Gov(&'static str),
}

pub(crate) static PLACEHOLDERS: &[Placeholder] = &[
    Placeholder::Email("test@test.com"),
    Placeholder::Email("none@none.com"),
    Placeholder::Email("N/A"),
    Placeholder::Phone("0000000000"),
    Placeholder::Phone("1234567890"),
    Placeholder::Phone("N/A"),
    Placeholder::Gov("123456789"),
    Placeholder::Gov("000000000"),
    Placeholder::Gov("N/A"),
];

/// Everything one account carries, in canonical form.
#[derive(Debug, Clone, Default)]
pub(crate) struct Persona {
    pub(crate) person: u64,
    pub(crate) country: Country,
    pub(crate) culture: Culture,
    pub(crate) first: String,
    pub(crate) middle: String,
    pub(crate) last: String,
    pub(crate) birth: Ymd,
    pub(crate) gov: GovId,
    pub(crate) email_local: String,
    pub(crate) email_domain: &'static str,
    pub(crate) phone: String,
    pub(crate) phone_country: Country,
    pub(crate) addr: Addr,
    pub(crate) card: u64,
    pub(crate) bank: Bank,
    pub(crate) device: u64,
    /// A second device (phone vs laptop) some inquiries come from.
    pub(crate) alt_device: u64,
    pub(crate) ip: Ip,
    pub(crate) show: Show,
    pub(crate) placeholder: Option<Placeholder>,
}

// ---------------------------------------------------------------------------------------------
// Rendering. Every function appends to `out`; `noisy` selects a non-canonical spelling.

fn push_upper(out: &mut String, s: &str) {
    for c in s.chars() {
        out.extend(c.to_uppercase());
    }
}

fn push_lower(out: &mut String, s: &str) {
    for c in s.chars() {
        out.extend(c.to_lowercase());
    }
}

fn is_german(c: Culture) -> bool {
    matches!(c, Culture::German)
}

/// A personal name part.
pub(crate) fn render_name(out: &mut String, s: &str, culture: Culture, rng: &mut Rng, noisy: bool) {
    if !noisy {
        out.push_str(s);
        return;
    }
    match rng.random_range(0..5u32) {
        0 => push_upper(out, s),
        1 => push_lower(out, s),
        2 if !s.is_ascii() => {
            let german = is_german(culture) && rng.random_bool(0.4);
            push_ascii_fold(out, s, german);
        }
        3 => {
            // Stray whitespace around or inside the value.
            out.push(' ');
            out.push_str(s);
            if rng.random_bool(0.5) {
                out.push(' ');
            }
        }
        _ => {
            if s.contains(' ') {
                out.push_str(&s.replacen(' ', "  ", 1));
            } else {
                out.push_str(s);
                out.push(' ');
            }
        }
    }
}

static MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A birthdate. Canonical: `1987-04-12`. Noise: `04/12/1987` (always month first),
/// `19870412`, `12.04.1987` (always day first), `April 12, 1987`.
pub(crate) fn render_date(out: &mut String, d: Ymd, rng: &mut Rng, noisy: bool) {
    let (y, m, dd) = (d.year.max(0) as u64, u64::from(d.month), u64::from(d.day));
    let style = if noisy { rng.random_range(1..5u32) } else { 0 };
    match style {
        0 => {
            push_padded(out, y, 4);
            out.push('-');
            push_padded(out, m, 2);
            out.push('-');
            push_padded(out, dd, 2);
        }
        1 => {
            push_padded(out, m, 2);
            out.push('/');
            push_padded(out, dd, 2);
            out.push('/');
            push_padded(out, y, 4);
        }
        2 => {
            push_padded(out, y, 4);
            push_padded(out, m, 2);
            push_padded(out, dd, 2);
        }
        3 => {
            push_padded(out, dd, 2);
            out.push('.');
            push_padded(out, m, 2);
            out.push('.');
            push_padded(out, y, 4);
        }
        _ => {
            out.push_str(MONTHS[(d.month.clamp(1, 12) - 1) as usize]);
            out.push(' ');
            push_u64(out, dd);
            out.push_str(", ");
            push_padded(out, y, 4);
        }
    }
}

/// An email address. Canonical: lowercase, trimmed. Noise: capitalised, upper case, stray
/// whitespace, and for gmail.com dots removed or added and `+tags` (gmail ignores both).
pub(crate) fn render_email(
    out: &mut String,
    local: &str,
    domain: &str,
    rng: &mut Rng,
    noisy: bool,
) {
    if !noisy {
        out.push_str(local);
        out.push('@');
        out.push_str(domain);
        return;
    }
    let gmail = domain == "gmail.com";
    let style = rng.random_range(0..if gmail { 6u32 } else { 3 });
    match style {
        0 => {
            let mut chars = local.chars();
            if let Some(c) = chars.next() {
                out.push(c.to_ascii_uppercase());
            }
            out.push_str(chars.as_str());
            out.push('@');
            out.push_str(domain);
        }
        1 => {
            push_upper(out, local);
            out.push('@');
            push_upper(out, domain);
        }
        2 => {
            out.push(' ');
            out.push_str(local);
            out.push('@');
            out.push_str(domain);
            out.push(' ');
        }
        3 => {
            out.extend(local.chars().filter(|&c| c != '.'));
            out.push('@');
            out.push_str(domain);
        }
        4 => {
            // A dot after the first letter: still the same gmail mailbox.
            let mut chars = local.chars();
            if let Some(c) = chars.next() {
                out.push(c);
                out.push('.');
            }
            out.push_str(chars.as_str().trim_start_matches('.'));
            out.push('@');
            out.push_str(domain);
        }
        _ => {
            out.push_str(local);
            out.push('+');
            out.push_str(pick(rng, &["shop", "news", "signup", "bank", "promo", "1"]));
            out.push('@');
            out.push_str(domain);
        }
    }
}

/// A phone number. Canonical: E.164 (`+14155550134`). Noise: national and international
/// display formats. National formats (no `+` or `00`) are only used when `region` (the row's
/// address country, or US when the row has none) is the phone's own country, and `00` only
/// when `region` dials out with `00`.
pub(crate) fn render_phone(
    out: &mut String,
    country: Country,
    national: &str,
    region: Country,
    rng: &mut Rng,
    noisy: bool,
) {
    let cc = country.calling_code();
    if !noisy || national.len() < 7 {
        out.push('+');
        out.push_str(cc);
        out.push_str(national);
        return;
    }
    let local_ok = region == country;
    let (a, b) = national.split_at(3.min(national.len()));
    match country {
        Country::Us | Country::Ca => {
            let (ex, line) = b.split_at(3);
            let styles: &[u32] = if local_ok {
                &[0, 1, 2, 3, 4, 5, 6]
            } else {
                &[0, 6]
            };
            match pick(rng, styles) {
                0 => {
                    out.push_str("+1 (");
                    out.push_str(a);
                    out.push_str(") ");
                    out.push_str(ex);
                    out.push('-');
                    out.push_str(line);
                }
                1 => {
                    out.push('(');
                    out.push_str(a);
                    out.push_str(") ");
                    out.push_str(ex);
                    out.push('-');
                    out.push_str(line);
                }
                2 => {
                    out.push_str(a);
                    out.push('.');
                    out.push_str(ex);
                    out.push('.');
                    out.push_str(line);
                }
                3 => out.push_str(national),
                4 => {
                    out.push_str(a);
                    out.push('-');
                    out.push_str(ex);
                    out.push('-');
                    out.push_str(line);
                }
                5 => {
                    out.push_str("1-");
                    out.push_str(a);
                    out.push('-');
                    out.push_str(ex);
                    out.push('-');
                    out.push_str(line);
                }
                _ => {
                    out.push_str("+1 ");
                    out.push_str(a);
                    out.push('-');
                    out.push_str(ex);
                    out.push('-');
                    out.push_str(line);
                }
            }
        }
        Country::Gb | Country::De => {
            // GB: 7911 123456; DE: 151 12345678 (split after the mobile prefix).
            let split = if country == Country::Gb { 4 } else { 3 };
            let (p, rest) = national.split_at(split);
            // `00` is the international prefix in Europe, not in North America (011).
            let idd00 = !matches!(region, Country::Us | Country::Ca);
            let styles: &[u32] = match (local_ok, idd00) {
                (true, _) => &[0, 1, 2, 3, 4, 5],
                (false, true) => &[0, 1, 2],
                (false, false) => &[0, 1],
            };
            match pick(rng, styles) {
                0 => {
                    out.push('+');
                    out.push_str(cc);
                    out.push(' ');
                    out.push_str(p);
                    out.push(' ');
                    out.push_str(rest);
                }
                1 => {
                    out.push('+');
                    out.push_str(cc);
                    out.push_str(" (0)");
                    out.push_str(p);
                    out.push(' ');
                    out.push_str(rest);
                }
                2 => {
                    out.push_str("00");
                    out.push_str(cc);
                    out.push(' ');
                    out.push_str(p);
                    out.push(' ');
                    out.push_str(rest);
                }
                3 => {
                    out.push('0');
                    out.push_str(p);
                    out.push(' ');
                    out.push_str(rest);
                }
                4 => {
                    out.push('0');
                    out.push_str(national);
                }
                _ => {
                    out.push('0');
                    out.push_str(p);
                    out.push(if country == Country::De { '/' } else { '-' });
                    out.push_str(rest);
                }
            }
        }
        Country::Fr => {
            // 6 12 34 56 78.
            let pairs = |out: &mut String, sep: char| {
                let mut i = 1;
                while i < national.len() {
                    out.push(sep);
                    out.push_str(&national[i..(i + 2).min(national.len())]);
                    i += 2;
                }
            };
            let styles: &[u32] = if local_ok { &[0, 1, 2, 3] } else { &[0] };
            match pick(rng, styles) {
                0 => {
                    out.push_str("+33 ");
                    out.push_str(&national[..1]);
                    pairs(out, ' ');
                }
                1 => {
                    out.push('0');
                    out.push_str(&national[..1]);
                    pairs(out, ' ');
                }
                2 => {
                    out.push('0');
                    out.push_str(national);
                }
                _ => {
                    out.push('0');
                    out.push_str(&national[..1]);
                    pairs(out, '.');
                }
            }
        }
    }
}

/// A government id number. Canonical: the bare characters (`123456789`, `AB123456C`).
/// Noise: the country's usual separators (`123-45-6789`, `AB 12 34 56 C`, ...) or lower case.
pub(crate) fn render_gov(out: &mut String, gov: &GovId, rng: &mut Rng, noisy: bool) {
    let v = gov.value.as_str();
    if !noisy || !v.is_ascii() {
        out.push_str(v);
        return;
    }
    let groups: &[usize] = match (gov.country, v.len()) {
        (Country::Us, 9) => &[3, 2, 4],
        (Country::Ca, 9) => &[3, 3, 3],
        (Country::Gb, 9) => &[2, 2, 2, 2, 1],
        (Country::De, 11) => &[2, 3, 3, 3],
        (Country::Fr, 15) => &[1, 2, 2, 2, 3, 3, 2],
        _ => &[],
    };
    if groups.is_empty() {
        out.push_str(v);
        return;
    }
    let sep = match (gov.country, rng.random_range(0..3u32)) {
        (Country::Us | Country::Ca, 0 | 1) => '-',
        (Country::Gb, 2) => '\0',
        _ => ' ',
    };
    let lower = gov.country == Country::Gb && rng.random_bool(0.3);
    let mut at = 0;
    for (i, &g) in groups.iter().enumerate() {
        if i > 0 && sep != '\0' {
            out.push(sep);
        }
        let part = &v[at..(at + g).min(v.len())];
        if lower {
            out.push_str(&part.to_ascii_lowercase());
        } else {
            out.push_str(part);
        }
        at += g;
    }
}

/// Street line of an address. Canonical: `123 Main Street Apt 4`, `Flat 4, 12 High Street`,
/// `Hauptstraße 12`, `12 rue de la Paix`. Noise: abbreviations, case, `#4`, stray commas and
/// spaces, accents dropped.
pub(crate) fn render_street(out: &mut String, a: &Addr, rng: &mut Rng, noisy: bool) {
    let style = if noisy { rng.random_range(1..6u32) } else { 0 };
    match a.country {
        Country::Us | Country::Ca | Country::Gb => {
            let n_suffix = geo::EN_SUFFIXES.len() as u32;
            let name = geo::EN_STREETS[(a.street / n_suffix) as usize % geo::EN_STREETS.len()];
            let (long, short) = geo::EN_SUFFIXES[(a.street % n_suffix) as usize];
            let unit_word = |k: UnitKind| match k {
                UnitKind::Apt => "Apt",
                UnitKind::Suite => "Suite",
                UnitKind::Unit => "Unit",
                UnitKind::Flat => "Flat",
            };
            let gb_flat = matches!(a.unit, Some((UnitKind::Flat, _)));
            if gb_flat && let Some((k, n)) = a.unit {
                match style {
                    1 | 2 => out.push_str("FLAT "),
                    3 => out.push_str("flat "),
                    _ => {
                        out.push_str(unit_word(k));
                        out.push(' ');
                    }
                }
                push_u64(out, u64::from(n));
                out.push_str(if style == 5 { " " } else { ", " });
            }
            push_u64(out, u64::from(a.number));
            out.push(' ');
            match style {
                0 => {
                    out.push_str(name);
                    out.push(' ');
                    out.push_str(long);
                }
                1 => {
                    push_upper(out, name);
                    out.push(' ');
                    push_upper(out, short);
                    out.push('.');
                }
                2 => {
                    out.push_str(name);
                    out.push(' ');
                    out.push_str(short);
                }
                3 => {
                    push_lower(out, name);
                    out.push(' ');
                    push_lower(out, long);
                }
                4 => {
                    out.push_str(name);
                    out.push(' ');
                    out.push_str(short);
                    out.push('.');
                }
                _ => {
                    out.push_str(name);
                    out.push_str("  ");
                    out.push_str(long);
                }
            }
            if !gb_flat && let Some((k, n)) = a.unit {
                match style {
                    0 => {
                        out.push(' ');
                        out.push_str(unit_word(k));
                        out.push(' ');
                    }
                    1 => out.push_str(" #"),
                    2 => {
                        out.push(' ');
                        push_upper(out, unit_word(k));
                        out.push(' ');
                    }
                    3 => {
                        out.push(' ');
                        push_lower(out, unit_word(k));
                        out.push(' ');
                    }
                    4 => {
                        out.push_str(", ");
                        out.push_str(unit_word(k));
                        out.push_str(". ");
                    }
                    _ => out.push_str("  #"),
                }
                push_u64(out, u64::from(n));
            }
            if style == 5 {
                out.push(' ');
            }
        }
        Country::De => {
            let n_suffix = geo::DE_SUFFIXES.len() as u32;
            let stem = geo::DE_STEMS[(a.street / n_suffix) as usize % geo::DE_STEMS.len()];
            let (long, short) = geo::DE_SUFFIXES[(a.street % n_suffix) as usize];
            let mut word = String::with_capacity(24);
            word.push_str(stem);
            match style {
                1 | 4 => word.push_str(short),
                _ => word.push_str(long),
            }
            match style {
                2 => {
                    let mut folded = String::with_capacity(word.len() + 2);
                    push_ascii_fold(&mut folded, &word, true);
                    push_upper(out, &folded);
                }
                3 => push_ascii_fold(out, &word, true),
                4 => push_lower(out, &word),
                _ => out.push_str(&word),
            }
            out.push(' ');
            push_u64(out, u64::from(a.number));
        }
        Country::Fr => {
            let n_types = geo::FR_TYPES.len() as u32;
            let name = geo::FR_NAMES[(a.street / n_types) as usize % geo::FR_NAMES.len()];
            let (long, short) = geo::FR_TYPES[(a.street % n_types) as usize];
            push_u64(out, u64::from(a.number));
            match style {
                0 | 5 => {
                    out.push(' ');
                    out.push_str(long);
                    out.push(' ');
                    out.push_str(name);
                }
                1 => {
                    out.push_str(", ");
                    out.push_str(long);
                    out.push(' ');
                    out.push_str(name);
                }
                2 => {
                    out.push(' ');
                    push_upper(out, long);
                    out.push(' ');
                    push_upper(out, name);
                }
                3 => {
                    out.push(' ');
                    out.push_str(short);
                    out.push(' ');
                    out.push_str(name);
                }
                _ => {
                    out.push(' ');
                    push_ascii_fold(out, long, false);
                    out.push(' ');
                    push_ascii_fold(out, name, false);
                }
            }
        }
    }
}

/// City name. Noise: upper case or accents dropped.
pub(crate) fn render_city(out: &mut String, a: &Addr, rng: &mut Rng, noisy: bool) {
    let cities = a.country.cities();
    let name = cities[a.city as usize % cities.len()].name;
    if !noisy {
        out.push_str(name);
    } else if rng.random_bool(0.5) {
        push_upper(out, name);
    } else {
        push_ascii_fold(out, name, a.country == Country::De && rng.random_bool(0.5));
    }
}

pub(crate) fn render_subdivision(out: &mut String, a: &Addr, rng: &mut Rng, noisy: bool) {
    let cities = a.country.cities();
    let s = cities[a.city as usize % cities.len()].subdivision;
    if noisy && rng.random_bool(0.5) {
        push_upper(out, s);
    } else {
        out.push_str(s);
    }
}

/// Postal code. Canonical: `10001`, `SW1A 1AA`, `M5V 2T6`. Noise: ZIP+4, no space, lower case.
pub(crate) fn render_postal(out: &mut String, a: &Addr, rng: &mut Rng, noisy: bool) {
    let p = a.postal.as_str();
    if !noisy {
        out.push_str(p);
        return;
    }
    match a.country {
        Country::Us => {
            out.push_str(p);
            out.push('-');
            push_padded(out, rng.random_range(1..10_000u64), 4);
        }
        Country::Gb | Country::Ca => {
            if rng.random_bool(0.5) {
                out.extend(p.chars().filter(|&c| c != ' '));
            } else {
                push_lower(out, p);
            }
        }
        Country::De | Country::Fr => out.push_str(p),
    }
}

/// Country. Canonical: ISO 3166-1 alpha-2 (`US`). Noise: lower case or alpha-3 (`USA`).
pub(crate) fn render_country(out: &mut String, c: Country, rng: &mut Rng, noisy: bool) {
    if noisy && rng.random_bool(0.25) {
        if rng.random_bool(0.5) {
            out.push_str(&c.iso2().to_ascii_lowercase());
        } else {
            out.push_str(c.iso3());
        }
    } else {
        out.push_str(c.iso2());
    }
}

/// Device id: a UUID, canonical lower case; noise: upper case.
pub(crate) fn render_device(out: &mut String, token: u64, keys: &Keys, upper: bool) {
    let hi = mix(token ^ keys.device_hi);
    let lo = mix(token ^ keys.device_lo);
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0xC << 60)) | (0x8 << 60);
    let start = out.len();
    push_hex(out, hi >> 32, 8);
    out.push('-');
    push_hex(out, (hi >> 16) & 0xFFFF, 4);
    out.push('-');
    push_hex(out, hi & 0xFFFF, 4);
    out.push('-');
    push_hex(out, lo >> 48, 4);
    out.push('-');
    push_hex(out, lo & 0xFFFF_FFFF_FFFF, 12);
    if upper {
        out[start..].make_ascii_uppercase();
    }
}

/// Card fingerprint (case-sensitive, like a payment processor's): `fp_` + 16 base-62 chars.
pub(crate) fn render_card(out: &mut String, token: u64, keys: &Keys) {
    out.push_str("fp_");
    push_base62(out, mix(token ^ keys.card), 11);
    push_base62(out, mix(token ^ keys.card2), 5);
}

/// Browser fingerprint: 32 hex chars derived from a token (usually the device).
pub(crate) fn render_browser_fp(out: &mut String, token: u64, keys: &Keys) {
    push_hex(out, mix(token ^ keys.fp), 16);
    push_hex(out, mix(token ^ keys.fp2), 16);
}

/// User agents, already encoded as CSV fields (quoted, as they contain commas).
static USER_AGENTS: &[&str] = &[
    "\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\"",
    "\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0\"",
    "\"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15\"",
    "\"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\"",
    "\"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1\"",
    "\"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1\"",
    "\"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.165 Mobile Safari/537.36\"",
    "\"Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.210 Mobile Safari/537.36\"",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "\"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36\"",
    "\"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1\"",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:129.0) Gecko/20100101 Firefox/129.0",
];

/// User agent of a device (stable per device token), CSV-encoded.
pub(crate) fn user_agent(token: u64, keys: &Keys) -> &'static str {
    USER_AGENTS[(mix(token ^ keys.ua) % USER_AGENTS.len() as u64) as usize]
}

pub(crate) fn render_ip(out: &mut String, ip: Ip) {
    match ip {
        Ip::Missing => {}
        Ip::V4(v) => {
            for (i, shift) in [24u32, 16, 8, 0].into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u64(out, u64::from((v >> shift) & 0xFF));
            }
        }
        Ip::V6 { prefix, high, low } => {
            out.push_str(prefix);
            for i in 0..6u32 {
                out.push(':');
                let group = if i < 2 {
                    (high >> (16 * (1 - i))) & 0xFFFF
                } else {
                    ((low >> (16 * (5 - i))) & 0xFFFF) as u32
                };
                push_hex_trimmed(out, u64::from(group));
            }
        }
    }
}

fn push_hex_trimmed(out: &mut String, v: u64) {
    let digits = if v == 0 {
        1
    } else {
        (64 - v.leading_zeros()).div_ceil(4)
    };
    push_hex(out, v, digits);
}

/// Bank account. US: `routing-account`; CA: `transit-institution-account`; GB, DE, FR: IBAN
/// (valid check digits), noise adds the usual groups of four.
pub(crate) fn render_bank(out: &mut String, bank: Bank, keys: &Keys, noisy: bool) {
    let v = mix(bank.token ^ keys.bank);
    match bank.country {
        Country::Us => {
            const ROUTING: [&str; 6] = [
                "021000021",
                "026009593",
                "121000248",
                "091000022",
                "011401533",
                "122105155",
            ];
            out.push_str(ROUTING[(v % ROUTING.len() as u64) as usize]);
            out.push(if noisy { ' ' } else { '-' });
            push_padded(out, bank.token % 10_000_000_000, 10);
        }
        Country::Ca => {
            push_padded(out, v % 100_000, 5);
            out.push('-');
            out.push_str(["001", "002", "003", "004", "006", "010"][(v >> 20) as usize % 6]);
            out.push('-');
            push_padded(out, bank.token % 10_000_000, 7);
        }
        Country::Gb | Country::De | Country::Fr => {
            let mut bban = String::with_capacity(30);
            match bank.country {
                Country::Gb => {
                    bban.push_str(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"][(v % 5) as usize]);
                    push_padded(&mut bban, (v >> 8) % 1_000_000, 6);
                    push_padded(&mut bban, bank.token % 100_000_000, 8);
                }
                Country::De => {
                    push_padded(&mut bban, 10_000_000 + (v >> 8) % 90_000_000, 8);
                    push_padded(&mut bban, bank.token % 10_000_000_000, 10);
                }
                _ => {
                    push_padded(&mut bban, 10_000 + (v >> 8) % 90_000, 5);
                    push_padded(&mut bban, (v >> 30) % 100_000, 5);
                    push_padded(&mut bban, bank.token % 100_000_000_000, 11);
                    push_padded(&mut bban, (v >> 50) % 97 + 1, 2);
                }
            }
            let mut iban = String::with_capacity(34);
            crate::util::push_iban(&mut iban, bank.country.iso2(), &bban);
            if noisy {
                for (i, c) in iban.chars().enumerate() {
                    if i > 0 && i % 4 == 0 {
                        out.push(' ');
                    }
                    out.push(c);
                }
            } else {
                out.push_str(&iban);
            }
        }
    }
}

/// Derived keys for tokens that are rendered through [`mix`] (devices, cards, fingerprints).
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub(crate) device_hi: u64,
    pub(crate) device_lo: u64,
    pub(crate) card: u64,
    pub(crate) card2: u64,
    pub(crate) fp: u64,
    pub(crate) fp2: u64,
    pub(crate) ua: u64,
    pub(crate) bank: u64,
    pub(crate) reference: u64,
}

impl Keys {
    pub(crate) fn new(seed: u64) -> Self {
        let k = |i: u64| mix(seed ^ mix(0x5EED_0000 + i));
        Keys {
            device_hi: k(1),
            device_lo: k(2),
            card: k(3),
            card2: k(4),
            fp: k(5),
            fp2: k(6),
            ua: k(7),
            bank: k(8),
            reference: k(9),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn phone_styles() {
        let mut rng = Rng::seed_from_u64(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut s = String::new();
            render_phone(
                &mut s,
                Country::Us,
                "4155550134",
                Country::Us,
                &mut rng,
                true,
            );
            seen.insert(s);
        }
        for want in [
            "+1 (415) 555-0134",
            "415.555.0134",
            "4155550134",
            "(415) 555-0134",
        ] {
            assert!(seen.contains(want), "{want} not in {seen:?}");
        }
        let mut s = String::new();
        render_phone(
            &mut s,
            Country::Fr,
            "612345678",
            Country::Fr,
            &mut rng,
            false,
        );
        assert_eq!(s, "+33612345678");
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100 {
            let mut s = String::new();
            render_phone(
                &mut s,
                Country::Fr,
                "612345678",
                Country::Fr,
                &mut rng,
                true,
            );
            seen.insert(s);
        }
        assert!(seen.contains("06 12 34 56 78"), "{seen:?}");
        assert!(seen.contains("06.12.34.56.78"), "{seen:?}");
        assert!(seen.contains("+33 6 12 34 56 78"), "{seen:?}");
    }

    #[test]
    fn street_styles() {
        let mut rng = Rng::seed_from_u64(3);
        let a = Addr {
            country: Country::Us,
            number: 123,
            street: 0,
            city: 0,
            unit: Some((UnitKind::Apt, 4)),
            postal: "10001".into(),
        };
        let mut s = String::new();
        render_street(&mut s, &a, &mut rng, false);
        assert_eq!(s, "123 Main Street Apt 4");
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100 {
            let mut s = String::new();
            render_street(&mut s, &a, &mut rng, true);
            seen.insert(s);
        }
        assert!(seen.contains("123 MAIN ST. #4"), "{seen:?}");
    }

    #[test]
    fn date_styles() {
        let mut rng = Rng::seed_from_u64(5);
        let d = Ymd {
            year: 1987,
            month: 4,
            day: 12,
        };
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100 {
            let mut s = String::new();
            render_date(&mut s, d, &mut rng, true);
            seen.insert(s);
        }
        for want in ["04/12/1987", "19870412", "12.04.1987", "April 12, 1987"] {
            assert!(seen.contains(want), "{want}: {seen:?}");
        }
    }

    #[test]
    fn user_agents_are_csv_encoded() {
        for ua in USER_AGENTS {
            let inner = ua.trim_matches('"');
            assert!(!inner.contains('"'));
            assert_eq!(ua.starts_with('"'), inner.contains(','), "{ua}");
        }
    }

    #[test]
    fn ipv6_rendering() {
        let mut s = String::new();
        render_ip(
            &mut s,
            Ip::V6 {
                prefix: "2600:1700",
                high: 0x0001_abcd,
                low: 0x0000_1234_0000_ffff,
            },
        );
        assert_eq!(s, "2600:1700:1:abcd:0:1234:0:ffff");
    }
}
