#!/usr/bin/env python3
"""authsec against the peers a user would pick instead: one `echo` MCP tool, served bare and
with JWT protection by the official TypeScript SDK (requireBearerAuth + jose), FastMCP
(JWTVerifier), authsec (AuthSecLayer on rmcp) and, when the CLI has it, `authsec gateway` in
front of the bare TypeScript server.

Normally started by bench/run.sh, which installs the peers and builds the binaries first.
Standard library only. Every server listens on 127.0.0.1; every load run is bounded by its
duration; every process started here is stopped on exit.

Steps:
1. start the loopback issuer (one RS256 token for every request) and every server, each
   pinned to the server CPU;
2. correctness gate: each server answers the benchmark request with 200 and the echoed text;
   each protected one answers 401 without a token and 401 with a wrong-audience token.
   Any failure aborts (exit 1): a benchmark of error responses is worthless;
3. load: wrk pinned to the load CPU, fixed connections, a warm-up then a measured window per
   run, several rounds with the server order rotated each round; a non-200 or a response
   without the echoed text under load aborts too;
4. report the median of each metric over the rounds as a markdown table with machine details.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TS_DIR = BENCH / "peers" / "ts"
PY_DIR = BENCH / "peers" / "py"

# One logical resource for every server, so one token is valid everywhere.
RESOURCE = "https://bench.authsec.example/mcp"
WRONG_AUDIENCE_NOTE = "https://bench.authsec.example/other"
SCOPE = "bench:echo"
MARKER = "authsec-bench"
PROTOCOL_VERSION = "2025-06-18"
REQUEST = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": MARKER}},
    },
    separators=(",", ":"),
)
ACCEPT = "application/json, text/event-stream"
# The stateless era (MCP 2026-07-28): no initialize and no session; every request carries the
# revision in `Mcp-Protocol-Version` and in `_meta`, and its method and tool name in the
# `Mcp-Method` / `Mcp-Name` routing headers.
PROTOCOL_2026 = "2026-07-28"
REQUEST_2026 = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "echo",
            "arguments": {"text": MARKER},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": PROTOCOL_2026,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    },
    separators=(",", ":"),
)
# Per era: (body, headers beside Content-Type, Accept and Authorization).
ERAS = {
    "2025": (REQUEST, {"MCP-Protocol-Version": PROTOCOL_VERSION}),
    "2026": (REQUEST_2026, {"Mcp-Protocol-Version": PROTOCOL_2026, "Mcp-Method": "tools/call", "Mcp-Name": "echo"}),
}


class BenchError(Exception):
    """A failure that aborts the run, with a message for the user."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One benchmarked server: how to start it and what it is."""

    def __init__(self, key, label, argv, env=None, protected=False, cwd=None, era="2025"):
        self.key = key
        self.era = era
        self.label = label
        self.argv = argv
        self.env = env or {}
        self.protected = protected
        self.cwd = cwd
        self.port = free_port()
        self.proc = None
        self.log_path = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


class Processes:
    """Every child process, stopped (by its own pid) on exit."""

    def __init__(self):
        self.children = []

    def start(self, argv, env=None, stdout=None, stderr=None, cwd=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = spawn(argv, env=full_env, stdout=stdout, stderr=stderr, cwd=cwd)
        self.children.append(proc)
        return proc

    def stop_all(self):
        for proc in self.children:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 5
        for proc in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# Set in main(): the niceness of servers and wrk (0: unchanged).
NICE = 0


def die_with_parent():
    """In the child: be sent SIGTERM if this script dies without cleaning up (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(argv, **kwargs):
    """Starts a process in its own session. With NICE set (root only), the process and its
    session's scheduling group (Linux autogroup: with it, a process's own niceness only counts
    against its own session) both get that niceness, so other work on the machine takes less of
    the benchmark's CPUs."""
    if NICE:
        argv = ["nice", "-n", str(NICE)] + list(argv)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=die_with_parent, **kwargs)
    if NICE:
        try:
            Path(f"/proc/{proc.pid}/autogroup").write_text(str(NICE))
        except OSError:
            pass
    return proc


