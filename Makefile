# The two commands of the README: `make run` (the main job) and `make test` (every test).
# Everything runs in a virtual environment in this checkout (.venv), which `make setup` creates
# (scripts/setup.sh) with --system-site-packages: packages the machine already has (torch, say)
# are reused, anything missing or at another version installs into .venv, never into the system.
VENV := $(CURDIR)/.venv
PYTHON ?= $(VENV)/bin/python
export PYTHON
export REELGATE_VENV := $(VENV)
# Subprocesses that run a tool by name (prefect, python3) find the environment's first.
export PATH := $(VENV)/bin:$(PATH)

.PHONY: setup run demo test test-fast screenshots bench

setup:
	@bash scripts/setup.sh

## Start the local Prefect server, serve the episode flow, produce the bundled example; Ctrl-C stops.
run: setup
	$(PYTHON) -m cli up

## Same, but exit once the example episode waits for review.
demo: setup
	$(PYTHON) -m cli up --until-review

## Every test: the fast tier and the integration tier (real ffmpeg, models, Prefect server).
test: setup
	$(PYTHON) -m pytest -q

## The fast tier only (under a minute on 2 cores): no model, no server, no long encode; property
## tests try a fifth of their examples (tests/examples.py), `make test` tries them all.
test-fast: setup
	REELGATE_TEST_TIER=fast $(PYTHON) -m pytest -q -m "not integration and not gpu"

## The review page's and the Prefect run's screenshots in docs/img (the README shows them).
screenshots: setup
	REELGATE_DOC_SCREENSHOTS=docs/img $(PYTHON) -m pytest -q tests/test_review_browser.py -k approves_one

bench: setup
	$(PYTHON) bench/screening.py
	$(PYTHON) bench/episode_stages.py
	$(PYTHON) bench/generation.py
	$(PYTHON) bench/frame_safety.py
	$(PYTHON) bench/quality.py
	$(PYTHON) bench/post_episode.py
	$(PYTHON) bench/review_queue.py
