"""Scenario 6, busy: the steady load (20 posts a second for 60 s) while the
platform also does bulk work, as a team does on a Monday morning: a
5,000-row CSV import (posts for tomorrow) and a video upload to X.

The workers are laid out as the Procfile lays them out: the dispatcher and
publishing in one pool, and a bulk pool of its own for imports, at a lower
scheduling priority (the Procfile's ``nice``). The video is a post of its own,
due early in the load: its upload in chunks holds one publishing thread
while the other posts keep going."""

from __future__ import annotations

import time

from .designs import Platform, measure, report, report_cost, steady_load
from .harness import HarnessError
from .report import Results
from .world import World, at_epoch, wait_for_workers

ROWS, SMALL_ROWS = 5_000, 100
VIDEO_MB, SMALL_VIDEO_MB = 64, 2
# As the Procfile's bulk process: imports yield the CPU to publishing.
BULK_NICE = 10
BULK_CONCURRENCY = 2


def csv_file(world: World, rows: int, tag: str) -> bytes:
    """``rows`` posts for tomorrow across the world's accounts, as a person exports them from a spreadsheet."""
    from accounts.models import XAccount

    names = list(XAccount.objects.filter(pk__in=[a.pk for a in world.accounts]).values_list("username", flat=True))
    tomorrow = at_epoch(time.time() + 86_400).replace(microsecond=0, second=0)
    lines = ["account,text,scheduled_at"]
    for n in range(rows):
        at = tomorrow.replace(minute=n % 60).isoformat()
        lines.append(f"@{names[n % len(names)]},Imported for tomorrow {tag} {n}: a post of some length,{at}")
    return ("\n".join(lines) + "\n").encode()


def video(megabytes: int) -> bytes:
    """Bytes that start like an MP4 file (an ``ftyp`` box), padded to size."""
    head = (24).to_bytes(4, "big") + b"ftypmp42" + b"\x00\x00\x00\x00" + b"mp42isom"
    return head + b"\x00" * (megabytes * 2**20 - len(head))


class PlatformBesideBulkWork(Platform):
    label = "platform beside a CSV import and a video upload"
    key = "busy"
    queues = ("dispatch", "publish", "celery")

    def __init__(self, *, rows: int, video_mb: int, video_after: float):
        self.rows = rows
        self.video_mb = video_mb
        self.video_after = video_after
        self.job_id = 0
        self.video_id = 0
        self.began = 0.0
        self.import_seconds: float | None = None
        self.imported = 0
        self.video_seconds: float | None = None

    def started(self, world: World) -> None:
        from django.contrib.auth import get_user_model
        from django.core.files.base import ContentFile
        from django.core.files.uploadedfile import SimpleUploadedFile

        from bots.models import Post, PostMedia
        from bots.planning import csv_io
        from bots.planning.tasks import import_posts_csv

        world.system.start_workers(1, pool="threads", concurrency=BULK_CONCURRENCY, queues=("bulk",), name="bulk",
                                   nice=BULK_NICE)
        wait_for_workers(world.layout.processes + 1)
        owner = get_user_model().objects.get(username=f"bench-{world.run_tag}")
        self.began = time.time()
        upload = SimpleUploadedFile("monday.csv", csv_file(world, self.rows, world.run_tag), "text/csv")
        job = csv_io.import_job_start(upload=upload, user=owner, zone=at_epoch(0).tzinfo)
        import_posts_csv.delay(job.pk)
        self.job_id = job.pk

        data = video(self.video_mb)
        due = at_epoch(self.began + self.video_after)
        post = Post.objects.create(account_id=world.accounts[-1].pk, text=f"busy video {world.run_tag}",
                                   scheduled_at=due, status=Post.Status.SCHEDULED, next_attempt_at=due)
        media = PostMedia(post=post, content_type="video/mp4", size=len(data))
        media.file.save("clip.mp4", ContentFile(data), save=True)
        self.video_id = post.pk

    def ended(self, world: World) -> None:
        from bots.models import ImportJob, Post

        job = ImportJob.objects.get(pk=self.job_id)
        deadline = time.monotonic() + 600
        while not job.finished and time.monotonic() < deadline:
            time.sleep(0.5)
            job.refresh_from_db()
        if job.status != ImportJob.Status.DONE:
            raise HarnessError(f"the CSV import ended {job.status}: {job.report[:3]}")
        self.import_seconds = job.finished_at.timestamp() - self.began
        self.imported = Post.objects.filter(text__startswith=f"Imported for tomorrow {world.run_tag}").count()
        clip = Post.objects.get(pk=self.video_id)
        while clip.status != Post.Status.PUBLISHED and time.monotonic() < deadline:
            time.sleep(0.5)
            clip.refresh_from_db()
        if clip.status != Post.Status.PUBLISHED:
            raise HarnessError(f"the video post is {clip.status}: {clip.last_error}")
        self.video_seconds = clip.published_at.timestamp() - clip.scheduled_at.timestamp()


def run(world: World, results: Results) -> None:
    rows, megabytes = (SMALL_ROWS, SMALL_VIDEO_MB) if world.small else (ROWS, VIDEO_MB)
    load = steady_load(world)
    print(f"busy: {load.rate:g} posts/s for {load.seconds:g} s beside a {rows:,}-row CSV import and a "
          f"{megabytes} MB video", flush=True)
    design = PlatformBesideBulkWork(rows=rows, video_mb=megabytes, video_after=load.lead + 2)
    result = measure(world, design, load)
    report(results, "busy", result, p99_target="≤ 0.25 s", check=lambda v: v <= 0.25, never_early=True)
    report_cost(results, "busy", result)
    results.add("busy", f"CSV import: posts created (of {rows:,})", design.imported, "",
                target=f"{rows:,}", check=lambda v: v == rows)
    results.add("busy", "CSV import: from upload to done", design.import_seconds, "s")
    results.add("busy", f"video post ({megabytes} MB): published after its time", design.video_seconds, "s")
