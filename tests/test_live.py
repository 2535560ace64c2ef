"""Live training through the job queue, as the Train page drives it."""

import time
from dataclasses import replace

from explorer.jobs import CANCELLED, DONE, JobQueue
from explorer.live import start_training
from explorer.models import ResNetConfig
from explorer.runs import load_run
from explorer.training import PRESETS


def wait(job, timeout=120):
    end = time.time() + timeout
    while job.active and time.time() < end:
        time.sleep(0.05)
    return job


def tiny_train(steps):
    return replace(
        PRESETS["quick"],
        steps=steps,
        batch_size=8,
        train_size=64,
        eval_size=32,
        eval_every=2,
        record_every=1,
        image_size=16,
    )


def test_a_queued_training_run_records_saves_and_reloads(tmp_path):
    q = JobQueue()
    configs = [ResNetConfig(depth=8, width=4, residual=r) for r in (False, True)]
    job, live = start_training(q, "twins", configs, tiny_train(4), runs_root=tmp_path)
    assert wait(job).status == DONE, job.error
    assert live.phase == "finished" and set(live.models) == {"Plain-8", "ResNet-8"}
    assert live.history.step == 4 and len(live.history.models["ResNet-8"].loss) == 4
    assert job.progress.step == 4 and job.progress.total == 4
    run = load_run(live.run_dir)
    assert run.history.final_losses() == live.history.final_losses()
    assert run.dataset.name == "shapes"


def test_stop_ends_a_running_job_within_a_step(tmp_path):
    q = JobQueue()
    job, live = start_training(q, "long", [ResNetConfig(depth=8, width=4)], tiny_train(10_000), runs_root=tmp_path)
    while live.history.step < 2 and job.active:
        time.sleep(0.05)
    job.cancel()
    assert wait(job).status == CANCELLED
    assert live.history.stopped_reason == "cancelled"
    assert 2 <= live.history.step < 50
