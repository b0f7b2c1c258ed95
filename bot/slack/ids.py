"""The callback and action ids the bot's views and buttons use, in one place."""

import re

COMMAND = "/connect-bitbucket"

# Views (callback_id).
REQUEST_VIEW = "connect_request"
CREDENTIALS_VIEW = "connect_credentials"
APPROVE_VIEW = "approve_connection"
DENY_VIEW = "deny_connection"

# Blocks of the request view (block_id; each holds one element with action_id "value").
ORGANIZATION = "organization"
ACCOUNT_KIND = "account_kind"
SERVICE_USERNAME = "service_username"
OWNERSHIP_ACK = "ownership_ack"
WORKSPACE = "workspace"
PROJECTS = "projects"
REASON = "reason"
BITBUCKET = "bitbucket"
DATA_CENTER_URL = "data_center_url"
# Blocks of the decision views.
COMMENT = "comment"
DENY_REASON = "deny_reason"
# Blocks of the credentials view.
ADD_ANOTHER = "add_another"
KEY = "key"
SECRET = "secret"
VALUE = "value"

# Buttons (action_id).
OPEN_BITBUCKET = "open_bitbucket"
ENTER_CREDENTIALS = "enter_credentials"
OPEN_CONSUMERS = "open_consumers"
CALLBACK_UPDATED = "callback_updated"
AUTHORIZE = "authorize"
RESEND_AUTHORIZE = "resend_authorize"
START_OVER = "start_over"
CANCEL = "cancel"
RESUME = "resume"
APPROVE = "approve"
DENY = "deny"
HOME_CONNECT = "home_connect"
RECONNECT = "reconnect"
RECONNECT_SERVICE = "reconnect_service"
REAUTHORIZE = "reauthorize"
OPEN_VCS_PROVIDERS = "open_vcs_providers"
REPAIR_AUTHORIZE = "repair_authorize"

# The "who re-authorizes" modal (an approver names someone).
REPAIR_VIEW = "name_repairer"
REPAIRER = "repairer"
REPAIR_USERNAME = "repair_username"

# Rotating a connection's key and secret.
ROTATE = "rotate"
ROTATE_ENTER = "rotate_enter"
APPROVE_ROTATION = "approve_rotation"
DENY_ROTATION = "deny_rotation"
ROTATE_REQUEST_VIEW = "rotate_request"
ROTATE_VIEW = "rotate_credentials"
ROTATE_KEYS_VIEW = "rotate_keys"  # Bitbucket Data Center: the bot makes the new keys
ROTATE_WHY = "rotate_why"

# Bitbucket Data Center: the application link and the token's SSH key.
OPEN_APPLICATION_LINKS = "open_application_links"
LINK_CREATED = "link_created"
LINK_HELPER = "link_helper"  # a users_select; its block_id carries the connection id
OPEN_SSH_KEYS = "open_ssh_keys"
SSH_KEY_ADDED = "ssh_key_added"

# A connection as Terraform code (status).
AS_TERRAFORM = "as_terraform"

# Moving what used an old client to a new connection.
MOVE_START = "move_start"
MOVE_CANCEL = "move_cancel"
DELETE_OLD_CLIENT = "delete_old_client"
REPUBLISH = "republish_modules"
REPUBLISH_VIEW = "republish_modules_confirm"


def numbered(action_id: str) -> re.Pattern[str]:
    """The action_id alone, or with a connection's number (buttons in status lists)."""
    return re.compile(rf"^{re.escape(action_id)}(:[0-9]+)?$")
