# Shared build rules for `sam build` (Metadata BuildMethod: makefile). functions/<name>/Makefile
# and layers/vips/Makefile include this file; sam runs `make build-<LogicalId>` in a scratch copy
# of the CodeUri folder, with ARTIFACTS_DIR set to where the Lambda's files must go.
#
# Why not sam's python builder: for python3.11 it accepts only manylinux2014 wheels, which numpy
# 2.4, pyvips-binary 8.18, pillow 13, shapely 2.2 and openslide-bin 4 no longer publish. Here
# pip installs the pinned wheels for Linux x86_64 glibc >= 2.28 and CPython $(LAMBDA_PYTHON_VERSION).

LAMBDA_MK := $(abspath $(lastword $(MAKEFILE_LIST)))
CYTOTILE_REPO ?= $(abspath $(dir $(LAMBDA_MK))..)
# Lambda's python3.11 runtime is a recent 3.11 patch release: say so, or pip takes 3.11.0 and
# refuses wheels that require a later 3.11 (soupsieve: >= 3.11.5).
LAMBDA_PYTHON_VERSION ?= 3.11.14
LAMBDA_PIP ?= python3 -m pip
LAMBDA_PLATFORMS ?= manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64

# The requirements files are complete pinned closures: --no-deps. Wheels only, but pyvips, which
# is published as an sdist only (pure Python: it binds libvips through cffi).
LAMBDA_PIP_FLAGS := --quiet --disable-pip-version-check --no-input --no-deps \
	--only-binary=:all: --no-binary=pyvips --implementation cp \
	--python-version $(LAMBDA_PYTHON_VERSION) $(addprefix --platform ,$(LAMBDA_PLATFORMS))

.PHONY: lambda-function lambda-layer lambda-check-env

lambda-check-env:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set: run through 'sam build'" >&2; exit 1; }

# The handler (app.py and any other module beside it), the cytotile package and its dist-info
# (entry points: the image formats), the pinned deps; all byte-compiled, hash-checked
# (scripts/lambda_compile.py: a cold start loads its modules, it does not compile them).
lambda-function: lambda-check-env
	find . -maxdepth 1 -name '*.py' -exec cp {} "$(ARTIFACTS_DIR)/" \;
	tar -C "$(CYTOTILE_REPO)/src" --exclude=__pycache__ -cf - cytotile | tar -C "$(ARTIFACTS_DIR)" -xf -
	python3 "$(CYTOTILE_REPO)/scripts/dist_info.py" "$(ARTIFACTS_DIR)"
	$(LAMBDA_PIP) install $(LAMBDA_PIP_FLAGS) --target "$(ARTIFACTS_DIR)" -r requirements.txt
	rm -rf "$(ARTIFACTS_DIR)/bin"
	python3 "$(CYTOTILE_REPO)/scripts/lambda_trim.py" "$(ARTIFACTS_DIR)"
	python3 "$(CYTOTILE_REPO)/scripts/lambda_compile.py" "$(ARTIFACTS_DIR)" $(LAMBDA_PYTHON_VERSION)

# A Python layer: its packages go under python/ (on sys.path as /opt/python in the Lambda).
lambda-layer: lambda-check-env
	$(LAMBDA_PIP) install $(LAMBDA_PIP_FLAGS) --target "$(ARTIFACTS_DIR)/python" -r requirements.txt
	rm -rf "$(ARTIFACTS_DIR)/python/bin"
	python3 "$(CYTOTILE_REPO)/scripts/lambda_trim.py" "$(ARTIFACTS_DIR)"
	python3 "$(CYTOTILE_REPO)/scripts/lambda_compile.py" "$(ARTIFACTS_DIR)" $(LAMBDA_PYTHON_VERSION)
