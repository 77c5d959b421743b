-- The web console: sign-in sessions and one-time sign-in links, and clients that can be disabled.
-- Keep in step with ../postgres/0002_web_console.sql.

-- kind 'session': a signed-in browser (the cookie); kind 'link': a one-time sign-in link.
-- id_hash is the SHA-256 (hex) of the random value the browser or the link holds: the value
-- itself is never stored.
CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);

-- A disabled client gets no tokens, and its tokens stop introspecting as active.
ALTER TABLE clients ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
