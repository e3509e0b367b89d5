//! What every request shares: the store's connection pool, the steps
//! each run has rows at (cached: a finished run's never change, a
//! running run's are read on from the last one known), and the latest
//! progress event.

use super::error::{ApiError, ApiResult};
use super::pool::Pool;
use crate::error::Result;
use crate::experiment::RunStatus;
use crate::store::{StepTable, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Runs whose step lists are kept; past it the cache starts over.
const CACHED_LISTS: usize = 256;

/// The server's shared state.
pub struct App {
    /// Read-only connections.
    pub pool: Pool,
    /// The latest `runs` event's data (JSON), for the event stream.
    pub events: watch::Receiver<Arc<str>>,
    steps: Mutex<HashMap<(i64, StepTable), StepList>>,
}

/// The steps a run has rows at in one table.
#[derive(Clone)]
struct StepList {
    steps: Arc<Vec<usize>>,
    /// The run had ended when they were read: nothing more will come.
    complete: bool,
}

impl App {
    /// State over `pool`, with progress events from `events`.
    pub fn new(pool: Pool, events: watch::Receiver<Arc<str>>) -> App {
        App {
            pool,
            events,
            steps: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` with a connection on a blocking thread.
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&App, &Store) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let app = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut out = None;
            let read = app.pool.with(|store| {
                out = Some(f(&app, store));
                Ok(())
            });
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

    /// The steps run `run_id` has rows at in `table`, in order.
    pub fn steps(&self, store: &Store, run_id: i64, table: StepTable) -> Result<Arc<Vec<usize>>> {
        let key = (run_id, table);
        let known = self.lock().get(&key).cloned();
        if let Some(list) = &known {
            if list.complete {
                return Ok(Arc::clone(&list.steps));
            }
        }
        // The status first: rows read after it was `finished` are all.
        let status = store.run_status(run_id)?;
        let complete = matches!(
            RunStatus::from_name(&status),
            Some(RunStatus::Finished | RunStatus::Diverged)
        );
        let steps = match known {
            Some(list) if !list.steps.is_empty() => {
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
            _ => store.row_steps(run_id, table, None)?,
        };
        let steps = Arc::new(steps);
        let mut cache = self.lock();
        if cache.len() >= CACHED_LISTS {
            cache.clear();
        }
        cache.insert(
            key,
            StepList {
                steps: Arc::clone(&steps),
                complete,
            },
        );
        Ok(steps)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, StepTable), StepList>> {
        self.steps.lock().unwrap_or_else(|e| e.into_inner())
    }
}
