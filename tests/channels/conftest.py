"""Mail servers for the email tests: Dovecot from ``tests.channels.servers`` (shared with
the worker tests and the benchmark, which import these fixtures explicitly) and the
suite's one SMTP server from ``tests.helpers.smtp``."""

from tests.channels.servers import dovecot, mail_user  # noqa: F401
from tests.helpers.smtp import smtp_server  # noqa: F401
