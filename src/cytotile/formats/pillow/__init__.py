"""Common single-image formats read by libvips or Pillow: JPEG, PNG, WebP, BMP, Netpbm,
JPEG 2000, GIF."""
