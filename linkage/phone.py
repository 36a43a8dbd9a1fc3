"""Asking by phone (dispatch to a unit's duty line): an outbound call that plays a prompt
synthesised at set-up time and reads one key.

The pure part (prompts, the attempt plan, the AMI event -> outcome) needs no server. The
edge part, ``PhoneAsks``, keeps each ticket's ask in Redis: the hash
``{prefix}phone:{slot}`` (numbers to try, the attempt, its id, state; the slot is the ticket
id, or ``{ticket_id}|{kind}`` for a 督办 reminder or 提级 notice) and the sorted
set ``{prefix}phone-due`` of what must be looked at again (a retry that is due, or an
attempt whose outcome is overdue), so a restarted server carries on where it stopped.

The dialplan (``asterisk_conf/extensions_outbound.conf``) reports the callee with
``UserEvent(HotlineAsk, Ask: <attempt id>, Stage: key|nokey|unanswered)``; those become the
bus events ``ask.key`` / ``ask.nokey`` / ``ask.unanswered`` {ask_id, site, key|status}.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import structlog
from redis.asyncio import Redis

from hotline_link.asterisk.ami.manager import AmiError, AmiEvent
from hotline_link.core.bus import BusEvent, BusWorker, EventBus
from hotline_link.core.events import (
    AskKey,
    AskNokey,
    AskOutcomeEvent,
    AskUnanswered,
    Event,
    LinkagePhoneAttempt,
    LinkagePhoneOutcome,
    payload,
)
from hotline_link.core.logs import mask_number
from hotline_link.core.redis_client import as_str, as_str_list
from hotline_link.core.tasks import cancel_and_wait, repeat_every
from linkage.journal import Clock
from linkage.redis_keys import PREFIX, LinkageKeys
from tickets.catalog import available_jurisdictions, load_jurisdiction

log = structlog.get_logger(__name__)

SOUNDS_SUBDIR = "hl/ask"  # the dialplan plays hl/ask/<name>
USER_EVENT = "HotlineAsk"
ASK_OUTCOMES: dict[str, type[AskOutcomeEvent]] = {cls.NAME.split(".", 1)[1]: cls
                                                 for cls in (AskKey, AskNokey, AskUnanswered)}
OUT_CONTEXT = "hotline-ask-out"
ASK_CONTEXT = "hotline-ask"
DIGIT_WORDS = ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九")
_TEXTS = {
    **{f"digit_{d}": word for d, word in enumerate(DIGIT_WORDS)},
    "dispatch_intro": "您好，这里是12345政务服务便民热线联动派单。工单号",
    "dispatch_press": "请您单位接单处置。接单请按1。",
    "callback_intro": "您好，这里是12345政务服务便民热线回访。您反映的问题已经办结，",
    "callback_press": "请对办理结果进行评价：满意请按1，基本满意请按2，不满意请按3。",
    "thanks": "谢谢，再见。",
    # 督办 (a reminder to the unit) and 提级 (the command centre told) by phone
    "supervise_intro": "您好，这里是12345政务服务便民热线督办提醒。工单号",
    "escalate_intro": "您好，这里是12345政务服务便民热线提级通知。工单号",
    "stage_accept": "尚未接单，已超过接单时限。",
    "stage_arrive": "尚未反馈到场，已超过到场时限。",
    "stage_result": "尚未反馈办理结果，已超过办结时限。",
    "supervise_press": "请尽快处置并反馈。收到请按1。",
    "escalate_press": "经督办仍然超时，请指挥中心协调处置。收到请按1。",
    # a major case's lead dispatched: the leadership told (重大事件，在下达指令的同时上报)
    "major_intro": "您好，这里是12345政务服务便民热线重大事件报告。工单号",
    "major_press": "已派发处置单位，特此报告。收到请按1。",
    # the units' feedback line (asterisk_conf/extensions_feedback.conf)
    "fb_ticket": "联动单位反馈专线。请输入工单号，按井号键结束。",
    "fb_pin": "请输入单位反馈密码，以井号键结束。",
    "fb_wrong": "工单号或密码有误，请重新输入。",
    "fb_menu": "已到达现场请按1，已办结请按2，已办结但未能解决请按3。",
    "fb_note": "留言请在提示音后说，按井号键结束；不留言请按井号键。",
    "fb_done": "反馈已登记，谢谢，再见。",
    "fb_wrong_step": "该工单当前不能登记这项反馈，请联系热线值班长。再见。",
    "fb_unavailable": "系统暂时无法受理反馈，请稍后再拨。再见。",
}
PROMPTS: Mapping[str, str] = MappingProxyType(_TEXTS)
CALLBACK_KEYS = MappingProxyType({"1": "满意", "2": "基本满意", "3": "不满意"})
OUTCOMES = frozenset({"key", "nokey", "unanswered", "failed"})


def sound(name: str) -> str:
    if name not in PROMPTS:
        raise KeyError(f"no ask prompt {name!r}")
    return f"{SOUNDS_SUBDIR}/{name}"


def category_prompt_name(category: str) -> str:
    return "cat_" + hashlib.sha256(category.strip().encode()).hexdigest()[:12]


def ask_prompts(categories: Iterable[str] = ()) -> Mapping[str, str]:
    """Every prompt of the phone asks: the fixed ones, and "类别，<category>" for each
    category a dispatch call may name (synthesised at set-up time like the rest)."""
    texts = dict(_TEXTS)
    texts.update({category_prompt_name(c): f"类别，{c.strip()}。" for c in categories if c.strip()})
    return MappingProxyType(texts)


def shipped_categories() -> frozenset[str]:
    """The categories of every shipped transfer catalog: what a dispatch call can say."""
    return frozenset(entry.category for name in available_jurisdictions()
                     for entry in load_jurisdiction(name).entries)


def digits_of(ticket_id: str) -> str:
    """What is read of a ticket number: its digits after the platform (12345-20261124-000007
    -> 20261124000007); the platform is said by the intro."""
    tail = ticket_id.split("-", 1)[1] if "-" in ticket_id else ticket_id
    return "".join(ch for ch in tail if ch.isdigit())


def _number_sounds(ticket_id: str) -> list[str]:
    return [sound(f"digit_{d}") for d in digits_of(ticket_id)]


def summary_sound_name(ticket_id: str) -> str:
    """The sound of a ticket's own summary (地点和情况), under ``SOUNDS_SUBDIR``."""
    return f"tickets/{ticket_id}"


