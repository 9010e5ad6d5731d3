"""Result downloads: CSV and JSON per result, old folders pruned."""

from __future__ import annotations

import json
import os
import time

from nver_demo.app import downloads


def test_writes_csv_and_json_with_a_safe_name(tmp_path):
    d = downloads.Downloads(tmp_path)
    csv_path, json_path = d.write("my clip/../x-reno-a+b", "emotion,probability\nAwe,1.0\n", {"label": "Awe"})
    assert csv_path.endswith("my_clip_.._x-reno-a+b.csv") and "/../" not in csv_path
    assert json.loads(open(json_path, encoding="utf-8").read()) == {"label": "Awe"}
    assert open(csv_path, encoding="utf-8").read().startswith("emotion,probability")


def test_old_results_are_pruned(tmp_path):
    d = downloads.Downloads(tmp_path)
    old = d.write("old", "", {})[0]
    folder = os.path.dirname(old)
    past = time.time() - downloads.KEEP_S - 10
    os.utime(folder, (past, past))
    d.write("new", "", {})
    assert not os.path.exists(old) and len(list(tmp_path.iterdir())) == 1
