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


def test_the_renewal_window_reads_as_yes_or_no_and_the_fall_before_it_as_a_share():
    with translation.override("zh-hans"):
        assert metric_sentence("renewal_within_180d", 1.0) == "180天内有合同期满"
        assert metric_sentence("renewal_in_90_180d", 0.0) == "90至180天内没有合同期满"
        assert metric_sentence("logins_fall_before_renewal", 0.452) == (
            "登录人次比最活跃的30天下降 45%，且合同180天内到期或可随时解约"
        )
        assert metric_sentence("logins_fall_before_renewal", 0.0) == "180天内续约前登录人次未见下降"
        assert value_words("renewal_within_180d", 0.0) == "否"
    with translation.override("en"):
        assert metric_sentence("renewal_in_90_180d", 1.0) == "A contract term ends in 90 to 180 days"
        assert metric_sentence("logins_fall_before_renewal", 0.452) == (
            "Logins down 45% on their busiest 30 days, with the contract ending or cancellable within 180 days"
        )
        assert value_words("logins_fall_before_renewal", 0.452) == "45%"
        assert value_words("renewal_within_180d", 1.0) == "yes"
        assert metric_sentence("renewal_within_180d", float("nan")) == "A contract term ends within 180 days: no data"
