//! The dashboard as a person uses it: `gradscope serve` over a store filled
//! by real training runs, opened in headless Chromium driven over the
//! DevTools protocol. It opens the runs list, opens a run, moves the step
//! slider with the arrow keys and sees the depth profile change, restores a
//! view from its URL, opens the compare view with two runs and a sweep's
//! trainability map, then starts a training run in another process and sees
//! its step count advance on the page through the event stream, without a
//! reload. Nothing may be logged as an error or a warning. A screenshot of
//! each view is kept under `target/serve-screenshots/`.
//!
//! Skipped, with a message, when no Chromium is installed (`.ci/run`
//! installs Debian's `chromium` when it can).

#[path = "support/devtools.rs"]
mod devtools;
mod support;

use devtools::Browser;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::skip;

const GRADSCOPE: &str = env!("CARGO_BIN_EXE_gradscope");

/// The page's views must draw within this (they take milliseconds).
const VIEW_TIMEOUT: Duration = Duration::from_secs(15);

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| PathBuf::from("/usr/bin").join(name))
        .find(|p| p.exists())
}

/// The child processes (server, training runs): killed on every path out.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A deep net that cannot train (its gradient vanishes toward the input)
/// and the same net that can: small, so each trains in well under a second.
const DEEP_SIGMOID: &str = r#"
name = "deep-sigmoid"
steps = 160
eval_every = 40
[model]
depth = 6
width = 32
activation = "sigmoid"
init = "standard"
[probe]
histogram_every = 20
"#;

const RELU_HE: &str = r#"
name = "relu-he"
steps = 160
eval_every = 40
[model]
depth = 6
width = 32
activation = "relu"
init = "he_normal"
[probe]
histogram_every = 20
"#;

/// Depth x activation on xor: four runs of 100 steps, a 2 x 2 map.
const SWEEP: &str = r#"
steps = 100
batch = 32
[data]
name = "xor"
train_size = 256
test_size = 128
[model]
width = 16
[sweep]
name = "depth-activation"
seeds = 1
[sweep.axes]
"model.depth" = [2, 8]
"model.activation" = ["sigmoid", "relu"]
"#;

/// Long enough to still be training while the page is watched (it is
/// killed once the page has seen it advance).
const LIVE: &str = r#"
name = "live"
steps = 1000000
[model]
depth = 3
width = 64
"#;

