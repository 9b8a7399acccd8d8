"""GET /deadletters: each bulk operation's dead-letter queue, its count and its first messages with
their errors (?operation= picks one, ?limit= sets how many messages)."""

from aws_lambda_powertools.event_handler import Response

from hub.edge import api, handlers
from hub.flows import deadletters

app = api.make_app()


@app.get("/deadletters")
def list_dead_letters() -> Response:
    operation = app.current_event.get_query_string_value("operation")
    limit = api.query_int(app, "limit", default=10, minimum=0, maximum=deadletters.PEEK_MAX)
    return api.json_response(200, deadletters.list_dead_letters(operation, limit=limit))


lambda_handler = handlers.api(app)
