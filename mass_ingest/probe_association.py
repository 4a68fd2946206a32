"""Which probe made a recording: by the serial in its .meta, else by the profile's map.

The lab names probes ``<serial>_<subject>_<n>``, so a probe whose name (or serial) holds the
recording's serial is the one; when several do (a probe re-implanted), the one implanted in the
session's subject, or named after it, is. Otherwise the profile's ``probe_association`` decides,
and failing that the recording is inserted without a probe and listed for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from mass_ingest.db import schema
from mass_ingest.db.bulk import matching, plain_rows


class Association(NamedTuple):
    """A recording's probe and how it was decided ('serial' or 'profile_map'), or why there is none."""

    probe: str | None
    decided_by: str = ""
    reason: str = ""


@dataclass
class ProbeIndex:
    """The pipeline's probes, read once per chunk: serial -> probe names, and each subject's implants."""

    names: set[str] = field(default_factory=set)
    by_serial: dict[str, set[str]] = field(default_factory=dict)
    implanted: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def fetch(cls, subjects: set[str]) -> "ProbeIndex":
        schema.activate()
        index = cls()
        for probe in plain_rows(schema.Probe.proj("serial")):
            index.names.add(probe["probe"])
            for serial in {probe["serial"], *probe["probe"].split("_")} - {""}:
                index.by_serial.setdefault(serial, set()).add(probe["probe"])
        if subjects and index.names:  # no probe, no implant (ProbeInsertion refers to Probe)
            # One join with the subjects (see db/bulk.py matching): DataJoint's restriction by a list of
            # dicts made an OR term per subject, ~10 ms per insert chunk.
            for subject, probe in matching("ProbeInsertion", ["subject"], [(s,) for s in subjects],
                                           ["subject", "probe"]):
                index.implanted.setdefault(subject, set()).add(probe)
        return index

    def associate(self, subject: str, folder: str, serial: str | None,
                  mapping: dict[str, dict[str, str]]) -> Association:
        """The probe of ``subject``'s recording in ``folder`` whose .meta says ``serial``."""
        named = sorted(self.by_serial.get(serial, ())) if serial else []
        if len(named) > 1:
            named = [n for n in named if n in self.implanted.get(subject, ()) or f"_{subject}_" in f"_{n}_"]
        if len(named) == 1:
            return Association(named[0], "serial")
        mapped = mapping.get(subject, {}).get(folder)
        if mapped in self.names:
            return Association(mapped, "profile_map")
        fix = (f"map it in the profile (probe_association: {{'{subject}': {{'{folder}': <probe name>}}}}) "
               "or enter it by hand")
        if mapped:
            return Association(None, reason=f"the profile maps {folder} to '{mapped}', which is not a probe in the "
                               "pipeline; import it (mass-ingest subjects import) or correct the map")
        if not serial:
            return Association(None, reason=f"the .meta of {folder} has no probe serial; {fix}")
        candidates = sorted(self.by_serial.get(serial, ()))
        if candidates:
            which = "more than one" if named else "none"
            return Association(None, reason=f"serial {serial} names several probes ({', '.join(candidates)}) and "
                               f"{which} of them is implanted in {subject}; {fix}")
        return Association(None, reason=f"no probe in the pipeline has serial {serial}; {fix}")
