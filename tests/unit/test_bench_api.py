import os

from devtools.bench.api import percentile, rss_mb


def test_percentile_picks_a_sample():
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0 and percentile([], 50) == 0.0


def test_rss_of_this_process_is_read_from_proc():
    assert 5.0 < rss_mb(os.getpid()) < 4096.0
