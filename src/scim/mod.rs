//! The SCIM 2.0 protocol (RFC 7643, RFC 7644, RFC 9865): schemas, the
//! filter and path grammar and value-filter evaluation, PATCH, projection,
//! list paging and error JSON.
//! Pure: no I/O, no storage, no HTTP framework.

pub mod discovery;
pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod redact;
pub mod resource;
pub mod schema;
pub mod value_filter;

pub use error::{ScimError, ScimResult, ScimType};
