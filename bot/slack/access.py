"""Who may do what, checked on the server at every door (README: "Approvals and who may do what").

Starting a connection needs a person: never a Slack guest, a bot or a deactivated account,
and someone in ALLOWED_USERS when it is set. Deciding needs an approver who is not the
requester. Organizations outside ORGANIZATIONS are refused whoever asks.
"""

from __future__ import annotations

from bot.connections import validation
from bot.slack.audience import Audience
from bot.slack.directory import MemberDirectory

NOT_ALLOWED = (
    "You are not among the people who may connect Bitbucket here (ALLOWED_USERS). "
    "Ask whoever runs this bot to add you."
)
NOT_A_MEMBER = (
    "Only full members of this Slack workspace may connect Bitbucket here (not guests, "
    "bots or deactivated accounts). Ask a colleague who is a member, or whoever runs the bot."
)
ONLY_APPROVER = (
    "You are the only approver here (APPROVERS), and nobody approves their own request, so a "
    "connection you start could never be approved. Ask whoever runs the bot to add another "
    "approver or a user group, then run /connect-bitbucket again."
)
UNKNOWN_USER = (
    "Slack would not tell me who you are just now, so I can't let you start a connection. "
    "Try again in a minute."
)


class Access:
    """The rules; who is a full member comes from the member directory."""

    def __init__(
        self,
        *,
        allowed: Audience,
        approvers: Audience,
        organizations: tuple[str, ...],
        directory: MemberDirectory,
    ) -> None:
        self.directory = directory
        self.allowed = allowed
        self.approvers = approvers
        self.organizations = organizations

    def refusal_to_start(self, user: str) -> str | None:
        """Why `user` may not start a connection, or None when they may."""
        member = self.directory.full_member(user)
        if member is None:
            return UNKNOWN_USER
        if not member:
            return NOT_A_MEMBER
        if not self.allowed.includes(user):
            return NOT_ALLOWED
        if self.needs_approval and self.approvers.members() == [user]:
            return ONLY_APPROVER  # whatever they asked for could never be approved
        return None

    def may_see_others(self, user: str) -> bool:
        """Whether `user` may see other people's connections: approvers, and people who may
        start connections. Guests, deactivated users and people outside ALLOWED_USERS may
        not (they are told "not found", as for a connection that does not exist)."""
        return self.is_approver(user) or self.refusal_to_start(user) is None

    def may_see(self, user: str, owner: str) -> bool:
        """Whether `user` may see a connection owned by `owner`."""
        return user == owner or self.may_see_others(user)

    def organization_refusal(self, organization: str) -> str | None:
        """Why the bot will not touch this organization (ORGANIZATIONS), or None."""
        if validation.organization_allowed(organization, self.organizations):
            return None
        listed = ", ".join(self.organizations)
        return (
            f"This bot is set up to connect only these Terraform organizations: {listed}. "
            "Ask whoever runs the bot if you need another (setting ORGANIZATIONS)."
        )

    @property
    def needs_approval(self) -> bool:
        return not self.approvers.everyone

    def is_approver(self, user: str) -> bool:
        """Listed in APPROVERS, or in a listed user group (never everyone)."""
        return self.needs_approval and self.approvers.includes(user)
