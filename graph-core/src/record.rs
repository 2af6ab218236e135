//! The canonical record: the fields of the data contract, as raw strings, and what
//! normalisation makes of them.
//!
//! Every path into the graph (batch ingest, the live API) builds a [`RawRecord`] and calls
//! [`crate::normalize_record`]; nothing else turns input into graph attributes.

use std::borrow::Cow;
use std::fmt;

/// Which kind of entity a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityType {
    /// A customer account.
    Account,
    /// One verification inquiry, usually tied to an account.
    Inquiry,
}

impl EntityType {
    /// The name used in files and APIs: `account` or `inquiry`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Account => "account",
            EntityType::Inquiry => "inquiry",
        }
    }

    /// Parses `account` / `inquiry`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "account" => Some(EntityType::Account),
            "inquiry" => Some(EntityType::Inquiry),
            _ => None,
        }
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! fields {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// A canonical input column of the data contract (DESIGN.md, "Data contract").
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Field { $($variant),* }

        impl Field {
            /// Every field, in column order.
            pub const ALL: &'static [Field] = &[$(Field::$variant),*];
            /// Number of fields.
            pub const COUNT: usize = Field::ALL.len();

            /// The canonical column name.
            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name),* }
            }

            /// Looks a canonical column name up.
            pub fn from_name(name: &str) -> Option<Field> {
                match name { $($name => Some(Field::$variant),)* _ => None }
            }
        }
    };
}

fields! {
    AccountId => "account_id",
    InquiryId => "inquiry_id",
    ReferenceId => "reference_id",
    CreatedAt => "created_at",
    Status => "status",
    NameFirst => "name_first",
    NameMiddle => "name_middle",
    NameLast => "name_last",
    Name => "name",
    Birthdate => "birthdate",
    Email => "email",
    Phone => "phone",
    AddressStreet => "address_street",
    AddressCity => "address_city",
    AddressSubdivision => "address_subdivision",
    AddressPostalCode => "address_postal_code",
    AddressCountry => "address_country",
    GovIdNumber => "gov_id_number",
    GovIdCountry => "gov_id_country",
    CardFingerprint => "card_fingerprint",
    BankAccount => "bank_account",
    DeviceId => "device_id",
    BrowserFingerprint => "browser_fingerprint",
    IpAddress => "ip_address",
    UserAgent => "user_agent",
    Label => "label",
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One input row after column mapping: raw strings, borrowed from whatever holds them.
///
/// Empty or whitespace-only values count as absent.
#[derive(Debug, Clone)]
pub struct RawRecord<'a> {
    /// Account or inquiry.
    pub entity_type: EntityType,
    values: [Option<&'a str>; Field::COUNT],
    /// Custom kinds declared by a mapping file: `(kind name, raw value)`.
    pub custom: Vec<(&'a str, &'a str)>,
}

impl<'a> RawRecord<'a> {
    /// An empty record of the given type.
    pub fn new(entity_type: EntityType) -> Self {
        RawRecord {
            entity_type,
            values: [None; Field::COUNT],
            custom: Vec::new(),
        }
    }

    /// Sets a field; blank values are stored as absent.
    pub fn set(&mut self, field: Field, value: Option<&'a str>) -> &mut Self {
        self.values[field as usize] = value.filter(|v| !is_blank(v));
        self
    }

    /// Builder form of [`RawRecord::set`].
    pub fn with(mut self, field: Field, value: &'a str) -> Self {
        self.set(field, Some(value));
        self
    }

    /// The raw value of a field, if present and not blank.
    pub fn get(&self, field: Field) -> Option<&'a str> {
        self.values[field as usize]
    }

    /// The record's own id: `account_id` for accounts, `inquiry_id` for inquiries.
    pub fn id(&self) -> Option<&'a str> {
        match self.entity_type {
            EntityType::Account => self.get(Field::AccountId),
            EntityType::Inquiry => self.get(Field::InquiryId),
        }
    }
}

/// A fraud label carried by input or set by a resolved case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// Confirmed fraud.
    Fraud,
    /// Confirmed legitimate.
    Legit,
}

impl Label {
    /// `fraud` or `legit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Fraud => "fraud",
            Label::Legit => "legit",
        }
    }
}

