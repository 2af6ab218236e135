//! Link configuration: which kinds link, how, with what strength, and when a shared value is
//! a hub instead of evidence.
//!
//! Loaded from TOML ([`LinkConfig::from_toml_str`]); every field has a default, so an empty
//! file is the default configuration. See `docs/link-config.md` for the reference.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dedupe::DedupeConfig;
use crate::error::{Error, Result};
use crate::record::kinds;

/// How a kind links entities that share a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkMode {
    /// Sharing the value links.
    Alone,
    /// Sharing the value links only when the two observations are within `window_hours`.
    Window,
    /// Sharing the value links only when the entities also share a value of one of `with`.
    With,
    /// The kind never links (used for comparisons and combinations only).
    Never,
}

/// A per-kind cap: a number, or `"auto"` to choose it from the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cap {
    /// At most this many distinct accounts may share a value before it is a hub.
    Fixed(u32),
    /// Chosen from the data (see [`HubConfig`]): from how many accounts share each value of
    /// this kind, or for a `window` kind from the sizes of the bursts it links.
    Auto(AutoCap),
}

/// The literal `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoCap {
    /// See [`HubConfig`].
    Auto,
}

/// The rule for one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindRule {
    /// How the kind links.
    pub link: LinkMode,
    /// Evidence strength of a shared value of this kind, 0–1; feeds ring and entity scores.
    #[serde(default = "default_strength")]
    pub strength: f64,
    /// Hub cap.
    #[serde(default = "default_cap")]
    pub cap: Cap,
    /// For [`LinkMode::Window`]: the window in hours.
    #[serde(default)]
    pub window_hours: Option<f64>,
    /// For [`LinkMode::Window`]: the fewest accounts a group the window connects must hold to
    /// link (at least 2; default 2, any pair).
    #[serde(default = "default_min_accounts")]
    pub min_accounts: u32,
    /// For [`LinkMode::With`]: the kinds one of which must also be shared.
    #[serde(default)]
    pub with: Vec<String>,
    /// Placeholder values (normalised) that never link, on top of the built-in list.
    #[serde(default)]
    pub placeholders: Vec<String>,
}

fn default_strength() -> f64 {
    0.5
}

fn default_cap() -> Cap {
    Cap::Auto(AutoCap::Auto)
}

fn default_min_accounts() -> u32 {
    2
}

impl KindRule {
    fn new(link: LinkMode, strength: f64) -> Self {
        KindRule {
            link,
            strength,
            cap: default_cap(),
            window_hours: None,
            min_accounts: default_min_accounts(),
            with: Vec::new(),
            placeholders: Vec::new(),
        }
    }

    /// For [`LinkMode::Window`]: the window in milliseconds (24 hours when none is set).
    pub fn window_ms(&self) -> i64 {
        (self.window_hours.unwrap_or(24.0) * 3_600_000.0) as i64
    }

    /// Whether a shared value of this kind counts as strong evidence of a common controller.
    pub fn is_strong(&self) -> bool {
        self.strength >= STRONG
    }
}

/// Strength from which a shared property is "strong" (device, card, ID number, email, phone).
pub const STRONG: f64 = 0.75;

/// How automatic caps are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    /// The automatic cap is `multiplier ×` the 99th percentile of the number of accounts
    /// sharing a value (among values shared at all), clamped to `[floor, ceiling]`; for a
    /// `window` kind, of the number of accounts in each burst it links (a group of accounts it
    /// connects whose linking observations fall within one window), as sharing over time is
    /// what the window keeps apart.
    pub multiplier: f64,
    /// Lowest automatic cap.
    pub floor: u32,
    /// Highest automatic cap.
    pub ceiling: u32,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            multiplier: 3.0,
            floor: 20,
            ceiling: 500,
        }
    }
}

/// Ring decision settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RingConfig {
    /// A ring needs at least this many accounts.
    pub min_accounts: u32,
    /// A cluster is a ring when its ring score reaches this (0–100).
    pub threshold: f64,
    /// Accounts created within this many hours of each other count as a burst.
    pub burst_hours: f64,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            min_accounts: 3,
            threshold: 50.0,
            burst_hours: 72.0,
        }
    }
}