def pin(cpu):
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def wait_listening(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(
                f"{server.label} exited with status {server.proc.returncode} before listening\n"
                + tail(server.log_path)
            )
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"{server.label} did not listen within {timeout:.0f} s\n" + tail(server.log_path))


def tail(path, lines=20) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def post(url: str, token, era="2025", timeout=10.0):
    """The benchmark request of `era`; returns (status, headers, body text)."""
    body, era_headers = ERAS[era]
    headers = {"Content-Type": "application/json", "Accept": ACCEPT, **era_headers}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode(errors="replace")


def json_rpc_messages(content_type: str, body: str):
    """The JSON-RPC messages of a Streamable HTTP answer, plain JSON or SSE."""
    if content_type.startswith("text/event-stream"):
        out = []
        for line in body.splitlines():
            if line.startswith("data:"):
                out.append(json.loads(line[5:].strip()))
        return out
    return [json.loads(body)]


def check_echo(server: Server, token: str) -> None:
    status, headers, body = post(server.url, token, server.era)
    if status != 200:
        raise BenchError(f"{server.label}: the benchmark request got {status}, not 200: {body[:300]}")
    try:
        messages = json_rpc_messages(headers.get("Content-Type", ""), body)
    except ValueError as e:
        raise BenchError(f"{server.label}: the answer is not JSON-RPC ({e}): {body[:300]}")
    results = [m for m in messages if m.get("id") == 1 and "result" in m]
    if len(results) != 1:
        raise BenchError(f"{server.label}: no result for the call: {body[:300]}")
    result = results[0]["result"]
    texts = [c.get("text") for c in result.get("content", []) if c.get("type") == "text"]
    if texts != [MARKER] or result.get("isError"):
        raise BenchError(f"{server.label}: the tool did not echo {MARKER!r}: {body[:300]}")


def check_refused(server: Server, token, what: str) -> None:
    status, _, body = post(server.url, token, server.era)
    if status != 401:
        raise BenchError(f"{server.label}: {what} got {status}, not 401: {body[:300]}")


def correctness_gate(servers, token: str, wrong_aud_token: str) -> None:
    for s in servers:
        check_echo(s, token)
        if s.protected:
            check_refused(s, None, "a request without a token")
            check_refused(s, wrong_aud_token, "a token for another audience")
            # The accepted token still works after the refusals (no state poisoned).
            check_echo(s, token)
        log(f"  ok  {s.label}: 200 with the echoed text" + ("; 401 without a token; 401 for another audience" if s.protected else ""))


WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "{accept}"
{era_headers}
wrk.headers["Authorization"] = "Bearer {token}"
bad = 0
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, [[{expect}]], 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("bad") end
  io.write(string.format("BAD_RESPONSES=%d\\n", n))
