"""The shared maximum-likelihood driver: a parameter allowed to run to its limit (a Beta whose
concentration grows at a fixed mean) is accepted and said so; any other estimate at the edge of
the box is refused."""

import numpy as np
import pytest

from clm.analytics.clv.errors import CLVInputError
from clm.analytics.clv.fitting import maximise


def rising_in_b(log_params):
    """−LL with a maximum at a = e, and still rising as b → ∞ (as BG/NBD's likelihood does when
    the data show one dropout probability for everybody)."""
    a, b = log_params
    return (a - 1) ** 2 - 0.01 * b, np.array([2 * (a - 1), -0.01])


def rising_in_both(log_params):
    a, b = log_params
    return -0.01 * (a + b), np.array([-0.01, -0.01])


def test_a_parameter_allowed_to_run_to_its_limit_is_kept_at_the_edge():
    log_params, _, _, message = maximise(rising_in_b, np.zeros(2), ("a", "b"), unbounded_above=("b",))
    assert log_params[0] == pytest.approx(1, abs=1e-5)
    assert log_params[1] >= 29.999
    assert message.startswith("b at the limit (no heterogeneity)")


def test_any_other_estimate_at_the_edge_is_refused():
    with pytest.raises(CLVInputError, match="no maximum at finite, positive parameters"):
        maximise(rising_in_b, np.zeros(2), ("a", "b"))
    with pytest.raises(CLVInputError):
        maximise(rising_in_both, np.zeros(2), ("a", "b"), unbounded_above=("b",))
