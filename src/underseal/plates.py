"""Plate text: canonical form, OCR folding, and US plate grammars.

Three forms of a plate exist in underseal (DESIGN §4, "Plate forms"):

*raw*
    whatever the OCR or a person typed: ``"7-abc 123"``.
*canonical* (:func:`canonical`)
    upper-case ASCII ``A-Z0-9`` only, separators removed: ``"7ABC123"``.
    This is what a person reads back and what a warrant names.
*folded* (:func:`fold`)
    canonical with OCR-confusable characters merged into one class each:
    ``"7A8C123"``. This is what is tokenised, so that a camera that reads
    ``B`` for ``8`` (or the reverse) still matches the hotlist.

:func:`plausible` is the grammar check that runs on the camera before
folding: it drops sign text and reads that no US jurisdiction can issue,
without ever dropping a plate that could be real (see its docstring for the
trade-off).

Nothing here puts plate text in an error message or a
:class:`Plausibility` detail: plates are personal data, and messages are
logged and returned over HTTP as they are (see :mod:`underseal.errors`).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType

from underseal.errors import InvalidPlate
from underseal.jurisdictions import JURISDICTIONS, Jurisdiction

__all__ = [
    "FOLD_TABLE",
    "JURISDICTIONS",
    "MAX_CANONICAL_LENGTH",
    "MAX_RAW_LENGTH",
    "SEPARATORS",
    "SIGN_WORDS",
    "CollisionReport",
    "Jurisdiction",
    "Plausibility",
    "Reason",
    "canonical",
    "fold",
    "fold_ambiguity",
    "fold_collisions",
    "format_space",
    "matches_format",
    "plate_space",
    "plausible",
    "sample_plates",
    "standard_format",
]

# ---------------------------------------------------------------------------
# Canonical form
# ---------------------------------------------------------------------------

#: Characters dropped by :func:`canonical`. Space, dash and dot are the DESIGN's
#: separators; tab, no-break space, middle dot (U+00B7, printed between groups
#: on several state plates), hyphen (U+2010), non-breaking hyphen (U+2011) and
#: en dash (U+2013) are what OCR engines and copy-paste turn those into.
#: Newlines are *not* separators: joining the lines of a stacked plate is the
#: OCR stage's decision, not ours.
SEPARATORS: str = " \t\u00a0-.\u00b7\u2010\u2011\u2013"

#: Longest canonical text accepted. No US plate is longer than 8; 16 leaves
#: room for other countries while bounding the work done on garbage.
MAX_CANONICAL_LENGTH: int = 16

#: Longest raw text looked at: anything longer is rejected before any work.
MAX_RAW_LENGTH: int = 64

_DROP_SEPARATORS = str.maketrans("", "", SEPARATORS)
# The hot path works on bytes: bytes.translate with a 256-entry table (and
# its delete argument) is several times faster than str.translate with a dict.
_ASCII_SEPARATORS = bytes(c for c in SEPARATORS.encode("utf-8") if c < 0x80)
_ASCII_LOWER = b"abcdefghijklmnopqrstuvwxyz"
_ASCII_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_UPPER_BYTES = bytes.maketrans(_ASCII_LOWER, _ASCII_UPPER)
# [A-Za-z] without IGNORECASE matches ASCII only, so "ß" or "ｆ" never slip in
# through str.upper() (which would turn "ß" into "SS").
_CANONICAL_RE = re.compile(rf"[A-Za-z0-9]{{1,{MAX_CANONICAL_LENGTH}}}")
_ALNUM_RE = re.compile(r"[A-Za-z0-9]*")

# The only messages canonical() ever raises: constants, so no input can leak.
_MSG_EMPTY = "plate text is empty once spaces, dashes and dots are removed"
_MSG_BAD = "plate text contains a character outside A-Z, 0-9, space, dash and dot"
_MSG_RAW_LONG = f"plate text is longer than {MAX_RAW_LENGTH} characters"
_MSG_LONG = f"plate text has more than {MAX_CANONICAL_LENGTH} letters and digits"
_MSG_TYPE = "plate text must be a str"


class Reason(StrEnum):
    """Why :func:`plausible` accepted or rejected a read (stable values)."""

    OK = "ok"
    EMPTY = "empty"
    BAD_CHARACTERS = "bad_characters"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    SIGN_WORD = "sign_word"
    NO_FORMAT = "no_format"
    UNKNOWN_JURISDICTION = "unknown_jurisdiction"


def _canonical_or_reason(text: str) -> str | Reason:
    """The canonical form, or the reason there is none (never raises)."""
    if len(text) > MAX_RAW_LENGTH:
        return Reason.TOO_LONG
    if text.isascii():
        # Fast path: delete separators and upper-case in one bytes.translate.
        # bytes.isalnum() is ASCII-only, so it is exactly the A-Z0-9 check.
        raw = text.encode("ascii").translate(_UPPER_BYTES, _ASCII_SEPARATORS)
        if 0 < len(raw) <= MAX_CANONICAL_LENGTH and raw.isalnum():
            return raw.decode("ascii")
    stripped = text.translate(_DROP_SEPARATORS)
    if _CANONICAL_RE.fullmatch(stripped):
        return stripped.upper()
    if not _ALNUM_RE.fullmatch(stripped):
        return Reason.BAD_CHARACTERS
    return Reason.EMPTY if not stripped else Reason.TOO_LONG


_CANONICAL_MESSAGES: Mapping[Reason, str] = MappingProxyType(
    {
        Reason.EMPTY: _MSG_EMPTY,
        Reason.BAD_CHARACTERS: _MSG_BAD,
        Reason.TOO_LONG: _MSG_LONG,
    }
)


def canonical(text: str) -> str:
    """Return the canonical form of plate text: upper-case ``A-Z0-9`` only.

    Separators (:data:`SEPARATORS`: space, dash, dot and their look-alikes)
    are removed and ASCII letters upper-cased. Anything else - a non-ASCII
    letter, punctuation, an emoji, a newline - raises :class:`InvalidPlate`,
    as do text with no letter or digit, more than
    :data:`MAX_CANONICAL_LENGTH` letters and digits, or more than
    :data:`MAX_RAW_LENGTH` characters in all (checked first, to bound the
    work). Idempotent. The error message never quotes the text.

    Raises:
        TypeError: ``text`` is not a ``str``.
        InvalidPlate: ``text`` cannot be a plate in any form.
    """
    if not isinstance(text, str):
        raise TypeError(_MSG_TYPE)
    result = _canonical_or_reason(text)
    if isinstance(result, Reason):
        if result is Reason.TOO_LONG and len(text) > MAX_RAW_LENGTH:
            raise InvalidPlate(_MSG_RAW_LONG)
        raise InvalidPlate(_CANONICAL_MESSAGES[result])
    return result


# ---------------------------------------------------------------------------
# Folding
# ---------------------------------------------------------------------------

#: OCR-confusable characters and the class representative each folds to.
#:
#: Each class is a digit and the letters OCR mistakes for it, so a read folds
#: the same whichever of the pair the camera saw:
#:
#: - ``0``: O, Q, D   (DESIGN §4; Genetec 0/O/D/Q)
#: - ``1``: I, L      (DESIGN §4; Genetec has 1/I)
#: - ``2``: Z         (DESIGN §4; Genetec)
#: - ``5``: S         (DESIGN §4; Genetec)
#: - ``6``: G         (Genetec)
#: - ``8``: B         (DESIGN §4; Genetec)
#:
#: Deliberately *not* merged: U/V, T/7, A/4, E/F, M/N/H, K/X, Y/V, 3/8.
#: Every merge makes distinct real plates share one token (a false hit: a
#: stop of the wrong car); every missing merge loses a hit when the OCR
#: confuses the pair. The pairs above are the ones matching vendors fold and
#: the ones plate fonts make ambiguous; the others are rarer OCR confusions
#: and would add collisions for little recall. :func:`fold_collisions` (on a
#: sample) and :func:`fold_ambiguity` (exact) measure the cost;
#: docs/plates.md gives the figures and the commands.
FOLD_TABLE: Mapping[str, str] = MappingProxyType(
    {
        "O": "0",
        "Q": "0",
        "D": "0",
        "I": "1",
        "L": "1",
        "Z": "2",
        "S": "5",
        "G": "6",
        "B": "8",
    }
)


def _translation(table: Mapping[str, str]) -> dict[int, str]:
    """A ``str.translate`` table from a fold table, checked to be a fold.

    A fold must map canonical characters to canonical characters, and map
    each representative to itself, so that folding is idempotent.
    """
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    for source, target in table.items():
        if len(source) != 1 or len(target) != 1 or source not in allowed or target not in allowed:
            raise ValueError("a fold table maps single characters of A-Z and 0-9")
        if table.get(target, target) != target:
            raise ValueError("a fold table must map every representative to itself")
    return str.maketrans(dict(table))


_FOLD = _translation(FOLD_TABLE)
# Lower case, upper case and fold in one 256-byte table, for the hot path.
_FOLD_BYTES = bytes.maketrans(
    _ASCII_LOWER + _ASCII_UPPER,
    (_ASCII_UPPER + _ASCII_UPPER).decode("ascii").translate(_FOLD).encode("ascii"),
)


def fold(text: str) -> str:
    """Return the folded form: :func:`canonical`, then :data:`FOLD_TABLE`.

    This is what gets tokenised. Idempotent, and ``fold(canonical(x)) ==
    fold(x)``.

    Raises:
        TypeError: ``text`` is not a ``str``.
        InvalidPlate: as :func:`canonical`.
    """
    # Hot path (fold + HMAC + lookup <= 10 us per read): for ASCII text, one
    # bytes.translate deletes separators, upper-cases and folds; the result is
    # the same as canonical() then the fold, checked by the tests.
    if text.__class__ is str and len(text) <= MAX_RAW_LENGTH and text.isascii():
        raw = text.encode("ascii").translate(_FOLD_BYTES, _ASCII_SEPARATORS)
        if 0 < len(raw) <= MAX_CANONICAL_LENGTH and raw.isalnum():
            return raw.decode("ascii")
    # Everything else (non-ASCII separators, errors, str subclasses) takes the
    # general path, which raises the right error.
    return canonical(text).translate(_FOLD)


# ---------------------------------------------------------------------------
# Format language
# ---------------------------------------------------------------------------

_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALPHABET: tuple[str, ...] = tuple(sorted(_DIGITS | _LETTERS))


@lru_cache(maxsize=1024)
def _positions(fmt: str, excluded: frozenset[str]) -> tuple[frozenset[str], ...]:
    """The set of characters each position of ``fmt`` admits.

    See :mod:`underseal.jurisdictions` for the language. Raises ValueError on
    a malformed format (a programming error; formats are not personal data).
    """
    if not isinstance(fmt, str) or not fmt:
        raise ValueError("a format is a non-empty str")
    letters = _LETTERS - excluded
    out: list[frozenset[str]] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "D":
            out.append(_DIGITS)
        elif ch == "L":
            out.append(letters)
        elif ch == "A":
            out.append(_DIGITS | letters)
        elif ch == "[":
            end = fmt.find("]", i + 1)
            members = fmt[i + 1 : end] if end != -1 else ""
            if not members or not set(members) <= set(_ALPHABET):
                raise ValueError(f"bad character set in format {fmt!r}")
            out.append(frozenset(members))
            i = end
        elif ch in _DIGITS or ch in _LETTERS:
            out.append(frozenset(ch))
        else:
            raise ValueError(f"bad character in format {fmt!r}")
        i += 1
    return tuple(out)


def _class_regex(allowed: frozenset[str]) -> str:
    return "[" + "".join(sorted(allowed)) + "]"


def _format_regex(fmt: str, excluded: frozenset[str]) -> str:
    return "".join(_class_regex(p) for p in _positions(fmt, excluded))


@lru_cache(maxsize=1024)
def _compiled(fmt: str, excluded: frozenset[str]) -> re.Pattern[str]:
    return re.compile(_format_regex(fmt, excluded))


def matches_format(
    canonical_text: str, fmt: str, excluded_letters: frozenset[str] = frozenset()
) -> bool:
    """Whether canonical text matches a format class string (whole string).

    ``fmt`` uses the language of :mod:`underseal.jurisdictions` (``D`` digit,
    ``L`` letter, ``A`` either, ``[..]`` a set, anything else literal).
    ``excluded_letters`` narrow ``L`` and ``A``. Text that is not canonical
    (lower case, separators) simply does not match.
    """
    return _compiled(fmt, frozenset(excluded_letters)).fullmatch(canonical_text) is not None


def format_space(fmt: str, excluded_letters: frozenset[str] = frozenset()) -> int:
    """Number of distinct strings a format admits, e.g. ``DLLLDDD`` -> 17,576,000."""
    return math.prod(len(p) for p in _positions(fmt, frozenset(excluded_letters)))


def _union_size(formats: Iterable[tuple[frozenset[str], ...]], alphabet: Iterable[str]) -> int:
    """Exact number of distinct strings matched by at least one format.

    Formats overlap (a dozen states issue ABC1234), so summing would
    over-count. Walk the positions left to right keeping, for each set of
    formats still matching the prefix, how many prefixes lead there; the
    sets seen stay few because formats share their class structure.
    """
    symbols = tuple(alphabet)
    by_length: dict[int, list[tuple[frozenset[str], ...]]] = {}
    for positions in formats:
        by_length.setdefault(len(positions), []).append(positions)
    total = 0
    for length, group in by_length.items():
        states: dict[frozenset[int], int] = {frozenset(range(len(group))): 1}
        for i in range(length):
            following: dict[frozenset[int], int] = {}
            for alive, count in states.items():
                branches = Counter(
                    frozenset(f for f in alive if ch in group[f][i]) for ch in symbols
                )
                for survivors, n in branches.items():
                    if survivors:
                        following[survivors] = following.get(survivors, 0) + count * n
            states = following
        total += sum(states.values())
    return total


def _jurisdiction_positions(j: Jurisdiction) -> list[tuple[frozenset[str], ...]]:
    return [_positions(f, j.excluded_letters) for f in j.formats]


def _folded_positions(
    positions: tuple[frozenset[str], ...], table: Mapping[str, str]
) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(table.get(c, c) for c in p) for p in positions)


@lru_cache(maxsize=128)
def _plate_space(code: str | None, folded: bool) -> int:
    selected = JURISDICTIONS.values() if code is None else (JURISDICTIONS[code],)
    formats = [p for j in selected for p in _jurisdiction_positions(j)]
    if not folded:
        return _union_size(formats, _ALPHABET)
    folded_formats = [_folded_positions(p, FOLD_TABLE) for p in formats]
    folded_alphabet = sorted({FOLD_TABLE.get(c, c) for c in _ALPHABET})
    return _union_size(folded_formats, folded_alphabet)


def plate_space(jurisdiction: str | None = None, *, folded: bool = False) -> int:
    """Size of the standard-format plate space (personalised plates excluded).

    The exact number of distinct canonical strings matched by at least one
    standard format of ``jurisdiction`` (all 51 when ``None``): the union,
    not the sum, since formats overlap. With ``folded=True`` it counts
    distinct *folded* strings instead - the number of tokens a brute-force
    attacker must try, which folding makes smaller.

    Raises:
        KeyError: unknown jurisdiction code.
    """
    code = None if jurisdiction is None else jurisdiction.upper()
    if code is not None and code not in JURISDICTIONS:
        raise KeyError("unknown jurisdiction code")
    return _plate_space(code, folded)


# ---------------------------------------------------------------------------
# Sign words
# ---------------------------------------------------------------------------

#: Canonical forms of road and parking sign text that OCR reads as plates
#: (EFF found "CROSSWALK" read as a plate in Oakland's ALPR data).
SIGN_WORDS: frozenset[str] = frozenset(
    {
        "AHEAD",
        "BUSONLY",
        "BUSSTOP",
        "CAUTION",
        "CROSSWALK",
        "DEADEND",
        "DETOUR",
        "DONOTBLOCK",
        "DONOTENTER",
        "DRIVEWAY",
        "ENTER",
        "ENTRANCE",
        "EXIT",
        "FIRELANE",
        "KEEPLEFT",
        "KEEPRIGHT",
        "LANEENDS",
        "LIMIT",
        "LOADINGZONE",
        "MERGE",
        "NOLEFTTURN",
        "NOOUTLET",
        "NOPARKING",
        "NORIGHTTURN",
        "NOSTANDING",
        "NOSTOPPING",
        "NOTHRUTRAFFIC",
        "NOTRESPASSING",
        "NOTURNONRED",
        "NOUTURN",
        "ONEWAY",
        "ONLY",
        "PARKING",
        "PEDESTRIAN",
        "PEDXING",
        "PERMITONLY",
        "PRIVATEPROPERTY",
        "RAILROAD",
        "RESERVED",
        "ROADCLOSED",
        "ROADWORK",
        "SCHOOL",
        "SCHOOLZONE",
        "SIGNALAHEAD",
        "SLOW",
        "SPEED",
        "SPEEDLIMIT",
        "STOP",
        "STOPAHEAD",
        "TOWAWAY",
        "TOWAWAYZONE",
        "TOWZONE",
        "VISITORPARKING",
        "WRONGWAY",
        "YIELD",
        "YIELDAHEAD",
    }
)

# Sign words that are also common stems of personalised plates ("SPEEDY",
# "NOLIMIT", "ENTER1"): matched only as the whole read, never inside one.
_VANITY_STEMS = frozenset({"AHEAD", "ENTER", "LIMIT", "MERGE", "SPEED"})
# Compared folded, so "CR0SSWALK" or "5TOP" (OCR's own confusions on sign
# lettering) are caught too.
_SIGN_FOLDED = frozenset(fold(w) for w in SIGN_WORDS)
_SIGN_INSIDE_FOLDED = frozenset(fold(w) for w in SIGN_WORDS - _VANITY_STEMS if len(w) >= 5)
# Containment is found through the words' 5-character prefixes: one slice and
# one dict lookup per offset (3 for a 7-character read) instead of a scan per
# word.
# (Private lookups are plain dicts: a MappingProxyType costs a call per get.)
_SIGN_BY_PREFIX: dict[str, tuple[str, ...]] = {
    prefix: tuple(sorted(w for w in _SIGN_INSIDE_FOLDED if w.startswith(prefix)))
    for prefix in {w[:5] for w in _SIGN_INSIDE_FOLDED}
}


def _is_sign(folded: str) -> bool:
    if folded in _SIGN_FOLDED:
        return True
    for start in range(len(folded) - 4):
        words = _SIGN_BY_PREFIX.get(folded[start : start + 5])
        if words is not None and any(folded.startswith(w, start) for w in words):
            return True
    return False


# ---------------------------------------------------------------------------
# Plausibility
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plausibility:
    """The verdict of :func:`plausible`; truthy when the read is plausible.

    ``detail`` is a sentence for people and logs; it never contains the read.
    """

    ok: bool
    reason: Reason
    detail: str

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True, slots=True)
class _Grammar:
    name: str
    shortest: int
    longest: int
    vanity_min: int
    vanity_max: int
    standard: re.Pattern[str]
    # Verdicts built once: a frozen dataclass costs a microsecond to make.
    ok_standard: Plausibility
    ok_vanity: Plausibility


def _grammar(j: Jurisdiction) -> _Grammar:
    lengths = [len(_positions(f, j.excluded_letters)) for f in j.formats]
    alternatives = "|".join(_format_regex(f, j.excluded_letters) for f in j.formats)
    return _Grammar(
        name=j.name,
        shortest=min(*lengths, j.vanity_min),
        longest=max(*lengths, j.vanity_max),
        vanity_min=j.vanity_min,
        vanity_max=j.vanity_max,
        standard=re.compile(f"(?:{alternatives})"),
        ok_standard=Plausibility(True, Reason.OK, f"matches a standard {j.name} serial format"),
        ok_vanity=Plausibility(True, Reason.OK, f"plausible as a personalised {j.name} plate"),
    )


_GRAMMARS: dict[str, _Grammar] = {code: _grammar(j) for code, j in JURISDICTIONS.items()}
_GLOBAL_SHORTEST = min(g.shortest for g in _GRAMMARS.values())
_GLOBAL_LONGEST = max(g.longest for g in _GRAMMARS.values())
# Lengths some jurisdiction accepts as a personalised plate: any letters and
# digits of such a length are plausible somewhere, with no regex to run.
_VANITY_LENGTHS = frozenset(
    n for g in _GRAMMARS.values() for n in range(g.vanity_min, g.vanity_max + 1)
)
_ANY_STANDARD = re.compile("|".join(f"(?:{g.standard.pattern})" for g in _GRAMMARS.values()))

_DETAIL_CANONICAL: Mapping[Reason, str] = MappingProxyType(
    {
        Reason.EMPTY: "no letters or digits once spaces, dashes and dots are removed",
        Reason.BAD_CHARACTERS: _MSG_BAD,
        Reason.TOO_LONG: f"more than {MAX_CANONICAL_LENGTH} letters and digits",
    }
)
_OK_ANY = Plausibility(True, Reason.OK, "plausible in at least one US jurisdiction")
_SIGN = Plausibility(False, Reason.SIGN_WORD, "reads as road or parking sign text, not a plate")
_UNKNOWN = Plausibility(
    False, Reason.UNKNOWN_JURISDICTION, "unknown jurisdiction code; expected a US state code or DC"
)
_CANONICAL_VERDICTS: dict[Reason, Plausibility] = {
    reason: Plausibility(False, reason, detail) for reason, detail in _DETAIL_CANONICAL.items()
}


def _chars(n: int) -> str:
    return f"{n} character" if n == 1 else f"{n} characters"


def _reject(reason: Reason, detail: str) -> Plausibility:
    return Plausibility(False, reason, detail)


def plausible(text: str, jurisdiction: str | None = None) -> Plausibility:
    """Whether a read could be a real plate (of ``jurisdiction``, or of any).

    Checks, in order: the text has a canonical form; it is not sign text
    (:data:`SIGN_WORDS`, compared after folding; a sign word of five letters
    or more also rejects any read that contains it, e.g. ``CROSSWALK1``,
    except a few words that double as personalised-plate stems such as
    ``SPEED``); its length is one the jurisdiction issues; and it is either
    the length of a personalised plate there (any letters and digits) or
    matches a standard serial format. With ``jurisdiction=None`` the read
    must pass for at least one of the 51 jurisdictions.

    The trade-off: in underseal a read that is wrongly accepted costs one
    HMAC and a hotlist miss (non-hits are dropped on the camera), while a
    read wrongly rejected silently loses a hotlist hit. So the check rejects
    only what cannot be a plate - sign text and impossible lengths, such as
    8 characters in Texas or 9 anywhere in the US - and accepts every string
    of personalised-plate length. It deliberately does not reject
    letters-only 8-character reads: New York and North Carolina issue
    8-character personalised plates, often all letters. Exact-match sign
    words do drop a real personalised plate that spells one (``STOP``); that
    is the price of dropping the far commoner sign reads.

    Never raises on bad text: the reason is in the result, and the detail
    never quotes the text.

    Raises:
        TypeError: ``text`` is not a ``str`` (or ``jurisdiction`` is neither
            ``None`` nor a ``str``).
    """
    if not isinstance(text, str):
        raise TypeError(_MSG_TYPE)
    grammar: _Grammar | None = None
    if jurisdiction is not None:
        if not isinstance(jurisdiction, str):
            raise TypeError("jurisdiction must be a str or None")
        grammar = _GRAMMARS.get(jurisdiction.upper())
        if grammar is None:
            return _UNKNOWN

    result = _canonical_or_reason(text)
    if isinstance(result, Reason):
        return _CANONICAL_VERDICTS[result]
    # Sign text first: "CROSSWALK" must not pass as a 9-letter anything.
    if _is_sign(result.encode("ascii").translate(_FOLD_BYTES).decode("ascii")):
        return _SIGN

    n = len(result)
    if grammar is None:
        if n > _GLOBAL_LONGEST:
            return _reject(
                Reason.TOO_LONG,
                f"{_chars(n)}; no US jurisdiction issues plates longer than {_GLOBAL_LONGEST}",
            )
        if n < _GLOBAL_SHORTEST:
            return _reject(
                Reason.TOO_SHORT,
                f"{_chars(n)}; no US jurisdiction issues plates shorter than {_GLOBAL_SHORTEST}",
            )
        if n in _VANITY_LENGTHS or _ANY_STANDARD.fullmatch(result):
            return _OK_ANY
        return _reject(
            Reason.NO_FORMAT,
            f"{_chars(n)}; matches no US personalised length or standard serial format",
        )

    if n > grammar.longest:
        return _reject(
            Reason.TOO_LONG, f"{_chars(n)}; {grammar.name} plates have at most {grammar.longest}"
        )
    if n < grammar.shortest:
        return _reject(
            Reason.TOO_SHORT, f"{_chars(n)}; {grammar.name} plates have at least {grammar.shortest}"
        )
    if grammar.standard.fullmatch(result):
        return grammar.ok_standard
    if grammar.vanity_min <= n <= grammar.vanity_max:
        return grammar.ok_vanity
    return _reject(
        Reason.NO_FORMAT,
        f"{_chars(n)}; outside {grammar.name} personalised lengths "
        f"({grammar.vanity_min} to {grammar.vanity_max}) and no standard serial format matches",
    )


def standard_format(text: str, jurisdiction: str | None = None) -> bool:
    """Whether canonical ``text`` fits a standard serial format of ``jurisdiction``, or of any.

    Stricter than :func:`plausible`, which also passes any string of
    personalised-plate length: about one uniform random string of 5-8
    letters and digits in ten fits some state's series. The OCR uses it as a
    prior, to prefer a serial reading the model finds about as likely as a
    reading no state issues in series (``5UVR090`` over ``5UVRO90``). Text
    that is not canonical (lower case, separators) does not fit.

    Raises:
        TypeError: ``text`` is not a ``str``, or ``jurisdiction`` neither ``None`` nor a ``str``.
        KeyError: ``jurisdiction`` is not a known code.
    """
    if not isinstance(text, str):
        raise TypeError(_MSG_TYPE)
    if jurisdiction is None:
        return _ANY_STANDARD.fullmatch(text) is not None
    if not isinstance(jurisdiction, str):
        raise TypeError("jurisdiction must be a str or None")
    grammar = _GRAMMARS.get(jurisdiction.upper())
    if grammar is None:
        raise KeyError("unknown jurisdiction code")
    return grammar.standard.fullmatch(text) is not None


# ---------------------------------------------------------------------------
# Measuring the fold
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sampler:
    codes: tuple[str, ...]
    formats: Mapping[str, tuple[tuple[tuple[str, ...], ...], ...]]
    weights: Mapping[str, tuple[int, ...]]


@lru_cache(maxsize=1)
def _sampler() -> _Sampler:
    formats: dict[str, tuple[tuple[tuple[str, ...], ...], ...]] = {}
    weights: dict[str, tuple[int, ...]] = {}
    for code, j in JURISDICTIONS.items():
        positions = _jurisdiction_positions(j)
        formats[code] = tuple(tuple(tuple(sorted(p)) for p in f) for f in positions)
        weights[code] = tuple(math.prod(len(p) for p in f) for f in positions)
    return _Sampler(tuple(JURISDICTIONS), formats, weights)


def sample_plates(n: int, seed: int, jurisdiction: str | None = None) -> list[str]:
    """``n`` random standard-format plates, reproducible from ``seed``.

    The jurisdiction is uniform over the 51 (or the one given), the format
    is weighted by its size, the characters uniform over what the format
    admits. A model for measurements and tests, not of real traffic:
    personalised plates and population weights are not modelled.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    sampler = _sampler()
    if jurisdiction is not None and jurisdiction.upper() not in sampler.formats:
        raise KeyError("unknown jurisdiction code")
    # Measurement only, never keys or tokens: a seeded PRNG is what we want.
    rng = random.Random(seed)  # noqa: S311
    plates: list[str] = []
    for _ in range(n):
        code = jurisdiction.upper() if jurisdiction is not None else rng.choice(sampler.codes)
        (fmt,) = rng.choices(sampler.formats[code], weights=sampler.weights[code])
        plates.append("".join(rng.choice(p) for p in fmt))
    return plates


