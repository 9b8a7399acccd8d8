"""A streaming reader of the CSV files of bulk imports: a header naming the columns, then one user a record.

The body is read in chunks and decoded incrementally, so a file of a million rows needs no more memory
than one of a thousand. Nothing in a record stops the reading: a record that cannot be read comes out
as a ``CsvRow`` with an ``error`` and its row number, and the import reports it as a failed row. Only a
file without a usable header raises ``CsvError``.

Row numbers are the line in the file where a record starts (the header is line 1), which is the row a
spreadsheet or an editor shows for files without line breaks inside quoted fields.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from hub.domain.errors import ValidationError

__all__ = ["MAX_RECORD_CHARS", "ByteStream", "CsvError", "CsvHeader", "CsvRow", "column_name", "read_csv"]

MAX_RECORD_CHARS = 1 << 20
"""A record longer than this (in characters, over all its lines) is reported instead of being held."""

_READ_SIZE = 1 << 16
_LINE_END = re.compile(r"\r\n|\r|\n")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")
_SEPARATORS = re.compile(r"[\s_\-]+")
# Bytes that are not UTF-8 are decoded with "surrogateescape" into lone surrogates, which valid UTF-8
# can never produce: unlike U+FFFD they mark exactly the records that held such bytes.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


class ByteStream(Protocol):
    """What ``read_csv`` reads from: a binary file, a ``BytesIO``, an S3 ``StreamingBody``, a raw stream."""

    def read(self, size: int, /) -> bytes | None: ...


class CsvError(ValidationError, ValueError):
    """The file cannot be imported at all: it is empty, or its header is unusable."""


@dataclass(frozen=True)
class CsvHeader:
    """The columns the header names, normalized with ``column_name``, in file order."""

    columns: list[str]
    names: list[str]  # as written in the file, for messages that quote the user's own header
    row: int = 1


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One record: its row number and its non-empty values by column, or why it cannot be read."""

    row: int
    values: dict[str, str]  # empty whenever ``error`` is set
    error: str | None = None


def column_name(raw: str) -> str:
    """The hub's camelCase name for a header cell: ``"First Name"``, ``"first_name"``, ``"first-name"``
    and ``"FIRST_NAME"`` all become ``"firstName"``; ``" EMAIL "`` becomes ``"email"``.

    Only separators (whitespace, ``_``, ``-``) split words; a word written all in capitals is taken as
    lower case, any other keeps its inner capitals, so ``"firstName"`` stays as it is. A blank cell
    gives ``""``.
    """
    words = [word.lower() if word.isupper() else word for word in _SEPARATORS.split(raw.strip()) if word]
    if not words:
        return ""
    first, *rest = words
    return first[:1].lower() + first[1:] + "".join(word[:1].upper() + word[1:] for word in rest)


def read_csv(stream: ByteStream) -> tuple[CsvHeader, Iterator[CsvRow]]:
    """The header of the CSV file in ``stream`` and an iterator over its records, read as they are needed.

    ``stream`` is anything with ``read(n)`` returning bytes (an S3 ``StreamingBody``, a file, a
    ``BytesIO``); it is read in chunks, never whole, up to a read that returns nothing, and never
    closed. The text is UTF-8, with or without a BOM.

    Blank records are skipped. A record gets an ``error`` instead of values when it is not valid
    UTF-8, has more values than the header has columns, is not valid CSV (a quoted field never closed,
    a field over ``csv.field_size_limit()``) or is longer than ``MAX_RECORD_CHARS``. Values are
    stripped and empty ones left out; missing trailing values are simply absent.

    Raises ``CsvError`` when the file is empty or its header cannot be read, has a blank column name,
    or names a column twice once normalized.
    """
    lines = _Lines(_decoded(stream), MAX_RECORD_CHARS)
    records = _records(lines)
    header = _header(records)
    return header, _rows(records, header)


def _header(records: Iterator[tuple[int, list[str], str | None]]) -> CsvHeader:
    row, names = _first_named_line(records)
    columns = [column_name(name) for name in names]
    blank = [str(position) for position, column in enumerate(columns, start=1) if not column]
    if blank:
        raise CsvError(f"The CSV header (line {row}) has no name for column {', '.join(blank)}")
    twice = _named_twice(names, columns)
    if twice:
        raise CsvError(f"The CSV header (line {row}) names a column more than once: {'; '.join(twice)}")
    return CsvHeader(columns=columns, names=names, row=row)


def _first_named_line(records: Iterator[tuple[int, list[str], str | None]]) -> tuple[int, list[str]]:
    """The row and stripped cells of the first record naming anything: the header, past blank lines."""
    for row, cells, error in records:
        if error is not None:
            raise CsvError(f"The CSV header (line {row}) {error}")
        names = [cell.strip() for cell in cells]
        if any(names):
            return row, names
    raise CsvError("The CSV file is empty: its first line must name the columns, such as email,firstName")


def _named_twice(names: list[str], columns: list[str]) -> list[str]:
    """Each column more than one header cell normalizes to, with the cells as the file spells them."""
    spellings: dict[str, list[str]] = defaultdict(list)
    for name, column in zip(names, columns, strict=True):
        spellings[column].append(name)
    return [
        f"{column} ({', '.join(repr(name) for name in named)})" for column, named in spellings.items() if len(named) > 1
    ]


