"""Vectorised parsing of cell text into typed values, for imports and the events API alike (one
rule per type, one home). Pandas, and Django only to translate the reasons.

Each parser takes a Series of stripped text ("" = empty cell, never parsed) and returns a
`Parsed`: the typed values (missing where empty or invalid) and, per row, the reason a non-empty
cell was refused ("" when it parsed), in the active language: each message's template is
translated once per column, then filled.

Amounts. Currency signs and codes (¥ ￥ $ € £ 元 RMB CNY USD EUR ...) and spaces are dropped;
(1,234.00) and a leading or trailing minus are negative; 万 multiplies by 10,000 and 亿 by
100,000,000. Separators, the ambiguous part:
  - with both "," and ".", the one that comes last is the decimal mark: 1,234.50 and 1.234,50;
  - a lone "," followed by exactly three digits, or several "," each followed by three digits,
    group thousands: 1,234 = 1234 and 1,234,567; a lone "," followed by one or two digits is a
    decimal comma: 12,5 = 12.5; any other use of "," is refused as ambiguous;
  - a lone "." is always a decimal point (1.234 = 1.234); several "." each followed by three
    digits group thousands (1.234.567).

Dates. 2024-03-01, 2024/3/1, 2024.3.1, 20240301, 2024年3月1日, 3/1/2024 (month first, as
Salesforce and HubSpot write it, unless the first number is over 12: then day first), Excel
serial day numbers (five digits, 10000–99999: 1927-05-18 to 2173-10-14; the 1900 date system),
and any of these followed by a time, which a date field ignores. Datetimes take the same forms
with an optional time, seconds, fraction, AM/PM and offset (Z, +08:00); one without an offset is
in the workspace's time zone, and refused when a daylight-saving change skips or repeats it
(wall_to_utc). The event API reads ISO 8601 here too (parse_iso_datetimes), with the same rule.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import NamedTuple

import numpy as np
import pandas as pd

from clm.core.text import BIDI_CONTROLS, BIDI_MESSAGE
from clm.core.text import gettext as _


class Parsed(NamedTuple):
    values: pd.Series
    errors: pd.Series  # the reason, per row; "" where the cell parsed or was empty


def nonempty(texts: pd.Series) -> pd.Series:
    """Where a text (a cell, a reason) is not "": numpy's comparison of the objects, which costs a
    third of pandas' for its string dtype (an import compares every cell several times)."""
    return pd.Series(texts.to_numpy(dtype=object) != "", index=texts.index)


def no_errors(index) -> pd.Series:
    return pd.Series("", index=index, dtype=object)


# A text cell that begins with one of these is a formula (or a DDE payload) to Excel and
# LibreOffice. Exports put a single quote before such text, as OWASP advises against CSV
# injection, and the importer takes exactly that quote off again. Text that already begins with
# quotes before one of them gets one more, so that text too comes back as it was.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTED_FORMULA = r"'+[=+\-@\t\r]"


def quote_formula(text: str) -> str:
    """Text as a spreadsheet shows it, never runs it (see FORMULA_TRIGGERS)."""
    return "'" + text if text.lstrip("'").startswith(FORMULA_TRIGGERS) else text


def clean_text(raw: pd.Series) -> pd.Series:
    """Cell text without surrounding whitespace (ideographic spaces and NBSP included), and
    without the quote an export put before a formula-like text (quote_formula)."""
    text = raw.astype(object).fillna("").astype(str).str.strip()
    quoted = text.str.startswith("'")
    if quoted.any():
        quoted[quoted] = text[quoted].str.match(QUOTED_FORMULA)
        if quoted.any():
            text = text.where(~quoted, text.str.slice(1))
    return text


def nfkc(text: pd.Series) -> pd.Series:
    """Full-width characters (１２３，．￥) made ASCII; only cells that hold non-ASCII are touched."""
    if text.empty:
        return text
    wide = ~text.map(str.isascii, na_action="ignore").fillna(True).astype(bool)
    if not wide.any():
        return text
    text = text.copy()
    text[wide] = text[wide].map(lambda v: unicodedata.normalize("NFKC", v))
    return text


# -- text ---------------------------------------------------------------------------------------

EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+\.[^@\s<>(),;:\"]+$")


def parse_text(text: pd.Series, max_length: int | None = None) -> Parsed:
    errors = no_errors(text.index)
    if max_length:
        errors[text.str.len() > max_length] = _("is longer than %(max)s characters") % {"max": max_length}
    errors[text.str.contains(BIDI_CONTROLS.pattern, regex=True)] = _(BIDI_MESSAGE)
    return Parsed(text, errors)


def parse_email(text: pd.Series, max_length: int | None = 254) -> Parsed:
    values, errors = parse_text(text, max_length)
    bad = (text != "") & ~text.str.match(EMAIL.pattern) & (errors == "")
    errors[bad] = _("is not an email address")
    return Parsed(text.where(~bad, ""), errors)


def parse_json_object(text: pd.Series) -> Parsed:
    """A JSON object per cell; the values are canonical JSON text ("{}" for empty cells)."""
    errors = no_errors(text.index)
    values = pd.Series("{}", index=text.index, dtype=object)
    filled = text != ""
    not_json, not_object = _("is not JSON"), _('is not a JSON object ({"key": value})')
    for row, cell in text[filled].items():
        try:
            obj = json.loads(cell)
        except ValueError:
            errors[row] = not_json
            continue
        if not isinstance(obj, dict):
            errors[row] = not_object
            continue
        values[row] = json.dumps(obj, ensure_ascii=False, sort_keys=True)
    return Parsed(values, errors)


LIST_SEPARATORS = r"\s*[;；,，、|\n]\s*"


def parse_list(text: pd.Series) -> Parsed:
    """'a; b、c' -> canonical JSON list text ["a", "b", "c"]."""
    values = text.map(
        lambda v: json.dumps([p for p in re.split(LIST_SEPARATORS, v) if p], ensure_ascii=False) if v else "[]"
    )
    return Parsed(values.astype(object), no_errors(text.index))


# -- numbers ------------------------------------------------------------------------------------

CURRENCY_PREFIX = re.compile(r"^(?:[¥$€£]|rmb|cny|usd|eur|gbp|hkd|us\$|hk\$|人民币)\s*", re.I)
CURRENCY_SUFFIX = re.compile(r"\s*(?:[¥$€£]|元|rmb|cny|usd|eur|gbp|hkd|人民币)$", re.I)
MULTIPLIERS = {"万": 10_000.0, "亿": 100_000_000.0}

USUAL_AMOUNT = r"^[¥$]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
PLAIN = r"^(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$"
COMMA_THOUSANDS = r"^\d{1,3}(?:,\d{3})+(?:\.\d*)?$"
DOT_THOUSANDS_COMMA_DECIMAL = r"^\d{1,3}(?:\.\d{3})+,\d*$"
DOT_THOUSANDS = r"^\d{1,3}(?:\.\d{3}){2,}$"
DECIMAL_COMMA = r"^\d+,\d{1,2}$"



