"""Events: App Home opened; a person joined or changed (who is a full member)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.deps import SlackDeps
from bot.slack.directory import belongs_here

log = logging.getLogger(__name__)


def on_app_home_opened(ack: Ack, event: dict[str, Any], deps: SlackDeps) -> None:
    """Publish the Home tab when someone opens it (after the ack: it reads the database)."""
    ack()
    if event.get("tab") != "home" or not event.get("user"):
        return
    deps.work.submit("publishing App Home", lambda: deps.overview.publish_home(event["user"]))


def on_member_news(ack: Ack, event: dict[str, Any], context: BoltContext, deps: SlackDeps) -> None:
    """user_change and team_join carry the person as users.info would; the directory notes
    whether they are a full member (after the ack: it writes to the database). Someone of
    another team, or with an id Slack would not give, is not noted."""
    ack()
    person = event.get("user")
    installed = context.authorize_result
    if not isinstance(person, dict) or installed is None:
        return
    if not belongs_here(person, installed.team_id, installed.enterprise_id):
        log.info("ignored a member event about someone of another team or with a malformed id")
        return
    deps.work.submit("noting a member change", lambda: deps.directory.heard(person))


def register(app: App) -> None:
    app.event("app_home_opened")(on_app_home_opened)
    app.event("user_change")(on_member_news)
    app.event("team_join")(on_member_news)
