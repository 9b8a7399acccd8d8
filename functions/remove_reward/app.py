"""DELETE /campaigns/{campaign}/participants/{email}/rewards/{rewardId}: remove a reward not yet approved."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.idempotency import Outcome
from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.delete("/campaigns/<campaign>/participants/<email>/rewards/<reward_id>")
def remove_reward(campaign: str, email: str, reward_id: str) -> Response:
    email = api.path_email(email)
    program = program_for(campaign)
    return api.write(
        app,
        "removeReward",
        {"campaign": campaign, "email": email, "rewardId": reward_id},
        lambda: Outcome(200, program.remove_reward(email, reward_id).to_wire()),
        scope=campaign,
    )


lambda_handler = handlers.api(app)
