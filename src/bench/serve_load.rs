//! Load on the dashboard (`gradscope serve`): a fixed number of API
//! requests from a pool of keep-alive connections, each request's
//! latency kept per route, and a crowd of event-stream clients that count
//! the events they receive. Loopback only, bounded, and it stops by
//! itself: every client has a request budget or a deadline.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Latencies of one route.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteLatency {
    /// The route, as requested (without the host).
    pub path: String,
    /// Seconds per request, in the order they finished.
    pub seconds: Vec<f64>,
    /// Requests that failed (a non-200 answer or a broken connection).
    pub errors: usize,
    /// Bytes of the last answer.
    pub bytes: usize,
}

impl RouteLatency {
    /// The `q`-quantile of the latencies, in milliseconds (nearest rank).
    pub fn ms(&self, q: f64) -> f64 {
        quantile(&self.seconds, q) * 1e3
    }
}

/// The `q`-quantile of `values` by nearest rank (NaN when empty).
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Sends `total` GETs to `base` (`http://127.0.0.1:PORT`) over
/// `connections` keep-alive connections, cycling through `paths`; returns
/// each route's latencies and the wall time. A `{i}` in a path is
/// replaced by the request's number, so that each request of that route
/// is a different one (none answered from the server's cache).
pub fn hammer(
    base: &str,
    paths: &[String],
    total: usize,
    connections: usize,
) -> (Vec<RouteLatency>, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(
        paths
            .iter()
            .map(|p| RouteLatency {
                path: p.clone(),
                ..RouteLatency::default()
            })
            .collect::<Vec<_>>(),
    ));
    let start = Instant::now();
    let workers: Vec<JoinHandle<()>> = (0..connections.max(1))
        .map(|_| {
            let (next, results) = (Arc::clone(&next), Arc::clone(&results));
            let (base, paths) = (base.to_string(), paths.to_vec());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(30))
                    .max_idle_connections_per_host(1)
                    .build();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let route = i % paths.len();
                    let t = Instant::now();
                    let answer = agent
                        .get(&format!(
                            "{base}{}",
                            paths[route].replace("{i}", &i.to_string())
                        ))
                        .call()
                        .map_err(|_| ())
                        .and_then(|r| r.into_string().map_err(|_| ()));
                    let seconds = t.elapsed().as_secs_f64();
                    let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
                    let r = &mut results[route];
                    match answer {
                        Ok(body) => {
                            r.seconds.push(seconds);
                            r.bytes = body.len();
                        }
                        Err(()) => r.errors += 1,
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let wall = start.elapsed();
    let results = results.lock().unwrap_or_else(|e| e.into_inner()).clone();
    (results, wall)
}

/// Event-stream clients, each reading `/api/events` on its own
/// connection until told to stop.
pub struct Watchers {
    stop: Arc<AtomicBool>,
    counts: Vec<Arc<AtomicUsize>>,
    threads: Vec<JoinHandle<()>>,
}

impl Watchers {
    /// Connects `n` clients to `base`'s event stream.
    pub fn connect(base: &str, n: usize) -> std::io::Result<Watchers> {
        let addr = base.trim_start_matches("http://").trim_end_matches('/');
        let stop = Arc::new(AtomicBool::new(false));
        let mut counts = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..n {
            let mut stream = TcpStream::connect(addr)?;
            stream.set_read_timeout(Some(Duration::from_millis(100)))?;
            stream.write_all(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")?;
            let count = Arc::new(AtomicUsize::new(0));
            let (stop, seen) = (Arc::clone(&stop), Arc::clone(&count));
            threads.push(std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while !stop.load(Ordering::Relaxed) {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) => break,
                        Ok(_) if line.starts_with("event: runs") => {
                            seen.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(_) => break,
                    }
                }
            }));
            counts.push(count);
        }
        Ok(Watchers {
            stop,
            counts,
            threads,
        })
    }

    /// Events each client has received so far.
    pub fn events(&self) -> Vec<usize> {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// Disconnects every client; returns the events each received.
    pub fn stop(self) -> Vec<usize> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[3.0], 0.99), 3.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
