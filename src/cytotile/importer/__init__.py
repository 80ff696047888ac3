"""The import flow: from an uploaded file to a deployed serving pyramid."""