/// Entity score weights (points per reason; see `docs/scoring.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreConfig {
    /// Points for an entity labelled fraud itself.
    pub labelled_fraud: f64,
    /// Multiplier of the ring score for members of a ring.
    pub member_of_ring: f64,
    /// Points for an account one hop from an account labelled fraud; each further hop
    /// multiplies by `proximity_decay`.
    pub fraud_proximity: f64,
    /// Points per strong property shared with other accounts (at most three count).
    pub shared_strong_property: f64,
    /// Points for using a value held back as a hub.
    pub uses_hub_value: f64,
    /// Points for being a likely duplicate of another account (scaled by match probability).
    pub possible_duplicate: f64,
    /// Points for being a likely duplicate of an account labelled fraud (scaled by match
    /// probability): the same identity as a known fraudster, typed again.
    pub duplicate_of_fraud: f64,
    /// Factor per further hop from known fraud.
    pub proximity_decay: f64,
    /// Hops beyond which closeness to fraud no longer counts.
    pub proximity_max_hops: u32,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            labelled_fraud: 95.0,
            member_of_ring: 0.8,
            fraud_proximity: 40.0,
            shared_strong_property: 10.0,
            uses_hub_value: 5.0,
            possible_duplicate: 15.0,
            duplicate_of_fraud: 60.0,
            proximity_decay: 0.5,
            proximity_max_hops: 4,
        }
    }
}

/// The whole link configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// Rules per kind; kinds not named keep their defaults, unknown (custom) kinds link alone
    /// with strength 0.5.
    pub rules: BTreeMap<String, KindRule>,
    /// Automatic hub caps.
    pub hubs: HubConfig,
    /// Ring decision.
    pub rings: RingConfig,
    /// Entity score weights.
    pub scores: ScoreConfig,
    /// Duplicate-identity detection (`[dedupe]`), run by `ringfence link` unless
    /// `enabled = false`.
    pub dedupe: DedupeConfig,
}

impl Default for LinkConfig {
    fn default() -> Self {
        let mut rules = BTreeMap::new();
        let mut put = |k: &str, r: KindRule| {
            rules.insert(k.to_owned(), r);
        };
        put(kinds::GOV_ID, KindRule::new(LinkMode::Alone, 0.95));
        put(kinds::DEVICE_ID, KindRule::new(LinkMode::Alone, 0.9));
        put(kinds::CARD_FINGERPRINT, KindRule::new(LinkMode::Alone, 0.9));
        put(kinds::BANK_ACCOUNT, KindRule::new(LinkMode::Alone, 0.85));
        put(kinds::REFERENCE_ID, KindRule::new(LinkMode::Alone, 0.85));
        put(kinds::EMAIL, KindRule::new(LinkMode::Alone, 0.8));
        put(kinds::PHONE, KindRule::new(LinkMode::Alone, 0.75));
        // One name and birthdate is shared by chance in a large population (at 10M generated
        // accounts, namesakes merged unrelated rings: ring-pair precision 0.84); one
        // operation opens its accounts under one identity in a burst, namesakes months apart.
        // Two accounts under one name and birthdate within the window are one person
        // registering twice (duplicate detection's to find) or namesakes by chance, and such a
        // pair joined two rings of 30 and 32 accounts at 10M; an operation works an identity
        // with three or more.
        put(
            kinds::NAME_DOB,
            KindRule {
                window_hours: Some(72.0),
                min_accounts: 3,
                ..KindRule::new(LinkMode::Window, 0.6)
            },
        );
        put(
            kinds::BROWSER_FINGERPRINT,
            KindRule::new(LinkMode::Alone, 0.5),
        );
        put(
            kinds::IP,
            KindRule {
                window_hours: Some(24.0),
                ..KindRule::new(LinkMode::Window, 0.3)
            },
        );
        put(
            kinds::ADDRESS,
            KindRule {
                with: vec![kinds::NAME_LAST.to_owned()],
                ..KindRule::new(LinkMode::With, 0.4)
            },
        );
        for aux in [kinds::NAME_LAST, kinds::NAME, kinds::BIRTHDATE] {
            put(aux, KindRule::new(LinkMode::Never, 0.0));
        }
        LinkConfig {
            rules,
            hubs: HubConfig::default(),
            rings: RingConfig::default(),
            scores: ScoreConfig::default(),
            dedupe: DedupeConfig::default(),
        }
    }
}

