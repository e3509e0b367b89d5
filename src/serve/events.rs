//! Live updates: one poller thread reads every run's progress when the
//! store changes (SQLite's `data_version`, every [`POLL`]) and publishes
//! it on a watch channel; each `/api/events` client streams the latest
//! value as a server-sent event. A client that reads slowly skips to the
//! latest state and holds no one else back: nothing queues per client.

use super::error::ApiResult;
use super::params::Params;
use super::state::App;
use crate::store::Store;
use axum::extract::{RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the poller looks at the store.
pub const POLL: Duration = Duration::from_millis(250);
/// Polls between reads even without a change: a run whose process died
/// shows as interrupted within this many polls.
const REREAD_EVERY: u32 = 20;
/// A comment line this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What the poller publishes.
pub struct Published {
    /// The latest `runs` event's data.
    pub events: watch::Receiver<Arc<str>>,
    /// The store's generation: bumped at each change seen.
    pub generation: Arc<AtomicU64>,
}

/// Starts the poller over the store at `path`. The first event is read
/// before this returns.
pub fn start(path: &Path) -> crate::error::Result<Published> {
    let store = Store::open_read_only(path)?;
    let first = progress_json(&store)?;
    let (tx, rx) = watch::channel(first);
    let generation = Arc::new(AtomicU64::new(0));
    let bump = Arc::clone(&generation);
    std::thread::Builder::new()
        .name("serve-events".into())
        .spawn(move || poll(store, tx, &bump))
        .expect("a thread starts");
    Ok(Published {
        events: rx,
        generation,
    })
}

fn poll(store: Store, tx: watch::Sender<Arc<str>>, generation: &AtomicU64) {
    let mut seen = store.data_version().ok();
    let mut quiet = 0;
    // Ends when the server has gone (every receiver dropped).
    while !tx.is_closed() {
        std::thread::sleep(POLL);
        let version = store.data_version().ok();
        quiet += 1;
        if version == seen && quiet < REREAD_EVERY {
            continue;
        }
        if version != seen {
            generation.fetch_add(1, Ordering::Release);
        }
        (seen, quiet) = (version, 0);
        // A run whose process died changes nothing in the store, only
        // what is read of it: that too is a new generation.
        // A read that fails (the file replaced mid-write) is retried at
        // the next poll; the clients keep the last good state.
        if let Ok(json) = progress_json(&store) {
            tx.send_if_modified(|current| {
                let changed = **current != *json;
                if changed {
                    *current = json;
                    generation.fetch_add(1, Ordering::Release);
                }
                changed
            });
        }
    }
}

fn progress_json(store: &Store) -> crate::error::Result<Arc<str>> {
    let runs = store.progress()?;
    let json = serde_json::json!({ "runs": runs }).to_string();
    Ok(json.into())
}

/// `GET /api/events`: a `runs` event at once, then one at each change.
pub async fn stream(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    Params::parse(q.as_deref(), &[])?;
    let mut rx = app.events.clone();
    rx.mark_changed();
    let events = stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let data = Arc::clone(&rx.borrow_and_update());
        Some((Ok(Event::default().event("runs").data(&*data)), rx))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
