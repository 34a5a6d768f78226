"""Rows of the store into pandas frames through the driver, without the ORM's per-value
converters: dates come back as 'YYYY-MM-DD' text parsed by pandas in one pass, money as floats.
Used by every app that reads whole tables for the analytics core."""

import numpy as np
import pandas as pd
from django.db import connection, models
from django.db.models.functions import Cast


def read_frame(queryset, columns) -> pd.DataFrame:
    """Rows of a values_list queryset as a frame with ``columns``."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    columns = list(columns)
    return pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)


def money(field_name: str):
    return Cast(field_name, models.FloatField())


def iso(field_name):
    """A date column as 'YYYY-MM-DD' text."""
    return Cast(field_name, models.CharField())


def day_numbers(values: pd.Series) -> np.ndarray:
    """Dates (or 'YYYY-MM-DD' text) as days since 1970-01-01."""
    if values.empty:
        return np.zeros(0, dtype=np.int64)
    if isinstance(values.iloc[0], str):
        values = pd.to_datetime(values, format="%Y-%m-%d")
    return pd.to_datetime(values).to_numpy().astype("datetime64[D]").astype(np.int64)