def parse_number(text: pd.Series) -> Parsed:
    """Numbers and amounts as float64 (NaN where empty or invalid); the separator rules are in
    the module docstring."""
    values = pd.Series(np.nan, index=text.index, dtype="float64")
    errors = no_errors(text.index)
    filled = nonempty(text)
    if not filled.any():
        return Parsed(values, errors)
    # Fast path: plain numbers, which is what most files hold.
    quick = pd.to_numeric(text[filled], errors="coerce")
    quick = quick[np.isfinite(quick)]
    values[quick.index] = quick.astype("float64")
    rest = text[filled & values.isna()]
    if rest.empty:
        return Parsed(values, errors)
    # Second fast path: ¥1,234.50 and 1,234.50, the usual amounts of Chinese and US exports.
    usual = rest.str.match(USUAL_AMOUNT)
    if usual.any():
        digits = rest[usual].str.replace(r"^[¥$]|,", "", regex=True)
        values[digits.index] = pd.to_numeric(digits, errors="coerce").astype("float64")
        rest = rest[~usual]
        if rest.empty:
            return Parsed(values, errors)

    s = nfkc(rest).str.lower().str.replace("\u2212", "-", regex=False)
    negative = s.str.match(r"^\(.*\)$")
    s = s.where(~negative, s.str.slice(1, -1)).str.strip()
    lead_minus = s.str.startswith("-")
    s = s.where(~lead_minus, s.str.slice(1)).str.strip()
    s = s.str.replace(CURRENCY_PREFIX, "", regex=True).str.replace(CURRENCY_SUFFIX, "", regex=True)
    s = s.str.replace(CURRENCY_PREFIX, "", regex=True)  # "-¥1" and "¥-1" alike
    lead_minus2 = s.str.startswith("-")
    s = s.where(~lead_minus2, s.str.slice(1))
    trail_minus = s.str.endswith("-")
    s = s.where(~trail_minus, s.str.slice(0, -1))
    multiplier = pd.Series(1.0, index=s.index)
    for sign, factor in MULTIPLIERS.items():
        has = s.str.endswith(sign)
        multiplier[has] = factor
        s = s.where(~has, s.str.slice(0, -1))
    s = s.str.replace(r"[\s'\u00a0\u202f]", "", regex=True)

    normal = pd.Series(None, index=s.index, dtype=object)
    plain = s.str.match(PLAIN)
    normal[plain] = s[plain]
    comma_k = s.str.match(COMMA_THOUSANDS) & normal.isna()
    normal[comma_k] = s[comma_k].str.replace(",", "", regex=False)
    euro = s.str.match(DOT_THOUSANDS_COMMA_DECIMAL) & normal.isna()
    normal[euro] = s[euro].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    dot_k = s.str.match(DOT_THOUSANDS) & normal.isna()
    normal[dot_k] = s[dot_k].str.replace(".", "", regex=False)
    dec_comma = s.str.match(DECIMAL_COMMA) & normal.isna()
    normal[dec_comma] = s[dec_comma].str.replace(",", ".", regex=False)

    number = pd.to_numeric(normal, errors="coerce").astype("float64")
    sign = np.where(negative ^ lead_minus ^ lead_minus2 ^ trail_minus, -1.0, 1.0)
    number = number * multiplier * sign
    values[number.index] = number
    errors[number.index[number.isna()]] = _("is not a number (expected a number such as 1234.50, ¥1,234.50, 1.234,50 €, (1,234.00) or 12.5万)")
    ambiguous = s.str.match(r"^\d+(?:,\d+)+(?:\.\d*)?$") & number.isna()
    errors[ambiguous[ambiguous].index] = _(
        "has an ambiguous comma: use 1,234.50 (comma for thousands) or 1.234,50 (comma for decimals)"
    )
    return Parsed(values, errors)


def parse_decimal(text: pd.Series, decimal_places: int = 2, max_digits: int = 14, minimum=None) -> Parsed:
    values, errors = parse_number(text)
    values = values.round(decimal_places)
    limit = 10.0 ** (max_digits - decimal_places)
    too_big = values.abs() >= limit
    errors[too_big] = _("is too large (at most %(digits)s digits before the decimal point)") % {
        "digits": max_digits - decimal_places
    }
    if minimum is not None:
        errors[values < minimum] = _("must be at least %(minimum)s") % {"minimum": f"{minimum:g}"}
    return Parsed(values.where(~nonempty(errors)), errors)


def parse_float(text: pd.Series, minimum=None) -> Parsed:
    values, errors = parse_number(text)
    if minimum is not None:
        errors[values < minimum] = _("must be at least %(minimum)s") % {"minimum": f"{minimum:g}"}
    return Parsed(values.where(~nonempty(errors)), errors)


def parse_int(text: pd.Series, minimum=None, maximum=None) -> Parsed:
    number, errors = parse_number(text)
    fractional = number.notna() & (number % 1 != 0)
    errors[fractional] = _("is not a whole number")
    if minimum is not None:
        errors[number < minimum] = _("must be at least %(minimum)s") % {"minimum": minimum}
    if maximum is not None:
        errors[number > maximum] = _("must be at most %(maximum)s") % {"maximum": maximum}
    values = number.where(~nonempty(errors)).round().astype("Int64")
    return Parsed(values, errors)


# -- yes / no -----------------------------------------------------------------------------------

