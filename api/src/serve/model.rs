//! Request and response bodies (snake_case JSON), with their OpenAPI schemas.

use std::collections::BTreeMap;

use graph_core::{EntityType, Field, Reason};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An account as sent by the caller: the data contract's account fields, all optional strings
/// (`null` clears a field on update). The id is generated when absent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    /// `acct_…`; generated when absent.
    pub id: Option<String>,
    pub reference_id: Option<String>,
    /// RFC 3339 or a date; the time of the request when absent.
    pub created_at: Option<String>,
    pub name_first: Option<String>,
    pub name_middle: Option<String>,
    pub name_last: Option<String>,
    /// A full name, used when `name_first` and `name_last` are absent.
    pub name: Option<String>,
    pub birthdate: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address_street: Option<String>,
    pub address_city: Option<String>,
    pub address_subdivision: Option<String>,
    pub address_postal_code: Option<String>,
    pub address_country: Option<String>,
    pub gov_id_number: Option<String>,
    pub gov_id_country: Option<String>,
    pub card_fingerprint: Option<String>,
    pub bank_account: Option<String>,
    pub device_id: Option<String>,
    pub ip_address: Option<String>,
    /// `fraud` or `legit`.
    pub label: Option<String>,
}

/// An inquiry as sent by the caller: the data contract's inquiry fields and session signals.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InquiryInput {
    /// `inq_…`; generated when absent.
    pub id: Option<String>,
    /// The account (`acct_…`) it belongs to.
    pub account_id: Option<String>,
    pub created_at: Option<String>,
    pub status: Option<String>,
    pub reference_id: Option<String>,
    pub name_first: Option<String>,
    pub name_middle: Option<String>,
    pub name_last: Option<String>,
    pub name: Option<String>,
    pub birthdate: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address_street: Option<String>,
    pub address_city: Option<String>,
    pub address_subdivision: Option<String>,
    pub address_postal_code: Option<String>,
    pub address_country: Option<String>,
    pub gov_id_number: Option<String>,
    pub gov_id_country: Option<String>,
    pub card_fingerprint: Option<String>,
    pub bank_account: Option<String>,
    pub ip_address: Option<String>,
    pub device_id: Option<String>,
    pub browser_fingerprint: Option<String>,
    pub user_agent: Option<String>,
    pub label: Option<String>,
}

/// Fields of an input as `(name, value)`; `None` values are explicit nulls or absent.
pub fn input_fields<T: Serialize>(input: &T) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(input) {
        for (k, v) in m {
            let v = match v {
                serde_json::Value::String(s) => Some(s),
                _ => None,
            };
            out.insert(k, v);
        }
    }
    out
}

/// Which fields carry PII, and the kind their masked form follows.
pub fn pii_kind(field: &str) -> Option<&'static str> {
    let f = Field::from_name(field)?;
    Some(match f {
        Field::Email => "email",
        Field::Phone => "phone",
        Field::NameFirst | Field::NameMiddle | Field::NameLast | Field::Name => "name",
        Field::Birthdate => "birthdate",
        Field::AddressStreet | Field::AddressCity | Field::AddressPostalCode => "address",
        Field::GovIdNumber => "gov_id",
        Field::CardFingerprint => "card_fingerprint",
        Field::BankAccount => "bank_account",
        Field::DeviceId => "device_id",
        Field::BrowserFingerprint => "browser_fingerprint",
        Field::IpAddress => "ip",
        Field::ReferenceId => "reference_id",
        Field::UserAgent => "user_agent",
        Field::AccountId
        | Field::InquiryId
        | Field::CreatedAt
        | Field::Status
        | Field::AddressSubdivision
        | Field::AddressCountry
        | Field::GovIdCountry
        | Field::Label => return None,
    })
}

/// A field the record could not use (it is stored, but left out of the graph).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Warning {
    /// The field.
    pub field: String,
    /// Stable code, e.g. `invalid_phone`.
    pub code: String,
    /// Sentence.
    pub message: String,
}

/// One reason behind a score.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonOut {
    /// Stable code, e.g. `shared_strong_property`.
    pub code: String,
    /// Sentence with masked evidence.
    pub message: String,
    /// Points contributed.
    pub points: f64,
}

impl From<&Reason> for ReasonOut {
    fn from(r: &Reason) -> Self {
        ReasonOut {
            code: r.code.to_owned(),
            message: r.message.clone(),
            points: (r.points * 10.0).round() / 10.0,
        }
    }
}

/// The risk of an entity.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RiskOut {
    /// `acct_…` / `inq_…` (absent for an evaluated, unsaved record without id).
    pub id: String,
    /// `account` or `inquiry`.
    pub entity_type: String,
    /// 0–100.
    pub score: f64,
    /// Reasons, largest first.
    pub reasons: Vec<ReasonOut>,
    /// Stable cluster id (`cl_…`).
    pub cluster_id: String,
    /// Entities in the cluster.
    pub cluster_size: u32,
    /// Distinct accounts in the cluster.
    pub cluster_accounts: u32,
    /// Whether the cluster is a ring.
    pub is_ring: bool,
    /// The cluster's ring score.
    pub ring_score: f64,
    /// Likely duplicate identities (of the entity's account, for an inquiry of a known
    /// account), strongest first: records claiming the same identity with a Fellegi–Sunter
    /// match probability at or above the threshold, each with a per-field explanation.
    pub duplicates: Vec<DuplicateOut>,
    /// True while the entity's cluster waits for its background rescore (a write into a
    /// very large cluster): `score`, `reasons` and the ring figures are from before that
    /// write and settle within milliseconds.
    pub score_pending: bool,
}

