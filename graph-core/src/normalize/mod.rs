//! Normalisation of every value kind, written once and used by the batch and the live path.
//!
//! [`normalize_record`] turns a [`RawRecord`] into a [`Normalized`] record: the entity, its
//! graph attributes (`(kind, normalised value)`, see [`kinds`]) and the issues found on the
//! way. The per-value functions ([`email`], [`phone`], [`name_part`], [`address`], …) are public
//! so the API's verifications and the linker's tests use exactly the same rules.
//!
//! Principles:
//! * Equal keys for the spellings of one value that input systems produce (formatting, case,
//!   accents, provider aliases), and nothing more: merging two different people is worse than
//!   missing a link, so every rule is one a mailbox provider, numbering plan or postal system
//!   actually guarantees, or that is documented on the function.
//! * Every function is total: any `&str` (control characters, unpaired bidi marks, 10 kB of
//!   emoji) gives a value or an error code, never a panic. Values never contain control
//!   characters.
//! * Normalised values are fixed points where that makes sense (`email(email(x)) == email(x)`),
//!   so values that were normalised once (stored, exported, re-imported) keep their keys.
//! * No global state, no I/O, no clock except "today" for the birthdate range check.
//!
//! # Example
//! ```
//! use graph_core::{EntityType, Field, NormalizeOptions, RawRecord, kinds, normalize_record};
//!
//! let raw = RawRecord::new(EntityType::Account)
//!     .with(Field::AccountId, "acct-1")
//!     .with(Field::Email, "John.Doe+promo@googlemail.com")
//!     .with(Field::Phone, "(415) 555-2671");
//! let n = normalize_record(&raw, &NormalizeOptions::default()).unwrap();
//! assert!(n.attributes.iter().any(|a| a.kind == kinds::EMAIL && a.value == "johndoe@gmail.com"));
//! assert!(n.attributes.iter().any(|a| a.kind == kinds::PHONE && a.value == "+14155552671"));
//! ```

use std::borrow::Cow;

mod address;
mod cache;
mod country;
mod country_data;
mod date;
mod email;
mod ids;
mod mask;
mod name;
mod phone;
mod text;

pub use address::address;
pub use cache::{DEFAULT_CACHE_ENTRIES, NormalizeCache};
pub use country::country;
pub use date::{birthdate, timestamp_ms};
pub use email::email;
pub use ids::{bank_account, device_id, fingerprint, generic, gov_id, ip};
pub use mask::mask;
pub use name::{name_part, split_full_name};
pub use phone::phone;

use crate::record::{
    Attribute, Entity, EntityType, Field, FieldIssue, Label, Normalized, RawRecord, RowReject,
    kinds,
};

/// Raw values longer than this (in bytes) are not normalised: no real email, name or id is
/// this long, and bounding the input bounds the work per row.
pub const MAX_VALUE_BYTES: usize = 1024;

/// Longest accepted entity id, in characters.
pub const MAX_ID_CHARS: usize = 256;

/// Options for [`normalize_record`], resolved from configuration and the mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// ISO 3166-1 alpha-2 region used to parse phone numbers written without a country code
    /// when the record itself names no country (`address_country`, then `gov_id_country`).
    pub default_region: String,
    /// A chrono strftime pattern (e.g. `%d/%m/%Y`) tried before the built-in birthdate forms,
    /// for sources whose order the built-in rules would guess wrong.
    pub birthdate_format: Option<String>,
    /// A chrono strftime pattern tried before the built-in timestamp forms.
    pub timestamp_format: Option<String>,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions {
            default_region: "US".to_owned(),
            birthdate_format: None,
            timestamp_format: None,
        }
    }
}

