"""Variants, integration tier: a real sweep of the offline animatic through `reelgate variants`, on the
session's Prefect server: the record, thumbnails, the comparison files, the artifact, a blocked take,
the cache on a rerun, and choosing a take into the plan file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cli import main
from editorial.variants import SweepStatus, load_sweep, sweep_dir
from prompts.plan import plan_shots
from prompts.plan_file import dump_plan, load_plan
from reelgate.media import video_info
from reelgate.settings import PlanningSettings

STORY = "A fisherman walks along the shore. A storm rises over the dark sea. The boat returns at dawn."


@pytest.mark.integration
def test_a_sweep_through_the_cli_makes_takes_a_comparison_and_reuses_its_cache(prefect_server, tmp_path, capsys):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(dump_plan(plan_shots(STORY, "var-flow", PlanningSettings())), encoding="utf-8")
    args = ["variants", str(plan_file), "--shot", "2", "--sweep", "strength:storm=2",
            "--sweep", "subject=a fisherman,a bloody beheading", "--id", "itest-sweep"]
    code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    sweep = load_sweep(prefect_server.data_dir, "itest-sweep")
    folder = sweep_dir(prefect_server.data_dir, "itest-sweep")
    assert sweep.status == SweepStatus.READY and sweep.flow_run_id
    # The file a selection rewrites is the record's, written by the CLI; the run's parameters name none
    # (anyone who can create a run through the API could otherwise point it at any file on the page's host).
    assert sweep.plan_file == str(plan_file.resolve())
    with get_client(sync_client=True) as client:
        assert "plan_file" not in client.read_flow_run(sweep.flow_run_id).parameters
    assert [t.id for t in sweep.takes] == ["t01", "t02", "t03"] and sweep.takes[0].original
    made, blocked = sweep.takes[1], sweep.takes[2]
    assert made.knobs["strength:storm"] == "2" and made.spec.weights == {"storm": 2.0}
    assert blocked.prompt_blocked and blocked.blocked and blocked.video is None and blocked.safety_reasons
    for take in sweep.takes[:2]:
        assert (folder / take.video).is_file() and take.safety_action is not None and take.quality_score is not None
        assert (folder / take.thumbnail).is_file()
    assert (folder / blocked.thumbnail).is_file()  # a blurred blank card

    sheet = Image.open(folder / sweep.contact_sheet)
    assert sheet.width > 3 * 200
    width, height, _, duration = video_info(folder / sweep.comparison)
    assert width >= 3 * 320 and height > 180 and duration == pytest.approx(made.spec.duration_s, abs=0.3)
    assert "t03" in out and "blocked" in out

    with get_client(sync_client=True) as client:
        table = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["sweep-itest-sweep"])))
    assert table and "| t02 |" in table[0].data and "grid.png" in table[0].data

    # The same sweep again: every take comes from the cache (its files untouched), marks are kept.
    assert main(["variants", "mark", "itest-sweep", "t02", "maybe"]) == 0
    stamp = (folder / made.video).stat().st_mtime_ns
    assert main(args) == 0
    again = load_sweep(prefect_server.data_dir, "itest-sweep")
    assert (folder / made.video).stat().st_mtime_ns == stamp
    assert again.take("t02").state.value == "maybe" and again.take("t02").video_sha256 == made.video_sha256

    # Choosing: the blocked take is refused; the storm take goes into the plan file.
    assert main(["variants", "mark", "itest-sweep", "t03", "selected"]) == 2
    assert main(["variants", "mark", "itest-sweep", "t02", "selected"]) == 0
    assert load_plan(plan_file).shots[1].weights == {"storm": 2.0}
    assert load_sweep(prefect_server.data_dir, "itest-sweep").chosen == "t02"
    assert np.asarray(Image.open(folder / blocked.thumbnail)).std() < 40  # nothing to see in it
