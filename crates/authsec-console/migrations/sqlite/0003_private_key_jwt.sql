-- Machine clients that authenticate with a private key (RFC 7523 private_key_jwt) instead of a
-- secret: their public keys, inline or at a URL, and the assertion ids already used.
ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret';
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;

-- A client assertion's jti is refused a second time until the assertion expires; kept in the
-- database so every instance refuses it.
CREATE TABLE client_assertions (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertions_by_expiry ON client_assertions (expires_at);
