//! Sorting long lists whose order starts with an evenly spread 64-bit hash: the linker's
//! postings (keyed hashes), duplicate detection's blocking keys and interned values (unkeyed
//! hashes).
//!
//! One parallel pass scatters the list into buckets by the hash's top bits (a counting sort,
//! each chunk of the list writing into its own part of each bucket), and the small buckets
//! are then sorted in parallel, each within the cache ([`sort_bucket`]): `O(n + n log(n /
//! buckets))`, where one comparison sort over millions of elements makes `log n` passes over
//! memory. The price is a second list as long as the first ([`sort_into`] writes into it).

use rayon::prelude::*;

/// A list element whose order starts with an evenly spread 64-bit hash (its derived `Ord`
/// compares the hash first): the hash's top bits are its bucket.
pub(crate) trait Hashed: Copy + Ord + Default + Send + Sync {
    /// The hash the element's order starts with.
    fn hash(&self) -> u64;
}

impl Hashed for (u64, u32) {
    fn hash(&self) -> u64 {
        self.0
    }
}

impl Hashed for (u64, u32, u32) {
    fn hash(&self) -> u64 {
        self.0
    }
}

/// Sorts `list` as `sort_unstable` does (its elements are totally ordered, so any correct
/// sort gives the same list), using `spare` as the second list: afterwards `spare` holds
/// memory to reuse in the next call (see [`sort_into`]), and its contents are meaningless.
pub(crate) fn sort_hashed<T: Hashed>(list: &mut Vec<T>, spare: &mut Vec<T>) {
    if list.len() < SMALL {
        list.par_sort_unstable();
        return;
    }
    if spare.capacity() < list.len() {
        // As long as `list` can grow, not just its length: after the swap below `list` is
        // this memory, and the caller refilling it to its former capacity allocates nothing.
        *spare = Vec::new();
        *spare = filled(list.capacity());
    }
    sort_into(list, spare);
    std::mem::swap(list, spare);
}

/// Below this many elements a list is sorted in place by comparison.
const SMALL: usize = 1 << 16;

/// Sorts `rows` into `out`, as `sort_unstable` does, and returns them (`out` is left holding
/// them). `out` is reused from call to call: its memory is written over, not cleared, and
/// allocated afresh only when it is too short ([`fit`]).
pub(crate) fn sort_into<'o, T: Hashed>(rows: &[T], out: &'o mut Vec<T>) -> &'o [T] {
    let n = rows.len();
    fit(out, n);
    if n < SMALL {
        out.copy_from_slice(rows);
        out.par_sort_unstable();
        return out;
    }
    // 256 to 512 elements a bucket (more above 2^24 elements, where the bits stop at 16).
    let bits = (usize::BITS - (n / 512).leading_zeros()).clamp(8, 16);
    let shift = 64 - bits;
    let buckets = 1usize << bits;
    let chunk = n.div_ceil(rayon::current_num_threads() * 4);
    let hist: Vec<Vec<usize>> = rows
        .par_chunks(chunk)
        .map(|c| {
            let mut h = vec![0usize; buckets];
            for r in c {
                h[(r.hash() >> shift) as usize] += 1;
            }
            h
        })
        .collect();
    let mut sizes = vec![0usize; buckets];
    for h in &hist {
        for (s, c) in sizes.iter_mut().zip(h) {
            *s += c;
        }
    }
    // Cut the output into buckets, and each bucket into one part per chunk of input.
    let mut parts: Vec<Vec<&mut [T]>> = hist.iter().map(|_| Vec::with_capacity(buckets)).collect();
    for (b, slice) in split_lengths(out, sizes.iter().copied())
        .into_iter()
        .enumerate()
    {
        for (this, p) in split_lengths(slice, hist.iter().map(|h| h[b]))
            .into_iter()
            .zip(&mut parts)
        {
            p.push(this);
        }
    }
    rows.par_chunks(chunk).zip(parts).for_each(|(c, mut p)| {
        let mut at = vec![0usize; buckets];
        for r in c {
            let b = (r.hash() >> shift) as usize;
            p[b][at[b]] = *r;
            at[b] += 1;
        }
    });
    split_lengths(out, sizes.iter().copied())
        .into_par_iter()
        .with_min_len(64)
        .for_each_init(Vec::new, |tmp, b| sort_bucket(b, shift, tmp));
    out
}

/// Makes `list` `n` elements long without writing the elements it keeps (whoever asked for
/// them writes every one): memory is allocated only when `list` has no room for `n`, and
/// then filled in parallel ([`filled`]).
pub(crate) fn fit<T: Copy + Default + Send + Sync>(list: &mut Vec<T>, n: usize) {
    if n <= list.len() {
        list.truncate(n);
    } else if n <= list.capacity() {
        list.resize(n, T::default());
    } else {
        // Freed first, so the old and the new list are never held together.
        *list = Vec::new();
        *list = filled(n);
    }
}

/// `n` default elements, written by every thread: the first write to fresh memory faults it
/// in (and has the kernel zero it), which one thread filling a large list does page by page
/// while the other cores wait.
pub(crate) fn filled<T: Copy + Default + Send + Sync>(n: usize) -> Vec<T> {
    filled_with(n, T::default())
}

/// `n` copies of `value`, written by every thread, as [`filled`].
pub(crate) fn filled_with<T: Copy + Send + Sync>(n: usize, value: T) -> Vec<T> {
    let mut list = Vec::with_capacity(n);
    list.par_extend(rayon::iter::repeat_n(value, n));
    list
}

