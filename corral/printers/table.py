"""Aligned text tables the way kubectl's tabwriter lays them out."""

from __future__ import annotations

from collections.abc import Callable, Sequence

PADDING = 3
MIN_WIDTH = 6

Colour = Callable[[int, str], str]   # (column, cell text) -> cell with ANSI codes


def render(headers: Sequence[str] | None, rows: Sequence[Sequence[str]],
           colour: Colour | None = None, widths: list[int] | None = None) -> str:
    """Columns padded to the widest cell + 3 (at least 6); the last one unpadded.

    `widths`, if given, is updated in place, so successive calls (a watch) keep
    their columns at least as wide as before.
    """
    all_rows = ([list(headers)] if headers is not None else []) + [list(r) for r in rows]
    if not all_rows:
        return ""
    ncols = max(len(r) for r in all_rows)
    w = [0] * ncols
    for row in all_rows:
        for i, cell in enumerate(row):
            w[i] = max(w[i], max((len(x) for x in cell.split("\n")), default=0))
    if widths is not None:
        for i in range(ncols):
            if i < len(widths):
                w[i] = max(w[i], widths[i])
        widths[:] = w
    lines = []
    for r, row in enumerate(all_rows):
        parts = []
        for i, cell in enumerate(row):
            text = cell
            last = i == len(row) - 1
            pad = "" if last else " " * (max(w[i] + PADDING, MIN_WIDTH) - len(cell))
            if colour is not None and (headers is None or r > 0):
                text = colour(i, cell)
            parts.append(text + pad)
        lines.append("".join(parts).rstrip() if not colour else "".join(parts))
    return "\n".join(lines) + "\n"
