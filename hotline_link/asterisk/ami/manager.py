"""One AMI connection manager for every site.

Each site gets a ``SiteConnection`` that connects with panoramisk, logs in, re-reads the
current channels (``CoreShowChannels``) after every (re)connect and hands that snapshot to
``on_resync`` handlers, pings on its own and drops a connection whose peer stopped
answering, and reconnects with exponential back-off. Handlers subscribe to event names;
a site's events are delivered one at a time, in order, from one queue per site.

Works around panoramisk 1.4: its pinger never checks the reply (we run a watchdog), it
reconnects on a fixed timer (we own reconnection), and after a reconnect it re-sends
actions still waiting for an answer, so an Originate could run twice (we fail them with
``AmiDisconnected`` instead).
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import panoramisk
import structlog

from hotline_link.core.errors import AmiDisconnected, AmiError, UnsafeAmiAction
from hotline_link.core.settings import Settings, SiteSettings
from hotline_link.core.tasks import cancel_and_wait

log = structlog.get_logger(__name__)
Snapshot = asyncio.Future  # of list[dict[str, str]]: a connection's channels, once listed
MAX_EVENT_BACKLOG = 100_000  # AMI events waiting for their handlers, per site


@dataclass(frozen=True)
class AmiEvent:
    site: str
    name: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)


EventHandler = Callable[[AmiEvent], Awaitable[None]]
ResyncHandler = Callable[[str, list[dict[str, str]]], Awaitable[None]]
ConnectHandler = Callable[[str], Awaitable[None]]
# an action's headers; a list is a repeated header (``Variable``)
AmiAction = Mapping[str, str | list[str]]


_LINE_BREAKING = re.compile(r"[\r\n\x00]")
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_()-]*")


def checked_action(action: Mapping[str, Any]) -> dict[str, Any]:
    """The action as panoramisk will write it, or ``UnsafeAmiAction`` if a name or value
    could end its line: Asterisk's manager takes a bare LF as a line end, so one value with
    a line break is as good as a header of the sender's choosing. A list value (repeated
    header, e.g. ``Variable``) is checked item by item."""
    out: dict[str, Any] = {}
    for key, value in action.items():
        if not isinstance(key, str) or not _HEADER_NAME.fullmatch(key):
            raise UnsafeAmiAction(f"AMI header name {str(key)[:40]!r} is not a plain name")
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                raise UnsafeAmiAction(f"AMI header {key}: a {type(item).__name__} is not a value")
            if _LINE_BREAKING.search(str(item)):
                raise UnsafeAmiAction(f"AMI header {key}: the value has a line break or NUL; not sent")
        out[key] = list(map(str, items)) if isinstance(value, (list, tuple)) else str(value)
    return out


def _plain(message: Any) -> dict[str, str]:
    """A panoramisk Message as a plain dict of str (multi-valued keys joined by newlines)."""
    out: dict[str, str] = {}
    for key, value in dict(message).items():
        out[str(key)] = "\n".join(map(str, value)) if isinstance(value, list) else str(value)
    return out


class _SiteClient(panoramisk.Manager):
    """panoramisk's Manager with its own reconnect and pinger switched off."""

    pinger: asyncio.TimerHandle | None  # panoramisk's keep-alive timer

    def __init__(self, on_lost: Callable[[Exception | None], None], **config: Any) -> None:
        super().__init__(**config)
        self._on_lost = on_lost

    def connection_made(self, f: asyncio.Future) -> None:
        if f.cancelled() or f.exception() is not None:
            return  # SiteConnection sees the failed connect and backs off
        super().connection_made(f)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connected = False
        self.authenticated = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        while self.awaiting_actions:
            action = self.awaiting_actions.popleft()
            if not action.future.done():
                action.future.set_exception(AmiDisconnected(f"AMI connection lost during {action['action']}"))
        self._on_lost(exc)

    def ping(self) -> None:
        """Disabled: SiteConnection's watchdog pings and checks the answer."""

    def abort(self) -> None:
        protocol = getattr(self, "protocol", None)
        if protocol is not None and getattr(protocol, "transport", None) is not None:
            protocol.transport.abort()