/// Placeholder values people type when they have to fill a field, per kind (normalised form).
/// Any kind also treats [`GENERIC_PLACEHOLDERS`] as placeholders.
pub const BUILT_IN_PLACEHOLDERS: &[(&str, &[&str])] = &[
    (
        kinds::EMAIL,
        &[
            "test@test.com",
            "test@example.com",
            "none@none.com",
            "no@no.com",
            "na@na.com",
            "noemail@noemail.com",
            "email@email.com",
            "a@a.com",
            "abc@abc.com",
            "asdf@asdf.com",
            "x@x.com",
            "noreply@example.com",
            "user@example.com",
        ],
    ),
    (
        kinds::PHONE,
        &[
            "+10000000000",
            "+11111111111",
            "+11234567890",
            "+15555555555",
            "+19999999999",
        ],
    ),
    (
        kinds::GOV_ID,
        &[
            "XX:000000000",
            "US:000000000",
            "US:111111111",
            "US:123456789",
            "US:987654321",
            "US:999999999",
            "XX:123456789",
        ],
    ),
    (
        kinds::DEVICE_ID,
        &[
            "00000000-0000-0000-0000-000000000000",
            "unknown",
            "undefined",
        ],
    ),
    (kinds::IP, &["0.0.0.0", "127.0.0.1", "::1", "::"]),
    (kinds::CARD_FINGERPRINT, &["unknown", "undefined"]),
];

/// Values that are placeholders whatever the kind.
pub const GENERIC_PLACEHOLDERS: &[&str] = &[
    "n/a",
    "na",
    "none",
    "null",
    "nil",
    "unknown",
    "-",
    "0",
    "test",
    "xxx",
    "undefined",
];