/// Built-in attribute kinds. Custom kinds (from a mapping file) use their own names.
///
/// Kinds marked *auxiliary* never link on their own; link rules may combine them with another
/// kind (address together with last name) and duplicate detection compares them.
pub mod kinds {
    /// Normalised email address.
    pub const EMAIL: &str = "email";
    /// Phone number in E.164.
    pub const PHONE: &str = "phone";
    /// Government ID: `COUNTRY:NUMBER`.
    pub const GOV_ID: &str = "gov_id";
    /// Full name and birthdate: `first last|YYYY-MM-DD`.
    pub const NAME_DOB: &str = "name_dob";
    /// Normalised postal address: `street|POSTAL` when a postal code is known, else
    /// `street|city` (see `normalize::address`).
    pub const ADDRESS: &str = "address";
    /// Device id.
    pub const DEVICE_ID: &str = "device_id";
    /// Browser fingerprint.
    pub const BROWSER_FINGERPRINT: &str = "browser_fingerprint";
    /// IP address in canonical form.
    pub const IP: &str = "ip";
    /// Payment card fingerprint.
    pub const CARD_FINGERPRINT: &str = "card_fingerprint";
    /// Bank account.
    pub const BANK_ACCOUNT: &str = "bank_account";
    /// The customer's own reference id for the person.
    pub const REFERENCE_ID: &str = "reference_id";
    /// Auxiliary: normalised last name.
    pub const NAME_LAST: &str = "name_last";
    /// Auxiliary: normalised full name (`first middle last`).
    pub const NAME: &str = "name";
    /// Auxiliary: birthdate `YYYY-MM-DD`.
    pub const BIRTHDATE: &str = "birthdate";

    /// Every built-in kind.
    pub const BUILT_IN: &[&str] = &[
        EMAIL,
        PHONE,
        GOV_ID,
        NAME_DOB,
        ADDRESS,
        DEVICE_ID,
        BROWSER_FINGERPRINT,
        IP,
        CARD_FINGERPRINT,
        BANK_ACCOUNT,
        REFERENCE_ID,
        NAME_LAST,
        NAME,
        BIRTHDATE,
    ];
}

/// Whether `v` is empty or only whitespace (`v.trim().is_empty()`), deciding from the first
/// byte alone when it is an ASCII non-space: ingest asks this of every raw value, and most
/// start with a letter or digit.
pub(crate) fn is_blank(v: &str) -> bool {
    match v.as_bytes().first() {
        Some(&b) if b.is_ascii() && !char::from(b).is_whitespace() => false,
        _ => v.trim().is_empty(),
    }
}

/// One normalised property of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attribute {
    /// Kind name (see [`kinds`]): borrowed for the built-in kinds, so normalising a record
    /// allocates no kind names (ingest makes tens of millions of attributes).
    pub kind: Cow<'static, str>,
    /// Normalised value; equal values mean the same property.
    pub value: String,
}

/// The entity part of a normalised record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// Account or inquiry.
    pub entity_type: EntityType,
    /// `account_id` or `inquiry_id`, trimmed.
    pub id: String,
    /// For inquiries, the account they belong to.
    pub account_id: Option<String>,
    /// Creation time, milliseconds since the Unix epoch (UTC).
    pub created_at: Option<i64>,
    /// Inquiry status, lower-cased.
    pub status: Option<String>,
    /// Fraud label from the input.
    pub label: Option<Label>,
}

/// A problem with one field: the field is left out of the graph, the row is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    /// The field that could not be used.
    pub field: Field,
    /// Stable machine code, e.g. `invalid_phone`.
    pub code: &'static str,
    /// Human sentence.
    pub message: String,
}

/// Why a whole row cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReject {
    /// Stable machine code, e.g. `missing_id`.
    pub code: &'static str,
    /// Human sentence.
    pub message: String,
}

/// A record after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// Who the record is.
    pub entity: Entity,
    /// Its properties, deduplicated, sorted by kind then value.
    pub attributes: Vec<Attribute>,
    /// Fields that were present but unusable.
    pub issues: Vec<FieldIssue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_blank_is_trim_is_empty() {
        for v in [
            "",
            " ",
            "\t",
            "\u{b}",
            "\u{c}",
            "\r\n",
            "\u{a0}",
            "\u{3000} ",
            "x",
            " x",
            "\u{b}x",
            "é",
            "\u{a0}é",
            "\u{200b}",
            "0",
            "-",
        ] {
            assert_eq!(is_blank(v), v.trim().is_empty(), "{v:?}");
        }
    }
}