class SiteConnection:
    def __init__(self, site: SiteSettings, settings: Settings, hub: AmiManager) -> None:
        self.site = site
        self.settings = settings
        self.hub = hub
        self.client: _SiteClient | None = None
        self.connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._queue: asyncio.Queue[AmiEvent | tuple[str, Snapshot]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.connect_count = 0

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name=f"ami-{self.site.id}"),
                       asyncio.create_task(self._deliver(), name=f"ami-deliver-{self.site.id}")]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        if self.client is not None:
            self.client.close()
        self.connected.clear()

    async def _run(self) -> None:
        delay = self.settings.ami_reconnect_min_s
        while True:
            self._lost.clear()
            try:
                await self._connect_once()
            except (TimeoutError, OSError, AmiError) as exc:
                log.warning("ami.connect_failed", site=self.site.id, error=str(exc) or type(exc).__name__,
                            retry_in_s=round(delay, 2))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.ami_reconnect_max_s)
                continue
            delay = self.settings.ami_reconnect_min_s
            watchdog = asyncio.create_task(self._watchdog())
            try:
                await self._lost.wait()
            finally:
                watchdog.cancel()
            self.connected.clear()
            log.warning("ami.disconnected", site=self.site.id)
            for handler in list(self.hub.disconnect_handlers):
                await self._safely(handler(self.site.id), "disconnect")

    async def _connect_once(self) -> None:
        loop = asyncio.get_running_loop()
        client = _SiteClient(
            self._on_lost, host=self.site.host, port=self.site.ami_port,
            username=self.settings.ami_username, secret=self.settings.ami_secret_for(self.site.id),
            events="on", loop=loop, ping_delay=3600, log=_QuietLog())
        # The resync goes in the queue before any event of this connection, and waits there
        # for the channel list: a Hangup that arrives while CoreShowChannels is answered is
        # then handled after the resync, so it cannot leave a dead channel as a ghost call.
        snapshot: Snapshot = loop.create_future()
        self._queue.put_nowait(("resync", snapshot))
        client.register_event("*", self._on_event)
        self.client = client
        try:
            await asyncio.wait_for(client.connect(), timeout=5)
            login = client.authenticated_future
            if login is None:
                raise AmiError(f"site {self.site.id}: AMI connected but no login was sent")
            reply = await asyncio.wait_for(asyncio.shield(login), timeout=5)
            if not getattr(reply, "success", False):
                raise AmiError(f"site {self.site.id}: AMI login refused for user {self.settings.ami_username}")
            channels = await self._snapshot_channels()
        except BaseException:
            snapshot.cancel()
            client.close()  # a half-open client must not feed a second copy of every event
            raise
        snapshot.set_result(channels)
        self.connect_count += 1
        self.connected.set()
        log.info("ami.connected", site=self.site.id, channels=len(channels),
                 reconnect=self.connect_count > 1)
        for handler in list(self.hub.connect_handlers):
            await self._safely(handler(self.site.id), "connect")

    async def _snapshot_channels(self) -> list[dict[str, str]]:
        return await self.send_list({"Action": "CoreShowChannels"})

    def _on_lost(self, exc: Exception | None) -> None:
        self._lost.set()

    def _on_event(self, _client: Any, message: Any) -> None:
        if self._queue.qsize() >= MAX_EVENT_BACKLOG:
            # the handlers fell that far behind (Redis stalled?): rather than grow without
            # bound, drop this connection; the reconnect's resync rebuilds every call
            if self.client is not None and not self._lost.is_set():
                log.error("ami.backlog_full", site=self.site.id, backlog=self._queue.qsize())
                self.client.abort()
            return
        fields = _plain(message)
        self._queue.put_nowait(AmiEvent(self.site.id, fields.get("Event", ""), fields))

    async def _deliver(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, AmiEvent):
                for handler in self.hub.handlers_for(item.name):
                    await self._safely(handler(item), item.name)
            else:
                snapshot = item[1]
                await asyncio.wait([snapshot])
                if snapshot.cancelled():  # that connection failed before its snapshot
                    continue
                for resync in self.hub.resync_handlers:
                    await self._safely(resync(self.site.id, snapshot.result()), "resync")

    async def _safely(self, awaitable: Awaitable[None], what: str) -> None:
        try:
            await awaitable
        except Exception:  # a bad event or a handler bug must not stop the stream
            log.exception("ami.handler_failed", site=self.site.id, ami_event=what)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ami_ping_interval_s)
            try:
                await self.send({"Action": "Ping"}, timeout=self.settings.ami_ping_timeout_s)
            except (TimeoutError, AmiError):
                log.warning("ami.ping_unanswered", site=self.site.id)
                if self.client is not None:
                    self.client.abort()
                return

    async def send(self, action: AmiAction, *, as_list: bool | None = None,
                   timeout: float = 10.0) -> Any:
        safe = checked_action(action)
        client = self.client
        if client is None or client.protocol is None or getattr(client.protocol, "closed", True):
            raise AmiDisconnected(f"site {self.site.id}: AMI not connected")
        future = client.send_action(safe, as_list=as_list)
        try:
            reply = await asyncio.wait_for(asyncio.shield(future), timeout=timeout)
        except TimeoutError:
            raise AmiError(f"site {self.site.id}: no answer to {action.get('Action')} "
                           f"in {timeout:g} s") from None
        if isinstance(reply, list):
            return [_plain(m) for m in reply]
        plain = _plain(reply)
        if plain.get("Response", "").lower() in ("error", "failure", "fail"):
            raise AmiError(f"site {self.site.id}: {action.get('Action')} failed: "
                           f"{plain.get('Message', 'no message')}")
        return plain

    async def send_list(self, action: AmiAction, timeout: float = 10.0) -> list[dict[str, str]]:
        """Send a listing action (CoreShowChannels, PJSIPShowContacts...) and return its
        events. Asterisk answers an empty listing of some kinds with an error ("No
        Contacts found"): that is an empty list here, not a failure. (panoramisk never
        resolves ``as_list=True`` when the answer is an error, so let it infer.)"""
        try:
            reply = await self.send(action, as_list=None, timeout=timeout)
        except AmiError as exc:
            if _EMPTY_LISTING.search(str(exc)):
                return []
            raise
        if not isinstance(reply, list):
            return []
        return [r for r in reply if "Event" in r and not r["Event"].endswith("Complete")]