def dispatch_prompt(ticket_id: str, category: str = "", spoken: frozenset[str] = frozenset(),
                    summary: str = "") -> str:
    """The Read() file list of a dispatch call: intro, the number digit by digit, the
    category when it is one of the ``spoken`` (synthesised) ones, the ticket's summary when
    its sound was made (``summary``: a ``summary_sound_name``), press 1."""
    parts = [sound("dispatch_intro"), *_number_sounds(ticket_id)]
    if category.strip() and category.strip() in spoken:
        parts.append(f"{SOUNDS_SUBDIR}/{category_prompt_name(category)}")
    if summary:
        parts.append(f"{SOUNDS_SUBDIR}/{summary}")
    parts.append(sound("dispatch_press"))
    return "&".join(parts)


def major_prompt(ticket_id: str, category: str = "", spoken: frozenset[str] = frozenset()) -> str:
    """The Read() file list of a leadership call about a major case: intro, the number digit
    by digit, the category when spoken, "dispatched; press 1 to acknowledge"."""
    parts = [sound("major_intro"), *_number_sounds(ticket_id)]
    if category.strip() and category.strip() in spoken:
        parts.append(f"{SOUNDS_SUBDIR}/{category_prompt_name(category)}")
    parts.append(sound("major_press"))
    return "&".join(parts)


def overdue_prompt(kind: str, ticket_id: str, stage: str) -> str:
    """A 督办 reminder (``reminder``: to the unit; for an unaccepted dispatch key 1 accepts
    it, so it ends with the dispatch's own "接单请按1") or a 提级 notice (``escalation``: to
    the command centre): intro, the number digit by digit, what is overdue, press 1."""
    intro = "escalate_intro" if kind == "escalation" else "supervise_intro"
    press = ("escalate_press" if kind == "escalation" else
             "dispatch_press" if stage == "accept" else "supervise_press")
    parts = [sound(intro), *_number_sounds(ticket_id), sound(f"stage_{stage}"), sound(press)]
    return "&".join(parts)


def callback_prompt() -> str:
    return "&".join((sound("callback_intro"), sound("callback_press")))


