//! The HTTP and gRPC listeners, tenancy, limits and shared error mapping.

pub mod duration;
pub mod extract;
pub mod info;
pub mod logfmt;
pub mod router;
pub mod run;
pub mod selfmon;
pub mod state;
pub mod tenant;

pub use state::{AppState, Limits};
pub use tenant::{DEFAULT_TENANT, TenantError, tenant_from_headers};
