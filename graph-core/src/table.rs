//! The in-memory input of a link run: entities and their attribute rows.

use crate::keys::Keyer;
use crate::record::{EntityType, Label, Normalized};

/// Entities of one link run, indexed `0..len()`.
///
/// `anchor[i]` is the entity whose identity `i` stands for: an account is its own anchor, an
/// inquiry's anchor is its account (or itself when the account is unknown). Links and caps are
/// counted over anchors, so one account's five inquiries never make a value look shared.
#[derive(Debug, Clone, Default)]
pub struct Entities {
    /// Entity ids (`account_id` / `inquiry_id`).
    pub ids: Vec<String>,
    /// Account or inquiry.
    pub types: Vec<EntityType>,
    /// Anchor of each entity (see above).
    pub anchor: Vec<u32>,
    /// Creation time in ms since the epoch, if known.
    pub created_at: Vec<Option<i64>>,
    /// Input label.
    pub label: Vec<Option<Label>>,
}

impl Entities {
    /// Number of entities.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Room for `n` more entities.
    pub fn reserve(&mut self, n: usize) {
        self.ids.reserve(n);
        self.types.reserve(n);
        self.anchor.reserve(n);
        self.created_at.reserve(n);
        self.label.reserve(n);
    }

    /// Appends one entity and returns its index.
    pub fn push(
        &mut self,
        id: String,
        entity_type: EntityType,
        anchor: Option<u32>,
        created_at: Option<i64>,
        label: Option<Label>,
    ) -> u32 {
        let idx = self.ids.len() as u32;
        self.ids.push(id);
        self.types.push(entity_type);
        self.anchor.push(anchor.unwrap_or(idx));
        self.created_at.push(created_at);
        self.label.push(label);
        idx
    }

    /// The ordering that decides a cluster's oldest member: earliest `created_at` (unknown
    /// last), then accounts before inquiries, then id. Total, so the oldest member is unique.
    pub fn age_order(&self, a: u32, b: u32) -> std::cmp::Ordering {
        let (a, b) = (a as usize, b as usize);
        let ta = self.created_at[a].unwrap_or(i64::MAX);
        let tb = self.created_at[b].unwrap_or(i64::MAX);
        ta.cmp(&tb)
            .then(self.types[a].cmp(&self.types[b]))
            .then_with(|| self.ids[a].cmp(&self.ids[b]))
    }
}

/// Attribute rows with their keys; values are kept (compactly) to show masked evidence.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    /// Kind names; rows refer to them by index.
    pub kinds: Vec<String>,
    /// Entity index of each row.
    pub entity: Vec<u32>,
    /// Kind index of each row.
    pub kind: Vec<u16>,
    /// Keyed property key of each row.
    pub key: Vec<u64>,
    values: String,
    value_end: Vec<u64>,
}

impl Attributes {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.entity.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entity.is_empty()
    }

    /// Index of a kind name, adding it when new.
    pub fn kind_id(&mut self, kind: &str) -> u16 {
        match self.kinds.iter().position(|k| k == kind) {
            Some(i) => i as u16,
            None => {
                self.kinds.push(kind.to_owned());
                (self.kinds.len() - 1) as u16
            }
        }
    }

    /// Appends one row.
    pub fn push(&mut self, keyer: &Keyer, entity: u32, kind: u16, value: &str) {
        let key = keyer.key(&self.kinds[kind as usize], value);
        self.push_keyed(entity, kind, key, value);
    }

    /// Appends one row whose key is already computed.
    pub fn push_keyed(&mut self, entity: u32, kind: u16, key: u64, value: &str) {
        self.entity.push(entity);
        self.kind.push(kind);
        self.key.push(key);
        self.values.push_str(value);
        self.value_end.push(self.values.len() as u64);
    }

    /// The normalised value of row `row`.
    pub fn value(&self, row: u32) -> &str {
        let row = row as usize;
        let start = if row == 0 {
            0
        } else {
            self.value_end[row - 1] as usize
        };
        &self.values[start..self.value_end[row] as usize]
    }

    /// Room for `rows` more rows holding `bytes` more bytes of values.
    pub fn reserve(&mut self, rows: usize, bytes: usize) {
        self.entity.reserve(rows);
        self.kind.reserve(rows);
        self.key.reserve(rows);
        self.value_end.reserve(rows);
        self.values.reserve(bytes);
    }

    /// All rows of `parts`, in order, copied once into buffers of the exact size.
    pub fn concat(mut parts: Vec<Attributes>) -> Attributes {
        if parts.len() == 1 {
            return parts.pop().unwrap_or_default();
        }
        let mut all = Attributes::default();
        all.reserve(
            parts.iter().map(Attributes::len).sum(),
            parts.iter().map(|p| p.values.len()).sum(),
        );
        for p in &parts {
            all.append(p, 0);
        }
        all
    }

    /// Appends all rows of `other`, shifting its entity indexes by `entity_offset`.
    pub fn append(&mut self, other: &Attributes, entity_offset: u32) {
        let map: Vec<u16> = other.kinds.iter().map(|k| self.kind_id(k)).collect();
        let base = self.values.len() as u64;
        self.entity
            .extend(other.entity.iter().map(|e| e + entity_offset));
        self.kind
            .extend(other.kind.iter().map(|k| map[*k as usize]));
        self.key.extend_from_slice(&other.key);
        self.values.push_str(&other.values);
        self.value_end
            .extend(other.value_end.iter().map(|e| e + base));
    }
}

