#!/usr/bin/env bash
# Install the Debian packages the project needs: chromium and chromium-driver (browser tests),
# libmagic1 (python-magic, which the IIIF validator imports), wrk (the bench's HTTP load), gcc
# and python3-dev (the editable install compiles cytotile.importer._jpegdct, a C extension);
# with --bench, libtiff-dev too (the bench-peers extra builds pylibtiff from its sdist); with
# --pims, what PIMS needs to record its answers (infra/pims/setup.sh).
# A no-op (no network, well under a second) when they are already installed.
set -euo pipefail

PACKAGES=(chromium chromium-driver libmagic1 wrk gcc python3-dev)
# --bench: also what the bench's peers build against (pylibtiff for large_image: libtiff-dev)
if [ "${1:-}" = "--bench" ]; then
    PACKAGES+=(libtiff-dev)
fi
# --pims: PIMS's own readers (libvips, OpenSlide) and ExifTool (its PNG/JPEG metadata)
if [ "${1:-}" = "--pims" ]; then
    PACKAGES+=(libvips42 libopenslide0 libimage-exiftool-perl)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "apt-deps: already installed: ${PACKAGES[*]}"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        echo "apt-deps: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

echo "apt-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
