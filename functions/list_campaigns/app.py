"""GET /campaigns: the configured campaigns, each with its provider and the operations it supports."""

from aws_lambda_powertools.event_handler import Response

from hub.domain import operations
from hub.domain.models import CampaignSummary, ItemsOfCampaign
from hub.edge import api, handlers
from hub.providers.program import program_type
from hub.settings.config import load_config

app = api.make_app()


@app.get("/campaigns")
def list_campaigns() -> Response:
    """Every campaign of the configuration, in its order, with its provider and the names of the
    registry operations whose program method its provider's program class has (``supports``), in the
    registry's order: the API's and the scheduled tasks' (``listParticipants``, ``listPendingRewards``).

    What a campaign supports is read from its program's class, so no provider key is read and no
    provider called. Operations that are no program's (``syncContact``, ``getContact``,
    ``deleteContact``, the imports and the operator's routes) are the same for every campaign and are
    not listed.
    """
    items = []
    for name, campaign in load_config().campaigns.items():
        program = program_type(name)
        supported = [
            op.name
            for op in operations.OPERATIONS.values()
            if op.program_method is not None and program.supports(op.program_method)
        ]
        items.append(CampaignSummary(name=name, provider=campaign.provider, operations=supported))
    return api.json_response(200, ItemsOfCampaign(items=items).to_wire())


lambda_handler = handlers.api(app)
