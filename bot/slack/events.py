"""Events: App Home opened."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.slack.deps import SlackDeps


def on_app_home_opened(ack: Ack, event: dict[str, Any], deps: SlackDeps) -> None:
    """Publish the Home tab when someone opens it (after the ack: it reads the database)."""
    ack()
    if event.get("tab") != "home" or not event.get("user"):
        return
    deps.work.submit("publishing App Home", lambda: deps.overview.publish_home(event["user"]))


def register(app: App) -> None:
    app.event("app_home_opened")(on_app_home_opened)
