# The README's two commands: `make run` and `make test`. Both set up everything they need on a
# fresh Debian machine (a virtual environment from the lock files, and the Debian packages when
# run as root) and are fast the second time: stamps record what is already installed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

# The Debian package check runs every time: dpkg-query answers in well under a second, and a
# stamp would hide a package removed since.
.PHONY: system-run system-test run test lint typecheck contracts pytest bench bundle test-bundle install-desktop screenshots clean lock

run: $(RUNTIME_STAMP) system-run
	$(BIN)/realtime-desktop $(ARGS)

test: $(DEV_STAMP) system-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	QT_QPA_PLATFORM=offscreen $(BIN)/python -X faulthandler -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

contracts: $(DEV_STAMP)
	$(BIN)/lint-imports

pytest: $(DEV_STAMP) system-test
	QT_QPA_PLATFORM=offscreen $(BIN)/python -X faulthandler -m pytest $(PYTEST_ARGS)

bench: $(DEV_STAMP) system-test
	$(BIN)/realtime-desktop-bench all --json

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

$(RUNTIME_STAMP): $(VENV)/bin/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.lock
	$(BIN)/pip install --quiet -r requirements-dev.lock
	@touch $@

# The one-folder bundle (packaging/realtime-desktop.spec). Rebuilt only when the app, its
# resources, the packaging or the installed packages changed; a fresh build takes about a minute.
BUNDLE_EXE := dist/realtime-desktop/realtime-desktop
BUNDLE_INPUTS := $(shell find realtime_desktop resources packaging -type f -not -path '*/__pycache__/*') pyproject.toml

bundle: $(BUNDLE_EXE)

$(BUNDLE_EXE): $(DEV_STAMP) $(BUNDLE_INPUTS) | system-run
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller packaging/realtime-desktop.spec
	@touch $@

# Only the packaging tests: build the bundle and run the frozen app's self-test (make test runs
# them too, with everything else).
test-bundle: $(DEV_STAMP) system-test bundle
	QT_QPA_PLATFORM=offscreen $(BIN)/python -X faulthandler -m pytest tests/bundle $(PYTEST_ARGS)

# The menu entry and icons for the current user; Exec= is the bundle if built, else the venv.
install-desktop: $(RUNTIME_STAMP)
	$(BIN)/python packaging/install_desktop.py

# Pictures of the main window mid-conversation, the settings dialog and the history window, on a
# virtual X server with real fonts, into screenshots/ (a real offline session, no sound card).
screenshots: $(DEV_STAMP) system-test
	xvfb-run -a -s "-screen 0 1920x1080x24" $(BIN)/python scripts/screenshots.py screenshots

system-run:
	@scripts/system-deps.sh run

system-test:
	@scripts/system-deps.sh test

# Regenerate the lock files after changing dependencies in pyproject.toml.
lock: $(VENV)/bin/python
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile --quiet --python-version 3.11 pyproject.toml -o requirements.lock
	$(BIN)/uv pip compile --quiet --python-version 3.11 pyproject.toml --extra test --extra bundle -o requirements-dev.lock

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache
