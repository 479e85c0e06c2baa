//! The schemas Roster implements (RFC 7643 §4, §8.7) and the attribute
//! look-ups that every other part of the protocol layer uses.
//!
//! Attribute names are case-insensitive (RFC 7643 §2.1), so every look-up
//! here compares ASCII case-insensitively and hands back the canonical name.

use serde_json::{Map, Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const COREWEAVE_USER_SCHEMA: &str =
    "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser";
pub const COREWEAVE_GROUP_SCHEMA: &str =
    "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveGroup";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// RFC 7643 §2.3 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Boolean => "boolean",
            Kind::Decimal => "decimal",
            Kind::Integer => "integer",
            Kind::DateTime => "dateTime",
            Kind::Binary => "binary",
            Kind::Reference => "reference",
            Kind::Complex => "complex",
        }
    }
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: Kind,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub unique_server: bool,
    /// The client always sends the complete set of values, so `add`
    /// replaces rather than appends: for SSH keys the IdP's next sync
    /// overwrites a manual edit (docs/scim.md, "PATCH").
    pub whole_set: bool,
    /// A string value may hold several values, one per line.
    pub one_per_line: bool,
    pub canonical: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub: &'static [Attribute],
    pub description: &'static str,
}

impl Attribute {
    const fn new(name: &'static str, kind: Kind, description: &'static str) -> Self {
        Attribute {
            name,
            kind,
            multi: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            unique_server: false,
            whole_set: false,
            one_per_line: false,
            canonical: &[],
            reference_types: &[],
            sub: &[],
            description,
        }
    }
    const fn multi(mut self) -> Self {
        self.multi = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }
    const fn immutable(mut self) -> Self {
        self.mutability = Mutability::Immutable;
        self
    }
    const fn write_only(mut self) -> Self {
        self.mutability = Mutability::WriteOnly;
        self.returned = Returned::Never;
        self
    }
    const fn always(mut self) -> Self {
        self.returned = Returned::Always;
        self
    }
    const fn whole_set(mut self) -> Self {
        self.whole_set = true;
        self
    }
    const fn one_per_line(mut self) -> Self {
        self.one_per_line = true;
        self
    }
    const fn unique(mut self) -> Self {
        self.unique_server = true;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical = values;
        self
    }
    const fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }
    const fn sub(mut self, sub: &'static [Attribute]) -> Self {
        self.sub = sub;
        self
    }

    /// The sub-attribute called `name`, compared case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.sub.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// True when values of this attribute compare case-sensitively. Binary
    /// and reference values are case-exact by RFC 7643 §2.3.6-7, whatever
    /// their `caseExact` says.
    pub fn compares_case_exact(&self) -> bool {
        self.case_exact || matches!(self.kind, Kind::Binary)
    }

    fn to_json(self) -> Value {
        let mut obj = Map::new();
        obj.insert("name".into(), json!(self.name));
        obj.insert("type".into(), json!(self.kind.as_str()));
        obj.insert("multiValued".into(), json!(self.multi));
        obj.insert("description".into(), json!(self.description));
        obj.insert("required".into(), json!(self.required));
        if matches!(self.kind, Kind::String | Kind::Reference | Kind::Binary) {
            obj.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical.is_empty() {
            obj.insert("canonicalValues".into(), json!(self.canonical));
        }
        if !self.reference_types.is_empty() {
            obj.insert("referenceTypes".into(), json!(self.reference_types));
        }
        let mutability = match self.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        };
        obj.insert("mutability".into(), json!(mutability));
        let returned = match self.returned {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        };
        obj.insert("returned".into(), json!(returned));
        obj.insert(
            "uniqueness".into(),
            json!(if self.unique_server { "server" } else { "none" }),
        );
        if !self.sub.is_empty() {
            obj.insert(
                "subAttributes".into(),
                Value::Array(self.sub.iter().map(|a| a.to_json()).collect()),
            );
        }
        Value::Object(obj)
    }
}

use Kind::*;

const TYPE_WORK_HOME_OTHER: &[&str] = &["work", "home", "other"];

const fn multi_valued_parts(value: Attribute, types: &'static [&'static str]) -> [Attribute; 4] {
    [
        value,
        Attribute::new(
            "display",
            String,
            "A human-readable name, primarily used for display purposes.",
        ),
        Attribute::new(
            "type",
            String,
            "A label indicating the attribute's function.",
        )
        .canonical(types),
        Attribute::new(
            "primary",
            Boolean,
            "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
        ),
    ]
}

