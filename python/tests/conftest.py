"""pytest setup for python/: puts python/ on sys.path so `import uniap_torch` finds the package in this
checkout (not an installed copy), and loads the models TypeScript resolved (fixtures/models.json,
written by `npx tsx scripts/gen-python-fixtures.ts`; Python never re-derives the facts in it)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

PY_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = PY_DIR.parent
FIXTURE_FILE = Path(__file__).resolve().parent / "fixtures" / "models.json"

if str(PY_DIR) not in sys.path:
    sys.path.insert(0, str(PY_DIR))


def load_models() -> List[Dict[str, Any]]:
    """The fixture models (a ModelSpec plus `facts` each); also used at collection time to parametrize."""
    with open(FIXTURE_FILE, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def models() -> List[Dict[str, Any]]:
    return load_models()
