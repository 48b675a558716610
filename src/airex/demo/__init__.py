"""``airex demo``: a complete exchange cycle between a CMO, two rightsholders and an AI
developer, on the embedded default, with real worker processes.

:class:`Scenario` builds what each party sends; the runner (used by the ``airex demo``
command) starts the exchange, plays the parties and reports what happened.
"""

from airex.demo._run import DemoError, DemoResult, run_demo
from airex.demo._scenario import WORKS_PER_DECLARATION, Cast, Scenario

__all__ = [
    "WORKS_PER_DECLARATION",
    "Cast",
    "DemoError",
    "DemoResult",
    "Scenario",
    "run_demo",
]