/// Everything a link run needs.
#[derive(Debug, Clone)]
pub struct LinkInput {
    /// The entities.
    pub entities: Entities,
    /// Their attributes.
    pub attributes: Attributes,
    /// The deployment's keyer (combination keys are derived during linking).
    pub keyer: Keyer,
}

impl LinkInput {
    /// Builds the input from normalised records (live path, tests). Inquiries are anchored to
    /// the account named by `account_id` when that account is among the records.
    pub fn from_records(records: &[Normalized], keyer: Keyer) -> Self {
        let mut entities = Entities::default();
        let mut attributes = Attributes::default();
        let mut account_idx = std::collections::HashMap::new();
        for (i, r) in records.iter().enumerate() {
            if r.entity.entity_type == EntityType::Account {
                account_idx.entry(r.entity.id.clone()).or_insert(i as u32);
            }
        }
        for r in records {
            let anchor = match (&r.entity.entity_type, &r.entity.account_id) {
                (EntityType::Inquiry, Some(acct)) => account_idx.get(acct).copied(),
                _ => None,
            };
            let idx = entities.push(
                r.entity.id.clone(),
                r.entity.entity_type,
                anchor,
                r.entity.created_at,
                r.entity.label,
            );
            for a in &r.attributes {
                let k = attributes.kind_id(&a.kind);
                attributes.push(&keyer, idx, k, &a.value);
            }
        }
        LinkInput {
            entities,
            attributes,
            keyer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows `(entity, kind, value)` pushed into one table.
    fn table(rows: &[(u32, &str, &str)]) -> Attributes {
        let keyer = Keyer::new(b"test secret");
        let mut a = Attributes::default();
        for &(e, kind, value) in rows {
            let k = a.kind_id(kind);
            a.push(&keyer, e, k, value);
        }
        a
    }

    #[test]
    fn concat_equals_pushing_every_row_into_one_table() {
        let rows = [
            (0, "email", "a@x.org"),
            (0, "phone", "+14155552671"),
            (1, "phone", ""),
            (2, "device_id", "d-1"),
            (2, "email", "ünïcode@x.org"),
            (3, "email", "b@x.org"),
        ];
        let whole = table(&rows);
        // Parts whose kind tables differ in order, and an empty part.
        let parts = vec![table(&rows[..2]), table(&[]), table(&rows[2..])];
        let joined = Attributes::concat(parts);
        assert_eq!(joined.len(), whole.len());
        for r in 0..whole.len() {
            let name = |a: &Attributes| a.kinds[a.kind[r] as usize].clone();
            assert_eq!(name(&joined), name(&whole), "row {r}");
            assert_eq!(joined.entity[r], whole.entity[r]);
            assert_eq!(joined.key[r], whole.key[r]);
            assert_eq!(joined.value(r as u32), whole.value(r as u32));
        }
        assert_eq!(Attributes::concat(vec![table(&rows)]).len(), rows.len());
        assert!(Attributes::concat(Vec::new()).is_empty());
    }
}
