"""A LocalStack Lambda runtime executor that runs Python functions as host subprocesses.

Select it with ``LAMBDA_RUNTIME_EXECUTOR=local`` (entry point ``local`` in the group
``localstack.lambda.runtime_executor``). ``executor.py`` runs inside LocalStack;
``bootstrap.py`` is the runtime process of one execution environment (standard library only).
"""
