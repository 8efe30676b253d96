"""Function tools for the model: a registry that describes them, an executor that runs them
(DESIGN.md "Conversation and response rules", PEERS.md M3 and pain point 8).

:class:`ToolRegistry` turns Python functions into Realtime function tools: the JSON-schema
``parameters`` come from the type hints (or from a single pydantic model parameter) and the
docstring, and the model's arguments are validated against them before the function runs.

:class:`ToolExecutor` runs each call as an asyncio task, so the event loop — and with it barge-in,
audio and the UI — keeps going while a tool works: ``async`` tools run on the loop, plain
functions in a worker thread. Every call has a timeout and can be cancelled; side-effecting tools
(``requires_approval=True``) wait for :meth:`ToolExecutor.approve` or
:meth:`ToolExecutor.reject`. Whatever happens, the model gets a JSON answer: the result, or
``{"error": {"type": …, "message": …}}`` with type ``unknown_tool``, ``invalid_arguments``,
``execution_error``, ``timeout``, ``cancelled`` or ``rejected``. Finished runs are kept in a
bounded history.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import logging
import re
import time
import typing
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from realtime_desktop.protocol import FunctionTool

from .errors import InvalidInputError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds; dead air past this is worse than an error (pain point 8)
MAX_OUTPUT_CHARS = 100_000
_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class ErrorKind(enum.StrEnum):
    UNKNOWN_TOOL = "unknown_tool"
    INVALID_ARGUMENTS = "invalid_arguments"
    EXECUTION_ERROR = "execution_error"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


@dataclass(frozen=True, eq=False)
class Tool:
    """A registered tool. Build it with :meth:`ToolRegistry.register`.

    Attributes:
        name, description: what the model sees.
        parameters: the JSON schema of the arguments.
        handler: the function (sync or async) called with the validated arguments.
        timeout: seconds before the call is abandoned with a ``timeout`` error.
        requires_approval: the user must approve each call (side effects).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Callable[..., Any]
    timeout: float = DEFAULT_TIMEOUT
    requires_approval: bool = False
    arguments_model: type[BaseModel] = field(repr=False, default=BaseModel)
    model_parameter: str | None = field(repr=False, default=None)

    def function_tool(self) -> FunctionTool:
        """The tool as the session configuration lists it."""
        return FunctionTool(
            name=self.name, description=self.description, parameters=self.parameters
        )

    def arguments(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for the handler from the model's arguments; raises
        :class:`InvalidInputError` saying what is wrong."""
        try:
            validated = self.arguments_model.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            raise InvalidInputError(f"Invalid arguments for {self.name}: {problems}.") from None
        if self.model_parameter is not None:
            return {self.model_parameter: validated}
        return {name: getattr(validated, name) for name in type(validated).model_fields}


class ToolRegistry:
    """The tools offered to the model, by name."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(
        self,
        handler: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        requires_approval: bool = False,
    ) -> Tool:
        """Registers ``handler`` (replacing a tool of the same name) and returns the tool.

        The parameters are the handler's, typed by their annotations (``Annotated[int,
        Field(description=…)]`` works) and described by the docstring's ``Args:`` section; a
        handler with one parameter annotated with a pydantic model takes that model's schema.
        """
        tool_name = name or handler.__name__
        if not _NAME_PATTERN.match(tool_name):
            raise InvalidInputError(
                f"{tool_name!r} is not a valid tool name (letters, digits, _ and -, at most 64)."
            )
        if timeout <= 0:
            raise InvalidInputError("A tool's timeout must be positive.")
        model, model_parameter = _arguments_model(tool_name, handler)
        schema = _clean_schema(model.model_json_schema())
        tool = Tool(
            name=tool_name,
            description=description or _summary(handler),
            parameters=schema,
            handler=handler,
            timeout=timeout,
            requires_approval=requires_approval,
            arguments_model=model,
            model_parameter=model_parameter,
        )
        self._tools[tool_name] = tool
        return tool

    def tool(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        requires_approval: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of :meth:`register`; returns the function unchanged."""

        def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.register(
                handler,
                name=name,
                description=description,
                timeout=timeout,
                requires_approval=requires_approval,
            )
            return handler

        return decorate

    def unregister(self, name: str) -> None:
        self._tools.pop(name, None)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def function_tools(self) -> list[FunctionTool]:
        """Every tool, for ``RealtimeSessionConfig.with_tools(...)``."""
        return [tool.function_tool() for tool in self._tools.values()]


def _arguments_model(name: str, handler: Callable[..., Any]) -> tuple[type[BaseModel], str | None]:
    signature = inspect.signature(handler)
    hints = typing.get_type_hints(handler, include_extras=True)
    parameters = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if len(parameters) == 1:
        only = hints.get(parameters[0].name)
        if inspect.isclass(only) and issubclass(only, BaseModel):
            return only, parameters[0].name
    described = _documented_arguments(handler)
    fields: dict[str, Any] = {}
    for parameter in parameters:
        annotation = hints.get(parameter.name, Any)
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (
            annotation,
            Field(default, description=described.get(parameter.name)),
        )
    model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return model, None


def _summary(handler: Callable[..., Any]) -> str:
    doc = inspect.getdoc(handler) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()


def _documented_arguments(handler: Callable[..., Any]) -> dict[str, str]:
    """``name: description`` entries of a Google-style ``Args:`` section."""
    lines = (inspect.getdoc(handler) or "").splitlines()
    heading = next(
        (i for i, line in enumerate(lines) if line.strip() in ("Args:", "Arguments:")), None
    )
    if heading is None:
        return {}
    described: dict[str, str] = {}
    current: str | None = None
    entry_indent: int | None = None
    for line in lines[heading + 1 :]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            break  # the next section
        match = re.match(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
        if match and (entry_indent is None or indent <= entry_indent):
            entry_indent = indent
            current = match.group(1)
            described[current] = match.group(2).strip()
        elif current is not None:
            described[current] = f"{described[current]} {line.strip()}".strip()
    return described


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without pydantic's generated titles (noise the model pays tokens for)."""
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "properties" and isinstance(value, dict):
            cleaned[key] = {
                k: _clean_schema(v) if isinstance(v, dict) else v for k, v in value.items()
            }
        elif isinstance(value, dict):
            cleaned[key] = _clean_schema(value)
        elif isinstance(value, list):
            cleaned[key] = [_clean_schema(v) if isinstance(v, dict) else v for v in value]
        else:
            cleaned[key] = value
    return cleaned


# Running ---------------------------------------------------------------------------------------


class ToolRunStatus(enum.StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # unknown tool, invalid arguments, or the tool raised
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


_FINISHED = frozenset(
    {
        ToolRunStatus.SUCCEEDED,
        ToolRunStatus.FAILED,
        ToolRunStatus.TIMED_OUT,
        ToolRunStatus.CANCELLED,
        ToolRunStatus.REJECTED,
    }
)


@dataclass(eq=False)
class ToolRun:
    """One call of a tool, as a tool card shows it.

    ``output`` is the JSON text for the model (the result or a structured error) once
    finished; ``error_kind``/``error_message`` say what went wrong. Times are
    ``time.monotonic()``.
    """

    call_id: str
    name: str
    arguments: str
    requires_approval: bool
    status: ToolRunStatus
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    output: str | None = None
    error_kind: ErrorKind | None = None
    error_message: str | None = None
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _decision: asyncio.Future[tuple[bool, str]] | None = field(default=None, repr=False)
    _cancel_reason: str | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in _FINISHED

    @property
    def ok(self) -> bool:
        return self.status is ToolRunStatus.SUCCEEDED

    def elapsed(self, now: float | None = None) -> float:
        """Seconds since the call was submitted (until it finished)."""
        end = self.finished_at if self.finished_at is not None else (now or time.monotonic())
        return end - self.created_at

    async def wait(self) -> ToolRun:
        """Waits until the run is finished and returns it."""
        if self._task is not None:
            await asyncio.shield(self._task)
        return self


class ToolExecutor:
    """Runs tool calls as asyncio tasks. Use it from the event loop's thread."""

    def __init__(self, registry: ToolRegistry, *, history_limit: int = 200) -> None:
        self._registry = registry
        self._runs: dict[str, ToolRun] = {}
        self._history: deque[ToolRun] = deque(maxlen=history_limit)
        self._listeners: list[Callable[[ToolRun], None]] = []

    @property
    def registry(self) -> ToolRegistry:
        return self._registry

    @property
    def active(self) -> list[ToolRun]:
        """Runs not finished yet (awaiting approval or running)."""
        return list(self._runs.values())

    @property
    def awaiting_approval(self) -> list[ToolRun]:
        return [r for r in self._runs.values() if r.status is ToolRunStatus.AWAITING_APPROVAL]

    @property
    def history(self) -> list[ToolRun]:
        """Finished runs, oldest first (bounded)."""
        return list(self._history)

    def run(self, call_id: str) -> ToolRun | None:
        """An active run, or a finished one still in the history."""
        found = self._runs.get(call_id)
        if found is not None:
            return found
        return next((r for r in reversed(self._history) if r.call_id == call_id), None)

    def add_listener(self, listener: Callable[[ToolRun], None]) -> Callable[[], None]:
        """``listener(run)`` on every status change; returns a remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def submit(self, call_id: str, name: str, arguments: str) -> ToolRun:
        """Starts a call (from ``response.function_call_arguments.done``); returns at once."""
        if call_id in self._runs:
            return self._runs[call_id]
        tool = self._registry.get(name)
        run = ToolRun(
            call_id=call_id,
            name=name,
            arguments=arguments,
            requires_approval=bool(tool and tool.requires_approval),
            status=(
                ToolRunStatus.AWAITING_APPROVAL
                if tool and tool.requires_approval
                else ToolRunStatus.RUNNING
            ),
            created_at=time.monotonic(),
        )
        self._runs[call_id] = run
        loop = asyncio.get_running_loop()
        if run.requires_approval:
            run._decision = loop.create_future()  # decidable from the moment it is shown
        run._task = loop.create_task(self._execute(run, tool), name=f"tool-{name}-{call_id}")
        self._notify(run)
        return run

    def approve(self, call_id: str) -> bool:
        """Lets a call that waits for approval run. False when none waits under that id."""
        return self._decide(call_id, True, "")

    def reject(self, call_id: str, reason: str = "") -> bool:
        """Declines a call that waits for approval; the model is told the user declined."""
        return self._decide(call_id, False, reason)

    def cancel(self, call_id: str, reason: str = "Cancelled by the user.") -> bool:
        """Cancels a call (waiting or running); the model gets a ``cancelled`` error."""
        run = self._runs.get(call_id)
        if run is None or run._task is None or run.finished:
            return False
        run._cancel_reason = reason
        run._task.cancel()
        return True

    def cancel_all(self, reason: str = "Cancelled.") -> None:
        for call_id in list(self._runs):
            self.cancel(call_id, reason)

    async def aclose(self) -> None:
        """Cancels every call and waits for them to finish."""
        tasks = [run._task for run in self._runs.values() if run._task is not None]
        self.cancel_all("The session ended.")
        if tasks:
            await asyncio.wait(tasks)

    # ---------------------------------------------------------------------------- internals
    def _decide(self, call_id: str, approved: bool, reason: str) -> bool:
        run = self._runs.get(call_id)
        if run is None or run._decision is None or run._decision.done():
            return False
        run._decision.set_result((approved, reason))
        return True

    async def _execute(self, run: ToolRun, tool: Tool | None) -> None:
        try:
            await self._execute_inner(run, tool)
        except asyncio.CancelledError:
            self._finish(
                run,
                ToolRunStatus.CANCELLED,
                error=(ErrorKind.CANCELLED, run._cancel_reason or "The call was cancelled."),
            )
            if run._cancel_reason is None:
                raise  # not ours: the loop is shutting down
        except Exception as exc:
            # A tool's own failure is the model's business, not the app's: it gets a
            # structured error and can apologise or try something else.
            log.warning("tool %s failed", run.name, exc_info=True)
            kind = (
                ErrorKind.INVALID_ARGUMENTS
                if isinstance(exc, InvalidInputError)
                else ErrorKind.EXECUTION_ERROR
            )
            message = exc.message if isinstance(exc, InvalidInputError) else _exception_text(exc)
            self._finish(run, ToolRunStatus.FAILED, error=(kind, message))

    async def _execute_inner(self, run: ToolRun, tool: Tool | None) -> None:
        if tool is None:
            known = ", ".join(self._registry.names) or "none"
            message = f"There is no tool named {run.name!r}. Available tools: {known}."
            self._finish(run, ToolRunStatus.FAILED, error=(ErrorKind.UNKNOWN_TOOL, message))
            return
        try:
            raw = json.loads(run.arguments or "{}")
        except ValueError as exc:
            message = f"The arguments are not valid JSON: {exc}."
            self._finish(run, ToolRunStatus.FAILED, error=(ErrorKind.INVALID_ARGUMENTS, message))
            return
        if not isinstance(raw, dict):
            message = "The arguments must be a JSON object."
            self._finish(run, ToolRunStatus.FAILED, error=(ErrorKind.INVALID_ARGUMENTS, message))
            return
        kwargs = tool.arguments(raw)  # InvalidInputError → invalid_arguments
        if run._decision is not None:
            approved, reason = await run._decision
            if not approved:
                message = "The user declined this action." + (f" {reason}" if reason else "")
                self._finish(run, ToolRunStatus.REJECTED, error=(ErrorKind.REJECTED, message))
                return
            run.status = ToolRunStatus.RUNNING
        run.started_at = time.monotonic()
        self._notify(run)
        try:
            async with asyncio.timeout(tool.timeout):
                if inspect.iscoroutinefunction(tool.handler):
                    result = await tool.handler(**kwargs)
                else:
                    # A plain function may block; a worker thread keeps the loop (and barge-in)
                    # responsive. On timeout the thread is abandoned, not stopped.
                    result = await asyncio.to_thread(tool.handler, **kwargs)
        except TimeoutError:
            message = f"{tool.name} did not finish within {tool.timeout:g} seconds."
            self._finish(run, ToolRunStatus.TIMED_OUT, error=(ErrorKind.TIMEOUT, message))
            return
        self._finish(run, ToolRunStatus.SUCCEEDED, output=_serialize(result))

    def _finish(
        self,
        run: ToolRun,
        status: ToolRunStatus,
        *,
        output: str | None = None,
        error: tuple[ErrorKind, str] | None = None,
    ) -> None:
        if run.finished:
            return
        run.status = status
        run.finished_at = time.monotonic()
        if error is not None:
            run.error_kind, run.error_message = error
            output = json.dumps(
                {"error": {"type": error[0].value, "message": error[1]}}, ensure_ascii=False
            )
        run.output = output
        self._runs.pop(run.call_id, None)
        self._history.append(run)
        self._notify(run)

    def _notify(self, run: ToolRun) -> None:
        for listener in list(self._listeners):
            try:
                listener(run)
            except Exception:
                log.exception("a tool listener failed")


def _exception_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _serialize(result: Any) -> str:
    if isinstance(result, str):
        text = result
    elif isinstance(result, BaseModel):
        text = result.model_dump_json()
    else:
        text = json.dumps(result, ensure_ascii=False, default=str)
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + "… [output truncated]"
    return text
