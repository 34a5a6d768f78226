"""The demo's talk tracks for leads (before a deal exists) and their use on past leads, and a
saved view or two on the lead list for each sales rep — so the lead page suggests what to say
and the lead centre opens with views on first start."""

from __future__ import annotations

import random

from clm.core.models import Role, User
from clm.sales.models import Lead, TalkTrack, TalkTrackUse
from clm.web.models import SavedView

TRACKS = [  # title, kind, what to say, lead stages, industries
    ("首次接触：先问现状再讲产品", "track", "先请对方讲讲客户数据现在在哪里、谁在看，再用一个与其行业相近的例子说明我们解决什么问题。",
     ["mal", "mql"], []),
    ("资料下载后的跟进", "track", "提到对方下载的资料，问一个与资料相关的具体问题，约 20 分钟的线上演示。",
     ["mql"], []),
    ("制造业：设备与订单数据打通", "track", "讲清设备联网数据和订单数据放在一起后，能提前发现哪些客户会流失。",
     ["mql", "sql"], ["制造业"]),
    ("“我们已经有 CRM 了”", "objection", "CRM 记录销售过程；我们看的是签约之后的使用、健康度和续约，两者互补，数据可以直接导入。",
     ["mql", "sql"], []),
    ("确认预算与时间表", "track", "在推进成商机前确认：预算归属、决策人、期望上线时间和要解决的首要问题。",
     ["sql"], []),
]  # fmt: skip
VIEWS = [("我的线索（按契合度）", "owner=me&sort=fit"), ("待跟进的 SQL", "status=sql&owner=me&sort=engagement")]


def build(seed: int = 11) -> int:
    """Add the lead tracks (once), their use on up to 400 closed leads chosen at random — the
    outcomes are the simulated leads' own, so no track looks better than the world makes it —
    and the reps' saved views; the number of uses recorded."""
    if TalkTrack.objects.filter(title=TRACKS[0][0]).exists():
        return 0
    rng = random.Random(seed)
    made = [TalkTrack.objects.create(title=title, kind=kind, body=body, stages=stages, industries=industries)
            for title, kind, body, stages, industries in TRACKS]  # fmt: skip
    closed = list(
        Lead.objects.filter(status__in=[Lead.Status.CONVERTED, Lead.Status.DISQUALIFIED])
        .order_by("pk").values_list("pk", flat=True)[:400]
    )  # fmt: skip
    uses = [TalkTrackUse(track=track, lead_id=pk) for pk in closed for track in rng.sample(made, rng.choice((1, 2)))]
    TalkTrackUse.objects.bulk_create(uses, ignore_conflicts=True)
    for rep in User.objects.filter(groups__name=Role.SALES, is_active=True):
        for name, query in VIEWS:
            SavedView.objects.get_or_create(user=rep, list=SavedView.List.LEADS, name=name, defaults={"query": query})
    return len(uses)
