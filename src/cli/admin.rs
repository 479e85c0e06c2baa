//! `roster admin ...`: administrator access before SAML SSO works.

use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use super::output::print_json;
use super::{Global, cli_public_url, open_directory};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Print a one-time link that signs its user in as the org's bootstrap
    /// administrator: the way in before SAML SSO is configured.
    LoginLink {
        /// Organization id or name.
        org: String,
        /// How long the link works, in minutes (it works once).
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=1440))]
        minutes: u64,
    },
}

pub async fn run(g: &Global, cmd: &AdminCommand) -> Result<(), String> {
    let dir = open_directory(g)?;
    let public_url = cli_public_url(g, &dir).await;
    let as_json = g.json;
    match cmd {
        AdminCommand::LoginLink { org, minutes } => {
            let (o, secret, expires) = dir
                .create_login_link(&super::cli_actor(), org, Duration::from_secs(minutes * 60))
                .await
                .map_err(|e| e.to_string())?;
            let link = format!("{public_url}/accounts/login-link/{secret}");
            if as_json {
                print_json(json!({"org": o.name, "url": link, "expires": expires}));
            } else {
                println!("{link}");
                eprintln!(
                    "Opens a session as the bootstrap administrator of \"{}\". It works once, until {expires}; treat it as a password.",
                    o.name
                );
            }
            Ok(())
        }
    }
}
