#!/usr/bin/env bash
# Lint and type-check the repo: `bash tools/ci/lint.sh [PYTHON]` (default: python3 with ruff and mypy installed;
# .ci/run passes the venv's python). Exits non-zero when either finds a problem.
#
# - ruff: the whole tree, rules in pyproject.toml ([tool.ruff]).
# - mypy: samplers/ with --strict (the pure-torch core), nodes/ with mypy's defaults. mypy names modules by their folders, and the repo's folder is
#   usually not a Python identifier (custom_nodes/infinite-video), so it checks the package through a link named
#   infinite_video in a temporary folder, as ComfyUI and the tests see it. Imports outside the checked package
#   (ComfyUI, torch internals) are followed silently; settings in pyproject.toml ([tool.mypy]).
set -uo pipefail
py=${1:-python3}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rc=0

echo "[lint] ruff check" >&2
"$py" -m ruff check --no-cache "$repo" || rc=1

link_dir=$(mktemp -d)
trap 'rm -rf "$link_dir"' EXIT
ln -s "$repo" "$link_dir/infinite_video"
echo "[lint] mypy --strict samplers/" >&2
(cd "$link_dir" && "$py" -m mypy --config-file "$repo/pyproject.toml" --cache-dir "${HOME}/.cache/infinite-video/mypy" \
    --strict -p infinite_video.samplers) || rc=1
echo "[lint] mypy nodes/" >&2
(cd "$link_dir" && "$py" -m mypy --config-file "$repo/pyproject.toml" --cache-dir "${HOME}/.cache/infinite-video/mypy" \
    -p infinite_video.nodes) || rc=1
exit "$rc"
