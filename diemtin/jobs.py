"""One monitoring cycle: crawl → classify → alerts → the day's digest when it is due.

`run_cycle` is what `diemtin run` does once (from cron or a systemd timer, every 15 minutes) and
what `diemtin serve` repeats in-process. It is idempotent: the digest ledger sends a day's digest
at most once per recipient, alerts go out once per story, and a lock in the data directory keeps
two cycles from overlapping (the second one returns at once, `skipped`).

The crawl runs in a subprocess (`python -m diemtin crawl`): Twisted's reactor starts once per
process. A crawl that overruns `crawl_timeout` is stopped (SIGTERM, then SIGKILL) so a stuck
site can never hold up the morning's digest; what it had stored stays stored.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from store.db import open_store
from store.models import utcnow
from store.profile import Profile, load_profile
from store.settings import Settings

DEFAULT_CRAWL_TIMEOUT = 20 * 60.0


class CycleBusy(RuntimeError):
    """Another cycle holds the data directory's cycle lock."""


@contextmanager
def cycle_lock(data_dir: Path) -> Iterator[None]:
    """One cycle at a time per data directory; released by the kernel if the process dies."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "cycle.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise CycleBusy("một lượt chạy khác đang diễn ra") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class CrawlStep:
    returncode: int | None = None
    seconds: float = 0.0
    timed_out: bool = False
    tail: str = ""  # the end of its output, for the report and the log


@dataclass
class CycleReport:
    profile: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    skipped: str | None = None  # set when another cycle was running
    crawl: CrawlStep | None = None
    classified: int | None = None  # items classified this cycle
    relevant: int | None = None
    alerts: object | None = None  # digest.alerts.AlertResult
    digest: str = ""  # what was decided about the day's digest, in Vietnamese
    day: dt.date | None = None
    built: bool = False
    send: object | None = None  # digest.deliver.SendResult
    errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 fine; 1 a step crashed or a permanent delivery failure; 75 deliveries still owed
        after transient errors (the next cycle retries them)."""
        if self.errors:
            return 1
        codes = [r.exit_code for r in (self.send, self.alerts) if r is not None]
        if 1 in codes:
            return 1
        return max(codes, default=0)


def crawl_command(
    settings: Settings, profile_path: Path, *, config_file: Path | None = None
) -> list[str]:
    """`python -m diemtin … crawl -p PROFILE` with this process's settings."""
    cmd = [sys.executable, "-m", "diemtin"]
    if config_file:
        cmd += ["--config", str(Path(config_file).resolve())]
    cmd += ["--data-dir", str(Path(settings.data_dir).resolve())]
    if settings.database_url:
        cmd += ["--database-url", settings.database_url]
    return [*cmd, "crawl", "--profile", str(Path(profile_path).resolve())]


