"""The HTTP app: middlewares (errors as JSON, bearer-token auth) and the routes of each
capability. Handlers are thin; the services they call hold the logic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable

import structlog
from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hotline_link.auth import AuthError, Principal
from hotline_link.errors import HotlineError, HttpError
from hotline_link.logs import mask_number
from hotline_link.openapi import OPENAPI

if TYPE_CHECKING:
    from hotline_link.server import Server

log = structlog.get_logger(__name__)

SERVER_KEY = web.AppKey("server", object)
# aiohttp >= 3.13 has typed request keys; older ones take a plain string
PRINCIPAL_KEY = web.RequestKey("principal", Principal) if hasattr(web, "RequestKey") else "principal"
# /api/intake/push is signed by the other platform (HMAC) instead of carrying a token
PUBLIC_PATHS = frozenset({"/health", "/api/openapi.json", "/api/intake/push"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def server_of(request: web.Request) -> "Server":
    return request.app[SERVER_KEY]  # type: ignore[return-value]


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL_KEY]  # type: ignore[no-any-return,index]


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _logged_path(request: web.Request) -> str:
    """The path as logged: a caller number in it (``{number}`` routes) masked."""
    return mask_number(request.path) if "number" in request.match_info else request.path


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        raise
    except HotlineError as exc:
        status, code = getattr(exc, "status", 400), getattr(exc, "code", "bad_request")
        if status >= 500:  # Asterisk failed the request, not the client
            log.warning("http.backend_failed", path=_logged_path(request), status=status, code=code, error=str(exc))
        else:
            log.info("http.refused", path=_logged_path(request), status=status, code=code)
        return error_response(status, code, str(exc))
    except (RedisConnectionError, RedisTimeoutError) as exc:  # out of reach: the client may retry
        # (any other Redis error is a bug of ours: the 500 below, with its traceback)
        log.error("http.redis_unavailable", path=_logged_path(request), error=str(exc))
        return error_response(503, "redis_unavailable", "the shared state (Redis) is unavailable; try again")
    except Exception:
        log.exception("http.failed", path=_logged_path(request))
        return error_response(500, "internal_error", "internal error; see the server log")


# a page opened from a link, a download link, EventSource and WebSocket: browsers give them
# no Authorization header, so the token comes in the query (and the page drops it from the
# address bar at once); every other route takes a bearer header only
QUERY_TOKEN_ROUTES = frozenset({"/supervisor", "/supervisor/report", "/api/supervisor/stream",
                                "/api/supervisor/history.csv", "/api/agents/{agent}/events"})


def _route_template(request: web.Request) -> str:
    info = request.match_info.route.resource.get_info() if request.match_info.route.resource else {}
    return str(info.get("path") or info.get("formatter") or "")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[7:].strip()
    else:  # ?token= only where a browser cannot set a header: pages, downloads, streams
        token = request.query.get("token", "") if _route_template(request) in QUERY_TOKEN_ROUTES else ""
    book = server_of(request).tokens
    if book is None:
        raise AuthError("no tokens are configured on this server (tokens_file)")
    request[PRINCIPAL_KEY] = book.authenticate(token)  # type: ignore[index]
    return await handler(request)


async def read_json(request: web.Request, required: tuple[str, ...] = ()) -> dict[str, object]:
    try:
        body = await request.json() if request.can_read_body else {}
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise HttpError("the request body is not JSON (or nested too deeply)") from None
    if not isinstance(body, dict):
        raise HttpError("the request body must be a JSON object")
    for name in required:
        if not isinstance(body.get(name), str) or not body[name]:
            raise HttpError(f"field {name!r} (a non-empty string) is required")
    return body


async def health(request: web.Request) -> web.Response:
    server = server_of(request)
    sites = {site: conn.connected.is_set() for site, conn in server.ami.sites.items()}
    try:
        redis_ok = bool(await server.redis.ping())
    except Exception:
        redis_ok = False
    healthy = redis_ok and all(sites.values())
    return web.json_response({"healthy": healthy, "redis": redis_ok, "ami": sites},
                             status=200 if healthy else 503)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


def build_app(server: "Server") -> web.Application:
    from call_control.resources import add_routes as add_call_control_routes
    from ivr.resources import add_routes as add_ivr_routes
    from linkage.feedback_resources import add_routes as add_feedback_routes
    from linkage.resources import add_routes as add_linkage_routes
    from seat_pool.resources import add_routes as add_seat_routes
    from supervisor.resources import add_routes as add_supervisor_routes
    from tickets.resources import add_routes as add_ticket_routes

    app = web.Application(middlewares=[errors_middleware, auth_middleware],
                          client_max_size=64 * 1024)
    app[SERVER_KEY] = server
    app.router.add_get("/health", health)
    app.router.add_get("/api/openapi.json", openapi)
    add_call_control_routes(app)
    add_ivr_routes(app)
    add_seat_routes(app)
    add_ticket_routes(app)
    add_linkage_routes(app)
    add_feedback_routes(app)
    add_supervisor_routes(app)
    return app
