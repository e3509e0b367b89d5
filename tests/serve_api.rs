//! `gradscope serve`'s API (docs/API.md) against a store filled by real
//! short runs (a deep sigmoid MLP, a recurrent net, a 2 x 2 sweep), with
//! the server as a user starts it: a separate process on a free loopback
//! port. Also what it must refuse (unknown ids, bad parameters, path
//! traversal, oversized and malformed requests, a non-loopback bind
//! without the flag) and its live event stream while another process
//! trains into the same store.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn gradscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gradscope"))
}

/// Runs `gradscope --db DB ARGS... FILE`; panics with its stderr if it fails.
fn run_ok(db: &Path, args: &[&str], file: &Path) {
    let out = gradscope()
        .arg("--db")
        .arg(db)
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const MLP: &str = r#"
name = "deep-sigmoid"
steps = 300
eval_every = 100
[model]
depth = 8
width = 32
activation = "sigmoid"
init = "standard"
[probe]
histogram_every = 50
"#;

const RNN: &str = r#"
name = "adding-rnn"
steps = 40
batch = 16
[data]
name = "adding"
length = 20
[model]
kind = "rnn"
hidden = 8
"#;

const SWEEP: &str = r#"
steps = 30
batch = 32
[data]
name = "xor"
train_size = 64
test_size = 32
[model]
width = 8
[sweep]
name = "tiny-grid"
seeds = 1
[sweep.axes]
"model.depth" = [2, 4]
"model.activation" = ["sigmoid", "relu"]
"#;

/// A store with the MLP run (id 1), the recurrent run (id 2) and the
/// sweep's four runs, made once for the whole file.
fn store() -> &'static Path {
    static STORE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, db) = STORE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("runs.db");
        for (name, spec) in [("mlp.toml", MLP), ("rnn.toml", RNN)] {
            let file = dir.path().join(name);
            std::fs::write(&file, spec).unwrap();
            run_ok(&db, &["train"], &file);
        }
        let file = dir.path().join("sweep.toml");
        std::fs::write(&file, SWEEP).unwrap();
        run_ok(&db, &["sweep", "--jobs", "1"], &file);
        (dir, db)
    });
    db
}