const NAME_SUB: &[Attribute] = &[
    Attribute::new(
        "formatted",
        String,
        "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display.",
    ),
    Attribute::new("familyName", String, "The family name of the User."),
    Attribute::new("givenName", String, "The given name of the User."),
    Attribute::new("middleName", String, "The middle name(s) of the User."),
    Attribute::new(
        "honorificPrefix",
        String,
        "The honorific prefix(es) of the User.",
    ),
    Attribute::new(
        "honorificSuffix",
        String,
        "The honorific suffix(es) of the User.",
    ),
];
const EMAIL_SUB: &[Attribute] = &multi_valued_parts(
    Attribute::new("value", String, "Email address for the User."),
    TYPE_WORK_HOME_OTHER,
);
const PHONE_SUB: &[Attribute] = &multi_valued_parts(
    Attribute::new("value", String, "Phone number of the User."),
    &["work", "home", "mobile", "fax", "pager", "other"],
);
const IMS_SUB: &[Attribute] = &multi_valued_parts(
    Attribute::new("value", String, "Instant messaging address for the User."),
    &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
);
const PHOTO_SUB: &[Attribute] = &multi_valued_parts(
    Attribute::new("value", Reference, "URL of a photo of the User.").refs(&["external"]),
    &["photo", "thumbnail"],
);
const ADDRESS_SUB: &[Attribute] = &[
    Attribute::new(
        "formatted",
        String,
        "The full mailing address, formatted for display.",
    ),
    Attribute::new(
        "streetAddress",
        String,
        "The full street address component.",
    ),
    Attribute::new("locality", String, "The city or locality component."),
    Attribute::new("region", String, "The state or region component."),
    Attribute::new(
        "postalCode",
        String,
        "The zip code or postal code component.",
    ),
    Attribute::new("country", String, "The country name component."),
    Attribute::new(
        "type",
        String,
        "A label indicating the attribute's function.",
    )
    .canonical(TYPE_WORK_HOME_OTHER),
    Attribute::new(
        "primary",
        Boolean,
        "A Boolean value indicating the 'primary' or preferred address.",
    ),
];
const USER_GROUPS_SUB: &[Attribute] = &[
    Attribute::new("value", String, "The identifier of the User's group.").read_only(),
    Attribute::new(
        "$ref",
        Reference,
        "The URI of the corresponding 'Group' resource.",
    )
    .refs(&["Group"])
    .read_only(),
    Attribute::new(
        "display",
        String,
        "A human-readable name, primarily used for display purposes.",
    )
    .read_only(),
    Attribute::new("type", String, "How the membership was derived.")
        .canonical(&["direct", "indirect"])
        .read_only(),
];
const PLAIN_MULTI_SUB: &[Attribute] = &multi_valued_parts(
    Attribute::new("value", String, "The value of the item."),
    &[],
);
const CERT_SUB: &[Attribute] = &multi_valued_parts(
    Attribute::new("value", Binary, "The value of an X.509 certificate."),
    &[],
);

const USER_ATTRIBUTES: &[Attribute] = &[
    Attribute::new("userName", String, "Unique identifier for the User, typically used by the user to directly authenticate to the service provider. REQUIRED.").required().unique(),
    Attribute::new("name", Complex, "The components of the user's real name.").sub(NAME_SUB),
    Attribute::new("displayName", String, "The name of the User, suitable for display to end-users."),
    Attribute::new("nickName", String, "The casual way to address the user in real life."),
    Attribute::new("profileUrl", Reference, "A fully qualified URL pointing to a page representing the User's online profile.").refs(&["external"]),
    Attribute::new("title", String, "The user's title, such as \"Vice President\"."),
    Attribute::new("userType", String, "Used to identify the relationship between the organization and the user."),
    Attribute::new("preferredLanguage", String, "Indicates the User's preferred written or spoken language."),
    Attribute::new("locale", String, "Used to indicate the User's default location for purposes of localizing items."),
    Attribute::new("timezone", String, "The User's time zone in the 'Olson' time zone database format."),
    Attribute::new("active", Boolean, "A Boolean value indicating the User's administrative status. Deactivated users cannot sign in and leave every cluster."),
    Attribute::new("password", String, "Accepted and discarded: Roster never stores passwords (SAML SSO authenticates).").write_only(),
    Attribute::new("emails", Complex, "Email addresses for the user.").multi().sub(EMAIL_SUB),
    Attribute::new("phoneNumbers", Complex, "Phone numbers for the User.").multi().sub(PHONE_SUB),
    Attribute::new("ims", Complex, "Instant messaging addresses for the User.").multi().sub(IMS_SUB),
    Attribute::new("photos", Complex, "URLs of photos of the User.").multi().sub(PHOTO_SUB),
    Attribute::new("addresses", Complex, "A physical mailing address for this User.").multi().sub(ADDRESS_SUB),
    Attribute::new("groups", Complex, "A list of groups to which the user belongs, computed from group memberships.").multi().read_only().sub(USER_GROUPS_SUB),
    Attribute::new("entitlements", Complex, "A list of entitlements for the User.").multi().sub(PLAIN_MULTI_SUB),
    Attribute::new("roles", Complex, "A list of roles for the User.").multi().sub(PLAIN_MULTI_SUB),
    Attribute::new("x509Certificates", Complex, "A list of certificates issued to the User.").multi().sub(CERT_SUB),
];

