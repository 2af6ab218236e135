//! Seeded synthetic identity population with planted fraud rings and ground truth.
//!
//! [`generate_to_dir`] writes three CSV files in Ringfence's canonical input layout:
//! `accounts.csv` and `inquiries.csv` (the input a fraud team would export) and `truth.csv`
//! (what really happened, for scoring a detector). Generation is deterministic — the same
//! [`Config`] gives byte-identical files on every platform — and streaming: memory holds only
//! the groups (rings, households, ...) whose members are still to be written, a few MB at
//! 10 million accounts.
//!
//! ```no_run
//! let cfg = datasets::Config::new(20_000, 42);
//! let summary = datasets::generate_to_dir(&cfg, std::path::Path::new("out/synthetic"), &mut |_| {})?;
//! assert_eq!(summary.accounts, 20_000);
//! println!("{} rings, largest {}", summary.rings, summary.largest_ring);
//! # Ok::<(), datasets::Error>(())
//! ```
//!
//! # Population
//!
//! Most accounts are **honest**: one person each, with their own email, phone, device, card
//! and address. Every value that should identify one person is drawn without collisions
//! (keyed permutations), so two honest people never share an email, phone, government id,
//! street address, card, bank account, device, browser fingerprint or home IP by accident.
//! Names and birthdates are *not* unique — common names collide, as in real data.
//!
//! **Planted fraud rings** (`ring_share` of the accounts, sizes `ring_size_min..=ring_size_max`,
//! each created in a burst of 2 hours to 4 days), in five [`Pattern`]s:
//!
//! | pattern | what members share | what links them |
//! |---|---|---|
//! | `device_farm` | 1–3 device ids (account `device_id`; each member's first inquiry uses the *next* device, chaining them) and one proxy IP | device, ip + burst |
//! | `synthetic_identity` | either one SSN / id number under different names and birthdates (65 %), or one name + birthdate under different id numbers, most at one mailing address | gov_id, or name+birthdate (+ address with last name) |
//! | `shared_card_drop` | 1–2 card fingerprints and one drop address (units vary); with two cards, one member of each card group shares a device | card, address, device |
//! | `stolen_identity` | one victim's name, birthdate and id number; emails, phones, devices all differ; half use the victim's address | gov_id, name+birthdate |
//! | `chain` | member *i* shares exactly one value with member *i + 1*, cycling device → card → phone → email; nothing else is shared | one strong kind per hop |
//!
//! Ring members' inquiries are declined more often; in `labelled_ring_share` of the rings 1–3
//! members carry `label = fraud`.
//!
//! **Benign look-alikes** a good detector must not report as rings:
//! - *households*: 2–6 people at one address, mostly one last name, one home IP; occasionally a
//!   shared landline or family device; members sign up months apart;
//! - *dormitories / offices*: 30–300 unrelated people behind one IP over months;
//! - *public Wi-Fi and carrier-NAT IPs*: a handful of IPs (one per 250 k accounts, at least 4)
//!   each used by thousands of accounts and inquiries;
//! - *placeholders* typed instead of data: `test@test.com`, `none@none.com`, `0000000000`,
//!   `1234567890`, `123456789`, `000000000`, `N/A`;
//! - *the same person registering twice*: a second account months later with typos (letters
//!   swapped or dropped, day and month swapped, one digit wrong in the id number), a new email,
//!   and usually the same device or phone;
//! - *format noise* on every value: phone `+1 (415) 555-0134` / `415.555.0134` / `4155550134`,
//!   email case, whitespace, gmail dots and `+tags`, name case, stray spaces and dropped
//!   accents, birthdates as `1987-04-12`, `04/12/1987` (always month first), `19870412`,
//!   `12.04.1987` (always day first) or `April 12, 1987`, abbreviated streets and units,
//!   postal codes with and without spaces, ZIP+4, id numbers with separators, device ids in
//!   upper case, countries as alpha-3.
//!
//! A phone written without `+` or `00` is in the national format of the row's
//! `address_country`, or of the US when the row has no address.
//!
//! # Ground truth (`truth.csv`)
//!
//! One row per account, in `accounts.csv` order: `account_id,person_id,ring_id`.
//! - `person_id` is the identity the account **claims**. A person who registers twice has the
//!   same `person_id` on both accounts; every account of a `stolen_identity` ring carries the
//!   victim's `person_id` (the victim has no account of their own); each synthetic identity has
//!   its own `person_id`.
//! - `ring_id` is set on exactly the accounts of a planted ring and empty everywhere else —
//!   households, dormitories, shared IPs and duplicates are not rings.
//!
//! # Output columns
//! See [`ACCOUNT_COLUMNS`], [`INQUIRY_COLUMNS`] and [`TRUTH_COLUMNS`]. Timestamps are RFC 3339
//! UTC; accounts are created between [`Config::start`] and [`Config::end`], roughly in id
//! order; inquiries follow their account within minutes to months.

