"""A metric's value read as a sentence on the account page (health components, churn factors), in
both languages: the change of logins against the busiest 30 days of the five months before."""

from django.utils import translation

from clm.web.explain import metric_sentence, value_words


def test_logins_against_their_peak_read_as_a_fall_from_the_busiest_month():
    with translation.override("zh-hans"):
        assert metric_sentence("logins_30d_vs_peak", -0.632) == "近30天登录人次比此前5个月中最活跃的30天下降 63%"
        assert metric_sentence("logins_30d_vs_peak", 0.001) == "近30天登录人次与此前5个月中最活跃的30天持平"
    with translation.override("en"):
        assert metric_sentence("logins_30d_vs_peak", 0.12) == (
            "Logins in the last 30 days up 12% on its busiest 30 days of the five months before"
        )
        assert value_words("logins_30d_vs_peak", -0.297) == "-30%"
        assert metric_sentence("logins_30d_vs_peak", float("nan")).endswith("no data")
