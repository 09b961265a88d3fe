"""Mail servers for the email tests: see ``tests.channels.servers`` (shared with the
worker tests and the benchmark, which import these fixtures explicitly)."""

from tests.channels.servers import dovecot, mail_user, smtp_server  # noqa: F401
