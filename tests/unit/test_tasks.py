import asyncio

from hotline_link.core.tasks import cancel_and_wait, wait_until


async def test_wait_until_rechecks_on_each_change_and_times_out():
    changed, state = asyncio.Event(), {"n": 0}

    def bump() -> None:
        state["n"] += 1
        changed.set()

    loop = asyncio.get_running_loop()
    for delay in (0.01, 0.02, 0.03):
        loop.call_later(delay, bump)
    assert await wait_until(changed, lambda: state["n"] >= 3, 2) is True
    assert await wait_until(changed, lambda: state["n"] >= 4, 0.05) is False
    assert await wait_until(changed, lambda: True, 0) is True


async def test_cancel_and_wait_ends_tasks():
    task = asyncio.create_task(asyncio.Event().wait())
    await cancel_and_wait([task, None])
    assert task.cancelled()
