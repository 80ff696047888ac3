"""``LAMBDA_RUNTIME_EXECUTOR=local``: each execution environment is a host Python subprocess.

Where LocalStack's docker executor starts a container with RAPID
(``localstack-lambda-runtime-init``) as its entry point, this one starts ``bootstrap.py`` with the
host's Python (the one LocalStack runs on, with ``-S``: none of LocalStack's packages are
visible to the function). The function
sees the unzipped code as its task root, its layers' ``python/`` folders on PYTHONPATH, then
the Lambda runtime's own packages (boto3: ``CYTOTILE_LAMBDA_RUNTIME_PATH``), its environment
variables, AWS endpoints pointing at LocalStack, and a private temporary folder as ``/tmp``.

The subprocess speaks LocalStack's executor protocol (``executor_endpoint.py``): it reports
ready or an init error, receives ``POST /invoke`` and posts each result back. This class adds
what RAPID does around it: the function's timeout (the process is killed and restarted on the
next invocation, as Lambda resets a sandbox), a runtime that dies mid-invocation (an error
result, not a hang), and the invocation's log lines (START/END/REPORT around its output).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

LOG = logging.getLogger(__name__)
BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
HOST = "127.0.0.1"
MAX_LOG_BYTES = 1 << 20  # what one invocation returns of its output at most


class LocalEndpoint(ExecutorEndpoint):
    """The bootstrap binds a free port itself and says which in its ready report."""

    def status_ready(self, request, executor_id):
        self.container_port = int((request.get_json(silent=True) or {})["port"])
        return super().status_ready(request, executor_id)


class LocalRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.endpoint = LocalEndpoint(id, container_address=HOST, container_port=None)
        self.workdir = Path(tempfile.gettempdir()) / "lambda-local" / id
        self.log_path = self.workdir / "output.log"
        self.env: dict[str, str] = {}
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()
        self.stopping = False

    # ---------------------------------------------------------------- lifecycle
    def start(self, env_vars: dict[str, str]) -> None:
        config_ = self.function_version.config
        if not str(config_.runtime or "").startswith("python"):
            raise LambdaRuntimeException(
                f"the local executor runs python only, not {config_.runtime}"
            )
        self.env = self._environment(env_vars)
        self.endpoint.start()
        self._spawn()

    def _environment(self, env_vars: dict[str, str]) -> dict[str, str]:
        code = self.function_version.config.code.get_unzipped_code_location()
        paths = [str(code)]
        for layer in self.function_version.config.layers:
            root = Path(layer.code.get_unzipped_code_location())
            site = root / "python" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
            paths += [str(p) for p in (site / "site-packages", root / "python") if p.is_dir()]
        runtime = os.environ.get("CYTOTILE_LAMBDA_RUNTIME_PATH", "")
        paths += [runtime] if runtime else []
        tmp = self.workdir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        endpoint = f"http://{HOST}:{config.GATEWAY_LISTEN[0].port}"
        env = {k: str(v) for k, v in env_vars.items()}
        env.update(
            PATH=os.environ.get("PATH", "/usr/bin:/bin"),
            LANG="C.UTF-8",
            HOME=str(self.workdir),
            TMPDIR=str(tmp),
            LAMBDA_TASK_ROOT=str(code),
            LAMBDA_RUNTIME_DIR=runtime,
            PYTHONPATH=os.pathsep.join(paths),
            PYTHONUNBUFFERED="1",
            AWS_EXECUTION_ENV=f"AWS_Lambda_{self.function_version.config.runtime}",
        )
        env.setdefault("AWS_ENDPOINT_URL", endpoint)
        # The function's own variables win, as in LocalStack's get_environment_variables.
        env.update({k: str(v) for k, v in (self.function_version.config.environment or {}).items()})
        return env

    def _spawn(self) -> None:
        """Start the runtime process and wait for its ready (or init error) report."""
        self.endpoint.startup_future = Future()
        self.endpoint.container_port = None
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-S", str(BOOTSTRAP)],
                env=self.env,
                cwd=self.env["LAMBDA_TASK_ROOT"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        threading.Thread(target=self._watch, args=(self.process,), daemon=True).start()
        self.endpoint.wait_for_startup()

    def _watch(self, process: subprocess.Popen) -> None:
        """A runtime that exits on its own fails what waits on it (startup or invocation)."""
        code = process.wait()
        if self.stopping or process is not self.process:
            return
        message = f"Runtime exited with error: exit status {code}"
        document = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()
        startup = self.endpoint.startup_future
        if startup is not None and not startup.done():
            startup.set_exception(StatusErrorException(message, payload=document))
        self._finish(None, document)

    def _finish(self, request_id: str | None, document: bytes) -> None:
        future = self.endpoint.invocation_future
        if future is not None and not future.done():
            with contextlib.suppress(Exception):  # set by the runtime in between
                future.set_result(InvocationResult(request_id or "", document, True, None))

    def stop(self) -> None:
        self.stopping = True
        self._kill()
        try:
            self.endpoint.shutdown()
        except Exception as exc:
            LOG.debug("shutting down the endpoint of %s: %s", self.id, exc)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _kill(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    # ---------------------------------------------------------------- invocations
    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self._spawn()  # after a timeout or a crash: a fresh sandbox, as Lambda does
        request_id = payload["invoke-id"]
        timeout = float(self.function_version.config.timeout)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        timer = threading.Timer(timeout, self._timed_out, args=(request_id, timeout))
        timer.daemon = True
        started = time.monotonic()
        timer.start()
        try:
            result = self.endpoint.invoke(payload)
        finally:
            timer.cancel()
        duration = (time.monotonic() - started) * 1000
        memory = self.function_version.config.memory_size
        result.logs = (
            f"START RequestId: {request_id} Version: {self.function_version.id.qualifier}\n"
            f"{self._read_log(offset)}"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Memory Size: {memory} MB\n"
        )
        return result

    def _timed_out(self, request_id: str, timeout: float) -> None:
        message = f"{request_id} Task timed out after {timeout:.2f} seconds"
        with open(self.log_path, "a") as out:
            out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {message}\n")
        process = self.process
        self.process = None  # the watcher stays quiet; the next invocation starts a new one
        if process is not None and process.poll() is None:
            process.kill()
        self._finish(
            request_id,
            json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode(),
        )

    def _read_log(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(offset, f.seek(0, os.SEEK_END) - MAX_LOG_BYTES))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def get_logs(self) -> str:
        return self._read_log(0)

    # ---------------------------------------------------------------- addresses
    def get_address(self) -> str:
        return HOST

    def get_endpoint_from_executor(self) -> str:
        return HOST

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{HOST}:{port}{self.endpoint.get_endpoint_prefix()}"

    # ---------------------------------------------------------------- versions
    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Unzip the function's code and its layers (where the subprocess will find them)."""
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()
        for layer in function_version.config.layers:
            layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass
