"""Jinja2 with hard limits: every jinja2 render and check runs in a pool of worker processes.

Jinja's SandboxedEnvironment stops templates from reaching Python internals, but not from
allocating: a nested format width or a doubling loop builds gigabytes inside one C call,
which no tracer can interrupt. So the work happens in a separate process whose address
space is capped (`RLIMIT_AS`: an allocation beyond it raises MemoryError there), whose CPU
time is capped by the kernel (`RLIMIT_CPU`, per job), and which the calling process kills
and replaces (pebble) when a job outlives its wall-clock limit. The web process never
holds the memory and never waits longer than the limit.

This module imports nothing from Django: the workers start from a fork server that has
imported only this module and Jinja2, which keeps them small and quick to replace.
"""

import atexit
import logging
import math
import multiprocessing
import os
import resource
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import (
    BaseLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    meta,
    nodes,
)
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
    SandboxedEnvironment,
    SecurityError,
)
from pebble import ProcessExpired, ProcessPool

# Error codes (the values of portal.errors.ErrorCode; this module stays free of Django).
SANDBOX = "sandbox"
SYNTAX = "template_syntax"
UNDEFINED = "undefined"
FAILED = "render_error"
TOO_LARGE = "too_large"

MAX_MESSAGE_CHARS = 300
logger = logging.getLogger(__name__)
# Attributes the sandbox refuses at render on some type; refused in any template at check.
UNSAFE_ATTRIBUTES = frozenset(
    {"mro"}
    | UNSAFE_FUNCTION_ATTRIBUTES
    | UNSAFE_METHOD_ATTRIBUTES
    | UNSAFE_GENERATOR_ATTRIBUTES
    | UNSAFE_COROUTINE_ATTRIBUTES
    | UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
)


@dataclass(frozen=True)
class Limits:
    """What one job may use. `cpu_seconds` is enforced by the kernel in the worker, the wall
    time by the caller (which kills the worker)."""

    memory_mb: int = 256
    cpu_seconds: int = 2
    wall_seconds: float = 1.0
    workers: int = 2
    max_output_chars: int = 200_000


class Refused(Exception):
    """A job failed: `code` is one of the codes above, `message` says why for the caller."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- In the worker ---------------------------------------------------------------------------


def _short(text: object) -> str:
    text = str(text)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"


def _start_worker(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _cpu_budget(seconds: int) -> None:
    """Let this job use `seconds` more CPU time; beyond it the kernel ends the process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime) + seconds
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


class _Environment(SandboxedEnvironment):
    def __init__(self, includes: Mapping[str, str]) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            loader=_IncludeLoader(includes),
            # Templates are compiled once per worker (lru_cache below), not per render.
            cache_size=0,
        )
        self.globals.pop("lipsum", None)


class _IncludeLoader(BaseLoader):
    def __init__(self, includes: Mapping[str, str]) -> None:
        self.includes = includes

    def get_source(self, environment, template: str):
        if template not in self.includes:
            raise TemplateNotFound(template)
        return self.includes[template], None, lambda: True


@lru_cache(maxsize=256)
def _compiled(template: str, includes: tuple[tuple[str, str], ...]):
    return _Environment(dict(includes)).from_string(template)


def _render_job(
    templates: tuple[str, ...],
    includes: tuple[tuple[str, str], ...],
    variables: dict,
    limits: Limits,
) -> tuple:
    """Render the texts of one prompt (a template, or each chat message) in one job: the
    limits and the output cap hold for them together."""
    _cpu_budget(limits.cpu_seconds)
    try:
        texts, size = [], 0
        for template in templates:
            chunks = []
            for chunk in _compiled(template, includes).generate(**variables):
                size += len(chunk)
                if size > limits.max_output_chars:
                    return (
                        "error",
                        TOO_LARGE,
                        f"The output exceeds {limits.max_output_chars} characters.",
                    )
                chunks.append(chunk)
            texts.append("".join(chunks))
        return ("ok", texts)
    except UndefinedError as exc:
        return ("error", UNDEFINED, f"Undefined in the template: {_short(exc.message)}.")
    except SecurityError as exc:
        return ("error", SANDBOX, f"Refused by the sandbox: {_short(exc)}")
    except MemoryError:
        return (
            "error",
            SANDBOX,
            f"The template needs more memory than the sandbox allows ({limits.memory_mb} MB).",
        )
    except RecursionError:
        return ("error", FAILED, "The template recurses too deeply.")
    except TemplateError as exc:
        return ("error", FAILED, f"The template failed: {_short(exc.message or exc)}.")
    except Exception as exc:  # a template's own runtime error (TypeError, ZeroDivision…)
        return ("error", FAILED, f"The template failed: {type(exc).__name__}: {_short(exc)}.")


def _unknown_filter_or_test(environment: SandboxedEnvironment, ast: nodes.Template) -> str | None:
    """Jinja defers an unknown filter or test inside a condition to render time; not here."""
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        known = environment.filters if isinstance(node, nodes.Filter) else environment.tests
        if node.name not in known:
            kind = "filter" if isinstance(node, nodes.Filter) else "test"
            return f"No {kind} named {_short(repr(node.name))}."
    return None


