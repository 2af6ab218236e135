//! The streaming generator: plans rings and dormitories up front, then walks the account
//! ordinals once, writing every account (and its inquiries and truth row) as soon as it is made.
//!
//! Groups whose members are spread over time (rings, households, dormitories, people who
//! register twice) keep a small state until their last member is written; members not yet
//! written wait in a min-heap keyed by the ordinal at which they are due.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::Datelike as _;
use rand::{Rng as _, SeedableRng as _};

use crate::geo::{self, Country};
use crate::names::{Culture, push_email_token};
use crate::persona::{
    Addr, Bank, GovId, Ip, Keys, PLACEHOLDERS, Persona, Placeholder, Rng, Show, UnitKind, pick,
    render_bank, render_browser_fp, render_card, render_city, render_country, render_date,
    render_device, render_email, render_gov, render_ip, render_name, render_phone, render_postal,
    render_street, render_subdivision, user_agent, weighted,
};
use crate::util::{
    Unique, Ymd, days_from_civil, mix, push_hex, push_id, push_padded, push_rfc3339, push_u64,
};
use crate::{
    ACCOUNT_COLUMNS, Config, Error, INQUIRY_COLUMNS, Pattern, Result, Summary, TRUTH_COLUMNS,
};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
const PROGRESS_EVERY: u64 = 100_000;

pub(crate) fn run(cfg: &Config, dir: &Path, progress: &mut dyn FnMut(u64)) -> Result<Summary> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut g = Generator::new(cfg, dir)?;
    g.run(progress)?;
    g.finish()
}

// ---------------------------------------------------------------------------------------------
// Output.

/// A CSV file written by hand (RFC 4180: a field is quoted only when it contains a comma, a
/// quote or a line break). Fields are rendered straight into the output buffer, which is
/// several times faster than going through a general CSV writer.
struct Sink {
    file: File,
    out: String,
    fields: usize,
    path: PathBuf,
}

/// Buffered bytes written to the file at once.
const FLUSH_AT: usize = 1 << 20;

fn needs_quotes(v: &str) -> bool {
    v.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
}

fn push_quoted(out: &mut String, v: &str) {
    out.push('"');
    let mut parts = v.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for part in parts {
        out.push_str("\"\"");
        out.push_str(part);
    }
    out.push('"');
}

impl Sink {
    fn create(path: PathBuf, header: &[&str]) -> Result<Sink> {
        let file = File::create(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let mut sink = Sink {
            file,
            out: String::with_capacity(FLUSH_AT + 4096),
            fields: 0,
            path,
        };
        for h in header {
            sink.field(h);
        }
        sink.end()?;
        Ok(sink)
    }

    fn separator(&mut self) {
        if self.fields > 0 {
            self.out.push(',');
        }
        self.fields += 1;
    }

    fn field(&mut self, v: &str) {
        self.separator();
        if needs_quotes(v) {
            push_quoted(&mut self.out, v);
        } else {
            self.out.push_str(v);
        }
    }

    /// Writes a field that is known not to need quoting (ids, codes, pre-encoded values).
    fn raw(&mut self, v: &str) {
        debug_assert!(!needs_quotes(v) || v.starts_with('"'), "{v}");
        self.separator();
        self.out.push_str(v);
    }

    fn empty(&mut self) {
        self.separator();
    }

    /// Renders a generated token (id, number, code, email, phone, ...) that never contains a
    /// comma, quote or line break, so it is not scanned.
    fn token(&mut self, f: impl FnOnce(&mut String)) {
        self.separator();
        let start = self.out.len();
        f(&mut self.out);
        debug_assert!(!needs_quotes(&self.out[start..]), "{}", &self.out[start..]);
    }

    /// Renders a free-text field with `f` directly into the buffer, quoting it if needed.
    fn put(&mut self, f: impl FnOnce(&mut String)) {
        self.separator();
        let start = self.out.len();
        f(&mut self.out);
        if needs_quotes(&self.out[start..]) {
            let v = self.out.split_off(start);
            push_quoted(&mut self.out, &v);
        }
    }

    fn end(&mut self) -> Result<()> {
        self.out.push('\n');
        self.fields = 0;
        if self.out.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.file
            .write_all(self.out.as_bytes())
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        self.out.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.flush()
    }
}

// ---------------------------------------------------------------------------------------------
// Time.

/// Maps account ordinals to creation times: ordinal `o` of `n` falls in the `o`-th equal slice
/// of `[start, end)`, so honest accounts are in id order.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: i64,
    end: i64,
    n: u64,
}

impl Clock {
    fn span(&self) -> i64 {
        self.end - self.start
    }

    fn base(&self, o: u64) -> i64 {
        self.start + (i128::from(o) * i128::from(self.span()) / i128::from(self.n.max(1))) as i64
    }

    fn step(&self) -> i64 {
        (self.span() / self.n.max(1) as i64).max(1)
    }

    /// Ordinals covered by a duration.
    fn ords(&self, secs: i64) -> u64 {
        (i128::from(secs.max(0)) * i128::from(self.n) / i128::from(self.span().max(1))) as u64
    }

    fn clamp(&self, t: i64) -> i64 {
        t.clamp(self.start, self.end - 1)
    }
}

/// A positive duration with the given mean, skewed towards short values (3·mean·u²).
fn skewed(rng: &mut Rng, mean: i64) -> i64 {
    let u: f64 = rng.random();
    (3.0 * mean as f64 * u * u) as i64 + 1
}

// ---------------------------------------------------------------------------------------------
// Value sources.

/// Random choices and collision-free value pools.
struct Src {
    rng: Rng,
    keys: Keys,
    noise: f64,
    persons: u64,
    email: Unique,
    phone: Vec<Unique>,
    gov: Vec<Unique>,
    addr: Vec<Unique>,
    ip_res: Unique,
    ip_dc: Unique,
    bank: Unique,
    v6: u64,
    cards: u64,
    devices: u64,
    nino_pairs: Vec<[u8; 2]>,
}

fn key(seed: u64, i: u64) -> u64 {
    mix(seed ^ mix(0xD47A_5E75_0000_0000 ^ i))
}

