//! hochreiter1997 (being written).

use super::{Context, Outcome, Reproduction};
use crate::error::{Error, Result};

/// The reproduction.
pub const REPRODUCTION: Reproduction = Reproduction {
    name: "hochreiter1997",
    paper: "hochreiter1997",
    shows: "hochreiter1997",
    quick_seconds: 1,
    full_seconds: 2,
    run,
};

fn run(_ctx: &mut Context<'_>) -> Result<Outcome> {
    Err(Error::InvalidConfig {
        field: "reproduce".into(),
        reason: "not written yet".into(),
    })
}
