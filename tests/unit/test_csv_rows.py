"""The streaming CSV reader of bulk imports: header names, records, row numbers, broken input, memory."""

from __future__ import annotations

import csv
import io
import itertools
import re
import tracemalloc

import pytest

from hub.domain.csv_rows import MAX_RECORD_CHARS, CsvError, CsvHeader, CsvRow, column_name, read_csv


def read(data: bytes) -> tuple[CsvHeader, list[CsvRow]]:
    header, rows = read_csv(io.BytesIO(data))
    return header, list(rows)


class Generated(io.RawIOBase):
    """A CSV body made up while it is read: a header, then one block of rows over and over.

    Only the block is ever in memory, never the file, so whatever else memory holds is the reader's.
    """

    def __init__(self, header: bytes, block: bytes, repeats: int) -> None:
        self._parts = itertools.chain([header], itertools.repeat(block, repeats))
        self._part = memoryview(b"")
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._part:
            self._part = memoryview(next(self._parts, b""))
        count = min(len(buffer), len(self._part))
        buffer[:count] = self._part[:count]
        self._part = self._part[count:]
        self.size += count
        return count


class Trickle(io.RawIOBase):
    """A body that hands out one byte per read, as a slow network might."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        byte = self._data.read(1)
        buffer[: len(byte)] = byte
        return len(byte)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("first_name", "firstName"),
        ("First Name", "firstName"),
        ("first-name", "firstName"),
        ("FIRST_NAME", "firstName"),
        ("firstName", "firstName"),
        ("email", "email"),
        ("EMAIL", "email"),
        (" Email ", "email"),
        ("reward_id", "rewardId"),
        ("IP Address", "ipAddress"),
        ("user  _ id", "userId"),
        ("   ", ""),
    ],
)
def test_column_names_are_the_hubs_camel_case_whatever_the_separators(raw: str, name: str):
    # Given a header cell as users write it
    # When it is normalized
    # Then it is the hub's field name
    assert column_name(raw) == name


def test_the_header_names_every_column_normalized_unknown_ones_included():
    # Given a header mixing the hub's fields, other spellings and a column the hub does not know
    data = b"Email, First Name ,last_name,Favourite Colour\nada@example.com,Ada,Lovelace,green\n"
    # When it is read
    header, rows = read(data)
    # Then every column is kept, in file order, normalized, with the names as written beside them
    assert header.columns == ["email", "firstName", "lastName", "favouriteColour"]
    assert header.names == ["Email", "First Name", "last_name", "Favourite Colour"]
    assert rows == [
        CsvRow(2, {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "favouriteColour": "green"})
    ]


def test_values_are_stripped_and_empty_ones_left_out():
    # Given a record with padded values and empty cells
    data = b"email,firstName,lastName,userId\n  ada@example.com , ,Lovelace,\n"
    # When it is read
    _, rows = read(data)
    # Then values are stripped and only the non-empty ones are there
    assert rows == [CsvRow(2, {"email": "ada@example.com", "lastName": "Lovelace"})]


def test_a_quoted_field_keeps_its_commas():
    # Given a quoted value holding commas, once right after the comma and once after a space
    data = b'email,lastName,firstName\nada@example.com,"Lovelace, Countess of",  "Ada, Augusta"\n'
    # When it is read
    _, rows = read(data)
    # Then each quoted value is one value
    assert rows[0].values == {
        "email": "ada@example.com",
        "lastName": "Lovelace, Countess of",
        "firstName": "Ada, Augusta",
    }


def test_doubled_quotes_in_a_quoted_field_are_one_quote():
    # Given a quoted value with escaped quotes
    data = b'email,firstName\nada@example.com,"Ada ""the Enchantress"""\n'
    # When it is read
    _, rows = read(data)
    # Then the value holds plain quotes
    assert rows[0].values["firstName"] == 'Ada "the Enchantress"'


def test_a_line_break_inside_quotes_stays_in_the_value_and_rows_are_the_lines_records_start_on():
    # Given a record whose quoted value spans three lines, between two ordinary records
    data = b'email,reason\na@example.com,one\nb@example.com,"two\nlines\nmore"\nc@example.com,three\n'
    # When it is read
    _, rows = read(data)
    # Then the value keeps its line breaks and the rows are the lines where each record starts
    assert [row.row for row in rows] == [2, 3, 6]
    assert rows[1].values["reason"] == "two\nlines\nmore"


def test_a_utf8_bom_is_not_part_of_the_first_column_name():
    # Given a file saved by a spreadsheet with a BOM
    data = "\ufeffemail,firstName\nzoë@example.com,Zoë\n".encode()
    # When it is read
    header, rows = read(data)
    # Then the first column is plain "email" and non-ASCII text is read as such
    assert header.columns == ["email", "firstName"]
    assert rows[0].values == {"email": "zoë@example.com", "firstName": "Zoë"}


