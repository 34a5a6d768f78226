"""The automation app's models, one module per part (work, channels, playbooks)."""

from clm.automation.models.playbooks import *  # noqa: F401,F403
