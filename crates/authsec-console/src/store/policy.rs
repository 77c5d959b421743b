//! Resource servers, their scopes, their tool, prompt and resource inventories, admin
//! decisions and manifests.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{audit_value, from_json, to_json, Store};
use crate::auth::{self, Actor};
use crate::error::Error;
use crate::model::{
    self, Catalog, Decision, Entry, EntryKind, InventoryItem, InventoryTool, ManifestEntry,
    ManifestPrompt, ManifestResource, ManifestTool, PolicyInputs, ResourceServer,
    ResourceServerRow, Scope, ScopeMatch, SdkPolicyDocument, Tool, ToolState,
};
use authsec_proto::uri_template::ResourceKey;
use authsec_proto::wire::Manifest;

/// A resource server to create.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewResourceServer {
    /// Display name.
    pub name: String,
    /// The resource URI (absolute `https`, or `http` for development).
    pub resource_uri: String,
    /// Scopes to define right away.
    #[serde(default)]
    pub scopes: Vec<NewScope>,
    /// Apply manifest suggestions when no admin decision exists (default false).
    #[serde(default)]
    pub auto_apply_suggestions: bool,
}

/// A scope to define.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewScope {
    /// The scope string.
    pub name: String,
    /// What it grants.
    #[serde(default)]
    pub description: String,
}

/// Changes to a resource server; absent fields are left alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceServerPatch {
    /// New display name.
    pub name: Option<String>,
    /// New resource URI.
    pub resource_uri: Option<String>,
    /// Enable or disable (disabled denies every tool).
    pub enabled: Option<bool>,
    /// Apply manifest suggestions when no admin decision exists.
    pub auto_apply_suggestions: Option<bool>,
}

pub use authsec_proto::wire::ManifestOutcome;

/// The most tools one manifest may list (and, separately, the most prompts and resources).
pub const MAX_MANIFEST_TOOLS: usize = 5000;
const MAX_RESOURCE_URI: usize = 2048;

const MAX_NAME: usize = 200;
const MAX_TOOL_NAME: usize = 256;
const MAX_DESCRIPTION: usize = 2000;

fn check_name(field: &'static str, name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_NAME} characters without control characters"),
        ));
    }
    Ok(())
}

fn check_resource_uri(uri: &str) -> Result<(), Error> {
    let parsed = url::Url::parse(uri).map_err(|e| {
        Error::invalid(
            "resource_uri",
            format!("{uri:?} is not an absolute URI ({e}); use the full public URL of the MCP endpoint, e.g. https://mcp.example.com/mcp"),
        )
    })?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err(Error::invalid(
            "resource_uri",
            format!("{uri:?} must be an https URL (http only for development)"),
        ));
    }
    if parsed.fragment().is_some() {
        return Err(Error::invalid(
            "resource_uri",
            "must not contain a fragment (RFC 8707)",
        ));
    }
    Ok(())
}

pub(crate) fn check_scope_name(name: &str) -> Result<(), Error> {
    if !model::is_scope_token(name) || name.len() > MAX_NAME {
        return Err(Error::invalid(
            "scope",
            format!("{name:?} is not a scope token: 1–{MAX_NAME} printable ASCII characters without spaces, '\"' or '\\' (RFC 6749 §3.3)"),
        ));
    }
    Ok(())
}

fn check_description(description: &str) -> Result<(), Error> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(Error::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(())
}

pub(crate) fn check_tool_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAX_TOOL_NAME || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            format!(
                "tool name {name:?} must be 1–{MAX_TOOL_NAME} bytes without control characters"
            ),
        ));
    }
    Ok(())
}

/// Checks a policy key of `kind`: a tool or prompt name (1–256 bytes, no control
/// characters), or a resource's exact URI or URI template, with the rules the SDK matches
/// with ([`ResourceKey::parse`]).
pub(crate) fn check_entry_key(kind: EntryKind, key: &str) -> Result<(), Error> {
    match kind {
        EntryKind::Tool => check_tool_name(key),
        EntryKind::Prompt => {
            if key.is_empty() || key.len() > MAX_TOOL_NAME || key.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "name",
                    format!("prompt name {key:?} must be 1–{MAX_TOOL_NAME} bytes without control characters"),
                ));
            }
            Ok(())
        }
        EntryKind::Resource => {
            if key.len() > MAX_RESOURCE_URI || key.chars().any(|c| c.is_control() || c == ' ') {
                return Err(Error::invalid(
                    "uri",
                    format!("resource URI {key:?} must be at most {MAX_RESOURCE_URI} bytes without spaces or control characters"),
                ));
            }
            ResourceKey::parse(key).map_err(|e| Error::invalid("uri", e.to_string()))?;
            Ok(())
        }
    }
}

/// Where the inventory and the admin decisions of one kind are stored.
struct Tables {
    inventory: &'static str,
    inventory_key: &'static str,
    mappings: &'static str,
    mapping_key: &'static str,
}

fn tables(kind: EntryKind) -> Tables {
    match kind {
        EntryKind::Tool => Tables {
            inventory: "tools",
            inventory_key: "name",
            mappings: "tool_mappings",
            mapping_key: "tool_name",
        },
        EntryKind::Prompt => Tables {
            inventory: "prompts",
            inventory_key: "name",
            mappings: "prompt_mappings",
            mapping_key: "prompt_name",
        },
        EntryKind::Resource => Tables {
            inventory: "resources",
            inventory_key: "uri",
            mappings: "resource_mappings",
            mapping_key: "uri",
        },
    }
}

fn bool_col(row: &AnyRow, col: &str) -> Result<bool, Error> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