@dataclass(frozen=True, slots=True)
class CollisionReport:
    """What folding costs on a sample: plates that share a token with another.

    ``colliding`` counts the distinct sampled plates whose folded form equals
    the folded form of at least one *other* distinct sampled plate; ``rate``
    is ``colliding / distinct``. Without folding it would be 0.
    """

    sample_size: int
    seed: int
    distinct: int
    tokens: int
    colliding: int
    rate: float


def _equal_fold_pairs(
    formats: Iterable[tuple[frozenset[str], ...]], translation: Mapping[int, str]
) -> int:
    """Ordered pairs (p, q) of strings in the union of ``formats`` that fold alike.

    The pair version of :func:`_union_size`: the state is the pair of
    still-matching format sets, and each step advances both strings by two
    characters with the same fold.
    """
    pairs = tuple(
        (a, b)
        for a in _ALPHABET
        for b in _ALPHABET
        if a.translate(translation) == b.translate(translation)
    )
    by_length: dict[int, list[tuple[frozenset[str], ...]]] = {}
    for positions in formats:
        by_length.setdefault(len(positions), []).append(positions)
    total = 0
    for length, group in by_length.items():
        everything = frozenset(range(len(group)))
        states: dict[tuple[frozenset[int], frozenset[int]], int] = {(everything, everything): 1}
        for i in range(length):
            following: dict[tuple[frozenset[int], frozenset[int]], int] = {}
            for (left, right), count in states.items():
                branches = Counter(
                    (
                        frozenset(f for f in left if a in group[f][i]),
                        frozenset(f for f in right if b in group[f][i]),
                    )
                    for a, b in pairs
                )
                for key, n in branches.items():
                    if key[0] and key[1]:
                        following[key] = following.get(key, 0) + count * n
            states = following
        total += sum(states.values())
    return total


