"""The exchange's Celery app for the ``celery`` command, configured from the environment.

``airex worker`` is the usual way to start a worker; this module is for Celery's own tools::

    cd worker && celery -A airex_celery worker --concurrency 4 --without-gossip --without-mingle
    cd worker && celery -A airex_celery inspect active       # RabbitMQ only (remote control)

It reads the same ``AIREX_*`` variables as every airex command (see ``airex.env.example``);
the reliability settings (acks_late, reject on worker lost, prefetch 1, publisher confirms,
durable queues) come from :func:`airex.exchange.make_celery`, so they are the same whichever
way the worker starts.
"""

from __future__ import annotations

from airex.exchange import ExchangeSettings, make_celery

app = make_celery(ExchangeSettings.from_env())