TRUE = {"yes", "y", "true", "t", "1", "是", "对", "有", "on", "x", "✓", "√", "checked", "1.0"}
FALSE = {"no", "n", "false", "f", "0", "否", "不", "不是", "无", "off", "×", "unchecked", "0.0"}


def parse_bool(text: pd.Series) -> Parsed:
    token = nfkc(text).str.lower()
    values = pd.Series(pd.NA, index=text.index, dtype="boolean")
    values[token.isin(TRUE)] = True
    values[token.isin(FALSE)] = False
    errors = no_errors(text.index)
    errors[(text != "") & values.isna()] = _("is not yes/no (use yes/no, true/false, 是/否, Y/N or 1/0)")
    return Parsed(values, errors)


# -- choices ------------------------------------------------------------------------------------


def choice_token(value: str) -> str:
    """What a choice is recognised by: case, spaces, punctuation and width ignored."""
    value = unicodedata.normalize("NFKC", value).lower()
    return re.sub(r"[\W_]+", "", value)


def parse_choice(text: pd.Series, lookup: dict[str, str], allowed: str) -> Parsed:
    """lookup maps choice tokens (values, labels, aliases) to stored values."""
    distinct = pd.Series(text[text != ""].unique())
    mapped = dict(zip(distinct, distinct.map(lambda v: lookup.get(choice_token(v))), strict=True))
    values = text.map(mapped).astype(object)
    errors = no_errors(text.index)
    errors[(text != "") & values.isna()] = _("is not one of the allowed values: %(allowed)s") % {"allowed": allowed}
    return Parsed(values.where(values.notna(), ""), errors)


# -- dates and times ----------------------------------------------------------------------------

TIME = r"(?:[ T]+(\d{1,2})[:时](\d{2})(?:[:分](\d{2})(?:[.,](\d{1,9}))?秒?)?\s*([ap]\.?m\.?)?)?"
OFFSET = r"\s*(z|utc|gmt|[+-]\d{2}:?\d{2})?"
DATE_PATTERNS = {
    "ymd": r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})" + TIME + OFFSET + "$",
    "zh": r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?" + TIME + OFFSET + "$",
    "compact": r"^(\d{4})(\d{2})(\d{2})" + TIME + OFFSET + "$",
    "mdy": r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})" + TIME + OFFSET + "$",
}
SERIAL = r"^(\d{5})(\.\d+)?$"
OFFSET_HINT = r"(?:[zZ]|[+-]\d\d:?\d\d|[Uu][Tt][Cc]|GMT)$"
EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def _assemble(parts: pd.DataFrame, order: str) -> tuple[pd.Series, pd.Series]:
    """Naive timestamps and UTC offsets (minutes; NaN when none) from extracted parts."""
    n = lambda i: pd.to_numeric(parts[i], errors="coerce")  # noqa: E731
    if order == "mdy":
        first, second, year = n(0), n(1), n(2)
        day_first = first > 12
        month, day = second.where(day_first, first), first.where(day_first, second)
    else:
        year, month, day = n(0), n(1), n(2)
    hour, minute, second_ = n(3).fillna(0), n(4).fillna(0), n(5).fillna(0)
    meridiem = parts[7].fillna("").str.replace(".", "", regex=False)
    hour = hour.where(~((meridiem == "pm") & (hour < 12)), hour + 12)
    hour = hour.where(~((meridiem == "am") & (hour == 12)), 0)
    fraction = parts[6].fillna("").str.ljust(6, "0").str.slice(0, 6)
    micros = pd.to_numeric(fraction, errors="coerce").fillna(0)
    frame = pd.DataFrame({"year": year, "month": month, "day": day, "hour": hour, "minute": minute, "second": second_})
    stamps = pd.to_datetime(frame, errors="coerce").astype("datetime64[us]")
    stamps = stamps + pd.to_timedelta(micros, unit="us").astype("timedelta64[us]")
    return stamps, _offset_minutes(parts[8])


def _offset_minutes(offset: pd.Series) -> pd.Series:
    offset = offset.fillna("")
    minutes = pd.Series(np.nan, index=offset.index)
    utc = offset.isin(["z", "utc", "gmt"])
    minutes[utc] = 0.0
    signed = offset.str.match(r"^[+-]")
    if signed.any():
        digits = offset[signed].str.replace(":", "", regex=False)
        value = digits.str.slice(1, 3).astype(int) * 60 + digits.str.slice(3, 5).astype(int)
        minutes[signed] = np.where(digits.str.startswith("-"), -value, value)
    return minutes


