//! Lock-free union-find over `u32` element ids, shared between rayon workers.
//!
//! Unions link the larger root under the smaller one, so the final partition (and every
//! root) is the same whatever order the unions arrive in — which is what makes the parallel
//! linker deterministic.

use std::sync::atomic::{AtomicU32, Ordering};

/// A disjoint-set forest safe to use from many threads at once.
#[derive(Debug)]
pub struct ConcurrentUnionFind {
    parent: Vec<AtomicU32>,
}

impl ConcurrentUnionFind {
    /// `n` singleton sets `0..n`.
    pub fn new(n: usize) -> Self {
        ConcurrentUnionFind {
            parent: (0..n as u32).map(AtomicU32::new).collect(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// The root of `x`'s set, halving the path on the way.
    pub fn find(&self, mut x: u32) -> u32 {
        loop {
            let p = self.parent[x as usize].load(Ordering::Relaxed);
            if p == x {
                return x;
            }
            let gp = self.parent[p as usize].load(Ordering::Relaxed);
            if gp != p {
                // Path halving; losing the race only means the path stays longer.
                let _ = self.parent[x as usize].compare_exchange_weak(
                    p,
                    gp,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            x = gp;
        }
    }

    /// Merges the sets of `a` and `b`. Returns whether they were apart.
    pub fn union(&self, a: u32, b: u32) -> bool {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        loop {
            if ra == rb {
                return false;
            }
            let (hi, lo) = if ra > rb { (ra, rb) } else { (rb, ra) };
            match self.parent[hi as usize].compare_exchange(
                hi,
                lo,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(_) => {
                    // Someone re-parented `hi` meanwhile; start again from the new roots.
                    ra = self.find(hi);
                    rb = self.find(lo);
                }
            }
        }
    }

    /// Root of every element; roots are the smallest element of each set.
    pub fn roots(&self) -> Vec<u32> {
        use rayon::prelude::*;
        (0..self.parent.len() as u32)
            .into_par_iter()
            .map(|x| self.find(x))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn parallel_unions_give_smallest_element_as_root() {
        let uf = ConcurrentUnionFind::new(10_000);
        // Chain odd numbers together and even numbers together, from many threads.
        (2..10_000u32).into_par_iter().for_each(|i| {
            uf.union(i, i - 2);
        });
        let roots = uf.roots();
        for (i, r) in roots.iter().enumerate() {
            assert_eq!(*r, (i % 2) as u32);
        }
        assert!(!uf.union(4, 8));
        assert!(uf.union(0, 1));
        assert_eq!(uf.find(9_999), 0);
    }
}
