#!/usr/bin/env bash
# Builds the Lambda layer with the one third-party package our functions need that
# neither the Lambda runtime nor the Powertools layer provides: PyYAML.
# pip picks the manylinux wheel for the Lambda runtime; no Docker, no compilation.
set -euo pipefail
target=${1:-build/layer/python}
rm -rf "$target" && mkdir -p "$target"
echo "==> building the Lambda layer (PyYAML for python3.12, x86_64) in $target"
.venv/bin/python -m pip install -q --target "$target" --no-deps \
  --platform manylinux2014_x86_64 --implementation cp --python-version 3.12 \
  --only-binary=:all: "pyyaml==6.0.3"
