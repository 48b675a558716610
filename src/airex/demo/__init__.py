"""``airex demo``: a complete exchange cycle between a CMO, two rightsholders and an AI
developer, on the embedded default, with real worker processes.

:class:`Scenario` builds what each party sends, on the scenario's clock (:data:`TIMELINE`);
the runner (used by the ``airex demo`` command) checks its database and broker, starts the
exchange on that clock, plays the parties, reports what happened and leaves a guide
(``README.txt``) in its folder.
"""

from airex.demo._fleet import DemoError
from airex.demo._guide import GUIDE_NAME, guide_commands, held_summary
from airex.demo._preflight import DemoConfigError, masked_broker_url
from airex.demo._report import SPLIT_RECORDS, ReportForm, write_report
from airex.demo._run import DemoInterrupted, DemoResult, run_demo
from airex.demo._scenario import MIN_WORKS, TIMELINE, WORKS_PER_DECLARATION, Cast, Scenario

__all__ = [
    "GUIDE_NAME",
    "MIN_WORKS",
    "SPLIT_RECORDS",
    "TIMELINE",
    "WORKS_PER_DECLARATION",
    "Cast",
    "DemoConfigError",
    "DemoError",
    "DemoInterrupted",
    "DemoResult",
    "ReportForm",
    "Scenario",
    "guide_commands",
    "held_summary",
    "masked_broker_url",
    "run_demo",
    "write_report",
]
