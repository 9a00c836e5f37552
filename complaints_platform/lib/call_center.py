"""Call-centre CSV exports: find a window's files, decode them, and parse them into bronze rows.

The exports come from a system we do not control, so the parser expects mess: a byte-order mark,
UTF-16 from Excel, Windows-1252 names, notes that span lines, blank lines, rows with too many or
too few fields, headers that a deployment renames (``COMPLAINTS_CALL_CENTER_COLUMN_MAP``). No
record is dropped: one that cannot be read becomes a bronze row with ``parse_error`` set. An export
with no header at all (zero bytes, only a BOM or blank lines) is one such row naming the file: even
a half-day without calls exports its header, so this is a broken export, not an empty one. A
header and no records is a half-day without calls: no rows.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from complaints_platform.lib.bronze import PY_WHITESPACE, bronze_select, joined_errors, to_bronze
from complaints_platform.lib.lake import window_start
from complaints_platform.lib.settings import Settings

CHANNEL = "call_center"
DEFAULT_FILENAME_PATTERN = Settings.call_center_filename_pattern
FILENAME_TS_FORMAT = "%Y%m%dT%H%M"

COLUMNS = (
    "call_id",
    "call_started_at",
    "agent_id",
    "account_number",
    "caller_name",
    "caller_phone",
    "notes",
    "status",
    "resolved_at",
    "wait_seconds",
    "handle_seconds",
)
REQUIRED_COLUMNS = ("call_id", "call_started_at", "notes")
INTEGER_COLUMNS = ("wait_seconds", "handle_seconds")
ROWS_PER_FRAME = 50_000

_INT32_MAX = 2**31 - 1
_WHOLE_NUMBER = re.compile(r"[+-]?\d+")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_BOMS = (  # (mark, codec for the bytes after it, name reported)
    (b"\xef\xbb\xbf", "utf-8", "utf-8-sig"),
    (b"\xff\xfe", "utf-16-le", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be", "utf-16-be"),
)


def decode_export(data: bytes) -> tuple[str, str]:
    """Decode an export's bytes; return the text (without BOM) and the encoding used.

    A BOM decides (UTF-8 or UTF-16 LE/BE); else the bytes are UTF-8 if they decode as UTF-8, else
    Windows-1252. The five bytes Windows-1252 leaves undefined are read as Latin-1 (encoding
    reported as ``cp1252+latin-1``), so decoding never fails and never loses a byte.
    """
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            # The BOM is the exporter's declaration: trust it, and keep going past a bad byte.
            return data[len(bom) :].decode(codec, errors="replace"), name
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    parts: list[str] = []
    position, fell_back = 0, False
    while True:
        try:
            parts.append(data[position:].decode("cp1252"))
            break
        except UnicodeDecodeError as error:
            bad = position + error.start
            parts.append(data[position:bad].decode("cp1252"))
            parts.append(data[bad : bad + 1].decode("latin-1"))
            position, fell_back = bad + 1, True
    return "".join(parts), "cp1252+latin-1" if fell_back else "cp1252"


def text_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their endings (\\r\\n, \\r or \\n), one at a time: what
    ``io.StringIO(text, newline="")`` yields, without its copy of the text at four bytes a character."""
    return (match.group(0) for match in _LINE.finditer(text))