/// `gradscope serve` on a free port, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(db: &Path) -> Server {
        let mut child = gradscope()
            .arg("--db")
            .arg(db)
            .args(["serve", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"));
        Server {
            child,
            base: url.trim_end_matches('/').to_string(),
        }
    }

    /// Status and JSON body of `GET path`.
    fn get(&self, path: &str) -> (u16, Value) {
        let (status, body) = match ureq::get(&format!("{}{path}", self.base)).call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
            Err(e) => panic!("{path}: {e}"),
        };
        let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        (status, json)
    }

    fn ok(&self, path: &str) -> Value {
        let (status, json) = self.get(path);
        assert_eq!(status, 200, "{path}: {json}");
        json
    }

    /// The status line and body of a raw request.
    fn raw(&self, request: &[u8]) -> String {
        let addr = self.base.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // The server may close before reading it all (an oversized
        // request); what it answered is what counts.
        let _ = s.write_all(request);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

#[test]
fn runs_are_listed_and_filtered() {
    let server = Server::start(store());
    let runs = server.ok("/api/runs");
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6);
    let mlp = &runs[0];
    assert_eq!(mlp["name"], "deep-sigmoid");
    assert_eq!(mlp["status"], "finished");
    assert_eq!(
        (mlp["steps"].as_u64(), mlp["total_steps"].as_u64()),
        (Some(300), Some(300))
    );
    // Diagnosed when it ended: the deep standard-init sigmoid vanishes.
    assert!(mlp["findings"].as_u64().unwrap() >= 1);
    assert_eq!(mlp["worst"], "critical");
    assert!(mlp["sweep_id"].is_null() && mlp["class"].is_null());

    let named = server.ok("/api/runs?name=SIGMOID");
    let names: Vec<&str> = named["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"deep-sigmoid"), "{names:?}");
    assert!(
        names.iter().all(|n| n.to_lowercase().contains("sigmoid")),
        "{names:?}"
    );

    let swept = server.ok("/api/runs?sweep=1");
    let swept = swept["runs"].as_array().unwrap();
    assert_eq!(swept.len(), 4);
    assert!(swept
        .iter()
        .all(|r| r["class"].is_string() && r["cell"]["model.depth"].is_number()));
    let running = server.ok("/api/runs?status=running");
    assert!(running["runs"].as_array().unwrap().is_empty());
}

#[test]
fn a_run_gives_its_spec_layers_findings_and_probes() {
    let server = Server::start(store());
    let run = server.ok("/api/runs/1");
    assert_eq!(run["run"]["id"], 1);
    assert!(run["spec"].as_str().unwrap().contains("deep-sigmoid"));
    assert_eq!(run["spec_json"]["model"]["depth"], 8);
    // Eight hidden layers and the output layer.
    assert_eq!(run["layers"].as_array().unwrap().len(), 9);
    assert_eq!(run["layers"][0]["path"], "layers.0");
    assert_eq!(run["probed_steps"], 300);
    let hist_steps = numbers(&run["histogram_steps"]);
    assert!(
        hist_steps.len() >= 6 && hist_steps[1] == 50.0,
        "{hist_steps:?}"
    );
    assert!(run["through_time"].as_array().unwrap().is_empty());
    assert_eq!(run["summary"]["steps"], 300);
    let kinds: Vec<&str> = run["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"vanishing_gradient"), "{kinds:?}");
}

#[test]
fn step_series_are_downsampled_on_the_server_with_both_ends() {
    let server = Server::start(store());
    let all = server.ok("/api/runs/1/steps");
    assert_eq!(
        (all["rows"].as_u64(), all["stride"].as_u64()),
        (Some(300), Some(1))
    );
    assert_eq!(all["loss"].as_array().unwrap().len(), 300);

    let few = server.ok("/api/runs/1/steps?points=5");
    assert_eq!(numbers(&few["step"]), [0.0, 75.0, 150.0, 225.0, 299.0]);
    let loss = numbers(&few["loss"]);
    // The same figures as unthinned, at the kept steps.
    assert_eq!(loss[1], numbers(&all["loss"])[75]);
    assert!(loss.iter().all(|l| l.is_finite() && *l > 0.0));

    let zoom = server.ok("/api/runs/1/steps?from=100&to=109&points=1000");
    assert_eq!(zoom["rows"], 10);
    assert_eq!(numbers(&zoom["step"]).first(), Some(&100.0));

    let evals = server.ok("/api/runs/1/evals");
    assert_eq!(numbers(&evals["step"]), [100.0, 200.0, 300.0]);
    assert!(numbers(&evals["test_accuracy"])
        .iter()
        .all(|a| (0.0..=1.0).contains(a)));
}

#[test]
fn layer_series_show_the_gradient_vanishing_toward_the_input() {
    let server = Server::start(store());
    let s = server.ok("/api/runs/1/layers?fields=pre_grad_rms,saturated&points=10");
    assert_eq!(s["rows"], 300);
    assert_eq!(
        s["fields"],
        serde_json::json!(["pre_grad_rms", "saturated"])
    );
    let steps = numbers(&s["step"]);
    assert!(steps.len() <= 10 && steps[0] == 0.0 && *steps.last().unwrap() == 299.0);
    let layers = s["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 9);
    let first = numbers(&layers[0]["pre_grad_rms"]);
    let last = numbers(&layers[8]["pre_grad_rms"]);
    assert_eq!(first.len(), steps.len());
    // Standard-init sigmoid, eight layers deep: orders of magnitude.
    assert!(
        first[0] > 0.0 && first[0] * 1e3 < last[0],
        "{first:?} vs {last:?}"
    );
    assert!(numbers(&layers[0]["saturated"])
        .iter()
        .all(|f| (0.0..=1.0).contains(f)));
}

#[test]
fn histograms_and_through_time_answer_at_the_nearest_stored_step() {
    let server = Server::start(store());
    let h = server.ok("/api/runs/1/histograms?step=124");
    assert_eq!(h["step"], 100);
    assert_eq!(h["bins"]["count"], 100);
    let hists = h["histograms"].as_array().unwrap();
    assert!(!hists.is_empty());
    let counts: u64 = hists[0]["neg"]
        .as_array()
        .unwrap()
        .iter()
        .chain(hists[0]["pos"].as_array().unwrap())
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert!(counts > 0);
    assert_eq!(server.ok("/api/runs/1/histograms?step=126")["step"], 150);

    let (status, e) = server.get("/api/runs/1/through-time?step=0");
    assert_eq!(status, 404, "{e}");
    let rnn = server.ok("/api/runs/2");
    let kinds = rnn["through_time"].as_array().unwrap();
    assert!(!kinds.is_empty(), "{rnn}");
    let t = server.ok("/api/runs/2/through-time?step=20");
    let series = t["series"].as_array().unwrap();
    let time = series
        .iter()
        .find(|s| s["axis"] == "time_step")
        .unwrap_or_else(|| panic!("{t}"));
    assert_eq!(
        time["values"].as_array().unwrap().len(),
        20,
        "one per time step"
    );
}

#[test]
fn sweeps_list_their_cells_and_classes() {
    let server = Server::start(store());
    let sweeps = server.ok("/api/sweeps");
    assert_eq!(sweeps["sweeps"][0]["name"], "tiny-grid");
    assert_eq!(sweeps["sweeps"][0]["runs"], 4);
    let sweep = server.ok("/api/sweeps/1");
    // In the file's order, with their values in the sweep's.
    assert_eq!(
        sweep["axes"],
        serde_json::json!(["model.depth", "model.activation"])
    );
    assert_eq!(
        sweep["axis_values"]["model.depth"],
        serde_json::json!([2, 4])
    );
    let runs = sweep["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|r| r["class"].is_string()), "{sweep}");
    assert!(sweep["spec"].as_str().unwrap().contains("[sweep.axes]"));
}

#[test]
fn unknown_ids_and_bad_parameters_are_json_errors_naming_them() {
    let server = Server::start(store());
    let cases: &[(&str, u16, &str)] = &[
        ("/api/runs/99", 404, "no run 99"),
        ("/api/runs/99/steps", 404, "no run 99"),
        ("/api/runs/99/layers?fields=pre_rms", 404, "no run 99"),
        ("/api/sweeps/7", 404, "no sweep 7"),
        ("/api/nothing", 404, "no such route"),
        ("/assets/nothing.js", 404, "no asset"),
        ("/api/runs/abc", 400, "run id"),
        ("/api/runs/1/steps?points=0", 400, "points"),
        ("/api/runs/1/steps?points=100000", 400, "points"),
        ("/api/runs/1/steps?ponits=10", 400, "`ponits`"),
        ("/api/runs/1/layers", 400, "fields: required"),
        (
            "/api/runs/1/layers?fields=pre_grad_rms,bogus",
            400,
            "`bogus`",
        ),
        (
            "/api/runs/1/layers?fields=a,b,c,d,e,f,g,h,i",
            400,
            "at most 8",
        ),
        ("/api/runs/1/histograms", 400, "step: required"),
        ("/api/runs/1/histograms?step=-1", 400, "step"),
        ("/api/runs/1/through-time?step=1&figure=x", 400, "figure"),
        ("/api/runs?status=sleeping", 400, "status"),
        ("/api/runs/1/steps?points=5&points=6", 400, "given twice"),
        ("/api/events?x=1", 400, "`x`"),
        ("/api/runs/1?verbose=1", 400, "`verbose`"),
    ];
    for &(path, status, says) in cases {
        let (got, body) = server.get(path);
        assert_eq!(got, status, "{path}: {body}");
        let message = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {body}"));
        assert!(message.contains(says), "{path}: {message}");
    }
    let r = server.raw(b"POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 405"), "{r}");
}

#[test]
fn static_routes_serve_only_embedded_files() {
    let server = Server::start(store());
    let page = ureq::get(&format!("{}/", server.base)).call().unwrap();
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.header("content-security-policy").is_some());
    assert!(page.into_string().unwrap().contains("app.js"));
    let js = ureq::get(&format!("{}/assets/uplot.js", server.base))
        .call()
        .unwrap();
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    // Whatever the spelling, nothing outside the embedded files.
    for path in [
        "/assets/../Cargo.toml",
        "/assets/..%2fCargo.toml",
        "/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/assets/..%5c..%5cCargo.toml",
        "/../../../../etc/passwd",
        "/assets//etc/passwd",
        "/assets/%00",
    ] {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let r = server.raw(request.as_bytes());
        assert!(
            r.starts_with("HTTP/1.1 404") || r.starts_with("HTTP/1.1 400"),
            "{path}: {r}"
        );
        assert!(
            !r.contains("root:") && !r.contains("[package]"),
            "{path}: {r}"
        );
    }
}

#[test]
fn oversized_and_malformed_requests_are_refused_and_the_server_goes_on() {
    let server = Server::start(store());
    let huge = format!(
        "GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(2 << 20)
    );
    let r = server.raw(huge.as_bytes());
    assert!(
        r.is_empty() || r.starts_with("HTTP/1.1 431") || r.starts_with("HTTP/1.1 400"),
        "{r}"
    );
    let long_query = format!("/api/runs/1/steps?from={}", "9".repeat(100_000));
    let r = server.raw(format!("GET {long_query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes());
    assert!(
        r.is_empty() || r.starts_with("HTTP/1.1 4"),
        "{}",
        &r[..r.len().min(200)]
    );
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
        b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: x\r\n\r\n",
    ] {
        let r = server.raw(garbage);
        assert!(
            r.is_empty() || r.starts_with("HTTP/1.1 4"),
            "{garbage:?}: {r}"
        );
    }
    // A page on another name (DNS rebinding) is refused.
    let r =
        server.raw(b"GET /api/runs HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    // And the server still answers.
    assert_eq!(server.ok("/api/runs")["runs"].as_array().unwrap().len(), 6);
}

#[test]
fn a_non_loopback_bind_is_refused_without_the_flag() {
    let out = gradscope()
        .arg("--db")
        .arg(store())
        .args(["serve", "--host", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--allow-remote") && err.contains("0.0.0.0"),
        "{err}"
    );
    let out = gradscope()
        .args(["--db", "/nonexistent/runs.db", "serve", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such store"));
}

/// Reads server-sent events from `stream` until `done` holds for a
/// `runs` event's data or `limit` passes; returns the events read.
fn events_until(
    reader: &mut BufReader<TcpStream>,
    limit: Duration,
    mut done: impl FnMut(&Value) -> bool,
) -> Vec<Value> {
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut line = String::new();
    while start.elapsed() < limit {
        // A read that times out keeps what it read of the line.
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) if !line.ends_with('\n') => continue,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(e) => panic!("{e}"),
        }
        let line = std::mem::take(&mut line);
        if let Some(data) = line.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(data.trim()).unwrap();
            let stop = done(&v);
            seen.push(v);
            if stop {
                break;
            }
        }
    }
    seen
}

#[test]
fn a_run_training_in_another_process_streams_its_progress() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let spec = dir.path().join("live.toml");
    std::fs::write(
        &spec,
        // About two seconds of training on the bundled digits, with a
        // vanishing gradient to find.
        "name = \"live\"\nsteps = 3000\nbatch = 32\n[model]\ndepth = 8\nwidth = 96\n\
         activation = \"sigmoid\"\ninit = \"standard\"\n",
    )
    .unwrap();
    // A store with one run, so the server has something to open.
    run_ok(&db, &["train", "--set", "steps=5"], &spec);
    let server = Server::start(&db);
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.write_all(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(s);
    let first = events_until(&mut reader, Duration::from_secs(5), |_| true);
    assert_eq!(first[0]["runs"].as_array().unwrap().len(), 1, "{first:?}");
    assert_eq!(first[0]["runs"][0]["steps"], 5);

    let mut train = gradscope()
        .arg("--db")
        .arg(&db)
        .arg("train")
        .arg(&spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Steps of run 2 as the events report them.
    let mut progress: Vec<u64> = Vec::new();
    let events = events_until(&mut reader, Duration::from_secs(60), |v| {
        let run = v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == 2)
            .cloned();
        if let Some(run) = run {
            progress.push(run["steps"].as_u64().unwrap());
            run["status"] == "finished"
        } else {
            false
        }
    });
    let status = train.wait().unwrap();
    assert!(status.success());
    // Its findings are saved as it ends (with its status, or just
    // after); an event says so.
    let findings = |v: &Value| v["runs"][1]["findings"].as_u64().unwrap_or(0);
    if events.last().is_none_or(|v| findings(v) == 0) {
        let saved = events_until(&mut reader, Duration::from_secs(10), |v| findings(v) > 0);
        assert!(saved.last().is_some_and(|v| findings(v) > 0), "{saved:?}");
    }
    // It appeared, grew over several events, and finished: the server
    // read the store while the trainer wrote it, without blocking it.
    assert!(progress.len() >= 2, "{progress:?} from {events:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(*progress.last().unwrap(), 3000);
    assert!(progress[0] < 3000, "{progress:?}");
}

/// Trains a small xor net of `steps` steps, named `name`, into `db`.
fn train_into(db: &Path, name: &str, steps: usize) {
    let dir = db.parent().unwrap();
    let spec = dir.join(format!("{name}.toml"));
    std::fs::write(
        &spec,
        format!(
            "name = \"{name}\"\nsteps = {steps}\nbatch = 16\n[data]\nname = \"xor\"\n\
             train_size = 64\ntest_size = 32\n[model]\ndepth = 2\nwidth = 8\n"
        ),
    )
    .unwrap();
    run_ok(db, &["train"], &spec);
}

#[test]
fn a_run_id_reused_after_rm_is_never_answered_from_the_old_runs_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reuse.db");
    train_into(&db, "forty", 40);
    let server = Server::start(&db);
    assert_eq!(server.ok("/api/runs/1/steps?points=3")["rows"], 40);
    assert_eq!(server.ok("/api/runs/1")["run"]["name"], "forty");
    let rm = gradscope()
        .arg("--db")
        .arg(&db)
        .args(["rm", "1"])
        .output()
        .unwrap();
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    // The same id, the same length: only which run it is differs.
    train_into(&db, "other", 40);
    let run = server.ok("/api/runs/1");
    assert_eq!(run["run"]["name"], "other");
    train_into(&db, "sixty", 60);
    let rm = gradscope()
        .arg("--db")
        .arg(&db)
        .args(["rm", "1"])
        .output()
        .unwrap();
    assert!(rm.status.success());
    let listed = server.ok("/api/runs");
    assert_eq!(listed["runs"][0]["name"], "sixty");
    assert_eq!(server.ok("/api/runs/2/steps?points=3")["rows"], 60);
    assert_eq!(server.ok("/api/runs/2")["probed_steps"], 60);
}

#[test]
fn a_killed_trainer_shows_as_interrupted_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.db");
    train_into(&db, "done", 5);
    let server = Server::start(&db);
    let spec = dir.path().join("long.toml");
    std::fs::write(
        &spec,
        "name = \"long\"\nsteps = 10000000\nbatch = 16\n[data]\nname = \"xor\"\n\
         train_size = 64\ntest_size = 32\n[model]\ndepth = 2\nwidth = 8\n",
    )
    .unwrap();
    let mut trainer = gradscope()
        .arg("--db")
        .arg(&db)
        .arg("train")
        .arg(&spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_of = |server: &Server| server.ok("/api/runs")["runs"][1]["status"].clone();
    let start = Instant::now();
    while status_of(&server) != "running" {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never seen running"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Answers kept while it ran must not outlive its process.
    assert_eq!(
        server.ok("/api/runs?status=running")["runs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    trainer.kill().unwrap();
    trainer.wait().unwrap();
    let start = Instant::now();
    while status_of(&server) != "interrupted" {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{}",
            server.ok("/api/runs")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(server.ok("/api/runs/2")["run"]["status"], "interrupted");
    let interrupted = server.ok("/api/runs?status=interrupted");
    assert_eq!(
        interrupted["runs"].as_array().unwrap().len(),
        1,
        "{interrupted}"
    );
    assert!(server.ok("/api/runs?status=running")["runs"]
        .as_array()
        .unwrap()
        .is_empty());
}