impl Src {
    fn new(cfg: &Config) -> Self {
        let seed = cfg.seed;
        let nino_pairs: Vec<[u8; 2]> = geo::NINO_FIRST
            .iter()
            .flat_map(|&a| geo::NINO_SECOND.iter().map(move |&b| [a, b]))
            .filter(|p| !matches!(p, b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ"))
            .collect();
        debug_assert_eq!(nino_pairs.len() as u64 * 4_000_000, Country::Gb.gov_space());
        // Email suffixes: a power of ten comfortably above the number of emails handed out.
        let mut email_space = 10_000u64;
        while email_space < 3 * cfg.accounts as u64 + 1_000 {
            email_space *= 10;
        }
        let per_country = |base: u64, f: &dyn Fn(Country) -> u64| -> Vec<Unique> {
            Country::ALL
                .iter()
                .enumerate()
                .map(|(i, &c)| Unique::new(f(c), key(seed, base + i as u64)))
                .collect()
        };
        Src {
            rng: Rng::seed_from_u64(seed),
            keys: Keys::new(seed),
            noise: cfg.noise_rate,
            persons: 0,
            email: Unique::new(email_space, key(seed, 1)),
            phone: per_country(10, &|c| c.phone_space()),
            gov: per_country(20, &|c| c.gov_space()),
            addr: per_country(30, &|c| c.address_space()),
            ip_res: Unique::new(
                geo::RESIDENTIAL_V4.len() as u64 * 65_536 * 254,
                key(seed, 2),
            ),
            ip_dc: Unique::new(geo::DATACENTER_V4.len() as u64 * 65_536 * 254, key(seed, 3)),
            bank: Unique::new(10_000_000_000, key(seed, 4)),
            v6: 0,
            cards: 0,
            devices: 0,
            nino_pairs,
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    fn noisy(&mut self) -> bool {
        self.chance(self.noise)
    }

    fn new_person(&mut self) -> u64 {
        self.persons += 1;
        self.persons
    }

    fn country(&mut self) -> Country {
        let mut x = self.rng.random_range(0..1000u32);
        for (c, w) in Country::ALL.into_iter().zip(Country::WEIGHTS) {
            if x < w {
                return c;
            }
            x -= w;
        }
        Country::Us
    }

    fn culture(&mut self, c: Country) -> Culture {
        weighted(&mut self.rng, c.cultures())
    }

    fn first_name(&mut self, culture: Culture) -> &'static str {
        pick(&mut self.rng, culture.first_names())
    }

    fn last_name(&mut self, culture: Culture) -> &'static str {
        pick(&mut self.rng, culture.last_names())
    }

    /// A birthdate in 1940–2006, denser in the middle.
    fn birthdate(&mut self) -> Ymd {
        let lo = days_from_civil(Ymd {
            year: 1940,
            month: 1,
            day: 1,
        });
        let hi = days_from_civil(Ymd {
            year: 2006,
            month: 12,
            day: 31,
        });
        let a = self.rng.random_range(lo..=hi);
        let b = self.rng.random_range(lo..=hi);
        crate::util::civil_from_days((a + b) / 2)
    }

    fn card(&mut self) -> u64 {
        self.cards += 1;
        self.cards
    }

    fn device(&mut self) -> u64 {
        self.devices += 1;
        self.devices
    }

    fn bank(&mut self, country: Country) -> Bank {
        Bank {
            country,
            token: self.bank.take(),
        }
    }

    fn v4_from(&mut self, datacenter: bool) -> Ip {
        let (pool, octets) = if datacenter {
            (&mut self.ip_dc, geo::DATACENTER_V4)
        } else {
            (&mut self.ip_res, geo::RESIDENTIAL_V4)
        };
        let idx = pool.take();
        let first = u32::from(octets[(idx / (65_536 * 254)) as usize % octets.len()]);
        let mid = ((idx / 254) % 65_536) as u32;
        let last = (idx % 254) as u32 + 1;
        Ip::V4((first << 24) | (mid << 8) | last)
    }

    /// A residential IP of the country, unique to its holder; 10 % IPv6.
    fn home_ip(&mut self, country: Country) -> Ip {
        if self.chance(0.1) {
            self.v6 += 1;
            let prefix = pick(&mut self.rng, geo::v6_prefixes(country));
            let token = mix(self.v6 ^ self.keys.reference.rotate_left(17));
            Ip::V6 {
                prefix,
                high: self.rng.random::<u32>(),
                low: token,
            }
        } else {
            self.v4_from(false)
        }
    }

    fn datacenter_ip(&mut self) -> Ip {
        self.v4_from(true)
    }

    fn phone(&mut self, country: Country, out: &mut String) {
        out.clear();
        let idx = self.phone[country as usize].take();
        country.push_phone(out, idx);
    }

    fn gov(&mut self, country: Country, birth: Ymd, out: &mut GovId) {
        out.country = country;
        out.value.clear();
        let idx = self.gov[country as usize].take();
        let v = &mut out.value;
        match country {
            Country::Us => {
                let mut area = idx / (99 * 9_999) + 1;
                if area >= 666 {
                    area += 1;
                }
                push_padded(v, area, 3);
                push_padded(v, (idx / 9_999) % 99 + 1, 2);
                push_padded(v, idx % 9_999 + 1, 4);
            }
            Country::Ca => {
                const FIRST: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 9];
                let body = FIRST[(idx / 10_000_000) as usize % 8] * 10_000_000 + idx % 10_000_000;
                push_padded(v, body, 8);
                // Luhn check digit over the eight digits.
                let mut sum = 0u32;
                for (i, c) in v.bytes().rev().enumerate() {
                    let mut d = u32::from(c - b'0');
                    if i % 2 == 0 {
                        d *= 2;
                        if d > 9 {
                            d -= 9;
                        }
                    }
                    sum += d;
                }
                push_u64(v, u64::from((10 - sum % 10) % 10));
            }
            Country::Gb => {
                let pair = self.nino_pairs[(idx / 4_000_000) as usize % self.nino_pairs.len()];
                v.push(pair[0] as char);
                v.push(pair[1] as char);
                push_padded(v, (idx / 4) % 1_000_000, 6);
                v.push((b'A' + (idx % 4) as u8) as char);
            }
            Country::De => push_u64(v, 10_000_000_000 + idx),
            Country::Fr => {
                let sex = 1 + u64::from(self.rng.random_bool(0.5));
                let yy = (birth.year.rem_euclid(100)) as u64;
                let dept = idx / (990 * 999) + 1;
                let commune = (idx / 999) % 990 + 1;
                let order = idx % 999 + 1;
                let n = sex * 1_000_000_000_000
                    + yy * 10_000_000_000
                    + u64::from(birth.month) * 100_000_000
                    + dept * 1_000_000
                    + commune * 1_000
                    + order;
                push_padded(v, n, 13);
                push_padded(v, 97 - n % 97, 2);
            }
        }
    }

    fn addr(&mut self, country: Country, out: &mut Addr) {
        let idx = self.addr[country as usize].take();
        let max_no = country.max_house_number();
        let streets = country.street_variants();
        out.country = country;
        out.number = (idx % max_no + 1) as u32;
        out.street = ((idx / max_no) % streets) as u32;
        let cities = country.cities();
        out.city = ((idx / max_no / streets) % cities.len() as u64) as u16;
        out.unit = match country {
            Country::Us | Country::Ca if self.chance(0.25) => {
                let kind = weighted(
                    &mut self.rng,
                    &[
                        (UnitKind::Apt, 70),
                        (UnitKind::Unit, 20),
                        (UnitKind::Suite, 10),
                    ],
                );
                let n = if kind == UnitKind::Suite {
                    self.rng.random_range(100..1_000u16)
                } else {
                    self.rng.random_range(1..41u16)
                };
                Some((kind, n))
            }
            Country::Gb if self.chance(0.15) => {
                Some((UnitKind::Flat, self.rng.random_range(1..31u16)))
            }
            _ => None,
        };
        let city = &cities[out.city as usize];
        let prefix = pick(&mut self.rng, city.postal);
        let p = &mut out.postal;
        p.clear();
        p.push_str(prefix);
        match country {
            Country::Us => push_padded(p, self.rng.random_range(1..100u64), 2),
            Country::De => push_padded(p, self.rng.random_range(0..100u64), 2),
            Country::Fr => push_u64(p, self.rng.random_range(0..10u64)),
            Country::Gb => {
                const INWARD: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
                p.push(' ');
                push_u64(p, self.rng.random_range(0..10u64));
                p.push(pick(&mut self.rng, INWARD) as char);
                p.push(pick(&mut self.rng, INWARD) as char);
            }
            Country::Ca => {
                const LETTERS: &[u8] = b"ABCEGHJKLMNPRSTVWXYZ";
                p.push(' ');
                push_u64(p, self.rng.random_range(0..10u64));
                p.push(pick(&mut self.rng, LETTERS) as char);
                push_u64(p, self.rng.random_range(0..10u64));
            }
        }
    }

    /// A fresh email for the persona's current name, never handed out before.
    fn email(&mut self, p: &mut Persona, ring: bool) {
        let domain = if ring && self.chance(0.3) {
            pick(&mut self.rng, geo::DISPOSABLE_DOMAINS)
        } else {
            match self.rng.random_range(0..100u32) {
                0..80 => weighted(&mut self.rng, geo::WEBMAIL),
                80..88 => pick(&mut self.rng, geo::COMPANY_DOMAINS),
                _ => pick(&mut self.rng, p.country.email_domains()),
            }
        };
        let n = self.email.take();
        let l = &mut p.email_local;
        l.clear();
        let style = self.rng.random_range(0..6u32);
        let gmail = domain == "gmail.com";
        match style {
            0 | 1 => {
                push_email_token(l, &p.first);
                l.push('.');
                push_email_token(l, &p.last);
            }
            2 => {
                push_email_token(l, &p.first);
                push_email_token(l, &p.last);
            }
            3 => {
                let mut f = String::new();
                push_email_token(&mut f, &p.first);
                l.push_str(&f[..f.len().min(1)]);
                push_email_token(l, &p.last);
            }
            4 => {
                push_email_token(l, &p.last);
                l.push(if gmail { '.' } else { '_' });
                push_email_token(l, &p.first);
            }
            _ => push_email_token(l, &p.first),
        }
        if l.is_empty() {
            l.push_str("user");
        }
        // The number is unique per email and always last, so no two people share an address,
        // even after gmail dots are removed.
        push_u64(l, n);
        p.email_domain = domain;
    }

    fn show(&mut self, s: &mut Show) {
        let mut c = |p: f64| self.rng.random_bool(p);
        *s = Show {
            reference: c(0.9),
            name: c(0.99),
            middle: c(0.8),
            birth: c(0.9),
            email: c(0.97),
            phone: c(0.85),
            address: c(0.85),
            gov: c(0.7),
            card: c(0.6),
            bank: c(0.3),
            device: c(0.9),
            ip: c(0.95),
        };
    }

    /// Claimed identity: names, birthdate and id number. Contact points are left alone.
    fn identity(
        &mut self,
        p: &mut Persona,
        country: Country,
        culture: Option<Culture>,
        person: u64,
    ) {
        p.person = person;
        p.country = country;
        p.culture = match culture {
            Some(c) => c,
            None => self.culture(country),
        };
        p.first.clear();
        p.first.push_str(self.first_name(p.culture));
        let last_culture = if self.chance(0.1) {
            self.culture(country)
        } else {
            p.culture
        };
        p.last.clear();
        p.last.push_str(self.last_name(last_culture));
        p.middle.clear();
        if self.chance(0.25) {
            let m = self.first_name(p.culture);
            if m != p.first {
                p.middle.push_str(m);
            }
        }
        p.birth = self.birthdate();
        let mut gov = std::mem::take(&mut p.gov);
        self.gov(country, p.birth, &mut gov);
        p.gov = gov;
        p.placeholder = None;
    }

    /// Fresh contact points, instruments, session signals and visibility for the persona.
    fn contacts(&mut self, p: &mut Persona, ring: bool) {
        self.email(p, ring);
        p.phone_country = p.country;
        let mut phone = std::mem::take(&mut p.phone);
        self.phone(p.country, &mut phone);
        p.phone = phone;
        let mut addr = std::mem::take(&mut p.addr);
        self.addr(p.country, &mut addr);
        p.addr = addr;
        p.card = self.card();
        p.bank = self.bank(p.country);
        p.device = self.device();
        p.alt_device = self.device();
        p.ip = if ring && self.chance(0.5) {
            self.datacenter_ip()
        } else {
            self.home_ip(p.country)
        };
        self.show(&mut p.show);
    }
}

// ---------------------------------------------------------------------------------------------
// Groups.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Empty,
    Fraud,
    Legit,
}

