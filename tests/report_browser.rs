//! The report as a person sees it: a real run's report opened in headless
//! Chromium, screenshotted, and checked to be neither blank nor erroring.
//! Skipped, with a message, when no Chromium is installed (`.ci/run`
//! installs Debian's `chromium` when it can).

use gradscope::analysis::diagnose::diagnose;
use gradscope::experiment::trainer::train;
use gradscope::experiment::{RecordSink, Spec};
use gradscope::report::{render_html, ReportRun};
use resvg::tiny_skia::Pixmap;
use std::path::PathBuf;
use std::process::Command;

mod support;
use support::skip;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| PathBuf::from("/usr/bin").join(name))
        .find(|p| p.exists())
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        return skip("no Chromium in /usr/bin (apt-get install chromium)");
    };
    let spec = Spec::from_toml(
        r#"
        name = "deep-sigmoid"
        steps = 60
        eval_every = 20
        [model]
        depth = 8
        width = 32
        activation = "sigmoid"
        init = "standard"
        [probe]
        histogram_every = 20
        "#,
        "test",
    )
    .unwrap();
    let data = spec.prepare_data().unwrap();
    let mut sink = RecordSink::new(spec.clone());
    train(&spec, &data, &mut sink).unwrap();
    let record = sink.record;
    let findings = diagnose(&record);
    let html = render_html(&[ReportRun {
        record: &record,
        findings: &findings,
    }]);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let shot = dir.path().join("shot.png");
    std::fs::write(&page, html).unwrap();
    let out = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,2400",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(shot.exists(), "no screenshot; chromium said:\n{stderr}");
    // Page errors reach the log as CONSOLE lines (the page has no script,
    // so there must be none).
    let page_errors: Vec<&str> = stderr.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(page_errors.is_empty(), "the page logged: {page_errors:#?}");

    let img = Pixmap::load_png(&shot).unwrap();
    assert_eq!((img.width(), img.height()), (1200, 2400));
    let pixels = img.pixels();
    let non_white = pixels
        .iter()
        .filter(|p| p.red() < 240 || p.green() < 240 || p.blue() < 240)
        .count();
    let mut colours: Vec<u32> = pixels
        .iter()
        .map(|p| u32::from_be_bytes([0, p.red(), p.green(), p.blue()]))
        .collect();
    colours.sort_unstable();
    colours.dedup();
    // Text, axes and a viridis heatmap: a good share of ink, many colours.
    assert!(
        non_white > pixels.len() / 20,
        "only {non_white} non-white pixels"
    );
    assert!(
        colours.len() > 50,
        "only {} distinct colours",
        colours.len()
    );
    if let Ok(keep) = std::env::var("GRADSCOPE_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
