"""Which profiles' scores may be promoted into one snapshot when several workers wrote its parts.

Pure. Each worker's part of a boundary records the profiles it computed, by name and fingerprint,
and which one was active. During a rolling restart after a configuration change, parts of the same
boundary can disagree; mixing them would put numbers of two scorings into one list. The rule:

- the snapshot is promoted only when every part has the same active profile name and fingerprint;
- a shadow profile's rows are promoted only when every part computed it with the same fingerprint
  (a shadow added or changed in the middle of a rolling restart is left out of that boundary).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from streams.scoring import ScoreProfile


@dataclass(frozen=True, slots=True)
class PartProfiles:
    """What one part of a snapshot was computed with: the active profile and every profile's fingerprint."""

    active: str
    fingerprints: Mapping[str, str]  # profile name -> fingerprint, the active one included


def part_profiles(computed: Sequence[ScoreProfile]) -> PartProfiles:
    """What a snapshot computed with these profiles (the active one first) records.

    >>> from streams.scoring import DEFAULT
    >>> part_profiles([DEFAULT])
    PartProfiles(active='default', fingerprints={'default': '8003496d9aa17b3f'})
    """
    return PartProfiles(computed[0].name, {p.name: p.fingerprint for p in computed})


@dataclass(frozen=True, slots=True)
class Promotion:
    active: str
    fingerprint: str
    shadows: Mapping[str, str]  # shadow name -> fingerprint, those every part agrees on


def agreed_profiles(parts: Sequence[PartProfiles]) -> Promotion | None:
    """The profiles every part agrees on, or None when the parts disagree on the active one.

    >>> a = PartProfiles("default", {"default": "f1", "rising": "r1"})
    >>> agreed_profiles([a, PartProfiles("default", {"default": "f1"})])
    Promotion(active='default', fingerprint='f1', shadows={})
    >>> agreed_profiles([a, PartProfiles("rising", {"rising": "r1", "default": "f1"})]) is None
    True
    """
    if not parts:
        raise ValueError("a snapshot has at least one part")
    first = parts[0]
    active_print = first.fingerprints.get(first.active)
    if active_print is None:
        raise ValueError(f"part lacks the fingerprint of its active profile {first.active!r}")
    if any(p.active != first.active or p.fingerprints.get(p.active) != active_print for p in parts[1:]):
        return None
    shadows = {
        name: fingerprint
        for name, fingerprint in sorted(first.fingerprints.items())
        if name != first.active and all(p.fingerprints.get(name) == fingerprint for p in parts[1:])
    }
    return Promotion(first.active, active_print, shadows)
