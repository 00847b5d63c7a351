//! [`ApiError`]: what the API answers when an operation fails: an HTTP status, a stable
//! code scripts match on, and a message that says what to do. Each component's typed
//! error implements [`ErrorCode`] and so converts into it.
//!
//! | status | when | codes (the core's; components add theirs) |
//! | --- | --- | --- |
//! | 400 | bad input | `invalid_request`, `invalid_size` |
//! | 401 | no or wrong token | `unauthorized` |
//! | 404 | unknown path | `not_found` |
//! | 409 | a volume in use | `volume_in_use` |
//! | 500 | the appliance failed | `internal` |

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A typed error with a stable code and an HTTP status.
pub trait ErrorCode: std::fmt::Display {
    /// The stable code, e.g. `no_such_volume`.
    fn code(&self) -> &'static str;
    /// The HTTP status.
    fn status(&self) -> StatusCode;
    /// A sentence naming the `vsa` command that helps, appended to the message.
    fn hint(&self) -> Option<String> {
        None
    }
}

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code, e.g. `no_such_volume`.
    pub code: &'static str,
    /// A sentence for people, naming the fix.
    pub message: String,
}

impl<E: ErrorCode> From<E> for ApiError {
    fn from(e: E) -> Self {
        let message = match e.hint() {
            Some(h) => format!("{e}; {h}"),
            None => e.to_string(),
        };
        ApiError {
            status: e.status(),
            code: e.code(),
            message,
        }
    }
}

/// The JSON body of an error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The `error` object of an error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `no_such_volume`, `invalid_size`, `has_clones`,
    /// `space_exhausted`, `unauthorized`.
    pub code: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409 with `code`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 500 `internal`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API token; send `Authorization: Bearer <token>` with the token from <data-dir>/token",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
            },
        }
    }
}

impl From<super::size::SizeError> for ApiError {
    fn from(e: super::size::SizeError) -> Self {
        ApiError::bad_request("invalid_size", e.to_string())
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("no such thing")]
    struct Nope;

    impl ErrorCode for Nope {
        fn code(&self) -> &'static str {
            "nope"
        }
        fn status(&self) -> StatusCode {
            StatusCode::NOT_FOUND
        }
        fn hint(&self) -> Option<String> {
            Some("`vsa thing list` shows them".into())
        }
    }

    #[test]
    fn typed_errors_carry_code_status_and_hint() {
        let e = ApiError::from(Nope);
        assert_eq!((e.status.as_u16(), e.code), (404, "nope"));
        assert_eq!(e.message, "no such thing; `vsa thing list` shows them");
        assert_eq!(e.body().error.code, "nope");
    }
}
