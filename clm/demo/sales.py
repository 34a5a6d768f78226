"""The demo's sales process: the built-in pipelines hold the simulated deals, and the new-business
pipeline asks for what a sales manager would before a deal moves on (an amount from the proposal
on, a close date for negotiation, a reason when lost)."""

from clm.sales.models import PipelineStage
from clm.sales.pipelines import install_built_in

REQUIRED = {"proposal": ["amount"], "negotiation": ["expected_close"], "lost": ["lost_reason"]}


def sales_process() -> None:
    install_built_in()
    for key, fields in REQUIRED.items():
        PipelineStage.objects.filter(pipeline__key="new-business", key=key).update(required_fields=fields)
