"""Where LocalStack 4.13's API Gateway differs from AWS in a way the stack depends on.

Binary media type ``*/*`` (the template's ``BinaryMediaTypes: ["*~1*"]``): on AWS it makes every
type binary, so a Lambda proxy answer with ``isBase64Encoded`` reaches the client as bytes
whatever its Accept header. LocalStack skips every ``*/...`` entry when it matches an Accept or
Content-Type header (``next_gen/execute_api/helpers.py``), so it would hand out the base64
text instead. This hook (an ``on_infra_start`` plugin of this package) makes ``*/*`` match any
type, as on AWS, and leaves every other entry to LocalStack's own matching.
"""

from localstack.runtime import hooks


def _any_type(binary_media_types) -> bool:
    return any(str(t).split(";")[0].strip() == "*/*" for t in binary_media_types or ())


@hooks.on_infra_start()
def binary_media_type_wildcard() -> None:
    from localstack.services.apigateway.next_gen.execute_api import helpers
    from localstack.services.apigateway.next_gen.execute_api.handlers import (
        integration_request,
        integration_response,
    )
    from localstack.services.apigateway.next_gen.execute_api.integrations import aws

    original = helpers.mime_type_matches_binary_media_types
    if getattr(original, "cytotile_patched", False):
        return

    def matches(mime_type, binary_media_types) -> bool:
        if mime_type and _any_type(binary_media_types):
            return True
        return original(mime_type=mime_type, binary_media_types=binary_media_types)

    matches.cytotile_patched = True
    for module in (helpers, integration_request, integration_response, aws):
        if hasattr(module, "mime_type_matches_binary_media_types"):
            module.mime_type_matches_binary_media_types = matches
