"""Units of the exchange: settings, the message store, verdicts and entitlements, acks, hooks,
the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from exchange_support import CMO, DEV, RH1, acknowledgement, licence_request, payment
from hypothesis import given
from hypothesis import strategies as st

from airex.db import DatabaseConfig, create_engine
from airex.errors import MessageError, MessageStatus
from airex.exchange import (
    ENTITLEMENTS,
    ROUTER_PARTY_ID,
    AckItem,
    ExchangeConfigError,
    ExchangeSettings,
    MessageStore,
    NoActions,
    PartyRecord,
    StoreError,
    build_acknowledgement,
    entitled,
    load_actions,
    proposed_action,
)
from airex.exchange.models import exchange_tables
from airex.exchange.schema import HISTORY
from airex.exchange.verdict import inspect, judge
from airex.messages import is_valid
from airex.messages.codes import PartyRole

ROLES = [r.value for r in PartyRole]
FAMILIES = sorted(ENTITLEMENTS)

# --- settings ------------------------------------------------------------------------------


def test_settings_from_an_empty_environment_are_the_embedded_default(tmp_path: Path) -> None:
    """No AIREX_* variables: SQLite ./airex.db, the embedded broker, ./airex-exchange, no CMO."""
    settings = ExchangeSettings.from_env({}, cwd=tmp_path)
    assert settings.database.url == f"sqlite:///{tmp_path / 'airex.db'}"
    assert (settings.broker_url, settings.embedded_broker) == ("filesystem://", True)
    assert settings.home == tmp_path / "airex-exchange"
    assert (settings.cmo_party_id, settings.signing_party_id) == (None, ROUTER_PARTY_ID)
    assert (settings.task_queue, settings.party_queue(DEV)) == ("airex.exchange", f"party.{DEV}")


def test_settings_read_every_variable(tmp_path: Path) -> None:
    """Each AIREX_* variable lands in its setting; the prefix goes before every queue."""
    settings = ExchangeSettings.from_env(
        {
            "AIREX_DATABASE_URL": "postgresql://u@h/db",
            "AIREX_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
            "AIREX_HOME": "ex",
            "AIREX_CMO_PARTY_ID": CMO,
            "AIREX_QUEUE_PREFIX": "t1.",
            "AIREX_MAX_ATTEMPTS": "3",
            "AIREX_REDELIVER_AFTER": "7.5",
            "AIREX_CMO_ACTIONS": "pkg.mod:make",
        },
        cwd=tmp_path,
    )
    assert settings.database.url == "postgresql://u@h/db"
    assert settings.amqp_broker
    assert not settings.embedded_broker
    assert settings.home == tmp_path / "ex"
    assert (settings.cmo_party_id, settings.signing_party_id) == (CMO, CMO)
    assert settings.task_queue == "t1.airex.exchange"
    assert settings.dead_letter_queue == "t1.airex.dead_letter"
    assert settings.party_queue(RH1) == f"t1.party.{RH1}"
    assert (settings.max_attempts, settings.redeliver_after) == (3, 7.5)
    assert settings.actions == "pkg.mod:make"


@pytest.mark.parametrize(
    ("variable", "value", "match"),
    [
        ("AIREX_CMO_PARTY_ID", "CMO-1", "not a DDEX party id"),
        ("AIREX_QUEUE_PREFIX", "a b", "queue prefix"),
        ("AIREX_MAX_ATTEMPTS", "many", "expected a int"),
        ("AIREX_MAX_ATTEMPTS", "0", "at least 1"),
        ("AIREX_REDELIVER_AFTER", "-1", "must be positive"),
        ("AIREX_BROKER_URL", "localhost", "not a URL"),
        ("AIREX_CMO_ACTIONS", "no-colon", "module:factory"),
    ],
)
def test_bad_settings_are_refused_saying_which(
    tmp_path: Path, variable: str, value: str, match: str
) -> None:
    """A setting airex cannot use is an ExchangeConfigError that names it."""
    with pytest.raises(ExchangeConfigError, match=match):
        ExchangeSettings.from_env({variable: value}, cwd=tmp_path)


@given(st.integers(min_value=1, max_value=40))
def test_backoff_doubles_and_is_capped(attempt: int) -> None:
    """The pause before retry n is retry_backoff * 2**(n-1), never above max_backoff."""
    settings = ExchangeSettings(DatabaseConfig(url="sqlite:////tmp/x.db"), Path("/tmp/x"))
    pause = settings.backoff(attempt)
    assert pause == min(settings.max_backoff, settings.retry_backoff * 2 ** (attempt - 1))
    assert pause <= settings.max_backoff


# --- store ---------------------------------------------------------------------------------


@given(st.binary(max_size=2000))
def test_store_gives_back_what_it_was_given(data: bytes) -> None:
    """put then get returns the same bytes, under their SHA-256, however often stored."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        store = MessageStore(folder)
        digest = store.put(data)
        assert store.put(data) == digest
        assert store.get(digest) == data
        assert digest in store
        assert len([p for p in Path(folder).rglob("*") if p.is_file()]) == 1


