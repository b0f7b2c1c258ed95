"""`make demo`: the whole flow on this machine, with no Slack app and no network.

The real bot (its WSGI app, database, scheduler and outbox) runs against the simulated Slack,
Terraform and Bitbucket the tests use, all on loopback. A scripted person asks for a
connection, an approver approves, the owner enters the consumer's Key and Secret and
authorizes; later the token disappears in Terraform, the health watch notices, and someone
authorizes again. What the people and the channel read is printed as it arrives.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.logs import setup_logging  # noqa: E402
from tests.fakes.bitbucket import FakeBitbucket  # noqa: E402
from tests.fakes.slack import FakeSlack, SlackDriver  # noqa: E402
from tests.fakes.tfe import FakeTFE  # noqa: E402
from tests.flow.steps import (  # noqa: E402
    CHANNEL,
    KEY,
    OWNER,
    SECRET,
    SERVICE,
    approve,
    credentials_form,
    open_form,
)
from tests.harness import RunningBot, bot_env, eventually  # noqa: E402

LEAD = "U9LEAD"
NAMES = {OWNER: "jane", LEAD: "lead", CHANNEL: "#platform"}
ORG = "acme-infra"


def who(slack_id: str) -> str:
    if slack_id.startswith("D") and slack_id[1:] in NAMES:
        return f"DM to @{NAMES[slack_id[1:]]}"
    return NAMES.get(slack_id, slack_id)


def plain(text: str) -> str:
    """mrkdwn as a person reads it: mentions as names, links as their words."""
    text = re.sub(r"<@([A-Z0-9]+)>", lambda m: "@" + NAMES.get(m.group(1), m.group(1)), text)
    text = re.sub(r"<([^|>]+)\|([^>]+)>", r"\2", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r"\*([^*\n]+)\*", r"\1", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r":[a-z0-9_+-]+: ?", "", text)


def rendered(blocks: Any, text: str = "") -> list[str]:
    """Blocks as lines of text, buttons in [brackets]."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks or "[]")
    lines: list[str] = []
    for block in blocks or []:
        kind = block.get("type")
        if kind in ("section", "header") and isinstance(block.get("text"), dict):
            lines += plain(block["text"]["text"]).splitlines()
        if kind == "section":
            for field in block.get("fields") or []:
                lines += plain(field.get("text", "")).splitlines()
        if kind == "context":
            lines += [plain(e.get("text", "")) for e in block.get("elements", []) if "text" in e]
        if kind == "actions":
            labels = [e["text"]["text"] for e in block.get("elements", []) if "text" in e]
            lines.append("  ".join(f"[{label}]" for label in labels))
        if kind == "input":
            lines.append(f"<{block.get('label', {}).get('text', '')}>")
    return [line for line in lines if line.strip()] or plain(text).splitlines()


class Transcript:
    """Prints what the bot sends to Slack, as it arrives."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.seen = 0
        self.lock = threading.RLock()

    def say(self, line: str) -> None:
        with self.lock:
            print(line, flush=True)

    def settle(self, quiet: float = 0.4, longest: float = 5.0) -> None:
        """Print everything the bot sent until it has been quiet for a moment."""
        deadline = time.monotonic() + longest
        while time.monotonic() < deadline:
            with self.fake.lock:
                pending = len(self.fake.calls) > self.seen
            if not pending:
                time.sleep(quiet)
                with self.fake.lock:
                    if len(self.fake.calls) == self.seen:
                        return
            self.flush()

    def flush(self) -> None:
        with self.lock, self.fake.lock:
            calls = self.fake.calls[self.seen :]
            self.seen += len(calls)
            for method, args in calls:
                self._show(method, args)

    def _show(self, method: str, args: dict[str, Any]) -> None:
        if method == "chat.postMessage":
            head = f"  ┌ {who(str(args.get('channel')))}"
        elif method == "chat.update":
            head = f"  ┌ {who(str(args.get('channel')))} (a message updated in place)"
        elif method == "chat.postEphemeral":
            head = f"  ┌ {who(str(args.get('channel')))}, only @{who(str(args.get('user')))} sees"
        elif method in ("views.open", "views.update", "views.push"):
            view = args.get("view")
            view = json.loads(view) if isinstance(view, str) else view or {}
            title = (view.get("title") or {}).get("text", "")
            head = f"  ┌ a form opens: {title}"
            args = {"blocks": view.get("blocks", [])}
        else:
            return
        body = rendered(args.get("blocks"), str(args.get("text") or ""))
        print(head + "\n" + "\n".join(f"  │ {line}" for line in body[:14]) + "\n  └", flush=True)


def main() -> int:
    started = time.monotonic()
    setup_logging("CRITICAL")  # the transcript is the output; the bot's own log is elsewhere
    slack_fake, tfe, bitbucket = FakeSlack().start(), FakeTFE().start(), FakeBitbucket().start()
    tfe.add_organization(ORG)
    bitbucket.add_consumer(KEY, SECRET, owner="svc-terraform")
    bitbucket.add_repositories("acme-team", ["network", "dns", "iam"], **{"svc-terraform": "admin"})
    folder = tempfile.mkdtemp(prefix="connect-bitbucket-demo-")
    env = bot_env(
        slack_url=slack_fake.url,
        tfe_url=tfe.url,
        bitbucket_url=bitbucket.url,
        database_url=f"sqlite:///{folder}/demo.db",
        APPROVERS=LEAD,
        HEALTH_EVERY="1",
    )
    bot = RunningBot.from_env(env)
    transcript = Transcript(slack_fake)
    slack = SlackDriver(slack_fake, bot.url)

    def step(line: str) -> None:
        transcript.settle()
        transcript.say(line)

    try:
        step("\n▶ @jane types  /connect-bitbucket acme-infra  in #platform")
        form = open_form(slack)
        step(
            "▶ @jane picks the shared service account svc-terraform, workspace acme-team, "
            "says why, and presses Submit"
        )
        values = {**SERVICE, "Why is this connection needed?": "Our modules move to Bitbucket."}
        slack.submit(form, values)
        slack.wait_for_view_text(OWNER, "waits for an approver")
        step("▶ @lead presses Approve on the card, adds no comment, and submits")
        approve(slack)
        step(
            "▶ @jane creates the OAuth consumer in Bitbucket with the values shown, presses "
            "Enter Key and Secret, and pastes them"
        )
        slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
        slack.wait_for_view_text(OWNER, "OAuth client created")
        step("▶ @jane presses Authorize, and grants access in Bitbucket")
        slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize"))
        eventually(lambda: bot.runtime.service.get(1).authorize_clicked_at is not None)
        client = tfe.bitbucket_clients(ORG)[0]
        tfe.authorize(client.id)
        eventually(lambda: bot.runtime.service.get(1).state == "connected", timeout=20)
        step("\n▶ Weeks later, someone deletes the OAuth token in Terraform")
        with tfe.lock:
            tfe.clients[client.id].tokens.clear()
        eventually(lambda: bot.runtime.service.get(1).state == "broken", timeout=20)
        step("▶ The service account's keeper authorizes again in Terraform")
        tfe.authorize(client.id)
        eventually(lambda: bot.runtime.service.get(1).state == "connected", timeout=20)
        transcript.settle()
        step(
            f"\n✓ The whole flow in {time.monotonic() - started:.1f} s, on this machine: "
            "no Slack app, no network, the real bot against simulated services."
        )
        return 0
    finally:
        slack.http.close()
        bot.stop()
        for fake in (slack_fake, tfe, bitbucket):
            fake.stop()


if __name__ == "__main__":
    sys.exit(main())
