"""The local stand-in for the seed's event stream: emitted tasks as Server-Sent Events.

An SQS queue subscribed to the task topic (examples/local) receives each emission as an SNS
envelope; the feed decodes it back into the task (`message_encoding` says how), prints it as one
JSON line and sends it to every client of `GET /events` (`text/event-stream`).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

KEEPALIVE_SECONDS = 15.0


def event_from_envelope(envelope: dict[str, Any]) -> dict[str, Any]:
    """The emitted task carried by one SNS notification: id, timestamp, emitted_at, message."""
    attributes = {name: a["Value"] for name, a in envelope["MessageAttributes"].items()}
    body = envelope["Message"]
    message = json.loads(body) if attributes["message_encoding"] == "json" else body
    return {
        "id": attributes["task_id"],
        "timestamp": attributes["scheduled_at"],
        "emitted_at": envelope["Timestamp"],
        "message": message,
    }


class EventFeed:
    """Polls the events queue in a thread and fans each emitted task out to listeners."""

    def __init__(self, sqs: Any, queue_url: str, echo: Callable[[str], None]) -> None:
        self._sqs, self._queue_url, self._echo = sqs, queue_url, echo
        self._listeners: set[queue.Queue[dict[str, Any]]] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="event-feed", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stopped.is_set():
            try:
                received = self._sqs.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
            except (BotoCoreError, ClientError) as error:  # e.g. the stack was destroyed
                self._echo(json.dumps({"event_feed_error": str(error)}))
                self._stopped.wait(5)
                continue
            for sqs_message in received.get("Messages", []):
                event = event_from_envelope(json.loads(sqs_message["Body"]))
                self._echo(json.dumps(event))
                with self._lock:
                    for listener in self._listeners:
                        listener.put(event)
                self._sqs.delete_message(
                    QueueUrl=self._queue_url, ReceiptHandle=sqs_message["ReceiptHandle"]
                )

    def serve_sse(self, request: BaseHTTPRequestHandler) -> None:
        """Answer `GET /events`: one `data:` line of JSON per emitted task, until disconnect."""
        listener: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            self._listeners.add(listener)
        request.close_connection = True  # the stream ends when either side closes it
        request.send_response(200)
        request.send_header("content-type", "text/event-stream")
        request.send_header("cache-control", "no-cache")
        request.end_headers()
        try:
            request.wfile.write(b": connected\n\n")
            request.wfile.flush()
            last_write = time.monotonic()
            while not self._stopped.is_set():
                try:
                    event = listener.get(timeout=1.0)  # wakes up to notice stop()
                except queue.Empty:
                    if time.monotonic() - last_write < KEEPALIVE_SECONDS:
                        continue
                    chunk = b": keep-alive\n\n"
                else:
                    chunk = f"id: {event['id']}\ndata: {json.dumps(event)}\n\n".encode()
                request.wfile.write(chunk)
                request.wfile.flush()
                last_write = time.monotonic()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away
        finally:
            with self._lock:
                self._listeners.discard(listener)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