impl LinkConfig {
    /// Parses and validates a TOML configuration; omitted parts keep their defaults, down to
    /// the fields of a `[rules.<kind>]` table, which change only the fields they give of the
    /// kind's rule (its default rule, or a custom kind's).
    ///
    /// # Errors
    /// [`Error::Config`] naming the problem.
    pub fn from_toml_str(s: &str) -> Result<Self> {
        /// A `[rules.<kind>]` table: the fields given.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RuleTable {
            link: Option<LinkMode>,
            strength: Option<f64>,
            cap: Option<Cap>,
            window_hours: Option<f64>,
            min_accounts: Option<u32>,
            with: Option<Vec<String>>,
            placeholders: Option<Vec<String>>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Partial {
            #[serde(default)]
            rules: BTreeMap<String, RuleTable>,
            #[serde(default)]
            hubs: HubConfig,
            #[serde(default)]
            rings: RingConfig,
            #[serde(default)]
            scores: ScoreConfig,
            #[serde(default)]
            dedupe: DedupeConfig,
        }
        let p: Partial = toml::from_str(s).map_err(|e| Error::Config(e.to_string()))?;
        let mut cfg = LinkConfig::default();
        for (kind, t) in p.rules {
            let mut r = cfg.rule(&kind);
            r.link = t.link.unwrap_or(r.link);
            r.strength = t.strength.unwrap_or(r.strength);
            r.cap = t.cap.unwrap_or(r.cap);
            r.window_hours = t.window_hours.or(r.window_hours);
            r.min_accounts = t.min_accounts.unwrap_or(r.min_accounts);
            let gives_with = t.with.is_some();
            r.with = t.with.unwrap_or(r.with);
            r.placeholders = t.placeholders.unwrap_or(r.placeholders);
            // A setting its link mode does not use would silently do nothing.
            let window_only =
                (t.window_hours.map(|_| "window_hours")).or(t.min_accounts.map(|_| "min_accounts"));
            let unused = match r.link {
                LinkMode::Window => gives_with.then_some("with"),
                LinkMode::With => window_only,
                LinkMode::Alone | LinkMode::Never => window_only.or(gives_with.then_some("with")),
            };
            if let Some(field) = unused {
                return Err(Error::Config(format!(
                    "rules.{kind}.{field} does not apply to link = \"{}\"",
                    format!("{:?}", r.link).to_lowercase()
                )));
            }
            cfg.rules.insert(kind, r);
        }
        cfg.hubs = p.hubs;
        cfg.rings = p.rings;
        cfg.scores = p.scores;
        cfg.dedupe = p.dedupe;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the rules are consistent.
    ///
    /// # Errors
    /// [`Error::Config`] naming the kind and the problem.
    pub fn validate(&self) -> Result<()> {
        for (kind, r) in &self.rules {
            if !(0.0..=1.0).contains(&r.strength) {
                return Err(Error::Config(format!(
                    "rules.{kind}.strength must be within 0..=1"
                )));
            }
            match r.link {
                LinkMode::Window => match r.window_hours {
                    Some(h) if h > 0.0 && h.is_finite() => {}
                    _ => {
                        return Err(Error::Config(format!(
                            "rules.{kind}: link = \"window\" needs window_hours > 0"
                        )));
                    }
                },
                LinkMode::With => {
                    if r.with.is_empty() {
                        return Err(Error::Config(format!(
                            "rules.{kind}: link = \"with\" needs a non-empty `with` list"
                        )));
                    }
                    if r.with.iter().any(|w| w == kind) {
                        return Err(Error::Config(format!(
                            "rules.{kind}: a kind cannot require itself"
                        )));
                    }
                }
                LinkMode::Alone | LinkMode::Never => {}
            }
            if r.link == LinkMode::Window && r.min_accounts < 2 {
                return Err(Error::Config(format!(
                    "rules.{kind}.min_accounts must be at least 2 (a link joins two accounts)"
                )));
            }
            if let (LinkMode::Window, Cap::Fixed(c)) = (&r.link, &r.cap)
                && r.min_accounts > *c
            {
                return Err(Error::Config(format!(
                    "rules.{kind}: min_accounts ({}) above the cap ({c}) links nothing; use link = \"never\"",
                    r.min_accounts
                )));
            }
            if let Cap::Fixed(0 | 1) = r.cap {
                return Err(Error::Config(format!(
                    "rules.{kind}.cap must be at least 2 (a cap of 1 links nothing; use link = \"never\")"
                )));
            }
        }
        if self.hubs.floor < 2 || self.hubs.ceiling < self.hubs.floor {
            return Err(Error::Config("hubs: need 2 <= floor <= ceiling".into()));
        }
        if !(self.hubs.multiplier > 0.0 && self.hubs.multiplier.is_finite()) {
            return Err(Error::Config("hubs.multiplier must be > 0".into()));
        }
        if !(0.0..=1.0).contains(&self.scores.proximity_decay) {
            return Err(Error::Config(
                "scores.proximity_decay must be within 0..=1".into(),
            ));
        }
        self.dedupe.validate()?;
        if !(0.0..=100.0).contains(&self.rings.threshold) {
            return Err(Error::Config(
                "rings.threshold must be within 0..=100".into(),
            ));
        }
        Ok(())
    }

    /// The rule for a kind: configured, built in, or the custom-kind default.
    pub fn rule(&self, kind: &str) -> KindRule {
        self.rules
            .get(kind)
            .cloned()
            .unwrap_or_else(|| KindRule::new(LinkMode::Alone, 0.5))
    }

    /// Whether `value` (normalised) is a placeholder for `kind`: on a list, or a run of one
    /// repeated character or a straight digit sequence (`0000000000`, `123456789`), which is
    /// what people type into a field they must fill. ID numbers are judged without their
    /// country prefix.
    pub fn is_placeholder(&self, kind: &str, value: &str) -> bool {
        if GENERIC_PLACEHOLDERS.contains(&value) {
            return true;
        }
        if is_typed_filler_of(kind, value) {
            return true;
        }
        if BUILT_IN_PLACEHOLDERS
            .iter()
            .any(|(k, vs)| *k == kind && vs.contains(&value))
        {
            return true;
        }
        self.rules
            .get(kind)
            .is_some_and(|r| r.placeholders.iter().any(|p| p == value))
    }

    /// Every listed placeholder value of a kind (built-in, generic and configured).
    pub fn placeholders(&self, kind: &str) -> Vec<String> {
        let mut out: Vec<String> = GENERIC_PLACEHOLDERS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for (k, vs) in BUILT_IN_PLACEHOLDERS {
            if *k == kind {
                out.extend(vs.iter().map(|s| (*s).to_owned()));
            }
        }
        if let Some(r) = self.rules.get(kind) {
            out.extend(r.placeholders.iter().cloned());
        }
        out
    }
}

/// Whether `value` of `kind` is a typed filler ([`is_typed_filler`]): only ID numbers
/// (judged without their country prefix) and phone numbers (without the `+`) can be.
pub(crate) fn is_typed_filler_of(kind: &str, value: &str) -> bool {
    let core = match kind {
        kinds::GOV_ID => value.split_once(':').map_or(value, |(_, n)| n),
        kinds::PHONE => value.trim_start_matches('+'),
        _ => "",
    };
    !core.is_empty() && is_typed_filler(core)
}

/// A run of one repeated character, or a straight ascending/descending digit sequence, at
/// least 6 long (phone numbers: the national part after a 1–3 digit country code also counts).
fn is_typed_filler(s: &str) -> bool {
    let b = s.as_bytes();
    // Every candidate ends with the last six bytes, and six bytes inside a run or a straight
    // sequence are one too: most values (a real phone or ID number) end this test here.
    let Some(tail) = b.len().checked_sub(6).and_then(|at| b.get(at..)) else {
        return false;
    };
    is_run(tail) && (is_run(b) || (1..=3).any(|cc| b.len() > cc + 6 && is_run(&b[cc..])))
}

/// At least 6 bytes, all the same, or digits each one above (`9` then `0` too) or one below
/// the one before.
fn is_run(b: &[u8]) -> bool {
    b.len() >= 6
        && (b.iter().all(|c| *c == b[0])
            || (b.iter().all(u8::is_ascii_digit)
                && (b
                    .windows(2)
                    .all(|w| w[1] == w[0] + 1 || (w[0] == b'9' && w[1] == b'0'))
                    || b.windows(2).all(|w| w[1] + 1 == w[0]))))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The six-byte tail test only answers sooner: the result is the whole test's.
        #[test]
        fn typed_filler_tail_test_changes_no_answer(s in "[0-9a+]{0,14}|[0-9]{0,3}(123456789|987654321|5555555|aaaaaaa)[0-9]{0,2}") {
            let b = s.as_bytes();
            let whole = is_run(b) || (1..=3).any(|cc| b.len() > cc + 6 && is_run(&b[cc..]));
            proptest::prop_assert_eq!(is_typed_filler(&s), whole);
        }
    }

