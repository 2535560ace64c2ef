# Two commands for a fresh machine with Python 3.11 (each creates or reuses .venv):
#   make app    install and start the explorer on http://localhost:8501
#   make test   install and run the whole test suite
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
# from fonts-noto-cjk: the Chinese pages' screenshots need CJK glyphs
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

.PHONY: app test lint bench assets translations

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $(STAMP)

app: $(STAMP)
	$(VENV)/bin/streamlit run app.py

test: $(STAMP)
	@{ [ -x /usr/bin/chromium ] && [ -e $(CJK_FONT) ]; } || [ "$$(id -u)" != 0 ] || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk; } \
		|| echo "could not install chromium and fonts-noto-cjk: the browser tests will be skipped (and fail under CI=true)"
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# what the app shows at once, made by the project's own CLI (a few minutes on 2 CPU cores)
assets: $(STAMP)
	rm -rf assets/runs/degradation
	$(VENV)/bin/python -m explorer train --preset degradation --out assets/runs/degradation --name degradation
	rm -f assets/runs/degradation/checkpoints/*.optim.pt  # only the weights ship
	$(VENV)/bin/python -m explorer precompute --out assets/experiments --lesion-run assets/runs/degradation

bench: $(STAMP)
	for f in bench/bench_*.py; do $(VENV)/bin/python -m bench.$$(basename $$f .py); done

# gettext catalogues (explorer/locale): extract the _() strings, merge them into each .po, compile the .mo.
# Translate the new msgstr "" entries in explorer/locale/<lang>/LC_MESSAGES/explorer.po, then run it again.
LOCALE := explorer/locale
translations: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg --no-location --sort-by-file --project="ResNet Explorer" \
		--msgid-bugs-address="" --copyright-holder="" -o $(LOCALE)/explorer.pot .
	$(VENV)/bin/pybabel update -i $(LOCALE)/explorer.pot -d $(LOCALE) -D explorer --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d $(LOCALE) -D explorer --statistics
