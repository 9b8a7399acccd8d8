"""No key or secret in anything the hub logged during the whole test run.

The file name sorts last, so this runs after the other end-to-end tests and reads everything they
made the hub log (pytest runs files in name order within a directory).
"""

from __future__ import annotations

from local.run import Sandboxes

from .conftest import API_KEY, Hub


def test_no_key_or_secret_appears_in_the_hub_logs(hub: Hub, sandboxes: Sandboxes):
    # Given a run that made the hub log successes, validation errors, auth failures and provider faults
    hub.post("/campaigns/demo-growsurf/participants", {"email": "log-scan@example.com"})
    hub.post("/campaigns/demo-growsurf/participants", {"email": "bad"})
    hub.post("/campaigns/demo-growsurf/participants", {"email": "x@example.com"}, key="wrong-key")
    sandboxes.loops.inject(401, body={"success": False, "message": "Invalid API key"})
    hub.post("/contacts/sync", {"email": "log-scan@example.com"})
    log = hub.log_path.read_text(errors="replace")
    # Then the log is not empty, and holds none of the provider keys nor the hub's API key
    assert "log-scan@example.com" in log or len(log) > 1000
    secrets = [sandbox.api_key for sandbox in sandboxes.all.values()] + [API_KEY]
    leaked = [secret for secret in secrets if secret in log]
    assert leaked == []
