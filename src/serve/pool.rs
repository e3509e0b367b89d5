//! Read-only connections to the store, reused across requests: a
//! request takes an idle one (or opens one) on a blocking thread and
//! gives it back. SQLite's WAL lets any number of them read while a
//! training process writes, without blocking it.

use crate::error::Result;
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Idle connections kept for reuse; more are opened under load and
/// closed after it.
const MAX_IDLE: usize = 16;

/// A pool of read-only connections to one store.
pub struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl Pool {
    /// A pool for the store at `path`, checked by opening one connection.
    pub fn open(path: &Path) -> Result<Pool> {
        let first = Store::open_read_only(path)?;
        Ok(Pool {
            path: path.to_path_buf(),
            idle: Mutex::new(vec![first]),
        })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Calls `f` with a connection. Blocking: call from a blocking thread.
    pub fn with<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let store = match idle {
            Some(store) => store,
            None => Store::open_read_only(&self.path)?,
        };
        let out = f(&store);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(store);
        }
        out
    }
}
