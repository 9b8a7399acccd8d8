"""`make bench` (scheduled tasks part): what one run of the referral stats sync costs for a GrowSurf
campaign of 10,000 participants, first with nothing synced yet, then with 1% of them changed, then with
nothing changed: provider calls, Loops writes, DynamoDB operations and wall time.

The task and the syncContact consumer run in this process, invoked the way Lambda invokes them, with
AWS in moto (in-process) and the providers in their sandboxes, at the hub's documented rate limits
(GrowSurf 30 requests per 5 s, Loops 10 per second). DynamoDB operations are counted on every botocore
call this process makes. The first run's 10,000 upserts are queued but not sent (sending them takes
1,000 s at Loops' limit, and measures the consumer, not the task): SQS accepts them and drops them
(moto's queue slows down with every message it holds, which SQS does not).

Writes a Markdown section on stdout; `bench/run.py` collects the sections into docs/benchmarks.md.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import requests
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers/hub/python"), str(ROOT)]

from local.aws import create_queues, create_tables  # noqa: E402
from local.events import sqs_record  # noqa: E402
from local.gateway import Functions  # noqa: E402
from local.sandbox.growsurf import GrowSurfSandbox  # noqa: E402
from local.sandbox.loops import LoopsSandbox  # noqa: E402
from local.template import load  # noqa: E402

PARTICIPANTS = int(os.environ.get("BENCH_SYNC_PARTICIPANTS", "10000"))
CHANGED_PAIRS = PARTICIPANTS // 200  # each pair is two contacts: 1% of the campaign
CAMPAIGN = "bench-growsurf"

# Every AWS call of this process, by service and operation.
calls: Counter[tuple[str, str]] = Counter()
_calls_lock = threading.Lock()
# While set, SQS accepts every message sent and keeps none.
dropping_sends = threading.Event()


def _count_calls() -> None:
    original = botocore.client.BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: Any) -> Any:
        service = self.meta.service_model.service_name
        with _calls_lock:
            calls[(service, operation_name)] += 1
        if service == "sqs" and operation_name == "SendMessageBatch" and dropping_sends.is_set():
            return {"Successful": [{"Id": entry["Id"]} for entry in api_params["Entries"]], "Failed": []}
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]


@contextmanager
def sends_dropped() -> Iterator[None]:
    dropping_sends.set()
    try:
        yield
    finally:
        dropping_sends.clear()


@contextmanager
def measured() -> Iterator[dict[str, Any]]:
    """The DynamoDB operations, provider calls and seconds of what runs inside."""
    before_calls = Counter(calls)
    result: dict[str, Any] = {}
    started = time.monotonic()
    yield result
    result["seconds"] = time.monotonic() - started
    result["dynamodb"] = Counter(
        {op: n - before_calls.get(("dynamodb", op), 0) for (service, op), n in calls.items() if service == "dynamodb"}
    )
    result["dynamodb"] = +result["dynamodb"]


class Bench:
    def __init__(self, workdir: Path):
        self.growsurf = GrowSurfSandbox()
        self.loops = LoopsSandbox()
        config = workdir / "hub.toml"
        config.write_text(
            f'[campaigns.{CAMPAIGN}]\nprovider = "growsurf"\ncampaign_id = "{self.growsurf.campaign_id}"\n'
            f'key = {{ value = "{self.growsurf.api_key}" }}\n\n'
            f'[contacts]\nprovider = "loops"\nkey = {{ value = "{self.loops.api_key}" }}\n'
        )
        os.environ.update(
            {
                "HUB_CONFIG": str(config),
                "GROWSURF_API_URL": self.growsurf.start(),
                "LOOPS_API_URL": self.loops.start(),
                "AWS_DEFAULT_REGION": "us-east-1",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "ERROR",
            }
        )
        self.template = load()
        create_tables(self.template, boto3.client("dynamodb"))
        queues = create_queues(self.template, boto3.client("sqs"))
        physical = {name: name for name in self.template.tables()} | {name: url for name, (url, _) in queues.items()}
        for name, value in self.template.environment(physical).items():
            os.environ.setdefault(name, value)
        self.queue_url, self.queue_arn = queues["SyncContactQueue"]
        self.functions = Functions(self.template)
        self.sqs = boto3.client("sqs")

    def stop(self) -> None:
        self.growsurf.stop()
        self.loops.stop()

    def run_sync(self, event_id: str) -> dict[str, Any]:
        event = {"id": event_id, "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
        return dict(self.functions.invoke(self.template.functions["SyncReferralStatsFunction"], event))

    def drain(self) -> int:
        """Hand the queued rows to the syncContact consumer, ten at a time, until none is left."""
        consumer = self.template.functions["SyncContactConsumerFunction"]
        rows = 0
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return rows
            answer = self.functions.invoke(consumer, {"Records": [sqs_record(m, self.queue_arn) for m in messages]})
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
            for message in messages:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                    rows += 1

    def change_one_percent(self) -> None:
        """Credit each of the first participants with a referral of one of the last ones: the referrer's
        count and the referred one's referrer change (two contacts a pair), and no rank moves, since the
        referrers rank first already (equal counts rank in sign-up order)."""
        headers = {"Authorization": f"Bearer {self.growsurf.api_key}"}
        base = f"{os.environ['GROWSURF_API_URL']}/campaign/{self.growsurf.campaign_id}/participant"
        for n in range(CHANGED_PAIRS):
            answer = requests.post(
                f"{base}/{email(PARTICIPANTS - 1 - n)}",
                json={"referredBy": email(n), "referralStatus": "CREDIT_AWARDED"},
                headers=headers,
                timeout=30,
            )
            answer.raise_for_status()


def email(n: int) -> str:
    return f"member-{n:05d}@example.com"


def growsurf_calls(bench: Bench, action: Callable[[], Any]) -> tuple[Any, int, int]:
    """``action``'s result, and the GrowSurf and Loops requests made meanwhile."""
    growsurf, loops = len(bench.growsurf.received), len(bench.loops.received)
    result = action()
    return result, len(bench.growsurf.received) - growsurf, len(bench.loops.received) - loops


