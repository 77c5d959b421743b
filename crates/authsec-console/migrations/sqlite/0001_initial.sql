-- authsec console schema, SQLite dialect. Keep in step with ../postgres/0001_initial.sql:
-- the same tables, columns and meaning; only the types differ (INTEGER here, BIGINT there).
-- Times are Unix seconds; booleans are 0/1; JSON values are stored as text.

CREATE TABLE console_settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE resource_servers (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    resource_uri TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    auto_apply_suggestions INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    last_manifest_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE scopes (
    resource_server_id TEXT NOT NULL REFERENCES resource_servers (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (resource_server_id, name)
);

-- The tool inventory, as published by the resource server's manifests.
CREATE TABLE tools (
    resource_server_id TEXT NOT NULL REFERENCES resource_servers (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    title TEXT,
    description TEXT,
    input_schema TEXT,
    annotations TEXT,
    suggested_scopes TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (resource_server_id, name)
);

-- Admin decisions only. A manifest never writes here.
CREATE TABLE tool_mappings (
    resource_server_id TEXT NOT NULL REFERENCES resource_servers (id) ON DELETE CASCADE,
    tool_name TEXT NOT NULL,
    state TEXT NOT NULL,
    scopes TEXT NOT NULL,
    scope_match TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (resource_server_id, tool_name)
);

CREATE TABLE clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    resource_server_id TEXT NOT NULL REFERENCES resource_servers (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    allowed_scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX clients_by_resource_server ON clients (resource_server_id);

-- serial orders keys strictly (the highest active one signs), even when created in one second.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    serial INTEGER NOT NULL UNIQUE,
    alg TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);

CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_server_id TEXT,
    target TEXT,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX audit_log_by_resource_server ON audit_log (resource_server_id, id);
