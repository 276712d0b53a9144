//! Tenancy as the peers do it: `X-Scope-OrgID` names the tenant; with multi-tenancy off every
//! request belongs to one default tenant.

use axum::http::HeaderMap;

/// The tenant of every request when multi-tenancy is off (Loki's name for it).
pub const DEFAULT_TENANT: &str = "fake";

pub const TENANT_HEADER: &str = "X-Scope-OrgID";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TenantError {
    /// Loki and Mimir answer 401 with this text.
    #[error("no org id")]
    Missing,
    #[error("tenant ID is too long: max 150 characters")]
    TooLong,
    #[error("tenant ID '{0}' contains unsupported character")]
    BadCharacter(String),
}

/// The tenant a request belongs to.
pub fn tenant_from_headers(headers: &HeaderMap, multi_tenant: bool) -> Result<String, TenantError> {
    if !multi_tenant {
        return Ok(DEFAULT_TENANT.to_string());
    }
    let Some(value) = headers.get(TENANT_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(TenantError::Missing);
    };
    let tenant = value.trim();
    if tenant.is_empty() {
        return Err(TenantError::Missing);
    }
    if tenant.len() > 150 {
        return Err(TenantError::TooLong);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c);
    if !tenant.chars().all(allowed) || tenant == "." || tenant == ".." {
        return Err(TenantError::BadCharacter(tenant.to_string()));
    }
    Ok(tenant.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tenant_when_single_tenant() {
        assert_eq!(tenant_from_headers(&HeaderMap::new(), false).unwrap(), DEFAULT_TENANT);
    }

    #[test]
    fn header_required_when_multi_tenant() {
        assert_eq!(tenant_from_headers(&HeaderMap::new(), true), Err(TenantError::Missing));
        let mut headers = HeaderMap::new();
        headers.insert(TENANT_HEADER, "team-a".parse().unwrap());
        assert_eq!(tenant_from_headers(&headers, true).unwrap(), "team-a");
        headers.insert(TENANT_HEADER, "a/b".parse().unwrap());
        assert!(tenant_from_headers(&headers, true).is_err());
    }
}
