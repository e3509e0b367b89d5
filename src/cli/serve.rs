//! `gradscope serve`: the dashboard in the browser, over the store, read
//! only (docs/API.md). Loopback by default; another address needs
//! `--allow-remote` and prints a warning.

use super::record::check_exists;
use clap::Args;
use gradscope::serve::{serve, Bind};
use std::net::IpAddr;
use std::path::Path;

/// Arguments of `gradscope serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The port (0: any free one, printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The address to listen on. Anything but loopback needs
    /// --allow-remote: the dashboard has no authentication.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Allow a --host other than loopback (anyone who can reach it can
    /// read every run).
    #[arg(long)]
    pub allow_remote: bool,
    /// Open the dashboard in the default browser once it listens.
    #[arg(long)]
    pub open: bool,
}

/// Runs `gradscope serve`.
pub fn run(args: ServeArgs, db: &Path) -> anyhow::Result<()> {
    check_exists(db)?;
    let bind = Bind {
        host: args.host,
        port: args.port,
        allow_remote: args.allow_remote,
    };
    if !bind.host.is_loopback() && bind.allow_remote {
        eprintln!(
            "warning: serving on {} with no authentication: anyone who can reach this \
             port can read every run in {}",
            bind.host,
            db.display()
        );
    }
    let db_text = db.display().to_string();
    let db_name = super::output::printable(&db_text);
    serve(db, bind, |addr| {
        let url = format!("http://{addr}/");
        println!("gradscope serve: {url} (store {db_name}, read only; Ctrl-C stops)");
        if args.open {
            open_browser(&url);
        }
    })
}

/// Opens `url` with the desktop's opener; says so when there is none.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let opened = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if opened.is_err() {
        eprintln!("could not start `{opener}`: open {url} in a browser");
    }
}
