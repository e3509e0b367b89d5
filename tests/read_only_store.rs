//! Stores gradscope may read but not write, and databases that are not
//! stores (issue 18): reading commands work on a store on a read-only
//! filesystem; another program's SQLite file is refused in one line and
//! left byte for byte as it was.

mod support;
#[path = "support/tmpfs.rs"]
mod tmpfs;

use assert_cmd::Command;
use sha2::{Digest, Sha256};
use std::path::Path;
use tmpfs::Tmpfs;

fn gradscope(db: &Path) -> Command {
    let mut c = Command::cargo_bin("gradscope").unwrap();
    c.env("NO_COLOR", "1").arg("--db").arg(db);
    c
}

fn digest(path: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

/// Regression: `runs` switched another program's database to WAL mode,
/// and errors printed its whole schema.
#[test]
fn another_programs_sqlite_file_is_refused_in_one_line_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE runs (x); CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
             INSERT INTO notes (body) VALUES ('keep me');",
        )
        .unwrap();
    }
    let before = digest(&db);
    for args in [
        &["runs"][..],
        &["inspect", "1"],
        &["diagnose", "1"],
        &["report", "1"],
        &["rm", "1"],
        &["gc"],
        &["train", "--data", "xor", "--steps", "3"],
    ] {
        let out = gradscope(&db).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("not a gradscope store"),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
    assert_eq!(digest(&db), before, "the file changed");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["notes.db"], "no WAL or shared-memory file was made");
}

/// Regression: `runs`, `inspect` and `report` failed on a read-only
/// filesystem with "switching to WAL mode". The store is made on a tmpfs,
/// which is then remounted read-only (root only: skipped elsewhere, where
/// a file's permissions would not stop root either).
#[test]
fn a_store_on_a_read_only_filesystem_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    let mount = match Tmpfs::mount(&disk, "16m") {
        Ok(mount) => mount,
        Err(reason) => return support::skip(&reason),
    };
    let db = disk.join("runs.db");
    gradscope(&db)
        .args(["train", "--data", "xor", "--steps", "20", "--quiet"])
        .assert()
        .success();
    mount.make_read_only();
    assert!(
        std::fs::write(disk.join("probe"), b"x").is_err(),
        "still writable"
    );
    let runs = gradscope(&db).arg("runs").assert().success();
    let stdout = String::from_utf8_lossy(&runs.get_output().stdout).into_owned();
    assert!(
        stdout.contains("finished") && stdout.contains("20/20"),
        "{stdout}"
    );
    for args in [&["inspect", "last"][..], &["diagnose", "1"]] {
        gradscope(&db).args(args).assert().success();
    }
    let html = dir.path().join("report.html");
    gradscope(&db)
        .args(["report", "1", "-o"])
        .arg(&html)
        .assert()
        .success();
    assert!(std::fs::metadata(&html).unwrap().len() > 1000);
    let out = gradscope(&db).args(["rm", "1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("can be read but not written"), "{stderr}");
}