mod error;
mod generator;
mod geo;
mod names;
mod persona;
mod util;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;

pub use error::{Error, Result};

/// Header of `accounts.csv`.
pub const ACCOUNT_COLUMNS: [&str; 21] = [
    "account_id",
    "reference_id",
    "created_at",
    "name_first",
    "name_middle",
    "name_last",
    "birthdate",
    "email",
    "phone",
    "address_street",
    "address_city",
    "address_subdivision",
    "address_postal_code",
    "address_country",
    "gov_id_number",
    "gov_id_country",
    "card_fingerprint",
    "bank_account",
    "device_id",
    "ip_address",
    "label",
];

/// Header of `inquiries.csv`.
pub const INQUIRY_COLUMNS: [&str; 20] = [
    "inquiry_id",
    "account_id",
    "created_at",
    "status",
    "name_first",
    "name_last",
    "birthdate",
    "email",
    "phone",
    "address_street",
    "address_city",
    "address_subdivision",
    "address_postal_code",
    "address_country",
    "gov_id_number",
    "gov_id_country",
    "ip_address",
    "device_id",
    "browser_fingerprint",
    "user_agent",
];

/// Header of `truth.csv`.
pub const TRUTH_COLUMNS: [&str; 3] = ["account_id", "person_id", "ring_id"];

/// The kinds of planted fraud ring. See the [crate docs](crate) for what each shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pattern {
    /// Distinct synthetic identities on 1–3 shared devices behind one proxy IP.
    DeviceFarm,
    /// One id number under many names, or one name + birthdate under many id numbers.
    SyntheticIdentity,
    /// Distinct identities paying with the same card(s), shipping to one drop address.
    SharedCardDrop,
    /// One victim's identity opening many accounts with different contact points.
    StolenIdentity,
    /// Each member shares exactly one value with the next.
    Chain,
}

impl Pattern {
    /// All patterns, in a fixed order.
    pub const ALL: [Pattern; 5] = [
        Pattern::DeviceFarm,
        Pattern::SyntheticIdentity,
        Pattern::SharedCardDrop,
        Pattern::StolenIdentity,
        Pattern::Chain,
    ];

    /// The snake_case name used in [`Summary::rings_by_pattern`].
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::DeviceFarm => "device_farm",
            Pattern::SyntheticIdentity => "synthetic_identity",
            Pattern::SharedCardDrop => "shared_card_drop",
            Pattern::StolenIdentity => "stolen_identity",
            Pattern::Chain => "chain",
        }
    }
}

/// Relative weights of the ring [`Pattern`]s. A pattern with weight 0 is never planted; every
/// pattern with a positive weight is planted at least once when there are enough rings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternWeights {
    /// Default 25.
    pub device_farm: u32,
    /// Default 20.
    pub synthetic_identity: u32,
    /// Default 20.
    pub shared_card_drop: u32,
    /// Default 20.
    pub stolen_identity: u32,
    /// Default 15.
    pub chain: u32,
}

