"""Authentication, sessions, CSRF, access rules and the NEN 7513 audit log."""