def run_crawl_subprocess(
    settings: Settings,
    profile_path: Path,
    *,
    config_file: Path | None = None,
    timeout: float = DEFAULT_CRAWL_TIMEOUT,
) -> CrawlStep:
    """Crawl in a fresh process; its output is appended to <data_dir>/logs/crawl.log."""
    step = CrawlStep()
    logs = Path(settings.data_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "140"}
    with open(logs / "crawl.log", "ab") as log:
        log.write(f"\n=== {utcnow().isoformat()} ===\n".encode())
        log.flush()
        offset = log.tell()
        proc = subprocess.Popen(
            crawl_command(settings, profile_path, config_file=config_file),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        try:
            step.returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            step.timed_out = True
            proc.send_signal(signal.SIGTERM)  # Scrapy closes its spiders and the store cleanly
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            step.returncode = proc.returncode
    step.seconds = time.monotonic() - started
    with open(logs / "crawl.log", "rb") as fh:
        fh.seek(offset)
        step.tail = fh.read().decode("utf-8", "replace")[-4000:]
    return step


def _load(settings: Settings, profile_name: str) -> tuple[Path, Profile]:
    path = settings.profile_path(profile_name)
    profile, _problems = load_profile(path)
    return path, profile


def make_classifier(settings: Settings, profile: Profile):
    """The classifier for this install (the encoder itself loads on first use)."""
    from classify.pipeline import Classifier

    return Classifier(
        profile,
        cache_dir=Path(settings.data_dir) / "models",
        heads_dir=settings.heads_dir,
        threads=settings.threads,
    )


def run_cycle(
    settings: Settings,
    profile_name: str | None = None,
    *,
    now: dt.datetime | None = None,
    crawl: bool = True,
    classifier=None,
    config_file: Path | None = None,
    crawl_timeout: float = DEFAULT_CRAWL_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
) -> CycleReport:
    """One cycle (see the module's doc). `now` moves the clock for the schedule and alerts
    (tests); `classifier` is reused across cycles by `serve` (the encoder loads once)."""
    profile_name = profile_name or settings.profile
    path, profile = _load(settings, profile_name)
    report = CycleReport(profile=path.stem, started_at=utcnow())
    try:
        with cycle_lock(settings.data_dir):
            _cycle(
                settings,
                path,
                profile,
                report,
                now,
                crawl,
                classifier,
                config_file,
                crawl_timeout,
                sleep,
            )
    except CycleBusy as exc:
        report.skipped = str(exc)
    report.finished_at = utcnow()
    return report


def _cycle(
    settings, path, profile, report, now, crawl, classifier, config_file, crawl_timeout, sleep
) -> None:
    from digest.alerts import check_alerts
    from digest.deliver import find_digest, send_digest
    from digest.schedule import delivery_config, due, local_day
    from digest.smtp import SendBusy

    name = path.stem
    factory = open_store(settings.db_url)

    def step(label: str, fn):
        try:
            return fn()
        except SendBusy as exc:
            report.digest = f"{report.digest}; bỏ qua gửi: {exc}".lstrip("; ")
        except Exception as exc:  # noqa: BLE001 - one broken step must not stop the rest
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            report.errors.append(f"{label}: {detail}")
        return None

    try:
        if crawl:
            report.crawl = step(
                "thu thập",
                lambda: run_crawl_subprocess(
                    settings, path, config_file=config_file, timeout=crawl_timeout
                ),
            )
            if report.crawl and report.crawl.returncode not in (0, None):
                why = "quá thời gian" if report.crawl.timed_out else f"mã {report.crawl.returncode}"
                report.errors.append(f"thu thập: tiến trình thu thập kết thúc lỗi ({why})")

        clf = classifier or make_classifier(settings, profile)
        done = step("phân loại", lambda: clf.run(factory))
        if done is not None:
            report.classified, report.relevant = done.seen, done.relevant

        clock = now or utcnow()
        report.alerts = step(
            "cảnh báo",
            lambda: check_alerts(factory, settings, profile, name, now=clock, sleep=sleep),
        )

        cfg = delivery_config(profile)
        day = report.day = local_day(clock, cfg.tz)
        with factory() as session:
            row = find_digest(session, name, day)
            status, built_at = (row.status, row.built_at) if row else (None, None)
        decision = due(clock, day, cfg, status=status, built_at=built_at)
        report.digest = decision.reason
        if decision.build:
            from digest.build import build_digest

            built = step(
                "lập điểm tin",
                lambda: build_digest(factory, profile, name, day, settings, now=clock),
            )
            report.built = built is not None
            if not report.built and decision.send:
                report.digest += "; chưa gửi vì lập điểm tin lỗi (lượt sau thử lại)"
                return
        if decision.send:
            report.send = step(
                "gửi điểm tin",
                lambda: send_digest(factory, settings, profile, name, day, now=clock, sleep=sleep),
            )
    finally:
        factory.kw["bind"].dispose()


# ── serve ────────────────────────────────────────────────────────────────────────────────────


def start_web_app(settings: Settings, host: str, port: int) -> threading.Thread:
    """The officers' review app (review.app.serve, uvicorn) in a thread beside the cycle loop."""
    from review.app import serve as serve_web

    thread = threading.Thread(
        target=serve_web,
        args=(settings,),
        kwargs={"host": host, "port": port},
        name="review-web",
        daemon=True,
    )
    thread.start()
    return thread


def serve_forever(
    settings: Settings,
    profile_name: str | None,
    *,
    every: dt.timedelta,
    config_file: Path | None = None,
    on_report: Callable[[CycleReport], None] | None = None,
    stop: threading.Event | None = None,
    max_cycles: int | None = None,
    crawl_timeout: float = DEFAULT_CRAWL_TIMEOUT,
) -> int:
    """Run a cycle now and every `every` after (on the clock: :00, :15, … for 15 minutes) until
    SIGTERM/SIGINT or `stop`. Each crawl is a subprocess; the classifier stays loaded."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    classifier, seen = None, None
    cycles = 0
    period = max(every.total_seconds(), 1.0)
    while not stop.is_set():
        try:
            path, profile = _load(settings, profile_name or settings.profile)
            stamp = path.stat().st_mtime
            if classifier is None or stamp != seen:  # the profile changed: its rules too
                classifier, seen = make_classifier(settings, profile), stamp
            report = run_cycle(
                settings,
                profile_name,
                classifier=classifier,
                config_file=config_file,
                crawl_timeout=crawl_timeout,
            )
        except Exception as exc:  # noqa: BLE001 - a bad profile edit must not end the service
            report = CycleReport(profile=str(profile_name), started_at=utcnow())
            report.errors.append(traceback.format_exception_only(type(exc), exc)[-1].strip())
            report.finished_at = utcnow()
        cycles += 1
        if on_report:
            on_report(report)
        if max_cycles is not None and cycles >= max_cycles:
            break
        wait = period - (time.time() % period)
        stop.wait(wait)
    return cycles