@lru_cache(maxsize=64)
def _ambiguity(code: str | None, table: tuple[tuple[str, str], ...]) -> float:
    selected = JURISDICTIONS.values() if code is None else (JURISDICTIONS[code],)
    formats = [p for j in selected for p in _jurisdiction_positions(j)]
    pairs = _equal_fold_pairs(formats, _translation(dict(table)))
    return pairs / _union_size(formats, _ALPHABET)


def fold_ambiguity(
    jurisdiction: str | None = None, table: Mapping[str, str] | None = None
) -> float:
    """Exact mean number of standard plates that share a plate's folded token.

    Over every string of the standard-format space of ``jurisdiction`` (all
    51 when ``None``), the average number of strings in that space - itself
    included - that fold to the same token: 1.0 means folding merges nothing.
    Unlike :func:`fold_collisions` it does not depend on a sample's density.
    With ``H`` hotlisted plates spread over a space of ``N``
    (:func:`plate_space`), a read of an unlisted plate is a false hit with
    probability about ``(ambiguity - 1) * H / N``.

    Raises:
        KeyError: unknown jurisdiction code.
    """
    code = None if jurisdiction is None else jurisdiction.upper()
    if code is not None and code not in JURISDICTIONS:
        raise KeyError("unknown jurisdiction code")
    chosen = FOLD_TABLE if table is None else table
    return _ambiguity(code, tuple(sorted(chosen.items())))


def fold_collisions(
    sample_size: int = 200_000, seed: int = 0, table: Mapping[str, str] | None = None
) -> CollisionReport:
    """Measure how many sampled plates lose their own token to folding.

    Draws ``sample_size`` plates with :func:`sample_plates`, de-duplicates
    them, folds each with ``table`` (default :data:`FOLD_TABLE`) and counts
    the plates whose folded form is shared with a different plate. Pass an
    alternative table to compare (e.g. with U/V merged).
    """
    translation = _FOLD if table is None else _translation(table)
    distinct = set(sample_plates(sample_size, seed))
    counts = Counter(p.translate(translation) for p in distinct)
    colliding = sum(c for c in counts.values() if c > 1)
    return CollisionReport(
        sample_size=sample_size,
        seed=seed,
        distinct=len(distinct),
        tokens=len(counts),
        colliding=colliding,
        rate=colliding / len(distinct) if distinct else 0.0,
    )
