"""The CSV files of ``hub import``: the file as it is sent, and the failed rows written back out.

The hub numbers a CSV row by the line of the file where its record starts (the header is line 1),
counting blank lines; the records here are numbered the same way, so a failure's row number finds its
record. The failed-rows file keeps the input's header and adds a last column, ``hub_error``, with the
reason. ``hub import`` leaves that column out when it sends a file, so the failed-rows file can be
fixed and imported as it is.
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

ERROR_COLUMN = "hub_error"
_SEPARATORS = re.compile(r"[\s_\-]+")


def _loose(name: str) -> str:
    """A column name as the hub matches it: case and separators aside (``Hub Error`` is ``hub_error``)."""
    return _SEPARATORS.sub("", name.strip()).lower()


def _open(path: Path) -> TextIO:
    # The hub reads UTF-8 with or without a BOM; bytes that are not UTF-8 are its rows' to report.
    return path.open(encoding="utf-8-sig", errors="replace", newline="")


def records(handle: TextIO) -> Iterator[tuple[int, list[str]]]:
    """(row, fields) of each record, ``row`` being the line where it starts; blank lines give ``[]``."""
    reader = csv.reader(handle, skipinitialspace=True)
    while True:
        row = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            continue  # the hub reports such a record as unreadable; it has no fields to copy
        yield row, fields


def _is_blank(fields: list[str]) -> bool:
    return not any(field.strip() for field in fields)


def header_of(path: Path) -> list[str] | None:
    """The file's header (its first record that is not blank), or None for a file without one."""
    with _open(path) as handle:
        for _row, fields in records(handle):
            if not _is_blank(fields):
                return fields
    return None


def error_column(header: list[str]) -> int | None:
    """The position of the ``hub_error`` column in ``header``, if it has one."""
    for position, name in enumerate(header):
        if _loose(name) == _loose(ERROR_COLUMN):
            return position
    return None


def without_error_column(path: Path, directory: str | None = None) -> Path | None:
    """A copy of the file without its ``hub_error`` column (in ``directory``), or None when it has none.

    Every record keeps its line: blank lines stay blank, so the copy's row numbers are the file's.
    """
    header = header_of(path)
    position = error_column(header) if header else None
    if position is None:
        return None
    with (
        tempfile.NamedTemporaryFile(
            "w", suffix=".csv", encoding="utf-8", newline="", delete=False, dir=directory
        ) as out,
        _open(path) as handle,
    ):
        writer = csv.writer(out, lineterminator="\n")
        for _row, fields in records(handle):
            writer.writerow([field for n, field in enumerate(fields) if n != position])
    return Path(out.name)


def emails_in(path: Path) -> list[str]:
    """The emails a file lists, in file order: the ``email`` column of a CSV file whose header names one
    (matched as the hub matches columns: ``Email``, ``EMAIL``), else the first field of each line (a
    plain list, one address a line). Blank records and cells are left out."""
    with _open(path) as handle:
        rows = [fields for _row, fields in records(handle) if not _is_blank(fields)]
    position = _email_column(rows[0]) if rows else None
    cells = [_cell(fields, 0) for fields in rows] if position is None else [_cell(f, position) for f in rows[1:]]
    return [cell for cell in cells if cell]


def _email_column(header: list[str]) -> int | None:
    return next((n for n, name in enumerate(header) if _loose(name) == "email"), None)


def _cell(fields: list[str], position: int) -> str:
    return fields[position].strip() if len(fields) > position else ""


def error_text(error: dict[str, Any]) -> str:
    """A failure's error in one cell: code, message, and each detail's field and reason."""
    text = f"{error.get('code', 'ERROR')}: {error.get('message', '')}"
    details = [
        f"{detail.get('field')}: {detail.get('reason') or detail.get('message')}"
        for detail in error.get("details") or []
        if isinstance(detail, dict) and detail.get("field")
    ]
    return f"{text} ({'; '.join(details)})" if details else text


@dataclass(frozen=True)
class FailedRows:
    """What writing the failed rows did: rows written, and failed rows the file has no record for."""

    written: int
    missing: list[int]


def write_failed_rows(source: Path, failures: list[dict[str, Any]], target: Path) -> FailedRows:
    """Write the records of ``source`` whose rows failed to ``target``: the source's header plus a
    ``hub_error`` column, then each failed record with its error, in file order."""
    errors = {int(failure["row"]): error_text(failure.get("error") or {}) for failure in failures}
    written: set[int] = set()
    with _open(source) as handle, target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        header: list[str] | None = None
        for row, fields in records(handle):
            if header is None:
                if not _is_blank(fields):
                    header = fields
                    writer.writerow([*header, ERROR_COLUMN])
                continue
            if row in errors:
                padded = fields + [""] * (len(header) - len(fields))
                writer.writerow([*padded, errors[row]])
                written.add(row)
    return FailedRows(len(written), sorted(set(errors) - written))
