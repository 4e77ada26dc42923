"""How a column writes its numbers (``$1,200.50``, ``1.234,5``, ``18.01%``, ``(12.50)``,
``$70/mo``), found from its values and applied to one cell, in plain Python.

A :class:`NumberFormat` is one regular expression with named groups, written so Python's
``re`` and polars' (Rust) regex engine read it alike: no look-around, no back-references,
ASCII classes only. Serving reads a cell with :func:`parse_number`; preprocessing applies the
same expression to a whole column (``conveyor.tabular.columnar.parse_numbers``); a test keeps
the two equal cell by cell. This module has no numpy or polars: the AWS request check uses it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from conveyor.types import JsonDict

# Spaces that spreadsheets put between thousands: a space, a no-break and a narrow no-break.
_SPACES = " \u00a0\u202f"
THOUSANDS = (",", ".", " ", "'")
CURRENCIES = ("$", "€", "£", "¥", "₹", "US$", "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD")
_REGEX_SPECIAL = frozenset("\\.^$|?*+()[]{}")
# A cell's affixes, found on the sample: what precedes and follows its digits.
_SHAPE = re.compile(
    r"\(?[ ]*[-+]?[ ]*(?P<pre>[^0-9()+\-.,][^0-9]*?)?[ ]*[-+]?[ ]*"
    r"(?P<num>[.,]?[0-9](?:[0-9.,' \u00a0\u202f]*[0-9])?(?:[eE][-+]?[0-9]+)?)"
    r"[ ]*(?P<suf>[^0-9()+\-][^0-9()]*?)?[ ]*\)?"
)
# An affix is the column's rule when at least this share of its numbers carry it.
_AFFIX_SHARE = 0.5
_MAX_AFFIX = 12
_ZEROS = str.maketrans("0123456789", "0" * 10)


@dataclass(frozen=True)
class NumberFormat:
    """The rule of a numeric column written as text.

    ``decimal`` is ``"."`` or ``","``; ``thousands`` is ``""`` or one of ``THOUSANDS``
    (``" "`` also takes the no-break spaces); ``prefix``/``suffix`` (a currency, ``%`` or a
    unit such as ``/mo``) may be on a cell or not; ``parens`` reads ``(12.50)`` as -12.50.
    A percent keeps its number: ``18.01%`` is 18.01.
    """

    decimal: str = "."
    thousands: str = ""
    prefix: str = ""
    suffix: str = ""
    parens: bool = False

    @property
    def is_plain(self) -> bool:
        """True when a float parser reads the column as it is."""
        return self == NumberFormat()

    @cached_property
    def pattern(self) -> str:
        """The expression a cell must match in full; groups ``open``, ``s1``, ``s2``, ``int``,
        ``frac``, ``exp``, ``close``."""
        sep = f"[{_SPACES}]" if self.thousands == " " else _escape(self.thousands)
        grouped = f"(?:{sep}[0-9]{{3}})*" if self.thousands else ""
        open_, close = (r"(?P<open>\()?", r"(?P<close>\))?") if self.parens else ("", "")
        pre = f"(?:{_escape(self.prefix)})?" if self.prefix else ""
        suf = f"(?:{_escape(self.suffix)})?" if self.suffix else ""
        return (
            f"^{open_}[ ]*(?P<s1>[-+])?[ ]*{pre}[ ]*(?P<s2>[-+])?[ ]*"
            f"(?P<int>[0-9]+{grouped})?(?:{_escape(self.decimal)}(?P<frac>[0-9]*))?"
            f"(?:[eE](?P<exp>[-+]?[0-9]+))?[ ]*{suf}[ ]*{close}$"
        )

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    def describe(self) -> str:
        """The rule in words, e.g. "currency `$`, thousands `,`"."""
        parts = []
        for affix in (self.prefix, self.suffix):
            if not affix:
                continue
            if affix == "%":
                parts.append("percent `%` (18.01% is 18.01)")
            elif affix.strip() in CURRENCIES:
                parts.append(f"currency `{affix.strip()}`")
            else:
                parts.append(f"unit `{affix.strip()}`")
        if self.thousands:
            shown = "space" if self.thousands == " " else f"`{self.thousands}`"
            parts.append(f"thousands {shown}")
        if self.decimal == ",":
            parts.append("decimal comma")
        if self.parens:
            parts.append("accounting negatives `(12.50)`")
        return ", ".join(parts) if parts else "number"

    def to_dict(self) -> JsonDict:
        return {
            "decimal": self.decimal,
            "thousands": self.thousands,
            "prefix": self.prefix,
            "suffix": self.suffix,
            "parens": self.parens,
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> NumberFormat:
        return cls(
            decimal=str(data.get("decimal", ".")),
            thousands=str(data.get("thousands", "")),
            prefix=str(data.get("prefix", "")),
            suffix=str(data.get("suffix", "")),
            parens=bool(data.get("parens", False)),
        )


def _escape(text: str) -> str:
    # re.escape also escapes spaces and other characters Rust's regex refuses to see escaped.
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)


def number_text(groups: dict[str, Any]) -> str | None:
    """The plain float literal of a match's groups (``-1234.5e3``), or None when the match has
    no digits or unbalanced parentheses. The polars path builds the same literal."""
    whole, frac = groups.get("int") or "", groups.get("frac") or ""
    if not whole and not frac:
        return None
    if (groups.get("open") is None) != (groups.get("close") is None):
        return None
    negative = groups.get("open") is not None or "-" in (groups.get("s1"), groups.get("s2"))
    digits = "".join(c for c in whole if c.isdigit()) or "0"
    exp = groups.get("exp")
    return ("-" if negative else "") + digits + "." + (frac or "0") + (f"e{exp}" if exp else "")


def parse_number(text: str, fmt: NumberFormat) -> float | None:
    """``text`` (stripped, not a missing token) as a number under ``fmt``; None when it does
    not read as one."""
    match = fmt.regex.match(text)
    if match is None:
        return None
    literal = number_text(match.groupdict())
    return None if literal is None else float(literal)


def guess_number_format(values: Sequence[str], *, decimal: str | None = None) -> NumberFormat:
    """The format that reads the most of ``values`` (distinct, stripped cells: a sample of a
    column). Among formats that read as many, the plainer wins, and a decimal comma only where
    ``decimal == ","`` (the file's dialect) or a value needs it (``79,99``)."""
    # Every expression here takes any digit where it takes one: a value reads as its shape
    # (each digit written 0) does, and a column's thousands of numbers have a few shapes.
    shapes = Counter(value.translate(_ZEROS) for value in values)
    prefix, suffix, parens = _affixes(shapes)
    best: NumberFormat | None = None
    best_count = -1
    for dec, thousands in _separator_candidates(decimal):
        fmt = NumberFormat(dec, thousands, prefix, suffix, parens)
        count = sum(n for shape, n in shapes.items() if parse_number(shape, fmt) is not None)
        if count > best_count:
            best, best_count = fmt, count
        if count == len(values):
            break  # no later format can read more, and the first of equals wins
    assert best is not None
    if not best.parens and not best.prefix and not best.suffix and not best.thousands:
        return NumberFormat(decimal=best.decimal)
    return best


def _separator_candidates(decimal: str | None) -> list[tuple[str, str]]:
    dot = [(".", ""), (".", ","), (".", " "), (".", "'")]
    comma = [(",", ""), (",", "."), (",", " ")]
    # The first of equals wins: `1,234` reads as 1234 unless the file writes decimal commas.
    return comma + dot if decimal == "," else dot + comma


def _affixes(shapes: Counter[str]) -> tuple[str, str, bool]:
    """The prefix and suffix most numbers of ``shapes`` (values with their counts) carry
    (when most do), and whether any is written in accounting parentheses."""
    prefixes: Counter[str] = Counter()
    suffixes: Counter[str] = Counter()
    numbers = 0
    parens = False
    for value, count in shapes.items():
        match = _SHAPE.fullmatch(value)
        if match is None:
            continue
        numbers += count
        parens = parens or (value.startswith("(") and value.endswith(")"))
        pre, suf = match.group("pre"), match.group("suf")
        # Before the number only a currency: a letter there is more often a code (C1042).
        if pre and (pre.strip() in CURRENCIES or not any(c.isalpha() for c in pre)):
            prefixes[pre.strip()] += count
        if suf and len(suf) <= _MAX_AFFIX:
            suffixes[suf.strip()] += count
    return _common(prefixes, numbers), _common(suffixes, numbers), parens


def _common(counts: Counter[str], numbers: int) -> str:
    if not counts:
        return ""
    affix, count = counts.most_common(1)[0]
    return affix if count >= _AFFIX_SHARE * numbers else ""