fn issue(field: Field, code: &'static str) -> FieldIssue {
    let what = match code {
        "too_long" => "is longer than 1024 bytes and was not used",
        "invalid_email" => "is not a usable email address",
        "invalid_phone" => "is not a valid phone number for its country",
        "invalid_birthdate" => {
            "is not a birthdate between 1900-01-01 and today in a recognised format"
        }
        "invalid_timestamp" => "is not a recognised timestamp",
        "invalid_gov_id" => "has no letters or digits, or more than 32",
        "invalid_ip" => "is not an IPv4 or IPv6 address",
        "invalid_name" => "has no letters or digits",
        "invalid_address" => "has no usable street words",
        "invalid_country" => "is not a recognised country name or ISO code",
        "invalid_label" => "is not `fraud` or `legit`",
        "invalid_account_id" => "is longer than 256 characters or contains control characters",
        "invalid_custom_kind" => {
            "names a custom kind that is not [a-z0-9_]{1,64} or is a built-in kind"
        }
        _ => "is empty after normalisation",
    };
    FieldIssue {
        field,
        code,
        message: format!("{field} {what}"),
    }
}

/// Trims an id and checks it: at most [`MAX_ID_CHARS`] characters, no control characters.
fn check_id(raw: &str) -> Option<&str> {
    let id = raw.trim();
    // Byte tests first: ids are short and ASCII, where bytes are characters.
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_CHARS * 4
        && (id.len() <= MAX_ID_CHARS || id.chars().count() <= MAX_ID_CHARS)
        && if id.is_ascii() {
            !id.bytes().any(|b| b.is_ascii_control())
        } else {
            !id.chars().any(char::is_control)
        };
    ok.then_some(id)
}

/// Parses an input label. Only the words `fraud` and `legit` (any case) are accepted.
/// Boolean spellings (`1`/`0`, `true`/`false`) are deliberately rejected: in most exports an
/// `is_fraud = 0` means "not known to be fraud", not "confirmed legitimate", and reading it as
/// `legit` would push thousands of unreviewed accounts toward low risk. A mapping file can
/// translate such a column explicitly.
fn parse_label(raw: &str) -> Option<Label> {
    let t = raw.trim();
    if t.eq_ignore_ascii_case("fraud") {
        Some(Label::Fraud)
    } else if t.eq_ignore_ascii_case("legit") {
        Some(Label::Legit)
    } else {
        None
    }
}

fn valid_custom_kind(kind: &str) -> bool {
    (1..=64).contains(&kind.len())
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !kinds::BUILT_IN.contains(&kind)
}

/// Collects attributes and issues for one record.
struct Out {
    attributes: Vec<Attribute>,
    issues: Vec<FieldIssue>,
}

impl Out {
    fn attr(&mut self, kind: Cow<'static, str>, value: String) {
        self.attributes.push(Attribute { kind, value });
    }

    /// `value`, or `None` and an issue when it is empty.
    fn non_empty(&mut self, field: Field, value: String, code: &'static str) -> Option<String> {
        if value.is_empty() {
            self.issues.push(issue(field, code));
            None
        } else {
            Some(value)
        }
    }

    fn result<T>(&mut self, field: Field, r: Result<T, &'static str>) -> Option<T> {
        r.map_err(|code| self.issues.push(issue(field, code))).ok()
    }
}

