//! `gradscope data fetch SET`: download a canonical set into the cache.

use clap::{Args, Subcommand, ValueEnum};
use gradscope::data::fetch::{cache_dir, fetch_cifar10, fetch_with, CanonicalSet, FetchEvent};
use std::path::PathBuf;

/// Arguments of `gradscope data`.
#[derive(Args, Debug)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// Download a canonical set (verified by checksum) into the cache; prints its folder.
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
    /// MNIST's four IDX files (for --data-dir).
    Mnist,
    /// Fashion-MNIST's four IDX files (for --data fashion --data-dir).
    Fashion,
    /// CIFAR-10's binary version (163 MB), unpacked into the cache.
    Cifar10,
}

fn show(event: FetchEvent<'_>) {
    match event {
        FetchEvent::Cached { name, .. } => eprintln!("{name}: cached, checksum ok"),
        FetchEvent::Downloading { name, url, .. } => eprintln!("{name}: downloading {url}"),
        FetchEvent::Saved { name, .. } => eprintln!("{name}: verified"),
        FetchEvent::Unpacked { name, .. } => eprintln!("{name}: unpacked"),
        FetchEvent::Progress { .. } => {}
    }
}

/// Runs `gradscope data`.
pub fn run(args: DataArgs) -> anyhow::Result<()> {
    match args.command {
        DataCommand::Fetch { set, cache, mirror } => {
            let root = cache.unwrap_or_else(cache_dir);
            let program = super::program::program();
            let set = match set {
                SetName::Mnist => CanonicalSet::Mnist,
                SetName::Fashion => CanonicalSet::FashionMnist,
                SetName::Cifar10 => {
                    let dir = fetch_cifar10(&root, mirror.as_deref(), &mut show)?;
                    println!("{}", dir.display());
                    // `--data cifar10` reads the default cache by itself.
                    let found = dir == gradscope::data::cifar10::default_dir();
                    let flag = if found {
                        String::new()
                    } else {
                        format!(" --data-dir {}", dir.display())
                    };
                    eprintln!("hint: train on it with `{program} train --data cifar10{flag}`");
                    return Ok(());
                }
            };
            let paths = fetch_with(set, &root, mirror.as_deref(), &mut show)?;
            if let Some(dir) = paths.first().and_then(|p| p.parent()) {
                println!("{}", dir.display());
                eprintln!(
                    "hint: train on it with `{program} train --data {} --data-dir {}`",
                    data_name(set),
                    dir.display()
                );
            }
            Ok(())
        }
    }
}

/// The `--data` name that reads `set`'s files.
fn data_name(set: CanonicalSet) -> &'static str {
    match set {
        CanonicalSet::Mnist => "mnist",
        CanonicalSet::FashionMnist => "fashion",
    }
}
