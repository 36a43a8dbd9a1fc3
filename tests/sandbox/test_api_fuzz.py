"""Fuzzing of the HTTP API from its own OpenAPI document (schemathesis), against a real
``App`` on the sandbox's Redis and Asterisk, with a token of every role (and none).

Each operation gets valid and invalid requests (positive and negative generation); the rules
are those of the project: no 5xx, every error a JSON body ``{"error": {"code", "message"}}``,
and the server is still healthy at the end. Bounded by request count: each operation gets
``REQUESTS_PER_OPERATION`` requests, so a busy machine makes the run slower, never thinner;
``OVERALL_LIMIT_S`` only catches a hang.

Operations that would change what other tests see are fenced, not skipped:
- real agents (1001, 2001...) are never paused, made ready, logged out or listened to (their
  seats are in the shared sandbox); generated agent ids that are real are dropped;
- transfer and conference get call ids that cannot exist (no call is placed);
- a number flagged by ``POST /api/harassment`` is unflagged again at once, and one opted out
  of the 回访 by ``PUT /api/callback-optout/{number}`` opted back in.
Left out: ``GET /api/supervisor/stream`` (server-sent events never end; a request would only
time out), covered by its owner's tests.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from hotline_link.app import openapi_document
from hotline_link.core.logs import configure_logging
from hotline_link.web.auth import sandbox_token
from tests.sandbox.callflows import tokens_with_units

OPENAPI = openapi_document()

pytestmark = pytest.mark.sandbox

EXAMPLES = 50                   # generated per operation and generation mode
REQUESTS_PER_OPERATION = 24     # sent per operation (the rest of the examples are dropped)
OVERALL_LIMIT_S = 600.0         # generous: a hang, not a slow machine
EXCLUDED = {("GET", "/api/supervisor/stream")}
AGENT_WRITES = {"/api/agents/{agent}/pause", "/api/agents/{agent}/ready",
                "/api/supervisor/agents/{agent}/logout", "/api/supervisor/agents/{agent}/listen"}
NO_SUCH_CALL = "fuzz-no-such-call"
UNIT_TOKEN = "fuzz-unit-token-of-the-water-company"


def _tokens(path) -> dict[str, str]:
    tokens = {"none": ""}
    for role, agent in (("agent", "1001"), ("agent", "2001"), ("supervisor", ""), ("admin", ""), ("peer", ""),
                        ("channel", "")):
        tokens[f"{role}{agent}"] = sandbox_token(path, role=role, agent=agent)
    tokens["unit"] = UNIT_TOKEN
    return tokens


def _channel_off(case, response: requests.Response) -> bool:
    """The exchange channel's documented answer in a deployment serving both platforms (the
    sandbox): 503 ``exchange_off``, so a peer set up first retries until this side is on."""
    if response.status_code != 503 or not case.path.startswith("/api/exchange/"):
        return False
    try:
        return response.json()["error"]["code"] == "exchange_off"
    except (ValueError, KeyError, TypeError):
        return False


def _problem(case, response: requests.Response) -> str | None:
    """What is wrong with this answer, if anything."""
    status = response.status_code
    if status >= 500 and not (status == 503 and case.path == "/health") and not _channel_off(case, response):
        return f"{status} {response.text[:200]}"
    if status >= 400:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            return f"{status} without a JSON error body: {response.text[:200]!r}"
        if not (isinstance(error.get("code"), str) and error["code"] and isinstance(error.get("message"), str)):
            return f"{status} error body without code/message: {error!r}"
    return None


def _fuzz(base: str, tokens: dict[str, str], real_agents: frozenset[str], admin: str) -> dict[str, object]:
    schema = schemathesis.openapi.from_dict(OPENAPI)
    session = requests.Session()
    problems: list[str] = []
    counts: dict[str, Any] = {"operations": 0, "requests": 0, "by_status": {}, "by_role": {}, "unfuzzed": []}
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if (op.method.upper(), op.path) not in EXCLUDED]

    def undo(case, response) -> None:
        if case.method.upper() == "POST" and case.path == "/api/harassment" and response.status_code == 201:
            number = str(case.body["number"])
            undone = session.delete(f"{base}/api/harassment/{quote(number, safe='')}",
                                    headers={"Authorization": f"Bearer {admin}"}, timeout=15)
            if undone.status_code != 200:
                problems.append(f"could not unflag {number!r}: {undone.status_code} {undone.text[:100]}")
        if case.method.upper() == "PUT" and case.path == "/api/callback-optout/{number}" \
                and response.status_code == 200:
            # the same path as the PUT (schemathesis has already percent-encoded the number)
            undone = session.delete(f"{base}{case.formatted_path}",
                                    headers={"Authorization": f"Bearer {admin}"}, timeout=15)
            if undone.status_code != 200:
                problems.append(f"could not opt {case.formatted_path} back in: {undone.status_code} "
                                f"{undone.text[:100]}")

    for operation in operations:
        method, path = operation.method.upper(), operation.path
        counts["operations"] += 1
        requests_before = counts["requests"]
        fixed = {"call_id": NO_SUCH_CALL} if path.endswith(("/transfer", "/conference")) and method == "POST" else None
        strategies = [operation.as_strategy(mode, path_parameters=fixed)
                      for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]

        @settings(max_examples=EXAMPLES * 2, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=st.one_of(strategies), role=st.sampled_from(sorted(tokens)))
        def run(case, role, method: str, path: str, requests_before: int) -> None:  # bound per operation, not late
            if counts["requests"] - requests_before >= REQUESTS_PER_OPERATION:
                return
            if path in AGENT_WRITES:
                assume(str((case.path_parameters or {}).get("agent")) not in real_agents)
            headers = {"Authorization": f"Bearer {tokens[role]}"} if tokens[role] else {}
            try:
                response = case.call(base_url=base, session=session, headers=headers, timeout=15)
            except requests.RequestException as exc:
                problems.append(f"{method} {path} as {role}: no answer ({exc})\n  {case.as_curl_command()}")
                return
            counts["requests"] += 1
            counts["by_role"][role] = counts["by_role"].get(role, 0) + 1
            by_status = counts["by_status"]
            by_status[response.status_code] = by_status.get(response.status_code, 0) + 1
            problem = _problem(case, response)
            if problem:
                problems.append(f"{method} {path} as {role}: {problem}\n  {case.as_curl_command()}")
            undo(case, response)

        run(method=method, path=path, requests_before=requests_before)
        if counts["requests"] == requests_before:
            counts["unfuzzed"].append(f"{method} {path}")
    counts["problems"] = problems
    counts["seconds"] = round(time.monotonic() - started, 1)
    return counts


class _JsonLines:
    """The server's log, one JSON object per line (split on newlines only: a fuzzed path may
    hold U+2028 or U+0085, which str.splitlines would also split on)."""

    def __init__(self) -> None:
        self.lines: list[dict] = []
        self._partial = ""

    def write(self, text: str) -> int:
        *complete, self._partial = (self._partial + text).split("\n")
        self.lines += [json.loads(line) for line in complete if line.strip()]
        return len(text)

    def flush(self) -> None:
        pass


@pytest.fixture
async def fuzz_server(server_settings, tmp_path):
    from hotline_link.app import App

    log = _JsonLines()
    configure_logging("info", stream=log)
    tokens = tokens_with_units(tmp_path / "tokens.toml", server_settings.tokens_path, {UNIT_TOKEN: "QD-WATER"})
    srv = App(replace(server_settings, tokens_file=str(tokens)))
    await srv.start()
    await srv.ami.wait_connected(15)
    yield srv, log
    await srv.stop()


async def test_api_answers_fuzzed_requests_without_5xx_and_with_json_errors(fuzz_server):
    server, log = fuzz_server
    base = f"http://127.0.0.1:{server.settings.http_port}"
    tokens = _tokens(server.settings.tokens_path)
    real_agents = frozenset(a for site in server.settings.sites for a in site.agents)
    # the fuzzer is synchronous (requests): it runs in a thread while this loop serves it
    report = await asyncio.wait_for(
        asyncio.to_thread(_fuzz, base, tokens, real_agents, tokens["admin"]), timeout=OVERALL_LIMIT_S)
    print("fuzz:", {k: v for k, v in report.items() if k != "problems"})
    problems: list[str] = report["problems"]  # type: ignore[assignment]  # the report mixes value types
    assert not problems, f"{len(problems)} problems, first ones:\n" + "\n".join(problems[:8])
    assert report["operations"] >= 30 and report["unfuzzed"] == []  # every operation got requests
    # each its full count, but for operations whose generated agents were all real ones
    assert report["requests"] >= (report["operations"] - len(AGENT_WRITES)) * REQUESTS_PER_OPERATION
    assert report["by_role"]["unit"] > 0
    # still alive and well after all of it
    health = await asyncio.to_thread(requests.get, f"{base}/health", timeout=10)
    assert health.status_code == 200 and health.json()["healthy"] is True
    failed = [line for line in log.lines if line.get("event") == "http.failed"]
    assert not failed, failed[:3]
    assert any(line.get("event") == "http.refused" for line in log.lines)


_RAW_BODIES = [b"{", b"\xff\xfe\x00", b"[]", b'"text"', b"null", b"1e999", b'{"target": "\\ud800", "text": "\\udfff",'
               b' "reason": "\\ud800", "number": "\\ud800", "summary": "\\u2028\\u0085"}',
               b'{"target": 110, "text": [], "reason": {}, "number": null}', b"x" * 100_000]


def _raw(base: str, tokens: dict[str, str], real_agents: frozenset[str]) -> list[str]:
    """What schemathesis does not send: broken JSON, bytes that are not UTF-8, lone
    surrogates, bodies over the size limit, odd content types, odd tokens."""
    session = requests.Session()
    problems = []
    for path, item in OPENAPI["paths"].items():
        for method in item:
            if method.upper() not in ("POST", "PATCH", "DELETE") or (method.upper(), path) in EXCLUDED:
                continue
            url = base + path.replace("{agent}", "99999").replace("{call_id}", NO_SUCH_CALL).replace(
                "{ticket_id}", "12345-20000101-000001").replace("{party}", "99999").replace("{number}", "0")
            for body in _RAW_BODIES:
                for role, content_type in (("admin", "application/json"), ("agent1001", "text/plain"),
                                           ("peer", "application/json"), ("none", "application/json")):
                    headers = {"Content-Type": content_type}
                    if tokens[role]:
                        headers["Authorization"] = f"Bearer {tokens[role]}"
                    response = session.request(method.upper(), url, data=body, headers=headers, timeout=15)
                    problem = _problem(type("C", (), {"path": path})(), response)
                    if problem:
                        problems.append(f"{method.upper()} {path} as {role} body {body[:40]!r}: {problem}")
    for header in (b"Bearer \xff\xfe", b"Bearer " + "\u00e9".encode() * 20, b"Bearer " + b"a" * 8000, b"Token x"):
        response = session.get(f"{base}/api/calls", headers={"Authorization": header}, timeout=15)
        problem = _problem(type("C", (), {"path": "/api/calls"})(), response)
        if problem or response.status_code not in (400, 401, 431):
            problems.append(f"GET /api/calls with Authorization {header[:30]!r}: {response.status_code} {problem}")
    for query in ("?token=%ff%fe", "?token=%00", "?agent=%ff&wait=%00"):
        response = session.get(f"{base}/api/calls/{NO_SUCH_CALL}/conference{query}", timeout=15)
        if _problem(type("C", (), {"path": ""})(), response) or response.status_code != 401:
            problems.append(f"GET conference{query}: {response.status_code} {response.text[:100]}")
    return problems


async def test_api_refuses_raw_malformed_requests_with_json_4xx(fuzz_server):
    server, log = fuzz_server
    base = f"http://127.0.0.1:{server.settings.http_port}"
    tokens = _tokens(server.settings.tokens_path)
    real_agents = frozenset(a for site in server.settings.sites for a in site.agents)
    problems = await asyncio.wait_for(asyncio.to_thread(_raw, base, tokens, real_agents), timeout=60)
    assert not problems, f"{len(problems)} problems, first ones:\n" + "\n".join(problems[:8])
    assert not [line for line in log.lines if line.get("event") == "http.failed"]