def test_store_refuses_damaged_or_missing_bytes(tmp_path: Path) -> None:
    """A file whose bytes changed, or that is gone, is a StoreError naming the file."""
    store = MessageStore(tmp_path)
    digest = store.put(b"<message/>")
    store.path(digest).write_bytes(b"<messagE/>")
    with pytest.raises(StoreError, match="no longer hash"):
        store.get(digest)
    store.path(digest).unlink()
    with pytest.raises(StoreError, match="no stored message"):
        store.get(digest)
    with pytest.raises(StoreError, match="not a SHA-256"):
        store.get("../../etc/passwd")


def test_store_leaves_no_temporary_files(tmp_path: Path) -> None:
    """After put, the store holds exactly the content file (the temporary one was renamed)."""
    store = MessageStore(tmp_path)
    digest = store.put(b"x" * 10_000)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]


# --- entitlements and verdicts -------------------------------------------------------------


def _parties(**roles: str) -> dict[str, PartyRecord]:
    return {p: PartyRecord(p, p, r, None, True) for p, r in roles.items()}


CAST = _parties(
    **{
        CMO: "CollectiveManagementOrganisation",
        DEV: "AIDeveloper",
        RH1: "Rightsholder",
    }
)


@given(st.sampled_from(FAMILIES), st.sampled_from(ROLES), st.sampled_from(ROLES))
def test_entitled_agrees_with_the_table(family: str, sender: str, recipient: str) -> None:
    """entitled() answers exactly what ENTITLEMENTS lists, for every family and role pair."""
    rule = ENTITLEMENTS[family]
    assert entitled(family, sender, recipient) == (
        sender in rule.senders,
        recipient in rule.recipients,
    )


def test_entitlements_follow_the_arrows_of_the_standard() -> None:
    """The spec's arrows: declarations from rightsholders, statements from CMOs, requests and
    reports from developers, licences and invoices from licensors; manifests never alone."""
    cmo, dev, rh, reg = (
        "CollectiveManagementOrganisation",
        "AIDeveloper",
        "Rightsholder",
        "Registry",
    )
    assert entitled("WorkDeclarationMessage", rh, cmo) == (True, True)
    assert entitled("WorkDeclarationMessage", rh, reg) == (True, True)
    assert entitled("WorkDeclarationMessage", dev, cmo)[0] is False
    assert entitled("LicenceOfferMessage", rh, dev) == (True, True)
    assert entitled("LicenceRequestMessage", dev, rh) == (True, True)
    assert entitled("LicenceMessage", cmo, rh)[1] is False
    assert entitled("InvoiceMessage", dev, cmo)[0] is False
    assert entitled("UsageReportMessage", dev, cmo) == (True, True)
    assert entitled("PaymentNotificationMessage", rh, reg) == (True, True)
    assert entitled("RoyaltyStatementMessage", cmo, rh) == (True, True)
    assert entitled("RoyaltyStatementMessage", rh, cmo) == (False, False)
    assert entitled("ManifestMessage", cmo, dev) == (False, False)
    assert entitled("NoSuchMessage", cmo, dev) == (False, False)


def test_valid_message_from_its_sender_is_accepted_with_its_model() -> None:
    """A valid, entitled message gets MessageAccepted, its parsed model and its recipients."""
    verdict = judge(inspect(licence_request()), CAST, arrival_party=DEV)
    assert verdict.accepted
    assert verdict.message is not None
    assert verdict.message.message_type == "LicenceRequestMessage"
    assert (verdict.recipients, verdict.reply_to) == ([CMO], DEV)


def test_spoofed_sender_points_at_the_sender_element() -> None:
    """SenderMismatch carries the XPath and line of MessageSender/PartyId."""
    verdict = judge(inspect(licence_request()), CAST, arrival_party=RH1)
    (error,) = verdict.errors
    assert (error.code, error.status, error.path) == (
        "SenderMismatch",
        MessageStatus.NOT_AUTHORISED,
        "/LicenceRequestMessage/MessageHeader/MessageSender/PartyId",
    )
    assert error.line is not None
    assert verdict.reply_to == RH1


def test_every_unknown_recipient_is_reported() -> None:
    """Each recipient missing from the directory is one UnknownRecipient error."""
    data = licence_request(DEV, CMO).replace(
        b"</MessageRecipient>",
        b"</MessageRecipient><MessageRecipient><PartyId>PADPIDAX1</PartyId></MessageRecipient>"
        b"<MessageRecipient><PartyId>PADPIDAX2</PartyId></MessageRecipient>",
        1,
    )
    verdict = judge(inspect(data), CAST, arrival_party=DEV)
    assert [(e.code, e.path) for e in verdict.errors] == [
        ("UnknownRecipient", "/LicenceRequestMessage/MessageHeader/MessageRecipient[2]/PartyId"),
        ("UnknownRecipient", "/LicenceRequestMessage/MessageHeader/MessageRecipient[3]/PartyId"),
    ]