impl Default for PatternWeights {
    fn default() -> Self {
        PatternWeights {
            device_farm: 25,
            synthetic_identity: 20,
            shared_card_drop: 20,
            stolen_identity: 20,
            chain: 15,
        }
    }
}

impl PatternWeights {
    fn get(&self, p: Pattern) -> u32 {
        match p {
            Pattern::DeviceFarm => self.device_farm,
            Pattern::SyntheticIdentity => self.synthetic_identity,
            Pattern::SharedCardDrop => self.shared_card_drop,
            Pattern::StolenIdentity => self.stolen_identity,
            Pattern::Chain => self.chain,
        }
    }
}

/// What to generate. Build with [`Config::new`] and adjust the public knobs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Number of accounts (rows of `accounts.csv` and `truth.csv`).
    pub accounts: usize,
    /// Seed of every random choice; the same config gives byte-identical files.
    pub seed: u64,
    /// First day accounts are created (default 2024-01-01).
    pub start: NaiveDate,
    /// Last day accounts are created, inclusive (default 2025-12-31). Inquiries after it are
    /// not written.
    pub end: NaiveDate,
    /// Share of accounts that belong to planted rings (default 0.01).
    pub ring_share: f64,
    /// Smallest planted ring (default 3, at least 3).
    pub ring_size_min: usize,
    /// Largest planted ring (default 40, at most 50).
    pub ring_size_max: usize,
    /// Mix of ring patterns (default 25/20/20/20/15).
    pub pattern_weights: PatternWeights,
    /// Share of rings in which 1–3 members are labelled `fraud` (default 0.3).
    pub labelled_ring_share: f64,
    /// Share of non-ring accounts labelled `legit` (default 0.02).
    pub legit_label_rate: f64,
    /// Mean inquiries per account, 0–3 each (binomial; default 1.2).
    pub inquiries_per_account: f64,
    /// Probability that a value is written in a non-canonical format (default 0.2).
    pub noise_rate: f64,
    /// Share of accounts belonging to households of 2–6 people (default 0.08).
    pub household_share: f64,
    /// Share of accounts in dormitories / offices sharing one IP (default 0.005; none below
    /// 1,000 accounts).
    pub dorm_share: f64,
    /// Share of account rows (and 1.5 times that of inquiries) coming from a public Wi-Fi or
    /// carrier-NAT IP (default 0.04).
    pub public_ip_share: f64,
    /// Share of accounts with a placeholder email, phone or id number (default 0.0004, i.e.
    /// 400 per million).
    pub placeholder_rate: f64,
    /// Share of persons who register a second account (default 0.015).
    pub duplicate_person_rate: f64,
}

impl Config {
    /// A config with the documented defaults.
    pub fn new(accounts: usize, seed: u64) -> Self {
        Config {
            accounts,
            seed,
            start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or(NaiveDate::MIN),
            end: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or(NaiveDate::MAX),
            ring_share: 0.01,
            ring_size_min: 3,
            ring_size_max: 40,
            pattern_weights: PatternWeights::default(),
            labelled_ring_share: 0.3,
            legit_label_rate: 0.02,
            inquiries_per_account: 1.2,
            noise_rate: 0.2,
            household_share: 0.08,
            dorm_share: 0.005,
            public_ip_share: 0.04,
            placeholder_rate: 0.0004,
            duplicate_person_rate: 0.015,
        }
    }

