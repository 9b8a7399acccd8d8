"""GET /doctor: the configuration and every provider key checked, each finding in words to act on."""

from aws_lambda_powertools.event_handler import Response

from hub.edge import api, handlers
from hub.flows import doctor

app = api.make_app()


@app.get("/doctor")
def examine() -> Response:
    return api.json_response(200, doctor.examine().to_wire())


lambda_handler = handlers.api(app)
