"""Tables: connections, their audit trail, and the Slack deliveries already handled."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from bot.connections.columns import Base, UTCDateTime, stored_as_text
from bot.connections.states import FINAL, SETTLED, State

OPEN_PREDICATE = "state NOT IN ({})".format(
    ", ".join(f"'{s.value}'" for s in sorted(FINAL | SETTLED))
)
# Connections that ended or settled: status's "recently finished".
FINISHED_PREDICATE = "state IN ({})".format(
    ", ".join(f"'{s.value}'" for s in sorted(FINAL | SETTLED))
)
SETTLED_PREDICATE = "state IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(SETTLED)))
# The lanes of due work: bulk is the health checks of settled connections; people's is the
# rest, and a settled connection being re-authorized (someone waits for the new token).
BULK_PREDICATE = f"{SETTLED_PREDICATE} AND repair_started_at IS NULL"
PEOPLE_PREDICATE = f"NOT ({SETTLED_PREDICATE}) OR repair_started_at IS NOT NULL"


class HealthOutcome(StrEnum):
    """What the last health check found when Terraform was asked to use the token."""

    WORKS = "works"  # Terraform read repositories through it
    SEES_NOTHING = "sees_nothing"  # it works, but its account sees no repository
    REFUSED = "refused"  # Bitbucket refused it (broken after two refusals)
    UNREACHABLE = "unreachable"  # could not check: Terraform timed out, rate-limited, 5xx
    EXISTENCE_ONLY = "existence"  # this Terraform cannot test tokens: existence watched


class Bitbucket(StrEnum):
    """Which Bitbucket the connection reaches."""

    CLOUD = "cloud"
    DATA_CENTER = "data_center"

    @property
    def words(self) -> str:
        return "Bitbucket Cloud" if self is Bitbucket.CLOUD else "Bitbucket Data Center"


class AccountKind(StrEnum):
    """Whose Bitbucket account owns the connection."""

    SERVICE_ACCOUNT = "service_account"
    PERSONAL = "personal"


class Connection(Base):
    """One attempt to connect a TFE organization to Bitbucket Cloud, owned by one Slack user."""

    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The Slack request that started it; unique so a replayed submission cannot make two.
    request_ref: Mapped[str] = mapped_column(String(255), unique=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    owner_id: Mapped[str] = mapped_column(String(32), index=True)
    organization: Mapped[str] = mapped_column(String(255))
    account_kind: Mapped[AccountKind] = mapped_column(stored_as_text(AccountKind))
    bitbucket_username: Mapped[str | None] = mapped_column(String(255))
    bitbucket_workspace: Mapped[str | None] = mapped_column(String(255))
    # Bitbucket Cloud, or a Data Center at `data_center_url` (one of BITBUCKET_DC_URL) and
    # the version it said it was.
    bitbucket: Mapped[Bitbucket] = mapped_column(
        stored_as_text(Bitbucket), default=Bitbucket.CLOUD, server_default="cloud"
    )
    data_center_url: Mapped[str | None] = mapped_column(String(255))
    data_center_version: Mapped[str | None] = mapped_column(String(40))
    # Data Center: the application link's consumer key and public key, and the public half of
    # the token's SSH key. Public values, for people to paste; the private halves went to
    # Terraform only.
    consumer_key: Mapped[str | None] = mapped_column(String(255))
    link_public_key: Mapped[str | None] = mapped_column(Text)
    ssh_public_key: Mapped[str | None] = mapped_column(Text)
    # The colleague (a Bitbucket administrator) the owner handed the application link to:
    # they, and the owner, may say it is done.
    link_helper: Mapped[str | None] = mapped_column(String(32))
    # The token `ssh_public_key`'s private half was given to: a new token (re-authorized)
    # gets a key of its own.
    ssh_key_token: Mapped[str | None] = mapped_column(String(64))
    # Limited to these Terraform projects (ids and names, comma-separated); None: the
    # whole organization.
    project_ids: Mapped[str | None] = mapped_column(Text)
    project_names: Mapped[str | None] = mapped_column(Text)
    state: Mapped[State] = mapped_column(stored_as_text(State), index=True)
    # The state before the connection ended, so an ended one can say where it stopped.
    last_open_state: Mapped[State | None] = mapped_column(stored_as_text(State))
    status_note: Mapped[str | None] = mapped_column(Text)
    # Why the requester needs it (asked when APPROVERS is set), and the approvers' decision.
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)

    progress_channel: Mapped[str | None] = mapped_column(String(32))
    progress_ts: Mapped[str | None] = mapped_column(String(32))
    owner_dm_channel: Mapped[str | None] = mapped_column(String(32))
    authorize_message_ts: Mapped[str | None] = mapped_column(String(32))

    # Chosen at start so the callback URL (<TFE_URL>/auth/<uuid>/callback) is known before the
    # consumer exists; every create attempt sends the same one.
    client_uuid: Mapped[str | None] = mapped_column(String(36))
    # TFE answered with another callback URL than the one shown in step 1 (it ignored the
    # uuid), so the owner must paste TFE's into the consumer.
    callback_differs: Mapped[bool] = mapped_column(Boolean, default=False)
    oauth_client_id: Mapped[str | None] = mapped_column(String(64))
    oauth_client_name: Mapped[str | None] = mapped_column(String(255))
    callback_url: Mapped[str | None] = mapped_column(Text)
    connect_path: Mapped[str | None] = mapped_column(Text)
    oauth_token_id: Mapped[str | None] = mapped_column(String(64))
    authorized_as: Mapped[str | None] = mapped_column(String(255))

    # The owner chose to add a Bitbucket client although the organization already has one.
    duplicates_acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    # Non-blocking findings of the consumer check (repositories without admin, …), one a line.
    check_warnings: Mapped[str | None] = mapped_column(Text)
    authorize_hint_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The owner's IANA time zone from Slack, so reminders wait out their night.
    owner_tz: Mapped[str | None] = mapped_column(String(64))

    # Set while one worker creates the OAuth client, so a second submission waits its turn.
    client_create_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The running bot (host:pid:suffix) that holds that claim; a restart frees a dead run's.
    client_create_owner: Mapped[str | None] = mapped_column(String(128))
    authorize_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Last time the connection moved forward; reminders count from here.
    progressed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # The health watch after "connected": when TFE was last asked, and what was wrong.
    health_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What uses the connection's token in Terraform, counted with the health check (the
    # list itself is in `dependents`); None until first counted.
    uses_workspaces: Mapped[int | None] = mapped_column(Integer)
    uses_policy_sets: Mapped[int | None] = mapped_column(Integer)
    uses_modules: Mapped[int | None] = mapped_column(Integer)
    dependents_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    health_note: Mapped[str | None] = mapped_column(Text)
    # Does the token work (Terraform asked to use it)? The last outcome, the refusals in a
    # row (two a minute apart: broken), and how many repositories Terraform read through it.
    health_outcome: Mapped[str | None] = mapped_column(String(16))  # HealthOutcome
    health_refusals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    health_refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    repos_seen: Mapped[int | None] = mapped_column(Integer)
    # The health watch found the OAuth client itself gone (not only its token): nothing can
    # be re-authorized, only replaced.
    client_gone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When TFE made the current token (its `created-at`, as TFE wrote it): a re-authorization
    # that keeps the token id shows as a newer one.
    oauth_token_created: Mapped[str | None] = mapped_column(String(64))
    # Re-authorization in place (day two): who was asked, as which Bitbucket account, why,
    # since when, and the token that was there then (a new id or a newer one ends it).
    repair_by: Mapped[str | None] = mapped_column(String(32))
    repair_username: Mapped[str | None] = mapped_column(String(255))
    repair_reason: Mapped[str | None] = mapped_column(String(32))
    repair_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    repair_from_token: Mapped[str | None] = mapped_column(String(64))
    repair_from_created: Mapped[str | None] = mapped_column(String(64))
    # Who was asked during this repair, and the last of them who opened the steps (owner next).
    repair_asked: Mapped[str | None] = mapped_column(Text)
    repair_clicked_by: Mapped[str | None] = mapped_column(String(32))
    # When the consumer's key and secret were last set in Terraform (ROTATE_EVERY counts
    # from here; the first connection counts as a setting).
    credentials_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A rotation of the consumer's key and secret (day two): who asked, why, where it stands
    # (awaiting approval or credentials; else how the last one ended; None: never asked).
    rotation_by: Mapped[str | None] = mapped_column(String(32))
    rotation_stage: Mapped[str | None] = mapped_column(String(32))  # rotations.RotationStage
    rotation_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rotation_reason: Mapped[str | None] = mapped_column(Text)
    rotation_decided_by: Mapped[str | None] = mapped_column(String(32))
    # Since when one submission holds the rotation while its PATCH is out (one per approval).
    rotation_sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # What is due lives here: the sweep reads only rows whose time has come.
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    events: Mapped[list[ConnectionEvent]] = relationship(
        back_populates="connection", order_by="ConnectionEvent.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_connections_next_due_at", "next_due_at"),
        # One index per lane of due work, so neither is read past the other's backlog.
        Index(
            "ix_connections_due_people",
            "next_due_at",
            sqlite_where=text(PEOPLE_PREDICATE),
            postgresql_where=text(PEOPLE_PREDICATE),
        ),
        Index(
            "ix_connections_due_bulk",
            "next_due_at",
            sqlite_where=text(BULK_PREDICATE),
            postgresql_where=text(BULK_PREDICATE),
        ),
        Index("ix_connections_updated_at", "updated_at"),
        # The recently finished, newest first, without sorting every finished one.
        Index(
            "ix_connections_finished",
            "updated_at",
            sqlite_where=text(FINISHED_PREDICATE),
            postgresql_where=text(FINISHED_PREDICATE),
        ),
        Index("ix_connections_organization", text("lower(organization)")),
        # At most one unfinished connection per organization, even when two people start
        # one at the same instant on two replicas.
        # Terraform compares organization names without regard to case: so does this index.
        Index(
            "uq_connections_open_organization",
            text("lower(organization)"),
            unique=True,
            sqlite_where=text(OPEN_PREDICATE),
            postgresql_where=text(OPEN_PREDICATE),
        ),
    )

    @property
    def wrong_account(self) -> bool:
        """Authorized by another Bitbucket user than the service account named in the form:
        the connection is then tied to that person, not the service account."""
        return bool(
            self.account_kind == AccountKind.SERVICE_ACCOUNT
            and self.bitbucket_username
            and self.authorized_as
            and self.authorized_as.lower() != self.bitbucket_username.lower()
        )

    @property
    def which_bitbucket(self) -> Bitbucket:
        """Which Bitbucket, also on a row not yet stored (the column's default is the
        database's)."""
        return self.bitbucket or Bitbucket.CLOUD

    @property
    def data_center(self) -> bool:
        """Reaches a Bitbucket Data Center (application link, SSH key), not Bitbucket Cloud."""
        return self.bitbucket == Bitbucket.DATA_CENTER

    @property
    def token_needs_ssh_key(self) -> bool:
        """A Data Center token Terraform holds without the bot having given it an SSH key."""
        return bool(
            self.data_center and self.oauth_token_id and self.ssh_key_token != self.oauth_token_id
        )

    @property
    def repairing(self) -> bool:
        """Someone was asked to re-authorize it and the bot watches for the new token."""
        return self.repair_started_at is not None

    @property
    def announce_channel(self) -> str:
        """Where the channel hears of it: its progress message's channel, or the one it was
        started from until that message exists."""
        return self.progress_channel or self.channel_id

    @property
    def rests_on_a_person(self) -> bool:
        """Owned by someone's own account, or (wrong account) in effect so."""
        return self.account_kind == AccountKind.PERSONAL or self.wrong_account

    @property
    def with_callback_step(self) -> bool:
        """Whether the owner has a separate "paste the callback URL" step: only when the
        callback URL was not known up front (no uuid) or TFE gave another one."""
        return self.client_uuid is None or self.callback_differs


class ConnectionEvent(Base):
    """The audit trail: who moved which connection from which state to which, and when."""

    __tablename__ = "connection_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[State | None] = mapped_column(stored_as_text(State))
    to_state: Mapped[State] = mapped_column(stored_as_text(State))
    note: Mapped[str | None] = mapped_column(Text)

    connection: Mapped[Connection] = relationship(back_populates="events")

    # The audit export reads the trail in this order, streamed.
    __table_args__ = (Index("ix_connection_events_at_id", "at", "id"),)


class ConnectionNotice(Base):
    """A reminder, escalation or clean-up notice sent about a connection: when, to whom.

    One row per (connection, kind, slot): inserting it is how a replica claims the right to
    send, so no interval is ever reminded twice.
    """

    __tablename__ = "connection_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recipients: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("connection_id", "kind", "slot_at"),)


class OwedMessage(Base):
    """A Slack message owed because of a state change, written in the same transaction.

    Deleted once Slack took it; until then any replica's sweep may send it (rendered from
    the connection as it is then, so a late message is never stale).
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # What the message needs beyond the connection (the clean-up summary of an ending).
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the sweep may take it: a moment after the commit (the committing process sends
    # it at once), later after each failure.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SlackDelivery(Base):
    """A Slack request already handled; a second delivery with the same key is a duplicate."""

    __tablename__ = "slack_deliveries"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class MemberChange(Base):
    """A change in who is a full member of the Slack workspace, as one replica heard it from
    Slack's events; every replica's member directory reads the last few minutes' rows."""

    __tablename__ = "member_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    full_member: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class MemberList(Base):
    """One read of Slack's member list: which replica reads it (one per interval), and when
    it finished; its people are in member_list_entries."""

    __tablename__ = "member_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger, unique=True)
    read_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    floor: Mapped[int] = mapped_column(Integer)


class MemberListEntry(Base):
    __tablename__ = "member_list_entries"

    list_id: Mapped[int] = mapped_column(ForeignKey("member_lists.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    full_member: Mapped[bool] = mapped_column(Boolean)


def same_organization(name: str) -> ColumnElement[bool]:
    """Rows of this organization, its name compared as Terraform compares names (any case)."""
    return func.lower(Connection.organization) == name.lower()


class RateWindow(Base):
    """How many calls to one service all replicas took in one second (one shared token's
    rate limit is shared by every replica that uses it)."""

    __tablename__ = "rate_windows"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Which window: Unix time times the windows a second (bot/shared_rate.py), whole.
    second: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class RateBucket(Base):
    """A token bucket every replica takes its turns from: Slack's tiers are the app's, so
    the replicas together spend one bucket (bot/connections/rate_buckets.py)."""

    __tablename__ = "rate_buckets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    tokens: Mapped[float] = mapped_column(Double)
    # Unix time the tokens were counted at (the clock every replica shares).
    at: Mapped[float] = mapped_column(Double)


class Dependent(Base):
    """A workspace, policy set or registry module that used a connection's OAuth token when
    last counted. Kept when the client is deleted (Terraform then unlinks them all): this
    list is then the only record of what to relink."""

    __tablename__ = "dependents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    tfe_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str | None] = mapped_column(String(255))
    branch: Mapped[str | None] = mapped_column(String(255))
    oauth_token_id: Mapped[str | None] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str | None] = mapped_column(String(64))  # a registry module's

    __table_args__ = (UniqueConstraint("connection_id", "kind", "tfe_id"),)


# The move tables share Base; importing them here registers them wherever the model is used.
from bot.connections import card_tables, move_tables  # noqa: E402, F401
