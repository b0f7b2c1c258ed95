"""Who may do what, checked on the server at every door (docs/access.md: "Approvals and who may do
what"), day two's doors among them: one place, whichever listener asks.

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

    def may_be_handed_a_step(self, user: str) -> bool:
        """Whether a step of a connection (its public values with it) may be handed to
        `user`: full members only, not guests, deactivated users or people Slack won't say."""
        return self.directory.full_member(user) is True

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

    def refusal_to_rotate(self, user: str, owner: str, connection_id: int) -> str | None:
        """Why `user` may not rotate a connection owned by `owner`, or None: its owner or
        an approver, a full member, and (with approvals) not the only approver."""
        if self.directory.full_member(user) is not True:
            return "Only full members of this workspace can rotate a connection's key and secret."
        if user != owner and not self.is_approver(user):
            return (
                f"Only <@{owner}>, who owns connection #{connection_id}, or an approver "
                "can rotate its key and secret."
            )
        if self.needs_approval and self.approvers.members() == [user]:
            return (
                "You are the only approver, and nobody approves their own request: add another "
                "approver (APPROVERS) to rotate with approval."
            )
        return None

    def may_name_repairer(self, user: str) -> bool:
        """Approvers name who re-authorizes (an audited decision that can hand the connection
        to someone else); with no approvers set, nobody does: the owner re-authorizes."""
        return self.is_approver(user)

    def may_decide_move(self, user: str, *, asked_by: str, new_owner: str) -> bool:
        """Approvers decide a move (never one they asked for); with no approvers, the new
        connection's owner. A move's cards show their buttons by the same rule."""
        if self.needs_approval:
            return self.is_approver(user) and user != asked_by
        return user == new_owner

    @property
    def needs_approval(self) -> bool:
        return not self.approvers.everyone

    def is_approver(self, user: str) -> bool:
        """Listed in APPROVERS, or in a listed user group (never everyone)."""
        return self.needs_approval and self.approvers.includes(user)
