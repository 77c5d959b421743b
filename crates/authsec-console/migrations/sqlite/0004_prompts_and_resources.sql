-- Prompts (by name) and resources (by exact URI or URI template) of a resource server, beside
-- its tools: an inventory as published by the manifests, and admin decisions. Keep in step with
-- ../postgres/0004_prompts_and_resources.sql. The inventory keeps each manifest entry as
-- JSON (its members are the wire type's: ManifestPrompt, ManifestResource).

CREATE TABLE prompts (
    resource_server_id TEXT NOT NULL REFERENCES resource_servers (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    manifest TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (resource_server_id, name)
);

-- Admin decisions only, with the columns of tool_mappings. A manifest never writes here.
CREATE TABLE prompt_mappings (
    resource_server_id TEXT NOT NULL REFERENCES resource_servers (id) ON DELETE CASCADE,
    prompt_name TEXT NOT NULL,
    state TEXT NOT NULL,
    scopes TEXT NOT NULL,
    scope_match TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (resource_server_id, prompt_name)
);

CREATE TABLE resources (
    resource_server_id TEXT NOT NULL REFERENCES resource_servers (id) ON DELETE CASCADE,
    uri TEXT NOT NULL,
    manifest TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (resource_server_id, uri)
);

CREATE TABLE resource_mappings (
    resource_server_id TEXT NOT NULL REFERENCES resource_servers (id) ON DELETE CASCADE,
    uri TEXT NOT NULL,
    state TEXT NOT NULL,
    scopes TEXT NOT NULL,
    scope_match TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (resource_server_id, uri)
);
