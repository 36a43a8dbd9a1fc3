"""Benchmark: run the recommender over the labelled cases and print one JSON line.

    python devtools/bench/classify_accuracy.py [--cases FILE] [--jurisdiction NAME]

By default it measures four sets and prints them side by side,
``{"tuning": {...}, "heldout": {...}, "blind": {...}, "blind2": {...}}``: ``tests/data/labelled_cases.jsonl``
(the tuning set: the cue and keyword lists and the method were adjusted on it),
``tests/data/heldout_cases.jsonl`` (written from the seeds before the method changed and
never used to adjust it, by the engineer who then changed the method) and
``tests/data/blind_cases.jsonl`` (written from the seeds alone by someone who never saw
the code, the data files or the other sets), and ``tests/data/blind2_cases.jsonl`` (the
same way, later, measured before and after the method's second round, which never saw it).
``--cases FILE`` measures that one file and prints the figures of that set alone.

``accuracy`` is the share of cases whose platform matches the label; ``recall_110`` and
``precision_110`` are about platform 110 over every case labelled 110;
``recall_emergency`` is over the cases labelled emergency (it must stay 1.0);
``false_alarms`` counts 12345 cases sent to 110. Not a test: it only measures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout: devtools/bench/ is two levels down
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tickets.recommend import Recommender  # noqa: E402

DATA = ROOT / "tests" / "data"
SETS = {"tuning": DATA / "labelled_cases.jsonl", "heldout": DATA / "heldout_cases.jsonl",
        "blind": DATA / "blind_cases.jsonl", "blind2": DATA / "blind2_cases.jsonl"}


def read_cases(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def measure(recommender: Recommender, cases: list[dict]) -> dict:
    hits = tp = fp = fn = em_total = em_hit = 0
    start = time.perf_counter()
    for case in cases:
        got = recommender.recommend(case["text"]).platform
        want = case["platform"]
        hits += got == want
        tp += got == "110" and want == "110"
        fp += got == "110" and want != "110"
        fn += got != "110" and want == "110"
        if case.get("emergency"):
            em_total += 1
            em_hit += got == "110"
    elapsed = time.perf_counter() - start
    return {
        "cases": len(cases),
        "accuracy": round(hits / len(cases), 4),
        "recall_110": round(tp / (tp + fn), 4) if tp + fn else None,
        "precision_110": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall_emergency": round(em_hit / em_total, 4) if em_total else None,
        "false_alarms": fp,
        "ms_per_case": round(1000 * elapsed / len(cases), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=None,
                        help="one file of cases (default: the tuning and the held-out set)")
    parser.add_argument("--jurisdiction", default="default")
    args = parser.parse_args()
    recommender = Recommender.for_jurisdiction(args.jurisdiction)
    if args.cases is not None:
        result = measure(recommender, read_cases(args.cases))
    else:
        result = {name: measure(recommender, read_cases(path)) for name, path in SETS.items()}
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
