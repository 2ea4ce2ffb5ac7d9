"""The UI-format example workflows open in the editor: node types exist, widget values fit, links are consistent."""

from __future__ import annotations

import json

import pytest

from comfy_server import PACK_ROOT

pytestmark = pytest.mark.host

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
UI_FILES = sorted((PACK_ROOT / "example_workflows").glob("*.json"))


def _widgets(spec: dict) -> int:
    count = 0
    for section in ("required", "optional"):
        for name, entry in spec["input"].get(section, {}).items():
            typ, opts = entry[0], (entry[1] if len(entry) > 1 else {})
            if isinstance(typ, list) or typ in WIDGET_TYPES:
                count += 1 + bool(opts.get("control_after_generate"))
    return count


def test_example_workflows_exist():
    assert UI_FILES, "example_workflows/ must hold at least one UI-format workflow"


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_workflow_matches_the_live_node_definitions(comfy_server, path):
    wf = json.loads(path.read_text())
    info = comfy_server.object_info()
    ids = {n["id"] for n in wf["nodes"]}
    for node in wf["nodes"]:
        assert node["type"] in info, f"{path.name}: unknown node type {node['type']}"
        spec = info[node["type"]]
        assert len(node["widgets_values"]) == _widgets(spec), f"{path.name}: widgets of {node['type']}"
        sockets = {n for s in ("required", "optional") for n, e in spec["input"].get(s, {}).items()}
        assert {i["name"] for i in node["inputs"]} <= sockets
    for link_id, src, _, dst, _, _ in wf["links"]:
        assert src in ids and dst in ids, f"link {link_id} dangles"


def test_server_lists_the_example_workflows(comfy_server):
    listing = comfy_server.get("/workflow_templates")
    names = {n for pack, files in listing.items() if pack.startswith("infinite") for n in files}
    assert {p.stem for p in UI_FILES} <= names
