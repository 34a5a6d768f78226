"""The sales records (clm.sales.models.records), quotes and talk tracks (deals), and the lead
funnel's settings and scores (funnel)."""

from .deals import Approval, ApprovalRule, Quote, QuoteLine, TalkTrack, TalkTrackUse
from .funnel import ICP, AccountFit, AssignmentRule, FitModel, LeadActivity, LeadScoring, LeadStageChange
from .records import (
    BUILT_IN_PIPELINES,
    ChannelSpend,
    ForecastCallChange,
    FormSubmission,
    Lead,
    Opportunity,
    OpportunityStageChange,
    Pipeline,
    PipelineStage,
)

__all__ = [
    "AccountFit",
    "Approval",
    "ApprovalRule",
    "AssignmentRule",
    "BUILT_IN_PIPELINES",
    "ChannelSpend",
    "FitModel",
    "ForecastCallChange",
    "FormSubmission",
    "ICP",
    "Lead",
    "LeadActivity",
    "LeadScoring",
    "LeadStageChange",
    "Opportunity",
    "OpportunityStageChange",
    "Pipeline",
    "PipelineStage",
    "Quote",
    "QuoteLine",
    "TalkTrack",
    "TalkTrackUse",
]
