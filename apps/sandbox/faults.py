"""Seeded fault injection: a share of 500s and 503s, dropped connections and added latency, switchable at run
time, plus a scripted queue ("the next three requests fail with 503") for exact tests."""

from __future__ import annotations

import random
import re
import threading
from collections import deque
from dataclasses import dataclass, field

ACTIONS = ("500", "503", "drop", "ok")


@dataclass
class FaultConfig:
    error_500: float = 0.0  # share of requests answered 500
    error_503: float = 0.0  # share answered 503
    drop: float = 0.0  # share whose connection is closed without an answer
    latency_ms: float = 0.0  # added to every request
    latency_jitter_ms: float = 0.0  # plus up to this much, uniformly
    answer_latency_ms: float = 0.0  # after the request was carried out, before the answer (a slow answer)
    seed: int = 0
    path_pattern: str | None = None  # only requests whose path matches (regex search); default all API paths
    script: list[str] = field(default_factory=list)  # queued outcomes for the next requests


@dataclass
class Decision:
    action: str = "ok"  # "ok", "500", "503" or "drop"
    delay: float = 0.0  # seconds
    answer_delay: float = 0.0  # seconds between carrying the request out and answering it


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.config = FaultConfig()
        self._rng = random.Random(0)
        self._pattern: re.Pattern | None = None
        self._queue: deque[str] = deque()
        self.counts = {"500": 0, "503": 0, "drop": 0, "delayed": 0}

    def configure(self, **changes) -> FaultConfig:
        """Set any of the :class:`FaultConfig` fields; ``seed`` restarts the random sequence."""
        with self._lock:
            for key, value in changes.items():
                if not hasattr(self.config, key):
                    raise ValueError(f"unknown fault setting {key!r}")
                if key in ("error_500", "error_503", "drop"):
                    value = float(value)
                    if not 0.0 <= value <= 1.0:
                        raise ValueError(f"{key} must be a share between 0 and 1")
                elif key in ("latency_ms", "latency_jitter_ms", "answer_latency_ms"):
                    value = float(value)
                    if value < 0:
                        raise ValueError(f"{key} must not be negative")
                elif key == "seed":
                    value = int(value)
                elif key == "script":
                    value = [str(v) for v in (value or [])]
                    bad = [v for v in value if v not in ACTIONS]
                    if bad:
                        raise ValueError(f"script entries must be among {', '.join(ACTIONS)}")
                elif key == "path_pattern" and value:
                    re.compile(value)
                setattr(self.config, key, value)
            if self.config.error_500 + self.config.error_503 + self.config.drop > 1.0:
                raise ValueError("error_500 + error_503 + drop must not exceed 1")
            if "seed" in changes:
                self._rng = random.Random(self.config.seed)
            if "script" in changes:
                self._queue = deque(self.config.script)
            self._pattern = re.compile(self.config.path_pattern) if self.config.path_pattern else None
            return self.config

    def reset(self) -> None:
        with self._lock:
            self.config = FaultConfig()
            self._rng = random.Random(0)
            self._pattern = None
            self._queue.clear()
            self.counts = {"500": 0, "503": 0, "drop": 0, "delayed": 0}

    def decide(self, path: str) -> Decision:
        with self._lock:
            cfg = self.config
            if self._pattern is not None and not self._pattern.search(path):
                return Decision()
            delay = 0.0
            if cfg.latency_ms or cfg.latency_jitter_ms:
                delay = (cfg.latency_ms + self._rng.random() * cfg.latency_jitter_ms) / 1000.0
                self.counts["delayed"] += 1
            if self._queue:
                action = self._queue.popleft()
                self.config.script = list(self._queue)
            elif cfg.error_500 or cfg.error_503 or cfg.drop:
                roll = self._rng.random()
                if roll < cfg.error_500:
                    action = "500"
                elif roll < cfg.error_500 + cfg.error_503:
                    action = "503"
                elif roll < cfg.error_500 + cfg.error_503 + cfg.drop:
                    action = "drop"
                else:
                    action = "ok"
            else:
                action = "ok"
            if action != "ok":
                self.counts[action] += 1
            return Decision(action=action, delay=delay, answer_delay=cfg.answer_latency_ms / 1000.0)

    def describe(self) -> dict:
        with self._lock:
            cfg = self.config
            return {
                "error_500": cfg.error_500,
                "error_503": cfg.error_503,
                "drop": cfg.drop,
                "latency_ms": cfg.latency_ms,
                "latency_jitter_ms": cfg.latency_jitter_ms,
                "answer_latency_ms": cfg.answer_latency_ms,
                "seed": cfg.seed,
                "path_pattern": cfg.path_pattern,
                "script": list(self._queue),
                "counts": dict(self.counts),
            }