def _unsafe_access(ast: nodes.Template) -> str | None:
    """The first attribute the sandbox would refuse, when the template names it literally."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem):
            name = node.arg.value if isinstance(node.arg, nodes.Const) else None
        else:
            first = node.args[0] if node.name == "attr" and node.args else None
            name = first.value if isinstance(first, nodes.Const) else None
        if isinstance(name, str) and (name.startswith("_") or name in UNSAFE_ATTRIBUTES):
            return name
    return None


def _check_job(template: str, limits: Limits) -> tuple:
    """Parse and compile as the render will; name the variables and includes it uses."""
    _cpu_budget(limits.cpu_seconds)
    environment = _Environment({})
    try:
        ast = environment.parse(template)
        unsafe = _unsafe_access(ast)
        if unsafe:
            return ("error", SYNTAX, f"The sandbox refuses access to {_short(repr(unsafe))}.")
        unknown = _unknown_filter_or_test(environment, ast)
        if unknown:
            return ("error", SYNTAX, unknown)
        environment.compile(ast)  # unknown filters and tests fail here
        variables = sorted(meta.find_undeclared_variables(ast))
        referenced = list(meta.find_referenced_templates(ast))
    except TemplateSyntaxError as exc:
        return ("error", SYNTAX, f"Jinja2 syntax error on line {exc.lineno}: {_short(exc.message)}")
    except RecursionError:
        return ("error", SYNTAX, "The template nests too deeply.")
    except MemoryError:
        return ("error", SANDBOX, "Checking the template needs more memory than allowed.")
    except SecurityError as exc:
        return ("error", SYNTAX, f"Refused by the sandbox: {_short(exc)}")
    except Exception as exc:  # e.g. an integer literal past Python's 4300-digit limit
        return ("error", SYNTAX, f"The template cannot be compiled: {_short(exc)}")
    return ("ok", variables, referenced)


# --- In the caller -----------------------------------------------------------------------------


class Sandbox:
    """A lazily started pool of jinja2 workers with `limits`, one per process (a forked
    process starts its own: a pool's threads and pipes do not survive a fork)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._pool: ProcessPool | None = None
        self._pid = 0

    def _running_pool(self) -> ProcessPool:
        with self._lock:
            if self._pool is None or self._pid != os.getpid() or not self._pool.active:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload([__name__])
                self._pool = ProcessPool(
                    max_workers=self.limits.workers,
                    max_tasks=1000,
                    initializer=_start_worker,
                    initargs=(self.limits.memory_mb << 20,),
                    context=context,
                )
                self._pid = os.getpid()
            return self._pool

    def _run(self, job: Callable[..., tuple], *args: Any) -> tuple:
        limits = self.limits
        future = self._running_pool().schedule(
            job, args=(*args, limits), timeout=limits.wall_seconds
        )
        try:
            # The pool's timeout counts from when a worker takes the job; the extra bound
            # covers waiting for a free worker.
            answer = future.result(timeout=limits.wall_seconds * (limits.workers + 4))
        except (FutureTimeout, CancelledError) as exc:
            future.cancel()
            raise Refused(
                SANDBOX, f"The template ran longer than {limits.wall_seconds:g} s and was stopped."
            ) from exc
        except ProcessExpired as exc:
            raise Refused(
                SANDBOX,
                "The template exceeded the sandbox's CPU or memory limits and was stopped.",
            ) from exc
        except MemoryError as exc:  # could not even pass the answer back
            raise Refused(
                SANDBOX, "The template needs more memory than the sandbox allows."
            ) from exc
        except Exception as exc:  # a broken pool, say: start afresh on the next call
            logger.exception("the jinja2 sandbox failed; restarting its pool")
            self.stop()
            raise Refused(SANDBOX, "The sandbox could not render this; try again.") from exc
        if answer[0] == "error":
            raise Refused(answer[1], answer[2])
        return answer[1:]

    def render(self, template: str, includes: Mapping[str, str], variables: dict) -> str:
        """The rendered text; raises Refused."""
        (text,) = self.render_many([template], includes, variables)
        return text

    def render_many(
        self, templates: list[str], includes: Mapping[str, str], variables: dict
    ) -> list[str]:
        """Several texts of one prompt in one job (one time limit, one output cap)."""
        (texts,) = self._run(
            _render_job, tuple(templates), tuple(sorted(includes.items())), variables
        )
        return texts

    def check(self, template: str) -> tuple[list[str], list[str | None]]:
        """(variables used, templates included: None for a computed name); raises Refused."""
        variables, referenced = self._run(_check_job, template)
        return variables, referenced

    def stop(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            if pool is not None and self._pid == os.getpid():
                pool.stop()
                pool.join(timeout=5)


_sandboxes: dict[Limits, Sandbox] = {}
_sandboxes_lock = threading.Lock()


def sandbox(limits: Limits) -> Sandbox:
    """The process's sandbox for `limits` (one pool per distinct limits, normally one)."""
    found = _sandboxes.get(limits)
    if found is None:
        with _sandboxes_lock:
            found = _sandboxes.setdefault(limits, Sandbox(limits))
    return found


@atexit.register
def _stop_all() -> None:
    for existing in list(_sandboxes.values()):
        existing.stop()
