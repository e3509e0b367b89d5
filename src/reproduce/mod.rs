//! Reproductions: the classic results on vanishing and exploding
//! gradients, re-run by gradscope with our figures beside the papers'.
//!
//! Each [`Reproduction`] is a function of a [`Context`]: it runs its sweep
//! specs (`reproductions/<name>.toml`, and `reproductions/quick/` for the
//! quick mode, both embedded in the binary and runnable on their own with
//! `gradscope sweep`) or its at-initialization measurements, then reads the
//! runs back and returns an [`Outcome`]: the setup (ours against the
//! paper's, every reduction stated), tables with the paper's figures beside
//! ours, the [`Check`]s of what the paper shows (orderings and signs, never
//! exact figures), and figures.
//!
//! Runs are recorded in the store like any sweep, so a reproduction that is
//! run again resumes: finished runs are read back, not trained again.
//!
//! ```text
//! reproductions/*.toml --sweep--> store --load--> RunRecords --measure--> Outcome
//!                                                                  (tables, checks, figures)
//! ```

mod context;
mod format;
mod outcome;
mod page;

pub mod glorot2010;
pub mod he2015;
pub mod he2016;
pub mod hochreiter1997;
pub mod ioffe2015;
pub mod le2015;
pub mod pennington2017;
pub mod schoenholz2017;

pub use context::{Context, Mode, Progress, SweepFile, SweepResult, SweptRun};
pub use outcome::{Check, Outcome, Table};
pub use page::render_page;

use crate::error::Result;

/// One classic result and how we re-run it.
pub struct Reproduction {
    /// Its name on the command line (`glorot2010`).
    pub name: &'static str,
    /// The paper: authors, year, title.
    pub paper: &'static str,
    /// What it shows, in one sentence.
    pub shows: &'static str,
    /// Wall time of the quick mode on 2 cores (`--jobs 2`), in seconds,
    /// as measured for docs/REPRODUCTIONS.md.
    pub quick_seconds: u32,
    /// Wall time of the full mode on 2 cores, in seconds.
    pub full_seconds: u32,
    /// Runs it.
    pub run: fn(&mut Context<'_>) -> Result<Outcome>,
}

/// Every reproduction, in the order of docs/REPRODUCTIONS.md.
pub const ALL: [&Reproduction; 8] = [
    &glorot2010::REPRODUCTION,
    &ioffe2015::REPRODUCTION,
    &he2015::REPRODUCTION,
    &he2016::REPRODUCTION,
    &schoenholz2017::REPRODUCTION,
    &pennington2017::REPRODUCTION,
    &hochreiter1997::REPRODUCTION,
    &le2015::REPRODUCTION,
];

/// The reproduction named `name`.
pub fn find(name: &str) -> Option<&'static Reproduction> {
    ALL.iter().copied().find(|r| r.name == name)
}

impl Reproduction {
    /// Runs it in `ctx` and stamps the outcome with its name, paper, mode
    /// and wall time.
    pub fn reproduce(&self, ctx: &mut Context<'_>) -> Result<Outcome> {
        let started = std::time::Instant::now();
        let mut outcome = (self.run)(ctx)?;
        outcome.name = self.name.into();
        outcome.paper = self.paper.into();
        outcome.mode = ctx.mode;
        outcome.seconds = started.elapsed().as_secs_f64();
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for r in ALL {
            assert_eq!(find(r.name).map(|f| f.name), Some(r.name));
            assert!(r.quick_seconds < r.full_seconds, "{}", r.name);
        }
        assert!(find("nobody2099").is_none());
    }
}
