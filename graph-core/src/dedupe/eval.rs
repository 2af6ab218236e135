//! Evaluation of duplicate pairs against ground truth.

use std::collections::{HashMap, HashSet};

use crate::eval::{Prf, TruthRow};
use crate::record::EntityType;
use crate::table::LinkInput;

/// Precision, recall and F1 of predicted duplicate pairs.
///
/// `person_of[e]` is the true identity of entity `e` (the truth file's `person_id`), `None`
/// for entities without one; give identities to anchors only (accounts, see
/// [`person_ids`]), since pairs are pairs of anchors. The true pairs are all pairs of
/// entities with the same identity; a predicted pair is a true positive when both sides
/// have the same identity. Predicted pairs are counted once whatever their order or
/// repetition; pairs naming an entity outside `person_of` count as false positives.
///
/// Time `O(E + P)` for `E` entities and `P` predicted pairs.
pub fn duplicate_pair_prf(
    person_of: &[Option<&str>],
    predicted: impl IntoIterator<Item = (u32, u32)>,
) -> Prf {
    let mut per_person: HashMap<&str, u64> = HashMap::new();
    for p in person_of.iter().flatten() {
        *per_person.entry(p).or_default() += 1;
    }
    let actual: u64 = per_person
        .values()
        .map(|&n| n * n.saturating_sub(1) / 2)
        .sum();
    let pairs: HashSet<(u32, u32)> = predicted
        .into_iter()
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    let get = |e: u32| person_of.get(e as usize).copied().flatten();
    let tp = pairs
        .iter()
        .filter(|&&(a, b)| matches!((get(a), get(b)), (Some(x), Some(y)) if x == y))
        .count();
    Prf::new(tp as u64, pairs.len() as u64, actual)
}

/// The truth's `person_id` of each entity of `input`, by entity index: accounts listed in
/// `truth` get their person, every other entity `None`. `O(E + T)`.
pub fn person_ids<'t>(input: &LinkInput, truth: &'t [TruthRow]) -> Vec<Option<&'t str>> {
    let by_account: HashMap<&str, &str> = truth
        .iter()
        .map(|t| (t.account_id.as_str(), t.person_id.as_str()))
        .collect();
    let ents = &input.entities;
    (0..ents.len())
        .map(|e| match ents.types[e] {
            EntityType::Account => by_account.get(&ents.ids[e]).copied(),
            EntityType::Inquiry => None,
        })
        .collect()
}
