"""The committed templates are what their builders make: a Note or widget changed in ``tools/authoring`` without
regenerating (``python -m tools.authoring.ui_workflows``) would ship stale text to users."""

from __future__ import annotations

import json

import pytest

from infinite_video.tools.authoring import ui_workflows


@pytest.mark.parametrize("name", list(ui_workflows.WORKFLOWS))
def test_committed_template_matches_its_builder(name):
    path = ui_workflows.OUT / f"{name}.json"
    built = json.loads(json.dumps(ui_workflows.ui_workflow(ui_workflows.WORKFLOWS[name]())))
    assert json.loads(path.read_text()) == built, (
        f"{path.name} is stale: run python -m tools.authoring.ui_workflows and commit the result")


def test_no_stale_template_files():
    assert {p.stem for p in ui_workflows.OUT.glob("*.json")} == set(ui_workflows.WORKFLOWS)