def test_blank_lines_in_the_middle_are_skipped_and_the_row_numbers_still_count_them():
    # Given blank lines, a whitespace-only line and a line of empty cells between records
    data = b"email,firstName\na@example.com,A\n\n   \n , ,\nb@example.com,B\n"
    # When it is read
    _, rows = read(data)
    # Then only the two records come out, each with the line it is on
    assert [(row.row, row.values["email"]) for row in rows] == [(2, "a@example.com"), (6, "b@example.com")]


def test_trailing_blank_lines_make_no_rows():
    # Given a file ending in blank lines
    data = b"email\r\na@example.com\r\n\r\n\r\n\n"
    # When it is read
    _, rows = read(data)
    # Then there is just the one record
    assert rows == [CsvRow(2, {"email": "a@example.com"})]


def test_a_record_with_more_values_than_columns_is_reported_and_the_others_are_read():
    # Given a record with a stray extra value between two good ones
    data = b"email,firstName\na@example.com,A\nb@example.com,B,extra\nc@example.com,C\n"
    # When it is read
    _, rows = read(data)
    # Then that record has an error saying so, and the records around it are fine
    assert rows == [
        CsvRow(2, {"email": "a@example.com", "firstName": "A"}),
        CsvRow(3, {}, "has 3 values for 2 columns"),
        CsvRow(4, {"email": "c@example.com", "firstName": "C"}),
    ]


def test_a_record_with_fewer_values_or_trailing_empty_cells_is_fine():
    # Given a short record and one with empty cells past the last column
    data = b"email,firstName,lastName\na@example.com\nb@example.com,B,,,\n"
    # When it is read
    _, rows = read(data)
    # Then both are read without error
    assert rows == [CsvRow(2, {"email": "a@example.com"}), CsvRow(3, {"email": "b@example.com", "firstName": "B"})]


def test_a_quote_never_closed_at_the_end_of_the_file_is_that_records_error_and_the_end():
    # Given a last record whose quoted value is never closed
    data = b'email,firstName\na@example.com,A\nb@example.com,"B\nc@example.com,C\n'
    # When it is read
    _, rows = read(data)
    # Then the records before it are fine and it is reported where it starts, and nothing follows
    assert rows[0] == CsvRow(2, {"email": "a@example.com", "firstName": "A"})
    assert rows[1].row == 3
    assert rows[1].values == {}
    assert "unexpected end of data" in (rows[1].error or "")
    assert len(rows) == 2


def test_invalid_utf8_spoils_only_its_own_record():
    # Given a record holding Latin-1 bytes among UTF-8 records
    data = b"email,firstName\na@example.com,Zo\xc3\xab\nb@example.com,Zo\xeb\nc@example.com,C\n"
    # When it is read
    _, rows = read(data)
    # Then that record says it is not UTF-8 and the others are read
    assert rows == [
        CsvRow(2, {"email": "a@example.com", "firstName": "Zoë"}),
        CsvRow(3, {}, "is not valid UTF-8"),
        CsvRow(4, {"email": "c@example.com", "firstName": "C"}),
    ]


def test_a_replacement_character_written_in_the_file_is_valid_text():
    # Given a file that itself holds U+FFFD, encoded as valid UTF-8
    data = "email,firstName\na@example.com,\ufffd\n".encode()
    # When it is read
    _, rows = read(data)
    # Then it is an ordinary value, not taken for a decoding error
    assert rows == [CsvRow(2, {"email": "a@example.com", "firstName": "\ufffd"})]


def test_crlf_line_endings_leave_no_carriage_returns_and_count_one_line_each():
    # Given a file with Windows line endings, one of them inside a quoted value
    data = b'email,reason\r\na@example.com,"x\r\ny"\r\nb@example.com,z\r\n'
    # When it is read
    header, rows = read(data)
    # Then names and values carry no stray "\r" and rows count each "\r\n" once
    assert header.columns == ["email", "reason"]
    assert rows == [
        CsvRow(2, {"email": "a@example.com", "reason": "x\r\ny"}),
        CsvRow(4, {"email": "b@example.com", "reason": "z"}),
    ]


def test_a_multibyte_character_split_across_reads_is_decoded_whole():
    # Given a body that arrives one byte per read, with a BOM, CRLF and two-byte characters
    data = "\ufeffemail,firstName\r\nzoë@example.com,Zoë\r\n".encode()
    # When it is read
    header, rows = read_csv(Trickle(data))
    # Then it reads exactly as if it came in one piece
    assert header.columns == ["email", "firstName"]
    assert list(rows) == [CsvRow(2, {"email": "zoë@example.com", "firstName": "Zoë"})]


