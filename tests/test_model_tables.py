"""The Models tab's tables: every registered backbone and head, every trained checkpoint."""

from __future__ import annotations

import pytest

from nver_demo import backbones, heads
from nver_demo.app import catalog, choices, model_tables
from tests import app_server

# Session fixtures shared by the app test modules (built and launched once per session).
app_checkpoints = app_server.app_checkpoints


@pytest.fixture(scope="module")
def infos(app_checkpoints):
    return catalog.models(app_checkpoints, hub=False)


def test_tables_cover_every_registered_backbone_and_head():
    assert [r[0] for r in model_tables.backbone_rows()] == backbones.available()
    rows = model_tables.head_rows()
    assert [r[0] for r in rows] == [catalog.head_title(n) for n in heads.available()]
    # The Models tab says which reading of RENO and MATA each head is.
    by_title = {r[0]: r[3] for r in rows}
    assert "authors" in by_title["RENO"] and "earlier token-level" in by_title["RENO (token reading)"]
    assert "batch" in by_title["MATA (batch transport)"] and "per-clip" in by_title["MATA"]
    assert all(r[2].endswith(" M") for r in rows)
    assert choices.head_inputs()["reno"] == 2 and choices.head_inputs()["cnn"] == 1


def test_model_rows_match_headers(infos):
    rows = model_tables.model_rows(infos)
    assert len(rows) == len(infos) and all(len(r) == len(model_tables.MODEL_HEADERS) for r in rows)