/// `list` cut into consecutive slices of the given lengths (which sum to at most its length),
/// to be filled in parallel.
pub(crate) fn split_lengths<T>(
    mut list: &mut [T],
    lengths: impl IntoIterator<Item = usize>,
) -> Vec<&mut [T]> {
    lengths
        .into_iter()
        .map(|len| {
            let (this, rest) = std::mem::take(&mut list).split_at_mut(len);
            list = rest;
            this
        })
        .collect()
}

/// Sorts one bucket of [`sort_into`], whose hashes agree above bit `shift`: a counting sort
/// on the hash's next 8 bits, within the cache, leaves runs of an element or two to sort.
/// `tmp` is scratch space, reused from bucket to bucket.
fn sort_bucket<T: Hashed>(b: &mut [T], shift: u32, tmp: &mut Vec<T>) {
    if b.len() <= 32 || shift < 8 {
        b.sort_unstable();
        return;
    }
    let sub = shift - 8;
    let digit = |r: &T| ((r.hash() >> sub) & 0xff) as usize;
    let mut start = [0usize; 257];
    for r in b.iter() {
        start[digit(r) + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    tmp.clear();
    tmp.resize(b.len(), T::default());
    let mut at = start;
    for r in b.iter() {
        let d = digit(r);
        tmp[at[d]] = *r;
        at[d] += 1;
    }
    for d in 0..256 {
        let run = &mut tmp[start[d]..start[d + 1]];
        if run.len() > 1 {
            run.sort_unstable();
        }
    }
    b.copy_from_slice(tmp);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_bucket_sorts_as_the_standard_sort_does(
            rows in prop::collection::vec((any::<u64>(), 0u64..4, 0u32..4, 0u32..4), 0..700),
            shift in prop::sample::select(vec![48u32, 52, 56]),
        ) {
            // Hashes that agree above `shift`, spread below it or crowded into a few values.
            let rows: Vec<(u64, u32, u32)> = rows
                .into_iter()
                .map(|(low, few, a, b)| {
                    let low = if low % 2 == 0 { low } else { few << (shift - 8) };
                    ((7u64 << shift) | (low & ((1u64 << shift) - 1)), a, b)
                })
                .collect();
            let mut expected = rows.clone();
            expected.sort_unstable();
            let mut got = rows;
            sort_bucket(&mut got, shift, &mut vec![(0, 0, 0); 3]);
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn sort_into_equals_the_standard_sort(
            rows in prop::collection::vec((any::<u64>(), 0u32..8, 0u32..8), 0..3000),
            small_keys in any::<bool>(),
        ) {
            // Hashes spread over all 64 bits, or crowded into one bucket with many repeats.
            let rows: Vec<(u64, u32, u32)> = rows
                .into_iter()
                .map(|(h, a, b)| (if small_keys { h % 16 } else { h }, a, b))
                .collect();
            let mut expected = rows.clone();
            expected.sort_unstable();
            // Into an empty list; one left longer, holding other rows, by an earlier sort;
            // and one cut short with room left (its rows are written over, never cleared).
            let mut empty = Vec::new();
            prop_assert_eq!(sort_into(&rows, &mut empty), &expected[..]);
            let mut out = vec![(3, 1, 2); 5000];
            prop_assert_eq!(sort_into(&rows, &mut out), &expected[..]);
            out.truncate(rows.len() / 2);
            prop_assert_eq!(sort_into(&rows, &mut out), &expected[..]);
            prop_assert_eq!(out.len(), rows.len());
        }
    }

    #[test]
    fn sort_hashed_sorts_long_and_short_lists_and_leaves_memory_to_reuse() {
        // Pairs from a xorshift, a tenth of them 100 repeated hashes.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut pairs = |n: u32| -> Vec<(u64, u32)> {
            (0..n)
                .map(|i| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (
                        if i % 10 == 0 {
                            u64::from(i % 100) << 40
                        } else {
                            s
                        },
                        i,
                    )
                })
                .collect()
        };
        let sorted = |list: &[(u64, u32)]| {
            let mut v = list.to_vec();
            v.sort_unstable();
            v
        };
        // 2^17 pairs (512 buckets of 256) in a list with room for 2^18, as interning leaves
        // it (filled for every record, then the records without a value dropped).
        let mut list = Vec::with_capacity(1 << 18);
        list.extend(pairs(1 << 17));
        let expected = sorted(&list);
        let mut spare = Vec::new();
        sort_hashed(&mut list, &mut spare);
        assert_eq!(list, expected);
        assert!(
            list.capacity() >= 1 << 18 && spare.capacity() >= 1 << 18,
            "both lists keep room for the longest list: {} and {}",
            list.capacity(),
            spare.capacity()
        );
        // A shorter list into the spare left holding the first list's (stale) pairs, then a
        // longer one: the bucket path writes over them.
        for n in [70_000, 200_000] {
            let mut next = pairs(n);
            let expected = sorted(&next);
            sort_hashed(&mut next, &mut spare);
            assert_eq!(next, expected);
        }
        // A short list is sorted in place.
        let mut short: Vec<(u64, u32)> = (0..1000).rev().map(|i| (u64::from(i) << 50, i)).collect();
        sort_hashed(&mut short, &mut spare);
        assert!(short.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(short.len(), 1000);
    }
}
