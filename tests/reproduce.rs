//! `gradscope reproduce`: every reproduction's quick mode shows what its
//! paper shows (each check holds: orderings and signs, never exact
//! figures), with tables of the paper's figures beside ours and figures
//! that render; and the command line lists, refuses and writes as it says.

use gradscope::reproduce::{self, Context, Mode, Outcome};
use std::process::Command;

/// Runs `name`'s quick mode on one thread into a fresh store.
fn quick(name: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut observe = |_: &reproduce::Progress<'_>| {};
    let mut ctx = Context::new(Mode::Quick, 1, dir.path().join("r.db"), &mut observe);
    let r = reproduce::find(name).unwrap();
    r.reproduce(&mut ctx)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every check holds, and the outcome has what its page needs: the setup
/// with the paper's beside ours, a table with the paper's figures, and
/// figures that are SVG documents.
fn assert_reproduced(o: &Outcome) {
    let text = o.to_text();
    assert!(o.checks.len() >= 2, "{text}");
    assert!(o.reproduced(), "a check does not hold:\n{text}");
    assert!(o.setup.iter().any(|l| l.starts_with("Paper")), "{text}");
    assert!(o.setup.iter().any(|l| l.starts_with("Ours")), "{text}");
    assert!(
        !o.tables.is_empty() && o.tables.iter().all(|t| !t.rows.is_empty()),
        "{text}"
    );
    assert!(!o.figures.is_empty(), "{}: no figure", o.name);
    for f in &o.figures {
        assert!(
            f.svg.starts_with("<svg") && f.svg.trim_end().ends_with("</svg>"),
            "{}",
            f.id
        );
        assert!(
            !f.svg.contains("nothing to draw"),
            "{}: an empty figure",
            f.id
        );
        assert!(
            f.id.starts_with(&o.name),
            "{}: figure ids start with the name",
            f.id
        );
    }
}

#[test]
fn glorot2010_quick() {
    assert_reproduced(&quick("glorot2010"));
}

#[test]
fn ioffe2015_quick() {
    assert_reproduced(&quick("ioffe2015"));
}

#[test]
fn he2015_quick() {
    assert_reproduced(&quick("he2015"));
}

#[test]
fn he2016_quick() {
    assert_reproduced(&quick("he2016"));
}

#[test]
fn schoenholz2017_quick() {
    assert_reproduced(&quick("schoenholz2017"));
}

#[test]
fn pennington2017_quick() {
    assert_reproduced(&quick("pennington2017"));
}

#[test]
fn hochreiter1997_quick() {
    assert_reproduced(&quick("hochreiter1997"));
}

#[test]
fn le2015_quick() {
    assert_reproduced(&quick("le2015"));
}

fn gradscope(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gradscope"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_list_names_all_eight_with_their_times() {
    let dir = tempfile::tempdir().unwrap();
    let out = gradscope(dir.path(), &["reproduce", "--list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for r in reproduce::ALL {
        let line = text
            .lines()
            .find(|l| l.starts_with(r.name))
            .unwrap_or_else(|| panic!("{} not listed:\n{text}", r.name));
        assert!(line.contains(r.shows), "{line}");
    }
    assert!(text.lines().any(|l| l.starts_with("all ")), "{text}");
    assert!(
        !dir.path().join("gradscope.db").exists(),
        "--list runs nothing"
    );
}

#[test]
fn an_unknown_name_is_refused_with_the_names_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let out = gradscope(dir.path(), &["reproduce", "glorot2011"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no reproduction `glorot2011`"), "{err}");
    assert!(err.contains("glorot2010, ioffe2015"), "{err}");
    let out = gradscope(
        dir.path(),
        &["reproduce", "ioffe2015", "--report", "no/such/dir/r.html"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no folder no/such/dir"));
    assert!(
        !dir.path().join("gradscope.db").exists(),
        "refused before running"
    );
}

/// The command writes the page, the PNG figures and the Markdown, and a
/// second run reads the finished runs back instead of training them again.
#[test]
fn the_command_writes_page_figures_and_markdown_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "reproduce",
        "ioffe2015",
        "--quick",
        "--jobs",
        "1",
        "--png",
        "figs",
        "--markdown",
        "r.md",
    ];
    let out = gradscope(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("3 of 3 checks hold"), "{text}");
    let page = std::fs::read_to_string(dir.path().join("reproduce-ioffe2015-quick.html")).unwrap();
    assert!(page.contains("Held-out accuracy (%) over steps"));
    assert!(dir.path().join("figs/ioffe2015-accuracy.png").exists());
    let md = std::fs::read_to_string(dir.path().join("r.md")).unwrap();
    assert!(md.contains("| step | without BN | with BN |"), "{md}");
    let again = gradscope(dir.path(), &["reproduce", "ioffe2015", "--quick", "--json"]);
    assert!(again.status.success());
    let json: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(json["name"], "ioffe2015");
    assert_eq!(json["mode"], "quick");
    let runs = gradscope(dir.path(), &["runs", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(2),
        "the second reproduce trained nothing again: {listed}"
    );
}
