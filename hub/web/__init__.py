"""Page helpers shared by every area: one Jinja2 environment, language, error pages."""
