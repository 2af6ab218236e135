//! The ids of the entities written so far, to reject a repeated id and to find an inquiry's
//! account.
//!
//! Every id's text is kept once, in entity order, in one arena; per entity type a table of
//! entity numbers finds an id by its hash. A map from boxed strings did the same with an
//! allocation per id, twice the memory (32-byte buckets against 4, plus the boxes) and two
//! hashes and probes per new id (a look-up, then the insert); it was 6% of ingest's CPU at
//! 1M accounts, half of the sequential pass.

use std::hash::BuildHasher;

use graph_core::EntityType;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// Entity numbers are `u32` (the outputs' `entity_idx`).
const MAX_ENTITIES: usize = u32::MAX as usize;

/// The ids seen so far. Entity `i` is the `i`-th id added.
#[derive(Default)]
pub(crate) struct Ids {
    /// Every id, one after the other.
    text: String,
    /// Where each entity's id ends in `text` (it starts where the previous one ends).
    ends: Vec<u64>,
    /// The row each entity was read from.
    rows: Vec<u64>,
    /// `(first entity, file)` for each run of entities read from one file, in entity order.
    files: Vec<(u32, u32)>,
    accounts: HashTable<u32>,
    inquiries: HashTable<u32>,
    /// foldhash, seeded randomly per process: SipHash cost 4% of ingest; the seed keeps a
    /// crafted file from choosing ids that all collide (weaker than SipHash against that,
    /// acceptable for the operator's own files).
    hasher: foldhash::fast::RandomState,
}

/// Where an id was first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FirstSeen {
    pub(crate) file: u32,
    pub(crate) row: u64,
}

/// The outcome of [`Ids::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// A new id, now entity number `.0`.
    New(u32),
    /// An id of this entity type seen before, as entity number `.0`.
    Repeated(u32),
}

impl Ids {
    fn id(&self, idx: u32) -> &str {
        id_at(&self.text, &self.ends, idx)
    }

    fn table(&self, ty: EntityType) -> &HashTable<u32> {
        match ty {
            EntityType::Account => &self.accounts,
            EntityType::Inquiry => &self.inquiries,
        }
    }

    /// The entity number of an id of type `ty` added before.
    pub(crate) fn find(&self, ty: EntityType, id: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(id);
        self.table(ty).find(hash, |&i| self.id(i) == id).copied()
    }

    /// Adds `id` as the next entity, read from row `row` of file `file`, unless an id of
    /// type `ty` equal to it was added before: one hash and one probe either way.
    ///
    /// # Errors
    /// When there are already [`u32::MAX`] entities (their numbers are `u32`).
    pub(crate) fn add(
        &mut self,
        ty: EntityType,
        id: &str,
        file: u32,
        row: u64,
    ) -> Result<Added, TooMany> {
        let hash = self.hasher.hash_one(id);
        let Ids {
            text,
            ends,
            rows,
            files,
            accounts,
            inquiries,
            hasher,
        } = self;
        let table = of_type(ty, accounts, inquiries);
        let entry = table.entry(
            hash,
            |&i| id_at(text, ends, i) == id,
            |&i| hasher.hash_one(id_at(text, ends, i)),
        );
        let vacant = match entry {
            Entry::Occupied(e) => return Ok(Added::Repeated(*e.get())),
            Entry::Vacant(v) => v,
        };
        if ends.len() >= MAX_ENTITIES {
            return Err(TooMany);
        }
        let idx = ends.len() as u32;
        text.push_str(id);
        ends.push(text.len() as u64);
        rows.push(row);
        if files.last().is_none_or(|&(_, f)| f != file) {
            files.push((idx, file));
        }
        vacant.insert(idx);
        Ok(Added::New(idx))
    }

    /// Where entity `idx` was read from.
    pub(crate) fn first_seen(&self, idx: u32) -> FirstSeen {
        let run = self.files.partition_point(|&(first, _)| first <= idx);
        FirstSeen {
            file: (run.checked_sub(1).and_then(|r| self.files.get(r))).map_or(0, |&(_, f)| f),
            row: self.rows.get(idx as usize).copied().unwrap_or(0),
        }
    }

    /// Room for `more` ids of type `ty` (their rows, and their text at the average length
    /// so far), so the table does not grow (rehashing every id) nor the lists (copying them)
    /// a dozen times on the way. Only a hint: without the memory they grow as they fill.
    pub(crate) fn reserve(&mut self, ty: EntityType, more: usize) {
        let Ids {
            text,
            ends,
            accounts,
            inquiries,
            hasher,
            ..
        } = self;
        let table = of_type(ty, accounts, inquiries);
        let _ = table.try_reserve(more, |&i| hasher.hash_one(id_at(text, ends, i)));
        let per_id = text.len().checked_div(ends.len()).unwrap_or(16) + 1;
        let _ = text.try_reserve(more.saturating_mul(per_id));
        let _ = self.ends.try_reserve(more);
        let _ = self.rows.try_reserve(more);
    }
}

