"""Year specifications, read the same way by the command line and the Python API.

``'2021'``, ``'2015-2022'`` (also ``2015–2022`` or ``2015:2022``), ``'2015,2017'``, ``'2015-2018,2020'``,
an int or an iterable of ints → a sorted list of years. ``load_panel``, ``compute`` and every command
that takes ``--year``/``--years`` use :func:`parse_years`, so a spec that works in one place works in all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pendling.errors import InputError

YearSpec = str | int | Iterable[int] | None
_PART = re.compile(r"(\d{4})(?:\s*[-–:]\s*(\d{4}))?")


def parse_years(spec: YearSpec, *, what: str = "years") -> list[int] | None:
    """'2021', '2015-2022', '2015,2017', 2021 or [2015, 2016] → sorted list of years; None stays None.

    ``what`` names the argument or option in the error (e.g. '--years').
    """
    if spec is None:
        return None
    if isinstance(spec, bool):
        raise InputError(f"{what} must be years such as 2021 or 2015-2022", column=what, values=[spec])
    if isinstance(spec, int):
        return [spec]
    if not isinstance(spec, str):
        out_list = list(spec)
        bad = [y for y in out_list if isinstance(y, bool) or not isinstance(y, int)]
        if bad:
            raise InputError(f"{what} must be whole years such as 2015", column=what, values=bad[:10])
        return sorted(set(out_list))
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        m = _PART.fullmatch(part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise InputError(f"cannot read {what}", column=what, values=[part],
                             hint="write e.g. 2021, 2015-2022 or 2015-2018,2020")
        out.update(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    if not out:
        raise InputError(f"{what} is empty", column=what, values=[spec], hint="write e.g. 2021 or 2015-2022")
    return sorted(out)


def span(years: Sequence[int]) -> str:
    """[2015, 2016, 2017] → '2015-2017'; [2015, 2017] → '2015,2017'; [] → 'no years'."""
    years = sorted(set(years))
    if not years:
        return "no years"
    if years == list(range(years[0], years[-1] + 1)):
        return f"{years[0]}-{years[-1]}" if len(years) > 1 else str(years[0])
    return ",".join(map(str, years))


def flow_years(have: Iterable[int]) -> list[int]:
    """Flow years t that data for ``have`` allows (t and t-1 both present)."""
    h = set(have)
    return sorted(y for y in h if y - 1 in h)
