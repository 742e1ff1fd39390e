"""The executor's stdout protocol: one JSON object per line, nothing else (docs/runtime-executor.md).

`install()` moves the real stdout aside and points file descriptor 1 and sys.stdout at stderr, so
stray prints (ours, torch's, C++ libraries') can never corrupt the event stream."""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Optional, TextIO

_out: Optional[TextIO] = None


def install() -> None:
    global _out
    if _out is not None:
        return
    sys.stdout.flush()
    _out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def emit(event: str, **fields: Any) -> None:
    line = json.dumps({"event": event, **fields}, separators=(",", ":"))
    out = _out if _out is not None else sys.stdout
    out.write(line + "\n")
    out.flush()


def log(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