const MANAGER_SUB: &[Attribute] = &[
    Attribute::new(
        "value",
        String,
        "The id of the SCIM resource representing the User's manager.",
    ),
    Attribute::new(
        "$ref",
        Reference,
        "The URI of the SCIM resource representing the User's manager.",
    )
    .refs(&["User"]),
    Attribute::new(
        "displayName",
        String,
        "The displayName of the User's manager.",
    )
    .read_only(),
];

const ENTERPRISE_ATTRIBUTES: &[Attribute] = &[
    Attribute::new(
        "employeeNumber",
        String,
        "Numeric or alphanumeric identifier assigned to a person.",
    ),
    Attribute::new(
        "costCenter",
        String,
        "Identifies the name of a cost center.",
    ),
    Attribute::new(
        "organization",
        String,
        "Identifies the name of an organization.",
    ),
    Attribute::new("division", String, "Identifies the name of a division."),
    Attribute::new("department", String, "Identifies the name of a department."),
    Attribute::new("manager", Complex, "The User's manager.").sub(MANAGER_SUB),
];

const COREWEAVE_USER_ATTRIBUTES: &[Attribute] = &[
    Attribute::new(
        "sunkSshKeys",
        String,
        "SSH public keys installed for the user on SUNK clusters, one per value. The identity provider sends the whole list: every write, add included, replaces it.",
    )
    .multi()
    .case_exact()
    .whole_set()
    .one_per_line(),
    Attribute::new(
        "sunkPosixUsername",
        String,
        "POSIX username on clusters; derived from userName when absent, then fixed.",
    )
    .case_exact(),
    Attribute::new(
        "sunkPreferredHomeDirectory",
        String,
        "Home directory, an absolute path; /home/{username} when absent.",
    )
    .case_exact(),
    Attribute::new(
        "sunkPosixGroupId",
        Integer,
        "GID of the user's private POSIX group.",
    ),
    Attribute::new(
        "sunkPosixUserId",
        Integer,
        "POSIX UID; allocated from the organization's range when absent.",
    ),
    Attribute::new(
        "sunkLoginShell",
        String,
        "Login shell, an absolute path; /bin/bash when absent.",
    )
    .case_exact(),
];

const MEMBER_SUB: &[Attribute] = &[
    Attribute::new("value", String, "Identifier of the member of this Group.")
        .immutable()
        .required()
        .case_exact(),
    Attribute::new(
        "display",
        String,
        "The member's POSIX username, when SUNK User Provisioning is on.",
    )
    .read_only(),
    Attribute::new(
        "$ref",
        Reference,
        "The URI corresponding to a SCIM resource that is a member of this Group.",
    )
    .refs(&["User"])
    .immutable(),
    Attribute::new(
        "type",
        String,
        "The type of the member; only User: groups are flat.",
    )
    .canonical(&["User"])
    .immutable(),
];

const GROUP_ATTRIBUTES: &[Attribute] = &[
    Attribute::new(
        "displayName",
        String,
        "A human-readable name for the Group. REQUIRED.",
    )
    .required()
    .unique(),
    Attribute::new(
        "members",
        Complex,
        "A list of members of the Group. Only users: nested groups are not supported.",
    )
    .multi()
    .sub(MEMBER_SUB),
];

const COREWEAVE_GROUP_ATTRIBUTES: &[Attribute] = &[
    Attribute::new(
        "sunkPosixGroupName",
        String,
        "POSIX group name on clusters; derived from displayName when absent, then fixed.",
    )
    .case_exact(),
    Attribute::new(
        "sunkPosixGroupId",
        Integer,
        "POSIX GID; allocated from the organization's group range when absent.",
    ),
];

/// The attributes common to every resource (RFC 7643 §3.1).
pub const ID: Attribute = Attribute::new(
    "id",
    String,
    "Unique identifier assigned by the service provider.",
)
.case_exact()
.read_only()
.always()
.unique();
pub const EXTERNAL_ID: Attribute = Attribute::new(
    "externalId",
    String,
    "Identifier of the resource as defined by the provisioning client.",
)
.case_exact();
const META_SUB: &[Attribute] = &[
    Attribute::new(
        "resourceType",
        String,
        "The name of the resource type of the resource.",
    )
    .case_exact()
    .read_only(),
    Attribute::new(
        "created",
        DateTime,
        "When the resource was added to the service provider.",
    )
    .read_only(),
    Attribute::new(
        "lastModified",
        DateTime,
        "When the resource was last modified.",
    )
    .read_only(),
    Attribute::new(
        "location",
        Reference,
        "The URI of the resource being returned.",
    )
    .case_exact()
    .read_only(),
    Attribute::new(
        "version",
        String,
        "The version (entity tag) of the resource.",
    )
    .case_exact()
    .read_only(),
];
pub const META: Attribute = Attribute::new("meta", Complex, "Resource metadata.")
    .read_only()
    .sub(META_SUB);