/// Normalises one record into its entity, its graph attributes and its field issues.
///
/// * **Entity**: the id (`account_id` or `inquiry_id`) trimmed; for inquiries the
///   `account_id` they belong to; `created_at` via [`timestamp_ms`]; `status` via [`generic`];
///   `label` from `fraud`/`legit` (any case; see below for why `1`/`0` are rejected).
/// * **Attributes** (kinds from [`kinds`]): `email`, `phone` (region from `address_country`,
///   else `gov_id_country`, else [`NormalizeOptions::default_region`]), `gov_id` (country
///   from `gov_id_country`, else `address_country`), `name_last`, `name`
///   (`first middle last`), `birthdate`, `name_dob` (`first last|YYYY-MM-DD`, only when all
///   three are usable), `address`, `device_id`, `browser_fingerprint`, `ip`,
///   `card_fingerprint`, `bank_account`, `reference_id`, and custom kinds via [`generic`].
///   Name parts come from `name_first`/`name_middle`/`name_last`; only when neither first nor
///   last is given is `name` split with [`split_full_name`].
/// * Attributes are deduplicated and sorted by `(kind, value)`.
/// * A present but unusable field becomes a [`FieldIssue`] (code such as `invalid_phone`,
///   `too_long` for raw values over [`MAX_VALUE_BYTES`]) and is left out; the row is kept.
///   Issues are ordered by field. `user_agent` is not an attribute and is not checked.
///   Issues about custom kinds have no column of their own in [`Field`]; they are reported on
///   `reference_id` with the custom kind named in the message.
///
/// Labels: only `fraud` and `legit` are read. `1`/`0`/`true`/`false` give an `invalid_label`
/// issue, because an `is_fraud = 0` column usually means "not known to be fraud" rather than
/// "confirmed legitimate"; a mapping file can translate such a column explicitly.
///
/// Cost: linear in the input size; a handful of small allocations per attribute. Phone
/// parsing dominates when a phone is present.
///
/// # Errors
/// A [`RowReject`] with code `missing_id` when the record has no id, or `invalid_id` when the
/// id is longer than 256 characters or contains control characters.
pub fn normalize_record(
    raw: &RawRecord<'_>,
    opts: &NormalizeOptions,
) -> Result<Normalized, RowReject> {
    normalize_record_cached(raw, opts, &mut NormalizeCache::new(0))
}

