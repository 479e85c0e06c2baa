//! Roster: an identity pipeline for Slurm clusters.
//!
//! Layers, each knowing only those before it: [`scim`] (the protocol),
//! [`directory`] (the domain and the storage interface), [`store`] (SQLite),
//! [`server`] (HTTP).

pub mod agent;
pub mod directory;
pub mod nss_cache;
pub mod saml;
pub mod scim;
pub mod server;
pub mod store;
