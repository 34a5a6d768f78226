"""The demo's lead talk tracks: the library once, uses on closed leads only, the reps' lead views."""

import pytest

from clm.demo import lead_tracks
from clm.sales.models import Lead, TalkTrack, TalkTrackUse
from clm.web.models import SavedView
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_the_demo_adds_lead_tracks_their_uses_and_views(team_a):
    rep = make_user("rep", "Sales", team_a)
    for i, status in enumerate(["converted", "disqualified", "mql", "converted"]):
        Lead.objects.create(name=f"n{i}", company=f"c{i}", status=status)
    uses = lead_tracks.build()
    assert 3 <= uses <= 6 and TalkTrackUse.objects.filter(lead__isnull=False).count() == uses
    assert not TalkTrackUse.objects.filter(lead__status="mql").exists()
    for track in TalkTrack.objects.all():
        track.full_clean()  # the lead stages are valid stages
    assert SavedView.objects.filter(user=rep, list="leads").count() == 2
    assert lead_tracks.build() == 0 and TalkTrack.objects.count() == len(lead_tracks.TRACKS)
