"""The TIFF family read with tifffile (structure, tags) and libvips (pixels): planar,
pyramidal and Aperio SVS."""
