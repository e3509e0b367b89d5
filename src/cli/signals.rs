//! Ctrl-C and SIGTERM while `train` or `demo` trains: the first one asks
//! the trainer to stop after the step it is running (the run is
//! recorded, marked `interrupted`, and the process exits 130 or 143); a
//! second one, of either kind, exits at once (130 for SIGINT, 143 for
//! SIGTERM). Signals are the process's, so the flags are installed once
//! per process. (`sweep` installs none: a signal ends it at once, and
//! `gradscope sweep` resumes it.)

use gradscope::experiment::trainer::{Event, Sink};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Which stop signals have arrived.
struct Flags {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
}

/// The handlers: a conditional shutdown on either signal once any has
/// arrived, then the flags.
fn register(int: &Arc<AtomicBool>, term: &Arc<AtomicBool>) -> std::io::Result<()> {
    let any = Arc::new(AtomicBool::new(false));
    // The conditional shutdowns first: they exit only when a signal
    // arrived before this one.
    flag::register_conditional_shutdown(SIGINT, 130, Arc::clone(&any))?;
    flag::register_conditional_shutdown(SIGTERM, 143, Arc::clone(&any))?;
    for (signal, own) in [(SIGINT, int), (SIGTERM, term)] {
        flag::register(signal, Arc::clone(own))?;
        flag::register(signal, Arc::clone(&any))?;
    }
    Ok(())
}

static FLAGS: OnceLock<Option<Flags>> = OnceLock::new();

/// Installs the handlers (once); `None` where they cannot be installed
/// (training then runs as before, and a signal ends the process).
fn flags() -> Option<&'static Flags> {
    FLAGS
        .get_or_init(|| {
            let (int, term) = (
                Arc::new(AtomicBool::new(false)),
                Arc::new(AtomicBool::new(false)),
            );
            register(&int, &term).ok().map(|()| Flags { int, term })
        })
        .as_ref()
}

/// Installs the handlers, so that a signal from now on stops training
/// gracefully.
pub fn install() {
    let _ = flags();
}

/// Whether a stop signal has arrived.
pub fn stop_requested() -> bool {
    flags().is_some_and(|f| f.int.load(Ordering::Relaxed) || f.term.load(Ordering::Relaxed))
}

/// The exit code for a run stopped by a signal: 143 after SIGTERM, else
/// 130 (SIGINT).
pub fn exit_code() -> u8 {
    match flags() {
        Some(f) if f.term.load(Ordering::Relaxed) => 143,
        _ => 130,
    }
}

/// A sink that passes events on to `inner` and asks training to stop once
/// a stop signal has arrived.
pub struct Stoppable<S>(pub S);

impl<S: Sink> Sink for Stoppable<S> {
    fn event(&mut self, event: &Event<'_>) {
        self.0.event(event);
    }

    fn stop_requested(&self) -> bool {
        stop_requested()
    }
}
