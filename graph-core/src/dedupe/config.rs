//! Settings of duplicate detection, loadable from TOML.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

use super::compare::{NROWS, row_def};

/// One part of a blocking key. A record gets a key for a rule only when every part is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKey {
    /// The government id number (its country prefix is ignored: the country is often guessed
    /// from the address, so the same document would otherwise disagree with itself).
    GovId,
    /// The first name.
    FirstName,
    /// The last name.
    LastName,
    /// Soundex of the first name (the name itself for names without Latin letters).
    FirstNamePhonetic,
    /// Soundex of the last name (the name itself for names without Latin letters).
    LastNamePhonetic,
    /// The first letter of the first name.
    FirstNameInitial,
    /// The first letter of the last name.
    LastNameInitial,
    /// The birthdate.
    Birthdate,
    /// The birthdate with day and month unordered, so a day/month transposition keeps the key.
    BirthdateUnordered,
    /// The birth year.
    BirthYear,
    /// The whole email address.
    Email,
    /// The local part of the email address (before `@`).
    EmailLocal,
    /// The phone number.
    Phone,
    /// The address key.
    Address,
    /// The locality of the address key: the postal code, else the city (its last segment).
    Postal,
}

impl BlockKey {
    /// The snake_case name used in TOML.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKey::GovId => "gov_id",
            BlockKey::FirstName => "first_name",
            BlockKey::LastName => "last_name",
            BlockKey::FirstNamePhonetic => "first_name_phonetic",
            BlockKey::LastNamePhonetic => "last_name_phonetic",
            BlockKey::FirstNameInitial => "first_name_initial",
            BlockKey::LastNameInitial => "last_name_initial",
            BlockKey::Birthdate => "birthdate",
            BlockKey::BirthdateUnordered => "birthdate_unordered",
            BlockKey::BirthYear => "birth_year",
            BlockKey::Email => "email",
            BlockKey::EmailLocal => "email_local",
            BlockKey::Phone => "phone",
            BlockKey::Address => "address",
            BlockKey::Postal => "postal",
        }
    }
}

/// A blocking rule: records whose values agree on every key part are compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingRule {
    /// Name, used in reports and as part of the keyed block hash.
    pub name: String,
    /// The parts that must all agree.
    pub keys: Vec<BlockKey>,
}

impl BlockingRule {
    fn new(name: &str, keys: &[BlockKey]) -> Self {
        BlockingRule {
            name: name.to_owned(),
            keys: keys.to_vec(),
        }
    }
}

/// An m probability fixed by the configuration instead of estimated by EM.
///
/// EM sees only how often levels co-occur; it cannot know which of two look-alike populations
/// is "the same identity". See [`DedupeConfig::fixed_m`] for the default and why it exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedM {
    /// Comparison name (`first_name`, `last_name`, `birthdate`, `gov_id`, `email`, `phone`,
    /// `address`, or `address|phone_exact` for the address levels used when the phones are
    /// equal).
    pub field: String,
    /// Level name within the comparison (e.g. `else`).
    pub level: String,
    /// The m probability, in `(0, 1)`.
    pub m: f64,
}

/// Settings of duplicate detection. Every field has a default, so an empty TOML table is the
/// default configuration ([`DedupeConfig::from_toml_str`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupeConfig {
    /// Whether `ringfence link` runs duplicate detection (default true). `ringfence dedupe`
    /// always does.
    pub enabled: bool,
    /// Blocking rules; the candidate pairs are the union of their pairs. Defaults: `gov_id`;
    /// `surname_sound_initial_dob` (Soundex of the last name + first letter of the first
    /// name + birthdate with day and month unordered); `first_name_sound_initial_dob`
    /// (Soundex of the first name + first letter of the last name + the same); `email_local`;
    /// `phone`; `address_birth_year`; `address_first_name_sound`; `postal_dob`. They are
    /// chosen so that every typo the comparisons forgive (one name misspelt after its first
    /// letter, day and month swapped, a new email or phone) still leaves at least one rule
    /// agreeing, while no rule pairs up common values on their own (a surname alone, a birth
    /// year alone: at a million records `surname + birth year` alone would be tens of
    /// millions of pairs).
    ///
    /// The pairs a rule gives grow with the square of its block sizes, and blocks grow with
    /// the population until they reach [`DedupeConfig::max_block_size`], so a rule must key
    /// on values about as rare as an identity. Both Soundex codes + birth year (formerly a
    /// default) is not: its blocks hold everyone born in a year under a common pair of
    /// names, and it gave 1.6M of 2.1M candidate pairs at a million generated accounts and
    /// 157M of 207M at ten million, for 2 of 35,894 true pairs found at a million (a birthdate
    /// typo beyond a day/month swap, with no id number, email, phone or address in common).
    /// Add it back (`keys = ["first_name_phonetic", "last_name_phonetic", "birth_year"]`)
    /// where such records matter more than the cost.
    ///
    /// Likewise one Soundex name + birthdate (`surname_sound_dob`, `first_name_sound_dob`,
    /// defaults until the fourteenth session) gave 23.4M + 28.4M of 51.5M candidate pairs at
    /// ten million generated accounts; adding the other name's first letter cut the
    /// candidates to 4.4M (0.10M of 0.57M at a million) and found all but 59 of the 343,712
    /// true pairs the old rules found (3 of 35,892 at a million), with fewer false ones. What
    /// it gives up: a pair whose *other* name changes its first letter (a nickname such as
    /// Bill for William, a new surname after marriage) and that shares no id number, email,
    /// phone, address or postal code + birthdate. Add `keys = ["last_name_phonetic",
    /// "birthdate_unordered"]` back where those matter more than the cost.
    pub blocking: Vec<BlockingRule>,
    /// A block (records sharing one rule key) with more records than this is skipped and
    /// reported, so that one common value cannot explode the number of pairs (default 200).
    pub max_block_size: u32,
    /// Most EM iterations (default 100).
    pub em_max_iterations: u32,
    /// EM stops when no m probability moves by more than this and the prior moves by less
    /// than this relative amount (default 1e-4, Splink's `em_convergence`: EM converges
    /// linearly, so a tighter bound buys iterations, not accuracy).
    pub em_tolerance: f64,
    /// Random record pairs sampled to estimate the u probabilities of the non-exact levels
    /// (default 1,000,000; all pairs are used when there are fewer).
    pub u_pairs: u64,
    /// Smallest m probability EM may give a level, so that a level never seen among matches
    /// does not become an absolute veto (default 0.001, about −10 bits).
    pub m_floor: f64,
    /// m probabilities held fixed during EM. Default: `gov_id` level `else` at 1e-9.
    ///
    /// Why: an identity is anchored in its document number. Two accounts with the same name,
    /// birthdate and address but *different* id numbers are what a synthetic-identity farm
    /// produces, while a stolen identity repeats the number too; EM cannot tell these two
    /// populations apart (both agree on everything else), and would learn that a different id
    /// number is common among "matches". Typing errors in the number are covered by the
    /// `one_edit` level, so a wholly different number is held to be near-conclusive evidence
    /// of a different identity.
    pub fixed_m: Vec<FixedM>,
    /// A pair is a match when its match probability is at least this (default 0.9).
    pub threshold: f64,
    /// Largest duplicate group; a merge that would exceed it is refused (default 1000).
    pub max_group_size: u32,
    /// Seed of the random pair sample (default 0x5eed).
    pub seed: u64,
}

