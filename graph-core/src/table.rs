//! The in-memory input of a link run: entities and their attribute rows.

use crate::keys::Keyer;
use crate::linker::base_kind;
use crate::record::{EntityType, Label, Normalized, kinds};

/// The ids of a run's entities, in one buffer: millions of ids cost one allocation, not one
/// each. `ids[i]` is the `i`-th id.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EntityIds {
    bytes: String,
    /// End of each id in `bytes`.
    end: Vec<u64>,
}

impl EntityIds {
    /// Number of ids.
    pub fn len(&self) -> usize {
        self.end.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.end.is_empty()
    }

    /// Bytes of all ids together.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Appends an id.
    pub fn push(&mut self, id: &str) {
        self.bytes.push_str(id);
        self.end.push(self.bytes.len() as u64);
    }

    /// Room for `n` more ids of `bytes` bytes in all.
    pub fn reserve(&mut self, n: usize, bytes: usize) {
        self.end.reserve(n);
        self.bytes.reserve(bytes);
    }

    /// The `i`-th id, if there is one.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.end.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.end[i - 1] as usize };
        Some(&self.bytes[start..end])
    }

    /// The ids, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        self.range(0..self.len())
    }

    /// The ids of `range`, in order.
    ///
    /// # Panics
    /// When `range` is out of bounds.
    pub fn range(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        let mut start = match range.start {
            0 => 0,
            i => self.end[i - 1] as usize,
        };
        self.end[range].iter().map(move |&end| {
            let id = &self.bytes[start..end as usize];
            start = end as usize;
            id
        })
    }

    /// The ids of `range` as they lie in the buffer: their text, each one's end in the
    /// buffer, and where the first starts.
    ///
    /// # Panics
    /// When `range` is out of bounds.
    pub(crate) fn span(&self, range: std::ops::Range<usize>) -> (&str, &[u64], u64) {
        let start = match range.start {
            0 => 0,
            i => self.end[i - 1],
        };
        let end = match range.end {
            0 => 0,
            i => self.end[i - 1],
        };
        (
            &self.bytes[start as usize..end.max(start) as usize],
            &self.end[range],
            start,
        )
    }

    /// Appends every id of `other`.
    pub fn extend_from(&mut self, other: &EntityIds) {
        let base = self.bytes.len() as u64;
        self.bytes.push_str(&other.bytes);
        self.end.extend(other.end.iter().map(|e| e + base));
    }
}

impl std::ops::Index<usize> for EntityIds {
    type Output = str;

    fn index(&self, i: usize) -> &str {
        match self.get(i) {
            Some(id) => id,
            None => panic!("entity {i} out of range ({} ids)", self.len()),
        }
    }
}

impl<S: AsRef<str>> FromIterator<S> for EntityIds {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut ids = EntityIds::default();
        for id in iter {
            ids.push(id.as_ref());
        }
        ids
    }
}

