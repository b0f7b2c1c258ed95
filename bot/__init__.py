"""connect-bitbucket: a Slack bot that connects Bitbucket Cloud to Terraform as a VCS provider."""