def test_invalid_message_is_judged_on_its_validation_alone() -> None:
    """A message that fails validation keeps validation's status and errors; a well-formed
    sender id read from it still addresses the acknowledgement."""
    data = payment(DEV, CMO).replace(b"<PaymentDate>2026-05-02", b"<PaymentDate>2026-13-02")
    verdict = judge(inspect(data), {}, arrival_party=None)
    assert verdict.status is MessageStatus.SCHEMA_INVALID
    assert verdict.reply_to == DEV


def test_header_values_that_break_their_patterns_are_not_used() -> None:
    """A sender id that is not a party id is never used to address anything."""
    data = licence_request().replace(DEV.encode(), b"../../etc", 1)
    verdict = judge(inspect(data), {}, arrival_party=None)
    assert verdict.reply_to is None
    assert verdict.status is MessageStatus.SCHEMA_INVALID


# --- acknowledgements ----------------------------------------------------------------------


@given(
    st.sampled_from(list(MessageStatus)),
    st.text(min_size=0, max_size=3000),
    st.one_of(st.none(), st.integers(min_value=-5, max_value=10_000)),
)
def test_built_acknowledgements_are_always_valid(
    status: MessageStatus, text: str, line: int | None
) -> None:
    """Whatever the status, error text (any length or characters) and line, the
    acknowledgement built is a valid AcknowledgementMessage."""
    error = MessageError("SomeCode", text, path="/X/" + text[:50], line=line, status=status)
    _, data = build_acknowledgement(CMO, DEV, [AckItem("M-1", "dir/f\x00.xml", status, [error])])
    assert is_valid(data)


def test_proposed_action_follows_the_status() -> None:
    """Rejections of content propose CorrectAndResend, of parties ContactSender, duplicates None."""
    assert proposed_action(MessageStatus.MESSAGE_ACCEPTED) is None
    assert proposed_action(MessageStatus.SCHEMA_INVALID) == "CorrectAndResend"
    assert proposed_action(MessageStatus.NOT_AUTHORISED) == "ContactSender"
    assert proposed_action(MessageStatus.DUPLICATE_MESSAGE) == "None"
    assert proposed_action(MessageStatus.INTERNAL_ERROR) == "ResendUnchanged"


def test_acknowledgement_of_a_party_is_itself_valid_input() -> None:
    """The test helper's acknowledgement is a valid message (so the routing test is fair)."""
    assert is_valid(acknowledgement())


# --- hooks ---------------------------------------------------------------------------------


def test_actions_default_to_none_and_load_a_named_factory(tmp_path: Path) -> None:
    """Without AIREX_CMO_ACTIONS and without airex.exchange.actions the hook does nothing; a
    named factory is imported and called with the settings; a bad name is refused."""
    settings = ExchangeSettings(DatabaseConfig(url="sqlite:////tmp/x.db"), tmp_path)
    loaded = load_actions(settings)
    try:
        import airex.exchange.actions  # noqa: F401
    except ModuleNotFoundError:
        assert isinstance(loaded, NoActions)
    named = load_actions(settings.with_(actions="crash_actions:make"))
    assert type(named).__name__ == "PostingActions"
    with pytest.raises(ExchangeConfigError, match="cannot import"):
        load_actions(settings.with_(actions="no_such_module_x:make"))
    with pytest.raises(ExchangeConfigError, match="no such callable"):
        load_actions(settings.with_(actions="crash_actions:missing"))


# --- schema --------------------------------------------------------------------------------


def test_migration_creates_exactly_the_model_tables(tmp_path: Path) -> None:
    """Upgrading an empty database gives the tables, columns and nullability of the models;
    downgrading removes them all."""
    engine = create_engine(DatabaseConfig.sqlite(tmp_path / "x.db"))
    HISTORY.upgrade(engine)
    inspector = sa.inspect(engine)
    for table in exchange_tables():
        columns = {c["name"]: c["nullable"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name: c.nullable for c in table.columns}, table.name
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table.name)}
        expected = {
            tuple(c.name for c in constraint.columns)
            for constraint in table.constraints
            if isinstance(constraint, sa.UniqueConstraint)
        } | {(c.name,) for c in table.columns if c.unique}
        assert uniques == expected, table.name
    HISTORY.downgrade(engine, "base")
    assert not set(sa.inspect(engine).get_table_names()) & {t.name for t in exchange_tables()}
    engine.dispose()


# --- public surface ------------------------------------------------------------------------


def test_every_public_name_resolves_and_is_documented() -> None:
    """Each name of airex.exchange.__all__ exists, and every class and function has a
    docstring (public methods too)."""
    import inspect as pyinspect

    import airex.exchange as exchange

    undocumented = []
    for name in exchange.__all__:
        value = getattr(exchange, name)
        if not (pyinspect.isclass(value) or pyinspect.isfunction(value)):
            continue
        if not (value.__doc__ or "").strip():
            undocumented.append(name)
        if pyinspect.isclass(value) and value.__module__.startswith("airex."):
            for attribute, member in vars(value).items():
                if attribute.startswith("_") or not pyinspect.isfunction(member):
                    continue
                if not (member.__doc__ or "").strip():
                    undocumented.append(f"{name}.{attribute}")
    assert undocumented == []
    assert sorted(exchange.__all__) == sorted(set(exchange.__all__))