def export_timestamp(path: Path, pattern: str = DEFAULT_FILENAME_PATTERN) -> datetime:
    """When an export was taken (UTC): the ``ts`` group of its file name, else its mtime."""
    match = re.search(pattern, path.name)
    stamp = match.groupdict().get("ts") if match else None
    if stamp:
        try:
            return datetime.strptime(stamp, FILENAME_TS_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            pass  # a name like calls_20261399T9999.csv: place it by mtime, as if unnamed
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def is_export_file(path: Path) -> bool:
    """A finished CSV export: not hidden, not an editor/lock/temporary file."""
    name = path.name
    return (
        path.is_file()
        and not name.startswith((".", "~"))
        and path.suffix.lower() == ".csv"
    )


def files_for_window(
    drop_dir: Path,
    window_start: datetime,
    window_end: datetime,
    pattern: str = DEFAULT_FILENAME_PATTERN,
) -> list[Path]:
    """The exports in ``drop_dir`` whose timestamp is in [window_start, window_end), oldest first.

    Naive window bounds are taken as UTC.
    """
    if not drop_dir.is_dir():
        return []
    start, end = _as_utc(window_start), _as_utc(window_end)
    found = []
    for path in drop_dir.iterdir():
        if not is_export_file(path):
            continue
        try:
            stamp = export_timestamp(path, pattern)
        except FileNotFoundError:
            continue  # moved away (archived, or renamed into place) while we listed the folder
        if start <= stamp < end:
            found.append((stamp, path.name, path))
    return [path for _, _, path in sorted(found)]


def new_exports(drop_dir: Path, after_mtime_ns: int, pattern: str = DEFAULT_FILENAME_PATTERN) -> list[tuple[Path, int, datetime]]:
    """Export files modified after ``after_mtime_ns``: (path, mtime_ns, export timestamp)."""
    if not drop_dir.exists():
        return []
    found = []
    for path in drop_dir.iterdir():
        if not is_export_file(path):
            continue
        mtime = path.stat().st_mtime_ns
        if mtime > after_mtime_ns:
            found.append((path, mtime, export_timestamp(path, pattern)))
    return sorted(found, key=lambda item: item[1])


EXPORT_WINDOW = timedelta(hours=12)


def export_received_at(stamp: datetime) -> datetime:
    """When an export's records count as received: the close of the 12-hour window it covers.

    An export named by its window's start is complete only when the window closes; its last
    microsecond keeps every record in its own partition and after every call it lists.
    """
    start = window_start(stamp, int(EXPORT_WINDOW.total_seconds() // 60))
    return start + EXPORT_WINDOW - timedelta(microseconds=1)


def parse_call_center_csv(
    path: Path,
    column_map: dict[str, str],
    timezone: str,
    location_root: Path | None = None,
    pattern: str = DEFAULT_FILENAME_PATTERN,
) -> pl.DataFrame:
    """Parse one export into bronze rows for channel ``call_center``: one row per CSV record.

    ``source_location`` is the file's path relative to ``location_root`` (its name when no root is
    given) and the line the record starts on. Values are stripped of surrounding whitespace and
    empty ones become null, except ``notes``, which is kept as typed.
    """
    data = path.read_bytes()
    size = len(data)
    text, _encoding = decode_export(data)
    del data
    # The whole file is in memory already, so csv's field limit (128 KiB) protects nothing; a
    # longer note must be read as one record (then quarantined as too long), not split into junk.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    relative = _relative_name(path, location_root)
    received_at = export_received_at(export_timestamp(path, pattern))
    lines = list(text_lines(text))
    del text  # the lines hold it (joined, they are the text again)
    reader = csv.reader(iter(lines))
    common = {
        "received_at": received_at,
        "event_time_zone": timezone,
        "export_file": path.name,
    }

    def located(line: int) -> dict:
        return {
            **common,
            "record_id": f"{path.name}:{line}",
            "source_location": f"{relative}:{line}",
        }

    def physical_text(first: int, last: int) -> str:
        return "".join(lines[first - 1 : last]).rstrip("\r\n")

    # Rows become a bronze frame every ROWS_PER_FRAME: an export's rows as dicts would take several
    # times the file's size (a 12-hour export at 10M complaints a day is up to 1.3M rows). Records
    # of the header's width wait in ``ordinary`` and become rows column by column
    # (``_ordinary_frame``); any other record is a row dict in ``rows``, with its first line in
    # ``row_lines``; the two are put back in file order when they become a frame.
    frames: list[pl.DataFrame] = []
    rows: list[dict] = []
    row_lines: list[int] = []
    ordinary: list[tuple[int, list[str]]] = []  # (first line, fields)
    header: dict[str, int] | None = None
    header_width = 0
    header_problem: str | None = None  # every record of a file whose header is unusable says why
    header_row: dict | None = None
    last_line = 0

    def record_row(first: int, record: list[str], unterminated: bool = False) -> dict:
        """The bronze row of a record of the header's width."""
        errors = ["unterminated quoted field at end of file"] if unterminated else []
        values = {name: _cell(record[index], name) for name, index in header.items()}
        counts: dict[str, int | None] = {}
        for name in INTEGER_COLUMNS:
            counts[name], error = _whole_seconds(values.get(name), name)
            if error:
                errors.append(error)
        row = located(first)
        if values.get("call_id"):
            row["record_id"] = values["call_id"]
        else:
            # file:line names the record for a person, but is no id: a re-export would count it twice.
            errors.insert(0, "call_id is empty")
        return {
            **row,
            "raw": _serialise(record),
            "parse_error": "; ".join(errors) or None,
            **{target: values.get(name) for name, target in _VALUE_COLUMNS.items()},
            **counts,
        }

    def flush() -> None:
        nonlocal rows, row_lines, ordinary
        parts = []
        if ordinary:
            frame = _ordinary_frame(ordinary, header, common, relative)
            if frame is None:  # a value only the row-by-row rules read exactly
                frame = to_bronze(CHANNEL, [record_row(first, record) for first, record in ordinary])
            parts.append(frame.with_columns(pl.Series("__line", [first for first, _ in ordinary], dtype=pl.Int64)))
        if rows:
            parts.append(to_bronze(CHANNEL, rows).with_columns(pl.Series("__line", row_lines, dtype=pl.Int64)))
        if parts:
            frame = parts[0] if len(parts) == 1 else pl.concat(parts).sort("__line")
            frames.append(frame.drop("__line"))
        rows, row_lines, ordinary = [], [], []

    def add_row(first: int, row: dict) -> None:
        rows.append(row)
        row_lines.append(first)
        if len(rows) + len(ordinary) >= ROWS_PER_FRAME:
            flush()

    while True:
        first = last_line + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            add_row(
                first,
                {
                    **located(first),
                    "raw": physical_text(first, reader.line_num),
                    "parse_error": f"unreadable CSV record: {error}",
                }
            )
            last_line = reader.line_num
            continue
        last_line = reader.line_num
        if not any(map(str.strip, record)):
            continue  # blank line (or a row of empty cells)
        if header is None:
            header, header_width = _read_header(record, column_map), len(record)
            missing = [name for name in REQUIRED_COLUMNS if name not in header]
            if missing:
                header_problem = "header is missing required columns: " + ", ".join(missing)
                header_row = {**located(first), "raw": physical_text(first, last_line), "parse_error": header_problem}
            continue
        if header_problem:
            add_row(first, {**located(first), "raw": physical_text(first, last_line), "parse_error": header_problem})
            continue
        if len(record) != header_width:
            add_row(
                first,
                {
                    **located(first),
                    "raw": physical_text(first, last_line),
                    "parse_error": f"expected {header_width} fields, found {len(record)}",
                }
            )
            continue
        if last_line == len(lines):  # the last record: is a quote left open?
            add_row(first, record_row(first, record, physical_text(first, last_line).count('"') % 2 == 1))
            continue
        ordinary.append((first, record))
        if len(rows) + len(ordinary) >= ROWS_PER_FRAME:
            flush()
    flush()
    if header_row is not None and not frames:
        frames.append(to_bronze(CHANNEL, [header_row]))  # no records, but the broken export must still be seen
    if header is None and not frames:
        problem = (
            f"export has no header row: {size} bytes of blank lines or a byte-order mark only"
            if size
            else "export is empty (0 bytes): no header row"
        )
        frames.append(to_bronze(CHANNEL, [{**located(1), "raw": "".join(lines), "parse_error": problem}]))
    if not frames:
        return to_bronze(CHANNEL, [])
    return pl.concat(frames)


# ``_WHOLE_NUMBER`` for polars, in ASCII digits only: a duration in another script's digits
# (which Python's \d and int() take) sends its batch to the row rules instead.
_ASCII_WHOLE_NUMBER = r"^[+-]?[0-9]+$"
_MAX_DIGITS = 18  # a longer number (sign included) may be out of Int64's range: read row by row


def _ordinary_frame(
    records: list[tuple[int, list[str]]], header: dict[str, int], common: dict, relative: str
) -> pl.DataFrame | None:
    """Bronze rows of records of the header's width, column by column: the rows ``record_row``
    gives them, without a Python call per record. None when a value is one the row-by-row rules
    must read (a duration in other than ASCII digits or too long for Int64, a lone surrogate, a
    one-column export, whose one empty field csv writes as '""')."""
    try:
        fields = [pl.Series(f"__f{i}", column, dtype=pl.String) for i, column in enumerate(zip(*(r for _, r in records)))]
    except UnicodeEncodeError:
        return None
    if len(fields) < 2:
        return None
    frame = pl.DataFrame([pl.Series("__line", [first for first, _ in records], dtype=pl.Int64), *fields])
    stripped = {name: pl.col(f"__f{index}").str.strip_chars(PY_WHITESPACE) for name, index in header.items()}
    values = {
        name: pl.when(value == "").then(None).otherwise(pl.col(f"__f{header[name]}") if name == "notes" else value)
        for name, value in stripped.items()
    }
    durations = {name: values[name] for name in INTEGER_COLUMNS if name in values}
    if durations:
        odd = frame.select(
            pl.any_horizontal(
                (
                    value.str.contains(r"[^\x00-\x7f]")  # Python's \d and int() take any script's digits
                    | (value.str.contains(_ASCII_WHOLE_NUMBER) & (value.str.len_chars() > _MAX_DIGITS))
                ).any()
                for value in durations.values()
            )
        ).item()
        if odd:
            return None
        frame = frame.with_columns(value.alias(f"__{name}") for name, value in durations.items())
        given = pl.concat([frame.get_column(f"__{name}") for name in durations])
        invalid = given.filter(~given.str.contains(_ASCII_WHOLE_NUMBER)).unique()
        shown = {value: repr(value) for value in invalid.to_list()}  # quoted as the row rules quote it
    counts, errors = {}, []
    for name in durations:
        value = pl.col(f"__{name}")
        number = value.cast(pl.Int64, strict=False)
        whole = value.str.contains(_ASCII_WHOLE_NUMBER)
        quoted = pl.lit("'") + value + pl.lit("'")
        errors.append(
            pl.when(value.is_null())
            .then(None)
            .when(~whole)
            .then(pl.lit(f"{name} is not a whole number of seconds: ") + value.replace_strict(shown, default=None, return_dtype=pl.String))
            .when(number < 0)
            .then(pl.lit(f"{name} is negative: ") + quoted)
            .when(number > _INT32_MAX)
            .then(pl.lit(f"{name} is out of range: ") + quoted)
        )
        counts[name] = pl.when(whole & number.is_between(0, _INT32_MAX)).then(number)
    call_id = values.get("call_id", pl.lit(None, dtype=pl.String))
    position = pl.col("__line").cast(pl.String)
    quoted_fields = [
        pl.when(field.str.contains('[,"]')).then(pl.lit('"') + field.str.replace_all('"', '""', literal=True) + pl.lit('"')).otherwise(field)
        for field in (pl.col(f"__f{i}") for i in range(len(fields)))
    ]
    return bronze_select(
        CHANNEL,
        frame,
        {
            "record_id": pl.coalesce(call_id, pl.lit(common["export_file"] + ":") + position),
            "source_location": pl.lit(relative + ":") + position,
            "received_at": pl.lit(common["received_at"]),
            "raw": pl.concat_str(quoted_fields, separator=","),
            "parse_error": joined_errors([pl.when(call_id.is_null()).then(pl.lit("call_id is empty")), *errors]),
            "event_time_zone": pl.lit(common["event_time_zone"]),
            "export_file": pl.lit(common["export_file"]),
            **{target: values[name] for name, target in _VALUE_COLUMNS.items() if name in values},
            **counts,
        },
    )


# Our column -> its bronze column, for the values a record carries as they are.
_VALUE_COLUMNS = {
    "call_started_at": "event_time_text",
    "notes": "text",
    "caller_name": "author_name",
    "caller_phone": "phone",
    "account_number": "account_number",
    "status": "status",
    "resolved_at": "resolved_at_text",
    "agent_id": "agent_id",
}


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _relative_name(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.name


def _header_key(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().casefold()


def _read_header(record: list[str], column_map: dict[str, str]) -> dict[str, int]:
    """Our column name -> field index. Renames first, then a case-insensitive match; the first
    of two fields that map to one column wins; fields we do not know are ignored (kept in raw)."""
    renames = {_header_key(theirs): ours for theirs, ours in column_map.items()}
    ours_by_key = {name.casefold(): name for name in COLUMNS}
    positions: dict[str, int] = {}
    for index, field in enumerate(record):
        key = _header_key(field)
        name = ours_by_key.get(_header_key(renames.get(key, key)))
        if name is not None and name not in positions:
            positions[name] = index
    return positions


def _cell(value: str, column: str) -> str | None:
    if column == "notes":
        return value if value.strip() else None
    return value.strip() or None


def _whole_seconds(value: str | None, column: str) -> tuple[int | None, str | None]:
    if value is None:
        return None, None
    if not _WHOLE_NUMBER.fullmatch(value):
        return None, f"{column} is not a whole number of seconds: {value!r}"
    number = int(value)
    if number < 0:
        return None, f"{column} is negative: {value!r}"
    if number > _INT32_MAX:
        return None, f"{column} is out of range: {value!r}"
    return number, None


def _serialise(record: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(record)
    return buffer.getvalue()
