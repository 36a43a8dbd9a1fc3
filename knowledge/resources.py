"""HTTP resources of the knowledge base: search (agents, supervisors, admins, and the other
platform's deployment with a ``peer`` token, which sees shareable entries only) and the
entries (read by agents, edited by supervisors and admins)."""

from __future__ import annotations

from aiohttp import web

from hotline_link.web.auth import Principal
from hotline_link.web.bodies import read_body, read_query, reply
from hotline_link.web.http import principal_of
from knowledge.entries import Entry
from knowledge.errors import BadQuery
from knowledge.keys import KNOWLEDGE
from knowledge.schema import (
    ENTRIES_PATH,
    ENTRY_PATH,
    HISTORY_PATH,
    MAX_QUERY,
    SEARCH_PATH,
    EntriesQuery,
    EntryBody,
    EntryHistory,
    EntryList,
    EntryView,
    FieldChange,
    HistoryItem,
    NewEntryBody,
    SearchQuery,
    SearchReply,
    SearchResult,
    UpdateEntryBody,
)
from knowledge.service import KnowledgeService

SEARCHERS = ("agent", "supervisor", "admin", "peer")
READERS = ("agent", "supervisor", "admin")
EDITORS = ("supervisor", "admin")


def _view(entry: Entry, service: KnowledgeService) -> EntryView:
    return EntryView(
        id=entry.id, version=entry.version, question=entry.question, answer=entry.answer, category=entry.category,
        platform=entry.platform, valid_from=entry.valid_from.isoformat() if entry.valid_from else None,
        valid_to=entry.valid_to.isoformat() if entry.valid_to else None, valid_now=entry.valid_on(service.today()),
        source=entry.source, shareable=entry.shareable, ivr_key=entry.ivr_key or None,
        ivr_label=entry.ivr_label or None, updated_at=entry.updated_at, updated_by=entry.updated_by)


def _editor(principal: Principal) -> str:
    return f"{principal.role}:{principal.agent}" if principal.agent else principal.role


def _fields(body: EntryBody) -> dict[str, str]:
    return {"question": body.question, "answer": body.answer, "category": body.category, "platform": body.platform,
            "valid_from": body.valid_from or "", "valid_to": body.valid_to or "", "source": body.source,
            "shareable": "yes" if body.shareable else "no", "ivr_key": body.ivr_key, "ivr_label": body.ivr_label}


async def search(request: web.Request) -> web.Response:
    principal = principal_of(request)
    principal.require_role(*SEARCHERS)
    query = read_query(request, SearchQuery)
    text = (query.q or "").strip()
    if not text or len(text) > MAX_QUERY:
        raise BadQuery(f"parameter 'q': the question, 1-{MAX_QUERY} characters")
    peer = principal.role == "peer"
    found = await request.app[KNOWLEDGE].search(
        text, limit=query.limit, category=query.category, platform=query.platform, shareable_only=peer,
        include_peer=query.include_peer and not peer)  # a peer's search never goes further
    results = [SearchResult(id=h.entry.id, question=h.entry.question, answer=h.entry.answer,
                            category=h.entry.category, platform=h.entry.platform, source=h.entry.source,
                            shareable=h.entry.shareable, version=h.entry.version, score=h.score, from_peer=False)
               for h in found.hits]
    results += [SearchResult(**h.model_dump(), from_peer=True) for h in found.peer_hits]
    return reply(SearchReply(query=text, results=results, peer_error=found.peer_error))


async def list_entries(request: web.Request) -> web.Response:
    principal_of(request).require_role(*READERS)
    query = read_query(request, EntriesQuery)
    service = request.app[KNOWLEDGE]
    return reply(EntryList(jurisdiction=service.jurisdiction,
                           entries=[_view(e, service) for e in await service.entries(query.category)]))


async def get_entry(request: web.Request) -> web.Response:
    principal_of(request).require_role(*READERS)
    service = request.app[KNOWLEDGE]
    return reply(_view(await service.get(request.match_info["entry_id"]), service))


async def entry_history(request: web.Request) -> web.Response:
    principal_of(request).require_role(*READERS)
    entry_id = request.match_info["entry_id"]
    records = await request.app[KNOWLEDGE].history(entry_id)
    return reply(EntryHistory(id=entry_id, history=[
        HistoryItem(version=r.version, by=r.by, at=r.at, change=r.change,  # type: ignore[arg-type]
                    changes={k: FieldChange(before=v[0], after=v[1]) for k, v in r.changes.items()},
                    previous=r.previous) for r in records]))


async def create_entry(request: web.Request) -> web.Response:
    principal = principal_of(request)
    principal.require_role(*EDITORS)
    body = await read_body(request, NewEntryBody)
    service = request.app[KNOWLEDGE]
    entry = await service.create(_fields(body), _editor(principal), entry_id=body.id)
    return reply(_view(entry, service), status=201)


async def update_entry(request: web.Request) -> web.Response:
    principal = principal_of(request)
    principal.require_role(*EDITORS)
    body = await read_body(request, UpdateEntryBody)
    service = request.app[KNOWLEDGE]
    entry = await service.update(request.match_info["entry_id"], _fields(body), _editor(principal),
                                 expected_version=body.expected_version)
    return reply(_view(entry, service))


def add_routes(app: web.Application) -> None:
    app.router.add_get(SEARCH_PATH, search)
    app.router.add_get(ENTRIES_PATH, list_entries)
    app.router.add_post(ENTRIES_PATH, create_entry)
    app.router.add_get(ENTRY_PATH, get_entry)
    app.router.add_put(ENTRY_PATH, update_entry)
    app.router.add_get(HISTORY_PATH, entry_history)
