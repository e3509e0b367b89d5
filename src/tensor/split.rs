//! Work split in halves across the threads of the current rayon pool.
//!
//! Every parallel pass in gradscope (an activation over a batch, a tapped
//! pass measuring as it goes, BatchNorm's per-feature sums, the GEMM's
//! tiles, a transpose) has the same shape: while threads remain and the
//! work is large enough, cut it in two at a multiple of a grain, run the
//! halves with `rayon::join` (half the threads each), and merge the two
//! results in order. [`in_halves`] is that recursion, written once.
//!
//! ```text
//! parts (len entries, ways threads)
//!   ways >= 2, len >= min  -> halve at mid (a multiple of grain)
//!                             join(in_halves(first, ways/2), in_halves(second, ways - ways/2))
//!                             merge(first result, second result)
//!   otherwise              -> leaf(parts, offset of its first entry)
//! ```
//!
//! The split never changes a value a leaf computes (each entry is computed
//! by one leaf, with the same code): only sums merged across halves can
//! round differently, and they are merged in a fixed order.
//!
//! ```
//! use gradscope::tensor::{in_halves, Split};
//! let x: Vec<f64> = (0..100_000).map(|i| i as f64).collect();
//! let mut y = vec![0.0; x.len()];
//! let split = Split::new(x.len(), 16, 2).min(1 << 14);
//! let sum = in_halves(
//!     (&x[..], &mut y[..]),
//!     split,
//!     &|(x, y): (&[f64], &mut [f64]), _offset| {
//!         y.iter_mut().zip(x).for_each(|(y, x)| *y = 2.0 * x);
//!         y.iter().sum::<f64>()
//!     },
//!     &|a, b| a + b,
//! );
//! assert_eq!(sum, 99_999.0 * 100_000.0);
//! ```

use std::ops::Range;

/// Entries below which a memory-bound pass (an activation, BatchNorm's
/// passes, statistics, a transpose) stays on one thread: waking the other
/// worker costs a few microseconds, and a sigmoid over 16K entries takes
/// about 10. One threshold for all of them.
pub const PARALLEL_MIN: usize = 1 << 14;

/// Something that can be cut in two at an entry index: a slice, a range,
/// or a tuple of them cut at the same index.
pub trait Halve: Sized + Send {
    /// The first `mid` entries and the rest.
    fn halve(self, mid: usize) -> (Self, Self);
}

impl<T: Sync> Halve for &[T] {
    fn halve(self, mid: usize) -> (Self, Self) {
        self.split_at(mid)
    }
}

impl<T: Send> Halve for &mut [T] {
    fn halve(self, mid: usize) -> (Self, Self) {
        self.split_at_mut(mid)
    }
}

impl Halve for Range<usize> {
    fn halve(self, mid: usize) -> (Self, Self) {
        let at = self.start + mid;
        (self.start..at, at..self.end)
    }
}

impl<A: Halve, B: Halve> Halve for (A, B) {
    fn halve(self, mid: usize) -> (Self, Self) {
        let ((a1, a2), (b1, b2)) = (self.0.halve(mid), self.1.halve(mid));
        ((a1, b1), (a2, b2))
    }
}

impl<A: Halve, B: Halve, C: Halve> Halve for (A, B, C) {
    fn halve(self, mid: usize) -> (Self, Self) {
        let ((a1, a2), (b1, b2)) = (self.0.halve(mid), self.1.halve(mid));
        let (c1, c2) = self.2.halve(mid);
        ((a1, b1, c1), (a2, b2, c2))
    }
}

impl<A: Halve, B: Halve, C: Halve, D: Halve> Halve for (A, B, C, D) {
    fn halve(self, mid: usize) -> (Self, Self) {
        let ((a1, a2), (b1, b2)) = (self.0.halve(mid), self.1.halve(mid));
        let ((c1, c2), (d1, d2)) = (self.2.halve(mid), self.3.halve(mid));
        ((a1, b1, c1, d1), (a2, b2, c2, d2))
    }
}

/// A mutable slice of rows, `width` entries each, cut at a row index: the
/// parts of an output whose entries are whole rows (our kernel's
/// transposed copy, one row per column of its source).
pub struct Rows<'a, T> {
    data: &'a mut [T],
    width: usize,
}

impl<'a, T> Rows<'a, T> {
    /// `data` as rows of `width` entries.
    pub fn new(data: &'a mut [T], width: usize) -> Self {
        Self { data, width }
    }

    /// The entries, row after row.
    pub fn into_slice(self) -> &'a mut [T] {
        self.data
    }
}

impl<T: Send> Halve for Rows<'_, T> {
    fn halve(self, mid: usize) -> (Self, Self) {
        let width = self.width;
        let (a, b) = self.data.split_at_mut(mid * width);
        (Self { data: a, width }, Self { data: b, width })
    }
}

/// How a piece of work may be split: its length in entries, the grain a
/// cut must fall on, the threads it may use, and the least length worth a
/// second thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// Entries in the work.
    pub len: usize,
    /// Cuts fall on multiples of this (a row's width, a SIMD block).
    pub grain: usize,
    /// Threads the work may use.
    pub ways: usize,
    /// Below this many entries the work stays on one thread.
    pub min: usize,
}

