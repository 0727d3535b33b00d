"""The few kinds of code the simulator writes for real: each a working script and a pytest
file that tests it. The first attempt has one realistic bug that its own tests catch (the
CEO's check fails, the retry fixes it), so a run shows the verification loop working on a
deliverable that is really tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CodeKind:
    name: str
    pattern: re.Pattern[str]
    module: str  # e.g. convert.py
    summary: str  # what the script does, for tasks and reports
    bug: str  # what attempt 1 gets wrong, in the agent's words once found
    head: str
    draft_body: str  # attempt 1: has the bug
    fixed_body: str  # after the retry (an edit_file of draft_body)
    tail: str
    tests: str
    faq: str = ""  # a real answer for a usage guide's FAQ

    @property
    def draft(self) -> str:
        return self.head + self.draft_body + self.tail

    @property
    def fixed(self) -> str:
        return self.head + self.fixed_body + self.tail

    @property
    def test_file(self) -> str:
        return "test_" + self.module

    @property
    def stem(self) -> str:
        return self.module.removesuffix(".py")


_CSV_HEAD = '''\
"""Convert a CSV file to JSON: a list with one object per row, keyed by the header.

Usage: python convert.py INPUT.csv [OUTPUT.json]   (prints the JSON without OUTPUT)
"""

import csv
import io
import json
import sys


def convert(text: str) -> list[dict[str, str]]:
    """The rows of CSV `text` as dicts keyed by its header row."""
'''
_CSV_DRAFT_BODY = """\
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","), strict=False)) for line in lines[1:]]
"""
_CSV_FIXED_BODY = """\
    return [dict(row) for row in csv.DictReader(io.StringIO(text))]
"""
_CSV_TAIL = """

def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: convert.py INPUT.csv [OUTPUT.json]", file=sys.stderr)
        return 2
    with open(argv[0], newline="", encoding="utf-8") as f:
        rows = convert(f.read())
    out = json.dumps(rows, indent=2, ensure_ascii=False)
    if len(argv) == 2:
        with open(argv[1], "w", encoding="utf-8") as f:
            f.write(out + "\\n")
    else:
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""
_CSV_TESTS = '''\
"""Tests for convert.py: run with `python -m pytest -q`."""

import json

from convert import convert, main


def test_rows_become_objects_keyed_by_the_header() -> None:
    rows = convert("name,qty\\napple,3\\npear,5\\n")
    assert rows == [{"name": "apple", "qty": "3"}, {"name": "pear", "qty": "5"}]


def test_quoted_fields_keep_their_commas() -> None:
    rows = convert('name,city\\n"Smith, Jr.","Austin, TX"\\n')
    assert rows == [{"name": "Smith, Jr.", "city": "Austin, TX"}]


def test_empty_input_is_an_empty_list() -> None:
    assert convert("") == []


def test_main_prints_json(tmp_path, capsys) -> None:
    src = tmp_path / "in.csv"
    src.write_text("a,b\\n1,2\\n", encoding="utf-8")
    assert main([str(src)]) == 0
    assert json.loads(capsys.readouterr().out) == [{"a": "1", "b": "2"}]
'''

_J2C_HEAD = '''\
"""Convert a JSON list of objects to CSV, one row per object, one column per key.

Usage: python json_to_csv.py INPUT.json [OUTPUT.csv]   (prints the CSV without OUTPUT)
"""

import csv
import io
import json
import sys


def to_csv(rows: list[dict[str, object]]) -> str:
    """CSV text for `rows`; the header is every key, in the order first seen."""
'''
_J2C_DRAFT_BODY = """\
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
"""
_J2C_FIXED_BODY = """\
    if not rows:
        return ""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, restval="", lineterminator="\\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
"""
_J2C_TAIL = """

def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: json_to_csv.py INPUT.json [OUTPUT.csv]", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        text = to_csv(json.load(f))
    if len(argv) == 2:
        with open(argv[1], "w", newline="", encoding="utf-8") as f:
            f.write(text)
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""
_J2C_TESTS = '''\
"""Tests for json_to_csv.py: run with `python -m pytest -q`."""

from json_to_csv import to_csv


def test_objects_become_rows() -> None:
    assert to_csv([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]) == "a,b\\n1,x\\n2,y\\n"


def test_keys_missing_from_the_first_row_still_get_a_column() -> None:
    assert to_csv([{"a": 1}, {"a": 2, "b": "late"}]) == "a,b\\n1,\\n2,late\\n"


def test_empty_list_is_empty_text() -> None:
    assert to_csv([]) == ""
'''

_WC_HEAD = '''\
"""Count the lines, words and characters of text files, like `wc`.

