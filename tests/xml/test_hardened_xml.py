"""The hardened XML entry point refuses hostile input and parses ordinary documents faithfully."""

from __future__ import annotations

import os
import resource
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from airex.errors import (
    MessageStatus,
    XmlRejectedError,
    XmlSecurityError,
    XmlSyntaxError,
)
from airex.xml import ParseLimits, _hardened, local_path, parse_xml

NS = "urn:airex:xml:1"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>
"""


def quadratic_blowup() -> bytes:
    """One 100 KB entity referenced 50 000 times: 5 GB if it were ever expanded."""
    entity = "a" * 100_000
    body = "&a;" * 50_000
    prolog = f'<?xml version="1.0"?>\n<!DOCTYPE kaboom [<!ENTITY a "{entity}">]>\n'
    return f"{prolog}<kaboom>{body}</kaboom>".encode()


def nested(depth: int) -> bytes:
    """A document whose elements nest ``depth`` deep, one start tag per line."""
    return ("\n".join(["<a>"] * depth) + "</a>" * depth).encode()


def refusal_code(excinfo: pytest.ExceptionInfo[XmlRejectedError]) -> str:
    """The code of the single error a refusal carries."""
    assert len(excinfo.value.errors) == 1
    error = excinfo.value.errors[0]
    assert error.status is MessageStatus.XML_NOT_WELL_FORMED
    return error.code


@pytest.fixture
def listener() -> Iterator[tuple[str, list[socket.socket]]]:
    """A local TCP server that records every connection made to it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.05)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    host, port = server.getsockname()
    try:
        yield f"http://{host}:{port}", accepted
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        server.close()


# --- DOCTYPE and entities -------------------------------------------------------------------


