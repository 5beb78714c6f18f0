"""The ceiling: what the sandbox takes from a bare loop of tweepy
``create_tweet`` calls, with the same processes and threads as the platform's
workers and nothing else (no database, no queue). The platform can come near
it, never beat it."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter


class ToSandbox(HTTPAdapter):
    """Sends tweepy's requests (addressed to X) to the sandbox instead."""

    def __init__(self, base: str):
        super().__init__()
        self.base = urlsplit(base)

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, ""))
        kwargs["timeout"] = kwargs.get("timeout") or (5, 10)
        return super().send(request, **kwargs)


def _client(base: str, token: str) -> tweepy.Client:
    client = tweepy.Client(bearer_token=token)
    adapter = ToSandbox(base)
    client.session.mount("https://", adapter)
    client.session.mount("http://", adapter)
    return client


def _process(base: str, items: list[tuple[str, str]], threads: int, ready, started, errors) -> None:
    clients: dict[str, tweepy.Client] = {}
    work: queue.SimpleQueue[tuple[tweepy.Client, str]] = queue.SimpleQueue()
    for token, text in items:
        if token not in clients:
            clients[token] = _client(base, token)
        work.put((clients[token], text))

    def loop() -> None:
        while True:
            try:
                client, text = work.get_nowait()
            except queue.Empty:
                return
            try:
                client.create_tweet(text=text, user_auth=False)
            except (tweepy.TweepyException, requests.RequestException) as exc:
                errors.put(f"{type(exc).__name__}: {exc}")

    ready.wait()  # every process has its clients built: start together
    started.put(time.time())
    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def post_all(base: str, items: list[tuple[str, str]], *, processes: int, threads: int) -> tuple[float, list[str]]:
    """Post every (token, text) with ``processes`` x ``threads`` concurrent
    callers, all starting together; returns when they started and the errors."""
    context = multiprocessing.get_context("spawn")
    errors, started, ready = context.Queue(), context.Queue(), context.Barrier(processes)
    workers = [
        context.Process(target=_process, args=(base, items[n::processes], threads, ready, started, errors))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    return min(started.get() for _ in workers), failures
