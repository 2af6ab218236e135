//! Compact storage behind [`super::LiveGraph`]: ids in one arena with a hashed index,
//! attribute rows pointing into one value string per entity, postings inline for properties
//! used once.
//!
//! These replace per-value heap allocations (a `String` per id, twice; a `Box<str>` per
//! attribute row; a `Vec` per single-use property), which cost more in allocator overhead
//! than the values themselves.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use xxhash_rust::xxh3::xxh3_64;

use crate::record::EntityType;

/// Entity ids: one arena, ends per entity, and an index from a 64-bit hash of `(type, id)` to
/// the entity. A hash shared by two ids (astronomically rare) sends the second to a small
/// string-keyed map, so lookups are exact.
#[derive(Debug, Clone, Default)]
pub(super) struct Ids {
    text: String,
    ends: Vec<u64>,
    index: HashMap<u64, u32>,
    collided: HashMap<(EntityType, Box<str>), u32>,
}

fn id_hash(t: EntityType, id: &str) -> u64 {
    xxh3_64(id.as_bytes()) ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Ids {
    pub fn with_capacity(n: usize) -> Self {
        Ids {
            text: String::with_capacity(n * 16),
            ends: Vec::with_capacity(n),
            index: HashMap::with_capacity(n),
            collided: HashMap::new(),
        }
    }

    /// Room for `n` more ids of `avg_len` bytes without reallocating.
    pub fn reserve(&mut self, n: usize, avg_len: usize) {
        self.text.reserve(n * avg_len);
        self.ends.reserve(n);
        self.index.reserve(n);
    }

    /// Mean id length in bytes (0 when empty).
    pub fn mean_len(&self) -> usize {
        self.text.len().checked_div(self.ends.len()).unwrap_or(0)
    }

    /// Appends the id of entity `ends.len()`; it is not indexed yet.
    pub fn push(&mut self, id: &str) -> u32 {
        self.text.push_str(id);
        self.ends.push(self.text.len() as u64);
        (self.ends.len() - 1) as u32
    }

    pub fn get(&self, e: u32) -> &str {
        let i = e as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    pub fn lookup(&self, types: &[EntityType], t: EntityType, id: &str) -> Option<u32> {
        match self.index.get(&id_hash(t, id)) {
            Some(&e) if types[e as usize] == t && self.get(e) == id => Some(e),
            Some(_) => self.collided.get(&(t, Box::from(id))).copied(),
            None => None,
        }
    }

    /// Makes entity `e` (type `t`) findable by its id.
    pub fn index(&mut self, t: EntityType, e: u32) {
        let id = self.get(e).to_owned();
        match self.index.entry(id_hash(t, &id)) {
            Entry::Vacant(v) => {
                v.insert(e);
            }
            Entry::Occupied(o) if *o.get() == e => {}
            Entry::Occupied(_) => {
                self.collided.insert((t, id.into_boxed_str()), e);
            }
        }
    }

    /// Stops finding entity `e` by its id.
    pub fn unindex(&mut self, t: EntityType, e: u32) {
        let id = self.get(e).to_owned();
        let h = id_hash(t, &id);
        if self.index.get(&h) == Some(&e) {
            self.index.remove(&h);
        } else {
            self.collided.remove(&(t, id.into_boxed_str()));
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 8 + self.index.capacity() * 13
    }
}

/// One normalised attribute of an entity: kind, key, and where its value sits in the
/// entity's value string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Row {
    pub key: u64,
    off: u32,
    pub kind: u16,
    len: u16,
}

/// Every entity's rows and the one string holding its values.
#[derive(Debug, Clone, Default)]
pub(super) struct Values {
    rows: Vec<Box<[Row]>>,
    text: Vec<Box<str>>,
}

impl Values {
    pub fn reserve(&mut self, n: usize) {
        self.rows.reserve(n);
        self.text.reserve(n);
    }

    pub fn push_empty(&mut self) {
        self.rows.push(Box::default());
        self.text.push(Box::default());
    }

    /// Sets entity `e`'s rows from `(kind, key, value)`. A value longer than 65,535 bytes
    /// (never produced by normalisation) is cut at a character boundary.
    pub fn set<'a>(&mut self, e: u32, rows: impl Iterator<Item = (u16, u64, &'a str)>) {
        let mut text = String::new();
        let mut out = Vec::new();
        for (kind, key, value) in rows {
            let mut v = value;
            if v.len() > u16::MAX as usize {
                let mut end = u16::MAX as usize;
                while !v.is_char_boundary(end) {
                    end -= 1;
                }
                v = &v[..end];
            }
            out.push(Row {
                key,
                off: text.len() as u32,
                kind,
                len: v.len() as u16,
            });
            text.push_str(v);
        }
        self.rows[e as usize] = out.into_boxed_slice();
        self.text[e as usize] = text.into_boxed_str();
    }

    pub fn rows(&self, e: u32) -> &[Row] {
        &self.rows[e as usize]
    }

    pub fn value(&self, e: u32, row: &Row) -> &str {
        let t = &self.text[e as usize];
        &t[row.off as usize..row.off as usize + row.len as usize]
    }

    pub fn value_at(&self, e: u32, row: u16) -> &str {
        self.value(e, &self.rows[e as usize][row as usize])
    }

    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * 32
            + self
                .rows
                .iter()
                .zip(&self.text)
                .map(|(r, t)| {
                    let r = r.len() * std::mem::size_of::<Row>();
                    // Allocator rounding: 16-byte granules, 32 at least.
                    let round = |n: usize| {
                        if n == 0 {
                            0
                        } else {
                            n.div_ceil(16).max(2) * 16
                        }
                    };
                    round(r) + round(t.len())
                })
                .sum::<usize>()
    }
}

/// One observation of a property: which anchor, through which entity's row. (Its time is the
/// entity's `created_at`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Post {
    pub anchor: u32,
    pub entity: u32,
    /// Index into the entity's rows: the row whose value the property shows (for a combination,
    /// the main kind's row).
    pub row: u16,
}

/// The postings of a property, sorted and unique; inline while there is one (most properties
/// are used by one entity only).
#[derive(Debug, Clone)]
pub(super) enum Posts {
    One(Post),
    // Boxed so the enum stays one pointer wider than a `Post`: most properties have one post,
    // and the map holds millions of these.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<Post>>),
}

impl Default for Posts {
    fn default() -> Self {
        Posts::Many(Box::default())
    }
}

impl Posts {
    pub fn as_slice(&self) -> &[Post] {
        match self {
            Posts::One(p) => std::slice::from_ref(p),
            Posts::Many(v) => v,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    pub fn insert(&mut self, at: usize, post: Post) {
        match self {
            Posts::Many(v) if v.is_empty() => *self = Posts::One(post),
            Posts::Many(v) => v.insert(at, post),
            Posts::One(p) => {
                let mut v = vec![*p];
                v.insert(at, post);
                *self = Posts::Many(Box::new(v));
            }
        }
    }

    pub fn retain(&mut self, f: impl FnMut(&Post) -> bool) {
        let mut v: Vec<Post> = self.as_slice().to_vec();
        v.retain(f);
        *self = match v.len() {
            1 => Posts::One(v[0]),
            _ => Posts::Many(Box::new(v)),
        };
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Posts::One(_) => 0,
            Posts::Many(v) => 32 + v.capacity() * std::mem::size_of::<Post>(),
        }
    }
}
