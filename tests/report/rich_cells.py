"""Reading a console table back: its title, column headers and cells as text."""

from __future__ import annotations

from rich.table import Table


def read_table(table: Table) -> tuple[str, list[str], list[list[str]]]:
    """(title, headers, rows of cell texts) of ``table``."""
    columns = [[str(cell) for cell in column.cells] for column in table.columns]
    return str(table.title), [str(c.header) for c in table.columns], [list(row) for row in zip(*columns, strict=True)]