static COMMON: [Attribute; 3] = [ID, EXTERNAL_ID, META];

/// A schema (RFC 7643 §7).
#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
}

impl Schema {
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            }
        })
    }
}

pub static USER: Schema = Schema {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};
pub static ENTERPRISE_USER: Schema = Schema {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRIBUTES,
};
pub static COREWEAVE_USER: Schema = Schema {
    id: COREWEAVE_USER_SCHEMA,
    name: "CoreWeaveUser",
    description: "SUNK user attributes: POSIX identity and SSH keys",
    attributes: COREWEAVE_USER_ATTRIBUTES,
};
pub static GROUP: Schema = Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};
pub static COREWEAVE_GROUP: Schema = Schema {
    id: COREWEAVE_GROUP_SCHEMA,
    name: "CoreWeaveGroup",
    description: "SUNK group attributes: POSIX group name and GID",
    attributes: COREWEAVE_GROUP_ATTRIBUTES,
};

/// Every schema served at `/Schemas`.
pub static ALL_SCHEMAS: [&Schema; 5] = [
    &USER,
    &GROUP,
    &ENTERPRISE_USER,
    &COREWEAVE_USER,
    &COREWEAVE_GROUP,
];

/// A resource type (RFC 7643 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    User,
    Group,
}

impl ResourceType {
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::User => "User",
            ResourceType::Group => "Group",
        }
    }
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceType::User => "Users",
            ResourceType::Group => "Groups",
        }
    }
    pub fn core(self) -> &'static Schema {
        match self {
            ResourceType::User => &USER,
            ResourceType::Group => &GROUP,
        }
    }
    pub fn extensions(self) -> &'static [&'static Schema] {
        static USER_EXT: [&Schema; 2] = [&ENTERPRISE_USER, &COREWEAVE_USER];
        static GROUP_EXT: [&Schema; 1] = [&COREWEAVE_GROUP];
        match self {
            ResourceType::User => &USER_EXT,
            ResourceType::Group => &GROUP_EXT,
        }
    }
    /// The extension schema with this URN, compared case-insensitively.
    pub fn extension(self, urn: &str) -> Option<&'static Schema> {
        self.extensions()
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    pub fn to_json(self, base_url: &str) -> Value {
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": self.name(),
            "name": self.name(),
            "endpoint": format!("/{}", self.endpoint()),
            "description": match self { ResourceType::User => "User Account", ResourceType::Group => "Group (flat: members are users only)" },
            "schema": self.core().id,
            "schemaExtensions": self.extensions().iter().map(|s| json!({"schema": s.id, "required": false})).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.name()),
            }
        })
    }
}

/// Where an attribute lives: in the core schema (top level of the JSON
/// document) or in an extension (under the extension URN key).
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// `None` for the core schema and common attributes.
    pub extension: Option<&'static Schema>,
    pub attribute: &'static Attribute,
    pub sub: Option<&'static Attribute>,
}

impl Resolved {
    /// The definition of the addressed value: the sub-attribute when there
    /// is one, else the attribute.
    pub fn leaf(&self) -> &'static Attribute {
        self.sub.unwrap_or(self.attribute)
    }
}

/// Resolves `[urn:]name[.sub]` for a resource type, case-insensitively
/// (RFC 7644 §3.10). A URN that names the core schema is the same as none.
pub fn resolve(
    rtype: ResourceType,
    urn: Option<&str>,
    name: &str,
    sub: Option<&str>,
) -> Option<Resolved> {
    let (extension, attribute) = match urn {
        Some(u) if !u.eq_ignore_ascii_case(rtype.core().id) => {
            let ext = rtype.extension(u)?;
            (Some(ext), ext.attribute(name)?)
        }
        _ => {
            let attr = rtype
                .core()
                .attribute(name)
                .or_else(|| COMMON.iter().find(|a| a.name.eq_ignore_ascii_case(name)))?;
            (None, attr)
        }
    };
    let sub = match sub {
        Some(s) => Some(attribute.sub_attribute(s)?),
        None => None,
    };
    Some(Resolved {
        extension,
        attribute,
        sub,
    })
}
