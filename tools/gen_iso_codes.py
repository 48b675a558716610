"""Generate ``src/airex/schemas/airex-iso.xsd`` (ISO 4217 and ISO 3166-1 code lists) from pycountry.

pycountry is a development/test dependency only: the package reads the generated XSD at run time
(``airex.iso``), never pycountry itself.

Usage::

    python tools/gen_iso_codes.py           # (re)write the XSD
    python tools/gen_iso_codes.py --check   # exit 1 if the XSD on disk is not what would be written
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pycountry

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "src" / "airex" / "schemas" / "airex-iso.xsd"


def currency_codes() -> list[str]:
    """Active ISO 4217 alphabetic codes (pycountry's current list, funds and X-codes included)."""
    return sorted({c.alpha_3 for c in pycountry.currencies})


def country_codes() -> list[str]:
    """Officially assigned ISO 3166-1 alpha-2 codes (no user-assigned codes such as XK)."""
    return sorted({c.alpha_2 for c in pycountry.countries})


def _simple_type(name: str, doc: str, values: list[str]) -> list[str]:
    lines = [
        f"  <xs:simpleType name={quoteattr(name)}>",
        "    <xs:annotation>",
        f"      <xs:documentation>{doc}</xs:documentation>",
        "    </xs:annotation>",
        '    <xs:restriction base="xs:string">',
    ]
    lines.extend(f"      <xs:enumeration value={quoteattr(v)}/>" for v in values)
    lines += ["    </xs:restriction>", "  </xs:simpleType>"]
    return lines


def render() -> str:
    """The complete XSD text; deterministic for a given pycountry version."""
    currencies = currency_codes()
    countries = country_codes()
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!--",
        "  GENERATED FILE, DO NOT EDIT: written by tools/gen_iso_codes.py",
        f"  from pycountry {version('pycountry')}.",
        "  Regenerate with `python tools/gen_iso_codes.py`; verify with its check option.",
        "  airex message standard 1.0 (shared/spec/messages-1.0.md, Shared types):",
        "  Amount/@Currency is an active ISO 4217 alphabetic code,",
        "  TerritoryCode an officially assigned ISO 3166-1 alpha-2 code.",
        "-->",
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"',
        '           targetNamespace="urn:airex:xml:1"',
        '           xmlns="urn:airex:xml:1"',
        '           elementFormDefault="qualified"',
        '           blockDefault="#all">',
        "",
    ]
    lines += _simple_type(
        "CountryCode",
        f"Officially assigned ISO 3166-1 alpha-2 codes ({len(countries)}).",
        countries,
    )
    lines.append("")
    lines += _simple_type(
        "CurrencyCode",
        f"Active ISO 4217 alphabetic currency codes ({len(currencies)}).",
        currencies,
    )
    lines += ["", "</xs:schema>", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the file on disk differs from what would be written",
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else None
        if current != text:
            print(
                f"{TARGET.relative_to(ROOT)} is out of date; run tools/gen_iso_codes.py",
                file=sys.stderr,
            )
            return 1
        print(f"{TARGET.relative_to(ROOT)} is up to date")
        return 0
    TARGET.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
