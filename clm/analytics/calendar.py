"""Working days: the holiday calendar that usage baselines read, so that a week when the whole
customer base is on holiday (春节, 国庆) is not read as every customer slipping away.

A working day is a Monday to Friday that is not a day off, or a weekend day declared a working
day (调休上班, the make-up days around Chinese public holidays). Usage is compared per working
day: "logins −50%" means half the logins per working day, whatever holidays the windows hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

DAY_OFF = "day_off"
WORKDAY = "workday"

# Chinese public holidays (放假) and make-up working days (调休上班) as the State Council's General
# Office announced them each year: 国办发明电〔2021〕11号 (2022), 〔2022〕16号 (2023), 〔2023〕7号 (2024),
# 〔2024〕12号 (2025), 〔2025〕7号 (2026); published on www.gov.cn. Ranges are inclusive.
# (name, first day off, last day off, make-up working days)
CN_PUBLIC_HOLIDAYS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("元旦", "2022-01-01", "2022-01-03", ()),
    ("春节", "2022-01-31", "2022-02-06", ("2022-01-29", "2022-01-30")),
    ("清明节", "2022-04-03", "2022-04-05", ("2022-04-02",)),
    ("劳动节", "2022-04-30", "2022-05-04", ("2022-04-24", "2022-05-07")),
    ("端午节", "2022-06-03", "2022-06-05", ()),
    ("中秋节", "2022-09-10", "2022-09-12", ()),
    ("国庆节", "2022-10-01", "2022-10-07", ("2022-10-08", "2022-10-09")),
    ("元旦", "2022-12-31", "2023-01-02", ()),
    ("春节", "2023-01-21", "2023-01-27", ("2023-01-28", "2023-01-29")),
    ("清明节", "2023-04-05", "2023-04-05", ()),
    ("劳动节", "2023-04-29", "2023-05-03", ("2023-04-23", "2023-05-06")),
    ("端午节", "2023-06-22", "2023-06-24", ("2023-06-25",)),
    ("中秋节、国庆节", "2023-09-29", "2023-10-06", ("2023-10-07", "2023-10-08")),
    ("元旦", "2023-12-30", "2024-01-01", ()),
    ("春节", "2024-02-10", "2024-02-17", ("2024-02-04", "2024-02-18")),
    ("清明节", "2024-04-04", "2024-04-06", ("2024-04-07",)),
    ("劳动节", "2024-05-01", "2024-05-05", ("2024-04-28", "2024-05-11")),
    ("端午节", "2024-06-08", "2024-06-10", ()),
    ("中秋节", "2024-09-15", "2024-09-17", ("2024-09-14",)),
    ("国庆节", "2024-10-01", "2024-10-07", ("2024-09-29", "2024-10-12")),
    ("元旦", "2025-01-01", "2025-01-01", ()),
    ("春节", "2025-01-28", "2025-02-04", ("2025-01-26", "2025-02-08")),
    ("清明节", "2025-04-04", "2025-04-06", ()),
    ("劳动节", "2025-05-01", "2025-05-05", ("2025-04-27",)),
    ("端午节", "2025-05-31", "2025-06-02", ()),
    ("中秋节、国庆节", "2025-10-01", "2025-10-08", ("2025-09-28", "2025-10-11")),
    ("元旦", "2026-01-01", "2026-01-03", ("2026-01-04",)),
    ("春节", "2026-02-15", "2026-02-23", ("2026-02-14", "2026-02-28")),
    ("清明节", "2026-04-04", "2026-04-06", ()),
    ("劳动节", "2026-05-01", "2026-05-05", ("2026-05-09",)),
    ("端午节", "2026-06-19", "2026-06-21", ()),
    ("中秋节", "2026-09-25", "2026-09-27", ()),
    ("国庆节", "2026-10-01", "2026-10-07", ("2026-09-20", "2026-10-10")),
)


def default_calendar() -> list[tuple[dt.date, str, str]]:
    """The default calendar as (day, kind, name) rows: every day off and make-up working day."""
    rows = []
    for name, first, last, workdays in CN_PUBLIC_HOLIDAYS:
        start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        rows += [(start + dt.timedelta(days=i), DAY_OFF, name) for i in range((end - start).days + 1)]
        rows += [(dt.date.fromisoformat(d), WORKDAY, name) for d in workdays]
    return rows


def working_days(
    first: dt.date, last: dt.date, days_off: Iterable[dt.date] = (), workdays: Iterable[dt.date] = ()
) -> list[dt.date]:
    """The working days in [first, last]: Monday to Friday except ``days_off``, plus ``workdays``
    (weekend days declared working days). A day in both lists is a day off."""
    import numpy as np  # here, not at the top: the models read DAY_OFF and WORKDAY at start-up

    days = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    off = np.isin(days, np.array(list(days_off), dtype="datetime64[D]"))
    extra = np.isin(days, np.array(list(workdays), dtype="datetime64[D]"))
    return [d.item() for d in days[((weekday < 5) | extra) & ~off]]