/// How a member's inquiries pick their session signals.
#[derive(Debug, Clone, Copy)]
struct InqCtx {
    ring: bool,
    /// The IP most inquiries come from, and how often.
    main_ip: Ip,
    main_share: f64,
    /// Device of the first inquiry, when it must differ from the account's.
    first_device: Option<u64>,
    /// At least one inquiry.
    force_one: bool,
    /// Browser fingerprints are randomised (anti-detect browser).
    anti_detect: bool,
    /// Share of inquiries that collect the id number.
    gov_share: f64,
}

impl InqCtx {
    fn honest(ip: Ip) -> Self {
        InqCtx {
            ring: false,
            main_ip: ip,
            main_share: 0.72,
            first_device: None,
            force_one: false,
            anti_detect: false,
            gov_share: 0.5,
        }
    }

    fn ring(ip: Ip) -> Self {
        InqCtx {
            ring: true,
            main_share: 0.8,
            gov_share: 0.8,
            ..InqCtx::honest(ip)
        }
    }
}

struct Meta {
    ordinal: u64,
    created: i64,
    ring: Option<u64>,
    label: Label,
    ctx: InqCtx,
    /// The account row may show a public (hub) IP instead of the persona's own.
    hub_ok: bool,
}

/// A value two consecutive chain members share.
#[derive(Debug, Clone)]
enum Link {
    Device(u64),
    Card(u64),
    Phone(String),
    Email(String, &'static str),
}

const CHAIN_KINDS: [u8; 4] = [0, 1, 2, 3]; // device, card, phone, email

#[derive(Debug)]
enum Shared {
    DeviceFarm {
        devices: Vec<u64>,
        proxy: Ip,
        anti_detect: bool,
    },
    OneGovId {
        gov: GovId,
    },
    OneNameDob {
        first: String,
        last: String,
        birth: Ymd,
        addr: Addr,
    },
    CardDrop {
        cards: Vec<u64>,
        drop: Addr,
        bridge_device: u64,
    },
    Stolen {
        victim: Box<Persona>,
    },
    Chain {
        offset: usize,
        prev: Option<Link>,
    },
}

#[derive(Debug)]
struct RingState {
    number: u64,
    country: Country,
    t0: i64,
    offsets: Vec<i64>,
    fraud_mask: u64,
    shared: Shared,
}

#[derive(Debug)]
struct Household {
    country: Country,
    culture: Culture,
    last: &'static str,
    addr: Addr,
    home_ip: Ip,
    landline: Option<String>,
    family_device: Option<u64>,
}

#[derive(Debug)]
struct Dorm {
    country: Country,
    ip: Ip,
}

#[derive(Debug)]
enum GroupKind {
    Ring(Box<RingState>),
    Household(Box<Household>),
    Dorm(Dorm),
    Duplicate(Box<Persona>),
}

#[derive(Debug)]
struct Group {
    kind: GroupKind,
    next: u32,
    size: u32,
}

/// A group planned before streaming starts (rings and dormitories are rare and must be
/// present even in small populations, so their number is fixed rather than drawn).
#[derive(Debug, Clone)]
struct Planned {
    start: u64,
    size: u32,
    kind: PlannedKind,
}

#[derive(Debug, Clone, Copy)]
enum PlannedKind {
    Ring { pattern: Pattern, burst: i64 },
    Dorm { window: i64 },
}

// ---------------------------------------------------------------------------------------------
// The generator.

struct Generator<'a> {
    cfg: &'a Config,
    src: Src,
    clock: Clock,
    hubs: Vec<Ip>,
    accounts: Sink,
    inquiries: Sink,
    truth: Sink,
    summary: Summary,
    p: Persona,
    ring_seq: u64,
    group_seq: u64,
    push_seq: u64,
    heap: BinaryHeap<Reverse<(u64, u64, u64)>>,
    groups: BTreeMap<u64, Group>,
}

