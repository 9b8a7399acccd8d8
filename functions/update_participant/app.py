"""PATCH /campaigns/{campaign}/participants/{email}: change a participant's names, email, metadata or referrer."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.idempotency import Outcome
from hub.domain.requests import UpdateParticipantRequest
from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.patch("/campaigns/<campaign>/participants/<email>")
def update_participant(campaign: str, email: str) -> Response:
    email = api.path_email(email)
    request = api.parse_body(app, UpdateParticipantRequest)
    program = program_for(campaign)
    # The participant is part of what an Idempotency-Key stands for: the same key on another one is a reuse.
    payload = {**request.model_dump(mode="json"), "participant": email}
    return api.write(
        app,
        "updateParticipant",
        payload,
        lambda: Outcome(200, program.update_participant(email, request).to_wire()),
        scope=campaign,
    )


lambda_handler = handlers.api(app)
