"""Annotations drawn on image outputs: geometry parsing and validation (shapely), colours,
rasterization on the output grid (numpy), and the mask / crop / drawing outputs. Nothing here
knows HTTP: ``cytotile.api.annotations`` parses requests into these types.

shapely is imported inside functions: importing this package costs nothing, and a deployment
without the ``annotation`` extra answers the annotation routes with 501.
"""
