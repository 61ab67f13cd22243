"""Plate grammars of the 50 US states and the District of Columbia.

Data only; :mod:`underseal.plates` compiles and uses it.

Each entry lists the *standard* passenger serial formats that are on the road
today (the current series and the recent ones still valid), written as class
strings over canonical text (upper-case A-Z and 0-9, separators removed):

- ``D`` a digit, ``L`` a letter, ``A`` a letter or a digit;
- any other capital letter or digit stands for itself;
- ``[..]`` is one character from the listed set, e.g. ``[123456789DNO]``
  (West Virginia's month code), and the only way to write a literal
  ``D``, ``L`` or ``A``.

``excluded_letters`` are letters a state is documented never to issue in its
serials; they narrow ``L`` and ``A`` in every format of that state (which makes
the counted plate space, and so the reported brute-force cost, a lower bound).
``vanity_min`` and ``vanity_max`` bound personalised plates, counted on
canonical text.

Sources are public (mostly the Wikipedia pages "Vehicle registration plates of
<State>" and "United States license plate designs and serial formats", the
OpenALPR ``us.patterns`` post-processing file, and state statutes where one
was found). Where a fact was unclear the table is permissive: it adds the
format or the longer limit rather than risk rejecting a real plate, and the
``source`` field says "approximate". See docs/plates.md for the limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["JURISDICTIONS", "Jurisdiction"]

_ASCII_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """One plate-issuing jurisdiction and the shapes of its passenger plates."""

    code: str
    name: str
    formats: tuple[str, ...]
    examples: tuple[str, ...]
    vanity_min: int
    vanity_max: int
    excluded_letters: frozenset[str]
    source: str

    def __post_init__(self) -> None:
        # Cheap structural checks; format syntax and examples are checked by
        # underseal.plates (which owns the format language) and by the tests.
        if len(self.code) != 2 or not self.code.isascii() or not self.code.isupper():
            raise ValueError("jurisdiction code must be two capital ASCII letters")
        if not self.formats:
            raise ValueError("a jurisdiction needs at least one standard format")
        if not 1 <= self.vanity_min <= self.vanity_max:
            raise ValueError("vanity_min must be at least 1 and at most vanity_max")
        if not self.excluded_letters <= _ASCII_UPPER:
            raise ValueError("excluded_letters must be capital ASCII letters")


_WIKI = "https://en.wikipedia.org/wiki/Vehicle_registration_plates_of_"
_OPENALPR = "OpenALPR runtime_data/postprocess/us.patterns"


def _j(
    code: str,
    name: str,
    formats: tuple[str, ...],
    examples: tuple[str, ...],
    *,
    vanity: tuple[int, int] = (2, 7),
    excluded: str = "",
    note: str = "",
    page: str | None = None,
) -> Jurisdiction:
    title = page if page is not None else name
    source = (
        f'Wikipedia, "Vehicle registration plates of {title}" ({_WIKI}{title.replace(" ", "_")})'
    )
    if note:
        source = f"{source}; {note}"
    return Jurisdiction(
        code=code,
        name=name,
        formats=formats,
        examples=examples,
        vanity_min=vanity[0],
        vanity_max=vanity[1],
        excluded_letters=frozenset(excluded),
        source=source,
    )


_TABLE: tuple[Jurisdiction, ...] = (
    _j(
        "AL",
        "Alabama",
        # County-coded: a one- or two-digit county number, then the serial.
        (
            "DLDDDDL",
            "DLDDLLL",
            "DLDDLDL",
            "DDLDDDL",
            "DDLDDLD",
            "DDLDLDD",
            "DDLDLLD",
            "DDLDLLL",
            "DDLLLLL",
            "DLLDDDD",
            "DDLLDDD",
        ),
        ("1A2345B", "10A12B3", "1AB1234"),
        note="county-coded serial list from the 2022 series infobox, older 2014 series added",
    ),
    _j(
        "AK",
        "Alaska",
        ("LLLDDD",),
        ("ABC123",),
        vanity=(2, 6),
        note="vanity limit of 6 from akplates.org rules (no personalised plate with seven "
        "non-space characters observed); approximate",
    ),
    _j(
        "AZ",
        "Arizona",
        ("AAADAA", "LLLDDDD"),
        ("ABC1DE", "ABC1234"),
        excluded="IOQU",
        note="United States license plate designs and serial formats (current six-character "
        "alphanumeric series, fourth character always a digit, I/O/Q/U skipped); "
        "older ABC1234 series kept",
    ),
    _j(
        "AR",
        "Arkansas",
        ("LLLDDL", "DDDLLL"),
        ("ABC12D", "123ABC"),
        note="ABC12D since 2021 after 999ZZZ (KAIT news, 2021-01-06)",
    ),
    _j(
        "CA",
        "California",
        ("DLLLDDD", "DDDLLLD"),
        ("1ABC234", "123ABC4"),
        note="DDDLLLD is the announced successor to 9ZZZ999 (approximate)",
    ),
    _j(
        "CO",
        "Colorado",
        ("LLLLDD", "DDDLLL", "LLLDDDD"),
        ("ABCD12", "123ABC"),
        note="current ABC-D12; 123-ABC and 1990s ABC-1234 still valid",
    ),
    _j(
        "CT",
        "Connecticut",
        ("LLDDDDD", "DLLLLD", "DDDLLL"),
        ("AB12345", "1ABCD2"),
        note="AB-12345 since 2015; 2013-15 1ABCD2 and older 123-ABC still valid",
    ),
    _j(
        "DE",
        "Delaware",
        ("D", "DD", "DDD", "DDDD", "DDDDD", "DDDDDD"),
        ("123456", "6"),
        vanity=(1, 7),
        note="all-numeric serials up to six digits, low numbers included",
    ),
    _j(
        "DC",
        "District of Columbia",
        ("LLDDDD",),
        ("AB1234",),
        page="Washington, D.C.",
    ),
    _j(
        "FL",
        "Florida",
        ("LLLLDD", "DDDDLL", "LDDDLL", "LDDLLL", "DDDLLL", "LLLDDD"),
        ("ABCD12", "1234AB", "A12BCD"),
        note=f"main ABC-D12 plus alternate series from {_OPENALPR}; approximate",
    ),
    _j(
        "GA",
        "Georgia",
        ("LLLDDDD", "DDDDLLL", "DDDDLL", "LLLDDD"),
        ("ABC1234",),
        note=f"older series from {_OPENALPR}; approximate",
    ),
    _j(
        "HI",
        "Hawaii",
        ("LLLDDD",),
        ("NAB123", "KAB123"),
        vanity=(2, 6),
        excluded="IOZ",
        note="Hawaii Revised Statutes §249-9.1 (special plates at most six letters and "
        "numerals); I, O and Z not issued (Honolulu Star-Bulletin, 2003-03-27)",
    ),
    _j(
        "ID",
        "Idaho",
        ("LDDDDDD", "DLDDDDD", "DLLDDDD", "DLLLDDD", "LLDDDDD"),
        ("1A23456", "A123456"),
        note=f"county-coded (letter or digit-letter county prefix); {_OPENALPR}; approximate",
    ),
    _j(
        "IL",
        "Illinois",
        ("LLDDDDD", "LDDDDDD"),
        ("AB12345", "A123456"),
    ),
    _j(
        "IN",
        "Indiana",
        ("DDDLLL", "DDDDLLL", "LLLDDD"),
        ("123ABC", "1234ABC"),
        note="approximate",
    ),
    _j("IA", "Iowa", ("LLLDDD", "DDDLLL"), ("ABC123", "123ABC")),
    _j(
        "KS",
        "Kansas",
        ("DDDLLL", "DDDDLLL"),
        ("123ABC", "1234ABC"),
    ),
    _j(
        "KY",
        "Kentucky",
        ("DDDLLL", "LLLDDD"),
        ("123ABC",),
        note="approximate",
    ),
    _j(
        "LA",
        "Louisiana",
        ("LLLDDD", "DDDLLL"),
        ("ABC123",),
        vanity=(1, 7),
    ),
    _j(
        "ME",
        "Maine",
        ("DDDDLL", "DDDLL", "DDDLLL", "DDDDDLL"),
        ("1234AB", "123AB"),
        note="digit count varies; approximate",
    ),
    _j(
        "MD",
        "Maryland",
        ("DLLDDDD", "DLLLDD", "LLLDDD"),
        ("1AB2345",),
    ),
    _j(
        "MA",
        "Massachusetts",
        ("DLLLDD", "DLLDDD", "DDDLLD", "DDDDLL", "DDLLDD", "DDDDDD", "DDDLLL"),
        ("1ABC23", "123AB4"),
        vanity=(1, 7),
        note=f"older series from {_OPENALPR}; approximate",
    ),
    _j(
        "MI",
        "Michigan",
        ("LLLDDDD", "DLLLDD", "LLLDDD"),
        ("ABC1234", "1ABC23"),
    ),
    _j("MN", "Minnesota", ("LLLDDD", "DDDLLL"), ("ABC123", "123ABC")),
    _j("MS", "Mississippi", ("LLLDDDD", "LLLDDD"), ("ABC1234",)),
    _j(
        "MO",
        "Missouri",
        ("LLDLDL", "DLLDDL", "DDDLLL"),
        ("AB1C2D",),
        vanity=(2, 6),
        note="personalised plates up to 6 characters (dmv.org, Missouri license plates)",
    ),
    _j(
        "MT",
        "Montana",
        ("DDDDDDL", "DDDDDL", "DDDDL", "DDDDDDD"),
        ("412345A", "5612345"),
        note=f"county-coded (county number, serial, letter); {_OPENALPR}; approximate",
    ),
    _j(
        "NE",
        "Nebraska",
        ("LLLDDD", "DLDDDD", "DLLDDD", "DDLDDD", "DDLLDD"),
        ("ABC123", "12A345"),
        note="ABC-123 in the three largest counties, county-coded elsewhere; approximate",
    ),
    _j(
        "NV",
        "Nevada",
        ("DDDLDD", "DDLDDD", "DDDLLL", "LLLDDD"),
        ("123A45", "123ABC"),
        note="NAC 482.320(5): at most seven characters on a personalised plate; "
        "current serial layout approximate",
    ),
    _j(
        "NH",
        "New Hampshire",
        ("DDDDDDD", "DDDDDD", "DDDDD", "LLLDDD"),
        ("1234567",),
    ),
    _j(
        "NJ",
        "New Jersey",
        ("LDDLLL", "LLLDDL", "LLDDDL"),
        ("A12BCD", "ABC12D"),
    ),
    _j("NM", "New Mexico", ("LLLDDD", "DDDLLL"), ("ABC123",)),
    _j(
        "NY",
        "New York",
        ("LLLDDDD", "LLLDDD"),
        ("ABC1234",),
        vanity=(2, 8),
        note="personalised plates up to 8 characters",
    ),
    _j(
        "NC",
        "North Carolina",
        ("LLLDDDD", "LLLDDD"),
        ("ABC1234",),
        vanity=(2, 8),
        note="personalised plates up to 8 characters",
    ),
    _j("ND", "North Dakota", ("LLLDDD", "DDDLLL"), ("ABC123",)),
    _j(
        "OH",
        "Ohio",
        ("LLLDDDD", "LLDDLL"),
        ("ABC1234",),
        note="vanity limit approximate",
    ),
    _j("OK", "Oklahoma", ("LLLDDD", "DDDLLL"), ("ABC123",)),
    _j(
        "OR",
        "Oregon",
        ("DDDLLL", "LLLDDD"),
        ("123ABC", "ABC123"),
        note="vanity limit approximate (some designs hold only 6)",
    ),
    _j("PA", "Pennsylvania", ("LLLDDDD",), ("ABC1234",)),
    _j(
        "RI",
        "Rhode Island",
        ("DDDDDD", "DDDDD", "DDDD", "DDD", "LLDDD", "LLDDDD", "DLLDDD"),
        ("123456", "AB123"),
        vanity=(1, 7),
        note=f"numeric and letter-prefix series; {_OPENALPR}; approximate",
    ),
    _j("SC", "South Carolina", ("LLLDDD", "DDDLLL"), ("ABC123",)),
    _j(
        "SD",
        "South Dakota",
        ("DLLDDD", "DDLDDD", "DDLLDD", "DDLLLD", "DLDDDD"),
        ("1AB234", "12A345"),
        note=f"county-coded; {_OPENALPR}; approximate",
    ),
    _j(
        "TN",
        "Tennessee",
        ("LLLDDDD", "DDDLLL", "LDDDDL"),
        ("ABC1234", "A1234B"),
    ),
    _j(
        "TX",
        "Texas",
        ("LLLDDDD", "LLDLDDD", "DDDLLL", "LLLDDD"),
        ("ABC1234", "AB1C234"),
    ),
    _j(
        "UT",
        "Utah",
        ("LDDDLL", "DDDLLL", "LLLDDD", "DDLLD", "LDDDL", "DDDDL"),
        ("A123BC", "12AB3"),
        note="standard and special-group series; approximate",
    ),
    _j("VT", "Vermont", ("LLLDDD",), ("ABC123",)),
    _j(
        "VA",
        "Virginia",
        ("LLLDDDD", "LLLDDD"),
        ("ABC1234",),
        vanity=(2, 8),
        note="personalised plates up to 7 characters, some designs count a space as half; "
        "8 allowed here to be permissive (approximate)",
    ),
    _j(
        "WA",
        "Washington",
        ("LLLDDDD", "DDDLLL", "LLLDDD"),
        ("ABC1234",),
        page="Washington (state)",
    ),
    _j(
        "WV",
        "West Virginia",
        ("[123456789DNO]LLDDD", "[123456789DNO]LDDDD"),
        ("1AB234", "DA1234"),
        note="first character codes the expiry month (1-9, O, N, D)",
    ),
    _j("WI", "Wisconsin", ("LLLDDDD", "DDDLLL", "LLLDDD"), ("ABC1234",)),
    _j(
        "WY",
        "Wyoming",
        ("DDDDDDD", "DDDDDD", "DDDDD", "DDDDL", "DDDLL", "DDLLL"),
        ("1234567", "12345"),
        note="county-coded (county number 1-23, then serial); approximate",
    ),
)

JURISDICTIONS: Mapping[str, Jurisdiction] = MappingProxyType({j.code: j for j in _TABLE})