fn run_gradscope(dir: &Path, args: &[&str]) {
    let out = Command::new(GRADSCOPE)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gradscope {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `gradscope serve` on a free port and returns its URL.
fn serve(dir: &Path, children: &mut Children) -> String {
    let mut child = Command::new(GRADSCOPE)
        .current_dir(dir)
        .args(["serve", "--db", "store.db", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    children.0.push(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                let _ = tx.send(url.trim_end_matches('/').to_string());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("gradscope serve printed no URL")
}

/// The directory the screenshots go to: `target/serve-screenshots/`.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("serve-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("failed.png"));
    dir
}

/// Waits until the view `name` has drawn (its data fetched).
fn wait_view(b: &mut Browser, name: &str) -> Result<(), String> {
    b.wait_for(
        &format!(
            "(() => {{ const v = document.querySelector('[data-testid=view]');
               return v.dataset.view === '{name}' && v.dataset.ready === '1'; }})()"
        ),
        VIEW_TIMEOUT,
    )
    .map(|_| ())
}

fn count(b: &mut Browser, selector: &str) -> Result<u64, String> {
    let v = b.eval(&format!("document.querySelectorAll('{selector}').length"))?;
    v.as_u64().ok_or_else(|| format!("count {selector}: {v}"))
}

fn text(b: &mut Browser, selector: &str) -> Result<String, String> {
    let v = b.eval(&format!(
        "(document.querySelector('{selector}') || {{}}).textContent || null"
    ))?;
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no element {selector}"))
}

/// The depth profile's values as the page last drew them.
fn profile(b: &mut Browser) -> Result<String, String> {
    let v = b.eval("document.querySelector('[data-testid=depth-profile]').dataset.values")?;
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no depth profile values: {v}"))
}

#[test]
fn dashboard_in_headless_chromium() {
    let Some(binary) = chromium() else {
        return skip("no Chromium in /usr/bin (apt-get install chromium)");
    };
    let dir = tempfile::tempdir().unwrap();
    for (file, spec) in [
        ("deep-sigmoid.toml", DEEP_SIGMOID),
        ("relu-he.toml", RELU_HE),
        ("sweep.toml", SWEEP),
        ("live.toml", LIVE),
    ] {
        std::fs::write(dir.path().join(file), spec).unwrap();
    }
    for spec in ["deep-sigmoid.toml", "relu-he.toml"] {
        run_gradscope(dir.path(), &["train", spec, "--db", "store.db"]);
    }
    run_gradscope(
        dir.path(),
        &[
            "sweep",
            "sweep.toml",
            "--db",
            "store.db",
            "--jobs",
            "2",
            "-q",
        ],
    );

    let mut children = Children(Vec::new());
    let url = serve(dir.path(), &mut children);
    let mut browser = Browser::launch(&binary, 1280, 800).unwrap();
    let shots = screenshot_dir();
    if let Err(e) = session(&mut browser, &url, dir.path(), &shots, &mut children) {
        let _ = browser.screenshot(&shots.join("failed.png"));
        panic!(
            "{e}\n(the page at the failure: {})",
            shots.join("failed.png").display()
        );
    }
}

fn session(
    b: &mut Browser,
    url: &str,
    dir: &Path,
    shots: &Path,
    children: &mut Children,
) -> Result<(), String> {
    // ---- runs list: the six runs; filters from the URL ----
    b.navigate(&format!("{url}/#/runs"))?;
    wait_view(b, "runs")?;
    let rows = count(b, "[data-testid=run-row]")?;
    if rows != 6 {
        return Err(format!(
            "runs list: {rows} rows, expected 6 (2 runs + a 2 x 2 sweep)"
        ));
    }
    b.navigate(&format!("{url}/#/runs?name=relu-he"))?;
    wait_view(b, "runs")?;
    b.wait_for(
        "document.querySelectorAll('[data-testid=run-row]').length === 1 \
         && document.querySelector('[data-testid=run-row]').dataset.runName === 'relu-he' \
         && document.querySelector('[data-testid=filter-name]').value === 'relu-he'",
        VIEW_TIMEOUT,
    )?;
    b.navigate(&format!("{url}/#/runs?sweep=1"))?;
    b.wait_for(
        "document.querySelectorAll('[data-testid=run-row]').length === 4",
        VIEW_TIMEOUT,
    )?;

    // ---- a run: opened from the list ----
    b.navigate(&format!("{url}/#/runs"))?;
    b.wait_for(
        "document.querySelectorAll('[data-testid=run-row]').length === 6",
        VIEW_TIMEOUT,
    )?;
    b.eval("document.querySelector('[data-run-name=\"deep-sigmoid\"]').click()")?;
    wait_view(b, "run")?;
    let id = b.eval("location.hash")?;
    if id.as_str() != Some("#/run/1") {
        return Err(format!("clicking deep-sigmoid's row opened {id}"));
    }
    let rows = b.eval("document.querySelector('[data-testid=flow-map]').dataset.rows")?;
    if rows.as_str() != Some("7") {
        return Err(format!("the flow map has {rows} rows, expected 7 layers"));
    }
    let last = text(b, "[data-testid=step-label]")?;
    if !last.starts_with("step 159") {
        return Err(format!(
            "the slider starts at `{last}`, expected the last step, 159"
        ));
    }
    let at_last = profile(b)?;

    // Arrow keys anywhere on the view move the slider, the profile follows.
    b.press("ArrowLeft")?;
    b.wait_for(
        "document.querySelector('[data-testid=step-label]').textContent.startsWith('step 158')",
        VIEW_TIMEOUT,
    )?;
    let at_158 = profile(b)?;
    if at_158 == at_last {
        return Err(format!(
            "the depth profile did not change with the step: {at_158}"
        ));
    }
    if !b
        .eval("location.hash")?
        .as_str()
        .unwrap_or("")
        .contains("step=158")
    {
        return Err("the URL does not follow the slider's step".into());
    }
    b.press("ArrowRight")?;
    b.wait_for(
        "document.querySelector('[data-testid=step-label]').textContent.startsWith('step 159')",
        VIEW_TIMEOUT,
    )?;
    if profile(b)? != at_last {
        return Err("back at step 159, the profile differs from before".into());
    }
    // With the focus on the slider, each press moves it once (not twice).
    b.eval("document.querySelector('[data-testid=step-slider]').focus()")?;
    for _ in 0..3 {
        b.press("ArrowLeft")?;
    }
    b.wait_for(
        "document.querySelector('[data-testid=step-label]').textContent.startsWith('step 156')",
        VIEW_TIMEOUT,
    )
    .map_err(|e| format!("three presses on the focused slider: {e}"))?;

    // Histograms at the nearest stored step; findings linked to the map.
    b.wait_for(
        "document.querySelector('[data-testid=histograms]').dataset.step \
         && document.querySelector('[data-testid=histograms] .uplot')",
        VIEW_TIMEOUT,
    )?;
    b.wait_for(
        "document.querySelector('[data-testid=finding][data-kind=vanishing_gradient]')",
        VIEW_TIMEOUT,
    )?;
    b.eval(
        "document.querySelector('[data-testid=finding][data-kind=vanishing_gradient] \
         [data-testid=show-on-map]').click()",
    )?;
    b.wait_for(
        "document.querySelector('[data-testid=flow-map]').dataset.highlight === 'vanishing_gradient'",
        VIEW_TIMEOUT,
    )?;
    // Its layers become the chosen ones: the histograms show them.
    b.wait_for(
        "(() => { const f = document.querySelector('[data-testid=finding][data-kind=vanishing_gradient]');
           return f.dataset.layers !== ''
             && document.querySelector('[data-testid=histograms]').dataset.layers === f.dataset.layers; })()",
        VIEW_TIMEOUT,
    )?;
    b.eval("window.scrollTo(0, 0)")?;
    b.screenshot(&shots.join("run.png"))?;

    // A shared link restores the view: step, field, layers.
    b.navigate(&format!(
        "{url}/#/run/2?step=40&layers=0,5&field=weight_grad_rms"
    ))?;
    b.wait_for(
        "(() => { const v = document.querySelector('[data-testid=view]');
           const label = document.querySelector('[data-testid=step-label]');
           return v.dataset.ready === '1' && label && label.textContent.startsWith('step 40'); })()",
        VIEW_TIMEOUT,
    )?;
    let restored = b.eval(
        "[document.querySelector('[data-testid=field-select]').value,
          document.querySelector('[data-testid=depth-profile]').dataset.field,
          [...document.querySelectorAll('[data-testid=layer-chips] .chip.on')].map(c => c.dataset.layer).join(',')]",
    )?;
    if restored != serde_json::json!(["weight_grad_rms", "weight_grad_rms", "0,5"]) {
        return Err(format!(
            "the URL's field and layers were not restored: {restored}"
        ));
    }

    // ---- compare: two runs picked on the list, two legend entries, two profiles ----
    b.navigate(&format!("{url}/#/runs"))?;
    b.wait_for(
        "document.querySelectorAll('[data-testid=run-row]').length === 6",
        VIEW_TIMEOUT,
    )?;
    for name in ["deep-sigmoid", "relu-he"] {
        b.eval(&format!(
            "document.querySelector('[data-run-name=\"{name}\"] [data-testid=run-pick]').click()"
        ))?;
    }
    b.eval("document.querySelector('[data-testid=compare-selected]').click()")?;
    wait_view(b, "compare")?;
    let hash = b.eval("location.hash")?;
    if hash.as_str() != Some("#/compare?runs=1,2") {
        return Err(format!("comparing the two picked runs opened {hash}"));
    }
    let entries = count(b, "[data-testid=compare-legend-entry]")?;
    if entries != 2 {
        return Err(format!(
            "compare view: {entries} legend entries, expected 2"
        ));
    }
    let values = b.eval(
        "JSON.parse(document.querySelector('[data-testid=compare-profile]').dataset.values)",
    )?;
    for run in ["1", "2"] {
        let layers = values[run].as_array().map(Vec::len);
        if layers != Some(7) {
            return Err(format!(
                "compare view: run {run}'s profile is {}",
                values[run]
            ));
        }
    }
    b.screenshot(&shots.join("compare.png"))?;

    // ---- the sweep's trainability map: 2 x 2 cells, each classified ----
    b.navigate(&format!("{url}/#/sweep/1"))?;
    wait_view(b, "sweep")?;
    let cells = b.eval(
        "[...document.querySelectorAll('[data-testid=sweep-map] td.cell')].map(td => td.dataset.class)",
    )?;
    let classes: Vec<&str> = cells
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if classes.len() != 4 || classes.iter().any(|c| c.is_empty()) {
        return Err(format!(
            "sweep map cells: {cells}, expected 4 classified cells"
        ));
    }
    b.screenshot(&shots.join("sweep.png"))?;

    // ---- live: a run training in another process advances on the list ----
    b.navigate(&format!("{url}/#/runs"))?;
    wait_view(b, "runs")?;
    b.eval("window.stillTheSamePage = true")?;
    let live = Command::new(GRADSCOPE)
        .current_dir(dir)
        .args(["train", "live.toml", "--db", "store.db"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    children.0.push(live);
    let mut seen: Vec<u64> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 3 {
        if Instant::now() > deadline {
            return Err(format!(
                "the live run's step count on the list went through {seen:?} in 30 s, \
                 expected three increasing counts"
            ));
        }
        let steps = b.eval(
            "(() => { const row = document.querySelector('[data-testid=run-row][data-run-name=live]');
               return row ? Number(row.querySelector('[data-testid=run-steps]').textContent) : null; })()",
        )?;
        if let Some(steps) = steps.as_u64() {
            if seen.last() != Some(&steps) {
                if seen.last().is_some_and(|&last| steps < last) {
                    return Err(format!(
                        "the live step count went back: {seen:?} then {steps}"
                    ));
                }
                seen.push(steps);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let same = b.eval("window.stillTheSamePage === true")?;
    if same != Value::Bool(true) {
        return Err("the page reloaded while watching the live run".into());
    }
    let status = text(
        b,
        "[data-testid=run-row][data-run-name=live] [data-testid=run-status]",
    )?;
    if status != "running" {
        return Err(format!(
            "the live run shows as `{status}`, expected running"
        ));
    }
    b.screenshot(&shots.join("runs.png"))?;

    // ---- live: its own view grows as it trains (the map gains steps) ----
    b.eval("document.querySelector('[data-testid=run-row][data-run-name=live] a').click()")?;
    wait_view(b, "run")?;
    let mut last_steps: Vec<u64> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while last_steps.len() < 3 {
        if Instant::now() > deadline {
            return Err(format!(
                "the live run's flow map ended at steps {last_steps:?} in 30 s, \
                 expected it to grow twice"
            ));
        }
        let last = b.eval(
            "Number(document.querySelector('[data-testid=flow-map]').dataset.lastStep || NaN)",
        )?;
        if let Some(last) = last.as_u64() {
            if last_steps.last() != Some(&last) {
                last_steps.push(last);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if b.eval("window.stillTheSamePage === true")? != Value::Bool(true) {
        return Err("the page reloaded while watching the live run's view".into());
    }
    b.eval("window.scrollTo(0, 0)")?;
    b.screenshot(&shots.join("run-live.png"))?;

    // ---- nothing logged as an error or a warning ----
    let problems = b.problems()?;
    if !problems.is_empty() {
        return Err(format!("the page logged:\n{}", problems.join("\n")));
    }

    // ---- an unknown run: the API's message on the page ----
    b.navigate(&format!("{url}/#/run/999"))?;
    let shown = b.wait_for(
        "(() => { const e = document.querySelector('[data-testid=error]');
           return !e.hidden && e.textContent; })()",
        VIEW_TIMEOUT,
    )?;
    if !shown.as_str().unwrap_or("").contains("999") {
        return Err(format!(
            "an unknown run shows `{shown}`, expected the API's message"
        ));
    }
    Ok(())
}