impl<'a> Generator<'a> {
    fn new(cfg: &'a Config, dir: &Path) -> Result<Self> {
        let day = |d: chrono::NaiveDate| {
            days_from_civil(Ymd {
                year: d.year(),
                month: d.month(),
                day: d.day(),
            }) * DAY
        };
        let clock = Clock {
            start: day(cfg.start),
            end: day(cfg.end) + DAY,
            n: cfg.accounts as u64,
        };
        let mut src = Src::new(cfg);
        let hubs = public_ips(&mut src.rng, cfg.accounts as u64);
        let mut summary = Summary {
            seed: cfg.seed,
            public_ips: hubs.len() as u64,
            ..Summary::default()
        };
        for p in Pattern::ALL {
            summary.rings_by_pattern.insert(p.as_str().to_owned(), 0);
        }
        Ok(Generator {
            cfg,
            src,
            clock,
            hubs,
            accounts: Sink::create(dir.join("accounts.csv"), &ACCOUNT_COLUMNS)?,
            inquiries: Sink::create(dir.join("inquiries.csv"), &INQUIRY_COLUMNS)?,
            truth: Sink::create(dir.join("truth.csv"), &TRUTH_COLUMNS)?,
            summary,
            p: Persona::default(),
            ring_seq: 0,
            group_seq: 0,
            push_seq: 0,
            heap: BinaryHeap::new(),
            groups: BTreeMap::new(),
        })
    }

    fn finish(self) -> Result<Summary> {
        self.accounts.finish()?;
        self.inquiries.finish()?;
        self.truth.finish()?;
        let mut s = self.summary;
        s.persons = self.src.persons;
        Ok(s)
    }

    fn run(&mut self, progress: &mut dyn FnMut(u64)) -> Result<()> {
        let n = self.cfg.accounts as u64;
        let plan = plan(self.cfg, &self.clock);
        let mut planned_left: u64 = plan.iter().map(|p| u64::from(p.size)).sum();
        let mut next_plan = 0usize;

        // Household and duplicate starts are drawn per free ordinal; correct for the share of
        // ordinals taken by other groups' later members.
        let mean_household = 3.2;
        let free_share = (1.0
            - self.cfg.ring_share
            - self.cfg.dorm_share
            - self.cfg.household_share * (1.0 - 1.0 / mean_household)
            - self.cfg.duplicate_person_rate)
            .max(0.1);
        let p_house = self.cfg.household_share / mean_household / free_share;
        let p_dup = self.cfg.duplicate_person_rate / free_share;

        for o in 0..n {
            let remaining = n - o;
            let committed = self.heap.len() as u64 + planned_left;
            let due = matches!(self.heap.peek(), Some(Reverse((t, _, _))) if *t <= o);
            let must = committed >= remaining;
            if due || (must && !self.heap.is_empty()) {
                if let Some(Reverse((_, _, gid))) = self.heap.pop() {
                    self.emit_member(gid, o)?;
                }
            } else if next_plan < plan.len() && (plan[next_plan].start <= o || must) {
                let planned = plan[next_plan].clone();
                next_plan += 1;
                planned_left -= u64::from(planned.size);
                self.start_planned(&planned, o)?;
            } else {
                // Ordinals after this one that are not promised to a started or planned group.
                let free = remaining - 1 - committed;
                let u: f64 = self.src.rng.random();
                if u < p_house && free >= 1 {
                    self.start_household(o, free)?;
                } else if u < p_house + p_dup && free >= 1 {
                    self.start_duplicate(o)?;
                } else {
                    self.honest(o)?;
                }
            }
            if (o + 1).is_multiple_of(PROGRESS_EVERY) {
                progress(o + 1);
            }
        }
        if !n.is_multiple_of(PROGRESS_EVERY) || n == 0 {
            progress(n);
        }
        Ok(())
    }

    fn new_group(&mut self, kind: GroupKind, size: u32) -> u64 {
        self.group_seq += 1;
        self.groups.insert(
            self.group_seq,
            Group {
                kind,
                next: 0,
                size,
            },
        );
        self.group_seq
    }

    fn schedule(&mut self, gid: u64, at: u64) {
        self.push_seq += 1;
        self.heap.push(Reverse((at, self.push_seq, gid)));
    }

    fn emit_member(&mut self, gid: u64, o: u64) -> Result<()> {
        let Some(mut group) = self.groups.remove(&gid) else {
            return self.honest(o);
        };
        let i = group.next;
        group.next += 1;
        match &mut group.kind {
            GroupKind::Ring(r) => self.ring_member(r, i, o)?,
            GroupKind::Household(h) => self.household_member(h, o)?,
            GroupKind::Dorm(d) => self.dorm_member(d, o)?,
            GroupKind::Duplicate(first) => {
                if i == 0 {
                    self.duplicate_first(first, o)?;
                } else {
                    self.duplicate_second(first, o)?;
                }
            }
        }
        if group.next < group.size {
            self.groups.insert(gid, group);
        }
        Ok(())
    }

    /// Creation time of a non-burst account at ordinal `o`: inside its slice of the period.
    fn time_at(&mut self, o: u64) -> i64 {
        let step = self.clock.step();
        let t = self.clock.base(o) + self.src.rng.random_range(0..step);
        self.clock.clamp(t)
    }

    fn benign_label(&mut self) -> Label {
        if self.src.chance(self.cfg.legit_label_rate) {
            Label::Legit
        } else {
            Label::Empty
        }
    }

    fn honest(&mut self, o: u64) -> Result<()> {
        let person = self.src.new_person();
        let country = self.src.country();
        self.src.identity(&mut self.p, country, None, person);
        self.src.contacts(&mut self.p, false);
        if self.src.chance(self.cfg.placeholder_rate) {
            let ph = pick(&mut self.src.rng, PLACEHOLDERS);
            match ph {
                Placeholder::Email(_) => self.p.show.email = true,
                Placeholder::Phone(_) => self.p.show.phone = true,
                Placeholder::Gov(_) => self.p.show.gov = true,
            }
            self.p.placeholder = Some(ph);
            self.summary.placeholder_accounts += 1;
        }
        let created = self.time_at(o);
        let label = self.benign_label();
        let ctx = InqCtx::honest(self.p.ip);
        self.write_account(&Meta {
            ordinal: o,
            created,
            ring: None,
            label,
            ctx,
            hub_ok: true,
        })
    }

    // --- duplicates -------------------------------------------------------------------------

