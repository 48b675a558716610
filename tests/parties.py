"""The parties the tests play, each PADPIDA id written once.

Imported by bare name (``from parties import CMO, DEV``): ``tests/`` is on pytest's ``pythonpath``.

Two casts: the samples' (``samples/``: the CMO Harmonia licensing the AI developer Cadenza),
which the batch, registry and royalties tests use, and the numbered one of the ledger tests
(the exchange's tests name the same numbered ids: ``exchange_support.py``).
"""

CMO = "PADPIDA2026HARMONIA"  # the samples' collective management organisation
DEV = "PADPIDA2026CADENZA"  # the samples' AI developer, its licensee

CMO01 = "PADPIDA2026CMO01"
DEV01 = "PADPIDA2026DEV01"
DEV02 = "PADPIDA2026DEV02"

RH01 = "PADPIDA2026RH01"  # the exchange tests' rightsholders
RH02 = "PADPIDA2026RH02"
NOBODY = "PADPIDA2026NOBODY"  # well-formed, in no directory

PUB01 = "PADPIDA2026PUB01"  # rightsholders (publishers) that distributions pay
PUB02 = "PADPIDA2026PUB02"
PUB03 = "PADPIDA2026PUB03"
