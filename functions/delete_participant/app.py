"""DELETE /campaigns/{campaign}/participants/{email}: remove the participant at its provider; with
?contact=true also its Loops contact (erasure)."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.idempotency import Outcome
from hub.edge import api, handlers
from hub.flows.contacts import erase
from hub.providers.program import program_for

app = api.make_app()


@app.delete("/campaigns/<campaign>/participants/<email>")
def delete_participant(campaign: str, email: str) -> Response:
    email = api.path_email(email)
    contact = api.query_flag(app, "contact")
    program = program_for(campaign)
    return api.write(
        app,
        "deleteParticipant",
        {"campaign": campaign, "email": email, "contact": contact},
        lambda: Outcome(200, erase(program, email, contact=contact).to_wire()),
        scope=campaign,
    )


lambda_handler = handlers.api(app)