Usage: python wordcount.py FILE...
"""

import sys
from pathlib import Path


def counts(text: str) -> tuple[int, int, int]:
    """(lines, words, characters) of `text`."""
'''
_WC_DRAFT_BODY = """\
    words = sum(len(line.split(" ")) for line in text.splitlines())
    return len(text.splitlines()), words, len(text)
"""
_WC_FIXED_BODY = """\
    return len(text.splitlines()), len(text.split()), len(text)
"""
_WC_TAIL = """

def main(argv: list[str]) -> int:
    if not argv:
        print("usage: wordcount.py FILE...", file=sys.stderr)
        return 2
    for name in argv:
        lines, words, chars = counts(Path(name).read_text(encoding="utf-8", errors="replace"))
        print(f"{lines:8} {words:8} {chars:8} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""
_WC_TESTS = '''\
"""Tests for wordcount.py: run with `python -m pytest -q`."""

from wordcount import counts, main


def test_counts_lines_words_and_characters() -> None:
    assert counts("one two\\nthree\\n") == (2, 3, 14)


def test_runs_of_spaces_and_blank_lines_are_not_words() -> None:
    assert counts("one   two\\n\\n  three  \\n") == (3, 3, 21)


def test_main_prints_one_line_per_file(tmp_path, capsys) -> None:
    f = tmp_path / "a.txt"
    f.write_text("hi there\\n", encoding="utf-8")
    assert main([str(f)]) == 0
    assert capsys.readouterr().out.split()[:3] == ["1", "2", "9"]
'''

CODE_KINDS: tuple[CodeKind, ...] = (
    CodeKind(
        "csv-to-json",
        re.compile(r"\bcsv\b.*\bjson\b", re.I | re.S),
        "convert.py",
        "converts a CSV file to JSON (a list of objects keyed by the header row)",
        'it split each line on every comma, so a quoted field such as "Smith, Jr." was '
        "broken in two; it now reads the file with csv.DictReader",
        _CSV_HEAD,
        _CSV_DRAFT_BODY,
        _CSV_FIXED_BODY,
        _CSV_TAIL,
        _CSV_TESTS,
        "**Q: Does it handle quoted fields with commas?**\n"
        'A: Yes: it reads the file with csv.DictReader, so "Smith, Jr." stays one field.\n\n'
        "**Q: Are numbers converted?**\n"
        "A: No: every value stays a string, exactly as written in the CSV.\n",
    ),
    CodeKind(
        "json-to-csv",
        re.compile(r"\bjson\b.*\bcsv\b", re.I | re.S),
        "json_to_csv.py",
        "converts a JSON list of objects to CSV (one column per key)",
        "it took the columns from the first object only, so a key that first appears later "
        "raised ValueError; the header is now every key in the order first seen",
        _J2C_HEAD,
        _J2C_DRAFT_BODY,
        _J2C_FIXED_BODY,
        _J2C_TAIL,
        _J2C_TESTS,
    ),
    CodeKind(
        "word-count",
        re.compile(r"\bword[- ]?counts?\b|\bcounts?\b.{0,30}\bwords\b|\bwc\b", re.I | re.S),
        "wordcount.py",
        "prints the line, word and character counts of the files given, like wc",
        "it split on single spaces, so runs of spaces and blank lines counted as words; it "
        "now uses str.split()",
        _WC_HEAD,
        _WC_DRAFT_BODY,
        _WC_FIXED_BODY,
        _WC_TAIL,
        _WC_TESTS,
    ),
)


def code_kind_for(text: str) -> CodeKind | None:
    for kind in CODE_KINDS:
        if kind.pattern.search(text):
            return kind
    return None


def code_kind_named(module: str) -> CodeKind | None:
    return next((k for k in CODE_KINDS if k.module == module), None)