_EMPTY_LISTING = re.compile(r"\bno \w+ found\b", re.IGNORECASE)


class _QuietLog:
    """panoramisk logs through stdlib at error level on every reconnect; we log ourselves."""

    def __getattr__(self, _name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


class AmiManager:
    """Connections to every site plus the event subscriptions shared by all of them."""

    def __init__(self, settings: Settings, sites: tuple[SiteSettings, ...] | None = None) -> None:
        self._handlers: dict[str, list[EventHandler]] = defaultdict(list)
        self._resync: list[ResyncHandler] = []
        self._late_resync: list[ResyncHandler] = []
        self.connect_handlers: list[ConnectHandler] = []
        self.disconnect_handlers: list[ConnectHandler] = []
        self.sites = {s.id: SiteConnection(s, settings, self) for s in (sites or settings.sites)}

    def subscribe(self, event_name: str, handler: EventHandler) -> None:
        """Deliver events of this name (exact, as Asterisk spells it) to ``handler``."""
        self._handlers[event_name].append(handler)

    def on_resync(self, handler: ResyncHandler, late: bool = False) -> None:
        """``late``: run after every other handler (it judges what their resync left)."""
        (self._late_resync if late else self._resync).append(handler)

    @property
    def resync_handlers(self) -> list[ResyncHandler]:
        return [*self._resync, *self._late_resync]

    def on_connect(self, handler: ConnectHandler) -> None:
        self.connect_handlers.append(handler)

    def on_disconnect(self, handler: ConnectHandler) -> None:
        self.disconnect_handlers.append(handler)

    def handlers_for(self, event_name: str) -> list[EventHandler]:
        return list(self._handlers.get(event_name, ()))

    def start(self) -> None:
        for connection in self.sites.values():
            connection.start()

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.sites.values()))

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(
            asyncio.gather(*(c.connected.wait() for c in self.sites.values())), timeout)

    def connection(self, site: str) -> SiteConnection:
        try:
            return self.sites[site]
        except KeyError:
            raise AmiError(f"no AMI connection for site {site!r}") from None

    async def send(self, site: str, action: AmiAction, **kwargs: Any) -> Any:
        return await self.connection(site).send(action, **kwargs)

    async def send_list(self, site: str, action: AmiAction, **kwargs: Any) -> list[dict[str, str]]:
        return await self.connection(site).send_list(action, **kwargs)
