"""The sandbox's servers get a raised priority on every thread, so a busy machine slows the
tests rather than starving Asterisk and Redis."""

from __future__ import annotations

import os
import subprocess
import sys

from devtools.sandbox.processes import prioritise, set_autogroup_nice

_THREADED = ("import threading, time\n"
             "for _ in range(3): threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
             "print('ready', flush=True)\n"
             "time.sleep(60)\n")


def test_every_thread_of_the_process_gets_the_nice_value():
    child = subprocess.Popen([sys.executable, "-c", _THREADED], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        tids = [int(t) for t in os.listdir(f"/proc/{child.pid}/task")]
        assert len(tids) == 4
        assert prioritise(child.pid, nice=7) == 4
        assert {os.getpriority(os.PRIO_PROCESS, tid) for tid in tids} == {7}
        assert prioritise(child.pid, nice=7) == 0  # already there: nothing to change
    finally:
        child.kill()
        child.wait()


def test_a_process_that_is_gone_changes_nothing():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: /proc no longer lists it
    assert prioritise(child.pid) == 0


def test_a_server_in_a_session_of_its_own_gets_its_autogroup_ranked():
    """Nice values rank threads only inside their autogroup (one per session): a server
    started with ``start_new_session`` gets its group ranked too, where the kernel has them."""
    child = subprocess.Popen([sys.executable, "-c", _THREADED], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        group = f"/proc/{child.pid}/autogroup"
        if os.path.exists(group):
            assert set_autogroup_nice(child.pid, 5) is True
            with open(group) as fh:
                assert fh.read().split()[-1] == "5"  # "/autogroup-N nice 5"
        else:
            assert set_autogroup_nice(child.pid, 5) is False  # no autogroups here: nothing to rank
    finally:
        child.kill()
        child.wait()
    assert set_autogroup_nice(child.pid, 5) is False  # gone
