//! The repository stands alone: a user's clone has nothing beside it, so
//! no README, doc, script, example or source file points outside it.

use std::path::Path;

/// Every text file under `dir` with one of `exts`, recursively.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, exts, out);
        } else if path
            .extension()
            .is_some_and(|e| exts.iter().any(|x| e == *x))
        {
            out.push(path);
        }
    }
}

#[test]
fn nothing_points_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = vec![root.join("README.md")];
    for dir in ["docs", "src", "scripts", "examples", "tests"] {
        files(&root.join(dir), &["md", "rs", "py", "toml"], &mut all);
    }
    // Spelled in parts so this file does not match itself.
    let outside = [format!("../{}", "shared"), format!("{}.md", "DESIGN")];
    let mut found = Vec::new();
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        for (i, line) in text.lines().enumerate() {
            if outside.iter().any(|o| line.contains(o.as_str())) {
                found.push(format!("{}:{}: {line}", path.display(), i + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "points outside the repository:\n{}",
        found.join("\n")
    );
}
