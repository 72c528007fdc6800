"""What a kind's table is: its headers and row functions (TableDef), and the
"<none>" of an empty cell."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proto import api_pb2

Row = Callable[[api_pb2.Object, float], list[str]]


@dataclass(frozen=True)
class TableDef:
    headers: tuple[str, ...]
    row: Row
    wide_headers: tuple[str, ...] = ()
    wide_row: Row | None = None
    status_column: int = -1          # index of a STATUS-like column to colour


def none_if_empty(s: str) -> str:
    return s if s else "<none>"

