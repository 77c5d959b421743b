// A minimal stateless Streamable HTTP MCP server with one `echo` tool, written the way the official
// TypeScript SDK documents it (examples/server/simpleStatelessStreamableHttp.ts: a new McpServer and
// transport per request, `sessionIdGenerator: undefined`), answering with plain JSON.
//
//   node server.mjs --port PORT            bare: no authentication
//   node server.mjs --port PORT --auth     requireBearerAuth with a jose verifier
//
// With --auth the verifier is `createRemoteJWKSet` + `jwtVerify` (RS256, issuer and audience
// checked), configured by BENCH_ISSUER, BENCH_JWKS_URL, BENCH_AUDIENCE and BENCH_SCOPE (the scope
// `requireBearerAuth` requires). Listens on 127.0.0.1 only.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { z } from 'zod';

const args = process.argv.slice(2);
const portIndex = args.indexOf('--port');
const PORT = portIndex >= 0 ? Number(args[portIndex + 1]) : 3000;
const AUTH = args.includes('--auth');

const getServer = () => {
    const server = new McpServer({ name: 'bench-echo-ts', version: '1.0.0' });
    server.registerTool(
        'echo',
        { description: 'Echo the text back.', inputSchema: { text: z.string() } },
        async ({ text }) => ({ content: [{ type: 'text', text }] })
    );
    return server;
};

const app = createMcpExpressApp();

if (AUTH) {
    const env = name => {
        const v = process.env[name];
        if (!v) {
            console.error(`server.mjs: ${name} is required with --auth`);
            process.exit(2);
        }
        return v;
    };
    const issuer = env('BENCH_ISSUER');
    const audience = env('BENCH_AUDIENCE');
    const scope = env('BENCH_SCOPE');
    const jwks = createRemoteJWKSet(new URL(env('BENCH_JWKS_URL')));
    const verifier = {
        async verifyAccessToken(token) {
            let payload;
            try {
                ({ payload } = await jwtVerify(token, jwks, { issuer, audience, algorithms: ['RS256'] }));
            } catch (e) {
                throw new InvalidTokenError(e?.code ?? 'invalid token');
            }
            return {
                token,
                clientId: String(payload.client_id ?? payload.sub ?? ''),
                scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
                expiresAt: payload.exp,
                resource: new URL(audience)
            };
        }
    };
    app.use('/mcp', requireBearerAuth({ verifier, requiredScopes: [scope] }));
}

app.post('/mcp', async (req, res) => {
    const server = getServer();
    try {
        const transport = new StreamableHTTPServerTransport({
            sessionIdGenerator: undefined,
            enableJsonResponse: true
        });
        await server.connect(transport);
        await transport.handleRequest(req, res, req.body);
        res.on('close', () => {
            transport.close();
            server.close();
        });
    } catch (error) {
        console.error('Error handling MCP request:', error);
        if (!res.headersSent) {
            res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
        }
    }
});

const notAllowed = (_req, res) => {
    res.writeHead(405).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null }));
};
app.get('/mcp', notAllowed);
app.delete('/mcp', notAllowed);

app.listen(PORT, '127.0.0.1', error => {
    if (error) {
        console.error('Failed to start server:', error);
        process.exit(1);
    }
    console.error(`bench-echo-ts (${AUTH ? 'requireBearerAuth + jose' : 'bare'}) listening on http://127.0.0.1:${PORT}/mcp`);
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
