"""Progress of long calls: the library reports phases (``start``), steps (``advance``) and
ends (``finish``); this draws them with tqdm when it is installed, else as plain lines on
stderr (at most one per 10 % of a phase)."""

from __future__ import annotations

import sys
import time
from typing import Any, Optional


class TqdmProgress:
    """One tqdm bar per phase."""

    def __init__(self, tqdm: Any) -> None:
        self._tqdm = tqdm
        self._bar: Any = None

    def start(self, label: str, total: int) -> None:
        self.finish()
        self._bar = self._tqdm(total=total, desc=label, leave=False, dynamic_ncols=True)

    def advance(self, n: int, msg: str) -> None:
        if self._bar is not None:
            if msg:
                self._bar.set_postfix_str(msg, refresh=False)
            self._bar.update(n)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class PlainProgress:
    """``label: 30 % (900/3000) msg`` lines on stderr, one per tenth of a phase."""

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream
        self._label = ""
        self._total = 0
        self._done = 0
        self._shown = -1
        self._t0 = 0.0

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(text + "\n")
        stream.flush()

    def start(self, label: str, total: int) -> None:
        self._label, self._total, self._done, self._shown = label, int(total), 0, 0
        self._t0 = time.monotonic()

    def advance(self, n: int, msg: str) -> None:
        if n <= 0 or self._total <= 0:
            return
        self._done += int(n)
        tenth = min(10, self._done * 10 // self._total)
        if tenth > self._shown:
            self._shown = tenth
            tail = f" {msg}" if msg else ""
            self._write(
                f"{self._label}: {10 * tenth:3d} % ({self._done}/{self._total}){tail}"
            )

    def finish(self) -> None:
        if self._label:
            self._write(f"{self._label}: done in {time.monotonic() - self._t0:.1f} s")
        self._label = ""


def reporter(progress: Any) -> Optional[Any]:
    """The object the native module reports to: ``None`` for no progress; for ``True`` a
    tqdm adapter when tqdm is installed, else :class:`PlainProgress`; or the caller's own
    object with ``start``, ``advance`` and ``finish`` methods."""
    if progress is None or progress is False:
        return None
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return PlainProgress()
        return TqdmProgress(tqdm)
    for m in ("start", "advance", "finish"):
        if not callable(getattr(progress, m, None)):
            raise ValueError(
                f"progress: expected True, False or an object with start/advance/finish, "
                f"got {type(progress).__name__} (no {m}())"
            )
    return progress
