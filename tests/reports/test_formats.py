"""A KPI's value beside its target: a value that misses its target never reads as the target's own figure."""

from clm.reports.formats import against_target, figure


def test_a_value_just_over_its_target_shows_the_digit_that_tells_them_apart():
    # 2.04% churn against a 2.0% ceiling misses its target: "2.0% · target 2.0%" would contradict the mark.
    assert against_target(0.0204, 0.02, "percent") == ("2.04%", "2.00%")
    assert against_target(0.020004, 0.02, "percent") == ("2.000%", "2.000%")  # three digits at most
    assert against_target(0.0251, 0.02, "percent") == ("2.5%", "2.0%")  # one digit where one suffices
    assert against_target(0.02, 0.02, "percent") == ("2.0%", "2.0%")  # equal reads equal


def test_other_units_widen_the_same_way():
    assert against_target(3.04, 3.0, "multiple") == ("3.04×", "3.00×")
    assert against_target(12.0, 12.0, "count") == ("12", "12")
    assert figure(None, "percent") == "–"
