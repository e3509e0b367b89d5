//! `gradscope serve`: the dashboard. An HTTP server (axum on hyper and
//! tokio) over one store, read-only, that serves the page (its files
//! embedded in the binary) and the JSON API it draws from, with live
//! updates by server-sent events (docs/API.md).
//!
//! Requests read the store through a pool of read-only connections on
//! blocking threads ([`pool`]); long series are downsampled on the server
//! ([`downsample`]); one poller publishes every run's progress to every
//! event stream ([`events`]). It binds to loopback unless told otherwise
//! ([`Bind`]), and answers only requests addressed to the name it was
//! reached by on loopback (a page on another site cannot read the store
//! through the browser by rebinding its DNS name to 127.0.0.1).

pub mod assets;
pub mod cache;
pub mod downsample;
pub mod error;
pub mod events;
pub mod params;
pub mod pool;
pub mod runs;
pub mod series;
pub mod state;

use crate::error::Result;
use axum::extract::{Path as UrlPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use error::ApiError;
use state::App;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

/// Where to listen, and whether beyond this machine is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bind {
    /// The address.
    pub host: IpAddr,
    /// The port (0: any free one).
    pub port: u16,
    /// Whether a non-loopback address is allowed.
    pub allow_remote: bool,
}

impl Bind {
    /// Refuses a non-loopback address unless allowed: the API has no
    /// authentication.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.host.is_loopback() || self.allow_remote {
            Ok(())
        } else {
            Err(format!(
                "refusing to listen on {}: the dashboard has no authentication, so anyone \
                 who can reach it could read every run; pass --allow-remote to serve beyond \
                 this machine",
                self.host
            ))
        }
    }
}

/// The router over `app`: the page, its files, the API, the events.
pub fn router(app: Arc<App>, loopback_only: bool) -> Router {
    let api = Router::new()
        .route("/api/runs", get(runs::list))
        .route("/api/runs/{id}", get(runs::one))
        .route("/api/runs/{id}/steps", get(series::steps))
        .route("/api/runs/{id}/evals", get(series::evals))
        .route("/api/runs/{id}/layers", get(series::layers))
        .route("/api/runs/{id}/histograms", get(series::histograms))
        .route("/api/runs/{id}/through-time", get(series::through_time))
        .route("/api/sweeps", get(runs::sweeps))
        .route("/api/sweeps/{id}", get(runs::sweep))
        .route("/api/events", get(events::stream))
        .route("/", get(|| async { file("index.html") }))
        .route(
            "/assets/{name}",
            get(|UrlPath(name): UrlPath<String>| async move { file(&name) }),
        )
        .fallback(|| async { ApiError::not_found("no such route (docs/API.md lists them)") })
        .method_not_allowed_fallback(|| async {
            ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                message: "only GET and HEAD are served: the dashboard reads, never writes".into(),
            }
        })
        .with_state(app);
    let api = api.layer(middleware::from_fn(headers));
    if loopback_only {
        api.layer(middleware::from_fn(local_host_only))
    } else {
        api
    }
}

/// An embedded file, or 404.
fn file(name: &str) -> Response {
    match assets::asset(name) {
        Some((kind, bytes)) => ([(header::CONTENT_TYPE, kind)], bytes).into_response(),
        None => {
            ApiError::not_found(format!("no asset `{}`", params::printable(name))).into_response()
        }
    }
}

/// Headers on every answer: no sniffing, no framing, and a content
/// policy that runs only the page's own scripts (run names are user
/// text; the page never reaches another origin).
async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             object-src 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// On loopback, only requests for a loopback name (`localhost`,
/// `127.0.0.1`, `[::1]`): a DNS-rebinding page gets 403.
async fn local_host_only(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if is_loopback_name(host) {
        next.run(request).await
    } else {
        ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "Host `{}` is not this machine's loopback name: open the dashboard at \
                 http://127.0.0.1 or http://localhost",
                params::printable(host)
            ),
        }
        .into_response()
    }
}

/// Whether a `Host` header names loopback (with or without a port).
fn is_loopback_name(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Serves the store at `db` on `bind` until the process is stopped;
/// calls `ready` with the address once listening.
pub fn serve(db: &Path, bind: Bind, ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    bind.check().map_err(anyhow::Error::msg)?;
    let app = Arc::new(open(db)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((bind.host, bind.port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", bind.host, bind.port))?;
        ready(listener.local_addr()?);
        let router = router(app, bind.host.is_loopback());
        axum::serve(listener, router).await?;
        Ok(())
    })
}

/// The shared state over the store at `db`: its pool and its poller.
pub fn open(db: &Path) -> Result<App> {
    let pool = pool::Pool::open(db)?;
    let published = events::start(db)?;
    Ok(App::new(pool, published.events, published.generation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_served_without_the_flag() {
        let bind = |host: &str, allow_remote| Bind {
            host: host.parse().unwrap(),
            port: 0,
            allow_remote,
        };
        assert!(bind("127.0.0.1", false).check().is_ok());
        assert!(bind("::1", false).check().is_ok());
        let e = bind("0.0.0.0", false).check().unwrap_err();
        assert!(e.contains("--allow-remote"), "{e}");
        assert!(bind("192.168.1.5", false).check().is_err());
        assert!(bind("0.0.0.0", true).check().is_ok());
    }

    #[test]
    fn loopback_names_are_told_from_others() {
        for ok in [
            "127.0.0.1:8080",
            "localhost:1",
            "LOCALHOST",
            "[::1]:80",
            "127.0.0.2",
        ] {
            assert!(is_loopback_name(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "",
            "127.0.0.1.evil.example",
            "[::2]:80",
            "10.0.0.1",
        ] {
            assert!(!is_loopback_name(bad), "{bad}");
        }
    }
}
