# The two commands of the README: `make run` (the main job) and `make test` (every test).
PYTHON ?= python3
export PYTHON

.PHONY: setup run demo test test-fast bench

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

## The fast tier only.
test-fast: setup
	$(PYTHON) -m pytest -q -m "not integration and not gpu"

bench: setup
	$(PYTHON) bench/screening.py
	$(PYTHON) bench/episode_stages.py
	$(PYTHON) bench/generation.py
	$(PYTHON) bench/frame_safety.py
	$(PYTHON) bench/quality.py
	$(PYTHON) bench/post_episode.py
	$(PYTHON) bench/review_queue.py
