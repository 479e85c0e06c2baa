//! Integration tests: the real `roster` binary, driven over HTTP and its
//! command line, as its users drive it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;
#[path = "../slurm/stack.rs"]
mod slurm_stack;

mod agent;
mod audit;
mod browser;
mod cli;
mod console;
mod console_access;
mod deltas;
mod discovery_and_auth;
mod durability;
mod explain;
mod feed;
mod fleet;
mod groups;
mod hardening;
mod hardening_fleet;
mod hardening_names;
mod hardening_reach;
mod hardening_web;
mod hostile_input;
mod import;
mod input;
mod nss;
mod posix;
mod query;
mod replay;
mod replicas;
mod saml;
mod scim_log;
mod slurm;
mod sshd;
mod tls;
mod users;
