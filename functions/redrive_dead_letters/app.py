"""POST /deadletters/redrive: put dead-letter messages back on their operation's queue, their rows
reopened so they count again (body optional: {"operation": ...} picks one queue)."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.idempotency import Outcome
from hub.domain.requests import RedriveRequest
from hub.edge import api, handlers
from hub.flows import deadletters

app = api.make_app()


@app.post("/deadletters/redrive")
def redrive() -> Response:
    event = app.current_event
    request = api.parse_body(app, RedriveRequest) if event.body else RedriveRequest()
    deadletters.selected(request.operation)  # an unknown operation is refused before anything moves
    return api.write(
        app,
        "redriveDeadLetters",
        request,
        lambda: Outcome(200, deadletters.redrive(request.operation)),
    )


lambda_handler = handlers.api(app)
