"""The arq worker, built from one ``Settings``.

Every job module exposes ``FUNCTIONS`` (and optionally ``CRON_JOBS``); jobs get the shared
``Resources`` as ``ctx["hub"]``. arq is at-least-once, so every job is written to be
re-run safely (invariant 3), and anything time-based also has a sweep over the database
because missed cron runs are not caught up.
"""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker

from hub.resources import Resources
from hub.settings import Settings
from workers import inbox, mail, maintenance, meta_send, notify, outbound, webhooks

JOB_MODULES: list[Any] = [maintenance, inbox, mail, outbound, notify, webhooks, meta_send]


def worker_options(settings: Settings, redis_url: str) -> dict[str, Any]:
    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["hub"] = await Resources.open(settings.with_changes(redis_url=redis_url))
        # a module may run something for the worker's lifetime (the mail pollers)
        for module in JOB_MODULES:
            if hasattr(module, "on_startup"):
                await module.on_startup(ctx)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        for module in reversed(JOB_MODULES):
            if hasattr(module, "on_shutdown"):
                await module.on_shutdown(ctx)
        if "hub" in ctx:
            await ctx["hub"].close()

    functions = [f for module in JOB_MODULES for f in getattr(module, "FUNCTIONS", [])]
    cron_jobs = [c for module in JOB_MODULES for c in getattr(module, "CRON_JOBS", [])]
    return {
        "functions": functions,
        "cron_jobs": cron_jobs,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "redis_settings": RedisSettings.from_dsn(redis_url),
        # short results: a job id can be reused soon after (arq #167, #222, #432)
        "keep_result": 60,
        "max_tries": 8,
        "job_timeout": 300,
        "allow_abort_jobs": True,
    }


def build_worker(settings: Settings, **overrides: Any) -> Worker:
    from hub.resources import redis_url_of

    options = worker_options(settings, redis_url_of(settings))
    options.update(overrides)
    return Worker(**options)


def run_worker(settings: Settings) -> None:
    build_worker(settings).run()