def _stamps(text: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Naive timestamps, UTC offsets in minutes (NaN = none given) and reasons."""
    stamps = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    offsets = pd.Series(np.nan, index=text.index)
    errors = no_errors(text.index)
    filled = nonempty(text)
    if not filled.any():
        return stamps, offsets, errors
    # Fast path: ISO-like text, what most exports write; the regular expressions below are slow.
    candidates = text[filled & (text.str.len() >= 8)]
    try:  # one parse when no cell has an offset, or all have the same (a file's usual case)
        alike = pd.to_datetime(candidates, format="ISO8601", errors="coerce")
    except ValueError:  # offsets and none, or several offsets: the cells are told apart below
        alike = None
    if alike is not None and not candidates.empty:
        if alike.dt.tz is not None:
            offsets[alike.index[alike.notna()]] = 0.0
            alike = alike.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps[alike.index] = alike
    elif not candidates.empty:
        zoned = candidates.str.slice(-6).str.contains(OFFSET_HINT, regex=True)
        naive = pd.to_datetime(candidates[~zoned], format="ISO8601", errors="coerce")
        stamps[naive.index] = naive
        if zoned.any():
            aware = pd.to_datetime(candidates[zoned], format="ISO8601", errors="coerce", utc=True)
            aware = aware[aware.notna()]
            stamps[aware.index] = aware.dt.tz_localize(None)
            offsets[aware.index] = 0.0
    rest = text[filled & stamps.isna()]
    if not rest.empty:
        s = nfkc(rest).str.lower()
        for order, pattern in DATE_PATTERNS.items():
            todo = s[stamps[s.index].isna()]
            if todo.empty:
                break
            parts = todo.str.extract(pattern)
            hit = parts[0].notna()
            if hit.any():
                got, off = _assemble(parts[hit].reset_index(drop=True).set_axis(todo.index[hit]), order)
                bad_date = got.isna()
                stamps[got.index] = got
                offsets[off.index] = off
                errors[got.index[bad_date]] = _("is not a valid date (no such day)")
        todo = s[stamps[s.index].isna() & ~nonempty(errors[s.index])]
        serial = todo.str.match(SERIAL)
        if serial.any():
            days = pd.to_numeric(todo[serial], errors="coerce")
            stamps[days.index] = EXCEL_EPOCH + pd.to_timedelta(days * 86_400, unit="s").dt.round("s")
        errors[filled & stamps.isna() & ~nonempty(errors)] = _(
            "is not a date (expected a date such as 2024-03-01, 2024/3/1, 20240301, 2024年3月1日 or an Excel date number)"
        )
    return stamps, offsets, errors


def parse_date(text: pd.Series) -> Parsed:
    """Dates as datetime64 at midnight (a time of day in the cell is ignored)."""
    stamps, _offsets, errors = _stamps(text)
    return Parsed(stamps.dt.normalize(), errors)


MONTH = r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$"


def parse_month(text: pd.Series) -> Parsed:
    """A month: 2024-03, 2024/3, 2024年3月, or any date in it; the value is its first day."""
    parts = nfkc(text).str.lower().str.extract(MONTH)
    hit = parts[0].notna()
    stamps, _offsets, errors = _stamps(text.where(~hit, ""))
    if hit.any():
        frame = pd.DataFrame({"year": parts[0][hit].astype(int), "month": parts[1][hit].astype(int), "day": 1})
        months = pd.to_datetime(frame, errors="coerce")
        stamps[months.index] = months
        errors[months.index[months.isna()]] = _("is not a valid month")
    return Parsed(stamps.dt.to_period("M").dt.to_timestamp().where(stamps.notna()), errors)


def parse_datetime(text: pd.Series, time_zone: str) -> Parsed:
    """Timestamps in UTC; cells without an offset are read in `time_zone` (see wall_to_utc)."""
    stamps, offsets, errors = _stamps(text)
    local = offsets.isna() & stamps.notna()
    values = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    if local.any():
        utc, refused = wall_to_utc(stamps[local].to_numpy("datetime64[us]"), time_zone)
        values[local] = pd.Series(utc, index=stamps.index[local]).dt.tz_localize("UTC")
        for row, code in zip(stamps.index[local][refused > 0], refused[refused > 0].tolist(), strict=True):
            errors[row] = local_time_refusal(text[row], code, time_zone)
    if (~offsets.isna()).any():
        aware = offsets.notna()
        utc = (stamps[aware] - pd.to_timedelta(offsets[aware], unit="min")).dt.tz_localize("UTC")
        values[utc.index] = utc
    return Parsed(values, errors)


# -- local times: one rule for files and the API --------------------------------------------------

SKIPPED, REPEATED = 1, 2


def wall_to_utc(wall: np.ndarray, time_zone: str) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock times (datetime64[us]) in `time_zone` as UTC datetime64[us], and per time 0, or
    why it is not one instant: SKIPPED (it does not exist: the clocks jumped over it) or REPEATED
    (it occurs twice: the clocks went back over it); those are NaT. Either is refused rather than
    guessed: a guess stores an event an hour off, silently, while a refusal names the value and the
    fix (send the UTC offset). Imports and the API both read local times here."""
    index = pd.DatetimeIndex(wall)
    utc = index.tz_localize(time_zone, ambiguous="NaT", nonexistent="NaT").tz_convert(None)
    refused = np.zeros(len(wall), dtype=np.int8)
    lost = np.asarray(utc.isna() & ~index.isna())
    if lost.any():
        as_summer = index[lost].tz_localize(
            time_zone, ambiguous=np.ones(lost.sum(), dtype=bool), nonexistent="NaT"
        )
        refused[lost] = np.where(np.asarray(as_summer.isna()), SKIPPED, REPEATED)
    return utc.to_numpy("datetime64[us]"), refused


def local_time_refusal(text: str, code: int, time_zone: str) -> str:
    """The reason a local time wall_to_utc refused is refused, naming it."""
    if code == SKIPPED:
        reason = _(
            "%(text)r does not exist in %(time_zone)s (the clocks skip that hour for daylight saving "
            "time): add the UTC offset"
        )
    else:
        reason = _(
            "%(text)r occurs twice in %(time_zone)s (the clocks go back an hour for daylight saving "
            "time): add the UTC offset"
        )
    return reason % {"text": text, "time_zone": time_zone}


# -- ISO 8601 (the event API): the common shape in numpy, any other shape by pandas ---------------

ISO_HELP = "is not an ISO 8601 date-time (e.g. 2024-03-01T09:30:00+08:00)"


def parse_iso_datetimes(text: list[str], time_zone: str) -> tuple[np.ndarray, np.ndarray]:
    """ISO 8601 date-times as UTC datetime64[us] (NaT where refused), and per text the reason it
    is refused ("" when read, and for "", which is missing rather than invalid). A text without
    an offset is in `time_zone` (wall_to_utc). Column-wise: iso_common reads the usual shape,
    pandas the rest, as it would read them all."""
    micros, common, aware = iso_common(text)
    stamps = micros.view("datetime64[us]")  # NaT where not common
    unread = np.zeros(len(text), dtype=bool)
    rest = np.flatnonzero(~common)
    if len(rest):
        others = [text[i] for i in rest.tolist()]
        read = _utc(pd.Series(others, dtype=object))  # one call: texts without an offset read as UTC
        stamps[rest] = read.dt.tz_convert(None).to_numpy()
        aware[rest] = np.fromiter(map(_has_offset, others), dtype=bool, count=len(others))
        # pandas also reads words such as "now" and "today"; ISO 8601 starts with the year.
        unread[rest] = read.isna().to_numpy() | ~np.array([t[:4].isdigit() for t in others])
        unread[rest] &= np.array([t != "" for t in others])
        stamps[unread] = np.datetime64("NaT")
    reasons = np.full(len(text), "", dtype=object)
    local = np.flatnonzero(~aware & ~np.isnat(stamps))
    if len(local):
        stamps[local], refused = wall_to_utc(stamps[local], time_zone)
        for i in np.flatnonzero(refused).tolist():
            reasons[local[i]] = local_time_refusal(text[local[i]], refused[i], time_zone)
    reasons[unread] = ISO_HELP
    return stamps, reasons


def _utc(text: pd.Series) -> pd.Series:
    """ISO 8601 texts as UTC timestamps in microseconds (what the databases keep); NaT where
    unreadable. A text without an offset is read as UTC."""
    stamps = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    return stamps.dt.floor("us").dt.as_unit("us")


NAT = np.datetime64("NaT", "us").view(np.int64)
ISO_WIDTH = 35  # YYYY-MM-DDTHH:MM:SS.fffffffff+HH:MM
DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]  # of YYYY-MM-DDTHH:MM:SS
DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def iso_common(text: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The common shape of ISO 8601 date-times read in numpy, column-wise: YYYY-MM-DD, T or a
    space, HH:MM:SS, an optional fraction of 1 to 9 digits, then Z, ±HH:MM or nothing (a local
    time). Returns the microseconds since 1970 (UTC for the aware ones, wall-clock for the local
    ones), which texts have that shape with plausible fields (years 1970-2200, offsets up to
    14 hours; pandas reads the rest), and which are aware."""
    n = len(text)
    lengths = np.fromiter(map(len, text), dtype=np.int32, count=n)
    # c[k]: the k-th character of every text (0 past its end), d[k] its digit value
    c = np.array(text, dtype=f"<U{ISO_WIDTH}").view(np.int32).reshape(n, ISO_WIDTH).T.copy()
    d = c - ord("0")
    digit = (d >= 0) & (d <= 9)
    ok = (lengths >= 19) & (lengths <= ISO_WIDTH) & digit[DIGITS].all(axis=0)
    ok &= (c[4] == ord("-")) & (c[7] == ord("-")) & (c[13] == ord(":")) & (c[16] == ord(":"))
    ok &= (c[10] == ord("T")) | (c[10] == ord(" "))
    fraction = c[19] == ord(".")
    places = np.where(fraction, np.cumprod(digit[20:29], axis=0).sum(axis=0), 0)
    ok &= ~fraction | (places > 0)
    start = 19 + np.where(fraction, 1 + places, 0)  # of the offset
    zone = np.take_along_axis(c, np.minimum(start + np.arange(6)[:, None], ISO_WIDTH - 1), axis=0)
    zd = zone[[1, 2, 4, 5]] - ord("0")
    tail = lengths - start
    zulu = (tail == 1) & (zone[0] == ord("Z"))
    offset = (tail == 6) & ((zone[0] == ord("+")) | (zone[0] == ord("-"))) & (zone[3] == ord(":"))
    offset &= ((zd >= 0) & (zd <= 9)).all(axis=0) & (zd[0] * 10 + zd[1] <= 14) & (zd[2] * 10 + zd[3] <= 59)
    ok &= zulu | offset | (tail == 0)
    year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]
    month, day = d[5] * 10 + d[6], d[8] * 10 + d[9]
    hour, minute, second = d[11] * 10 + d[12], d[14] * 10 + d[15], d[17] * 10 + d[18]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = DAYS_IN_MONTH[np.clip(month - 1, 0, 11)] + (leap & (month == 2))
    ok &= (year >= 1970) & (year <= 2200) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    # days since 1970-01-01 of the proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level
    # Date Algorithms", days_from_civil)
    y = year - (month <= 2)
    era, year_of_era = y // 400, y % 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year - 719468
    seconds = days.astype(np.int64) * 86400 + hour * 3600 + minute * 60 + second
    seconds -= np.where(
        offset, np.where(zone[0] == ord("-"), -60, 60) * ((zd[0] * 10 + zd[1]) * 60 + zd[2] * 10 + zd[3]), 0
    )
    micros = np.zeros(n, dtype=np.int64)
    for place in range(6):  # the fraction's first six digits; finer ones are cut (floored)
        micros = micros * 10 + np.where(places > place, d[20 + place], 0)
    micros += seconds * 1_000_000
    return np.where(ok, micros, NAT), ok, ok & (zulu | offset)


def _has_offset(text: str) -> bool:
    return text.rstrip().endswith(("Z", "z")) or "+" in text[10:] or "-" in text[10:]
