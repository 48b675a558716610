"""airex: the AI Rights Exchange.

Schema-validated, DDEX-style XML messages through which rightsholders, collective management
organisations and AI developers declare AI-use preferences, license works, report usage,
invoice, pay and distribute royalties.

The top level re-exports the everyday entry points::

    import airex
    msg = airex.parse("licence.xml")          # model of the message's family, validated
    airex.serialise(msg)                      # deterministic UTF-8 XML
    airex.is_valid(b"<...>")                  # XSD + business rules
    for error in airex.iter_errors(path): ... # every error: code, path, line, message
"""

from airex._version import __version__
from airex.errors import (
    AirexError,
    MessageError,
    MessageInvalidError,
    MessageStatus,
    UnknownMessageTypeError,
    XmlRejectedError,
    XmlSecurityError,
    XmlSyntaxError,
)
from airex.messages import (
    MESSAGE_TYPES,
    AirexMessage,
    CheckResult,
    check,
    is_valid,
    iter_errors,
    parse,
    serialise,
    validate,
)
from airex.xml import ParseLimits

__all__ = [
    "MESSAGE_TYPES",
    "AirexError",
    "AirexMessage",
    "CheckResult",
    "MessageError",
    "MessageInvalidError",
    "MessageStatus",
    "ParseLimits",
    "UnknownMessageTypeError",
    "XmlRejectedError",
    "XmlSecurityError",
    "XmlSyntaxError",
    "__version__",
    "check",
    "is_valid",
    "iter_errors",
    "parse",
    "serialise",
    "validate",
]
