"""Bolt's App, handing every listener the bot's one Slack client.

Since slack_bolt 1.15, App builds a new WebClient for every request (reading the proxy
variables from the environment each time) in case a listener changes its token. Ours never
does, and listeners must use the bot's own client anyway (kept-alive connections, secrets
scrubbed in flight): building one to throw away was a few percent of a command's CPU.
"""

from __future__ import annotations

from slack_bolt import App, BoltRequest
from slack_bolt.logger import get_bolt_app_logger


class SharedClientApp(App):
    def _init_context(self, req: BoltRequest) -> None:
        # What App._init_context sets, with the app's client instead of a new one.
        req.context["logger"] = get_bolt_app_logger(
            app_name=self.name, base_logger=self._base_logger
        )
        req.context["token"] = self._token
        req.context["client"] = self._client
        req.context["listener_runner"] = self.listener_runner
