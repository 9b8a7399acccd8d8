"""Every path of the API, asked with a method it does not take: 405 ``METHOD_NOT_ALLOWED`` with an
``Allow`` header listing the path's methods (RFC 9110).

API Gateway answers a method a resource does not define as it answers an unknown path, so each path
of the template also has an ``ANY`` method served by this function; API Gateway prefers a path's
declared methods to ``ANY``, so only the others reach it. The methods named are the OpenAPI
document's for the resource the request matched (``event.resource``, the template path).
"""

from aws_lambda_powertools.event_handler import Response

from hub.edge import api, handlers

app = api.make_app()


@app.not_found
def method_not_allowed(_: Exception) -> Response:
    event = app.current_event
    error = api.method_not_allowed(event.http_method, event.resource, event.path)
    return api.error_response(error)


lambda_handler = handlers.api(app)