    fn start_duplicate(&mut self, o: u64) -> Result<()> {
        let gap = self.src.rng.random_range(3 * DAY..300 * DAY);
        let gid = self.new_group(GroupKind::Duplicate(Box::default()), 2);
        let at = o + self.clock.ords(gap).max(1);
        self.schedule(gid, at);
        self.summary.duplicate_persons += 1;
        self.emit_member(gid, o)
    }

    fn duplicate_first(&mut self, keep: &mut Persona, o: u64) -> Result<()> {
        let person = self.src.new_person();
        let country = self.src.country();
        self.src.identity(&mut self.p, country, None, person);
        self.src.contacts(&mut self.p, false);
        keep.clone_from(&self.p);
        let created = self.time_at(o);
        let label = self.benign_label();
        let ctx = InqCtx::honest(self.p.ip);
        self.write_account(&Meta {
            ordinal: o,
            created,
            ring: None,
            label,
            ctx,
            hub_ok: true,
        })
    }

    /// The same person again, months later, with typos and mostly new contact points.
    fn duplicate_second(&mut self, first: &Persona, o: u64) -> Result<()> {
        self.p.clone_from(first);
        let (src, p) = (&mut self.src, &mut self.p);
        if src.chance(0.6) {
            if src.chance(0.5) {
                typo(&mut src.rng, &mut p.first);
            } else {
                typo(&mut src.rng, &mut p.last);
            }
        }
        if src.chance(0.5) {
            p.middle.clear();
        }
        if src.chance(0.25) && p.birth.day <= 12 && p.birth.day != p.birth.month {
            std::mem::swap(&mut p.birth.day, &mut p.birth.month);
        }
        if src.chance(0.2) {
            digit_typo(&mut src.rng, &mut p.gov.value);
        }
        let (same_device, same_phone) = (src.chance(0.55), src.chance(0.45));
        if src.chance(0.85) {
            src.email(p, false);
        }
        if !same_phone {
            let mut phone = std::mem::take(&mut p.phone);
            src.phone(p.country, &mut phone);
            p.phone = phone;
        }
        if !same_device {
            p.device = src.device();
            p.alt_device = src.device();
        }
        if src.chance(0.25) {
            let mut addr = std::mem::take(&mut p.addr);
            src.addr(p.country, &mut addr);
            p.addr = addr;
        }
        if src.chance(0.75) {
            p.card = src.card();
        }
        if src.chance(0.5) {
            p.bank = src.bank(p.country);
        }
        if src.chance(0.6) {
            p.ip = src.home_ip(p.country);
        }
        src.show(&mut p.show);
        p.show.name = true;
        p.show.device |= same_device;
        p.show.phone |= same_phone;
        let created = self.time_at(o);
        let label = self.benign_label();
        let ctx = InqCtx::honest(self.p.ip);
        self.write_account(&Meta {
            ordinal: o,
            created,
            ring: None,
            label,
            ctx,
            hub_ok: true,
        })
    }

    // --- households -------------------------------------------------------------------------

    fn start_household(&mut self, o: u64, free: u64) -> Result<()> {
        let size = weighted(
            &mut self.src.rng,
            &[(2u32, 35), (3, 30), (4, 20), (5, 10), (6, 5)],
        );
        let size = size.min(free as u32 + 1);
        let src = &mut self.src;
        let country = src.country();
        let culture = src.culture(country);
        let last = src.last_name(culture);
        let mut addr = Addr::default();
        src.addr(country, &mut addr);
        let home_ip = src.home_ip(country);
        let landline = if src.chance(0.08) {
            let mut s = String::new();
            src.phone(country, &mut s);
            Some(s)
        } else {
            None
        };
        let family_device = if src.chance(0.1) {
            Some(src.device())
        } else {
            None
        };
        let window = src.rng.random_range(30 * DAY..240 * DAY);
        let mut offsets: Vec<i64> = (1..size)
            .map(|_| self.src.rng.random_range(DAY..=window))
            .collect();
        offsets.sort_unstable();
        let h = Household {
            country,
            culture,
            last,
            addr,
            home_ip,
            landline,
            family_device,
        };
        let gid = self.new_group(GroupKind::Household(Box::new(h)), size);
        for off in offsets {
            let at = o + self.clock.ords(off).max(1);
            self.schedule(gid, at);
        }
        self.summary.households += 1;
        self.summary.household_accounts += u64::from(size);
        self.emit_member(gid, o)
    }

    fn household_member(&mut self, h: &Household, o: u64) -> Result<()> {
        let person = self.src.new_person();
        let (src, p) = (&mut self.src, &mut self.p);
        src.identity(p, h.country, Some(h.culture), person);
        if src.chance(0.85) {
            p.last.clear();
            p.last.push_str(h.last);
        }
        src.contacts(p, false);
        p.addr.clone_from(&h.addr);
        if src.chance(0.8) {
            p.ip = h.home_ip;
        }
        if let Some(phone) = &h.landline
            && src.chance(0.5)
        {
            p.phone.clone_from(phone);
        }
        if let Some(d) = h.family_device
            && src.chance(0.35)
        {
            p.device = d;
        }
        let created = self.time_at(o);
        let label = self.benign_label();
        let ctx = InqCtx {
            main_ip: h.home_ip,
            main_share: 0.75,
            ..InqCtx::honest(h.home_ip)
        };
        self.write_account(&Meta {
            ordinal: o,
            created,
            ring: None,
            label,
            ctx,
            hub_ok: true,
        })
    }

    // --- dormitories ------------------------------------------------------------------------

    fn dorm_member(&mut self, d: &Dorm, o: u64) -> Result<()> {
        let person = self.src.new_person();
        let (src, p) = (&mut self.src, &mut self.p);
        src.identity(p, d.country, None, person);
        src.contacts(p, false);
        if src.chance(0.85) {
            p.ip = d.ip;
        }
        let created = self.time_at(o);
        let label = self.benign_label();
        let ctx = InqCtx {
            main_ip: d.ip,
            main_share: 0.7,
            ..InqCtx::honest(d.ip)
        };
        self.write_account(&Meta {
            ordinal: o,
            created,
            ring: None,
            label,
            ctx,
            hub_ok: false,
        })
    }

    // --- planned groups ---------------------------------------------------------------------

    fn start_planned(&mut self, planned: &Planned, o: u64) -> Result<()> {
        match planned.kind {
            PlannedKind::Dorm { window } => {
                let country = self.src.country();
                let ip = self.src.v4_from(false);
                let gid = self.new_group(GroupKind::Dorm(Dorm { country, ip }), planned.size);
                for _ in 1..planned.size {
                    let off = self.src.rng.random_range(0..=window);
                    let at = o + self.clock.ords(off).max(1);
                    self.schedule(gid, at);
                }
                self.summary.dorms += 1;
                self.summary.dorm_accounts += u64::from(planned.size);
                self.emit_member(gid, o)
            }
            PlannedKind::Ring { pattern, burst } => {
                self.start_ring(pattern, planned.size, burst, o)
            }
        }
    }