impl Split {
    /// `len` entries cut on multiples of `grain`, on up to `ways` threads,
    /// split down to single grains (see [`Split::min`]).
    pub fn new(len: usize, grain: usize, ways: usize) -> Self {
        Self {
            len,
            grain: grain.max(1),
            ways,
            min: 2,
        }
    }

    /// `len` entries on the current rayon pool's threads
    /// (`rayon::current_num_threads()`: 1 inside a one-thread pool).
    pub fn on_pool(len: usize, grain: usize) -> Self {
        Self::new(len, grain, rayon::current_num_threads())
    }

    /// Keeps work shorter than `min` entries on one thread.
    pub fn min(mut self, min: usize) -> Self {
        self.min = min;
        self
    }

    /// Where to cut: about half-way, on a multiple of the grain; `None`
    /// when the work stays whole (one thread left, too short, or no cut
    /// inside it).
    pub fn cut(&self) -> Option<usize> {
        if self.ways < 2 || self.len < self.min.max(2) {
            return None;
        }
        let mid = (self.len / 2).next_multiple_of(self.grain);
        (mid > 0 && mid < self.len).then_some(mid)
    }
}

/// Runs `leaf` over `parts` cut in halves while [`Split::cut`] says so,
/// the halves in parallel (`rayon::join`), and merges their results in
/// order: `merge(first, second)`. `leaf` gets its parts and the offset of
/// their first entry in the whole.
pub fn in_halves<P, R, L, M>(parts: P, split: Split, leaf: &L, merge: &M) -> R
where
    P: Halve,
    R: Send,
    L: Fn(P, usize) -> R + Sync,
    M: Fn(R, R) -> R + Sync,
{
    run(parts, split, 0, leaf, merge)
}

fn run<P, R, L, M>(parts: P, split: Split, offset: usize, leaf: &L, merge: &M) -> R
where
    P: Halve,
    R: Send,
    L: Fn(P, usize) -> R + Sync,
    M: Fn(R, R) -> R + Sync,
{
    let Some(mid) = split.cut() else {
        return leaf(parts, offset);
    };
    let (first, second) = parts.halve(mid);
    let half = split.ways / 2;
    let (a, b) = rayon::join(
        || {
            let s = Split {
                len: mid,
                ways: half,
                ..split
            };
            run(first, s, offset, leaf, merge)
        },
        || {
            let s = Split {
                len: split.len - mid,
                ways: split.ways - half,
                ..split
            };
            run(second, s, offset + mid, leaf, merge)
        },
    );
    merge(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Leaves as (offset, len) pairs, in order.
    fn leaves(split: Split) -> Vec<(usize, usize)> {
        in_halves(
            0..split.len,
            split,
            &|r: Range<usize>, off| {
                assert_eq!(r.start, off);
                vec![(off, r.len())]
            },
            &|mut a, b| {
                a.extend(b);
                a
            },
        )
    }

    #[test]
    fn cuts_on_the_grain_until_one_thread_is_left() {
        // Two threads: one cut, on a multiple of 10.
        assert_eq!(leaves(Split::new(95, 10, 2)), [(0, 50), (50, 45)]);
        // Four threads: two levels of cuts.
        assert_eq!(
            leaves(Split::new(100, 5, 4)),
            [(0, 25), (25, 25), (50, 25), (75, 25)]
        );
        // Three threads: one and two.
        assert_eq!(leaves(Split::new(64, 1, 3)), [(0, 32), (32, 16), (48, 16)]);
        // One thread, or too short, or no cut inside: whole.
        assert_eq!(leaves(Split::new(100, 10, 1)), [(0, 100)]);
        assert_eq!(leaves(Split::new(100, 10, 2).min(101)), [(0, 100)]);
        assert_eq!(leaves(Split::new(7, 8, 2)), [(0, 7)]);
        assert_eq!(leaves(Split::new(0, 1, 2)), [(0, 0)]);
    }

    #[test]
    fn tuples_are_cut_at_the_same_entry() {
        let a: Vec<u32> = (0..40).collect();
        let mut b = [0u32; 40];
        let n = in_halves(
            (&a[..], &mut b[..]),
            Split::new(40, 4, 2),
            &|(a, b): (&[u32], &mut [u32]), off| {
                for (i, (x, y)) in a.iter().zip(b.iter_mut()).enumerate() {
                    assert_eq!(*x as usize, off + i);
                    *y = x + 1;
                }
                a.len()
            },
            &|x, y| x + y,
        );
        assert_eq!(n, 40);
        assert!(b.iter().enumerate().all(|(i, &v)| v as usize == i + 1));
    }

    #[test]
    fn rows_are_cut_at_a_row_index() {
        let mut data: Vec<usize> = vec![0; 5 * 3];
        in_halves(
            (0..5, Rows::new(&mut data[..], 3)),
            Split::new(5, 1, 2),
            &|(rows, part): (Range<usize>, Rows<'_, usize>), _| {
                let part = part.into_slice();
                assert_eq!(part.len(), 3 * rows.len());
                for (i, chunk) in part.chunks_mut(3).enumerate() {
                    chunk.fill(rows.start + i);
                }
            },
            &|(), ()| (),
        );
        assert_eq!(data, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    }

    #[test]
    fn the_pool_size_sets_the_ways() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| Split::on_pool(10, 1).ways), 1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| Split::on_pool(10, 1).ways), 2);
    }
}