def dynamodb_total(counts: Counter[str]) -> int:
    return sum(counts.values())


def describe(counts: Counter[str]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items(), key=lambda item: -item[1]))


def main() -> None:
    _count_calls()
    rows: list[str] = []
    details: list[str] = []
    with tempfile.TemporaryDirectory() as workdir, mock_aws():
        bench = Bench(Path(workdir))
        try:
            bench.growsurf.seed_participants(
                {"email": email(n), "firstName": f"Member {n}"} for n in range(PARTICIPANTS)
            )
            scenarios = [("first run, nothing synced yet", None), ("1% changed", bench.change_one_percent)]
            scenarios.append(("nothing changed", None))
            for number, (name, change) in enumerate(scenarios, start=1):
                if change is not None:
                    change()
                run = sends_dropped() if number == 1 else nullcontext()
                with run, measured() as task:
                    summary, provider_calls, _ = growsurf_calls(bench, lambda n=number: bench.run_sync(f"bench-{n}"))
                totals = summary["totals"]
                if number == 1:
                    sent, loops_calls, consumer = 0, 0, {"seconds": 0.0, "dynamodb": Counter()}
                else:
                    with measured() as consumer:
                        sent, _, loops_calls = growsurf_calls(bench, bench.drain)
                loops_writes = f"{totals['queued']:,} queued, not sent" if number == 1 else f"{loops_calls:,}"
                rows.append(
                    f"| {name} | {totals['read']:,} | {totals['changed']:,} | {provider_calls} | {loops_writes} "
                    f"| {dynamodb_total(task['dynamodb']):,} | {dynamodb_total(consumer['dynamodb']):,} "
                    f"| {task['seconds']:.1f} | {task['seconds'] + consumer['seconds']:.1f} |"
                )
                details.append(f"- {name}: task: {describe(task['dynamodb'])}")
                if number > 1:
                    details.append(f"  consumer ({sent} rows): {describe(consumer['dynamodb']) or 'none'}")
        finally:
            bench.stop()
    lines = [
        "## Scheduled referral stats sync",
        "",
        f"One run of the stats sync over a GrowSurf campaign of {PARTICIPANTS:,} participants (100 to a",
        "page), at the hub's documented limits (GrowSurf 30 requests per 5 s, Loops 10 per second), with",
        "AWS in moto in-process; the task and the syncContact consumer are invoked as Lambda would invoke",
        f'them. In "1% changed", {CHANGED_PAIRS} early participants were each credited at GrowSurf with a',
        f"referral of a late one: {2 * CHANGED_PAIRS} contacts change, and no rank moves. Provider calls are",
        "GrowSurf's; Loops writes are the upserts Loops received; DynamoDB operations are counted on every",
        "botocore call (the shared rate limiter's UpdateItem for each provider and Loops call included).",
        "The task's time is mostly GrowSurf's limit (a page every 167 ms). The first run's upserts are",
        "queued, not sent (that is the consumer's work: at Loops' limit, 1,000 s).",
        "",
        "| run | participants read | contacts changed | provider calls | Loops writes "
        "| DynamoDB ops (task) | DynamoDB ops (consumer) | task (s) | until Loops has all (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        "DynamoDB operations by kind:",
        "",
        *details,
        "",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
