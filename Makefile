# Two commands for a fresh machine with Python 3.11 (each creates or reuses .venv):
#   make app    install and start the explorer on http://localhost:8501
#   make test   install and run the whole test suite
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
# from fonts-noto-cjk: the Chinese pages' screenshots need CJK glyphs
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
LANDSCAPE := --grid 31 --images 64 --precision bfloat16 --threads 1

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
# The second degradation run: every step sees the same 64 images (full batch), so Plain-56 learns but ends
# above Plain-20 (He et al. Fig. 1's shape); in the short preset it fails to start. About 15 min on 2 cores.
FULL_BATCH := --preset degradation --optimizer adamw --lr 0.001 --schedule cosine --warmup 20 --steps 300 \
	--batch-size 64 --train-size 64 --image-size 16 --eval-every 50 --record-every 25
# Explain's default networks and the saliency benchmark (issue 18): a shapes pair at 20 and 56 layers trained to
# >= 95% held-out (residual), on one thread (320 CPU-s measured: ~5.5 min on one idle core), then every saliency
# method scored on 128 held-out shapes per network, trained and randomised (8 runs, 205 CPU-s on one thread).
SHAPES := --depth 20 56 --plain-and-residual --steps 400 --batch-size 64 --optimizer adamw --lr 0.003 \
	--schedule cosine --warmup 20 --train-size 10000 --eval-size 1000 --image-size 24 --eval-every 100 \
	--record-every 50 --seed 0 --threads 1
SALIENCY := --run assets/runs/shapes --images 128 --seed 0 --threads 1

assets: $(STAMP)
	rm -rf assets/runs/degradation assets/runs/degradation-full-batch
	$(VENV)/bin/python -m explorer train --preset degradation --out assets/runs/degradation --name degradation
	$(VENV)/bin/python -m explorer train $(FULL_BATCH) --out assets/runs/degradation-full-batch --name degradation-full-batch
	rm -f assets/runs/degradation*/checkpoints/*.optim.pt  # only the weights ship
	$(VENV)/bin/python -m explorer precompute --out assets/experiments --lesion-run assets/runs/degradation
	# the shapes pair (Explain's default) and the saliency benchmark of its four networks
	rm -rf assets/runs/shapes assets/experiments/saliency
	$(VENV)/bin/python -m explorer train $(SHAPES) --out assets/runs/shapes --name shapes
	rm -f assets/runs/shapes/checkpoints/*.optim.pt assets/runs/shapes/checkpoints/*.init.pt  # weights only
	for net in Plain-20 ResNet-20 Plain-56 ResNet-56; do \
		$(VENV)/bin/python -m explorer saliency $(SALIENCY) --network $$net --out assets/experiments/saliency/$$net.json && \
		$(VENV)/bin/python -m explorer saliency $(SALIENCY) --network $$net --randomised \
			--out assets/experiments/saliency/$$net.random.json || exit 1; \
	done
	# loss landscapes (Li et al. 2018) of the four networks and their init-to-trained lines (~4 CPU-minutes)
	for net in Plain-20 ResNet-20 Plain-56 ResNet-56; do \
		$(VENV)/bin/python -m explorer landscape --run assets/runs/degradation --network $$net $(LANDSCAPE) \
			--out assets/experiments/landscape/$$net.json && \
		$(VENV)/bin/python -m explorer landscape --run assets/runs/degradation --network $$net $(LANDSCAPE) \
			--line init --out assets/experiments/landscape/$$net.init.json || exit 1; \
	done

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