def dispatch_numbers(duty: str, backup: str, tries_each: int = 2) -> list[str]:
    """The duty line ``tries_each`` times (the retry), then the backup line once."""
    numbers = [duty] * max(1, tries_each)
    if backup and backup != duty:
        numbers.append(backup)
    return numbers


@dataclass(frozen=True)
class Outcome:
    kind: str  # key, nokey, unanswered, failed
    key: str = ""
    status: str = ""


def outcome_of(event: AmiEvent) -> tuple[str, Outcome] | None:
    """(attempt id, outcome) of one AMI UserEvent, or None when it is not ours."""
    if event.get("UserEvent") != USER_EVENT:
        return None
    ask_id, stage = event.get("Ask").strip(), event.get("Stage").strip()
    if not ask_id or stage not in ("key", "nokey", "unanswered"):
        log.warning("ask.bad_event", stage=stage, site=event.site)
        return None
    key = event.get("Key").strip() if stage == "key" else ""
    if stage == "key" and (len(key) != 1 or key not in "0123456789*#"):
        return None
    return ask_id, Outcome(stage, key, event.get("Status").strip())


@dataclass(frozen=True)
class Step:
    """What to do after an attempt's outcome: ``done`` (with the answer), ``retry`` (call
    ``numbers[attempt]`` at ``at``) or ``exhausted`` (every number tried)."""

    action: str
    attempt: int = 0
    at: float = 0.0
    answer: str = ""


def next_step(kind: str, numbers: list[str], attempt: int, outcome: Outcome, now: float,
              retry_delay_s: float) -> Step:
    """The decision after attempt ``attempt`` (0-based) ended with ``outcome``. A dispatch
    is done on key 1 (accepted), a 督办 reminder or 提级 notice too (acknowledged); a 回访 on
    1, 2 or 3. Any other outcome moves on to the next number."""
    if outcome.kind == "key":
        if kind == "dispatch" and outcome.key == "1":
            return Step("done", attempt, now, "accepted")
        if kind in ("reminder", "escalation") and outcome.key == "1":
            return Step("done", attempt, now, "acknowledged")
        if kind == "callback" and outcome.key in CALLBACK_KEYS:
            return Step("done", attempt, now, CALLBACK_KEYS[outcome.key])
    if attempt + 1 < len(numbers):
        return Step("retry", attempt + 1, now + retry_delay_s)
    return Step("exhausted", attempt)


# --- the Redis and AMI edge ---------------------------------------------------------------

Originate = Callable[[str, Mapping[str, Any]], Awaitable[Any]]  # (site, action) -> reply
Finished = Callable[[dict[str, Any], Step], Awaitable[None]]  # (the ask, the final step)
Note = Callable[[Event], Awaitable[object]]  # journal.record(event); its result unused

_TAKE = """
if redis.call('zscore', KEYS[1], ARGV[1]) and tonumber(redis.call('zscore', KEYS[1], ARGV[1])) <= tonumber(ARGV[2]) then
  redis.call('zadd', KEYS[1], ARGV[3], ARGV[1]) return 1 end
return 0
"""


@dataclass(frozen=True)
class PhoneTimings:
    ring_s: int = 20  # how long the callee's phone rings
    retry_delay_s: float = 120.0  # between two attempts
    answer_window_s: float = 60.0  # after the ring: the prompt and two key waits
    tick_s: float = 0.2


def _is_ask_outcome(event: BusEvent) -> bool:
    return any(event.is_(cls) for cls in ASK_OUTCOMES.values())


def slot_of(ticket_id: str, kind: str, own: str = "") -> str:
    """Where a ticket's ask of ``kind`` is kept: the dispatch and the 回访 share the ticket's
    own slot (a new one replaces an unfinished one); a 督办 reminder and a 提级 notice have
    their own, so they run beside a dispatch still being asked. ``own``: an ask with a slot
    of its own beside those (an assisting unit's, joint handling; a leadership contact's)."""
    slot = ticket_id if kind in ("dispatch", "callback") else f"{ticket_id}|{kind}"
    return f"{slot}|{own}" if own else slot


