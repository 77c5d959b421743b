"""The official Python MCP client (`mcp` from PyPI) against an authsec-protected server.

Usage: python py_client.py MCP_URL ISSUER [handshake|discover]

* handshake (the default): the 2025 era, `initialize` then calls within a session.
* discover: MCP 2026-07-28, `server/discover` then stateless calls (no session, no handshake).

Prints one JSON object describing what happened: the wire exchanges (status and
WWW-Authenticate of every response, the MCP headers and JSON-RPC messages of every MCP
request and response, the token requests' form fields and the scope and audience of every
token issued — never the token itself) and the tool results.
"""

import asyncio
import base64
import json
import sys
from urllib.parse import parse_qs

import httpx2
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def json_rpc_messages(body: bytes, content_type: str) -> list:
    """The JSON-RPC messages of a response body: one JSON document, or the data of each SSE event."""
    text = body.decode(errors="replace")
    if content_type.startswith("text/event-stream"):
        messages = []
        for event in text.replace("\r\n", "\n").split("\n\n"):
            data = [line[5:].lstrip(" ") for line in event.split("\n") if line.startswith("data:")]
            if data and "".join(data).strip():
                messages.append(json.loads("\n".join(data)))
        return messages
    try:
        return [json.loads(text)]
    except ValueError:
        return []


def token_claims(body: bytes) -> dict:
    """`scope` and `aud` of the JWT access token in a token response (payload decoded, not verified)."""
    try:
        token = json.loads(body)["access_token"]
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, KeyError, IndexError):
        return {}
    return {"scope": claims.get("scope"), "aud": claims.get("aud")}


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Records every exchange the client makes, for assertions on the real wire traffic.

    Reads each POST response whole before handing it on (MCP POST responses end with the
    JSON-RPC response; GET streams are recorded without their body)."""

    def __init__(self, mcp_url: str, issuer: str, exchanges: list) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.mcp_url = mcp_url
        self.issuer = issuer
        self.exchanges = exchanges

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        url = str(request.url)
        entry: dict = {
            "url": url,
            "method": request.method,
            "status": response.status_code,
            "www_authenticate": response.headers.get("www-authenticate"),
            "form": {},
        }
        if request.method != "POST":
            self.exchanges.append(entry)
            return response
        body = await response.aread()
        await response.aclose()
        content_type = response.headers.get("content-type", "")
        if url == self.mcp_url:
            entry["request_headers"] = {
                k.lower(): v for k, v in request.headers.items() if k.lower().startswith("mcp-")
            }
            entry["session_id"] = response.headers.get("mcp-session-id")
            entry["request"] = json.loads(request.content) if request.content else None
            entry["messages"] = json_rpc_messages(body, content_type)
        elif url.startswith(self.issuer):
            entry["form"] = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if url == f"{self.issuer}/token" and response.status_code == 200:
                entry["issued"] = token_claims(body)
        self.exchanges.append(entry)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            request=request,
            extensions=response.extensions,
        )


async def main(url: str, issuer: str, mode: str) -> None:
    exchanges: list[dict] = []
    auth = ClientCredentialsOAuthProvider(
        server_url=url,
        storage=MemoryStorage(),
        client_id="agent",
        client_secret="agent-secret",
        issuer=issuer,
    )
    result: dict = {"mode": mode}
    transport = RecordingTransport(url, issuer, exchanges)
    async with httpx2.AsyncClient(auth=auth, transport=transport, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, *_):
            async with ClientSession(read, write) as session:
                if mode == "discover":
                    discovered = await session.discover()
                    result["supported_versions"] = discovered.supported_versions
                else:
                    await session.initialize()
                result["protocol_version"] = session.protocol_version
                tools = await session.list_tools()
                result["tools"] = sorted(t.name for t in tools.tools)
                listed = await session.call_tool("list_notes", {})
                result["list_notes_is_error"] = bool(listed.is_error)
                added = await session.call_tool("add_note", {"text": "from the Python client"})
                result["add_note_is_error"] = bool(added.is_error)
                result["add_note"] = [c.model_dump(mode="json") for c in added.content]
    result["exchanges"] = exchanges
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "handshake"))
