"""The yardstick for cold imports: a minimal Powertools API handler with the same decorators and
idempotency as the hub's functions, and nothing of the hub."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

logger = Logger()
metrics = Metrics()
tracer = Tracer()
app = APIGatewayRestResolver()
config = IdempotencyConfig(event_key_jmespath="key")
store = DynamoDBPersistenceLayer(table_name="IdempotencyTable")


@idempotent_function(data_keyword_argument="request", persistence_store=store, config=config)
def write(request: dict) -> dict:
    return request


@app.post("/items")
def create() -> dict:
    return write(request={"key": "k"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)
