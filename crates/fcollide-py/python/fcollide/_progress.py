"""Progress bars for long calls: the library reports phases (``start``), steps (``advance``)
and ends (``finish``); this draws them with tqdm when it is installed."""

from __future__ import annotations

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


def reporter(progress: Any) -> Optional[Any]:
    """The object the native module reports to: ``None`` for no progress, a tqdm adapter for
    ``True`` (``None`` when tqdm is not installed), or the caller's own object with ``start``,
    ``advance`` and ``finish`` methods."""
    if progress is None or progress is False:
        return None
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        return TqdmProgress(tqdm)
    for m in ("start", "advance", "finish"):
        if not callable(getattr(progress, m, None)):
            raise ValueError(
                f"progress: expected True, False or an object with start/advance/finish, "
                f"got {type(progress).__name__} (no {m}())"
            )
    return progress