    fn start_ring(&mut self, pattern: Pattern, size: u32, burst: i64, o: u64) -> Result<()> {
        self.ring_seq += 1;
        let number = self.ring_seq;
        let t0 = self
            .time_at(o)
            .min(self.clock.end - 1 - burst)
            .max(self.clock.start);
        let src = &mut self.src;
        let country = src.country();
        let mut offsets: Vec<i64> = (0..size)
            .map(|i| {
                if i == 0 {
                    0
                } else {
                    src.rng.random_range(0..=burst)
                }
            })
            .collect();
        offsets.sort_unstable();
        let mut fraud_mask = 0u64;
        if src.chance(self.cfg.labelled_ring_share) {
            let labelled = src.rng.random_range(1..=3u32.min(size));
            while fraud_mask.count_ones() < labelled {
                fraud_mask |= 1 << src.rng.random_range(0..size);
            }
        }
        let shared = match pattern {
            Pattern::DeviceFarm => {
                let n = src.rng.random_range(1..=3u32.min(size - 1));
                Shared::DeviceFarm {
                    devices: (0..n).map(|_| src.device()).collect(),
                    proxy: src.datacenter_ip(),
                    anti_detect: src.chance(0.4),
                }
            }
            Pattern::SyntheticIdentity => {
                if src.chance(0.65) {
                    let mut gov = GovId::default();
                    let birth = src.birthdate();
                    src.gov(country, birth, &mut gov);
                    Shared::OneGovId { gov }
                } else {
                    let culture = src.culture(country);
                    let mut addr = Addr::default();
                    src.addr(country, &mut addr);
                    Shared::OneNameDob {
                        first: src.first_name(culture).to_owned(),
                        last: src.last_name(culture).to_owned(),
                        birth: src.birthdate(),
                        addr,
                    }
                }
            }
            Pattern::SharedCardDrop => {
                let n = if size >= 4 && src.chance(0.5) { 2 } else { 1 };
                let mut drop = Addr::default();
                src.addr(country, &mut drop);
                Shared::CardDrop {
                    cards: (0..n).map(|_| src.card()).collect(),
                    drop,
                    bridge_device: 0,
                }
            }
            Pattern::StolenIdentity => {
                // The victim: a real person who never opened an account here.
                let mut victim = Persona::default();
                let person = src.new_person();
                src.identity(&mut victim, country, None, person);
                src.contacts(&mut victim, false);
                Shared::Stolen {
                    victim: Box::new(victim),
                }
            }
            Pattern::Chain => Shared::Chain {
                offset: src.rng.random_range(0..CHAIN_KINDS.len() as u32) as usize,
                prev: None,
            },
        };
        let ring = RingState {
            number,
            country,
            t0,
            offsets,
            fraud_mask,
            shared,
        };
        let targets: Vec<u64> = ring
            .offsets
            .iter()
            .skip(1)
            .map(|&off| o + self.clock.ords(off).max(1))
            .collect();
        let gid = self.new_group(GroupKind::Ring(Box::new(ring)), size);
        for at in targets {
            self.schedule(gid, at);
        }
        let s = &mut self.summary;
        s.rings += 1;
        s.ring_accounts += u64::from(size);
        s.largest_ring = s.largest_ring.max(u64::from(size));
        *s.rings_by_pattern
            .entry(pattern.as_str().to_owned())
            .or_insert(0) += 1;
        self.emit_member(gid, o)
    }

    fn ring_member(&mut self, r: &mut RingState, i: u32, o: u64) -> Result<()> {
        let person = match &r.shared {
            Shared::Stolen { victim } => victim.person,
            _ => self.src.new_person(),
        };
        let (src, p) = (&mut self.src, &mut self.p);
        src.identity(p, r.country, None, person);
        let mut ctx = InqCtx::ring(Ip::Missing);
        match &mut r.shared {
            Shared::OneNameDob {
                first, last, birth, ..
            } => {
                p.first.clone_from(first);
                p.last.clone_from(last);
                p.middle.clear();
                p.birth = *birth;
            }
            Shared::Stolen { victim } => {
                p.first.clone_from(&victim.first);
                p.middle.clone_from(&victim.middle);
                p.last.clone_from(&victim.last);
                p.birth = victim.birth;
                p.gov.clone_from(&victim.gov);
                p.culture = victim.culture;
            }
            _ => {}
        }
        src.contacts(p, true);
        match &mut r.shared {
            Shared::DeviceFarm {
                devices,
                proxy,
                anti_detect,
            } => {
                let n = devices.len();
                p.device = devices[i as usize % n];
                p.show.device = true;
                if src.chance(0.9) {
                    p.ip = *proxy;
                }
                p.show.ip = true;
                ctx.main_ip = *proxy;
                ctx.main_share = 0.85;
                ctx.anti_detect = *anti_detect;
                if n > 1 {
                    ctx.first_device = Some(devices[(i as usize + 1) % n]);
                    ctx.force_one = true;
                }
            }
            Shared::OneGovId { gov } => {
                p.gov.clone_from(gov);
                p.show.gov = true;
                ctx.gov_share = 0.9;
            }
            Shared::OneNameDob { addr, .. } => {
                p.show.name = true;
                p.show.birth = true;
                p.show.gov = true;
                if src.chance(0.7) {
                    p.addr.clone_from(addr);
                    p.show.address = true;
                }
            }
            Shared::CardDrop {
                cards,
                drop,
                bridge_device,
            } => {
                let n = cards.len();
                p.card = cards[i as usize % n];
                p.show.card = true;
                p.addr.clone_from(drop);
                p.addr.unit = match src.rng.random_range(0..3u32) {
                    0 => drop.unit,
                    1 => None,
                    _ => Some((UnitKind::Apt, src.rng.random_range(1..20u16))),
                };
                p.show.address = true;
                if i == 0 {
                    *bridge_device = p.device;
                    p.show.device = true;
                } else if i == 1 && n > 1 {
                    p.device = *bridge_device;
                    p.show.device = true;
                }
            }
            Shared::Stolen { victim } => {
                p.show.name = true;
                p.show.birth = true;
                p.show.gov = true;
                if src.chance(0.5) {
                    p.addr.clone_from(&victim.addr);
                    p.show.address = true;
                }
            }
            Shared::Chain { offset, prev } => {
                if let Some(link) = prev.take() {
                    apply_link(p, &link);
                }
                let size = r.offsets.len() as u32;
                if i + 1 < size {
                    let kind = CHAIN_KINDS[(*offset + i as usize) % CHAIN_KINDS.len()];
                    *prev = Some(take_link(p, kind));
                }
            }
        }
        if !matches!(r.shared, Shared::DeviceFarm { .. }) {
            ctx.main_ip = p.ip;
        }
        let created = self.clock.clamp(r.t0 + r.offsets[i as usize]);
        let label = if (r.fraud_mask >> i) & 1 == 1 {
            Label::Fraud
        } else {
            Label::Empty
        };
        let meta = Meta {
            ordinal: o,
            created,
            ring: Some(r.number),
            label,
            ctx,
            hub_ok: false,
        };
        self.write_account(&meta)
    }

    // --- rows -------------------------------------------------------------------------------

