"""The HTTP edge shared by every plugin's resources: middlewares (errors as JSON,
bearer-token auth), JSON bodies, the principal of a request, and the keys of what every
handler may read (settings, tokens). The app adds each plugin's routes and services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hotline_link.core.bus import EventBus
from hotline_link.core.errors import HotlineError, HttpError
from hotline_link.core.logs import mask_number
from hotline_link.core.settings import Settings
from hotline_link.web.auth import AuthError, Principal, TokenBook

log = structlog.get_logger(__name__)

SETTINGS = web.AppKey("settings", Settings)
BUS = web.AppKey("bus", EventBus)
OPENAPI_DOCUMENT = web.AppKey("openapi_document", dict)
TOKENS: web.AppKey[TokenBook | None] = web.AppKey("tokens")
# aiohttp >= 3.13 has typed request keys; older ones take a plain string
PRINCIPAL_KEY = web.RequestKey("principal", Principal) if hasattr(web, "RequestKey") else "principal"
# /api/intake/push and the exchange channel's messages and probe are signed by the other
# platform (HMAC) instead of carrying a token; so is /api/intake/sms, by the SMS gateway
PUBLIC_PATHS = frozenset({"/health", "/api/openapi.json", "/api/intake/push", "/api/exchange/v1/messages",
                          "/api/exchange/v1/hello", "/api/intake/sms"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL_KEY]


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
    except HotlineError as exc:  # an HttpError is its own answer; any other is the request's fault
        status, code = (exc.status, exc.code) if isinstance(exc, HttpError) else (400, "bad_request")
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
QUERY_TOKEN_ROUTES = frozenset({"/supervisor", "/supervisor/report", "/supervisor/analysis",
                                "/api/supervisor/stream", "/api/supervisor/history.csv", "/desk",
                                "/api/agents/{agent}/events"})


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
    book = request.app[TOKENS]
    if book is None:
        raise AuthError("no tokens are configured on this server (tokens_file)")
    request[PRINCIPAL_KEY] = book.authenticate(token)
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


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI_DOCUMENT])


def build_web_app() -> web.Application:
    """The bare app: middlewares, body limit, the OpenAPI document; plugins add the rest."""
    app = web.Application(middlewares=[errors_middleware, auth_middleware], client_max_size=64 * 1024)
    app.router.add_get("/api/openapi.json", openapi)
    return app