/// [`normalize_record`] with a memo of recently normalised raw values, for callers that
/// normalise many records (ingest): the result is always the same as `normalize_record`'s,
/// and a name part or country seen recently is looked up instead of normalised again. See
/// [`NormalizeCache`].
///
/// # Errors
/// As [`normalize_record`].
pub fn normalize_record_cached(
    raw: &RawRecord<'_>,
    opts: &NormalizeOptions,
    cache: &mut NormalizeCache,
) -> Result<Normalized, RowReject> {
    let id_field = match raw.entity_type {
        EntityType::Account => Field::AccountId,
        EntityType::Inquiry => Field::InquiryId,
    };
    let raw_id = raw.id().ok_or_else(|| RowReject {
        code: "missing_id",
        message: format!("the record has no {id_field}"),
    })?;
    let id = check_id(raw_id).ok_or_else(|| RowReject {
        code: "invalid_id",
        message: format!(
            "{id_field} is longer than {MAX_ID_CHARS} characters or contains control characters"
        ),
    })?;

    let mut out = Out {
        attributes: Vec::with_capacity(16),
        issues: Vec::new(),
    };

    // Read every used field once, so the length check reports each field at most once.
    let mut values: [Option<&str>; Field::COUNT] = [None; Field::COUNT];
    for &f in Field::ALL {
        let skip = matches!(f, Field::AccountId | Field::InquiryId | Field::UserAgent)
            && !(f == Field::AccountId && raw.entity_type == EntityType::Inquiry);
        if skip {
            continue;
        }
        if let Some(v) = raw.get(f) {
            if v.len() > MAX_VALUE_BYTES {
                out.issues.push(issue(f, "too_long"));
            } else {
                values[f as usize] = Some(v);
            }
        }
    }
    let get = |f: Field| values[f as usize];

    // Entity.
    let account_id = match raw.entity_type {
        EntityType::Inquiry => get(Field::AccountId).and_then(|v| {
            let id = check_id(v).map(str::to_owned);
            if id.is_none() {
                out.issues
                    .push(issue(Field::AccountId, "invalid_account_id"));
            }
            id
        }),
        EntityType::Account => None,
    };
    let created_at = get(Field::CreatedAt).and_then(|v| {
        out.result(
            Field::CreatedAt,
            timestamp_ms(v, opts.timestamp_format.as_deref()),
        )
    });
    let status = get(Field::Status).and_then(|v| {
        let s = generic(v);
        if s.is_empty() {
            out.issues.push(issue(Field::Status, "invalid_status"));
            None
        } else {
            Some(s)
        }
    });
    let label = get(Field::Label).and_then(|v| {
        let l = parse_label(v);
        if l.is_none() {
            out.issues.push(issue(Field::Label, "invalid_label"));
        }
        l
    });

    // Countries, used by phone and gov_id.
    let mut resolve_country = |f: Field| {
        get(f).and_then(|v| {
            let c = cache.country(v);
            if c.is_none() {
                out.issues.push(issue(f, "invalid_country"));
            }
            c
        })
    };
    let address_country = resolve_country(Field::AddressCountry);
    let gov_id_country = resolve_country(Field::GovIdCountry);

    // Values are computed in field order (the order of their issues) and added in kind
    // order, so the sort below finds them in order and costs one comparison per attribute.
    let email = get(Field::Email).and_then(|v| out.result(Field::Email, email(v)));
    let phone = get(Field::Phone).and_then(|v| {
        let region = address_country
            .as_deref()
            .or(gov_id_country.as_deref())
            .unwrap_or(&opts.default_region);
        out.result(Field::Phone, phone(v, region))
    });
    let gov_id = get(Field::GovIdNumber).and_then(|v| {
        let cc = gov_id_country.as_deref().or(address_country.as_deref());
        out.result(Field::GovIdNumber, gov_id(v, cc))
    });

    let names = names_and_birthdate(&values, opts, cache, &mut out);

    let address = get(Field::AddressStreet).and_then(|street| {
        let key = address(
            Some(street),
            get(Field::AddressCity),
            get(Field::AddressSubdivision),
            get(Field::AddressPostalCode),
            address_country.as_deref(),
        );
        if key.is_none() {
            out.issues
                .push(issue(Field::AddressStreet, "invalid_address"));
        }
        key
    });
    let device = get(Field::DeviceId)
        .and_then(|v| out.non_empty(Field::DeviceId, device_id(v), "invalid_device_id"));
    let browser = get(Field::BrowserFingerprint).and_then(|v| {
        out.non_empty(
            Field::BrowserFingerprint,
            fingerprint(v),
            "invalid_fingerprint",
        )
    });
    let card = get(Field::CardFingerprint).and_then(|v| {
        out.non_empty(
            Field::CardFingerprint,
            fingerprint(v),
            "invalid_fingerprint",
        )
    });
    let ip = get(Field::IpAddress).and_then(|v| out.result(Field::IpAddress, ip(v)));
    let bank = get(Field::BankAccount)
        .and_then(|v| out.non_empty(Field::BankAccount, bank_account(v), "invalid_bank_account"));
    let reference = get(Field::ReferenceId)
        .and_then(|v| out.non_empty(Field::ReferenceId, generic(v), "invalid_reference_id"));
    for (kind, value) in [
        (kinds::ADDRESS, address),
        (kinds::BANK_ACCOUNT, bank),
        (kinds::BIRTHDATE, names.birthdate),
        (kinds::BROWSER_FINGERPRINT, browser),
        (kinds::CARD_FINGERPRINT, card),
        (kinds::DEVICE_ID, device),
        (kinds::EMAIL, email),
        (kinds::GOV_ID, gov_id),
        (kinds::IP, ip),
        (kinds::NAME, names.name),
        (kinds::NAME_DOB, names.name_dob),
        (kinds::NAME_LAST, names.name_last),
        (kinds::PHONE, phone),
        (kinds::REFERENCE_ID, reference),
    ] {
        if let Some(value) = value {
            out.attr(Cow::Borrowed(kind), value);
        }
    }
    for &(kind, v) in &raw.custom {
        // Blank custom values are absent, as blank fields are (RawRecord only filters fields).
        if v.trim().is_empty() {
            continue;
        }
        let field = Field::ReferenceId;
        if !valid_custom_kind(kind) {
            let mut i = issue(field, "invalid_custom_kind");
            i.message =
                format!("custom kind {kind:?} is not [a-z0-9_]{{1,64}} or is a built-in kind");
            out.issues.push(i);
        } else if v.len() > MAX_VALUE_BYTES {
            let mut i = issue(field, "too_long");
            i.message =
                format!("custom kind {kind} value is longer than 1024 bytes and was not used");
            out.issues.push(i);
        } else {
            let g = generic(v);
            if g.is_empty() {
                let mut i = issue(field, "invalid_custom");
                i.message = format!("custom kind {kind} value is empty after normalisation");
                out.issues.push(i);
            } else {
                out.attr(Cow::Owned(kind.to_owned()), g);
            }
        }
    }

    let Out {
        mut attributes,
        mut issues,
    } = out;
    attributes.sort_unstable();
    attributes.dedup();
    issues.sort_by_key(|i| i.field);
    Ok(Normalized {
        entity: Entity {
            entity_type: raw.entity_type,
            id: id.to_owned(),
            account_id,
            created_at,
            status,
            label,
        },
        attributes,
        issues,
    })
}

