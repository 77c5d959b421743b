// A minimal MCP server protected the way the official TypeScript MCP SDK documents it:
// `mcpAuthMetadataRouter` serves the protected resource metadata and `requireBearerAuth`
// guards /mcp. `authsec probe` is run against it to report its real deviations.
//
// Usage: node server.mjs   (listens on 127.0.0.1, an ephemeral port; prints "LISTENING <port>")
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import {
  mcpAuthMetadataRouter,
  getOAuthProtectedResourceMetadataUrl,
} from '@modelcontextprotocol/sdk/server/auth/router.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';

// The one token this server accepts (a test fixture, not a secret).
const GOOD_TOKEN = 'peer-good-token';

const app = createMcpExpressApp();
const listener = app.listen(0, '127.0.0.1', () => {
  const port = listener.address().port;
  const base = `http://127.0.0.1:${port}`;
  const resource = new URL(`${base}/mcp`);

  app.use(
    mcpAuthMetadataRouter({
      oauthMetadata: {
        issuer: base,
        authorization_endpoint: `${base}/authorize`,
        token_endpoint: `${base}/token`,
        response_types_supported: ['code'],
      },
      resourceServerUrl: resource,
      scopesSupported: ['mcp:tools'],
      resourceName: 'ts-bearer peer',
    }),
  );

  const verifier = {
    async verifyAccessToken(token) {
      if (token !== GOOD_TOKEN) {
        throw new InvalidTokenError('Invalid token');
      }
      return {
        token,
        clientId: 'peer-client',
        scopes: ['mcp:tools'],
        expiresAt: Math.floor(Date.now() / 1000) + 3600,
        resource,
      };
    },
  };
  const auth = requireBearerAuth({
    verifier,
    requiredScopes: ['mcp:tools'],
    resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(resource),
  });

  const mcp = () => {
    const server = new McpServer({ name: 'ts-bearer-peer', version: '1.0.0' });
    server.registerTool('echo', { description: 'Echoes its input' }, async () => ({
      content: [{ type: 'text', text: 'echo' }],
    }));
    // Needs a scope the token lacks. The SDK has no per-tool authorization, so the usual
    // pattern is a tool-level error result.
    server.registerTool('admin_reset', { description: 'Needs the admin scope' }, async (extra) => {
      if (!extra.authInfo?.scopes.includes('admin')) {
        return { isError: true, content: [{ type: 'text', text: 'forbidden: admin scope required' }] };
      }
      return { content: [{ type: 'text', text: 'reset' }] };
    });
    return server;
  };

  app.post('/mcp', auth, async (req, res) => {
    const server = mcp();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });

  console.log(`LISTENING ${port}`);
});
