//! What every request shares: the store's connection pool, the steps
//! each run has rows at (cached: a finished run's never change, a
//! running run's are read on from the last one known), the answers kept
//! for reuse ([`Cache`]), and the latest progress event with the store's
//! generation.

use super::cache::Cache;
use super::error::{ApiError, ApiResult};
use super::pool::Pool;
use crate::error::Result;
use crate::store::{RunVersion, StepTable, Store};
use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Step lists kept, and steps in them all (8 bytes each: 64 MB); past
/// either the lists are read anew.
const CACHED_LISTS: usize = 256;
const CACHED_STEPS: usize = 8 << 20;

/// The server's shared state.
pub struct App {
    /// Read-only connections.
    pub pool: Pool,
    /// The latest `runs` event's data (JSON), for the event stream.
    pub events: watch::Receiver<Arc<str>>,
    /// Bumped by the poller at every change to the store.
    pub generation: Arc<AtomicU64>,
    steps: Mutex<HashMap<(i64, StepTable), StepList>>,
    cache: Mutex<Cache>,
    /// A lock per answer being computed: requests for the same one wait
    /// for the first instead of computing it again.
    computing: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Turns to read the store: bounds the blocking threads, the
    /// connections and the answers being built at once.
    readers: tokio::sync::Semaphore,
}

/// Requests reading the store at once.
pub const READERS: usize = 8;

/// A JSON answer of `body`.
fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// What an answer depends on, for reuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One run: reused while the run is unchanged.
    Run(i64),
    /// The store as a whole (lists of runs and sweeps): reused until the
    /// store changes.
    Store,
}

/// The steps a run has rows at in one table, and the run's version when
/// they were read.
#[derive(Clone)]
struct StepList {
    steps: Arc<Vec<usize>>,
    version: RunVersion,
}

impl App {
    /// State over `pool`, with progress events from `events`.
    pub fn new(pool: Pool, events: watch::Receiver<Arc<str>>, generation: Arc<AtomicU64>) -> App {
        App {
            pool,
            events,
            generation,
            steps: Mutex::new(HashMap::new()),
            cache: Mutex::new(Cache::default()),
            computing: Mutex::new(HashMap::new()),
            readers: tokio::sync::Semaphore::new(READERS),
        }
    }

    /// Answers `key` (the request's path and query) with the JSON `f`
    /// computes, or with the answer kept from an earlier request while
    /// what `scope` names is unchanged. A run scope answers 404 for a run
    /// not in the store.
    pub async fn answer<T: serde::Serialize>(
        self: &Arc<Self>,
        key: String,
        scope: Scope,
        f: impl FnOnce(&App, &Store) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<Response> {
        self.read(move |app, store| {
            // The version before the answer: a change while it is
            // computed tags it as older, and the next request computes
            // it again.
            let version = match scope {
                Scope::Run(run) => store.run_version(run)?.key(),
                Scope::Store => app.generation.load(Ordering::Acquire).to_string(),
            };
            if let Some(body) = app.kept(&key, &version) {
                return Ok(json_response(body));
            }
            // One computation per answer: the others wait for it, then
            // find it kept.
            let turn = Arc::clone(
                app.computing
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(key.clone())
                    .or_default(),
            );
            let computed = {
                let _turn = turn.lock().unwrap_or_else(|e| e.into_inner());
                match app.kept(&key, &version) {
                    Some(body) => Ok(body),
                    None => f(app, store).and_then(|value| {
                        let body =
                            Bytes::from(serde_json::to_vec(&value).map_err(|e| ApiError {
                                status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                                message: format!("writing the answer: {e}"),
                            })?);
                        let mut cache = app.cache.lock().unwrap_or_else(|e| e.into_inner());
                        cache.put(key.clone(), version, body.clone());
                        Ok(body)
                    }),
                }
            };
            let mut computing = app.computing.lock().unwrap_or_else(|e| e.into_inner());
            // The entry goes with its last user (the map holds one).
            if Arc::strong_count(&turn) == 2 {
                computing.remove(&key);
            }
            drop(computing);
            let body = computed?;
            Ok(json_response(body))
        })
        .await
    }

    fn kept(&self, key: &str, version: &str) -> Option<Bytes> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key, version)
    }

    /// Runs `f` with a connection on a blocking thread, at most
    /// [`READERS`] at a time (the others wait their turn, holding no
    /// thread or connection).
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&App, &Store) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let _turn = self.readers.acquire().await.map_err(|e| ApiError {
            status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("the server is stopping: {e}"),
        })?;
        let app = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut out = None;
            // One snapshot per request: its version and rows agree.
            let read = app
                .pool
                .with(|store| store.in_snapshot(|store| out = Some(f(&app, store))));
            match (read, out) {
                (_, Some(out)) => out,
                (Err(e), None) => Err(e.into()),
                (Ok(()), None) => unreachable!("f ran"),
            }
        })
        .await
        .map_err(|e| ApiError {
            status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("reading the store failed: {e}"),
        })?
    }

    /// The steps run `run_id` has rows at in `table`, in order: kept
    /// while the run's version holds; for the same run grown since, read
    /// on from the last step known.
    pub fn steps(&self, store: &Store, run_id: i64, table: StepTable) -> Result<Arc<Vec<usize>>> {
        let key = (run_id, table);
        // The version first: rows read after it are at least as new.
        let version = store.run_version(run_id)?;
        let known = self.lock().get(&key).cloned();
        let steps = match known {
            Some(list) if list.version == version => return Ok(list.steps),
            Some(list) if list.version.born == version.born && !list.steps.is_empty() => {
                // From the last known step on; a resumed run rewrites
                // from its checkpoint, so when that step is gone, all anew.
                let last = *list.steps.last().expect("not empty");
                let from_last = store.row_steps(run_id, table, last.checked_sub(1))?;
                if from_last.first() == Some(&last) {
                    let mut all = list.steps.to_vec();
                    all.extend_from_slice(&from_last[1..]);
                    all
                } else {
                    store.row_steps(run_id, table, None)?
                }
            }
            // Not known, or another run under a reused id.
            _ => store.row_steps(run_id, table, None)?,
        };
        let steps = Arc::new(steps);
        let mut cache = self.lock();
        let held: usize = cache.values().map(|l| l.steps.len()).sum();
        if cache.len() >= CACHED_LISTS || held + steps.len() > CACHED_STEPS {
            cache.clear();
        }
        cache.insert(
            key,
            StepList {
                steps: Arc::clone(&steps),
                version,
            },
        );
        Ok(steps)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, StepTable), StepList>> {
        self.steps.lock().unwrap_or_else(|e| e.into_inner())
    }
}
