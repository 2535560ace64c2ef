"""The engine's job functions run in-process (``LocalContext``): identities, results, progress and a real stop."""

import pytest
import torch

from explorer.engine import worker as engine_worker
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet
from explorer.tasks import experiments as tasks_experiments
from explorer.tasks import training as tasks
from explorer.training import runs


class StopAfter(engine_worker.LocalContext):
    """A context whose stop flag is set by the n-th progress report (what a Stop press does mid-job)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.reports, self.n = [], n

    def report(self, force=False, **fields):
        super().report(force, **fields)
        if "step" in fields:
            self.reports.append((fields["step"], fields["total"]))
            if len(self.reports) >= self.n:
                self.stop.set()


def tiny(residual=True, seed=0):
    config = ResNetConfig(depth=8, width=4, residual=residual, num_classes=10)
    return config, build_resnet(config, seed=seed).state_dict()


@pytest.mark.slow
def test_lesion_job_key_follows_the_weights_and_the_body_stops_when_asked():
    job = tasks_experiments.lesion_job([tiny()], image_size=16)
    spec = job.spec
    assert job.fn is tasks_experiments.lesion_task and job.key == f"explorer-lesion-{job.id}"
    assert job.id == tasks_experiments.lesion_job([tiny()], image_size=16).id  # same weights: same job
    assert job.id != tasks_experiments.lesion_job([tiny(seed=1)], image_size=16).id
    done = tasks_experiments.lesion_task(spec, engine_worker.LocalContext())
    assert len(done) == 1 and done[0].complete and done[0].model_name == "ResNet-8"
    ctx = StopAfter(2)
    two = tasks_experiments.lesion_task({**spec, "models": spec["models"] * 2}, ctx)
    assert len(two) == 1 and not two[0].complete  # stopped inside the first network; the second never started
    assert [step for step, _ in ctx.reports] == [1, 2]
    assert ctx.reports[0][1] % 2 == 0 and ctx.reports[0][1] >= 8  # both networks' evaluations in one total


def test_randomisation_job_runs_each_network_at_its_layer_and_stops():
    x = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(0))
    nets = [(f"{c.name}", c, sd, x, "layer3.0", 1, None) for c, sd in (tiny(True), tiny(False))]
    job = tasks_experiments.randomisation_job(nets, ("gradcam",))
    spec = job.spec
    assert (
        job.key.startswith("explorer-randomise-")
        and job.id != tasks_experiments.randomisation_job(nets[:1], ("gradcam",)).id
    )
    out = tasks_experiments.randomisation_task(spec, engine_worker.LocalContext())
    assert list(out) == ["ResNet-8", "Plain-8"] and all(r["gradcam"].complete for r in out.values())
    assert out["ResNet-8"]["gradcam"].steps[0] == "original" and len(out["ResNet-8"]["gradcam"].maps) > 2
    stopped = tasks_experiments.randomisation_task(spec, StopAfter(1))
    assert list(stopped) == ["ResNet-8"] and not stopped["ResNet-8"]["gradcam"].complete


@pytest.mark.slow
def test_sweep_job_names_its_inputs_and_stops_between_networks():
    job = tasks_experiments.sweep_job("depth", (8,))
    spec = job.spec
    assert job.id == tasks_experiments.sweep_job("depth", (8,)).id != tasks_experiments.sweep_job("depth", (14,)).id
    assert len(tasks_experiments.sweep_task(spec, engine_worker.LocalContext())) == 2  # plain and residual
    assert len(tasks_experiments.sweep_task(spec, StopAfter(1))) == 1
    with pytest.raises(ValueError, match="sweep must be one of"):
        tasks_experiments.sweep_job("width")


def test_an_uploaded_zip_trains_reports_refused_files_and_the_result_rebuilds_the_run(tmp_path):
    import io
    import shutil
    import zipfile
    from dataclasses import replace

    from PIL import Image

    from explorer.training.presets import PRESETS
    from explorer.training.runs import load_run

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for label, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
            for i in range(4):
                png = io.BytesIO()
                Image.new("RGB", (12, 12), colour).save(png, format="PNG")
                zf.writestr(f"{label}/{i}.png", png.getvalue())
        zf.writestr("red/notes.png", b"not an image at all")
    train = replace(PRESETS["quick"], steps=2, batch_size=4, train_size=None, eval_size=0, image_size=16)
    nets = [ResNetConfig(depth=8, width=4)]
    job = tasks.training_job("mine", nets, train, tmp_path, upload=buf.getvalue(), checkpoint_every=0)
    spec = job.spec
    assert job.id == tasks.training_job("other title", nets, train, tmp_path / "x", upload=buf.getvalue()).id
    assert job.id != tasks.training_job("mine", nets, train, tmp_path, upload=buf.getvalue() + b" ").id
    ctx = engine_worker.LocalContext()
    result = tasks.train_task(spec, ctx)
    assert [s[0] for s in ctx.snapshot["skipped"]] == ["red/notes.png"]
    assert ctx.snapshot["skipped"][0][3][0] == "this file is not an image we can read; please upload a {accepted} file"
    assert list(result["dataset"]["classes"]) == ["blue", "red"] and result["history"]["step"] == 2
    shutil.rmtree(result["run_dir"])  # as if the worker had written it on another machine's disk
    run = load_run(runs.save_result(result, tmp_path))
    assert run.history.step == 2 and run.load_models()["ResNet-8"].config.num_classes == 2


def test_a_stopped_training_job_resumes_from_its_run_folder_and_its_points_rebuild_the_curves(tmp_path):
    from dataclasses import replace

    from explorer.training.presets import PRESETS
    from explorer.training.runs import load_run

    train = replace(PRESETS["quick"], steps=8, batch_size=8, train_size=32, eval_size=8, eval_every=4, image_size=16)
    nets = [ResNetConfig(depth=8, width=4, residual=r) for r in (False, True)]
    job = tasks.training_job("resume", nets, train, tmp_path, checkpoint_every=2)
    assert job.spec["run_dir"] == str(tmp_path / f"resume-{job.id}")  # runs names the folder
    first = StopAfter(3)
    tasks.train_task(job.spec, first)
    stopped = load_run(job.spec["run_dir"]).history
    assert stopped.stopped_reason == "stopped" and stopped.step == 3
    second = engine_worker.LocalContext()
    result = tasks.train_task(job.spec, second)  # Start again: the same job goes on from its run folder
    assert second.snapshot["resumed_from"] == 3 and result["history"]["step"] == 8
    final = load_run(job.spec["run_dir"]).history
    assert final.models["ResNet-8"].step == list(range(1, 9))
    # a viewer that read the first run's points, then the second's (which start with the saved curve)
    live = tasks.live_history({"models": {n.name: {} for n in nets}}, first.points + second.points)
    for name in ("Plain-8", "ResNet-8"):
        assert live.models[name].step == final.models[name].step
        assert live.models[name].loss == final.models[name].loss
        assert live.models[name].eval_accuracy == final.models[name].eval_accuracy
    third = engine_worker.LocalContext()
    assert tasks.train_task(job.spec, third)["history"]["step"] == 8  # done already: nothing trains again
    assert third.snapshot["phase"] == "finished" and not third.points


def test_refused_files_and_phases_reach_a_chinese_session_in_chinese():
    from explorer.data.base import SkippedFile
    from explorer.data.images import ACCEPTED, NOT_AN_IMAGE
    from explorer.i18n import language, message
    from explorer.ui.training_view import skipped_note

    text = message("this file is not an image we can read; please upload a {accepted} file", accepted=message(ACCEPTED))
    wire = ["cat/notes.png", NOT_AN_IMAGE, "this file is not an image we can read ...", [text[0], dict(text[1])]]
    skipped = (SkippedFile(*wire),)  # as the snapshot brings it back from the scheduler (tuples become lists)
    assert "cat/notes.png: this file is not an image we can read; please upload a PNG, JPEG" in skipped_note(skipped)
    with language("zh"):
        note = skipped_note(skipped)
    assert "cat/notes.png" in note and "PNG, JPEG" not in note and "不是" in note, note


@pytest.mark.parametrize("upload", [b"not a zip at all", b"PK\x03\x04 cut short"])
def test_a_damaged_upload_is_named_as_the_user_named_it_in_plain_words(tmp_path, upload):
    import pickle

    from explorer.engine import records as engine_records
    from explorer.errors import PlainError
    from explorer.i18n import language, translate
    from explorer.training.presets import PRESETS

    configs = [ResNetConfig(depth=8, width=4)]
    job = tasks.training_job("t", configs, PRESETS["quick"], tmp_path, upload=upload, upload_name="class photos.zip")
    with pytest.raises(PlainError) as e:
        job.fn(job.spec, engine_worker.LocalContext())
    error = pickle.loads(pickle.dumps(e.value))  # as a Dask worker sends it back
    note = engine_records.failure_note(error)
    text = translate(note)
    assert "class photos.zip could not be opened as a .zip file" in text and "upload it" in text, text
    assert "explorer-upload" not in text and "Error" not in text and "neither" not in text
    with language("zh"):
        assert "class photos.zip" in translate(note) and "重新压缩" in translate(note)


def test_an_unexpected_failure_names_no_exception_class():
    from explorer.engine import records as engine_records
    from explorer.i18n import translate

    text = translate(engine_records.failure_note(KeyError("conv1.weight")))
    assert "KeyError" not in text and "conv1.weight" in text and "Try again" in text
