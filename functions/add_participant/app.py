"""POST /campaigns/{campaign}/participants: add a participant (201), or answer the existing one (200)."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.idempotency import Outcome
from hub.domain.models import AddedParticipant
from hub.domain.requests import AddParticipantRequest
from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.post("/campaigns/<campaign>/participants")
def add_participant(campaign: str) -> Response:
    request = api.parse_body(app, AddParticipantRequest)
    program = program_for(campaign)

    def action() -> Outcome:
        participant, created = program.add_participant(request)
        return Outcome(201 if created else 200, AddedParticipant.of(participant, created).to_wire())

    return api.write(app, "addParticipant", request, action, scope=campaign)


lambda_handler = handlers.api(app)
