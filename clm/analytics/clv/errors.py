"""The one error the value models raise for impossible inputs, and the checks that raise it."""

from __future__ import annotations

import numpy as np


class CLVInputError(ValueError):
    """An input no customer base can have: a NaN, a negative rate, a retention above 1 + d, ...

    The message names the argument and the value it saw, so an import row or an API call can
    be traced back to the number that was wrong.
    """

    def __init__(self, argument: str, value, reason: str):
        self.argument = argument
        self.value = value
        self.reason = reason
        super().__init__(f"{argument} = {value!r}: {reason}")


def as_float_array(argument: str, value) -> np.ndarray:
    """``value`` as a float array, refusing NaN, infinity and anything not numeric."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise CLVInputError(argument, value, "must be a number or an array of numbers") from None
    bad = ~np.isfinite(array)
    if bad.any():
        raise CLVInputError(*_first(argument, array, bad), "must be a finite number (not NaN or infinity)")
    return array


def positive_parameter(name: str, value) -> float:
    """A model parameter as a plain float, refusing anything not finite and positive."""
    array = as_float_array(name, value)
    if array.ndim != 0:
        raise CLVInputError(name, value, "a model parameter is a single number")
    require(name, array, array > 0, "model parameters are positive")
    return float(array)


def require(argument: str, array: np.ndarray, ok: np.ndarray, reason: str) -> None:
    """Raise for the first element of ``array`` where ``ok`` is false."""
    bad = ~np.asarray(ok)
    if bad.any():
        raise CLVInputError(*_first(argument, np.broadcast_to(array, bad.shape), bad), reason)


def _first(argument: str, array: np.ndarray, bad: np.ndarray) -> tuple[str, float]:
    if array.ndim == 0:
        return argument, float(array)
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    label = ", ".join(map(str, index))
    return f"{argument}[{label}]", float(array[index])


class NotEnoughDataError(CLVInputError):
    """Data a model cannot be estimated from: too few customers, or a fit whose estimates would
    value customers absurdly (a mean spend that is infinite, forecasts that overflow). Nothing is
    wrong with any one input; the base is too small or too uniform to learn the model from.

    ``model`` names the model; ``customers`` and ``repeat_buyers`` count what the fit was given
    and ``needed`` the smallest base it accepts, so a page can say it in words.
    """

    def __init__(self, model: str, reason: str, *, customers: int, repeat_buyers: int, needed: int):
        self.model = model
        self.customers = customers
        self.repeat_buyers = repeat_buyers
        self.needed = needed
        super().__init__("data", f"{customers} customers, {repeat_buyers} repeat buyers",
                         f"not enough data to estimate {model}: {reason}")