/// The attributes built from the name parts and the birthdate.
struct Names {
    name: Option<String>,
    name_dob: Option<String>,
    name_last: Option<String>,
    birthdate: Option<String>,
}

/// Name parts, the birthdate, and the attributes built from them (their issues go to `out`).
fn names_and_birthdate(
    values: &[Option<&str>; Field::COUNT],
    opts: &NormalizeOptions,
    cache: &mut NormalizeCache,
    out: &mut Out,
) -> Names {
    let get = |f: Field| values[f as usize];
    let mut part = |v: Option<&str>, field: Field, report: bool, out: &mut Out| -> Option<String> {
        let n = cache.name_part(v?);
        if n.is_empty() {
            if report {
                out.issues.push(issue(field, "invalid_name"));
            }
            None
        } else {
            Some(n)
        }
    };
    let (first_col, last_col) = (get(Field::NameFirst), get(Field::NameLast));
    let middle = part(get(Field::NameMiddle), Field::NameMiddle, true, out);
    let (first, middle, last) = match get(Field::Name) {
        Some(full) if first_col.is_none() && last_col.is_none() => {
            let (f, m, l) = split_full_name(full);
            let first = part(f.as_deref(), Field::Name, false, out);
            let middle = middle.or_else(|| part(m.as_deref(), Field::Name, false, out));
            let last = part(l.as_deref(), Field::Name, false, out);
            if first.is_none() && middle.is_none() && last.is_none() {
                out.issues.push(issue(Field::Name, "invalid_name"));
            }
            (first, middle, last)
        }
        _ => (
            part(first_col, Field::NameFirst, true, out),
            middle,
            part(last_col, Field::NameLast, true, out),
        ),
    };
    let dob = get(Field::Birthdate).and_then(|v| {
        out.result(
            Field::Birthdate,
            birthdate(v, opts.birthdate_format.as_deref()),
        )
    });

    let mut full = String::new();
    for p in [&first, &middle, &last].into_iter().flatten() {
        if !full.is_empty() {
            full.push(' ');
        }
        full.push_str(p);
    }
    let name_dob = match (&first, &last, &dob) {
        (Some(f), Some(l), Some(d)) => {
            let mut s = String::with_capacity(f.len() + l.len() + d.len() + 2);
            s.push_str(f);
            s.push(' ');
            s.push_str(l);
            s.push('|');
            s.push_str(d);
            Some(s)
        }
        _ => None,
    };
    Names {
        name: (!full.is_empty()).then_some(full),
        name_dob,
        name_last: last,
        birthdate: dob,
    }
}

#[cfg(test)]
mod tests;
