//! How to call this program again, as printed in hints and remedy
//! commands: `gradscope` when that name on `PATH` is this very binary
//! (after `cargo install --path .`), else the path it was started by
//! (`./target/release/gradscope` after `cargo build --release`), so that
//! every printed command runs as printed.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The name or path to print for this program.
pub fn program() -> &'static str {
    static PROGRAM: OnceLock<String> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let exe = std::env::current_exe().ok();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let on_path = std::env::split_paths(&path).map(|d| d.join("gradscope"));
        let cwd = std::env::current_dir().ok();
        choose(exe.as_deref(), on_path, cwd.as_deref())
    })
}

/// `command` (or a hint quoting commands) with each bare `gradscope` that
/// starts a command replaced by [`program`].
pub fn runnable(command: &str) -> String {
    with_program(command, program())
}

/// This program with `args`, runnable as printed: with `--db PATH` when
/// the store is not the default `gradscope.db`.
pub fn command(args: &[&str], db: &Path) -> String {
    let mut words = vec![quoted(program())];
    if db != Path::new(super::DEFAULT_DB) {
        words.push("--db".into());
        words.push(quoted(&db.display().to_string()));
    }
    words.extend(args.iter().map(|a| a.to_string()));
    words.join(" ")
}

/// `word` as a shell reads it: bare when it holds only safe characters,
/// else in single quotes.
fn quoted(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `gradscope` when the first `gradscope` on the path is `exe`, else
/// `exe` relative to `cwd` (`./target/release/gradscope`) or absolute.
fn choose(
    exe: Option<&Path>,
    on_path: impl Iterator<Item = PathBuf>,
    cwd: Option<&Path>,
) -> String {
    let Some(exe) = exe else {
        return "gradscope".into();
    };
    let same = |p: &Path| {
        let canon = |p: &Path| std::fs::canonicalize(p).ok();
        canon(p).is_some_and(|c| Some(c) == canon(exe))
    };
    let mut found = on_path.filter(|p| p.is_file());
    if found.next().is_some_and(|first| same(&first)) {
        return "gradscope".into();
    }
    match cwd.and_then(|c| exe.strip_prefix(c).ok()) {
        Some(rel) => format!("./{}", rel.display()),
        None => exe.display().to_string(),
    }
}

/// `text` with `gradscope` replaced by `program` where it starts a command:
/// at the start, or after a backtick.
fn with_program(text: &str, program: &str) -> String {
    if program == "gradscope" {
        return text.to_string();
    }
    let starts = text
        .strip_prefix("gradscope ")
        .map(|rest| format!("{program} {rest}"));
    let text = starts.unwrap_or_else(|| text.to_string());
    text.replace("`gradscope ", &format!("`{program} "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_start_with_the_program_that_can_run_them() {
        let p = "./target/release/gradscope";
        assert_eq!(
            with_program("gradscope train --depth 3", p),
            "./target/release/gradscope train --depth 3"
        );
        assert_eq!(
            with_program("see `gradscope train --help` and `gradscope runs`", p),
            "see `./target/release/gradscope train --help` and `./target/release/gradscope runs`"
        );
        // A word that merely contains the name is left alone.
        assert_eq!(with_program("gradscope.db", p), "gradscope.db");
        assert_eq!(
            with_program("gradscope train", "gradscope"),
            "gradscope train"
        );
    }

    #[test]
    fn the_bare_name_only_when_the_path_finds_this_binary() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let exe = bin.join("gradscope");
        std::fs::write(&exe, "").unwrap();
        let other = dir.path().join("gradscope");
        std::fs::write(&other, "").unwrap();
        let path = |ps: &[&Path]| ps.iter().map(|p| p.join("gradscope")).collect::<Vec<_>>();
        // On the path: the bare name.
        let found = choose(Some(&exe), path(&[&bin]).into_iter(), None);
        assert_eq!(found, "gradscope");
        // Another `gradscope` comes first: this one by its path, relative
        // to the working folder when inside it.
        let shadowed = choose(
            Some(&exe),
            path(&[dir.path(), &bin]).into_iter(),
            Some(dir.path()),
        );
        assert_eq!(shadowed, "./bin/gradscope");
        // Not on the path, outside the working folder: absolute.
        let absent = choose(Some(&exe), std::iter::empty(), Some(Path::new("/nowhere")));
        assert_eq!(absent, exe.display().to_string());
    }
}
