//! Threads: the rayon pool a computation runs in decides how many threads
//! its products and passes use, and the SIMD level their code runs
//! (`super::simd`).
//!
//! There is no process-wide thread setting. [`max_threads`] is the size of
//! the current rayon pool (`rayon::current_num_threads()`): inside
//! [`with_threads`]`(n, ..)` it is `n`; outside any pool it is rayon's
//! global pool (one thread per core unless `RAYON_NUM_THREADS` says
//! otherwise). Two runs in one process, each in its own pool, each see
//! their own count.
//!
//! Driving the GEMM's parallel products from inside the pool makes the
//! calling thread one of the workers; calling from outside parks it and
//! wakes others for every product (see `bench::workload`). So a run
//! executes inside its pool.

use super::simd::{set_thread_level, simd, Simd};

/// Parameter entries in all below which a pass over every parameter (an
/// optimizer update, clearing gradients) stays on one thread.
const PARAM_PASS_PARALLEL_MIN: usize = 1 << 16;

/// The most threads one product or pass may use: the size of the rayon
/// pool the caller runs in (module doc).
pub fn max_threads() -> usize {
    rayon::current_num_threads()
}

/// Whether a pass over parameters holding `entries` values in all runs one
/// parameter per task: with more than one thread in the pool and enough
/// work (these passes are memory-bound, and two cores move more than one).
pub fn param_pass_in_parallel(entries: usize) -> bool {
    max_threads() > 1 && entries >= PARAM_PASS_PARALLEL_MIN
}

/// The number of threads a run uses by default: the machine's cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where a run or a benchmark computes: how many threads, at which SIMD
/// level (`super::simd`). It builds the pool the work runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compute {
    /// Threads in the pool (at least 1 is used).
    pub threads: usize,
    /// The SIMD level the pool's code runs (lowered to the machine's).
    pub simd: Simd,
}

impl Compute {
    /// `threads` threads at the caller's SIMD level ([`simd`]: the
    /// machine's outside any pool).
    pub fn threads(threads: usize) -> Self {
        Self {
            threads,
            simd: simd(),
        }
    }

    /// These threads at `level` instead.
    pub fn at(self, level: Simd) -> Self {
        Self {
            simd: level,
            ..self
        }
    }

    /// A new pool of these threads at this level ([`pool`]).
    ///
    /// # Panics
    /// When a thread pool cannot be created.
    pub fn pool(self) -> rayon::ThreadPool {
        pool(self.threads, self.simd)
    }

    /// Runs `f` in a new pool of these threads at this level
    /// ([`with_pool`]).
    ///
    /// # Panics
    /// As [`with_threads`].
    pub fn install<R: Send>(self, f: impl FnOnce() -> R + Send) -> R {
        with_pool(self.threads, self.simd, f)
    }
}

/// Runs `f` in a new rayon pool of `threads` threads (at least 1), so that
/// everything `f` computes uses up to that many ([`max_threads`] is
/// `threads` inside, also for one thread), at the caller's SIMD level.
/// Nothing outside the pool changes, so nothing is restored.
///
/// The pool is built per call: once per run, about 60 us at one thread
/// (docs/PERFORMANCE.md), against 0.3 ms for one step of the smallest
/// benchmark shape.
///
/// # Panics
/// When a thread pool cannot be created, or when `f` panics.
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    with_pool(threads, simd(), f)
}

/// [`with_threads`] at SIMD level `level` (lowered to the machine's):
/// everything `f` computes runs that level's builds.
///
/// # Panics
/// As [`with_threads`].
pub fn with_pool<R: Send>(threads: usize, level: Simd, f: impl FnOnce() -> R + Send) -> R {
    pool(threads, level).install(f)
}

/// A rayon pool of `threads` threads (at least 1) whose workers run SIMD
/// level `level` (lowered to the machine's), for callers that keep a pool
/// across calls (the benchmarks).
///
/// # Panics
/// When a thread pool cannot be created.
pub fn pool(threads: usize, level: Simd) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .start_handler(move |_| set_thread_level(level))
        .build()
        .expect("a rayon thread pool")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[test]
    fn the_count_is_the_pools_and_nothing_outside_changes() {
        let outside = max_threads();
        assert_eq!(with_threads(1, max_threads), 1);
        assert_eq!(with_threads(2, max_threads), 2);
        assert_eq!(with_threads(0, max_threads), 1, "at least one thread");
        // Nested: the inner pool's size, and the outer one's again after.
        assert_eq!(
            with_threads(2, || (with_threads(1, max_threads), max_threads())),
            (1, 2)
        );
        assert_eq!(max_threads(), outside);
        assert_eq!(outside, rayon::current_num_threads());
    }

    /// Two OS threads, one in a 1-thread pool and one in a 3-thread pool,
    /// read their counts while both pools are open (a barrier holds them
    /// together): each sees its own. A process-wide setting would show
    /// one of them the other's value.
    #[test]
    fn concurrent_pools_each_see_their_own_count() {
        let both_in = Barrier::new(2);
        let read = |threads: usize| {
            with_threads(threads, || {
                let before = max_threads();
                both_in.wait();
                let after = max_threads();
                both_in.wait();
                (before, after, param_pass_in_parallel(1 << 20))
            })
        };
        let (one, three) = std::thread::scope(|s| {
            let one = s.spawn(|| read(1));
            let three = s.spawn(|| read(3));
            (one.join().unwrap(), three.join().unwrap())
        });
        assert_eq!(one, (1, 1, false));
        assert_eq!(three, (3, 3, true));
    }

    /// A pool's level reaches every worker, nested pools inherit it, and
    /// a level above the machine's is lowered to it.
    #[test]
    fn a_pools_simd_level_is_its_workers_and_nested_pools_inherit_it() {
        let outside = simd();
        assert_eq!(outside, Simd::detected());
        let seen = with_pool(2, Simd::Portable, || {
            let (a, b) = rayon::join(simd, simd);
            (a, b, with_threads(2, simd))
        });
        assert_eq!(seen, (Simd::Portable, Simd::Portable, Simd::Portable));
        assert_eq!(with_pool(1, Simd::Avx512, simd), Simd::detected());
        assert_eq!(simd(), outside, "nothing outside the pool changes");
    }
}
