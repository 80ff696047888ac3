"""The runtime process of one execution environment: what RAPID and the runtime interface client
do in a Lambda container, reduced to LocalStack's executor protocol. Standard library only: it
runs with ``python -S`` and the function's code, its layers and the runtime's boto3 on
PYTHONPATH.

1. listen on 127.0.0.1 (a free port) for ``POST /invoke`` from LocalStack:
   ``{"invoke-id", "invoked-function-arn", "payload", "trace-id"}``, answered 202 at once;
2. import the handler (``_HANDLER``, e.g. ``app.handler``), then report
   ``POST {LOCALSTACK_RUNTIME_ENDPOINT}/status/{id}/ready`` (with the port), or ``.../error``;
3. run invocations one at a time and post the result to ``.../invocations/{request id}/response``
   or the error document to ``.../invocations/{request id}/error``.
"""

import importlib
import json
import logging
import os
import queue
import sys
import threading
import time
import traceback
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # the function's modules, not this package's, must win

ENDPOINT = os.environ["LOCALSTACK_RUNTIME_ENDPOINT"].rstrip("/")
RUNTIME_ID = os.environ["LOCALSTACK_RUNTIME_ID"]
INVOCATIONS: "queue.Queue[dict]" = queue.Queue()
#: Lambda's limit on a synchronous invocation's response (6 MB)
MAX_PAYLOAD = int(os.environ.get("LOCALSTACK_MAX_PAYLOAD_SIZE") or 6291556)
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(path: str, body: bytes) -> None:
    request = urllib.request.Request(
        ENDPOINT + path, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    NO_PROXY.open(request, timeout=60).close()


def error_document(exc: BaseException, skip: int = 0) -> dict:
    tb = exc.__traceback__
    for _ in range(skip):  # this module's own frames
        tb = tb.tb_next if tb is not None and tb.tb_next is not None else tb
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_tb(tb),
    }


class InvokeHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/invoke":
            self.send_response(404)
        else:
            INVOCATIONS.put(json.loads(body))
            self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class Context:
    """The Lambda context object (what handlers and Powertools read of it)."""

    def __init__(self, invocation: dict, deadline: float) -> None:
        self.aws_request_id = invocation["invoke-id"]
        self.invoked_function_arn = invocation.get("invoked-function-arn", "")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler():
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function_name)


def main() -> None:
    # The python runtime's root handler: "[LEVEL]\ttime\trequest id\tmessage" on stdout.
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(message)s"))
    root.addHandler(handler)
    server = ThreadingHTTPServer(("127.0.0.1", 0), InvokeHandler)
    threading.Thread(target=server.serve_forever, daemon=True, name="invoke-server").start()
    try:
        function = load_handler()
    except Exception as exc:  # an init error: LocalStack fails the environment's startup
        traceback.print_exc()
        post(f"/status/{RUNTIME_ID}/error", json.dumps(error_document(exc)).encode())
        sys.exit(1)
    post(f"/status/{RUNTIME_ID}/ready", json.dumps({"port": server.server_address[1]}).encode())
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or 3)
    while True:
        invocation = INVOCATIONS.get()
        request_id = invocation["invoke-id"]
        os.environ["_X_AMZN_TRACE_ID"] = invocation.get("trace-id") or ""
        context = Context(invocation, time.monotonic() + timeout)
        try:
            event = json.loads(invocation.get("payload") or "null")
            body = json.dumps(function(event, context)).encode()
            path = f"/invocations/{request_id}/response"
        except Exception as exc:
            document = dict(error_document(exc, skip=1), requestId=request_id)
            print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
            print("Traceback (most recent call last):", file=sys.stderr)
            print("".join(document["stackTrace"]), end="", file=sys.stderr)
            body = json.dumps(document).encode()
            path = f"/invocations/{request_id}/error"
        if len(body) > MAX_PAYLOAD and path.endswith("/response"):
            message = (
                f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload "
                f"size ({MAX_PAYLOAD} bytes)."
            )  # as Lambda says it: an answer this large works here but not on AWS
            print(f"[ERROR] {message}", file=sys.stderr)
            error = {"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message}
            body, path = json.dumps(error).encode(), f"/invocations/{request_id}/error"
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            post(path, body)
        except OSError as exc:  # LocalStack gave up on this invocation: serve the next one
            print(f"[ERROR] could not report {request_id}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    main()
