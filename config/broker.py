"""The embedded Celery broker: kombu's file-system transport with atomic message files.

kombu (5.7) creates a message file, then writes it; a worker polling at that moment moves the empty file
away and fails with "Unrecoverable error: JSONDecodeError", which stops the whole worker (seen in
bench/pipeline.py after a dozen sequential jobs). Here a message is written under a name the reader skips,
then renamed into place, which is atomic on one file system.
"""

from __future__ import annotations

import logging
import os
import uuid
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)


class Channel(filesystem.Channel):
    # kombu's stubs name the second argument "message" in one parent and "payload" in the other.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # The reader only takes "<stamp>_<uuid>.<queue>.msg": a leading dot never matches a queue.
        partial = os.path.join(self.data_folder_out, f".partial-{uuid.uuid4().hex}")
        data = str_to_bytes(dumps(payload))
        try:
            with open(partial, "wb") as handle:
                handle.write(data)
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        try:
            return super()._get(queue)
        except ValueError:  # a half-written file from a producer without this class: skip, do not crash
            logger.warning("skipped an unreadable message file in %s", self.data_folder_in)
            raise Empty() from None  # kombu's filesystem transport raises queue.Empty too


class Transport(filesystem.Transport):
    Channel = Channel
