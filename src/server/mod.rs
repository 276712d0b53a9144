//! The HTTP and gRPC listeners, tenancy, limits and shared error mapping.

pub mod state;
pub mod tenant;

pub use state::{AppState, Limits};
pub use tenant::{DEFAULT_TENANT, TenantError, tenant_from_headers};
