"""The official Python MCP client (`mcp` from PyPI) against an authsec-protected server.

Usage: python py_client.py MCP_URL ISSUER
Prints one JSON object describing what happened: the wire exchanges (status and
WWW-Authenticate of every response, the token requests' form fields) and the tool results.
"""

import asyncio
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


async def main(url: str, issuer: str) -> None:
    exchanges: list[dict] = []

    async def on_response(response: httpx2.Response) -> None:
        request = response.request
        form = {}
        if request.method == "POST" and str(request.url).startswith(issuer):
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        exchanges.append(
            {
                "url": str(request.url),
                "method": request.method,
                "status": response.status_code,
                "www_authenticate": response.headers.get("www-authenticate"),
                "form": form,
            }
        )

    auth = ClientCredentialsOAuthProvider(
        server_url=url,
        storage=MemoryStorage(),
        client_id="agent",
        client_secret="agent-secret",
        issuer=issuer,
    )
    result: dict = {}
    async with httpx2.AsyncClient(auth=auth, event_hooks={"response": [on_response]}, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, *_):
            async with ClientSession(read, write) as session:
                await session.initialize()
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
    asyncio.run(main(sys.argv[1], sys.argv[2]))
