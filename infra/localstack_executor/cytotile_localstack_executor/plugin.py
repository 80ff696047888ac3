"""The plux plugin LocalStack finds through the entry point ``local``."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class LocalRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "local"

    def load(self, *args, **kwargs):
        from cytotile_localstack_executor.executor import LocalRuntimeExecutor

        return LocalRuntimeExecutor