impl std::fmt::Debug for EntityIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Entities of one link run, indexed `0..len()`.
///
/// `anchor[i]` is the entity whose identity `i` stands for: an account is its own anchor, an
/// inquiry's anchor is its account (or itself when the account is unknown). Links and caps are
/// counted over anchors, so one account's five inquiries never make a value look shared.
#[derive(Debug, Clone, Default)]
pub struct Entities {
    /// Entity ids (`account_id` / `inquiry_id`).
    pub ids: EntityIds,
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
        self.ids.reserve(n, 0);
        self.types.reserve(n);
        self.anchor.reserve(n);
        self.created_at.reserve(n);
        self.label.reserve(n);
    }

    /// Appends one entity and returns its index.
    pub fn push(
        &mut self,
        id: impl AsRef<str>,
        entity_type: EntityType,
        anchor: Option<u32>,
        created_at: Option<i64>,
        label: Option<Label>,
    ) -> u32 {
        let idx = self.ids.len() as u32;
        self.ids.push(id.as_ref());
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

/// Where the list of each index `0..n` starts in a list of items grouped by index
/// (`n + 1` offsets; the last is the number of items): `each` calls its argument with the
/// index of every item.
pub(crate) fn starts(n: usize, each: impl FnOnce(&mut dyn FnMut(u32))) -> Vec<u32> {
    let mut offsets = vec![0u32; n + 1];
    each(&mut |i| offsets[i as usize + 1] += 1);
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    offsets
}

/// Lists of values per index (an anchor, a cluster) in compressed form
/// (`items[offsets[i]..offsets[i + 1]]`): two flat vectors instead of a map of vectors, built
/// in two passes over the source. Each list keeps the order its values were given in.
#[derive(Debug)]
pub(crate) struct PerIndex {
    offsets: Vec<u32>,
    items: Vec<u32>,
}

impl PerIndex {
    /// Lists for indexes `0..n`: `each` calls its argument with every `(index, value)`
    /// (each index below `n`); it is run twice.
    pub(crate) fn build(n: usize, each: impl Fn(&mut dyn FnMut(u32, u32))) -> Self {
        let offsets = starts(n, |f| each(&mut |a, _| f(a)));
        let mut fill = offsets.clone();
        let mut items = vec![0u32; offsets[n] as usize];
        each(&mut |a, v| {
            items[fill[a as usize] as usize] = v;
            fill[a as usize] += 1;
        });
        PerIndex { offsets, items }
    }

    /// The list of index `i`.
    pub(crate) fn get(&self, i: u32) -> &[u32] {
        let i = i as usize;
        &self.items[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// Attribute rows with their keys.
///
/// The normalised values are held only when the rows were pushed with them ([`push`],
/// [`push_keyed`]: the live graph, in-memory inputs, tests). A batch link reads keys only
/// ([`push_key`]): it decides placeholders by key and fetches the few values its outputs show
/// afterwards ([`RowValues`]). A table holds the values of all its rows or of none.
///
/// [`push`]: Attributes::push
/// [`push_keyed`]: Attributes::push_keyed
/// [`push_key`]: Attributes::push_key
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
    /// `(kind, key)` of the rows whose value is a typed filler (`000000000`, `123456789` as an
    /// ID number or phone number), found when the row was pushed: the value-shape part of
    /// the placeholder test, which the linker cannot decide from a key.
    fillers: Vec<(u16, u64)>,
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

    /// A keys-only table (see [`Attributes::push_key`]) from its columns; `fillers` are
    /// the `(kind, key)` of the rows whose value is a typed filler.
    pub(crate) fn from_keys(
        kinds: Vec<String>,
        entity: Vec<u32>,
        kind: Vec<u16>,
        key: Vec<u64>,
        fillers: Vec<(u16, u64)>,
    ) -> Attributes {
        debug_assert!(entity.len() == kind.len() && kind.len() == key.len());
        Attributes {
            kinds,
            entity,
            kind,
            key,
            values: String::new(),
            value_end: Vec::new(),
            fillers,
        }
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
        let filler = is_typed_filler(&self.kinds[kind as usize], value);
        self.push_key(entity, kind, key, filler);
        self.values.push_str(value);
        self.value_end.push(self.values.len() as u64);
    }

    /// Appends one row without its value (a batch link's read). `filler` tells whether the
    /// value is a typed filler (an ID number or phone number such as `000000000`), which the
    /// reader decides while it still has the value.
    pub fn push_key(&mut self, entity: u32, kind: u16, key: u64, filler: bool) {
        self.entity.push(entity);
        self.kind.push(kind);
        self.key.push(key);
        if filler {
            self.fillers.push((kind, key));
        }
    }

    /// Whether the table holds the values of its rows (see the type's docs).
    pub fn has_values(&self) -> bool {
        self.value_end.len() == self.entity.len()
    }

    /// The normalised value of row `row`.
    ///
    /// # Panics
    /// When the table holds no values ([`Attributes::has_values`]) or `row` is out of range.
    pub fn value(&self, row: u32) -> &str {
        let row = row as usize;
        let start = if row == 0 {
            0
        } else {
            self.value_end[row - 1] as usize
        };
        &self.values[start..self.value_end[row] as usize]
    }

    /// The keys of the rows of kind `kind` whose value is a typed filler (with repeats).
    pub fn filler_keys(&self, kind: u16) -> impl Iterator<Item = u64> + '_ {
        self.fillers
            .iter()
            .filter(move |f| f.0 == kind)
            .map(|f| f.1)
    }

    /// Room for `rows` more rows holding `bytes` more bytes of values.
    pub fn reserve(&mut self, rows: usize, bytes: usize) {
        self.entity.reserve(rows);
        self.kind.reserve(rows);
        self.key.reserve(rows);
        if bytes > 0 {
            self.value_end.reserve(rows);
            self.values.reserve(bytes);
        }
    }

    /// All rows of `parts`, in order, copied once into buffers of the exact size; each part
    /// is freed as soon as it is copied, so the parts and the whole are not all held at once.
    pub fn concat(mut parts: Vec<Attributes>) -> Attributes {
        if parts.len() == 1 {
            return parts.pop().unwrap_or_default();
        }
        let mut all = Attributes::default();
        all.reserve(
            parts.iter().map(Attributes::len).sum(),
            parts.iter().map(|p| p.values.len()).sum(),
        );
        for p in parts {
            all.append(&p, 0);
        }
        all
    }

    /// Appends all rows of `other`, shifting its entity indexes by `entity_offset`. Both
    /// tables hold values, or neither does.
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
        self.fillers
            .extend(other.fillers.iter().map(|&(k, key)| (map[k as usize], key)));
    }
}

/// Whether `value` of kind `kind` is a typed filler: the value-shape half of
/// [`LinkConfig::is_placeholder`](crate::LinkConfig::is_placeholder), for ID numbers and
/// phone numbers (also inside combination kinds, judged by their base kind).
pub(crate) fn is_typed_filler(kind: &str, value: &str) -> bool {
    crate::config::is_typed_filler_of(base_kind(kind), value)
}

/// Whether values of `kind` can be typed fillers at all (ID numbers and phone numbers), so
/// a reader tests only their rows.
pub(crate) fn can_be_typed_filler(kind: &str) -> bool {
    matches!(base_kind(kind), kinds::GOV_ID | kinds::PHONE)
}

/// The normalised values of some attribute rows, by row: what a batch link's outputs show
/// (one row per hub and shared property) or what duplicate detection compares, without
/// holding the values of every row.
///
/// The rows are kept in chunks (one per row group of a batch read), so joining the parts read
/// in parallel moves them instead of copying them: at 10M accounts the values duplicate
/// detection compares are several GB, which a copy held twice while it was made.
#[derive(Debug, Clone, Default)]
pub struct RowValues {
    chunks: Vec<ValueChunk>,
    /// Per chunk, the index among all rows held of its first row.
    starts: Vec<usize>,
    len: usize,
}

/// Most bytes of values one [`ValueChunk`] holds: its ends are `u32`. (Tiny in this crate's
/// unit tests, so every test that builds values row by row crosses chunks.)
const CHUNK_BYTES: usize = if cfg!(test) { 64 } else { u32::MAX as usize };

/// Consecutive rows of a [`RowValues`] with their values in one buffer of at most
/// [`CHUNK_BYTES`].
#[derive(Debug, Clone, Default)]
struct ValueChunk {
    /// Attribute rows, ascending.
    rows: Vec<u32>,
    value_end: Vec<u32>,
    values: String,
}

impl ValueChunk {
    #[cfg(test)]
    fn at(&self, i: usize) -> (u32, &str) {
        (self.rows[i], self.value(i))
    }

    /// The `i`-th value, without reading its row: [`RowValues::value_at`].
    fn value(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.value_end[i - 1] as usize
        };
        &self.values[start..self.value_end[i] as usize]
    }
}