def test_a_header_only_file_has_no_rows():
    # Given a file with a header and nothing else
    data = b"email,firstName\n"
    # When it is read
    header, rows = read(data)
    # Then the columns are known and there are no rows
    assert header.columns == ["email", "firstName"]
    assert rows == []


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\r\n  \n"], ids=["empty", "bom-only", "blank-lines"])
def test_a_file_without_a_header_is_refused(data: bytes):
    # Given a file with no header line
    # When it is read
    # Then it is refused as a whole, with a message saying what is expected
    with pytest.raises(CsvError, match="empty"):
        read_csv(io.BytesIO(data))


def test_the_csv_error_is_a_value_error_and_a_validation_error():
    # Given an empty file
    # When it is read
    with pytest.raises(CsvError) as raised:
        read_csv(io.BytesIO(b""))
    # Then callers may catch it as a ValueError, and the API answers it as a VALIDATION_ERROR
    assert isinstance(raised.value, ValueError)
    assert raised.value.code == "VALIDATION_ERROR"


def test_columns_that_normalize_to_the_same_name_are_refused_by_name():
    # Given a header naming the email twice in two spellings
    data = b"email,First Name,EMAIL\n"
    # When it is read
    # Then the file is refused, naming the column and both spellings
    with pytest.raises(CsvError, match=r"email \('email', 'EMAIL'\)"):
        read_csv(io.BytesIO(data))


def test_a_blank_header_cell_is_refused_with_its_position():
    # Given a header whose third cell is empty
    data = b"email,firstName, ,lastName\n"
    # When it is read
    # Then the file is refused, naming the column's position
    with pytest.raises(CsvError, match="no name for column 3"):
        read_csv(io.BytesIO(data))


def test_a_header_that_is_not_utf8_is_refused():
    # Given a header in Latin-1
    data = b"email,pr\xe9nom\n"
    # When it is read
    # Then the file is refused
    with pytest.raises(CsvError, match="not valid UTF-8"):
        read_csv(io.BytesIO(data))


def test_a_field_over_the_csv_field_limit_is_that_records_error():
    # Given a record with one field larger than csv's field limit
    big = b"x" * (csv.field_size_limit() + 1)
    data = b"email,note\na@example.com," + big + b"\nb@example.com,ok\n"
    # When it is read
    _, rows = read(data)
    # Then that record is reported and the next one is read
    assert rows[0].row == 2
    assert "field larger than field limit" in (rows[0].error or "")
    assert rows[1] == CsvRow(3, {"email": "b@example.com", "note": "ok"})


def test_a_stray_quote_that_swallows_past_the_field_limit_names_the_lines_and_reading_goes_on():
    # Given a stray opening quote whose field runs over many lines past csv's field limit
    swallowed = b"x@example.com,X\n" * (csv.field_size_limit() // 16 + 1)
    data = b'email,firstName\na@example.com,"A\n' + swallowed + b"b@example.com,B\n"
    # When it is read
    _, rows = read(data)
    # Then one error names the lines it ran over, the next line starts a new record, and the rest is read
    spanned = re.fullmatch(
        r"is not valid CSV: field larger than field limit \(\d+\) \(lines 2 to (\d+)\)", rows[0].error or ""
    )
    assert spanned, rows[0].error
    assert rows[0].row == 2
    assert rows[1].row == int(spanned[1]) + 1
    assert rows[-1].values == {"email": "b@example.com", "firstName": "B"}


def test_a_line_longer_than_the_record_limit_is_skipped_without_being_held():
    # Given a record far longer than the limit, made of many small fields, before a good one
    long_line = b"a@example.com" + b",x" * MAX_RECORD_CHARS
    data = b"email\n" + long_line + b"\nb@example.com\n"
    # When it is read
    _, rows = read(data)
    # Then it is reported as too long and reading goes on at the next line
    assert rows == [
        CsvRow(2, {}, f"is longer than {MAX_RECORD_CHARS} characters"),
        CsvRow(3, {"email": "b@example.com"}),
    ]


def test_reading_a_large_file_needs_no_more_memory_than_a_small_one():
    # Given a 200,000-row file of about 9 MB, made up while it is read, and 1 MB of memory allowed
    block = b"".join(b"user%d@example.com,First%d,Last%d,reward-%d\n" % (n, n, n, n % 7) for n in range(1000))
    body = Generated(b"email,first_name,last_name,reward_id\n", block, repeats=200)
    allowed = 1024 * 1024
    # When every row is read, keeping only the last
    tracemalloc.start()
    try:
        header, rows = read_csv(body)
        count, last = 0, None
        for last in rows:  # noqa: B007
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then all rows came through, numbered to the end, and the peak stayed far below the file's size
    assert header.columns == ["email", "firstName", "lastName", "rewardId"]
    assert count == 200_000
    expected = {"email": "user999@example.com", "firstName": "First999", "lastName": "Last999", "rewardId": "reward-5"}
    assert last == CsvRow(200_001, expected)
    assert body.size > 8 * allowed
    assert peak < allowed, f"peak traced memory {peak} bytes"
