"""Helpers of the CMO-action tests: the real actions wrapped to run twice, the pipeline driven
by hand, the effects the actions leave in the database counted.

:class:`TwiceActions` is the crash the exchange must survive: every ``act`` runs twice, as
when a worker is killed after the actions ran and before the exchange's transaction
committed; the first run's effects stay, the second run's answer is what the exchange
commits. Each pair is kept, with the effects counted before and after the second run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from exchange_support import CMO, DEV, RH1, RH2, Env
from sqlalchemy.engine import Engine

from airex.cmo import CmoBusinessActions
from airex.demo import TIMELINE, Cast, Scenario
from airex.exchange import ActionResult, Exchange, ReceivedMessage
from airex.exchange.settings import write_clock
from airex.formats.usage import FlatUsageWriter, XmlUsageWriter
from airex.messages import AirexMessage, parse, serialise
from airex.messages.codes import PartyRole
from airex.messages.common import Party
from airex.registry import Regime, RegistrySettings
from airex.royalties import RoyaltySettings


def cast() -> Cast:
    """The exchange tests' cast as the demo scenario's: the CMO, RH1, RH2 and the developer."""
    return Cast(
        cmo=Party(
            party_id=CMO,
            party_name="Music CMO",
            party_role=PartyRole.COLLECTIVE_MANAGEMENT_ORGANISATION,
        ),
        rightsholders=(
            Party(
                party_id=RH1, party_name="Harmonia Publishing", party_role=PartyRole.RIGHTSHOLDER
            ),
            Party(party_id=RH2, party_name="Cadenza Records", party_role=PartyRole.RIGHTSHOLDER),
        ),
        developer=Party(party_id=DEV, party_name="Lookout AI", party_role=PartyRole.AI_DEVELOPER),
    )


def on_scenario_clock(env: Env, step: str) -> None:
    """Run ``env``'s exchange on the scenario's clock, at ``step`` of :data:`TIMELINE` (as
    ``airex demo`` does): call it before the first exchange or actions are made on ``env``, then
    again at each step to move the clock on."""
    path = env.settings.home.parent / "scenario-clock"
    write_clock(path, TIMELINE[step])
    if env.settings.clock_file != path:
        env.settings = replace(env.settings, clock_file=path)


def real_actions(env: Env, *, regime: Regime = Regime.OPT_OUT) -> CmoBusinessActions:
    """The CMO's actions on ``env``: 15 % fee, invoices due in 30 days, the given regime."""
    return CmoBusinessActions(
        env.settings,
        royalties=RoyaltySettings(cmo_party_id=CMO),
        registry=RegistrySettings(regime=regime),
    )