impl Default for DedupeConfig {
    fn default() -> Self {
        use BlockKey::*;
        DedupeConfig {
            enabled: true,
            blocking: vec![
                BlockingRule::new("gov_id", &[GovId]),
                BlockingRule::new(
                    "surname_sound_initial_dob",
                    &[LastNamePhonetic, FirstNameInitial, BirthdateUnordered],
                ),
                BlockingRule::new(
                    "first_name_sound_initial_dob",
                    &[FirstNamePhonetic, LastNameInitial, BirthdateUnordered],
                ),
                BlockingRule::new("email_local", &[EmailLocal]),
                BlockingRule::new("phone", &[Phone]),
                BlockingRule::new("address_birth_year", &[Address, BirthYear]),
                BlockingRule::new("address_first_name_sound", &[Address, FirstNamePhonetic]),
                BlockingRule::new("postal_dob", &[Postal, Birthdate]),
            ],
            max_block_size: 200,
            em_max_iterations: 100,
            em_tolerance: 1e-4,
            u_pairs: 1_000_000,
            m_floor: 1e-3,
            fixed_m: vec![FixedM {
                field: "gov_id".into(),
                level: "else".into(),
                m: 1e-9,
            }],
            threshold: 0.9,
            max_group_size: 1000,
            seed: 0x5eed,
        }
    }
}

impl DedupeConfig {
    /// Parses and validates a TOML configuration; omitted fields keep their defaults (a
    /// `blocking` or `fixed_m` list, when given, replaces the default list).
    ///
    /// # Errors
    /// [`Error::Config`] naming the problem.
    pub fn from_toml_str(s: &str) -> Result<Self> {
        let cfg: DedupeConfig =
            toml::from_str(s).map_err(|e| Error::Config(format!("dedupe: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every setting. Training and scoring do not fail on an unchecked configuration:
    /// they clamp numbers into range and ignore `fixed_m` entries that name no level.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("dedupe: {m}")));
        if self.blocking.is_empty() {
            return bad("at least one blocking rule is needed".into());
        }
        for (i, r) in self.blocking.iter().enumerate() {
            if r.name.is_empty() || r.keys.is_empty() {
                return bad(format!(
                    "blocking rule {i} needs a name and at least one key"
                ));
            }
            if self.blocking[..i].iter().any(|o| o.name == r.name) {
                return bad(format!("blocking rule name {:?} is used twice", r.name));
            }
        }
        if self.max_block_size < 2 {
            return bad("max_block_size must be at least 2".into());
        }
        if !(self.em_tolerance > 0.0 && self.em_tolerance.is_finite()) {
            return bad("em_tolerance must be > 0".into());
        }
        if self.u_pairs == 0 {
            return bad("u_pairs must be at least 1".into());
        }
        if !(self.m_floor > 0.0 && self.m_floor < 0.1) {
            return bad("m_floor must be within (0, 0.1)".into());
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return bad("threshold must be within (0, 1)".into());
        }
        if self.max_group_size < 2 {
            return bad("max_group_size must be at least 2".into());
        }
        for f in &self.fixed_m {
            let Some(c) = (0..NROWS).map(row_def).find(|c| c.field == f.field) else {
                return bad(format!("fixed_m: unknown field {:?}", f.field));
            };
            if !c.levels.contains(&f.level.as_str()) {
                return bad(format!(
                    "fixed_m: field {} has no level {:?}",
                    f.field, f.level
                ));
            }
            if !(f.m > 0.0 && f.m < 1.0) {
                return bad(format!(
                    "fixed_m: m for {}/{} must be within (0, 1)",
                    f.field, f.level
                ));
            }
        }
        Ok(())
    }

    /// The threshold clamped into `(0, 1)`.
    pub(crate) fn threshold_clamped(&self) -> f64 {
        if self.threshold.is_nan() {
            0.9
        } else {
            self.threshold.clamp(1e-12, 1.0 - 1e-12)
        }
    }

    /// The block cap, at least 2.
    pub(crate) fn block_cap(&self) -> usize {
        self.max_block_size.max(2) as usize
    }
}
