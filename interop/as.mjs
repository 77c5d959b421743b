// A real OpenID Provider (oidc-provider, OpenID-certified) configured for the interop suite:
// RFC 8707 resource indicators issuing JWT access tokens with aud = resource, introspection and
// revocation, client_credentials for machine clients, a configurable access-token lifetime and
// format, and signing-key rotation on demand.
//
// Usage: node as.mjs [port]   — prints one JSON line {"issuer": "..."} when ready.
// Environment (optional):
//   AS_JWT_CLIENT_JWKS   a public JWKS (JSON): adds client `jwt-agent` (private_key_jwt, ES256/RS256)
// Control endpoints (loopback only, for the test harness):
//   POST /__control/rotate           new signing key; the old one stays published
//   POST /__control/ttl?seconds=N    access-token lifetime for new tokens
//   POST /__control/format?f=jwt|opaque
import http from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 0);
const SCOPES = ['notes:read', 'notes:write', 'notes:admin'];

export const CLIENTS = [
  {
    client_id: 'agent',
    client_secret: 'agent-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: SCOPES.join(' '),
    token_endpoint_auth_method: 'client_secret_basic',
  },
  {
    client_id: 'reader',
    client_secret: 'reader-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'notes:read',
    token_endpoint_auth_method: 'client_secret_basic',
  },
  {
    client_id: 'post-agent',
    client_secret: 'post-agent-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: SCOPES.join(' '),
    token_endpoint_auth_method: 'client_secret_post',
  },
  ...(process.env.AS_JWT_CLIENT_JWKS
    ? [
        {
          client_id: 'jwt-agent',
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          scope: SCOPES.join(' '),
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: JSON.parse(process.env.AS_JWT_CLIENT_JWKS),
        },
      ]
    : []),
  {
    // The protected resource's own credentials, for RFC 7662 introspection.
    client_id: 'notes-rs',
    client_secret: 'notes-rs-secret',
    grant_types: [],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  },
];

const state = { ttl: 3600, format: 'jwt', keys: [newKey()] };

function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

let provider;
let issuer;

function build() {
  const p = new Provider(issuer, {
    clients: CLIENTS,
    jwks: { keys: state.keys },
    scopes: SCOPES,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: SCOPES.join(' '),
          accessTokenTTL: state.ttl,
          accessTokenFormat: state.format,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    ttl: { ClientCredentials: () => state.ttl },
  });
  p.proxy = false;
  // Loopback-only test issuer: oidc-provider refuses plain http unless told it is development.
  return p;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname.startsWith('/__control/') && req.method === 'POST') {
    if (url.pathname === '/__control/rotate') {
      state.keys = [newKey(), ...state.keys];
      provider = build();
    } else if (url.pathname === '/__control/ttl') {
      state.ttl = Number(url.searchParams.get('seconds'));
    } else if (url.pathname === '/__control/format') {
      state.format = url.searchParams.get('f');
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(204).end();
    return;
  }
  provider.callback()(req, res);
});

server.listen(port, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  provider = build();
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