def effect_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table of the ledger, the registry and the royalties (what the CMO's
    actions write; the exchange's own tables are left out)."""
    from airex.db import schema_histories

    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for history in schema_histories():
            if history.name == "exchange":
                continue
            for table in history.tables():
                counts[table.name] = connection.execute(
                    sa.select(sa.func.count()).select_from(table)
                ).scalar_one()
    return counts


@dataclass
class Call:
    """One message acted on twice: what each run answered, the effects around the second."""

    message: AirexMessage
    raw: bytes
    received: ReceivedMessage
    first: ActionResult
    second: ActionResult
    before_second: dict[str, int]
    after_second: dict[str, int]

    @property
    def message_type(self) -> str:
        """The acted-on message's family."""
        return self.message.message_type


@dataclass
class TwiceActions:
    """Runs the real actions twice per message (see the module doc) and keeps each pair."""

    inner: CmoBusinessActions
    calls: list[Call] = field(default_factory=list)

    def act(
        self, message: AirexMessage, raw: bytes, received: ReceivedMessage, engine: Engine
    ) -> ActionResult:
        """The first run, its effects kept; then the run the exchange commits."""
        first = self.inner.act(message, raw, received, engine)
        before = effect_counts(engine)
        second = self.inner.act(message, raw, received, engine)
        self.calls.append(
            Call(message, raw, received, first, second, before, effect_counts(engine))
        )
        return second

    def of_type(self, message_type: str) -> list[Call]:
        """The calls for messages of one family."""
        return [c for c in self.calls if c.message_type == message_type]


def run_pending(exchange: Exchange) -> None:
    """Process every pending message in id order, performing what each owes, until none is
    left."""
    while True:
        with exchange.engine.connect() as connection:
            ids = list(
                connection.execute(
                    sa.text("SELECT id FROM exchange_received WHERE state = 'pending' ORDER BY id")
                ).scalars()
            )
        if not ids:
            return
        for received_id in ids:
            exchange.deliver(exchange.process(received_id).outbox_ids)


def send(exchange: Exchange, message: AirexMessage | bytes, party: str, name: str = "") -> int:
    """Hand ``message`` in as ``party`` and process everything that follows; return its
    received id."""
    data = message if isinstance(message, bytes) else serialise(message)
    received_id = exchange.receive_bytes(
        data, arrival_party=party, file_name=name or None, publish=False
    )
    run_pending(exchange)
    return received_id


def acknowledged(exchange: Exchange, received_id: int) -> tuple[str, list[str]]:
    """The status and error codes the sender of ``received_id`` was told."""
    found = exchange.acknowledgement_of(received_id=received_id)
    assert found is not None, f"no acknowledgement for #{received_id}"
    ack = parse(found[1])
    (item,) = ack.acknowledgements  # type: ignore[attr-defined]
    return str(item.message_status), [e.error_code for e in item.errors]


def sent_by_cmo(exchange: Exchange, message_type: str) -> list[bytes]:
    """The bytes of every message of ``message_type`` the CMO's actions sent, in order."""
    with exchange.engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT sha256 FROM exchange_sent WHERE message_type = :t "
                "AND status = 'MessageAccepted' ORDER BY id"
            ),
            {"t": message_type},
        ).scalars()
        return [exchange.store.get(sha) for sha in rows]


def usage_report(scenario: Scenario, licence_id: str, folder: Path) -> bytes:
    """The scenario's usage report under ``licence_id``, as XML bytes."""
    header = scenario.usage_header(licence_id)
    path = folder / f"{header.message_header.message_id}.xml"
    with XmlUsageWriter(str(path), header, number_of_records=scenario.records) as writer:
        writer.write_all(scenario.usage_rows(licence_id))
    return path.read_bytes()


def parsed(data: bytes) -> Any:
    """``data`` parsed (a valid message of any family)."""
    return parse(data)


def licensed(env: Env, records: int) -> tuple[Exchange, Scenario, str]:
    """An exchange on ``env`` with the CMO's actions, a scenario of ``records`` usage records
    whose works are declared, and the developer licensed (the clock at the usage report)."""
    on_scenario_clock(env, "declarations")
    exchange = env.exchange(actions=real_actions(env))
    scenario = Scenario(records, seed=5, cast=cast())
    for rightsholder in scenario.cast.rightsholders:
        for declaration in scenario.declarations(rightsholder):
            send(exchange, declaration, rightsholder.party_id)
    on_scenario_clock(env, "offer")
    send(exchange, scenario.offer(), CMO)
    on_scenario_clock(env, "request")
    request_id = send(exchange, scenario.request(), DEV)
    assert acknowledged(exchange, request_id) == ("MessageAccepted", [])
    (licence,) = sent_by_cmo(exchange, "LicenceMessage")
    on_scenario_clock(env, "usage report")
    return exchange, scenario, parsed(licence).licence.licence_id


def flat_report(
    scenario: Scenario, licence_id: str, path: Path, split: int | None = None
) -> list[Path]:
    """The scenario's usage report under ``licence_id`` as a flat file at ``path`` (split in
    parts of ``split`` records when given); its files, in FileNumber order."""
    header = scenario.usage_header(licence_id)
    with FlatUsageWriter(
        str(path), header, number_of_records=scenario.records, split_records=split
    ) as writer:
        writer.write_all(scenario.usage_rows(licence_id))
    return [Path(p) for p in writer.paths]
