"""Sales-process analytics on a hand-made set of five deals (worked out below)."""

import pandas as pd
import pytest

from clm.analytics.deals import deal_metrics

STAGES = ["qualify", "discovery", "proposal", "negotiation"]


def test_win_rate_cycle_conversion_and_time_in_stage_by_hand():
    """Deals (group, path, outcome):
    1 east: qualify(d0) → discovery(d10) → proposal(d15) → won(d45), 10,000
    2 east: qualify(d0) → discovery(d20) → lost(d30)
    3 east: qualify(d0), still open
    4 west: qualify(d0) → won(d60) without recorded middle moves, 30,000 (reached every stage)
    5 west: qualify(d0) → discovery(d4) → proposal(d8) → negotiation(d12), still open
    All: won 2, lost 1 → win rate 2/3; average won (10,000 + 30,000)/2 = 20,000; cycle days 45
    and 60 → median 52.5. Reached (a won deal went through every stage): qualify 5; discovery 4
    (1, 2, 4, 5); proposal 3 (1, 4, 5); negotiation 3 (1, 4, 5); won 2 (1, 4) → conversion
    qualify 4/5, discovery 3/4, proposal 3/3, negotiation 2/3.
    Days in qualify: 10, 20, 60, 4 → median 15; in discovery: 5, 10, 4 → 5; proposal: 30, 4 → 17."""
    day = pd.Timestamp("2026-01-01")
    moves = {1: [("qualify", 0), ("discovery", 10), ("proposal", 15), ("won", 45)],
             2: [("qualify", 0), ("discovery", 20), ("lost", 30)], 3: [("qualify", 0)],
             4: [("qualify", 0), ("won", 60)],
             5: [("qualify", 0), ("discovery", 4), ("proposal", 8), ("negotiation", 12)]}  # fmt: skip
    history = pd.DataFrame(
        [(k, s, day + pd.Timedelta(days=d)) for k, path in moves.items() for s, d in path],
        columns=["opportunity_id", "to_stage", "changed_at"],
    )
    deals = pd.DataFrame({
        "opportunity_id": [1, 2, 3, 4, 5], "group": ["east", "east", "east", "west", "west"],
        "stage": ["won", "lost", "qualify", "won", "negotiation"], "amount": [10000.0, 5000.0, 0.0, 30000.0, 8000.0],
        "created": [day.date()] * 5,
        "closed": [(day + pd.Timedelta(days=45)).date(), (day + pd.Timedelta(days=30)).date(), None,
                   (day + pd.Timedelta(days=60)).date(), None],
    })  # fmt: skip
    table = deal_metrics(deals, history, STAGES).set_index("group")
    everyone = table.loc[""]
    assert (everyone["deals"], everyone["won"], everyone["lost"]) == (5, 2, 1)
    assert everyone["win_rate"] == pytest.approx(2 / 3)
    assert (everyone["avg_won"], everyone["cycle_days"]) == (20000.0, 52.5)
    assert [everyone[f"reached_{s}"] for s in STAGES] == [5, 4, 3, 3]
    assert [everyone[f"conversion_{s}"] for s in STAGES] == pytest.approx([4 / 5, 3 / 4, 1, 2 / 3])
    assert [everyone[f"days_in_{s}"] for s in STAGES[:3]] == [15.0, 5.0, 17.0]
    assert table.loc["east", "win_rate"] == pytest.approx(1 / 2)
    assert table.loc["west", "conversion_qualify"] == 1.0