end
"""


def to_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        raise ValueError(value)
    n = float(m.group(1))
    return {"us": n / 1000, "ms": n, "s": n * 1000, "m": n * 60000}[m.group(2)]


def parse_wrk(out: str) -> dict:
    rps = re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"^\s*(\d+) requests in", out, re.M)
    bad = re.search(r"^BAD_RESPONSES=(\d+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if not (rps and p50 and p99 and total and bad):
        raise BenchError("cannot read wrk's output:\n" + out)
    return {
        "rps": float(rps.group(1)),
        "p50": to_ms(p50.group(1)),
        "p99": to_ms(p99.group(1)),
        "requests": int(total.group(1)),
        "bad": int(bad.group(1)),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
    }


def run_wrk(server: Server, script: Path, seconds: float, connections: int, load_cpu) -> dict:
    argv = pin(load_cpu) + [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "--latency",
        "-s", str(script), server.url,
    ]
    wrk = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = wrk.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        wrk.kill()
        wrk.communicate()
        raise BenchError(f"{server.label}: wrk did not finish")
    if wrk.returncode != 0:
        raise BenchError(f"{server.label}: wrk failed ({wrk.returncode}): {stderr}{stdout}")
    if server.proc.poll() is not None:
        raise BenchError(f"{server.label} exited under load\n" + tail(server.log_path))
    r = parse_wrk(stdout)
    if r["requests"] == 0:
        raise BenchError(f"{server.label}: no request completed under load:\n{stdout}")
    if r["bad"] or r["non2xx"]:
        raise BenchError(
            f"{server.label}: {r['bad']} of {r['requests']} responses under load were not 200 "
            f"with the echoed text; a benchmark of error responses is worthless:\n{stdout}"
        )
    return r


def sh(argv, cwd=None) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=cwd).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu or platform.processor() or "?",
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "load": load,
    }


def npm_version(package: str) -> str:
    try:
        return json.loads((TS_DIR / "node_modules" / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def versions(bin_dir: Path) -> dict:
    py = PY_DIR / ".venv" / "bin" / "python"
    py_versions = sh([str(py), "-c", "import importlib.metadata as m, platform;"
                      "print(platform.python_version(), *(m.version(p) for p in ('fastmcp', 'mcp', 'uvicorn', 'starlette', 'PyJWT', 'joserfc')))"]).split()
    py_versions += ["?"] * (7 - len(py_versions))
    lock = (ROOT / "Cargo.lock").read_text()
    rmcp = re.search(r'name = "rmcp"\nversion = "([^"]+)"', lock)
    wrk = sh(["wrk", "-v"]) or subprocess.run(["wrk", "-v"], capture_output=True, text=True).stderr
    return {
        "node": sh(["node", "--version"]),
        "sdk": npm_version("@modelcontextprotocol/sdk"),
        "express": npm_version("express"),
        "jose": npm_version("jose"),
        "python": py_versions[0],
        "fastmcp": py_versions[1],
        "mcp": py_versions[2],
        "uvicorn": py_versions[3],
        "starlette": py_versions[4],
        "pyjwt": py_versions[5],
        "joserfc": py_versions[6],
        "rustc": sh(["rustc", "--version"]),
        "rmcp": rmcp.group(1) if rmcp else "?",
        "commit": sh(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT) or "?",
        "profile": bin_dir.name,
        "wrk": (wrk.splitlines() or ["?"])[0].strip(),
    }


def fmt_rps(x: float) -> str:
    return f"{x:,.0f}"


def fmt_ms(x: float) -> str:
    return f"{x:.2f} ms" if x < 10 else f"{x:.1f} ms"


def fmt_ratio(x) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def report(args, servers, results, gateway_note, mach_before, mach_after, vers) -> str:
    med = {
        key: {m: statistics.median(r[m] for r in runs) for m in ("rps", "p50", "p99")}
        for key, runs in results.items()
    }
    baseline = {"ts-auth": "ts-bare", "py-auth": "py-bare", "authsec": "authsec-bare", "gateway": "ts-bare",
                "authsec-2026": "authsec-bare-2026"}
    ts_auth = med.get("ts-auth", {}).get("rps")
    py_auth = med.get("py-auth", {}).get("rps")

    lines = []
    add = lines.append
    add("| server | req/s | p50 | p99 | auth ÷ bare | × TypeScript SDK + jose | × FastMCP + JWTVerifier |")
    add("|---|---:|---:|---:|---:|---:|---:|")
    for s in servers:
        m = med[s.key]
        base = baseline.get(s.key)
        ratio = m["rps"] / med[base]["rps"] if base in med else None
        name = f"**{s.label}**" if s.key in ("authsec", "authsec-2026") else s.label
        add(
            f"| {name} | {fmt_rps(m['rps'])} | {fmt_ms(m['p50'])} | {fmt_ms(m['p99'])} | {fmt_ratio(ratio)} "
            f"| {fmt_ratio(m['rps'] / ts_auth) if ts_auth else '—'}× | {fmt_ratio(m['rps'] / py_auth) if py_auth else '—'}× |"
        )
    if gateway_note and not args.authsec_only:
        add(f"| authsec gateway → TypeScript SDK (bare) | not available | | | | | |")
    table = "\n".join(lines)

    goals = []
    a = med["authsec"]["rps"]
    rounds = len(results["authsec"])
    paired = [results["authsec"][i]["rps"] / results["authsec-bare"][i]["rps"] for i in range(rounds)]
    # Rounds alternate which of the pair runs first (even rounds: bare first). Whichever runs
    # second can be favoured on a shared machine; the geometric mean of the two orders' medians
    # cancels that bias.
    bare_first, auth_first = paired[0::2], paired[1::2]
    paired_2026 = (
        [results["authsec-2026"][i]["rps"] / results["authsec-bare-2026"][i]["rps"] for i in range(rounds)]
        if "authsec-2026" in results else []
    )
    balanced = (
        (statistics.median(bare_first) * statistics.median(auth_first)) ** 0.5 if auth_first else None
    )
    for label, value, goal in (
        ("authsec protected ÷ TypeScript SDK + jose", a / ts_auth if ts_auth else None, 15.0),
        ("authsec protected ÷ FastMCP + JWTVerifier", a / py_auth if py_auth else None, 60.0),
        ("authsec protected ÷ authsec bare (medians)", a / med["authsec-bare"]["rps"], 0.95),
        ("authsec protected ÷ authsec bare (median of the per-round ratios)", statistics.median(paired), 0.95),
        ("authsec protected ÷ authsec bare (order-balanced: geometric mean of the bare-first and "
         "authsec-first medians)", balanced, 0.95),
        ("2026-07-28 stateless: authsec protected ÷ rmcp bare (median of the per-round ratios)",
         statistics.median(paired_2026) if paired_2026 else None, 0.95),
    ):
        if value is None:
            goals.append(f"| {label} | not measured in this run | ≥ {goal:g}× | |")
            continue
        met = "met" if value >= goal else "**not met**"
        goals.append(f"| {label} | {fmt_ratio(value)}× | ≥ {goal:g}× | {met} |")
    per_round = []
    for i in range(rounds):
        cells = " | ".join(fmt_rps(results[s.key][i]["rps"]) for s in servers)
        era_cell = f" | {paired_2026[i]:.3f}" if paired_2026 else ""
        per_round.append(f"| {i + 1} | {cells} | {paired[i]:.3f}{era_cell} |")

    v = vers
    out = [
        "# authsec vs peers: one `echo` tool, one core",
        "",
        f"Generated by `bench/run.sh{' --smoke' if args.smoke else ''}` on {mach_before['date']}.",
        "",
        "## Machine",
        "",
        f"- CPU: {mach_before['cpu']} ({mach_before['nproc']} online CPUs); kernel {mach_before['kernel']}",
        f"- load average (1/5/15 min): {mach_before['load']} before, {mach_after['load']} after"
        + (" — other work shared the machine, so absolute numbers are noisy: read the ratios" if float(mach_before['load'].split()[0]) > 1.0 else ""),
        f"- every server pinned to CPU {args.server_cpu}, wrk to CPU {args.load_cpu} (`taskset`)"
        + (f", all at niceness {args.nice} (process and autogroup) to reduce interference from other work" if args.nice else ""),
        "",
        "## Method",
        "",
        f"Each server is a stateless Streamable HTTP MCP server with one `echo` tool answering plain JSON on 127.0.0.1. "
        f"Every request is the same `tools/call` of `echo` with the same RS256 bearer token (issuer, audience, scope "
        f"`{SCOPE}`, 1 h lifetime) from one loopback JWKS; the bare servers ignore it. Before any load, each server must "
        f"answer it with 200 and the echoed text, and each protected server must answer 401 without a token and 401 for "
        f"a token minted for another audience; under load, any response that is not 200 with the echoed text aborts the run. "
        f"The rows marked 2026-07-28 send the stateless revision's request instead (`Mcp-Protocol-Version: {PROTOCOL_2026}`, "
        f"`Mcp-Method: tools/call`, `Mcp-Name: echo`, the revision in `params._meta`; no initialize, no session) to the same "
        f"two authsec-echo builds; the other rows send `MCP-Protocol-Version: {PROTOCOL_VERSION}` without `_meta`.",
        "",
        f"`{v['wrk']}`: `wrk -t1 -c{args.connections}`, {args.warmup:g} s warm-up then {args.duration:g} s measured per run, "
        f"{rounds} round(s); each protected server runs next to its bare baseline, the groups rotate each round and the "
        "order inside a group alternates; the table shows the median over the rounds of each column. "
        "Ratios divide requests per second: *auth ÷ bare* compares each protected server with the same server unprotected "
        "(for the gateway: with the bare TypeScript server behind it); the last two columns compare with each peer's protected server.",
        "",
        "## Results",
        "",
        table,
        "",
        *(["A smoke run (one short round, often a debug build) checks that every server answers correctly "
           "under load; it says nothing about the goals, so they are not shown."] if args.smoke else
          ["| goal | measured | target | |", "|---|---:|---:|---|", *goals]),
        "",
        "Requests per second in each round:",
        "",
        "| round | " + " | ".join(s.label for s in servers) + " | authsec ÷ bare |"
        + (" 2026-07-28: authsec ÷ bare |" if paired_2026 else ""),
        "|---|" + "---:|" * (len(servers) + 1 + (1 if paired_2026 else 0)),
        *per_round,
        "",
        "## Servers and versions",
        "",
        f"- **TypeScript SDK** `@modelcontextprotocol/sdk` {v['sdk']} on Node.js {v['node']}, express {v['express']} "
        f"(`createMcpExpressApp`, a new `McpServer` and `StreamableHTTPServerTransport` per request as the SDK's stateless "
        f"example does, `enableJsonResponse`); protected with `requireBearerAuth` (`requiredScopes`) and a verifier built on "
        f"jose {v['jose']} `createRemoteJWKSet` + `jwtVerify` (RS256, issuer, audience). Source: `bench/peers/ts/server.mjs`.",
        f"- **FastMCP** {v['fastmcp']} (mcp {v['mcp']}, starlette {v['starlette']}) on Python {v['python']}, uvicorn {v['uvicorn']} "
        f"with one worker, `http_app(stateless_http=True, json_response=True)`; protected with `JWTVerifier(jwks_uri, issuer, "
        f"audience, required_scopes)`. Source: `bench/peers/py/server.py`.",
        f"- **authsec**: the same tool on rmcp {v['rmcp']} (stateless, JSON answers), bare or mounted with `mount_mcp` behind "
        f"`AuthSecLayer` (`jwt_only`, verified-token cache on, tool policy `echo` → `{SCOPE}`); {v['rustc']}, `{v['profile']}` "
        f"build of commit {v['commit']}. Source: `bench/authsec-echo`.",
        "- **authsec gateway**: `authsec gateway --upstream` the bare TypeScript server, same configuration as authsec; "
        "the gateway and the server behind it share the one server CPU"
        + (f" — {gateway_note}." if gateway_note else "."),
        "",
    ]
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin-dir", required=True, type=Path, help="directory with authsec-echo, bench-issuer, authsec")
    p.add_argument("--smoke", action="store_true", help="correctness gate + ~2 s of load per server, one round")
    p.add_argument("--authsec-only", action="store_true",
                   help="only rmcp bare and authsec: the auth ÷ bare goal, e.g. with many short rounds")
    p.add_argument("--rounds", type=int)
    p.add_argument("--duration", type=float, help="measured seconds per run")
    p.add_argument("--warmup", type=float, help="warm-up seconds before each measured run")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--server-cpu", default="1")
    p.add_argument("--load-cpu", default="0")
    p.add_argument("--nice", type=int, default=-20,
                   help="niceness of servers and wrk (and of their scheduling groups) when run as root: "
                        "less interference from other work on the machine; default -20, 0 leaves it unchanged")
    p.add_argument("--out", type=Path, help="markdown report (default bench/results.md; none in smoke mode)")
    args = p.parse_args()
    if args.smoke:
        args.rounds = args.rounds or 1
        args.duration = args.duration or 2
        args.warmup = args.warmup if args.warmup is not None else 1
    else:
        args.rounds = args.rounds or 5
        args.duration = args.duration or 10
        args.warmup = args.warmup if args.warmup is not None else 3
        args.out = args.out or BENCH / ("results-authsec-only.md" if args.authsec_only else "results.md")
    if not 1 <= args.rounds <= 50 or not 0.5 <= args.duration <= 600 or not 0 <= args.warmup <= 120:
        p.error("rounds must be 1–50, duration 0.5–600 s, warm-up 0–120 s")

    if (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        log("warning: fewer than 2 CPUs or no taskset: servers and load generator are not pinned")
        args.server_cpu = args.load_cpu = None
    for tool in ("wrk", "node"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} not found (bench/run.sh installs what is missing)")

    global NICE
    if args.nice and os.geteuid() == 0 and shutil.which("nice"):
        NICE = args.nice
    else:
        args.nice = 0
    bin_dir = args.bin_dir.resolve()
    procs = Processes()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    tmp = Path(tempfile.mkdtemp(prefix="authsec-bench-"))
    try:
        return run(args, bin_dir, procs, tmp)
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, bin_dir: Path, procs: Processes, tmp: Path) -> int:
    mach_before = machine()
    log(f"== machine: {mach_before['cpu']}, {mach_before['nproc']} CPUs, load average {mach_before['load']}")

    # The issuer: a JWKS on loopback and the one token.
    issuer_out = open(tmp / "issuer.out", "w+")
    issuer = procs.start(
        pin(args.load_cpu) + [str(bin_dir / "bench-issuer"), RESOURCE, SCOPE],
        stdout=issuer_out, stderr=subprocess.STDOUT,
    )
    values = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "WRONG_AUD_TOKEN" not in values:
        if issuer.poll() is not None:
            raise BenchError("bench-issuer exited:\n" + tail(tmp / "issuer.out"))
        time.sleep(0.05)
        for line in (tmp / "issuer.out").read_text().splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                values[k] = v
    if "WRONG_AUD_TOKEN" not in values:
        raise BenchError("bench-issuer did not print its token within 30 s")
    token, wrong_aud_token = values["TOKEN"], values["WRONG_AUD_TOKEN"]

    peer_env = {
        "BENCH_ISSUER": values["ISSUER"],
        "BENCH_JWKS_URL": values["JWKS_URL"],
        "BENCH_AUDIENCE": RESOURCE,
        "BENCH_SCOPE": SCOPE,
    }
    authsec_env = {
        "AUTHSEC_ISSUER": values["ISSUER"],
        "AUTHSEC_JWKS_URL": values["JWKS_URL"],
        "AUTHSEC_RESOURCE_URI": RESOURCE,
        "AUTHSEC_TOOL_SCOPES_JSON": json.dumps({"echo": [SCOPE]}),
        "AUTHSEC_VALIDATION_MODE": "jwt_only",
        "AUTHSEC_TOKEN_CACHE_ENTRIES": "10000",
        "AUTHSEC_LOG": "warn",
    }
    python = str(PY_DIR / ".venv" / "bin" / "python")
    servers = [
        Server("ts-bare", "TypeScript SDK (bare)", ["node", "server.mjs"], cwd=TS_DIR),
        Server("ts-auth", "TypeScript SDK + requireBearerAuth + jose", ["node", "server.mjs", "--auth"],
               env=peer_env, protected=True, cwd=TS_DIR),
        Server("py-bare", "FastMCP (bare)", [python, "server.py"], cwd=PY_DIR),
        Server("py-auth", "FastMCP + JWTVerifier", [python, "server.py", "--auth"], env=peer_env,
               protected=True, cwd=PY_DIR),
        Server("authsec-bare", "rmcp (bare)", [str(bin_dir / "authsec-echo"), "--bare"], env={"AUTHSEC_LOG": "warn"}),
        Server("authsec", "authsec (AuthSecLayer on rmcp)", [str(bin_dir / "authsec-echo")], env=authsec_env,
               protected=True),
        Server("authsec-bare-2026", "rmcp (bare), 2026-07-28 stateless", [str(bin_dir / "authsec-echo"), "--bare"],
               env={"AUTHSEC_LOG": "warn"}, era="2026"),
        Server("authsec-2026", "authsec (AuthSecLayer on rmcp), 2026-07-28 stateless", [str(bin_dir / "authsec-echo")],
               env=authsec_env, protected=True, era="2026"),
    ]

    if args.authsec_only:
        servers = [s for s in servers if s.key.startswith("authsec")]
    cli = bin_dir / "authsec"
    gateway_note = None
    try:
        has_gateway = not args.authsec_only and cli.exists() and subprocess.run(
            [str(cli), "gateway", "--help"], capture_output=True, timeout=20
        ).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        has_gateway = False
    if has_gateway:
        servers.append(Server("gateway", "authsec gateway → TypeScript SDK (bare)", [str(cli), "gateway"],
                              env=authsec_env, protected=True))
    elif not args.authsec_only:
        gateway_note = f"not available: `{cli.relative_to(ROOT) if cli.is_relative_to(ROOT) else cli} gateway --help` failed"
        log(f"== gateway row: {gateway_note}")

    for s in servers:
        argv = list(s.argv)
        if s.key == "gateway":
            upstream = next(x for x in servers if x.key == "ts-bare")
            argv += ["--upstream", upstream.url, "--listen", f"127.0.0.1:{s.port}"]
        elif s.key.startswith("authsec"):
            argv += ["--listen", f"127.0.0.1:{s.port}"]
        else:
            argv += ["--port", str(s.port)]
        s.log_path = tmp / f"{s.key}.log"
        s.proc = procs.start(pin(args.server_cpu) + argv, env=s.env, stdout=open(s.log_path, "w"),
                             stderr=subprocess.STDOUT, cwd=s.cwd)
    log(f"== starting {len(servers)} servers on CPU {args.server_cpu}")
    for s in servers:
        wait_listening(s, 90)

    log("== correctness gate")
    correctness_gate(servers, token, wrong_aud_token)

    scripts = {}
    for era, (body, era_headers) in ERAS.items():
        scripts[era] = tmp / f"echo-{era}.lua"
        scripts[era].write_text(WRK_SCRIPT.format(
            body=body, accept=ACCEPT, token=token, expect=f'"text":"{MARKER}"',
            era_headers="\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in era_headers.items()),
        ))
    results = {s.key: [] for s in servers}
    log(f"== load: wrk -t1 -c{args.connections}, {args.warmup:g} s warm-up + {args.duration:g} s measured, "
        f"{args.rounds} round(s), servers on CPU {args.server_cpu}, wrk on CPU {args.load_cpu}")
    # Each protected server runs next to its bare baseline, so a ratio compares runs made under
    # the same conditions; the groups rotate each round and the order inside a group alternates.
    families = (("ts-bare", "ts-auth", "gateway"), ("py-bare", "py-auth"), ("authsec-bare", "authsec"),
                ("authsec-bare-2026", "authsec-2026"))
    groups = [[s for s in servers if s.key in family] for family in families]
    for r in range(args.rounds):
        rotated = groups[r % len(groups):] + groups[:r % len(groups)]
        order = [s for g in rotated for s in (g if r % 2 == 0 else reversed(g))]
        for s in order:
            if args.warmup > 0:
                run_wrk(s, scripts[s.era], args.warmup, args.connections, args.load_cpu)
            res = run_wrk(s, scripts[s.era], args.duration, args.connections, args.load_cpu)
            results[s.key].append(res)
            log(f"  round {r + 1}: {s.label:45} {fmt_rps(res['rps']):>9} req/s  p50 {fmt_ms(res['p50']):>9}  "
                f"p99 {fmt_ms(res['p99']):>9}")

    mach_after = machine()
    md = report(args, servers, results, gateway_note, mach_before, mach_after, versions(bin_dir))
    print(md)
    if args.out:
        args.out.write_text(keep_other_sections(md, args.out))
        log(f"== wrote {args.out}")
    return 0


# Sections of the report file below this line come from other measurements (the gateway vs
# nginx run, the stateless-era pair) and survive a new run of this script.
KEPT = "<!-- Sections below are written by hand from other scripts' runs; bench/run.py keeps them. -->"


def keep_other_sections(md: str, out: Path) -> str:
    """The new report, followed by what the old file kept below KEPT."""
    old = out.read_text() if out.exists() else ""
    if KEPT not in old:
        return md
    return md.rstrip("\n") + "\n\n" + old[old.index(KEPT):]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"bench: FAILED: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        log("bench: interrupted")
        sys.exit(130)
