"""What the demo world's modules share: day numbers and calendar arithmetic (days are integers
counted from 1970-01-01, -1 meaning none), Chinese public holidays, seeded random streams."""

import datetime as dt
import zlib

import numpy as np

EPOCH = dt.date(1970, 1, 1)
NEVER = 10**7  # a day after every simulated date
SPRING_FESTIVAL = [
    "2016-02-08", "2017-01-28", "2018-02-16", "2019-02-05", "2020-01-25", "2021-02-12", "2022-02-01",
    "2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13",
    "2030-02-03", "2031-01-23", "2032-02-11", "2033-01-31", "2034-02-19", "2035-02-08",
]  # fmt: skip


def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


def to_date(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def add_months(days, months):
    """Calendar month arithmetic on day numbers (31 Jan + 1 month = 28/29 Feb)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    offset = (d - m.astype("datetime64[D]")).astype(np.int64)
    target = m + np.asarray(months, dtype=np.int64)
    first = target.astype("datetime64[D]").astype(np.int64)
    last = (target + 1).astype("datetime64[D]").astype(np.int64) - 1
    out = np.minimum(first + offset, last)
    return out if out.ndim else int(out)


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per part of the world, so changing one part leaves the
    others' draws as they were."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def quotas(n: int, shares: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """n labels in exactly the given shares (largest remainder), in random order."""
    labels = list(shares)
    raw = np.array([shares[k] for k in labels]) * n
    counts = np.floor(raw).astype(int)
    for k in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[k] += 1
    return rng.permutation(np.repeat(np.array(labels, dtype=object), counts))


def holiday_days(first: int, last: int) -> np.ndarray:
    """Chinese public holiday weeks (Spring Festival, Labour Day, National Day) as day numbers."""
    out = []
    for s in SPRING_FESTIVAL:
        eve = day_number(dt.date.fromisoformat(s)) - 1
        out.extend(range(eve, eve + 8))
    for year in range(to_date(first).year, to_date(last).year + 1):
        out.extend(range(day_number(dt.date(year, 5, 1)), day_number(dt.date(year, 5, 1)) + 5))
        out.extend(range(day_number(dt.date(year, 10, 1)), day_number(dt.date(year, 10, 1)) + 7))
    days = np.array(sorted(set(out)), dtype=np.int64)
    return days[(days >= first) & (days <= last)]


def weights(w) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    return w / w.sum()


def iso(day) -> str | None:
    return to_date(day).isoformat() if 0 <= day < NEVER else None
