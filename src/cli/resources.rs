//! What `roster user` and `roster group` share: creating a resource as the
//! org's administrator, and listing every resource a search finds.

use super::output::print_json;
use super::{Global, cli_public_url, err, open_directory};
use roster::directory::Directory;
use roster::directory::listing::{ListQuery, MAX_PAGE};
use roster::directory::model::Principal;
use roster::directory::model::ResourceView;
use roster::scim::schema::ResourceType;
use roster::server::scim_render;

/// The directory opened as an org's administrator, with the org's SCIM
/// base URL for rendering resources.
pub struct Admin {
    pub dir: Directory,
    pub p: Principal,
    pub base: String,
}

impl Admin {
    pub async fn of(g: &Global, org: &str) -> Result<Admin, String> {
        let dir = open_directory(g)?;
        let mut p = dir.admin(org).await.map_err(err)?;
        // The audit trail names the operator at the terminal.
        let actor = super::cli_actor();
        p.token_name = actor.name;
        p.origin = actor.origin;
        let base = format!("{}/scim/{}", cli_public_url(g, &dir).await, p.org.id);
        Ok(Admin { dir, p, base })
    }
}

/// Creates a user or group as the administrator; prints its id (JSON:
/// the resource).
pub async fn create_and_print(
    g: &Global,
    dir: &Directory,
    p: &Principal,
    rtype: ResourceType,
    body: serde_json::Value,
    base: &str,
) -> Result<(), String> {
    let v = dir.create_resource(p, rtype, body).await.map_err(err)?;
    if g.json {
        print_json(scim_render::resource(&v, base));
    } else {
        println!("{}", v.stored.id);
    }
    Ok(())
}

/// Every user or group of the org, page by page (RFC 9865 cursors): a list
/// command must not stop at one page.
/// Every user or group a search finds, page by page.
pub async fn list_all(
    dir: &Directory,
    p: &Principal,
    rtype: ResourceType,
    search: &Option<String>,
) -> Result<Vec<ResourceView>, String> {
    let mut out = Vec::new();
    loop {
        let q = ListQuery {
            search: search.clone(),
            active: None,
            offset: out.len() as u64,
            limit: MAX_PAGE,
        };
        let page = match rtype {
            ResourceType::User => dir.list_users(p, q).await,
            ResourceType::Group => dir.list_groups(p, q).await,
        }
        .map_err(err)?;
        let got = page.items.len();
        out.extend(page.items);
        if got == 0 || out.len() as u64 >= page.total {
            return Ok(out);
        }
    }
}
