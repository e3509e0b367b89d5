//! Threads: the rayon pool a computation runs in decides how many threads
//! its products and passes use.
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

/// Runs `f` in a new rayon pool of `threads` threads (at least 1), so that
/// everything `f` computes uses up to that many ([`max_threads`] is
/// `threads` inside, also for one thread). Nothing outside the pool
/// changes, so nothing is restored.
///
/// The pool is built per call (once per run: about 0.1 ms, against runs
/// of seconds; docs/PERFORMANCE.md).
///
/// # Panics
/// When a thread pool cannot be created, or when `f` panics.
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .expect("a rayon thread pool")
        .install(f)
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
}
