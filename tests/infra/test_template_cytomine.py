"""template.yaml's Cytomine parameters (issue 9): the base path, the core's URL, the key pairs
only through a Secrets Manager secret's ARN (no key in a parameter, a default or the functions'
environment), read by the API functions alone."""

from __future__ import annotations

import dataclasses
from typing import Any

from cytotile.settings import ServerSettings
from tests.infra.test_template import ref, resources, secret_read, statements, template

__all__ = ["template"]  # the fixture

CYTOMINE_VARIABLES = {
    "CYTOTILE_API_BASE_PATH": "ApiBasePath",
    "CYTOTILE_CORE_URL": "CytomineCoreUrl",
    "CYTOTILE_CORE_IMAGE_SERVER_URL": "CytomineImageServerUrl",
    "CYTOTILE_CYTOMINE_SECRET_ARN": "CytomineKeysSecretArn",
    "CYTOTILE_CYTOMINE_AUTH_SCOPE": "CytomineAuthScope",
}


def test_parameters_reach_the_settings(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    fields = {f"CYTOTILE_{f.name.upper()}" for f in dataclasses.fields(ServerSettings)}
    for variable, parameter in CYTOMINE_VARIABLES.items():
        assert variables[variable] == ref(parameter)
        assert variable in fields  # read by from_env(ServerSettings)
    parameters = template["Parameters"]
    assert parameters["ApiBasePath"]["Default"] == ServerSettings().api_base_path == "/ims"
    assert parameters["CytomineAuthScope"]["AllowedValues"] == ["writes", "all"]


def test_no_key_in_parameters_or_environment(template: dict[str, Any]) -> None:
    for name, parameter in template["Parameters"].items():
        if "Key" in name or "Secret" in name:
            assert parameter.get("Default", "") == "", name  # no key as a default
    assert "CytomineKeysSecretArn" in template["Parameters"]
    for name, function in resources(template, "AWS::Serverless::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert not {"CYTOTILE_CORE_KEYS", "CYTOTILE_CYTOMINE_KEYS"} & set(variables), name
    assert not {"CYTOTILE_CORE_KEYS", "CYTOTILE_CYTOMINE_KEYS"} & set(
        template["Globals"]["Function"]["Environment"]["Variables"]
    )


def test_only_the_api_functions_and_the_import_read_the_secret(template: dict[str, Any]) -> None:
    """The import function signs its calls to the core (a Cytomine upload's images) with this
    server's key pair: it reads the secret too, and nothing else of Secrets Manager."""
    readers = {
        name
        for name, function in resources(template, "AWS::Serverless::Function").items()
        if any(secret_read(s) for s in statements(function))
    }
    assert readers == {"TileFunction", "AnnotationFunction", "UploadFunction", "ImportFunction"}
