#!/usr/bin/env bash
# Stand PIMS up outside the project, to record its answers (issue 13; docs/pims-parity.md).
#
#   infra/pims/setup.sh /path/to/pims-checkout /path/to/pims-plugin-format-openslide-checkout
#
# Makes /tmp/pims-venv (Python 3.8, as PIMS's images) with PIMS's own pinned requirements,
# PIMS and its OpenSlide plugin, and /tmp/pims-data (its default file-based config: ROOT,
# PENDING_PATH, WRITING_PATH there; no cache, no task queue). Installs Debian's libvips42,
# libopenslide0 and libimage-exiftool-perl when missing (scripts/apt-deps.sh --pims; PIMS
# reads PNG/JPEG metadata with ExifTool).
# Then: import with `launch.py import <folder>`, serve with `launch.py serve --port 5913`,
# record with scripts/record_pims.py.
set -euo pipefail

PIMS_SRC=${1:?PIMS checkout}
OPENSLIDE_SRC=${2:?pims-plugin-format-openslide checkout}
PYTHON=${PYTHON:-$HOME/.pyenv/versions/3.8.18/bin/python}
VENV=${VENV:-/tmp/pims-venv}
DATA=${DATA:-/tmp/pims-data}

bash "$(dirname "$0")/../../scripts/apt-deps.sh" --pims

"$PYTHON" -m venv "$VENV"
# imagecodecs' pinned 2023.1.23 has no Python 3.8 wheel: the newest with one is taken
sed -e 's/^imagecodecs==.*/imagecodecs/' "$PIMS_SRC/requirements.txt" > "$DATA.requirements.txt"
"$VENV/bin/pip" install -q --prefer-binary \
    --only-binary=imagecodecs,numpy,scipy,rasterio,python-gdcm,opencv-python-headless,scikit-image,matplotlib,shapely,orjson,pydantic,uvloop,httptools \
    -r "$DATA.requirements.txt"
"$VENV/bin/pip" install -q --no-deps -e "$PIMS_SRC" -e "$OPENSLIDE_SRC"

mkdir -p "$DATA/root" "$DATA/pending" "$DATA/tmp"
cat > "$DATA/pims-config.env" <<EOF
ROOT="$DATA/root"
PENDING_PATH="$DATA/pending"
WRITING_PATH="$DATA/tmp"
DEFAULT_IMAGE_SIZE_SAFETY_MODE="SAFE_REJECT"
DEFAULT_ANNOTATION_ORIGIN="LEFT_TOP"
OUTPUT_SIZE_LIMIT="10000"
CYTOMINE_PUBLIC_KEY=""
CYTOMINE_PRIVATE_KEY=""
PIMS_URL="http://localhost-ims"
CACHE_ENABLED=false
TASK_QUEUE_ENABLED=false
EOF
echo "PIMS in $VENV, config $DATA/pims-config.env (run from $DATA: CONFIG_FILE=$DATA/pims-config.env)"