def test_external_file_entity_is_refused_and_never_read(tmp_path: Path) -> None:
    """An XXE pointing at a real local file is refused and the file's content appears nowhere."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT-4711")
    doc = tmp_path / "xxe.xml"
    doc.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        "<x>&xxe;</x>\n"
    )

    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(doc)

    assert refusal_code(excinfo) == "DoctypeForbidden"
    assert excinfo.value.errors[0].line == 2
    assert excinfo.value.source == str(doc)
    assert "TOP-SECRET" not in str(excinfo.value)
    assert "TOP-SECRET" not in repr(excinfo.value.errors)


def test_external_network_entity_is_refused_without_connecting(
    listener: tuple[str, list[socket.socket]],
) -> None:
    """An XXE and an external DTD pointing at a live local server are refused with no connection."""
    url, accepted = listener
    documents = [
        f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "{url}/secret">]><x>&xxe;</x>'.encode(),
        f'<!DOCTYPE x SYSTEM "{url}/x.dtd"><x/>'.encode(),
        f'<!DOCTYPE x PUBLIC "-//X//DTD X//EN" "{url}/x.dtd"><x>&ent;</x>'.encode(),
    ]

    codes = []
    for document in documents:
        with pytest.raises(XmlSecurityError) as excinfo:
            parse_xml(document)
        codes.append(refusal_code(excinfo))

    assert codes == ["DoctypeForbidden"] * 3
    assert accepted == []


def test_billion_laughs_is_refused() -> None:
    """The classic ten-level "lol" entity bomb is refused as a forbidden DOCTYPE."""
    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(BILLION_LAUGHS)

    assert refusal_code(excinfo) == "DoctypeForbidden"
    assert excinfo.value.errors[0].line == 2


def test_quadratic_blowup_is_refused() -> None:
    """A 100 KB entity referenced 50 000 times is refused as a forbidden DOCTYPE."""
    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(quadratic_blowup())

    assert refusal_code(excinfo) == "DoctypeForbidden"


@pytest.mark.parametrize(
    "document",
    [
        b"<!DOCTYPE x><x/>",
        b"<!DOCTYPE x>",
        b"<!DOCTYPE x []>\n<x/>",
        b'<?xml version="1.0"?>\n<!-- comment -->\n<!DOCTYPE x PUBLIC "-//A//EN" "x.dtd">\n<x/>',
    ],
    ids=["empty", "without-root", "empty-internal-subset", "after-prolog"],
)
def test_any_doctype_is_refused(document: bytes) -> None:
    """A DOCTYPE is refused even when it declares nothing or no root element follows it."""
    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(document)

    assert refusal_code(excinfo) == "DoctypeForbidden"
    assert excinfo.value.errors[0].line == document.count(b"\n", 0, document.find(b"<!DOCTYPE")) + 1


@pytest.mark.parametrize(
    "subset",
    [
        "<!ENTITY % p \"<!ENTITY e 'v'>\"> %p;",
        '<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;',
        '<!ENTITY % a "x"><!ENTITY % b "%a;%a;%a;"> <!ENTITY c "%b;">',
    ],
    ids=["internal", "external", "nested"],
)
def test_parameter_entities_are_refused(subset: str) -> None:
    """Parameter entities in an internal subset are refused as a forbidden DOCTYPE."""
    document = f"<!DOCTYPE x [{subset}]>\n<x>&e;</x>".encode()

    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(document)

    assert refusal_code(excinfo) == "DoctypeForbidden"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_hostile_document_is_refused(codec: str) -> None:
    """A UTF-16 encoded entity bomb is refused just like its UTF-8 twin."""
    text = BILLION_LAUGHS.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    document = text.encode(codec)

    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(document)

    assert refusal_code(excinfo) == "DoctypeForbidden"
    assert excinfo.value.errors[0].line == 2


def test_doctype_found_by_the_tree_when_the_sniffer_misses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the prolog sniffer the root's docinfo still reveals and refuses the DOCTYPE."""
    monkeypatch.setattr(_hardened._DoctypeSniffer, "feed", lambda self, chunk: None)

    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(b'<!DOCTYPE x [<!ENTITY e "v">]>\n<x>&e;</x>')

    assert refusal_code(excinfo) == "DoctypeForbidden"


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_entity_bombs_are_refused_without_memory_growth() -> None:
    """Refusing both entity bombs 20 times each grows peak memory by far less than one expansion.

    Expanded, the billion laughs would take 3 GB and the quadratic blowup 5 GB, so a 50 MB
    ceiling on the growth of the process's peak resident size fails if either is ever expanded.
    """
    bombs = [BILLION_LAUGHS, quadratic_blowup()]
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    codes = set()
    for _ in range(20):
        for bomb in bombs:
            with pytest.raises(XmlSecurityError) as excinfo:
                parse_xml(bomb)
            codes.add(refusal_code(excinfo))

    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib
    assert codes == {"DoctypeForbidden"}
    assert growth_kib < 50 * 1024


# --- depth and size -------------------------------------------------------------------------


def test_depth_101_is_refused_at_the_offending_element() -> None:
    """A document nesting 101 elements deep is refused at the line of the 101st start tag."""
    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(nested(101))

    assert refusal_code(excinfo) == "DepthLimitExceeded"
    error = excinfo.value.errors[0]
    assert error.line == 101
    assert error.message == "document nests deeper than 100 elements at line 101"


def test_depth_100_is_accepted() -> None:
    """A document nesting exactly 100 elements deep parses."""
    tree = parse_xml(nested(100))

    assert len(list(tree.getroot().iter())) == 100


def test_depth_limit_is_configurable() -> None:
    """A smaller max_depth refuses what the default accepts."""
    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(nested(4), ParseLimits(max_depth=3))

    assert refusal_code(excinfo) == "DepthLimitExceeded"


def test_size_limit_refuses_bytes() -> None:
    """Bytes longer than max_bytes are refused; exactly max_bytes are accepted."""
    limits = ParseLimits(max_bytes=1000)
    fits = b"<x>" + b" " * (1000 - 7) + b"</x>"

    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(fits + b" ", limits)

    assert refusal_code(excinfo) == "SizeLimitExceeded"
    assert parse_xml(fits, limits).getroot().tag == "x"


