"""The executor's stdout protocol: one JSON object per line, nothing else (docs/runtime-executor.md).

`install()` moves the real stdout aside and points file descriptor 1 and sys.stdout at stderr, so
stray prints (ours, torch's, C++ libraries') can never corrupt the event stream."""
from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any, Callable, Optional, TextIO

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


def guarded(body: Callable[[], None], rank: Callable[[], int]) -> int:
    """Run an entry point's body: 0 on success; on an exception, the traceback to stderr, one error
    event, and 1 (the executor contract's failure path)."""
    try:
        body()
        return 0
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        try:
            r = rank()
        except Exception:
            r = 0
        emit("error", rank=r, message=f"{type(e).__name__}: {e}")
        return 1


def exit_process(code: int) -> None:
    """Exit at once: a failed rank must not hang on process-group destructors at interpreter teardown."""
    sys.stderr.flush()
    os._exit(code)