/// The table of `ty`'s ids, borrowed apart from the rest of [`Ids`].
fn of_type<'t>(
    ty: EntityType,
    accounts: &'t mut HashTable<u32>,
    inquiries: &'t mut HashTable<u32>,
) -> &'t mut HashTable<u32> {
    match ty {
        EntityType::Account => accounts,
        EntityType::Inquiry => inquiries,
    }
}

/// Entity `idx`'s id in the arena `text`, which `ends` cuts.
fn id_at<'a>(text: &'a str, ends: &[u64], idx: u32) -> &'a str {
    let i = idx as usize;
    let start = i.checked_sub(1).and_then(|p| ends.get(p)).copied();
    let end = ends.get(i).copied();
    // Always in bounds and on character boundaries: `add` pushes whole ids.
    text.get(start.unwrap_or(0) as usize..end.unwrap_or(0) as usize)
        .unwrap_or_default()
}

/// [`Ids::add`] past [`u32::MAX`] entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooMany;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_numbered_in_order_and_found_by_type() {
        let mut ids = Ids::default();
        let acc = EntityType::Account;
        let inq = EntityType::Inquiry;
        assert_eq!(ids.add(acc, "a1", 0, 2), Ok(Added::New(0)));
        assert_eq!(ids.add(acc, "é✓", 0, 3), Ok(Added::New(1)));
        // The same text as an inquiry id is another entity.
        assert_eq!(ids.add(inq, "a1", 1, 2), Ok(Added::New(2)));
        assert_eq!(ids.add(acc, "a1", 1, 9), Ok(Added::Repeated(0)));
        assert_eq!(ids.add(inq, "a1", 1, 9), Ok(Added::Repeated(2)));
        assert_eq!(ids.find(acc, "é✓"), Some(1));
        assert_eq!(ids.find(inq, "é✓"), None);
        assert_eq!(ids.find(acc, ""), None);
        assert_eq!(ids.ends.len(), 3);
        assert_eq!(ids.first_seen(1), FirstSeen { file: 0, row: 3 });
        assert_eq!(ids.first_seen(2), FirstSeen { file: 1, row: 2 });
    }

    #[test]
    fn empty_and_prefix_ids_stay_apart() {
        let mut ids = Ids::default();
        let acc = EntityType::Account;
        for (n, id) in ["", "a", "ab", "b", "ba"].into_iter().enumerate() {
            assert_eq!(ids.add(acc, id, 0, n as u64), Ok(Added::New(n as u32)));
        }
        for (n, id) in ["", "a", "ab", "b", "ba"].into_iter().enumerate() {
            assert_eq!(ids.find(acc, id), Some(n as u32));
        }
        assert_eq!(ids.find(acc, "aba"), None);
    }

    proptest! {
        /// Against a plain map, across growth with and without a reservation, files
        /// revisited out of order included.
        #[test]
        fn ids_behave_like_a_map(
            adds in prop::collection::vec((any::<bool>(), "[a-c✓]{0,3}", 0u32..4), 0..400),
            reserve in prop::option::of(0usize..300),
        ) {
            let mut ids = Ids::default();
            if let Some(more) = reserve {
                ids.reserve(EntityType::Account, more);
            }
            let mut map = std::collections::HashMap::new();
            let mut next = 0u32;
            for (row, (account, id, file)) in adds.iter().enumerate() {
                let ty = if *account { EntityType::Account } else { EntityType::Inquiry };
                let got = ids.add(ty, id, *file, row as u64).unwrap();
                match map.get(&(*account, id.clone())) {
                    Some(&(idx, seen)) => {
                        prop_assert_eq!(got, Added::Repeated(idx));
                        prop_assert_eq!(ids.first_seen(idx), seen);
                    }
                    None => {
                        prop_assert_eq!(got, Added::New(next));
                        map.insert((*account, id.clone()), (next, FirstSeen { file: *file, row: row as u64 }));
                        next += 1;
                    }
                }
            }
            for ((account, id), &(idx, _)) in &map {
                let ty = if *account { EntityType::Account } else { EntityType::Inquiry };
                prop_assert_eq!(ids.find(ty, id), Some(idx));
            }
        }
    }
}