impl RowValues {
    /// Number of rows held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk rows are appended to, started anew when `bytes` more would not fit in it.
    fn tail(&mut self, bytes: usize) -> &mut ValueChunk {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.values.is_empty() || c.values.len() + bytes <= CHUNK_BYTES);
        if !fits {
            self.starts.push(self.len);
            self.chunks.push(ValueChunk::default());
        }
        let last = self.chunks.len() - 1;
        &mut self.chunks[last]
    }

    /// Appends the value of `row`, which must be above every row held.
    pub(crate) fn push(&mut self, row: u32, value: &str) {
        debug_assert!(self.last_row().is_none_or(|r| r < row));
        let chunk = self.tail(value.len());
        chunk.rows.push(row);
        chunk.values.push_str(value);
        chunk.value_end.push(chunk.values.len() as u32);
        self.len += 1;
    }

    fn last_row(&self) -> Option<u32> {
        self.chunks
            .iter()
            .rev()
            .find_map(|c| c.rows.last().copied())
    }

    /// Room for `rows` more rows holding `bytes` more bytes of values.
    pub(crate) fn reserve(&mut self, rows: usize, bytes: usize) {
        let chunk = self.tail(bytes);
        chunk.rows.reserve_exact(rows);
        chunk.value_end.reserve_exact(rows);
        chunk.values.reserve_exact(bytes);
    }

    /// The `i`-th row held and its value (`i < len()`). `O(1)` with one chunk or chunks of
    /// similar sizes, else `O(log chunks)`.
    #[cfg(test)]
    pub(crate) fn at(&self, i: usize) -> (u32, &str) {
        let c = self.chunk_of(i);
        self.chunks[c].at(i - self.starts[c])
    }

    /// The value of the `i`-th row held (`i < len()`), without reading its row number.
    pub(crate) fn value_at(&self, i: usize) -> &str {
        let c = self.chunk_of(i);
        self.chunks[c].value(i - self.starts[c])
    }

    /// The chunk holding the `i`-th row (`i < len()`). Chunks are most often the rows one
    /// row group gave, of similar counts, so the chunk `i` would be in if all held as many
    /// rows is tried first, and its neighbours; only then are the chunks searched. Duplicate
    /// detection looks up every field of every record this way, and the search alone took
    /// a dozen dependent steps each over the thousands of chunks of ten million accounts.
    fn chunk_of(&self, i: usize) -> usize {
        let n = self.chunks.len();
        if n == 1 {
            return 0;
        }
        let holds =
            |c: usize| self.starts[c] <= i && self.starts.get(c + 1).is_none_or(|&next| i < next);
        // In 64 bits: a 128-bit division is a library call, and this runs for every value
        // duplicate detection reads. Row index times chunk count fits in 64 bits while both
        // stay below 2^32; past that, the checked product falls back to 128.
        let guess = match (i as u64).checked_mul(n as u64) {
            Some(p) => (p / self.len as u64) as usize,
            None => (i as u128 * n as u128 / self.len as u128) as usize,
        };
        let near = [guess, guess.saturating_sub(1), guess + 1];
        match near.into_iter().find(|&c| c < n && holds(c)) {
            Some(c) => c,
            None => self.starts.partition_point(|&s| s <= i) - 1,
        }
    }

    /// The value of attribute row `row`, if held. `O(log n)`.
    pub fn get(&self, row: u32) -> Option<&str> {
        let c = self
            .chunks
            .partition_point(|c| c.rows.first().is_some_and(|&f| f <= row))
            .checked_sub(1)?;
        let chunk = &self.chunks[c];
        let i = chunk.rows.binary_search(&row).ok()?;
        Some(chunk.value(i))
    }

    /// The values of `rows` (ascending, without repeats) copied out of a table that holds
    /// values.
    pub fn from_attributes(attrs: &Attributes, rows: &[u32]) -> Self {
        let mut out = RowValues::default();
        out.reserve(rows.len(), rows.iter().map(|&r| attrs.value(r).len()).sum());
        for &r in rows {
            out.push(r, attrs.value(r));
        }
        out
    }

    /// The rows of `parts` (each above the previous part's rows), in order. Their chunks are
    /// moved, never copied.
    pub(crate) fn concat(parts: Vec<RowValues>) -> RowValues {
        let mut all = RowValues::default();
        for chunk in parts.into_iter().flat_map(|p| p.chunks) {
            if chunk.rows.is_empty() {
                continue;
            }
            all.starts.push(all.len);
            all.len += chunk.rows.len();
            all.chunks.push(chunk);
        }
        all
    }
}