def test_size_limit_refuses_a_file_by_its_size(tmp_path: Path) -> None:
    """A file larger than max_bytes is refused and named in the error."""
    path = tmp_path / "big.xml"
    path.write_bytes(b"<x>" + b"y" * 5000 + b"</x>")

    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(str(path), ParseLimits(max_bytes=4096))

    assert refusal_code(excinfo) == "SizeLimitExceeded"
    assert excinfo.value.source == str(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_size_limit_stops_reading_an_endless_stream(tmp_path: Path) -> None:
    """A source whose size the file system does not know is cut off once max_bytes were read."""
    fifo = tmp_path / "endless.xml"
    os.mkfifo(fifo)
    written = 0

    def write_forever() -> None:
        nonlocal written
        try:
            with open(fifo, "wb") as pipe:
                pipe.write(b"<x>")
                while written < 64 * 1024 * 1024:
                    pipe.write(b"y" * 4096)
                    written += 4096
        except OSError:  # BrokenPipeError once the reader gives up
            pass

    writer = threading.Thread(target=write_forever, daemon=True)
    writer.start()

    with pytest.raises(XmlSecurityError) as excinfo:
        parse_xml(fifo, ParseLimits(max_bytes=256 * 1024))

    writer.join(timeout=10)
    assert refusal_code(excinfo) == "SizeLimitExceeded"
    assert written < 1024 * 1024


def test_parse_limits_are_checked() -> None:
    """Limits below one are a programming error."""
    with pytest.raises(ValueError, match="max_depth"):
        ParseLimits(max_depth=0)
    with pytest.raises(ValueError, match="max_bytes"):
        ParseLimits(max_bytes=0)


# --- not well-formed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "line"),
    [
        (b"<x>\n<y>\n</x>", 3),
        (b"<x/>\n\ntrailing garbage", 3),
        (b"", 1),
        (b"  \n  ", 2),
        (b"<x>\n  &undefined;\n</x>", 2),
        (b"<p:x/>", 1),
        (b"<x>", 1),
    ],
    ids=["unclosed", "trailing", "empty", "blank", "undefined-entity", "unbound-prefix", "eof"],
)
def test_not_well_formed_is_a_syntax_error_with_a_line(document: bytes, line: int) -> None:
    """Malformed input raises XmlSyntaxError with code XmlNotWellFormed and the line at fault."""
    with pytest.raises(XmlSyntaxError) as excinfo:
        parse_xml(document, filename="in.xml")

    assert refusal_code(excinfo) == "XmlNotWellFormed"
    assert excinfo.value.errors[0].line == line
    assert excinfo.value.source == "in.xml"
    assert isinstance(excinfo.value, ValueError)


def test_syntax_errors_do_not_leak_between_parses() -> None:
    """A parse reports its own error, not one left over from an earlier parse."""
    with pytest.raises(XmlSyntaxError):
        parse_xml(b"<x>&first;</x>")

    with pytest.raises(XmlSyntaxError) as excinfo:
        parse_xml(b"<x>\n\n<y></x>")

    assert excinfo.value.errors[0].line == 3
    assert "first" not in excinfo.value.errors[0].message


def test_a_str_that_looks_like_xml_is_not_taken_for_a_path() -> None:
    """Passing the document as str is a usage error, since str means a file path."""
    with pytest.raises(TypeError, match="bytes"):
        parse_xml("<x/>")


# --- ordinary documents ---------------------------------------------------------------------