    #[test]
    fn empty_toml_is_the_default() {
        assert_eq!(
            LinkConfig::from_toml_str("").unwrap(),
            LinkConfig::default()
        );
    }

    #[test]
    fn partial_toml_overrides_one_kind() {
        let cfg = LinkConfig::from_toml_str(
            "[rules.ip]\nlink = \"window\"\nwindow_hours = 6\ncap = 40\n[rings]\nthreshold = 60\n",
        )
        .unwrap();
        assert_eq!(cfg.rule("ip").window_hours, Some(6.0));
        assert_eq!(cfg.rule("ip").cap, Cap::Fixed(40));
        assert_eq!(cfg.rings.threshold, 60.0);
        // The fields a rule table leaves out keep the kind's defaults.
        let ip = LinkConfig::default().rule("ip");
        assert_eq!(cfg.rule("ip").strength, ip.strength);
        let cfg = LinkConfig::from_toml_str("[rules.name_dob]\nwindow_hours = 24\n").unwrap();
        let mut name_dob = LinkConfig::default().rule("name_dob");
        assert_eq!(name_dob.min_accounts, 3);
        name_dob.window_hours = Some(24.0);
        assert_eq!(cfg.rule("name_dob"), name_dob);
        let cfg = LinkConfig::from_toml_str("[rules.name_dob]\nmin_accounts = 2\n").unwrap();
        assert_eq!(cfg.rule("name_dob").min_accounts, 2);
        assert_eq!(cfg.rule("name_dob").window_hours, Some(72.0));
        assert_eq!(cfg.rule("email"), LinkConfig::default().rule("email"));
        assert_eq!(cfg.rule("loyalty_id").link, LinkMode::Alone);
    }

