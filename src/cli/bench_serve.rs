//! `gradscope bench --serve`: the dashboard under load, as docs/PERFORMANCE.md
//! reports it. In a temporary folder it trains a 10,000-step, 20-layer run,
//! starts `gradscope serve` on it as a separate process, then measures:
//!
//! 1. what watching costs a training run: steps/s of runs trained into an
//!    unserved store, alternated with runs trained into the served store
//!    while 50 event-stream clients and a page (fetching the run's series
//!    once a second, as the page does) watch it;
//! 2. latency under load: a few thousand API requests over 32 keep-alive
//!    connections, with 50 event-stream clients, while a run trains.
//!
//! Loopback only, bounded (a request budget, runs of fixed length), and
//! every process it starts is stopped at the end.

use anyhow::{bail, Context};
use gradscope::bench::median;
use gradscope::bench::serve_load::{hammer, RouteLatency, Watchers};
use gradscope::store::Store;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Requests in the load phase.
const REQUESTS: usize = 4000;
/// Keep-alive connections sending them.
const CONNECTIONS: usize = 32;
/// Event-stream clients in both phases.
const WATCHERS: usize = 50;
/// Requests of the zoom phase, and its connections.
const ZOOMS: usize = 200;
const ZOOM_CONNECTIONS: usize = 4;
/// The layers of the served run (hidden, plus the output layer).
const DEPTH: usize = 20;

/// A child process, killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `gradscope bench --serve` with `reps` repetitions of each side of
/// the watch-cost comparison.
pub fn run(reps: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("gradscope-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = measure(&dir, reps);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(dir: &Path, reps: usize) -> anyhow::Result<()> {
    let served = dir.join("served.db");
    let unserved = dir.join("unserved.db");
    let big = spec(dir, "load-20x10k", DEPTH - 1, 10_000)?;
    eprintln!("training the served run: {} layers, 10,000 steps...", DEPTH);
    let t = Instant::now();
    if !train(&served, &big)?.wait()?.success() {
        bail!("training the served run failed");
    }
    eprintln!("  {:.1} s", t.elapsed().as_secs_f64());

    let (server, base) = serve(&served)?;
    println!("gradscope serve on {base}, store of one 10,000-step, {DEPTH}-layer run");

    // 1. What watching costs a training run.
    let watched_spec = spec(dir, "watched", DEPTH - 1, 10_000)?;
    let (mut alone, mut watched) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        alone.push(steps_per_s(&unserved, &watched_spec)?);
        let watchers = Watchers::connect(&base, WATCHERS)?;
        let page = Page::start(&base);
        watched.push(steps_per_s(&served, &watched_spec)?);
        let pages = page.stop();
        let events = watchers.stop();
        eprintln!(
            "  rep {}: alone {:.0} steps/s, watched {:.0} steps/s ({} page refreshes; \
             events per client {}..{})",
            rep + 1,
            alone[rep],
            watched[rep],
            pages,
            events.iter().min().unwrap_or(&0),
            events.iter().max().unwrap_or(&0)
        );
    }
    let (a, w) = (median(&alone), median(&watched));
    let loss = 1.0 - w / a;
    println!(
        "watch cost: {a:.0} steps/s alone, {w:.0} watched (50 event clients, a page \
         refreshing each second): {:+.1}% (target: at most 5% lost: {})",
        -100.0 * loss,
        if loss <= 0.05 { "met" } else { "missed" }
    );

    // 2. Latency under load, while a run trains.
    let during = spec(dir, "during-load", DEPTH - 1, 1_000_000)?;
    let trainer = Guard(train(&served, &during)?);
    std::thread::sleep(Duration::from_secs(1));
    let watchers = Watchers::connect(&base, WATCHERS)?;
    let before = trained_steps(&served)?;
    let live = running_run(&served)?;
    let paths: Vec<String> = [
        "/api/runs/1/layers?fields=pre_grad_rms".to_string(),
        "/api/runs/1/steps".to_string(),
        "/api/runs/1/evals".to_string(),
        "/api/runs/1/histograms?step=5000".to_string(),
        "/api/runs/1".to_string(),
        "/api/runs".to_string(),
        // The run training meanwhile: its answers change at every commit.
        format!("/api/runs/{live}/layers?fields=pre_grad_rms,saturated,dead,update_ratio"),
        format!("/api/runs/{live}/steps"),
    ]
    .to_vec();
    // Each route once, alone, before the load: what a first request costs.
    let (cold, _) = hammer(&base, &paths, paths.len(), 1);
    let (routes, wall) = hammer(&base, &paths, REQUESTS, CONNECTIONS);
    let after = trained_steps(&served)?;
    let events = watchers.stop();
    // Zooming: a different window each request, none answered from the
    // cache, from a few clients at a time.
    let zoom = vec!["/api/runs/1/layers?fields=pre_grad_rms&from={i}".to_string()];
    let (zoomed, _) = hammer(&base, &zoom, ZOOMS, ZOOM_CONNECTIONS);
    drop(trainer);
    drop(server);
    print_routes(&routes, &cold);
    let errors: usize = routes.iter().map(|r| r.errors).sum();
    let series_p99 = routes[..2].iter().map(|r| r.ms(0.99)).fold(0.0, f64::max);
    println!(
        "{REQUESTS} requests over {CONNECTIONS} connections in {:.2} s ({:.0}/s), {errors} errors; \
         {WATCHERS} event clients got {}..{} events each",
        wall.as_secs_f64(),
        REQUESTS as f64 / wall.as_secs_f64(),
        events.iter().min().unwrap_or(&0),
        events.iter().max().unwrap_or(&0)
    );
    let z = &zoomed[0];
    println!(
        "zooming (a new window each request, never cached; {ZOOMS} requests over \
         {ZOOM_CONNECTIONS} connections, the run stopped): p50 {:.1} ms, p99 {:.1} ms, {} errors",
        z.ms(0.5),
        z.ms(0.99),
        z.errors
    );
    println!(
        "the training run meanwhile: {:.0} steps/s (alone: {a:.0})",
        (after - before) as f64 / wall.as_secs_f64()
    );
    println!(
        "target: p99 under 50 ms for a run's series on the 10,000-step, {DEPTH}-layer run: \
         {series_p99:.1} ms ({})",
        if series_p99 < 50.0 && errors == 0 {
            "met"
        } else {
            "missed"
        }
    );
    Ok(())
}

