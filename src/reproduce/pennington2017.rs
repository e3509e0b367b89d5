//! pennington2017 (being written).

use super::{Context, Outcome, Reproduction};
use crate::error::{Error, Result};

/// The reproduction.
pub const REPRODUCTION: Reproduction = Reproduction {
    name: "pennington2017",
    paper: "pennington2017",
    shows: "pennington2017",
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
