"""IIIF Image API 3.0 (level 2, with mirroring, arbitrary rotation and upscaling) and 2.1 over the
serving pyramid, and IIIF Presentation 3 manifests. See docs/protocols.md."""
