"""The bot token scopes the bot needs: exactly those app_manifest.yaml asks for."""

BOT_SCOPES = (
    "commands",  # the slash command
    "chat:write",  # progress messages, notices, direct messages
    "chat:write.public",  # posting in public channels the bot has not joined
    "im:write",  # opening direct messages with owners and approvers
    "im:history",  # the bot's own DMs: a card Slack took whose answer was lost
    "users:read",  # time zones; guests, bots and deactivated users
    "usergroups:read",  # members of user groups in ALLOWED_USERS and APPROVERS
)