def _rows(records: Iterator[tuple[int, list[str], str | None]], header: CsvHeader) -> Iterator[CsvRow]:
    columns = header.columns
    width = len(columns)
    for row, fields, error in records:
        if error is not None:
            yield CsvRow(row, {}, error)
            continue
        if len(fields) > width:
            # Trailing empty cells (a spreadsheet's stray commas) are no values, so they are no excess either.
            count = len(fields)
            while count > width and not fields[count - 1].strip():
                count -= 1
            if count > width:
                yield CsvRow(row, {}, f"has {count} values for {width} columns")
                continue
        # A short record leaves its last columns empty, and a record of empty cells is a blank line.
        values = {column: value for column, field in zip(columns, fields, strict=False) if (value := field.strip())}
        if values:
            yield CsvRow(row, values)


def _records(lines: _Lines) -> Iterator[tuple[int, list[str], str | None]]:
    """(row, fields, error) of each record; reading goes on past a record in error."""
    reader = csv.reader(lines, skipinitialspace=True)
    while True:
        row = reader.line_num + lines.skipped + 1
        lines.start_record()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except (csv.Error, _TooLong) as exc:
            # The next record is taken to start on the next line, where the damage of a stray quote ends.
            end = reader.line_num + lines.skipped
            problem = (
                f"is longer than {lines.limit} characters" if isinstance(exc, _TooLong) else f"is not valid CSV: {exc}"
            )
            yield row, [], problem if end == row else f"{problem} (lines {row} to {end})"
            continue
        if lines.exhausted:
            # csv.reader hands out what it holds when the text ends inside a quoted field; only a record
            # it finishes after asking for more text than there is can be such a one.
            yield row, [], "is not valid CSV: unexpected end of data (a quoted field is never closed)"
            return
        if lines.not_utf8:
            yield row, [], "is not valid UTF-8"
        elif fields:
            yield row, fields, None


def _decoded(stream: ByteStream) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
    while data := stream.read(_READ_SIZE):
        if text := decoder.decode(data):
            yield text
    if text := decoder.decode(b"", final=True):
        yield text


class _TooLong(Exception):
    """The record being read is over the limit."""


class _Lines:
    """The text's physical lines, the way csv.reader wants them (each ending in ``\\r\\n``, ``\\r`` or
    ``\\n``), never buffered past ``limit`` characters a record.

    A text wrapper would hold a whole line however long it is, and csv.reader cannot take a line in
    parts: this keeps memory bounded even for a file that has no line break at all. Each chunk of text
    is split into lines at once and csv.reader numbers them, so a line costs little.
    """

    def __init__(self, chunks: Iterator[str], limit: int) -> None:
        self.limit = limit
        self.skipped = 0  # physical lines dropped as too long, which csv.reader has not counted
        self.exhausted = False  # a line was asked for after the last one
        self.not_utf8 = False  # the current record holds bytes that are not UTF-8
        self._chunks = chunks
        self._ready: Iterator[str] = iter(())  # complete lines read ahead
        self._rest = ""  # the start of a line whose end is not read yet
        self._taken = 0  # characters handed out for the current record
        self._skipping = False  # dropping the rest of a line too long to hold

    def start_record(self) -> None:
        self._taken = 0
        self.not_utf8 = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._ready, None)
        if line is None:
            if not self._read_ahead():
                self.exhausted = True
                raise StopIteration
            line = next(self._ready)
        self._taken += len(line)
        if self._taken > self.limit:
            self.skipped += 1
            raise _TooLong
        if _NOT_UTF8.search(line):
            self.not_utf8 = True
        return line

    def _read_ahead(self) -> bool:
        """Read ahead the next complete lines into ``_ready``; False once the text is over."""
        lines: list[str] = []
        while not lines:
            self._refuse_overlong()
            chunk = next(self._chunks, None)
            if chunk is None:
                lines = self._last_line()
                if not lines:
                    return False
            else:
                lines = self._complete_lines(self._rest + chunk)
        self._ready = iter(lines)
        return True

    def _refuse_overlong(self) -> None:
        """Raise ``_TooLong`` once the record with its unfinished line is over the limit, and drop the
        rest of that line as it comes."""
        if self._taken + len(self._rest) > self.limit:
            self.skipped += 1
            self._rest, self._skipping = "", True
            raise _TooLong

    def _last_line(self) -> list[str]:
        """The line the text ends with when no line break ends it (none if it is being dropped)."""
        if self._skipping or not self._rest:
            return []
        lines, self._rest = [self._rest], ""
        return lines

    def _complete_lines(self, text: str) -> list[str]:
        """The complete lines of ``text`` (past the end of a line being dropped); the unfinished one
        is kept in ``_rest``."""
        if self._skipping:
            after = self._past_dropped_line(text)
            if after is None:
                return []
            text = after
        # Lines are split off up to the last line end only: a search through the unfinished line's
        # every position would cost its length squared. A "\r" ending the text so far may be the
        # first half of a "\r\n", so it does not end a line yet.
        end = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1
        lines, self._rest = _LINE.findall(text, 0, end), text[end:]
        return lines

    def _past_dropped_line(self, text: str) -> str | None:
        """The text after the end of the line being dropped, or None while its end is not read yet."""
        found = _LINE_END.search(text)
        if found is None or (found.end() == len(text) and text.endswith("\r")):
            self._rest = text[-1:] if found else ""
            return None
        self._skipping = False
        return text[found.end() :]
