//! An answer that went wrong: an HTTP status and one sentence, sent as
//! `{"error": "..."}` (docs/API.md, Errors).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A failed request: what to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// 400, 404, 405 or 500.
    pub status: StatusCode,
    /// One sentence naming the parameter, id or file.
    pub message: String,
}

impl ApiError {
    /// 400: the request's query is wrong.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 404: no such run, sweep, route or asset.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> ApiError {
        match e {
            crate::Error::NoSuchRun { id, .. } => {
                ApiError::not_found(format!("no run {id} in the store"))
            }
            other => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: other.to_string(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.message }));
        (self.status, body).into_response()
    }
}

/// What a handler returns.
pub type ApiResult<T> = std::result::Result<T, ApiError>;