    fn write_account(&mut self, m: &Meta) -> Result<()> {
        let Generator {
            cfg,
            src,
            clock,
            hubs,
            accounts,
            inquiries,
            truth,
            summary,
            p,
            ..
        } = self;
        let ordinal = m.ordinal + 1;
        let region = if p.show.address {
            p.addr.country
        } else {
            Country::Us
        };

        let account_ip = if m.hub_ok && !hubs.is_empty() && src.chance(cfg.public_ip_share) {
            let ip = pick(&mut src.rng, hubs);
            if p.show.ip {
                summary.public_ip_accounts += 1;
            }
            ip
        } else {
            p.ip
        };

        let w = accounts;
        w.token(|b| push_id(b, "acct_", ordinal, 10));
        if p.show.reference {
            w.token(|b| {
                b.push_str("usr_");
                push_hex(b, mix(ordinal ^ src.keys.reference), 16);
            });
        } else {
            w.empty();
        }
        w.token(|b| push_rfc3339(b, m.created));
        if p.show.name {
            let n = src.noisy();
            w.put(|b| render_name(b, &p.first, p.culture, &mut src.rng, n));
            if p.middle.is_empty() || !p.show.middle {
                w.empty();
            } else {
                let n = src.noisy();
                w.put(|b| render_name(b, &p.middle, p.culture, &mut src.rng, n));
            }
            let n = src.noisy();
            w.put(|b| render_name(b, &p.last, p.culture, &mut src.rng, n));
        } else {
            w.empty();
            w.empty();
            w.empty();
        }
        if p.show.birth {
            let n = src.noisy();
            w.put(|b| render_date(b, p.birth, &mut src.rng, n));
        } else {
            w.empty();
        }
        write_email(w, src, p, p.show.email);
        write_phone(w, src, p, p.show.phone, region);
        write_address(w, src, p, p.show.address);
        write_gov(w, src, p, p.show.gov);
        if p.show.card {
            w.token(|b| render_card(b, p.card, &src.keys));
        } else {
            w.empty();
        }
        if p.show.bank {
            let n = src.noisy();
            w.token(|b| render_bank(b, p.bank, &src.keys, n));
        } else {
            w.empty();
        }
        if p.show.device {
            let n = src.noisy();
            w.token(|b| render_device(b, p.device, &src.keys, n));
        } else {
            w.empty();
        }
        if p.show.ip {
            w.token(|b| render_ip(b, account_ip));
        } else {
            w.empty();
        }
        w.raw(match m.label {
            Label::Empty => "",
            Label::Fraud => "fraud",
            Label::Legit => "legit",
        });
        w.end()?;
        match m.label {
            Label::Fraud => summary.fraud_labels += 1,
            Label::Legit => summary.legit_labels += 1,
            Label::Empty => {}
        }
        summary.accounts += 1;

        truth.token(|b| push_id(b, "acct_", ordinal, 10));
        truth.token(|b| push_id(b, "person_", p.person, 10));
        match m.ring {
            Some(r) => truth.token(|b| push_id(b, "ring_", r, 6)),
            None => truth.empty(),
        }
        truth.end()?;

        // Inquiries: binomial(3, mean / 3).
        let q = cfg.inquiries_per_account / 3.0;
        let mut count = (0..3).filter(|_| src.rng.random_bool(q)).count();
        if m.ctx.force_one && count == 0 {
            count = 1;
        }
        let mut t = m.created;
        for j in 0..count {
            t += if j == 0 {
                skewed(&mut src.rng, 20 * 60)
            } else if m.ctx.ring {
                skewed(&mut src.rng, 36 * HOUR)
            } else {
                skewed(&mut src.rng, 40 * DAY)
            };
            if t >= clock.end {
                break;
            }
            summary.inquiries += 1;
            write_inquiry(
                inquiries,
                src,
                p,
                hubs,
                cfg,
                m,
                j,
                t,
                ordinal,
                summary.inquiries,
            )?;
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn write_inquiry(
    w: &mut Sink,
    src: &mut Src,
    p: &Persona,
    hubs: &[Ip],
    cfg: &Config,
    m: &Meta,
    j: usize,
    t: i64,
    account: u64,
    id: u64,
) -> Result<()> {
    const HONEST: &[(&str, u32)] = &[
        ("approved", 60),
        ("completed", 18),
        ("expired", 7),
        ("needs_review", 6),
        ("failed", 5),
        ("declined", 4),
    ];
    const RING: &[(&str, u32)] = &[
        ("declined", 40),
        ("approved", 22),
        ("needs_review", 15),
        ("failed", 10),
        ("completed", 8),
        ("expired", 5),
    ];
    let status = weighted(&mut src.rng, if m.ctx.ring { RING } else { HONEST });
    let show_name = src.chance(0.97);
    let show_birth = src.chance(0.85);
    let show_email = src.chance(0.9);
    let show_phone = src.chance(0.8);
    let show_addr = src.chance(0.65);
    let show_gov = src.chance(if p.show.gov {
        m.ctx.gov_share.max(0.75)
    } else {
        m.ctx.gov_share * 0.4
    });
    let region = if show_addr {
        p.addr.country
    } else {
        Country::Us
    };

    w.token(|b| push_id(b, "inq_", id, 10));
    w.token(|b| push_id(b, "acct_", account, 10));
    w.token(|b| push_rfc3339(b, t));
    w.raw(status);
    if show_name {
        let n = src.noisy();
        w.put(|b| render_name(b, &p.first, p.culture, &mut src.rng, n));
        let n = src.noisy();
        w.put(|b| render_name(b, &p.last, p.culture, &mut src.rng, n));
    } else {
        w.empty();
        w.empty();
    }
    if show_birth {
        let n = src.noisy();
        w.put(|b| render_date(b, p.birth, &mut src.rng, n));
    } else {
        w.empty();
    }
    write_email(w, src, p, show_email);
    write_phone(w, src, p, show_phone, region);
    write_address(w, src, p, show_addr);
    write_gov(w, src, p, show_gov);

    // Session signals.
    let r: f64 = src.rng.random();
    let public = cfg.public_ip_share * 1.5;
    let ip = if r < m.ctx.main_share && m.ctx.main_ip != Ip::Missing {
        m.ctx.main_ip
    } else if !m.ctx.ring && !hubs.is_empty() && r < m.ctx.main_share + public {
        pick(&mut src.rng, hubs)
    } else if m.ctx.ring {
        src.datacenter_ip()
    } else {
        src.home_ip(p.country)
    };
    w.token(|b| render_ip(b, ip));
    let device = match m.ctx.first_device {
        Some(d) if j == 0 => d,
        _ => {
            if src.chance(0.82) {
                p.device
            } else {
                p.alt_device
            }
        }
    };
    let n = src.noisy();
    w.token(|b| render_device(b, device, &src.keys, n));
    let fp_token = if m.ctx.anti_detect {
        src.rng.random::<u64>()
    } else if src.chance(0.1) {
        // Another browser on the same device.
        device ^ (1 << 62)
    } else {
        device
    };
    w.token(|b| render_browser_fp(b, fp_token, &src.keys));
    w.raw(user_agent(device, &src.keys));
    w.end()
}

fn write_email(w: &mut Sink, src: &mut Src, p: &Persona, show: bool) {
    match p.placeholder {
        Some(Placeholder::Email(v)) if show => w.raw(v),
        _ if show => {
            let n = src.noisy();
            w.token(|b| render_email(b, &p.email_local, p.email_domain, &mut src.rng, n))
        }
        _ => w.empty(),
    }
}

fn write_phone(w: &mut Sink, src: &mut Src, p: &Persona, show: bool, region: Country) {
    match p.placeholder {
        Some(Placeholder::Phone(v)) if show => w.raw(v),
        _ if show => {
            let n = src.noisy();
            w.token(|b| render_phone(b, p.phone_country, &p.phone, region, &mut src.rng, n))
        }
        _ => w.empty(),
    }
}

fn write_address(w: &mut Sink, src: &mut Src, p: &Persona, show: bool) {
    if !show {
        for _ in 0..5 {
            w.empty();
        }
        return;
    }
    let a = &p.addr;
    let n = src.noisy();
    w.put(|b| render_street(b, a, &mut src.rng, n));
    let n = src.noisy();
    w.put(|b| render_city(b, a, &mut src.rng, n));
    let n = src.noisy();
    w.put(|b| render_subdivision(b, a, &mut src.rng, n));
    let n = src.noisy();
    w.token(|b| render_postal(b, a, &mut src.rng, n));
    let n = src.noisy();
    w.token(|b| render_country(b, a.country, &mut src.rng, n));
}

fn write_gov(w: &mut Sink, src: &mut Src, p: &Persona, show: bool) {
    match p.placeholder {
        Some(Placeholder::Gov(v)) if show => {
            w.raw(v);
            w.raw(p.gov.country.iso2());
        }
        _ if show => {
            let n = src.noisy();
            w.token(|b| render_gov(b, &p.gov, &mut src.rng, n));
            w.raw(p.gov.country.iso2());
        }
        _ => {
            w.empty();
            w.empty();
        }
    }
}

/// Puts a chain link's value on the persona.
fn apply_link(p: &mut Persona, link: &Link) {
    match link {
        Link::Device(d) => {
            p.device = *d;
            p.show.device = true;
        }
        Link::Card(c) => {
            p.card = *c;
            p.show.card = true;
        }
        Link::Phone(s) => {
            p.phone.clone_from(s);
            p.show.phone = true;
            p.placeholder = None;
        }
        Link::Email(l, d) => {
            p.email_local.clone_from(l);
            p.email_domain = d;
            p.show.email = true;
        }
    }
}

/// Takes the persona's own value of a chain kind as the link to the next member.
fn take_link(p: &mut Persona, kind: u8) -> Link {
    match kind {
        0 => {
            p.show.device = true;
            Link::Device(p.device)
        }
        1 => {
            p.show.card = true;
            Link::Card(p.card)
        }
        2 => {
            p.show.phone = true;
            Link::Phone(p.phone.clone())
        }
        _ => {
            p.show.email = true;
            Link::Email(p.email_local.clone(), p.email_domain)
        }
    }
}

/// A typing error: two adjacent letters swapped, one dropped or one doubled.
fn typo(rng: &mut Rng, s: &mut String) {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() < 3 {
        return;
    }
    let i = rng.random_range(1..chars.len() as u32 - 1) as usize;
    match rng.random_range(0..3u32) {
        0 => chars.swap(i, i + 1),
        1 => {
            chars.remove(i);
        }
        _ => chars.insert(i, chars[i]),
    }
    s.clear();
    s.extend(chars);
}

/// One digit of an id number replaced by another digit.
fn digit_typo(rng: &mut Rng, s: &mut String) {
    let digits: Vec<usize> = s
        .char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    if digits.is_empty() {
        return;
    }
    let at = digits[rng.random_range(0..digits.len() as u32) as usize];
    let old = s.as_bytes()[at] - b'0';
    let new = (old + rng.random_range(1..10u8)) % 10;
    s.replace_range(at..=at, &new.to_string());
}

/// Public Wi-Fi and carrier-NAT addresses: one per 250,000 accounts, at least four, at most 256.
/// They come from ranges that no persona's own IP is drawn from.
fn public_ips(rng: &mut Rng, accounts: u64) -> Vec<Ip> {
    let count = (accounts / 250_000).clamp(4, 256) as usize;
    let mut out: Vec<Ip> = Vec::with_capacity(count);
    while out.len() < count {
        let v = match rng.random_range(0..4u32) {
            // T-Mobile-style carrier NAT 172.56.0.0/14.
            0 => (172 << 24) | (rng.random_range(56..60u32) << 16) | rng.random_range(0..65_536u32),
            // Verizon-style carrier NAT 174.192.0.0/10.
            1 => {
                (174 << 24) | (rng.random_range(192..256u32) << 16) | rng.random_range(0..65_536u32)
            }
            // Hotspot providers.
            2 => (12 << 24) | rng.random_range(0..(1u32 << 24)),
            _ => (63 << 24) | rng.random_range(0..(1u32 << 24)),
        };
        let last = v & 0xFF;
        if last == 0 || last == 255 {
            continue;
        }
        let ip = Ip::V4(v);
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// Plans rings and dormitories: sizes, patterns and start ordinals, sorted by start.
fn plan(cfg: &Config, clock: &Clock) -> Vec<Planned> {
    let n = cfg.accounts as u64;
    let mut rng = Rng::seed_from_u64(cfg.seed);
    rng.set_stream(1);
    let mut out = Vec::new();

    // Rings.
    let target = (n as f64 * cfg.ring_share).round() as u64;
    let (min, max) = (cfg.ring_size_min as u64, cfg.ring_size_max as u64);
    let enabled: Vec<(Pattern, u32)> = Pattern::ALL
        .iter()
        .map(|&p| (p, cfg.pattern_weights.get(p)))
        .filter(|&(_, w)| w > 0)
        .collect();
    let mut first_round: Vec<Pattern> = enabled.iter().map(|&(p, _)| p).collect();
    // Shuffle so that the first rings do not always get the same pattern order.
    for i in (1..first_round.len()).rev() {
        let j = rng.random_range(0..=i as u32) as usize;
        first_round.swap(i, j);
    }
    let mut total = 0u64;
    let mut count = 0usize;
    while !enabled.is_empty() && target - total >= min {
        let u: f64 = rng.random();
        let mut size = min + ((max - min + 1) as f64 * u * u * u) as u64;
        size = size.min(max).min(target - total);
        let left = target - total - size;
        if left > 0 && left < min {
            // Fold a remainder too small for a ring into this one, or shrink this one.
            if size + left <= max {
                size += left;
            } else {
                size -= min - left;
            }
        }
        let pattern = if count < first_round.len() {
            first_round[count]
        } else {
            weighted(&mut rng, &enabled)
        };
        let burst = match rng.random_range(0..4u32) {
            0 => rng.random_range(2 * HOUR..6 * HOUR),
            1 => rng.random_range(6 * HOUR..DAY),
            2 => rng.random_range(DAY..2 * DAY),
            _ => rng.random_range(2 * DAY..=4 * DAY),
        };
        let window = clock.ords(burst) + size;
        let start = rng.random_range(0..n.saturating_sub(window).max(1));
        out.push(Planned {
            start,
            size: size as u32,
            kind: PlannedKind::Ring { pattern, burst },
        });
        total += size;
        count += 1;
    }

    // Dormitories and offices.
    let max_dorm = (n / 20).min(300);
    if cfg.dorm_share > 0.0 && n >= 1_000 && max_dorm >= 30 {
        let dorms = ((n as f64 * cfg.dorm_share / 120.0).round() as u64).max(1);
        for _ in 0..dorms {
            let u: f64 = rng.random();
            let size = (30 + (270.0 * u * u) as u64).min(max_dorm);
            let window = rng.random_range(60 * DAY..240 * DAY);
            let span = clock.ords(window) + size;
            let start = rng.random_range(0..n.saturating_sub(span).max(1));
            out.push(Planned {
                start,
                size: size as u32,
                kind: PlannedKind::Dorm { window },
            });
        }
    }
    out.sort_by_key(|p| p.start);
    out
}