/// A likely duplicate identity. Never carries values: fields say only how they compare.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicateOut {
    /// The other record's id (`acct_…`, or `inq_…` for an inquiry without a known account).
    pub id: String,
    /// `account` or `inquiry`.
    pub entity_type: String,
    /// Probability that both records are the same identity (0–1).
    pub match_probability: f64,
    /// Match weight: the prior weight plus every field's weight.
    pub match_weight: f64,
    /// How each field compares, in a fixed order; the weights add up to `match_weight`
    /// together with the prior.
    pub fields: Vec<DuplicateFieldOut>,
}

/// One field of a duplicate's explanation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicateFieldOut {
    /// `first_name`, `last_name`, `birthdate`, `gov_id`, `email`, `phone` or `address`.
    pub field: String,
    /// Level the two values agree at (`exact`, `jaro_winkler>=0.92`, `transposed_day_month`,
    /// `one_edit`, `else`, `null` when a side is missing, …).
    pub level: String,
    /// `log2(m/u)` of the level.
    pub weight: f64,
}

impl From<&graph_core::DuplicateView> for DuplicateOut {
    fn from(d: &graph_core::DuplicateView) -> Self {
        DuplicateOut {
            id: d.id.clone(),
            entity_type: d.entity_type.as_str().to_owned(),
            match_probability: d.match_probability,
            match_weight: d.match_weight,
            fields: d
                .fields
                .iter()
                .map(|f| DuplicateFieldOut {
                    field: f.field.to_owned(),
                    level: f.level.to_owned(),
                    weight: f.weight,
                })
                .collect(),
        }
    }
}

/// A page of a list.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Body of `POST /v1/accounts/{id}/label`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelInput {
    /// `fraud`, `legit`, or null to clear.
    pub label: Option<String>,
}

/// Body of `POST /v1/risk/evaluate`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateInput {
    /// Either an account…
    pub account: Option<AccountInput>,
    /// …or an inquiry.
    pub inquiry: Option<InquiryInput>,
}

/// Body of `POST /v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    /// A name for people.
    pub name: Option<String>,
    /// Scopes.
    pub scopes: Vec<String>,
}

/// A graph-query template: where to start, which kinds to walk, how far.
/// String values of the form `{{name}}` are parameters filled in when the query runs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphQueryTemplate {
    /// The start entity (`acct_…` / `inq_…`), usually a parameter such as `{{entity_id}}`.
    pub start: String,
    /// Kinds to walk through (all when empty).
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Entity hops (1–4).
    pub hops: Option<u32>,
    /// Nodes per page (1–1000).
    pub node_limit: Option<u32>,
}

/// Body of `POST /v1/graph/queries`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphQueryInput {
    /// A name.
    pub name: String,
    /// The template.
    pub template: GraphQueryTemplate,
}

/// Body of `POST /v1/graph/queries/{id}/run`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunQueryInput {
    /// Parameter values.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Cursor from a previous page.
    pub cursor: Option<String>,
}

/// A node of a neighbourhood.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NodeOut {
    /// `account`, `inquiry` or `property`.
    pub node_type: String,
    /// Entity id, or property key (16 hex digits).
    pub id: String,
    /// Entity hops from the start (properties sit between hops).
    pub hop: u32,
    /// For properties: kind.
    pub kind: Option<String>,
    /// For properties: masked value.
    pub masked_value: Option<String>,
    /// For properties: distinct accounts sharing it.
    pub entity_count: Option<u32>,
    /// For properties: `linking`, `shared`, `single` or `hub` (hubs are not walked through).
    pub status: Option<String>,
    /// The node it was reached from.
    pub via: Option<String>,
}

/// A neighbourhood page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NeighbourhoodOut {
    /// Start entity.
    pub start: String,
    /// Nodes in walk order (breadth first, then by id).
    pub nodes: Vec<NodeOut>,
    /// Whether more nodes exist than this page holds.
    pub node_limit_reached: bool,
    /// Cursor for the next page.
    pub next_cursor: Option<String>,
}

/// The `entity_type` of an id prefix.
pub fn type_of_id(id: &str) -> Option<EntityType> {
    if id.starts_with("acct_") {
        Some(EntityType::Account)
    } else if id.starts_with("inq_") {
        Some(EntityType::Inquiry)
    } else {
        None
    }
}

/// The id prefix of a type.
pub fn prefix(t: EntityType) -> &'static str {
    match t {
        EntityType::Account => "acct_",
        EntityType::Inquiry => "inq_",
    }
}
