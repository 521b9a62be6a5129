"""Event producers: the public `EventProducer` API, synthetic kukuri traffic and JSON-lines files.

    from producer import EventProducer

See docs/events.md for the event contract and a runnable example.
"""

from producer.sender import EventProducer
from streams.events import InvalidEvent

__all__ = ["EventProducer", "InvalidEvent"]