def _loaded(raw: bytes | str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    ask: dict[str, Any] = json.loads(raw)
    ask.setdefault("slot", ask["ticket_id"])  # kept by a version before the slots
    return ask


def _new_ask(kind: str, ticket_id: str, site: str, numbers: list[str], prompt: str,
             extra: Mapping[str, Any]) -> dict[str, Any]:
    own = str(extra.get("own_slot", ""))
    return {"kind": kind, "ticket_id": ticket_id, "slot": slot_of(ticket_id, kind, own), "site": site,
            "numbers": numbers, "prompt": prompt, "attempt": 0, "state": "waiting", "ask_id": "", **extra}


class PhoneAsks:
    """Places the attempts of each ask and follows them to an outcome."""

    def __init__(self, redis: Redis, bus: EventBus, originate: Originate, note: Note, finished: Finished,
                 *, prefix: str = PREFIX, clock: Clock, timings: PhoneTimings = PhoneTimings()) -> None:
        self.redis = redis
        self.bus = bus
        self.originate = originate
        self.note = note
        self.finished = finished
        self.prefix = prefix
        self.keys = LinkageKeys(prefix)
        self.clock = clock
        self.timings = timings
        self.due_key = self.keys.phone_due
        self._take = redis.register_script(_TAKE)
        self._events = BusWorker(bus, "linkage.phone", _is_ask_outcome, self._on_ask_event, maxsize=1000)
        self._tasks: list[asyncio.Task[None]] = []

    def _key(self, slot: str) -> str:
        return self.keys.phone(slot)

    def _ask_key(self, ask_id: str) -> str:
        return self.keys.ask(ask_id)

    async def get(self, ticket_id: str, kind: str = "dispatch", own: str = "") -> dict[str, Any] | None:
        """The ticket's ask of ``kind`` (dispatch and 回访 share one: they never overlap);
        ``own``: the ask of that slot of its own (an assisting unit's)."""
        return _loaded(await self.redis.get(self._key(slot_of(ticket_id, kind, own))))

    async def _put(self, ask: dict[str, Any], due: float | None) -> None:
        pipe = self.redis.pipeline()
        pipe.set(self._key(ask["slot"]), json.dumps(ask, ensure_ascii=False), ex=30 * 86400)
        if due is None:
            pipe.zrem(self.due_key, ask["slot"])
        else:
            pipe.zadd(self.due_key, {ask["slot"]: due})
        await pipe.execute()

    async def start_ask(self, kind: str, ticket_id: str, site: str, numbers: list[str], prompt: str,
                        **extra: Any) -> dict[str, Any]:
        """Begin asking (a new ask replaces an unfinished one of the same slot) and place
        the first call now."""
        ask = _new_ask(kind, ticket_id, site, numbers, prompt, extra)
        await self._put(ask, self.clock())
        await self._place(ask)
        return ask

    async def schedule_ask(self, kind: str, ticket_id: str, site: str, numbers: list[str], prompt: str,
                           at: float, **extra: Any) -> dict[str, Any]:
        """Begin asking at ``at`` (now or later, e.g. the next calling hours or working
        period); kept in Redis until then, so a restart in between misses nothing."""
        if at <= self.clock():
            return await self.start_ask(kind, ticket_id, site, numbers, prompt, **extra)
        ask = _new_ask(kind, ticket_id, site, numbers, prompt, extra)
        await self._put(ask, at)
        return ask

    async def active(self, ticket_id: str, kind: str = "dispatch", own: str = "") -> dict[str, Any] | None:
        """The ticket's ask of ``kind`` if it is still calling or waiting for its next try."""
        ask = await self.get(ticket_id, kind, own)  # dispatch and 回访 share a slot: the kind must match
        return ask if ask is not None and ask["kind"] == kind and ask["state"] in ("waiting", "calling") else None

    async def cancel(self, ticket_id: str, kind: str, reason: str, own: str = "") -> bool:
        """Stop asking (the answer came another way): no more tries, and a call still
        ringing is ignored when it reports. False when nothing was being asked."""
        ask = await self.active(ticket_id, kind, own)
        if ask is None:
            return False
        ask.update(state="cancelled", answer=reason)
        await self._put(ask, None)
        log.info("linkage.phone_cancelled", ticket_id=ticket_id, kind=kind, reason=reason)
        return True

    async def _place(self, ask: dict[str, Any]) -> None:
        attempt = ask["attempt"]
        number = ask["numbers"][attempt]
        ask_id = f"ask{uuid.uuid4().hex}"
        ask.update(state="calling", ask_id=ask_id, placed_at=self.clock())
        await self.redis.set(self._ask_key(ask_id), ask["slot"], ex=86400)
        await self._put(ask, self.clock() + self.timings.ring_s + self.timings.answer_window_s)
        await self.note(LinkagePhoneAttempt(ticket_id=ask["ticket_id"], kind=ask["kind"], attempt=attempt + 1,
                                            number=mask_number(number), site=ask["site"], ask_id=ask_id))
        try:
            await self.originate(ask["site"], {
                "Action": "Originate", "ActionID": ask_id, "Channel": f"Local/{number}@{OUT_CONTEXT}",
                "Context": ASK_CONTEXT, "Exten": "s", "Priority": "1", "Async": "true",
                "Timeout": str((self.timings.ring_s + 5) * 1000), "ChannelId": ask_id,
                "OtherChannelId": f"{ask_id}-2",
                "Variable": [f"ASK_ID={ask_id}", f"ASK_PROMPT={ask['prompt']}",
                             f"ASK_RING_S={self.timings.ring_s}"]})
        except (TimeoutError, AmiError) as exc:
            log.warning("linkage.phone_originate_failed", ticket_id=ask["ticket_id"], error=str(exc))
            await self._outcome(ask_id, Outcome("failed", status=str(exc)[:200]))

    async def _outcome(self, ask_id: str, outcome: Outcome) -> None:
        slot = await self.redis.get(self._ask_key(ask_id))
        ask = _loaded(await self.redis.get(self._key(as_str(slot)))) if slot else None
        if ask is None or ask["ask_id"] != ask_id or ask["state"] != "calling":
            return  # an earlier attempt's late event, or a second report of this one
        if not await self.redis.set(self.keys.ask_claimed(ask_id), "1", nx=True, ex=86400):
            return  # another server instance heard the same event and handles it
        now = self.clock()
        step = next_step(ask["kind"], ask["numbers"], ask["attempt"], outcome, now, self.timings.retry_delay_s)
        await self.note(LinkagePhoneOutcome(
            ticket_id=ask["ticket_id"], kind=ask["kind"], attempt=ask["attempt"] + 1, outcome=outcome.kind,
            key=outcome.key or None, status=outcome.status or None, next=step.action,
            retry_at=step.at if step.action == "retry" else None, site=ask["site"]))
        if step.action == "retry":
            ask.update(state="waiting", attempt=step.attempt, ask_id="")
            await self._put(ask, step.at)
            return
        ask.update(state=step.action, answer=step.answer)
        await self._put(ask, None)
        await self.finished(ask, step)

    async def due_once(self) -> int:
        """Place the retries that are due and give up on attempts whose outcome is overdue."""
        now = self.clock()
        handled = 0
        for slot in as_str_list(await self.redis.zrangebyscore(self.due_key, "-inf", now, start=0, num=100)):
            if not await self._take(keys=[self.due_key], args=[slot, now, now + 30]):
                continue  # another instance took it
            ask = _loaded(await self.redis.get(self._key(slot)))
            if ask is None:
                await self.redis.zrem(self.due_key, slot)
            elif ask["state"] == "waiting":
                await self._place(ask)
            elif ask["state"] == "calling":
                await self._outcome(ask["ask_id"], Outcome("failed", status="no report from the call"))
            else:
                await self.redis.zrem(self.due_key, slot)
            handled += 1
        return handled

    # --- AMI -> bus -> outcomes ---------------------------------------------------------

    async def on_user_event(self, event: AmiEvent) -> None:
        out = outcome_of(event)
        if out is None:
            return
        ask_id, outcome = out
        said = ASK_OUTCOMES[outcome.kind](ask_id=ask_id, site=event.site, key=outcome.key or None,
                                          status=outcome.status or None)
        log.info(said.NAME, **payload(said))
        self.bus.emit(said)

    async def _on_ask_event(self, event: BusEvent) -> None:
        stage = next(stage for stage, cls in ASK_OUTCOMES.items() if event.is_(cls))
        said = event.as_(ASK_OUTCOMES[stage])
        await self._outcome(said.ask_id, Outcome(stage, said.key or "", said.status or ""))

    def start(self) -> None:
        self._events.start()
        self._tasks = [asyncio.create_task(
            repeat_every(self.due_once, lambda: self.timings.tick_s, failed="linkage.phone_scan_failed",
                         bug="linkage.phone_scan_bug"), name="linkage-phone-due")]

    async def stop(self) -> None:
        await self._events.stop()
        await cancel_and_wait(self._tasks)
