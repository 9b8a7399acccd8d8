"""``hub``: the command line of Referral Hub. It talks to the hub's HTTP API, local (``make run``) or
deployed, by URL and API key: bulk imports with a live progress bar, jobs, campaigns, participants,
erasure of people, Loops contacts and their syncs, the doctor and the dead-letter queues. docs/cli.md
documents every command and exit code.

This is client code: it never runs in Lambda and imports nothing of the hub's layer.
"""

__version__ = "1.0.0"