/// Where output code finds the value of an attribute row: a table that holds every value
/// (in-memory inputs, the live graph) or the rows a batch run fetched ([`RowValues`]).
pub(crate) trait Values: Sync {
    /// The normalised value of `row`.
    ///
    /// # Panics
    /// When `row` is not held: the caller fetched the wrong rows (a bug).
    fn value(&self, row: u32) -> &str;
}

impl Values for Attributes {
    fn value(&self, row: u32) -> &str {
        Attributes::value(self, row)
    }
}

impl Values for RowValues {
    fn value(&self, row: u32) -> &str {
        match self.get(row) {
            Some(v) => v,
            None => panic!("attribute row {row} was not fetched for the outputs"),
        }
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

    #[test]
    fn typed_fillers_are_noted_for_id_and_phone_rows_only() {
        let rows = [
            (0, "gov_id", "GB:000000000"),
            (1, "gov_id", "US:123450000"),
            (2, "phone", "+11234567890"),
            (3, "email", "000000000"),
            (4, "gov_id+name_last", "US:123456789"),
            (5, "device_id", "111111111111"),
        ];
        let a = table(&rows);
        let keyer = Keyer::new(b"test secret");
        let fillers = |kind: &str| {
            let k = a.kinds.iter().position(|x| x == kind).unwrap() as u16;
            a.filler_keys(k).collect::<Vec<_>>()
        };
        assert_eq!(fillers("gov_id"), [keyer.key("gov_id", "GB:000000000")]);
        assert_eq!(fillers("phone"), [keyer.key("phone", "+11234567890")]);
        assert!(fillers("email").is_empty());
        assert!(fillers("device_id").is_empty());
        assert_eq!(
            fillers("gov_id+name_last"),
            [keyer.key("gov_id+name_last", "US:123456789")]
        );
        // Kept through concatenation, with the kind renumbered.
        let joined = Attributes::concat(vec![table(&rows[3..]), table(&rows[..3])]);
        let gov = joined.kinds.iter().position(|x| x == "gov_id").unwrap() as u16;
        assert_eq!(
            joined.filler_keys(gov).collect::<Vec<_>>(),
            [keyer.key("gov_id", "GB:000000000")]
        );
        // A keys-only table says so, and keeps what the reader told it.
        let mut keys = Attributes::default();
        let k = keys.kind_id("phone");
        keys.push_key(0, k, 7, true);
        keys.push_key(1, k, 8, false);
        assert!(!keys.has_values() && a.has_values());
        assert_eq!(keys.filler_keys(k).collect::<Vec<_>>(), [7]);
    }

    #[test]
    fn entity_ids_give_back_what_was_pushed() {
        let given = ["acct_1", "", "名前", "inq_\u{0}x", "acct_1", "a"];
        let ids: EntityIds = given.iter().collect();
        assert_eq!(ids.len(), given.len());
        for (i, id) in given.iter().enumerate() {
            assert_eq!(&ids[i], *id);
            assert_eq!(ids.get(i), Some(*id));
        }
        assert_eq!(ids.get(given.len()), None);
        assert_eq!(ids.iter().collect::<Vec<_>>(), given);
        assert_eq!(ids.range(2..5).collect::<Vec<_>>(), &given[2..5]);
        assert_eq!(ids.range(0..0).count(), 0);
        let mut joined: EntityIds = given[..2].iter().collect();
        joined.extend_from(&given[2..].iter().collect());
        assert_eq!(joined, ids);
        assert!(EntityIds::default().is_empty());
    }

    #[test]
    fn row_values_hold_just_the_rows_asked_for() {
        let rows = [
            (0, "email", "a@x.org"),
            (0, "name", "zoë ångström"),
            (1, "address", ""),
            (2, "name", "名前 \"quoted\"\n\0tab\t"),
            (3, "email", "b@x.org"),
        ];
        let a = table(&rows);
        let v = RowValues::from_attributes(&a, &[1, 2, 3]);
        assert_eq!(v.len(), 3);
        assert_eq!(v.get(0), None);
        assert_eq!(v.get(1), Some("zoë ångström"));
        assert_eq!(v.get(2), Some(""));
        assert_eq!(Values::value(&v, 3), rows[3].2);
        assert_eq!(v.get(4), None);
        let joined = RowValues::concat(vec![
            RowValues::from_attributes(&a, &[0]),
            RowValues::default(),
            RowValues::from_attributes(&a, &[2, 4]),
        ]);
        let held: Vec<(u32, &str)> = (0..joined.len()).map(|i| joined.at(i)).collect();
        assert_eq!(held, [(0, "a@x.org"), (2, ""), (4, "b@x.org")]);
    }

    #[test]
    fn row_values_find_every_row_in_chunks_of_any_sizes() {
        // Parts of very different sizes, some empty, one of many chunks of its own (values
        // over `CHUNK_BYTES`), so that a row's chunk is often not where equal chunks would
        // put it.
        let mut expected = Vec::new();
        let mut parts = Vec::new();
        let mut row = 0u32;
        for (p, rows) in [3usize, 0, 1, 40, 0, 2, 17, 1, 1, 90, 5]
            .into_iter()
            .enumerate()
        {
            let mut part = RowValues::default();
            for i in 0..rows {
                let value = "v".repeat((i * 7 + p) % 50);
                part.push(row, &value);
                expected.push((row, value));
                row += 2;
            }
            parts.push(part);
        }
        let all = RowValues::concat(parts);
        assert!(all.chunks.len() > 11, "{} chunks", all.chunks.len());
        let held: Vec<(u32, String)> = (0..all.len())
            .map(|i| (all.at(i).0, all.at(i).1.to_owned()))
            .collect();
        assert_eq!(held, expected);
        for (i, (row, value)) in expected.iter().enumerate() {
            assert_eq!(all.value_at(i), value, "row {i}");
            assert_eq!(all.get(*row), Some(value.as_str()));
        }
    }
}
