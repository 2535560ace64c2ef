# Two commands for a fresh machine with Python 3.11 (each creates or reuses .venv):
#   make app    install and start the explorer on http://localhost:8501
#   make test   install and run the whole test suite
# and one for a class: make class [PORT=8501] [SERVERS=<cores>] [WORKERS=1] [SCHEDULER_HOST=127.0.0.1] [SCHEDULER_PORT=8786]
#   a Dask scheduler, WORKERS workers, SERVERS Streamlit processes and Debian's nginx in front, on PORT
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
# from fonts-noto-cjk: the Chinese pages' screenshots need CJK glyphs
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
LANDSCAPE := --grid 31 --images 64 --precision bfloat16 --threads 1
# the full-batch run has 64 training images of 16 px: all of them, in float32, take about a minute a surface
LANDSCAPE_FULL := --grid 31 --images 64 --precision float32 --threads 1
NGINX := /usr/sbin/nginx
PORT ?= 8501
SERVERS ?= $(shell nproc)
WORKERS ?= 1
SCHEDULER_HOST ?= 127.0.0.1
SCHEDULER_PORT ?= 8786

.PHONY: install app class test lint bench assets translations

# Debian packages a target needs, installed when make runs as root (as CI's .ci/run does); $(1): a shell test
# that passes when they are there, $(2): the packages, $(3): what happens without them
apt_install = @{ $(1); } || [ "$$(id -u)" != 0 ] || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(2); } \
	|| echo "could not install $(2): $(3)"

# pyproject.toml: requirements.txt installs the project itself (-e .)
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)  # the set-up alone (a worker machine needs only this)

app: $(STAMP)
	$(VENV)/bin/streamlit run app.py

class: $(STAMP)
	$(call apt_install,[ -x $(NGINX) ],nginx,make class needs nginx)
	$(VENV)/bin/python -m explorer.deploy --port $(PORT) --servers $(SERVERS) --workers $(WORKERS) \
		--scheduler-host $(SCHEDULER_HOST) --scheduler-port $(SCHEDULER_PORT)

test: $(STAMP)
	$(call apt_install,[ -x /usr/bin/chromium ] && [ -e $(CJK_FONT) ] && [ -x $(NGINX) ],chromium fonts-noto-cjk nginx,the browser tests will be skipped (and fail under CI=true))
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# what the app shows at once, made by the project's own CLI (a few minutes on 2 CPU cores)
# The second degradation run: every step sees the same 64 images (full batch); all four memorise them and
# Plain-56's training loss ends above Plain-20's (slower convergence); in the short preset it fails to start.
# About 15 min on 2 cores.
FULL_BATCH := --preset degradation --optimizer adamw --lr 0.001 --schedule cosine --warmup 20 --steps 300 \
	--batch-size 64 --train-size 64 --image-size 16 --eval-every 50 --record-every 25
# Explain's default networks and the saliency benchmark (issue 18): a shapes pair at 20 and 56 layers trained to
# >= 95% held-out (residual), on one thread (320 CPU-s measured: ~5.5 min on one idle core), then every saliency
# method scored on 128 held-out shapes per network, trained and randomised, each deletion and insertion with the
# mean colour and with ROAD's imputation (8 runs, 530 CPU-s on one thread: ~44 per 20-layer network, ~87 per 56).
SHAPES := --depth 20 56 --plain-and-residual --steps 400 --batch-size 64 --optimizer adamw --lr 0.003 \
	--schedule cosine --warmup 20 --train-size 10000 --eval-size 1000 --image-size 24 --eval-every 100 \
	--record-every 50 --seed 0 --threads 1
SALIENCY := --run assets/runs/shapes --images 128 --seed 0 --threads 1

# Where the ReLU goes (He et al. 2016's pre-activation block): seed 0 ships as a run, seeds 1 and 2 only in
# assets/experiments/relu_place.json (about 3 minutes per seed on 2 cores).
RELU_SEEDS := $(shell mktemp -d -u /tmp/relu-place.XXXX)

assets: $(STAMP)
	rm -rf assets/runs/degradation assets/runs/degradation-full-batch assets/runs/preact
	$(VENV)/bin/python -m explorer train --preset degradation --out assets/runs/degradation --name degradation
	$(VENV)/bin/python -m explorer train $(FULL_BATCH) --out assets/runs/degradation-full-batch --name degradation-full-batch
	$(VENV)/bin/python -m explorer train --preset preact --out assets/runs/preact --name preact-seed0
	for s in 1 2; do $(VENV)/bin/python -m explorer train --preset preact --seed $$s --out $(RELU_SEEDS)/seed$$s \
		--name preact-seed$$s || exit 1; done
	rm -f assets/runs/*/checkpoints/*.optim.pt  # only the weights ship
	# precompute also writes init_gradients.json, the Gradients page's table of every untrained network the sidebar offers
	# (about 35 CPU-s; alone: python -m explorer precompute --init-gradients-only)
	$(VENV)/bin/python -m explorer precompute --out assets/experiments --lesion-run assets/runs/degradation \
		--responses-runs assets/runs/degradation assets/runs/degradation-full-batch \
		--relu-runs assets/runs/preact $(RELU_SEEDS)/seed1 $(RELU_SEEDS)/seed2
	rm -rf $(RELU_SEEDS)
	# the gradient by path length (Veit et al. 2016, Fig. 6): the degradation run and ResNet-20/56/110 at initialisation
	# (about 6 minutes on 2 shared cores)
	$(VENV)/bin/python -m explorer paths-asset --run assets/runs/degradation --out assets/experiments
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
	# the same for the full-batch run, whose deep plain network did learn (~5 CPU-minutes)
	for net in Plain-20 ResNet-20 Plain-56 ResNet-56; do \
		$(VENV)/bin/python -m explorer landscape --run assets/runs/degradation-full-batch --network $$net $(LANDSCAPE_FULL) \
			--out assets/experiments/landscape-full-batch/$$net.json && \
		$(VENV)/bin/python -m explorer landscape --run assets/runs/degradation-full-batch --network $$net $(LANDSCAPE_FULL) \
			--line init --out assets/experiments/landscape-full-batch/$$net.init.json || exit 1; \
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