    /// Checks every knob.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first knob out of range.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidConfig(msg));
        let unit = [
            ("ring_share", self.ring_share),
            ("labelled_ring_share", self.labelled_ring_share),
            ("legit_label_rate", self.legit_label_rate),
            ("noise_rate", self.noise_rate),
            ("household_share", self.household_share),
            ("dorm_share", self.dorm_share),
            ("public_ip_share", self.public_ip_share),
            ("placeholder_rate", self.placeholder_rate),
            ("duplicate_person_rate", self.duplicate_person_rate),
        ];
        for (name, v) in unit {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} = {v} is not within 0..=1"));
            }
        }
        let grouped = self.ring_share
            + self.household_share
            + self.dorm_share
            + 2.0 * self.duplicate_person_rate;
        if grouped > 0.6 {
            return bad(format!(
                "ring_share + household_share + dorm_share + 2 * duplicate_person_rate = {grouped:.3} exceeds 0.6"
            ));
        }
        if self.public_ip_share > 0.5 {
            return bad(format!(
                "public_ip_share = {} exceeds 0.5",
                self.public_ip_share
            ));
        }
        if self.ring_size_min < 3
            || self.ring_size_min > self.ring_size_max
            || self.ring_size_max > 50
        {
            return bad(format!(
                "ring sizes {}..={} must satisfy 3 <= min <= max <= 50",
                self.ring_size_min, self.ring_size_max
            ));
        }
        if !(0.0..=3.0).contains(&self.inquiries_per_account) {
            return bad(format!(
                "inquiries_per_account = {} is not within 0..=3",
                self.inquiries_per_account
            ));
        }
        if self.end < self.start {
            return bad(format!("end {} is before start {}", self.end, self.start));
        }
        if self.ring_share > 0.0
            && Pattern::ALL
                .iter()
                .all(|&p| self.pattern_weights.get(p) == 0)
        {
            return bad("ring_share > 0 but every pattern weight is 0".to_owned());
        }
        if self.accounts as u64 > 1_000_000_000 {
            return bad(format!(
                "accounts = {} exceeds 1,000,000,000",
                self.accounts
            ));
        }
        Ok(())
    }
}

/// What was written. Serialises to JSON for a `summary.json` next to the files.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    /// The seed used.
    pub seed: u64,
    /// Rows in `accounts.csv` (and `truth.csv`).
    pub accounts: u64,
    /// Rows in `inquiries.csv`.
    pub inquiries: u64,
    /// Distinct `person_id`s in `truth.csv`.
    pub persons: u64,
    /// Planted rings.
    pub rings: u64,
    /// Accounts in planted rings.
    pub ring_accounts: u64,
    /// Size of the largest planted ring.
    pub largest_ring: u64,
    /// Rings per pattern name (every pattern is listed, possibly with 0).
    pub rings_by_pattern: BTreeMap<String, u64>,
    /// Accounts labelled `fraud`.
    pub fraud_labels: u64,
    /// Accounts labelled `legit`.
    pub legit_labels: u64,
    /// Households (benign: shared address, last name and home IP).
    pub households: u64,
    /// Accounts in households.
    pub household_accounts: u64,
    /// Dormitories / offices (benign: one IP for 30–300 people over months).
    pub dorms: u64,
    /// Accounts in dormitories / offices.
    pub dorm_accounts: u64,
    /// Public Wi-Fi / carrier-NAT IPs (benign hubs).
    pub public_ips: u64,
    /// Accounts whose `ip_address` is one of the public IPs.
    pub public_ip_accounts: u64,
    /// Accounts with a placeholder email, phone or id number.
    pub placeholder_accounts: u64,
    /// Persons with two accounts (benign duplicates).
    pub duplicate_persons: u64,
}

/// Generates the population described by `cfg` into `dir` (created if missing):
/// `accounts.csv`, `inquiries.csv` and `truth.csv`, overwriting existing files.
///
/// `progress` is called with the number of accounts written so far every 100,000 accounts
/// and once at the end.
///
/// Runs in O(accounts) time and O(accounts in unfinished groups) memory.
///
/// # Errors
/// [`Error::InvalidConfig`] for a bad knob (nothing is written); [`Error::Io`] when the
/// directory or a file cannot be created or written (files may then be partial).
pub fn generate_to_dir(cfg: &Config, dir: &Path, progress: &mut dyn FnMut(u64)) -> Result<Summary> {
    cfg.validate()?;
    generator::run(cfg, dir, progress)
}

#[cfg(test)]
mod tests;