    #[test]
    fn invalid_configs_say_what_is_wrong() {
        // A custom kind starts from `alone`, without a window or required kinds.
        let e = LinkConfig::from_toml_str("[rules.loyalty_id]\nlink = \"window\"\n").unwrap_err();
        assert!(e.to_string().contains("window_hours"), "{e}");
        let e = LinkConfig::from_toml_str("[rules.loyalty_id]\nlink = \"with\"\n").unwrap_err();
        assert!(e.to_string().contains("with"), "{e}");
        let e = LinkConfig::from_toml_str("[rules.address]\nwith = []\n").unwrap_err();
        assert!(e.to_string().contains("with"), "{e}");
        for (toml, says) in [
            (
                "[rules.email]\nmin_accounts = 3\n",
                "rules.email.min_accounts does not apply",
            ),
            (
                "[rules.email]\nwindow_hours = 3\n",
                "rules.email.window_hours does not apply",
            ),
            (
                "[rules.ip]\nwith = [\"email\"]\n",
                "rules.ip.with does not apply",
            ),
            (
                "[rules.ip]\nmin_accounts = 1\n",
                "min_accounts must be at least 2",
            ),
            ("[rules.ip]\nmin_accounts = 9\ncap = 8\n", "above the cap"),
        ] {
            let e = LinkConfig::from_toml_str(toml).unwrap_err().to_string();
            assert!(e.contains(says), "{toml:?}: {e}");
        }
        let e =
            LinkConfig::from_toml_str("[rules.email]\nlink = \"alone\"\ncap = 1\n").unwrap_err();
        assert!(e.to_string().contains("cap"), "{e}");
        let e = LinkConfig::from_toml_str("[rulez]\n").unwrap_err();
        assert!(e.to_string().contains("rulez"), "{e}");
        let e = LinkConfig::from_toml_str("[rules.email]\nlink = \"sometimes\"\n").unwrap_err();
        assert!(
            e.to_string().contains("sometimes") || e.to_string().contains("variant"),
            "{e}"
        );
    }

    #[test]
    fn placeholders_cover_builtin_generic_and_configured() {
        let cfg = LinkConfig::from_toml_str(
            "[rules.email]\nlink = \"alone\"\nstrength = 0.8\nplaceholders = [\"fake@corp.com\"]\n",
        )
        .unwrap();
        assert!(cfg.is_placeholder("email", "test@test.com"));
        assert!(cfg.is_placeholder("email", "fake@corp.com"));
        assert!(cfg.is_placeholder("device_id", "n/a"));
        assert!(!cfg.is_placeholder("email", "jane@corp.com"));
        assert!(cfg.is_placeholder("gov_id", "GB:000000000"));
        assert!(cfg.is_placeholder("gov_id", "CA:123456789"));
        assert!(cfg.is_placeholder("phone", "+440000000000"));
        assert!(cfg.is_placeholder("phone", "+11234567890"));
        assert!(!cfg.is_placeholder("phone", "+14155552671"));
        assert!(!cfg.is_placeholder("gov_id", "US:123450000"));
    }
}
