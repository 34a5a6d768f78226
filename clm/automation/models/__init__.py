"""The automation app's models, one module per part (work, channels, playbooks)."""

from clm.automation.models.channels import *  # noqa: F401,F403
from clm.automation.models.playbooks import *  # noqa: F401,F403
from clm.automation.models.winback import *  # noqa: F401,F403
from clm.automation.models.work import *  # noqa: F401,F403
