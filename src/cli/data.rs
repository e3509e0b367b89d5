//! `gradscope data fetch SET`: download a canonical set into the cache.

use clap::{Args, Subcommand, ValueEnum};
use gradscope::data::fetch::{cache_dir, fetch_with, CanonicalSet, FetchEvent};
use std::path::PathBuf;

/// Arguments of `gradscope data`.
#[derive(Args, Debug)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// Download a canonical IDX set (verified by checksum) into the cache; prints its folder.
    Fetch {
        /// Which set.
        set: SetName,
        /// Cache folder (default: $GRADSCOPE_CACHE, else the platform cache dir).
        #[arg(long)]
        cache: Option<PathBuf>,
        /// A mirror serving the same file names, instead of the default server.
        #[arg(long)]
        mirror: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SetName {
    Mnist,
    Fashion,
}

/// Runs `gradscope data`.
pub fn run(args: DataArgs) -> anyhow::Result<()> {
    match args.command {
        DataCommand::Fetch { set, cache, mirror } => {
            let set = match set {
                SetName::Mnist => CanonicalSet::Mnist,
                SetName::Fashion => CanonicalSet::FashionMnist,
            };
            let root = cache.unwrap_or_else(cache_dir);
            let paths = fetch_with(set, &root, mirror.as_deref(), &mut |event| match event {
                FetchEvent::Cached { name, .. } => eprintln!("{name}: cached, checksum ok"),
                FetchEvent::Downloading { name, url, .. } => eprintln!("{name}: downloading {url}"),
                FetchEvent::Saved { name, .. } => eprintln!("{name}: verified"),
                FetchEvent::Progress { .. } => {}
            })?;
            if let Some(dir) = paths.first().and_then(|p| p.parent()) {
                println!("{}", dir.display());
                eprintln!(
                    "hint: train on it with `{} train --data-dir {}`",
                    super::program::program(),
                    dir.display()
                );
            }
            Ok(())
        }
    }
}
