"""The product's wheel holds the product and its data files, never the dev tools or tests."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_has_no_devtools_and_every_capability(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("hotline_link-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"hotline_link", "call_control", "seat_pool", "ivr", "agi_scripts", "asterisk_conf",
                    "tickets", "linkage", "supervisor", "exchange", "desk", "knowledge", "analysis"}
    assert {f"knowledge/data/{name}.csv" for name in ("default", "qidong", "siyang", "huangchuan", "wuqia")} \
        <= set(names)  # the knowledge base's files ship with it
    assert not any(n.startswith(("devtools/", "tests/")) for n in names)
    assert any(n.startswith("supervisor/static/") for n in names)  # the page ships with the wheel
    assert {"desk/static/app.js", "desk/vendor/jssip.min.js"} <= set(names)  # and the desk with its softphone
    assert not any("node_modules" in n for n in names)
    assert any(n.startswith("asterisk_conf/") and n.endswith(".conf") for n in names)
