//! Roster: an identity pipeline for Slurm clusters.
//!
//! Layers, each knowing only those before it: [`scim`] and [`saml`] (the
//! protocols, pure), [`directory`] (the domain and the storage interface),
//! [`store`] (SQLite), [`server`] (HTTP); [`agent`] knows the server's API
//! only, whose bodies [`api_v1`] defines for both ends. [`node_guard`]
//! and [`authorized_keys`] are the node's side: what a node never takes
//! from the maps, and reading them for sshd. The command line is the
//! binary's (`src/cli/`), and calls the same domain operations the server
//! does.

pub mod agent;
pub mod api_v1;
pub mod authorized_keys;
pub mod directory;
pub mod idp_metadata;
pub mod ldif;
pub mod node_guard;
pub mod nss_delta;
pub mod saml;
pub mod scim;
pub mod server;
pub mod slurm_dump;
pub mod store;
