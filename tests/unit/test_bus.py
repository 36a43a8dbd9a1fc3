import asyncio

import pytest

from hotline_link.core.bus import EventBus


async def test_concurrent_waiters_each_get_their_event_in_any_order():
    bus = EventBus()
    with bus.subscribe() as sub:
        bus.publish("call.started", call_id="a")
        waits = [asyncio.create_task(sub.wait_for(lambda e, c=c: e.data["call_id"] == c, 2))
                 for c in ("a", "b", "c")]
        loop = asyncio.get_running_loop()  # published after the waiters' first steps (FIFO)
        loop.call_soon(lambda: bus.publish("call.started", call_id="c"))
        loop.call_soon(lambda: bus.publish("call.started", call_id="b"))
        got = await asyncio.gather(*waits)
    assert [e.data["call_id"] for e in got] == ["a", "b", "c"]


async def test_wait_times_out_and_unsubscribed_sees_nothing():
    bus = EventBus()
    with bus.subscribe() as sub:
        with pytest.raises(asyncio.TimeoutError):
            await sub.wait_for(lambda e: True, 0.05)
    bus.publish("late")
    assert list(sub.seen) == []


async def test_history_is_bounded():
    bus = EventBus(subscriber_queue_size=2)
    with bus.subscribe() as sub:
        for i in range(5):
            bus.publish("e", i=i)
    assert [e.data["i"] for e in sub.seen] == [3, 4] and sub.dropped == 3


def test_a_failing_listener_costs_neither_the_publisher_nor_the_other_listeners():
    bus = EventBus()
    seen = []

    def broken(event):
        raise KeyError("site")

    bus.listen(broken)
    bus.listen(lambda e: seen.append(e.name))
    assert bus.publish("seat.changed", site="12345").name == "seat.changed"
    assert seen == ["seat.changed"]


async def test_bus_worker_handles_wanted_events_in_order_survives_errors_and_drains_on_stop():
    from hotline_link.core.bus import BusWorker

    bus, handled = EventBus(), []

    async def handle(event):
        if event.data["n"] == 2:
            raise ValueError("bad data")
        handled.append(event.data["n"])

    worker = BusWorker(bus, "test.worker", lambda e: e.name == "wanted", handle)
    worker.start()
    for n in range(5):
        bus.publish("wanted", n=n)
        bus.publish("other", n=100 + n)
    await worker.stop(drain_s=2.0)
    assert handled == [0, 1, 3, 4]  # in order, the bad one logged and skipped, others ignored