ORDINARY = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment before the root is fine -->
<m:UsageReportMessage xmlns:m="{NS}">
  <m:MessageHeader>
    <m:MessageId>MSG-1</m:MessageId>
  </m:MessageHeader>
  <m:UsageReport>
    <m:UsageRecordList>
      <m:UsageRecord><m:WorkId Type="ISRC">USRC17607839</m:WorkId></m:UsageRecord>
      <m:UsageRecord><m:WorkId Type="ISRC">USRC17607840</m:WorkId></m:UsageRecord>
      <m:UsageRecord>
        <m:WorkId Type="ISRC">USRC17607841</m:WorkId>
        <!-- comments do not count as siblings -->
        <m:WorkId Type="DOI">10.1000/182</m:WorkId>
      </m:UsageRecord>
    </m:UsageRecordList>
  </m:UsageReport>
</m:UsageReportMessage>
"""


def test_namespaced_document_parses_with_correct_sourcelines(tmp_path: Path) -> None:
    """An ordinary namespaced document parses from bytes and from a file with exact sourcelines."""
    path = tmp_path / "usage.xml"
    path.write_text(ORDINARY, encoding="utf-8")

    for tree in (parse_xml(ORDINARY.encode()), parse_xml(path)):
        root = tree.getroot()
        lines = {
            etree.QName(el).localname + (el.get("Type") or ""): el.sourceline
            for el in root.iter(etree.Element)
        }
        assert root.tag == f"{{{NS}}}UsageReportMessage"
        assert lines["UsageReportMessage"] == 3
        assert lines["MessageId"] == 5
        assert lines["WorkIdDOI"] == 14
        assert root.findtext(f".//{{{NS}}}MessageId") == "MSG-1"


def test_sourcelines_stay_right_beyond_65535_lines() -> None:
    """Line numbers do not wrap at libxml2's 16-bit limit."""
    document = b"<r>" + b"\n" * 70_000 + b"<z/></r>"

    assert parse_xml(document).getroot()[0].sourceline == 70_001


def test_documents_larger_than_one_chunk_parse() -> None:
    """A document spanning many feed chunks parses completely."""
    records = "".join(f"<i n='{n}'>{'t' * 100}</i>\n" for n in range(5000))
    document = f"<list>\n{records}</list>".encode()

    root = parse_xml(document).getroot()

    assert len(root) == 5000
    assert root[-1].sourceline == 5001


# --- local_path -----------------------------------------------------------------------------


def test_local_path_indexes_only_repeated_names() -> None:
    """local_path gives namespace-free steps with [n] only among same-named siblings."""
    root = parse_xml(ORDINARY.encode()).getroot()
    work_ids = root.findall(f".//{{{NS}}}WorkId")
    message_id = root.find(f".//{{{NS}}}MessageId")
    assert message_id is not None

    assert [local_path(el) for el in work_ids] == [
        "/UsageReportMessage/UsageReport/UsageRecordList/UsageRecord[1]/WorkId",
        "/UsageReportMessage/UsageReport/UsageRecordList/UsageRecord[2]/WorkId",
        "/UsageReportMessage/UsageReport/UsageRecordList/UsageRecord[3]/WorkId[1]",
        "/UsageReportMessage/UsageReport/UsageRecordList/UsageRecord[3]/WorkId[2]",
    ]
    assert local_path(message_id) == "/UsageReportMessage/MessageHeader/MessageId"
    assert local_path(root) == "/UsageReportMessage"


def test_local_path_counts_siblings_by_local_name() -> None:
    """Siblings sharing a local name across namespaces are indexed together."""
    root = parse_xml(b'<r xmlns:a="urn:a"><x/><a:x/><y/></r>').getroot()

    assert [local_path(el) for el in root] == ["/r/x[1]", "/r/x[2]", "/r/y"]


def test_local_path_agrees_with_xpath() -> None:
    """Every path local_path gives selects exactly its element again in a namespace-free copy."""
    document = b"<a><b><c/><c><d/></c></b><b/><e><c/></e></a>"
    root = parse_xml(document).getroot()

    for el in root.iter():
        assert root.getroottree().xpath(local_path(el)) == [el]
