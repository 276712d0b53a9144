//! Request extractors every protocol adapter shares.

use crate::server::AppState;
use crate::server::tenant::tenant_from_headers;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

/// The tenant a request belongs to. Refused with Mimir's answer (401 and a plain-text
/// reason) when multi-tenancy is on and the header is missing or malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant(pub String);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        tenant_from_headers(&parts.headers, state.limits.multi_tenant)
            .map(Tenant)
            .map_err(|err| (StatusCode::UNAUTHORIZED, format!("{err}\n")).into_response())
    }
}
