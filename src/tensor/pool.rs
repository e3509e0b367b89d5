//! Running a computation with a given number of GEMM threads.
//!
//! The GEMM's parallel products run on rayon. Driving them from inside a
//! rayon pool of `n` threads makes the calling thread one of the workers;
//! calling from outside parks it and wakes others for every product (see
//! `bench::workload`). So training runs inside such a pool.

use super::{max_threads, set_max_threads};

/// Parameter entries in all below which a pass over every parameter (an
/// optimizer update, clearing gradients) stays on one thread.
const PARAM_PASS_PARALLEL_MIN: usize = 1 << 16;

/// Whether a pass over parameters holding `entries` values in all runs one
/// parameter per task: with more than one thread allowed and enough work
/// (these passes are memory-bound, and two cores move more than one).
pub fn param_pass_in_parallel(entries: usize) -> bool {
    max_threads() > 1 && entries >= PARAM_PASS_PARALLEL_MIN
}

/// Serializes the tests that change the process-wide product settings
/// (thread limit, backend) or need them to hold: the harness runs tests
/// on parallel threads of one process.
#[cfg(test)]
pub(crate) fn settings_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The number of threads a run uses by default: the machine's cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `f` with products on up to `threads` threads (restoring the
/// previous limit afterwards).
///
/// # Panics
/// When a thread pool cannot be created.
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    let threads = threads.max(1);
    let saved = max_threads();
    set_max_threads(threads);
    let result = if threads > 1 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a rayon thread pool")
            .install(f)
    } else {
        f()
    };
    set_max_threads(saved);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_and_restores_the_limit() {
        let _settings = settings_lock();
        let before = max_threads();
        assert_eq!(with_threads(2, max_threads), 2);
        assert_eq!(max_threads(), before);
    }
}
