"""Fold one batch of Kafka records into the window state, one record at a time, isolated.

Pure with respect to Kafka: it takes records and returns what the caller must do next (dead
letters to write, offsets and fingerprints to checkpoint, barriers seen, counters), so it is
tested without a broker. Decoding, validation, the key check and the fold of each record run
under one guard: whatever one record raises, that record is rejected (a contract violation keeps
its reason, anything else is `unprocessable` with the error as detail) and the next record is
folded. Only infrastructure faults (the state store) escape, failing the whole batch.

Valid events are decoded first and their identities read from the store in one multi-get per
partition (`PartitionState.prefetch`); the fold itself then touches memory only.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter

from aiokafka import ConsumerRecord

from agents.control import MATERIALIZE, MaterializeRequest, control_kind, decode_materialize
from agents.isolation import is_infrastructure_fault
from broker.records import Fingerprint, fingerprint
from observability.logs import log_event
from observability.metrics import EventResult
from streams.aggregation import PartitionState, Result
from streams.events import DeadLetterReason, Fact, InvalidEvent, decode_fact
from streams.stream_state import StreamState

log = logging.getLogger("kukuri_trending.ingest")


@dataclass
class FoldResult:
    counts: Counter[tuple[str, EventResult]] = field(default_factory=Counter)
    """(kind, result) -> events; dead letters count as ("invalid", "dead_lettered")."""
    rejected: list[tuple[ConsumerRecord, InvalidEvent]] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    last_records: dict[int, Fingerprint] = field(default_factory=dict)
    barriers: list[tuple[int, MaterializeRequest]] = field(default_factory=list)
    newest_event_time: int = 0

    def dead_letter_reasons(self) -> Counter[DeadLetterReason]:
        return Counter(error.reason for _, error in self.rejected)


def fold_records(
    state: StreamState, records: Iterable[ConsumerRecord], *, now_ms: int, max_skew_ms: int
) -> FoldResult:
    """Fold `records` (in offset order per partition) into `state`'s partitions, isolating each.

    Records of partitions the state does not hold, or before a partition's offset (already
    folded), are skipped. Raises only infrastructure faults; nothing is checkpointed here.
    """
    result = FoldResult()
    by_partition: dict[int, list[ConsumerRecord]] = {}
    for record in records:
        group = by_partition.get(record.partition)
        if group is None:
            group = by_partition[record.partition] = []
        group.append(record)
    for p, group in by_partition.items():
        partition = state.partitions.get(p)
        if partition is None or partition.offset is None:
            continue
        first = partition.offset
        if group[0].offset < first:
            group = [r for r in group if r.offset >= first]
            if not group:
                continue
        events, identities, keys, sources = _decode(group, partition.fact_prefix, now_ms, max_skew_ms, result)
        partition.note_folding(group[-1].offset + 1)
        if events:
            _fold_partition(partition, events, identities, keys, sources, result)
        result.next_offsets[p] = group[-1].offset + 1
        result.last_records[p] = fingerprint(group[-1])
    if result.rejected:
        result.counts[("invalid", "dead_lettered")] += len(result.rejected)
    return result


def _decode(
    records: list[ConsumerRecord], fact_prefix: bytes, now_ms: int, max_skew_ms: int, result: FoldResult
) -> tuple[list[Fact], list[bytes], list[bytes], list[ConsumerRecord]]:
    """The valid events of one partition's records, their identity keys, their fact keys (the
    partition's `fact_prefix` + identity) and the records they came from (same index); control
    records and rejects go into `result`."""
    events: list[Fact] = []
    identities: list[bytes] = []
    keys: list[bytes] = []
    sources: list[ConsumerRecord] = []
    for record in records:
        if record.headers and control_kind(record.headers) is not None:
            _read_control(record, result)
            continue
        try:
            event = decode_fact(record.value, now_ms=now_ms, max_skew_ms=max_skew_ms)
            topic = event.topic_id.encode()
            if record.key is not None and record.key != topic:
                raise InvalidEvent("key_mismatch", "the Kafka key must be the topic_id")
            identity = topic + b"\0" + event.event_id.encode()  # identity_key, with the topic already encoded
        except InvalidEvent as exc:
            result.rejected.append((record, exc))
            continue
        except Exception as exc:  # the decoder promises InvalidEvent only; a record never stops the batch
            _reject_unprocessable(record, exc, result)
            continue
        events.append(event)
        identities.append(identity)
        keys.append(fact_prefix + identity)
        sources.append(record)
    return events, identities, keys, sources


def _fold_partition(
    partition: PartitionState,
    events: list[Fact],
    identities: list[bytes],
    keys: list[bytes],
    sources: list[ConsumerRecord],
    result: FoldResult,
) -> None:
    try:
        partition.prefetch(events, keys)
    except Exception as exc:
        if is_infrastructure_fault(exc):
            raise
        # Only a speed-up: without it, `apply` reads each identity itself.
        log_event(log, "trending_stream.prefetch_failed", level=logging.WARNING, error=repr(exc))
    apply = partition.apply
    outcomes: list[Result] = []
    failed: set[int] = set()
    for event, identity, key in zip(events, identities, keys, strict=True):
        try:
            outcomes.append(apply(event, identity, key))
        except Exception as exc:
            if is_infrastructure_fault(exc):
                raise
            i = len(outcomes) + len(failed)
            failed.add(i)
            _reject_unprocessable(sources[i], exc, result)
    if failed:  # rare: leave out the events whose fold raised
        events = [e for i, e in enumerate(events) if i not in failed]
    if events:
        result.counts.update(zip(map(_kind, events), outcomes, strict=True))
        result.newest_event_time = max(result.newest_event_time, max(map(_created_at, events)))


_kind = attrgetter("kind")
_created_at = attrgetter("created_at")


def _read_control(record: ConsumerRecord, result: FoldResult) -> None:
    try:
        request = decode_materialize(record.value) if control_kind(record.headers) == MATERIALIZE else None
    except Exception as exc:  # a control record is never dead-lettered: it is not an event
        log_event(log, "trending_stream.bad_control_record", level=logging.WARNING, error=repr(exc),
                  source=f"{record.topic}/{record.partition}/{record.offset}")
        return
    if request is not None:
        result.barriers.append((record.partition, request))


def _reject_unprocessable(record: ConsumerRecord, exc: Exception, result: FoldResult) -> None:
    log_event(log, "trending_stream.unprocessable", level=logging.ERROR, error=repr(exc)[:500],
              source=f"{record.topic}/{record.partition}/{record.offset}")
    result.rejected.append((record, unprocessable(exc)))


def unprocessable(exc: BaseException) -> InvalidEvent:
    """The dead-letter error for a record that failed for a reason the contract does not name."""
    return InvalidEvent("unprocessable", f"{type(exc).__name__}: {str(exc)[:300]}")
