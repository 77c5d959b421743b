"""A minimal stateless Streamable HTTP MCP server with one `echo` tool, on FastMCP.

    python server.py --port PORT            bare: no authentication
    python server.py --port PORT --auth     FastMCP's JWTVerifier (JWKS, issuer, audience, scope)

Written the way FastMCP documents it: a `FastMCP` server with `auth=JWTVerifier(...)`, served as
`mcp.http_app(stateless_http=True, json_response=True)` by uvicorn with one worker. With --auth the
verifier is configured by BENCH_ISSUER, BENCH_JWKS_URL, BENCH_AUDIENCE and BENCH_SCOPE (a required
scope). Listens on 127.0.0.1 only; no access log.
"""

import argparse
import os
import sys

import uvicorn
from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import JWTVerifier


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"server.py: {name} is required with --auth")
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--auth", action="store_true")
    args = parser.parse_args()

    auth = None
    if args.auth:
        auth = JWTVerifier(
            jwks_uri=env("BENCH_JWKS_URL"),
            issuer=env("BENCH_ISSUER"),
            audience=env("BENCH_AUDIENCE"),
            algorithm="RS256",
            required_scopes=[env("BENCH_SCOPE")],
        )

    mcp = FastMCP("bench-echo-py", auth=auth)

    @mcp.tool
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    app = mcp.http_app(path="/mcp", stateless_http=True, json_response=True)
    print(
        f"bench-echo-py ({'JWTVerifier' if args.auth else 'bare'}) listening on "
        f"http://127.0.0.1:{args.port}/mcp",
        file=sys.stderr,
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        workers=1,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
