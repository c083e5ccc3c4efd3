//! Bounded "k smallest" selection.
//!
//! Keeps the k pairs `(d, id)` that are smallest in the lexicographic order
//! `(d, id)` (distance first, ties broken by the smaller id), using a max-heap of
//! size ≤ k: a new pair enters iff fewer than k are held or it is smaller than the
//! current maximum, which it then replaces. O(log k) per accepted pair, O(1) per
//! rejected one.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::Neighbours;

/// `(distance, id)` ordered by `f32::total_cmp` on the distance, then by id.
#[derive(Clone, Copy, Debug)]
struct Entry(f32, u32);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// The k smallest `(distance, id)` pairs seen so far.
#[derive(Clone, Debug)]
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
    /// Current maximum when full (`+inf` otherwise): quick rejection test.
    worst: f32,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
            worst: f32::INFINITY,
        }
    }

    /// Offers a pair, keeping the k smallest; returns whether it was kept (a kept
    /// pair may be evicted later).
    #[inline]
    pub(crate) fn push(&mut self, d: f32, id: u32) -> bool {
        // Fast rejection: strictly worse than the current worst. (Equal distances
        // must still be compared by id, and NaN goes through the total order.)
        if d > self.worst || self.k == 0 {
            return false;
        }
        let e = Entry(d, id);
        if self.heap.len() < self.k {
            self.heap.push(e);
        } else if let Some(mut top) = self.heap.peek_mut() {
            if e < *top {
                *top = e;
            } else {
                return false;
            }
        }
        if self.heap.len() == self.k {
            if let Some(top) = self.heap.peek() {
                self.worst = top.0;
            }
        }
        true
    }

    /// Number of pairs held (at most k).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Merges another selection into this one.
    pub(crate) fn merge(&mut self, other: TopK) {
        for e in other.heap {
            self.push(e.0, e.1);
        }
    }

    /// The selection sorted ascending by `(distance, id)`.
    pub(crate) fn into_neighbours(self) -> Neighbours {
        let v = self.heap.into_sorted_vec();
        Neighbours {
            ids: v.iter().map(|e| e.1).collect(),
            dists: v.iter().map(|e| e.0).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_k_smallest_with_id_ties() {
        let mut t = TopK::new(3);
        for (d, id) in [(1.0, 5), (0.5, 9), (1.0, 2), (3.0, 1), (1.0, 0), (0.5, 10)] {
            t.push(d, id);
        }
        let n = t.into_neighbours();
        assert_eq!(n.ids, vec![9, 10, 0]);
        assert_eq!(n.dists, vec![0.5, 0.5, 1.0]);
    }

    #[test]
    fn k_zero_and_merge() {
        let mut t = TopK::new(0);
        t.push(1.0, 1);
        assert!(t.into_neighbours().ids.is_empty());
        let mut a = TopK::new(2);
        a.push(2.0, 1);
        a.push(3.0, 2);
        let mut b = TopK::new(2);
        b.push(1.0, 7);
        b.push(2.0, 0);
        a.merge(b);
        assert_eq!(a.into_neighbours().ids, vec![7, 0]);
    }
}