fn server_from_row(row: &AnyRow) -> Result<ResourceServerRow, Error> {
    Ok(ResourceServerRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        resource_uri: row.try_get("resource_uri")?,
        enabled: bool_col(row, "enabled")?,
        auto_apply_suggestions: bool_col(row, "auto_apply_suggestions")?,
        generation: row.try_get("generation")?,
        last_manifest_at: row.try_get("last_manifest_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn scope_from_row(row: &AnyRow) -> Result<Scope, Error> {
    Ok(Scope {
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn inventory_from_row(row: &AnyRow) -> Result<InventoryTool, Error> {
    let json = |col: &str| -> Result<Option<Value>, Error> {
        row.try_get::<Option<String>, _>(col)?
            .map(|s| from_json("tool inventory", &s))
            .transpose()
    };
    Ok(InventoryTool {
        manifest: ManifestTool {
            name: row.try_get("name")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            input_schema: json("input_schema")?,
            annotations: json("annotations")?,
            suggested_scopes: from_json(
                "suggested scopes",
                &row.try_get::<String, _>("suggested_scopes")?,
            )?,
        },
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
    })
}

fn decision_from_row(row: &AnyRow) -> Result<(String, Decision), Error> {
    let state: String = row.try_get("state")?;
    let scope_match: String = row.try_get("scope_match")?;
    Ok((
        row.try_get("entry_key")?,
        Decision {
            state: ToolState::parse(&state)
                .ok_or_else(|| Error::corrupt("mapping state", &state))?,
            scopes: from_json("mapping scopes", &row.try_get::<String, _>("scopes")?)?,
            scope_match: ScopeMatch::parse(&scope_match)
                .ok_or_else(|| Error::corrupt("scope_match", &scope_match))?,
            updated_at: row.try_get("updated_at")?,
        },
    ))
}

const SERVER_COLUMNS: &str =
    "id, name, resource_uri, enabled, auto_apply_suggestions, generation, \
                              last_manifest_at, created_at, updated_at";

async fn load_server(
    conn: &mut AnyConnection,
    rs_id: &str,
) -> Result<Option<ResourceServerRow>, Error> {
    sqlx::query(&format!(
        "SELECT {SERVER_COLUMNS} FROM resource_servers WHERE id = $1"
    ))
    .bind(rs_id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(server_from_row)
    .transpose()
}

async fn load_scopes(conn: &mut AnyConnection, rs_id: &str) -> Result<Vec<Scope>, Error> {
    sqlx::query(
        "SELECT name, description, created_at, updated_at FROM scopes \
         WHERE resource_server_id = $1 ORDER BY name",
    )
    .bind(rs_id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(scope_from_row)
    .collect()
}

async fn load_inventory(
    conn: &mut AnyConnection,
    rs_id: &str,
) -> Result<Vec<InventoryTool>, Error> {
    sqlx::query(
        "SELECT name, title, description, input_schema, annotations, suggested_scopes, \
         first_seen, last_seen FROM tools WHERE resource_server_id = $1 ORDER BY name",
    )
    .bind(rs_id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(inventory_from_row)
    .collect()
}

async fn load_decisions(
    conn: &mut AnyConnection,
    kind: EntryKind,
    rs_id: &str,
) -> Result<Vec<(String, Decision)>, Error> {
    let Tables {
        mappings,
        mapping_key,
        ..
    } = tables(kind);
    sqlx::query(&format!(
        "SELECT {mapping_key} AS entry_key, state, scopes, scope_match, updated_at FROM {mappings} \
         WHERE resource_server_id = $1 ORDER BY {mapping_key}"
    ))
    .bind(rs_id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(decision_from_row)
    .collect()
}

/// The prompt or resource inventory and decisions of a resource server (their inventory rows
/// keep the manifest entry as JSON).
async fn load_catalog<M: ManifestEntry>(
    conn: &mut AnyConnection,
    rs_id: &str,
) -> Result<Catalog<M>, Error> {
    let Tables {
        inventory,
        inventory_key,
        ..
    } = tables(M::KIND);
    let rows = sqlx::query(&format!(
        "SELECT manifest, first_seen, last_seen FROM {inventory} \
         WHERE resource_server_id = $1 ORDER BY {inventory_key}"
    ))
    .bind(rs_id)
    .fetch_all(&mut *conn)
    .await?;
    let inventory = rows
        .iter()
        .map(|row| {
            Ok(InventoryItem {
                manifest: from_json("inventory entry", &row.try_get::<String, _>("manifest")?)?,
                first_seen: row.try_get("first_seen")?,
                last_seen: row.try_get("last_seen")?,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(Catalog {
        inventory,
        decisions: load_decisions(conn, M::KIND, rs_id).await?,
    })
}

/// Everything the rules need. The server row (with its generation) is read first, so the
/// rest is at least as new as the generation reported: an SDK may see a newer policy under an
/// older generation (and re-fetch once), never an older policy under a newer generation.
async fn load_inputs(conn: &mut AnyConnection, rs_id: &str) -> Result<PolicyInputs, Error> {
    let server = load_server(conn, rs_id)
        .await?
        .ok_or_else(|| Error::not_found("resource_server", rs_id))?;
    Ok(PolicyInputs {
        scopes: load_scopes(conn, rs_id).await?,
        inventory: load_inventory(conn, rs_id).await?,
        decisions: load_decisions(conn, EntryKind::Tool, rs_id).await?,
        prompts: load_catalog(conn, rs_id).await?,
        resources: load_catalog(conn, rs_id).await?,
        server,
    })
}

fn server_audit(s: &ResourceServerRow) -> Value {
    json!({
        "id": s.id, "name": s.name, "resource_uri": s.resource_uri, "enabled": s.enabled,
        "auto_apply_suggestions": s.auto_apply_suggestions,
    })
}

async fn insert_scope(
    conn: &mut AnyConnection,
    rs_id: &str,
    scope: &NewScope,
    now: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO scopes (resource_server_id, name, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(rs_id)
    .bind(&scope.name)
    .bind(&scope.description)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

async fn resource_uri_owner(
    conn: &mut AnyConnection,
    resource_uri: &str,
) -> Result<Option<String>, Error> {
    Ok(
        sqlx::query("SELECT id FROM resource_servers WHERE resource_uri = $1")
            .bind(resource_uri)
            .fetch_optional(conn)
            .await?
            .map(|r| r.try_get("id"))
            .transpose()?,
    )
}

/// Scopes in `wanted` that are not defined on the resource server.
async fn undefined_scopes(
    conn: &mut AnyConnection,
    rs_id: &str,
    wanted: &[String],
) -> Result<Vec<String>, Error> {
    let defined: BTreeSet<String> = load_scopes(conn, rs_id)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    Ok(wanted
        .iter()
        .filter(|s| !defined.contains(*s))
        .cloned()
        .collect())
}

/// Checks a scope list: valid tokens, no duplicates, all defined on the resource server.
pub(crate) async fn check_defined_scopes(
    conn: &mut AnyConnection,
    rs_id: &str,
    field: &'static str,
    scopes: &[String],
) -> Result<(), Error> {
    let mut seen = BTreeSet::new();
    for s in scopes {
        check_scope_name(s)?;
        if !seen.insert(s) {
            return Err(Error::invalid(
                field,
                format!("scope {s:?} is listed twice"),
            ));
        }
    }
    let unknown = undefined_scopes(conn, rs_id, scopes).await?;
    if !unknown.is_empty() {
        return Err(Error::UnknownScopes {
            resource_server_id: rs_id.to_owned(),
            scopes: unknown,
        });
    }
    Ok(())
}

/// The entries of `kind` whose admin decision names `scope`.
async fn scope_users(
    conn: &mut AnyConnection,
    kind: EntryKind,
    rs_id: &str,
    scope: &str,
) -> Result<Vec<String>, Error> {
    Ok(load_decisions(conn, kind, rs_id)
        .await?
        .into_iter()
        .filter(|(_, d)| d.scopes.iter().any(|s| s == scope))
        .map(|(key, _)| key)
        .collect())
}

/// The audit action of `verb` (`set`, `cleared`) on a mapping of `kind`: `mapping.set` for
/// tools (as before prompts and resources existed), `prompt_mapping.set`, `resource_mapping.set`.
fn mapping_action(kind: EntryKind, verb: &str) -> String {
    match kind {
        EntryKind::Tool => format!("mapping.{verb}"),
        k => format!("{}_mapping.{verb}", k.as_str()),
    }
}

/// A mapped entry needs scopes; public and unmapped ones take none.
fn check_decision_shape(kind: EntryKind, state: ToolState, scopes: &[String]) -> Result<(), Error> {
    match state {
        ToolState::Mapped if scopes.is_empty() => Err(Error::invalid(
            "scopes",
            format!(
                "a mapped {} needs at least one scope (use state \"public\" for none)",
                kind.as_str()
            ),
        )),
        ToolState::Public | ToolState::Unmapped if !scopes.is_empty() => Err(Error::invalid(
            "scopes",
            format!("must be empty when state is {:?}", state.as_str()),
        )),
        _ => Ok(()),
    }
}

/// Writes `decision` for each of `keys` (one audit entry each) and bumps the generation once.
/// The caller has locked the resource server and checked the keys and scopes.
async fn write_decisions(
    tx: &mut super::WriteTx<'_>,
    actor: &Actor,
    kind: EntryKind,
    rs_id: &str,
    keys: &[String],
    decision: &Decision,
) -> Result<(), Error> {
    let Tables {
        mappings,
        mapping_key,
        ..
    } = tables(kind);
    let before: BTreeMap<String, Decision> = load_decisions(tx.conn(), kind, rs_id)
        .await?
        .into_iter()
        .collect();
    let action = mapping_action(kind, "set");
    let mut done = BTreeSet::new();
    for key in keys {
        if !done.insert(key.as_str()) {
            continue;
        }
        sqlx::query(&format!(
            "INSERT INTO {mappings} (resource_server_id, {mapping_key}, state, scopes, scope_match, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (resource_server_id, {mapping_key}) DO UPDATE SET state = excluded.state, \
             scopes = excluded.scopes, scope_match = excluded.scope_match, updated_at = excluded.updated_at"
        ))
        .bind(rs_id)
        .bind(key)
        .bind(decision.state.as_str())
        .bind(to_json(&decision.scopes)?)
        .bind(decision.scope_match.as_str())
        .bind(decision.updated_at)
        .execute(tx.conn())
        .await?;
        tx.audit(
            actor,
            &action,
            Some(rs_id),
            Some(key),
            before.get(key).and_then(audit_value),
            audit_value(decision),
        )
        .await?;
    }
    tx.bump(rs_id).await?;
    Ok(())
}

/// What merging a manifest's prompts or resources into the inventory changed.
struct Merged<M> {
    added: Vec<String>,
    updated: Vec<String>,
    before: Vec<M>,
    after: Vec<M>,
}

/// Merges `listed` into the prompt or resource inventory (the JSON-column tables): new entries
/// are added, changed ones replaced, every listed one's `last_seen` refreshed.
async fn merge_catalog<M: ManifestEntry>(
    tx: &mut super::WriteTx<'_>,
    rs_id: &str,
    listed: &[M],
) -> Result<Merged<M>, Error> {
    let Tables {
        inventory,
        inventory_key,
        ..
    } = tables(M::KIND);
    let existing: BTreeMap<String, M> = load_catalog::<M>(tx.conn(), rs_id)
        .await?
        .inventory
        .into_iter()
        .map(|i| (i.manifest.key().to_owned(), i.manifest))
        .collect();
    let now = tx.now;
    let mut merged = Merged {
        added: Vec::new(),
        updated: Vec::new(),
        before: Vec::new(),
        after: Vec::new(),
    };
    for entry in listed {
        let key = entry.key();
        let old = existing.get(key);
        if old == Some(entry) {
            sqlx::query(&format!(
                "UPDATE {inventory} SET last_seen = $3 \
                 WHERE resource_server_id = $1 AND {inventory_key} = $2"
            ))
            .bind(rs_id)
            .bind(key)
            .bind(now)
            .execute(tx.conn())
            .await?;
            continue;
        }
        sqlx::query(&format!(
            "INSERT INTO {inventory} (resource_server_id, {inventory_key}, manifest, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (resource_server_id, {inventory_key}) DO UPDATE SET \
             manifest = excluded.manifest, last_seen = excluded.last_seen"
        ))
        .bind(rs_id)
        .bind(key)
        .bind(to_json(entry)?)
        .bind(now)
        .execute(tx.conn())
        .await?;
        match old {
            Some(old) => {
                merged.updated.push(key.to_owned());
                merged.before.push(old.clone());
            }
            None => merged.added.push(key.to_owned()),
        }
        merged.after.push(entry.clone());
    }
    Ok(merged)
}

/// The audit `before` of a manifest: the entries it changed, as they were (absent when it
/// only added).
fn manifest_audit_before(
    tools: &[ManifestTool],
    prompts: &[ManifestPrompt],
    resources: &[ManifestResource],
) -> Option<Value> {
    if tools.is_empty() && prompts.is_empty() && resources.is_empty() {
        return None;
    }
    let mut before = json!({ "tools": tools });
    if !prompts.is_empty() {
        before["prompts"] = json!(prompts);
    }
    if !resources.is_empty() {
        before["resources"] = json!(resources);
    }
    Some(before)
}

/// Checks a manifest list: not too long, valid keys listed once, valid suggested scopes.
fn check_manifest_list<M: ManifestEntry>(listed: &[M]) -> Result<(), Error> {
    let kind = M::KIND.as_str();
    if listed.len() > MAX_MANIFEST_TOOLS {
        return Err(Error::invalid(
            "manifest",
            format!(
                "lists {} {kind}s; at most {MAX_MANIFEST_TOOLS}",
                listed.len()
            ),
        ));
    }
    let mut keys = BTreeSet::new();
    for e in listed {
        check_entry_key(M::KIND, e.key())?;
        if !keys.insert(e.key()) {
            return Err(Error::invalid(
                "manifest",
                format!("{kind} {:?} is listed twice", e.key()),
            ));
        }
        for s in e.suggested_scopes() {
            check_scope_name(s)?;
        }
    }
    Ok(())
}

impl Store {
    // ---- resource servers --------------------------------------------------------------

    /// Every resource server, by name.
    pub async fn list_resource_servers(&self) -> Result<Vec<ResourceServer>, Error> {
        let mut conn = self.pool().acquire().await?;
        let ids: Vec<String> = sqlx::query("SELECT id FROM resource_servers ORDER BY name, id")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match load_inputs(&mut conn, &id).await {
                Ok(inputs) => out.push(model::resource_server_view(&inputs)),
                // Deleted since the id list was read.
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// One resource server.
    pub async fn resource_server(&self, rs_id: &str) -> Result<ResourceServer, Error> {
        let mut conn = self.pool().acquire().await?;
        Ok(model::resource_server_view(
            &load_inputs(&mut conn, rs_id).await?,
        ))
    }

    /// Creates a resource server with a new id (`rs-` + 8 hex) and credentials; returns it and
    /// the client secret, which is never available again.
    pub async fn create_resource_server(
        &self,
        actor: &Actor,
        new: NewResourceServer,
    ) -> Result<(ResourceServer, String), Error> {
        check_name("name", &new.name)?;
        check_resource_uri(&new.resource_uri)?;
        let mut seen = BTreeSet::new();
        for s in &new.scopes {
            check_scope_name(&s.name)?;
            check_description(&s.description)?;
            if !seen.insert(&s.name) {
                return Err(Error::ScopeExists {
                    scope: s.name.clone(),
                });
            }
        }
        let secret = auth::generate_secret("asr_")?;
        let secret_hash = auth::hash_secret(&secret)?;
        let mut tx = self.write().await?;
        if let Some(existing) = resource_uri_owner(tx.conn(), &new.resource_uri).await? {
            return Err(Error::ResourceUriTaken {
                resource_uri: new.resource_uri,
                existing,
            });
        }
        let mut id = String::new();
        for _ in 0..8 {
            let candidate = format!("rs-{}", auth::random_hex::<4>()?);
            if load_server(tx.conn(), &candidate).await?.is_none() {
                id = candidate;
                break;
            }
        }
        if id.is_empty() {
            return Err(Error::Crypto("no free resource server id after 8 attempts"));
        }
        let now = tx.now;
        sqlx::query(
            "INSERT INTO resource_servers (id, name, resource_uri, secret_hash, enabled, \
             auto_apply_suggestions, generation, last_manifest_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, 1, NULL, $6, $6)",
        )
        .bind(&id)
        .bind(&new.name)
        .bind(&new.resource_uri)
        .bind(&secret_hash)
        .bind(i64::from(new.auto_apply_suggestions))
        .bind(now)
        .execute(tx.conn())
        .await?;
        for s in &new.scopes {
            insert_scope(tx.conn(), &id, s, now).await?;
        }
        let inputs = load_inputs(tx.conn(), &id).await?;
        let mut after = server_audit(&inputs.server);
        after["scopes"] = json!(new.scopes.iter().map(|s| &s.name).collect::<Vec<_>>());
        tx.audit(
            actor,
            "resource_server.created",
            Some(&id),
            Some(&id),
            None,
            Some(after),
        )
        .await?;
        tx.commit().await?;
        Ok((model::resource_server_view(&inputs), secret))
    }

    /// Applies `patch` to a resource server.
    pub async fn update_resource_server(
        &self,
        actor: &Actor,
        rs_id: &str,
        patch: ResourceServerPatch,
    ) -> Result<ResourceServer, Error> {
        if let Some(n) = &patch.name {
            check_name("name", n)?;
        }
        if let Some(u) = &patch.resource_uri {
            check_resource_uri(u)?;
        }
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        let before = load_server(tx.conn(), rs_id)
            .await?
            .ok_or_else(|| Error::not_found("resource_server", rs_id))?;
        if let Some(u) = &patch.resource_uri {
            match resource_uri_owner(tx.conn(), u).await? {
                Some(existing) if existing != rs_id => {
                    return Err(Error::ResourceUriTaken {
                        resource_uri: u.clone(),
                        existing,
                    })
                }
                _ => {}
            }
        }
        sqlx::query(
            "UPDATE resource_servers SET name = $2, resource_uri = $3, enabled = $4, \
             auto_apply_suggestions = $5 WHERE id = $1",
        )
        .bind(rs_id)
        .bind(patch.name.as_ref().unwrap_or(&before.name))
        .bind(patch.resource_uri.as_ref().unwrap_or(&before.resource_uri))
        .bind(i64::from(patch.enabled.unwrap_or(before.enabled)))
        .bind(i64::from(
            patch
                .auto_apply_suggestions
                .unwrap_or(before.auto_apply_suggestions),
        ))
        .execute(tx.conn())
        .await?;
        tx.bump(rs_id).await?;
        let inputs = load_inputs(tx.conn(), rs_id).await?;
        tx.audit(
            actor,
            "resource_server.updated",
            Some(rs_id),
            Some(rs_id),
            Some(server_audit(&before)),
            Some(server_audit(&inputs.server)),
        )
        .await?;
        tx.commit().await?;
        Ok(model::resource_server_view(&inputs))
    }

    /// Deletes a resource server with its scopes, tools, mappings and clients (their tokens
    /// stop introspecting as active).
    pub async fn delete_resource_server(&self, actor: &Actor, rs_id: &str) -> Result<(), Error> {
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        let before = load_server(tx.conn(), rs_id)
            .await?
            .ok_or_else(|| Error::not_found("resource_server", rs_id))?;
        // Children first: no reliance on ON DELETE CASCADE being enabled on the connection.
        for table in [
            "tool_mappings",
            "tools",
            "prompt_mappings",
            "prompts",
            "resource_mappings",
            "resources",
            "scopes",
            "clients",
        ] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE resource_server_id = $1"
            ))
            .bind(rs_id)
            .execute(tx.conn())
            .await?;
        }
        sqlx::query("DELETE FROM resource_servers WHERE id = $1")
            .bind(rs_id)
            .execute(tx.conn())
            .await?;
        tx.audit(
            actor,
            "resource_server.deleted",
            Some(rs_id),
            Some(rs_id),
            Some(server_audit(&before)),
            None,
        )
        .await?;
        tx.commit().await?;
        // Wake any SDK waiting on it: it will be told its credentials no longer work.
        self.inner.hub.publish(rs_id, i64::MAX);
        Ok(())
    }

    /// Replaces a resource server's client secret; returns the new secret (shown once). The
    /// old one stops working immediately.
    pub async fn rotate_resource_server_secret(
        &self,
        actor: &Actor,
        rs_id: &str,
    ) -> Result<String, Error> {
        let secret = auth::generate_secret("asr_")?;
        let hash = auth::hash_secret(&secret)?;
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        sqlx::query("UPDATE resource_servers SET secret_hash = $2 WHERE id = $1")
            .bind(rs_id)
            .bind(&hash)
            .execute(tx.conn())
            .await?;
        tx.bump(rs_id).await?;
        tx.audit(
            actor,
            "resource_server.secret_rotated",
            Some(rs_id),
            Some(rs_id),
            None,
            Some(json!({"client_id": rs_id})),
        )
        .await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Checks a resource server's credentials; returns the server when they match.
    pub(crate) async fn authenticate_resource_server(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Option<ResourceServerRow>, Error> {
        let query =
            format!("SELECT {SERVER_COLUMNS}, secret_hash FROM resource_servers WHERE id = $1");
        self.row_with_secret(&query, client_id, secret)
            .await?
            .map(|row| server_from_row(&row))
            .transpose()
    }

    /// A resource server's stored fields.
    pub(crate) async fn resource_server_row(
        &self,
        rs_id: &str,
    ) -> Result<ResourceServerRow, Error> {
        let mut conn = self.pool().acquire().await?;
        load_server(&mut conn, rs_id)
            .await?
            .ok_or_else(|| Error::not_found("resource_server", rs_id))
    }

    // ---- scopes ------------------------------------------------------------------------

    /// A resource server's scopes, by name.
    pub async fn list_scopes(&self, rs_id: &str) -> Result<Vec<Scope>, Error> {
        let mut conn = self.pool().acquire().await?;
        if load_server(&mut conn, rs_id).await?.is_none() {
            return Err(Error::not_found("resource_server", rs_id));
        }
        load_scopes(&mut conn, rs_id).await
    }

    /// Every scope of every resource server (for `scopes_supported` in the metadata).
    pub async fn all_scopes(&self) -> Result<Vec<String>, Error> {
        sqlx::query("SELECT DISTINCT name FROM scopes ORDER BY name")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok(r.try_get("name")?))
            .collect()
    }

    /// Defines a scope.
    pub async fn create_scope(
        &self,
        actor: &Actor,
        rs_id: &str,
        new: NewScope,
    ) -> Result<Scope, Error> {
        check_scope_name(&new.name)?;
        check_description(&new.description)?;
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        if load_scopes(tx.conn(), rs_id)
            .await?
            .iter()
            .any(|s| s.name == new.name)
        {
            return Err(Error::ScopeExists { scope: new.name });
        }
        let now = tx.now;
        insert_scope(tx.conn(), rs_id, &new, now).await?;
        tx.bump(rs_id).await?;
        let scope = Scope {
            name: new.name,
            description: new.description,
            created_at: now,
            updated_at: now,
        };
        tx.audit(
            actor,
            "scope.created",
            Some(rs_id),
            Some(&scope.name),
            None,
            audit_value(&scope),
        )
        .await?;
        tx.commit().await?;
        Ok(scope)
    }

    /// Changes a scope's description (a scope string never changes: create another instead).
    pub async fn update_scope(
        &self,
        actor: &Actor,
        rs_id: &str,
        name: &str,
        description: String,
    ) -> Result<Scope, Error> {
        check_description(&description)?;
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        let before = load_scopes(tx.conn(), rs_id)
            .await?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::not_found("scope", name))?;
        let now = tx.now;
        sqlx::query(
            "UPDATE scopes SET description = $3, updated_at = $4 \
             WHERE resource_server_id = $1 AND name = $2",
        )
        .bind(rs_id)
        .bind(name)
        .bind(&description)
        .bind(now)
        .execute(tx.conn())
        .await?;
        tx.bump(rs_id).await?;
        let after = Scope {
            description,
            updated_at: now,
            ..before.clone()
        };
        tx.audit(
            actor,
            "scope.updated",
            Some(rs_id),
            Some(name),
            audit_value(&before),
            audit_value(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a scope that no admin mapping and no client uses.
    pub async fn delete_scope(&self, actor: &Actor, rs_id: &str, name: &str) -> Result<(), Error> {
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        let before = load_scopes(tx.conn(), rs_id)
            .await?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::not_found("scope", name))?;
        let tools = scope_users(tx.conn(), EntryKind::Tool, rs_id, name).await?;
        let prompts = scope_users(tx.conn(), EntryKind::Prompt, rs_id, name).await?;
        let resources = scope_users(tx.conn(), EntryKind::Resource, rs_id, name).await?;
        let clients: Vec<String> = super::tokens::load_clients(tx.conn(), rs_id)
            .await?
            .into_iter()
            .filter(|c| c.allowed_scopes.iter().any(|s| s == name))
            .map(|c| c.client_id)
            .collect();
        if !tools.is_empty() || !prompts.is_empty() || !resources.is_empty() || !clients.is_empty()
        {
            return Err(Error::ScopeInUse {
                scope: name.to_owned(),
                tools,
                prompts,
                resources,
                clients,
            });
        }
        sqlx::query("DELETE FROM scopes WHERE resource_server_id = $1 AND name = $2")
            .bind(rs_id)
            .bind(name)
            .execute(tx.conn())
            .await?;
        tx.bump(rs_id).await?;
        tx.audit(
            actor,
            "scope.deleted",
            Some(rs_id),
            Some(name),
            audit_value(&before),
            None,
        )
        .await?;
        tx.commit().await
    }

    // ---- tools, prompts, resources and their mappings -----------------------------------

    /// Every tool of a resource server with its state.
    pub async fn list_tools(&self, rs_id: &str) -> Result<Vec<Tool>, Error> {
        let mut conn = self.pool().acquire().await?;
        Ok(model::tools(&load_inputs(&mut conn, rs_id).await?))
    }

    /// Every prompt (`M` = [`ManifestPrompt`]) or resource ([`ManifestResource`]) of a resource
    /// server with its state, by key.
    pub async fn list_entries<M: ManifestEntry>(
        &self,
        rs_id: &str,
    ) -> Result<Vec<Entry<M>>, Error> {
        let mut conn = self.pool().acquire().await?;
        Ok(M::entries(&load_inputs(&mut conn, rs_id).await?))
    }

    /// A resource server's admin view, its tools and its scopes, from one read (the web
    /// console's Tools tab).
    pub async fn resource_server_tools(
        &self,
        rs_id: &str,
    ) -> Result<(ResourceServer, Vec<Tool>, Vec<Scope>), Error> {
        let mut conn = self.pool().acquire().await?;
        let inputs = load_inputs(&mut conn, rs_id).await?;
        let tools = model::tools(&inputs);
        let view = model::resource_server_view_of(&inputs, &tools);
        Ok((view, tools, inputs.scopes))
    }

    /// A resource server's admin view, the entries of one kind and its scopes, from one read
    /// (the web console's Prompts and Resources tabs).
    pub async fn resource_server_entries<M: ManifestEntry>(
        &self,
        rs_id: &str,
    ) -> Result<(ResourceServer, Vec<Entry<M>>, Vec<Scope>), Error> {
        let mut conn = self.pool().acquire().await?;
        let inputs = load_inputs(&mut conn, rs_id).await?;
        let view = model::resource_server_view(&inputs);
        Ok((view, M::entries(&inputs), inputs.scopes))
    }

    /// One tool with its state.
    pub async fn tool(&self, rs_id: &str, name: &str) -> Result<Tool, Error> {
        self.list_tools(rs_id)
            .await?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::not_found("tool", name))
    }

    /// One prompt or resource with its state.
    pub async fn entry<M: ManifestEntry>(&self, rs_id: &str, key: &str) -> Result<Entry<M>, Error> {
        self.list_entries::<M>(rs_id)
            .await?
            .into_iter()
            .find(|e| e.key() == key)
            .ok_or_else(|| Error::not_found(M::KIND.as_str(), key))
    }

    /// Records an admin decision for a tool (it need not be in the inventory yet). Mapped
    /// needs at least one scope, all defined on the resource server; public and unmapped take
    /// none.
    pub async fn set_mapping(
        &self,
        actor: &Actor,
        rs_id: &str,
        tool: &str,
        state: ToolState,
        scopes: Vec<String>,
        scope_match: ScopeMatch,
    ) -> Result<Tool, Error> {
        let tools = [tool.to_owned()];
        let mut after = self
            .set_mappings(actor, rs_id, &tools, state, scopes, scope_match)
            .await?;
        after.pop().ok_or_else(|| Error::not_found("tool", tool))
    }

    /// [`Store::set_mapping`] for a prompt (by name) or a resource (by exact URI or URI
    /// template, checked with the SDK's rules): the same decision, generation bump and audit
    /// entry (`prompt_mapping.set`, `resource_mapping.set`).
    pub async fn set_entry_mapping<M: ManifestEntry>(
        &self,
        actor: &Actor,
        rs_id: &str,
        key: &str,
        state: ToolState,
        scopes: Vec<String>,
        scope_match: ScopeMatch,
    ) -> Result<Entry<M>, Error> {
        let keys = [key.to_owned()];
        let mut after = self
            .set_decisions::<M>(actor, rs_id, &keys, state, scopes, scope_match)
            .await?;
        after
            .pop()
            .ok_or_else(|| Error::not_found(M::KIND.as_str(), key))
    }

    /// [`Store::set_mapping`] for several tools at once, in one transaction: one generation
    /// bump (so SDKs that wait for changes re-fetch once), one audit entry per tool. Returns the
    /// tools afterwards, in the order given.
    pub async fn set_mappings(
        &self,
        actor: &Actor,
        rs_id: &str,
        tools: &[String],
        state: ToolState,
        scopes: Vec<String>,
        scope_match: ScopeMatch,
    ) -> Result<Vec<Tool>, Error> {
        Ok(self
            .set_decisions::<ManifestTool>(actor, rs_id, tools, state, scopes, scope_match)
            .await?
            .into_iter()
            .map(Tool::from)
            .collect())
    }

    async fn set_decisions<M: ManifestEntry>(
        &self,
        actor: &Actor,
        rs_id: &str,
        keys: &[String],
        state: ToolState,
        scopes: Vec<String>,
        scope_match: ScopeMatch,
    ) -> Result<Vec<Entry<M>>, Error> {
        let kind = M::KIND;
        if keys.is_empty() {
            return Err(Error::invalid(
                "tools",
                format!("name at least one {}", kind.as_str()),
            ));
        }
        for key in keys {
            check_entry_key(kind, key)?;
        }
        check_decision_shape(kind, state, &scopes)?;
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        check_defined_scopes(tx.conn(), rs_id, "scopes", &scopes).await?;
        let decision = Decision {
            state,
            scopes,
            scope_match,
            updated_at: tx.now,
        };
        write_decisions(&mut tx, actor, kind, rs_id, keys, &decision).await?;
        let all = M::entries(&load_inputs(tx.conn(), rs_id).await?);
        tx.commit().await?;
        keys.iter()
            .map(|key| {
                all.iter()
                    .find(|e| e.key() == key)
                    .cloned()
                    .ok_or_else(|| Error::not_found(kind.as_str(), key))
            })
            .collect()
    }

    /// Removes the admin decision for a tool: it falls back to its applied suggestion or
    /// becomes unmapped.
    pub async fn clear_mapping(
        &self,
        actor: &Actor,
        rs_id: &str,
        tool: &str,
    ) -> Result<Tool, Error> {
        Ok(self
            .clear_entry_mapping::<ManifestTool>(actor, rs_id, tool)
            .await?
            .into())
    }

    /// [`Store::clear_mapping`] for a prompt or a resource.
    pub async fn clear_entry_mapping<M: ManifestEntry>(
        &self,
        actor: &Actor,
        rs_id: &str,
        key: &str,
    ) -> Result<Entry<M>, Error> {
        let Tables {
            mappings,
            mapping_key,
            ..
        } = tables(M::KIND);
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        let before = load_decisions(tx.conn(), M::KIND, rs_id)
            .await?
            .into_iter()
            .find(|(n, _)| n == key)
            .map(|(_, d)| d)
            .ok_or_else(|| Error::not_found("mapping", key))?;
        sqlx::query(&format!(
            "DELETE FROM {mappings} WHERE resource_server_id = $1 AND {mapping_key} = $2"
        ))
        .bind(rs_id)
        .bind(key)
        .execute(tx.conn())
        .await?;
        tx.bump(rs_id).await?;
        tx.audit(
            actor,
            &mapping_action(M::KIND, "cleared"),
            Some(rs_id),
            Some(key),
            audit_value(&before),
            None,
        )
        .await?;
        let entries = M::entries(&load_inputs(tx.conn(), rs_id).await?);
        tx.commit().await?;
        Ok(entries
            .into_iter()
            .find(|e| e.key() == key)
            .unwrap_or_else(|| Entry::unlisted(key)))
    }

    /// Forgets a tool: its inventory entry and its admin decision.
    pub async fn delete_tool(&self, actor: &Actor, rs_id: &str, tool: &str) -> Result<(), Error> {
        self.delete_entry::<ManifestTool>(actor, rs_id, tool).await
    }

    /// Forgets a tool, prompt or resource: its inventory entry and its admin decision
    /// (audit `tool.deleted`, `prompt.deleted`, `resource.deleted`).
    pub async fn delete_entry<M: ManifestEntry>(
        &self,
        actor: &Actor,
        rs_id: &str,
        key: &str,
    ) -> Result<(), Error> {
        let kind = M::KIND;
        let t = tables(kind);
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        let inputs = load_inputs(tx.conn(), rs_id).await?;
        let before = M::entries(&inputs)
            .into_iter()
            .find(|e| e.key() == key)
            .ok_or_else(|| Error::not_found(kind.as_str(), key))?;
        for sql in [
            format!(
                "DELETE FROM {} WHERE resource_server_id = $1 AND {} = $2",
                t.inventory, t.inventory_key
            ),
            format!(
                "DELETE FROM {} WHERE resource_server_id = $1 AND {} = $2",
                t.mappings, t.mapping_key
            ),
        ] {
            sqlx::query(&sql)
                .bind(rs_id)
                .bind(key)
                .execute(tx.conn())
                .await?;
        }
        tx.bump(rs_id).await?;
        let before = match kind {
            // The tool's audit entry keeps the admin API's shape of a tool.
            EntryKind::Tool => {
                audit_value(&model::tools(&inputs).into_iter().find(|t| t.name == key))
            }
            _ => audit_value(&before),
        };
        tx.audit(
            actor,
            &format!("{}.deleted", kind.as_str()),
            Some(rs_id),
            Some(key),
            before,
            None,
        )
        .await?;
        tx.commit().await
    }

    // ---- manifests and the SDK policy --------------------------------------------------

    /// Merges a manifest into the inventories of tools, prompts and resources: new entries
    /// are added (unmapped unless a decision or an applied suggestion exists), changed ones
    /// updated, and every listed entry's `last_seen` refreshed. Admin decisions are never
    /// touched. The generation is bumped only if an inventory changed.
    pub async fn apply_manifest(
        &self,
        actor: &Actor,
        rs_id: &str,
        manifest: impl Into<Manifest>,
    ) -> Result<ManifestOutcome, Error> {
        let manifest: Manifest = manifest.into();
        check_manifest_list(&manifest.tools)?;
        check_manifest_list(&manifest.prompts)?;
        check_manifest_list(&manifest.resources)?;
        let Manifest {
            tools: manifest,
            prompts,
            resources,
        } = manifest;
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        let now = tx.now;
        let existing = load_inventory(tx.conn(), rs_id).await?;
        let mut added = Vec::new();
        let mut updated = Vec::new();
        let mut before_changed = Vec::new();
        let mut after_changed = Vec::new();
        let mut unchanged = 0;
        for t in &manifest {
            let old = existing.iter().find(|e| e.manifest.name == t.name);
            let json_opt = |v: &Option<Value>| v.as_ref().map(Value::to_string);
            match old {
                Some(old) if &old.manifest == t => {
                    unchanged += 1;
                    sqlx::query(
                        "UPDATE tools SET last_seen = $3 WHERE resource_server_id = $1 AND name = $2",
                    )
                    .bind(rs_id)
                    .bind(&t.name)
                    .bind(now)
                    .execute(tx.conn())
                    .await?;
                }
                _ => {
                    sqlx::query(
                        "INSERT INTO tools (resource_server_id, name, title, description, input_schema, \
                         annotations, suggested_scopes, first_seen, last_seen) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                         ON CONFLICT (resource_server_id, name) DO UPDATE SET title = excluded.title, \
                         description = excluded.description, input_schema = excluded.input_schema, \
                         annotations = excluded.annotations, suggested_scopes = excluded.suggested_scopes, \
                         last_seen = excluded.last_seen",
                    )
                    .bind(rs_id)
                    .bind(&t.name)
                    .bind(&t.title)
                    .bind(&t.description)
                    .bind(json_opt(&t.input_schema))
                    .bind(json_opt(&t.annotations))
                    .bind(to_json(&t.suggested_scopes)?)
                    .bind(now)
                    .execute(tx.conn())
                    .await?;
                    match old {
                        Some(old) => {
                            updated.push(t.name.clone());
                            before_changed.push(old.manifest.clone());
                        }
                        None => added.push(t.name.clone()),
                    }
                    after_changed.push(t.clone());
                }
            }
        }
        let prompts = merge_catalog(&mut tx, rs_id, &prompts).await?;
        let resources = merge_catalog(&mut tx, rs_id, &resources).await?;
        sqlx::query("UPDATE resource_servers SET last_manifest_at = $2 WHERE id = $1")
            .bind(rs_id)
            .bind(now)
            .execute(tx.conn())
            .await?;
        let changed = [&added, &updated, &prompts.added, &prompts.updated]
            .into_iter()
            .chain([&resources.added, &resources.updated])
            .any(|l| !l.is_empty());
        let generation = if !changed {
            load_server(tx.conn(), rs_id)
                .await?
                .map_or(0, |s| s.generation)
        } else {
            let g = tx.bump(rs_id).await?;
            tx.audit(
                actor,
                "manifest.applied",
                Some(rs_id),
                None,
                manifest_audit_before(&before_changed, &prompts.before, &resources.before),
                Some(json!({
                    "added": added, "updated": updated, "tools": after_changed,
                    "prompts_added": prompts.added, "prompts_updated": prompts.updated,
                    "prompts": prompts.after,
                    "resources_added": resources.added, "resources_updated": resources.updated,
                    "resources": resources.after,
                })),
            )
            .await?;
            g
        };
        tx.commit().await?;
        Ok(ManifestOutcome {
            generation,
            added,
            updated,
            unchanged,
            prompts_added: prompts.added,
            prompts_updated: prompts.updated,
            resources_added: resources.added,
            resources_updated: resources.updated,
        })
    }

    /// The SDK policy document of a resource server.
    pub async fn sdk_policy(&self, rs_id: &str) -> Result<SdkPolicyDocument, Error> {
        let mut conn = self.pool().acquire().await?;
        Ok(model::sdk_policy(&load_inputs(&mut conn, rs_id).await?))
    }
}
