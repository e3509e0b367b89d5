//! `gradscope bench`: see the library's `bench` module.

use clap::Args;

/// Arguments of `gradscope bench`.
#[derive(Args)]
pub struct BenchArgs {}

pub fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet implemented")
}
