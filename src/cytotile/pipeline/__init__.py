"""Image outputs without HTTP: request models, pixel processing, encoding and the operations
(tiles, thumbnails, resized, windows) that combine them."""