fn print_routes(routes: &[RouteLatency], cold: &[RouteLatency]) {
    println!(
        "{:<52} {:>7} {:>6} {:>8} {:>8} {:>8} {:>7} {:>9}",
        "route", "1st ms", "count", "p50 ms", "p99 ms", "max ms", "errors", "bytes"
    );
    for (r, c) in routes.iter().zip(cold) {
        println!(
            "{:<52} {:>7.2} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>9}",
            r.path,
            c.ms(0.5),
            r.seconds.len(),
            r.ms(0.5),
            r.ms(0.99),
            r.ms(1.0),
            r.errors,
            r.bytes
        );
    }
}

/// Writes a spec: an MLP on the bundled digits, `hidden` ReLU layers of
/// 64 units with He initialization and a learning rate of 0.02, at which
/// it trains without diverging (at the default 0.1, 19 layers diverge
/// near step 8,000).
fn spec(dir: &Path, name: &str, hidden: usize, steps: usize) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\nsteps = {steps}\nbatch = 32\neval_every = 500\n\
             [model]\ndepth = {hidden}\nwidth = 64\nactivation = \"relu\"\ninit = \"he\"\n\
             [optimizer]\nlr = 0.02\n"
        ),
    )?;
    Ok(path)
}

fn gradscope() -> anyhow::Result<Command> {
    Ok(Command::new(
        std::env::current_exe().context("finding this program")?,
    ))
}

fn train(db: &Path, spec: &Path) -> anyhow::Result<Child> {
    gradscope()?
        .arg("--db")
        .arg(db)
        .arg("train")
        .arg(spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting a training run")
}

/// Trains `spec` into `db` and returns its steps/s, as its summary gives
/// them (training time only, not start-up or evaluation).
fn steps_per_s(db: &Path, spec: &Path) -> anyhow::Result<f64> {
    let status = train(db, spec)?.wait()?;
    if !status.success() {
        bail!("the training run into {} failed", db.display());
    }
    let store = Store::open_read_only(db)?;
    let last = store
        .progress()?
        .last()
        .map(|p| p.id)
        .context("no run in the store")?;
    let summary = store
        .run_texts(last)?
        .summary
        .context("the run has no summary")?;
    let summary: serde_json::Value = serde_json::from_str(&summary)?;
    let steps = summary["steps"].as_f64().unwrap_or(0.0);
    let seconds = summary["train_seconds"].as_f64().unwrap_or(f64::NAN);
    Ok(steps / seconds)
}

/// Steps recorded so far by the store's running run.
fn trained_steps(db: &Path) -> anyhow::Result<usize> {
    let store = Store::open_read_only(db)?;
    Ok(store
        .progress()?
        .iter()
        .filter(|p| p.status == gradscope::experiment::RunStatus::Running)
        .map(|p| p.steps)
        .sum())
}

/// The id of the store's running run.
fn running_run(db: &Path) -> anyhow::Result<i64> {
    let store = Store::open_read_only(db)?;
    store
        .progress()?
        .iter()
        .find(|p| p.status == gradscope::experiment::RunStatus::Running)
        .map(|p| p.id)
        .context("no running run in the store")
}

/// Starts `gradscope serve` on `db`; returns it and its base URL.
fn serve(db: &Path) -> anyhow::Result<(Guard, String)> {
    let mut child = gradscope()?
        .arg("--db")
        .arg(db)
        .args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting gradscope serve")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("serve's stdout")?).read_line(&mut line)?;
    let guard = Guard(child);
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .with_context(|| format!("no URL in serve's first line: {line:?}"))?;
    Ok((guard, url.trim_end_matches('/').to_string()))
}

/// A page watching the running run: once a second it finds it and
/// fetches its series, as the dashboard's run view does.
struct Page {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<usize>,
}

impl Page {
    fn start(base: &str) -> Page {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, base) = (Arc::clone(&stop), base.to_string());
        let thread = std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .build();
            let get = |path: &str| -> Option<serde_json::Value> {
                agent
                    .get(&format!("{base}{path}"))
                    .call()
                    .ok()?
                    .into_string()
                    .ok()
                    .and_then(|body| serde_json::from_str(&body).ok())
            };
            let mut refreshes = 0;
            while !flag.load(Ordering::Relaxed) {
                let running = get("/api/runs?status=running")
                    .and_then(|v| v["runs"].get(0).and_then(|r| r["id"].as_i64()));
                if let Some(id) = running {
                    get(&format!("/api/runs/{id}"));
                    get(&format!("/api/runs/{id}/steps"));
                    get(&format!("/api/runs/{id}/evals"));
                    get(&format!(
                        "/api/runs/{id}/layers?fields=pre_grad_rms,saturated,dead,update_ratio"
                    ));
                    refreshes += 1;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            refreshes
        });
        Page { stop, thread }
    }

    fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}
