"""Exceptions raised by fcollide (the native module raises these classes)."""

from __future__ import annotations

__all__ = ["Error", "ParameterError"]


class Error(Exception):
    """An error reported by the fcollide library; ``str(e)`` is its message, which names the
    file, tensor, layer or parameter concerned."""


class ParameterError(Error, ValueError):
    """An invalid parameter or layer name (also a :class:`ValueError`)."""
