"""The exchange's Celery app for the ``celery`` command, configured from the environment.

``airex worker`` is the usual way to start a worker; this module is for Celery's own tools::

    cd worker && celery -A airex_celery worker --concurrency 4 --without-gossip --without-mingle
    cd worker && celery -A airex_celery inspect active       # RabbitMQ only (remote control)

It reads the same ``AIREX_*`` variables as every airex command (see ``airex.env.example``);
the reliability settings (acks_late, reject on worker lost, prefetch 1, publisher confirms,
durable queues) come from :func:`airex.exchange.make_celery`, so they are the same whichever
way the worker starts. The CMO's business (``airex.cmo``) is plugged in here, as ``airex
worker`` does: ``AIREX_CMO_ACTIONS`` may name another factory.
"""

from __future__ import annotations

from celery.signals import worker_process_init

from airex.cmo import make_actions
from airex.exchange import CmoActions, ExchangeSettings, load_actions, make_celery
from airex.exchange.celery_app import limit_memory


def cmo_actions(settings: ExchangeSettings) -> CmoActions:
    """The CMO's business, unless ``AIREX_CMO_ACTIONS`` names another factory."""
    return load_actions(settings, make_actions)


settings = ExchangeSettings.from_env()
app = make_celery(settings, actions=cmo_actions)
worker_process_init.connect(lambda **_: limit_memory(settings), weak=False)  # as airex worker
