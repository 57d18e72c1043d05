"""Finding the audited function: the spec parsed, the model's module imported (as user code is), the function found.

While the module imports, ``sys.argv`` is its own, the working directory, the console's streams and the
warnings filters are put back afterwards, what it prints goes to ``model-output.log``
(:mod:`conformance._model_output`), and its files are read as regular files only (never a pipe or a device).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from ..._files import FileTooLarge, NotRegularFile, read_problem, read_regular, regular_size
from ..._model_output import model_code, model_log
from ..._text import printable
from ..._untrusted import shown, shown_list
from ...errors import AdapterError
from ..base import ArgumentFile
from .common import _USAGE, ModelExit, WorkingDirectoryWarning, _exit_code, _where


@contextmanager
def _own_argv(name: str) -> Iterator[None]:
    """``sys.argv`` as a script's own while its module imports: its name only, never the kit's arguments.

    A module that parses its command line at import (a script not guarded by ``if __name__ ==
    "__main__"``) would read ``conformance run --dataset ...`` and exit with a usage message that looks
    like the kit's own; with no arguments it gets its defaults, or a usage message naming itself.
    """
    saved = sys.argv
    sys.argv = [name]
    try:
        yield
    finally:
        sys.argv = saved


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the folder was deleted under the run: nothing to restore to
        return None


def _import_failure(exc: Exception, what: str, spec: str) -> AdapterError:
    """The module's own code failed while importing: its error, and the line where it happened."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return AdapterError(
            f"{spec}: {what} imports {exc.name!r}, which is not installed here{_where(exc)}; install it in this environment"
        )
    return AdapterError(
        f"{spec}: importing {what} raised {type(exc).__name__}: {exc}{_where(exc)}; fix the module (importing it in "
        "a Python shell shows the whole traceback)"
    )


def _import_exit(exc: SystemExit, what: str, spec: str, file: str | None) -> ModelExit:
    """The module ended the process while importing: a script's code ran, not a library's."""
    where = _where(exc, Path(file) if file else None)  # the module's own line, not argparse's
    log = model_log()  # under conformance run, what the module printed went there, not to the console
    printed = (
        f"it printed came from {what}, not from the kit: see {log}"
        if log
        else f"printed above came from {what}, not from the kit"
    )
    return ModelExit(
        f"{spec}: importing {what} called {_exit_code(exc)}{where}, so the model was never loaded and the run "
        f"stopped with no verdict (any usage or error message {printed}). "
        "A module under audit must only define the function when imported: put the code that runs it as a script "
        'under if __name__ == "__main__":'
    )


@contextmanager
def _kept_cwd(who: str, origin: Callable[[], str | None]) -> Iterator[None]:
    """Import user code, then change the working directory back if it changed, with a warning at ``origin()``.

    The console's streams and the warnings filters are put back too (rt14c F16): a module that swaps
    ``sys.stdout`` or calls ``warnings.simplefilter("ignore")`` at import would hide the run's verdicts
    and its inferred-vocabulary warning.
    """
    import warnings

    before = _cwd()
    streams = (sys.stdout, sys.stderr)
    filters = list(warnings.filters)
    try:
        yield
    finally:
        moved = _moved_back(before)
        changed = []
        if (sys.stdout, sys.stderr) != streams:
            sys.stdout, sys.stderr = streams
            changed.append("sys.stdout or sys.stderr")
        if warnings.filters != filters:
            warnings.filters[:] = filters  # type: ignore[index]  # a list at run time; typeshed says Sequence
            getattr(warnings, "_filters_mutated", lambda: None)()  # the cache of decisions made under them
            changed.append("the warnings filters")
        if changed:
            print(
                printable(
                    f"conformance: {who} replaced {' and '.join(changed)}; the kit put them back, so that the run's "
                    "verdicts and warnings are shown"
                ),
                file=sys.stderr,
            )
        if moved is not None:
            _warn_moved(who, moved, before or "", (origin() or who, 1))


def _moved_back(before: str | None) -> str | None:
    """Where user code left the working directory, changed back to ``before``; None when it stayed.

    The reports, the manifest's relative paths, the cache and the user's own tests are relative to
    the folder the run started in; a model that ``os.chdir()``s (a library finding its weights) would
    otherwise send the reports to another folder while the console names the usual one.
    """
    after = _cwd()
    if before is None or after == before:
        return None
    os.chdir(before)
    return after or "a deleted folder"


def _warn_moved(who: str, where: str, back: str, at: tuple[str, int]) -> None:
    """Warn that ``who`` moved the working directory, pointing at ``at`` (the user's file and line)."""
    message = printable(
        f"conformance: {who} changed the working directory to {where}; the kit changed it back to {back} (the "
        "reports and every relative path of the run are there). Open files by absolute path in the model instead "
        "of calling os.chdir()"
    )
    warnings.warn_explicit(message, WorkingDirectoryWarning, at[0], at[1])


def _origin(name: str) -> str | None:
    """The file of module ``name`` (which imported, or tried to), or None when it cannot be told."""
    import importlib.util

    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None):
        return str(module.__file__)
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return found.origin if found is not None and found.origin not in (None, "built-in", "frozen") else None


def _import_name(name: str, spec: str) -> ModuleType:
    import importlib

    def attempt() -> ModuleType | None:
        """The module, or None when it is not on sys.path (as opposed to failing inside)."""
        try:
            with (
                _own_argv(name),
                _kept_cwd(f"{spec}: importing {name}", lambda: _origin(name)),
                _read_as_regular_files(name, spec),
                model_code(),  # what it prints goes to the report folder, not among the kit's lines
            ):
                return importlib.import_module(name)
        except AdapterError:
            raise
        except ModuleNotFoundError as exc:
            if exc.name is not None and (exc.name == name or name.startswith(exc.name + ".")):
                return None
            raise _import_failure(exc, name, spec) from None
        except SystemExit as exc:
            raise _import_exit(exc, name, spec, _origin(name)) from None
        except Exception as exc:
            raise _import_failure(exc, name, spec) from None

    module = attempt()
    # Not on sys.path: look in the working directory, as `python -m` would (the project root of `conformance run`).
    here = str(Path.cwd())
    if module is None and here not in sys.path:
        sys.path.append(here)
        importlib.invalidate_caches()
        module = attempt()
    if module is not None:
        return module
    beside = Path(here) / f"{name.replace('.', '/')}.py"
    if os.path.lexists(beside):  # there, but the import system passes over what is not a regular file
        try:
            regular_size(beside, limit=MAX_MODULE_BYTES)
        except OSError as exc:
            raise _module_problem(spec, beside, exc) from None
    raise AdapterError(
        f"{spec}: no module named {name!r} on sys.path or in the working directory {here}; run from the folder that "
        f"holds {name.replace('.', '/')}.py, give the file (python:path/to/{name.rsplit('.', 1)[-1]}.py:FUNCTION), "
        "or install the package that holds it"
    )


# The largest module file the kit imports (16 MiB): over any hand-written or generated model module, and a bound
# on what a path after python: can make the kit read (the import system reads a file whole, and waits on a pipe).
MAX_MODULE_BYTES = 16 * 2**20


def _module_problem(spec: str, path: Path, exc: OSError) -> AdapterError:
    """The module's file cannot be read (a pipe, a device, a folder, too large): named, with the way out."""
    return AdapterError(
        f"{spec}: the module file {path} {read_problem(exc, 'a module')}; give the path of the model's .py file"
    )


@contextmanager
def _read_as_regular_files(name: str, spec: str) -> Iterator[None]:
    """While ``name`` is imported, it and its parent packages are checked, then read through the kit's reader.

    Python's import system passes over a module file that is a pipe or a device, but not over its
    bytecode cache (``__pycache__/NAME.cpython-311.pyc``), which it opened with a plain ``open``: a pipe
    there hung ``python:MODULE:FUNCTION`` for ever (red team 15c). So the modules the name names are found
    as usual, by the path finder, and then each file they will be read from (the source, the cache, an
    extension module) is checked (:func:`_check_found`), and a source or bytecode module is read through
    :func:`~conformance._files.read_regular`, which never waits on a pipe, also for a file swapped since.
    What those modules import in turn is theirs, and imported as Python imports it.
    """
    from importlib.machinery import PathFinder

    parts = name.split(".")
    names = {".".join(parts[: i + 1]) for i in range(len(parts))}

    class RegularFilesFinder:
        @staticmethod
        def find_spec(fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> Any:
            if fullname not in names:
                return None
            found = PathFinder.find_spec(fullname, path, target)
            if found is not None:
                _check_found(found, spec)
                regular = _regular_loaders().get(type(found.loader))
                if regular is not None and found.origin:
                    found.loader = regular(fullname, found.origin)
            return found

    finders = sys.meta_path
    # Just before the path finder: the built-in and frozen modules' finders come first, as they always do.
    where = next((i for i, f in enumerate(finders) if f is PathFinder), len(finders))
    finders.insert(where, RegularFilesFinder)  # a finder class, as PathFinder is
    try:
        yield
    finally:
        if RegularFilesFinder in finders:
            finders.remove(RegularFilesFinder)


def _check_found(found: Any, spec: str) -> None:
    """Refuse a module whose file or bytecode cache is not a regular file, or over the bound, naming it.

    ``found`` is the import system's spec of the module; an extension module's file (a shared library,
    loaded by the system) is checked to be a regular file, of any size.
    """
    from importlib.machinery import ExtensionFileLoader

    if not (found.has_location and found.origin):
        return  # a namespace package: no file
    extension = isinstance(found.loader, ExtensionFileLoader)
    try:
        regular_size(found.origin, limit=None if extension else MAX_MODULE_BYTES)
    except OSError as exc:
        raise _module_problem(spec, Path(found.origin), exc) from None
    if not extension:
        _check_cache(found.cached, found.origin, spec)


def _check_cache(cached: str | None, origin: str, spec: str) -> None:
    """Refuse a module's bytecode cache that is a pipe, a device or over the bound, naming it and the way out."""
    if not cached or cached == origin:
        return
    try:
        regular_size(cached, limit=MAX_MODULE_BYTES)
    except FileNotFoundError:
        return  # none yet: Python writes it
    except OSError as exc:
        raise AdapterError(
            f"{spec}: the bytecode cache {cached} of the module {origin} {read_problem(exc, 'a module')}; delete it "
            "(Python writes it again at the next import)"
        ) from None


def _regular_loaders() -> dict[type[Any], type[Any]]:
    """The import system's file loaders, and each one's kit's counterpart (see :func:`_regular_loader`)."""
    from importlib.machinery import SourceFileLoader, SourcelessFileLoader

    class RegularSourcelessLoader(SourcelessFileLoader):
        def get_data(self, path: str) -> bytes:
            return read_regular(path, limit=MAX_MODULE_BYTES)

    return {SourceFileLoader: _regular_loader(), SourcelessFileLoader: RegularSourcelessLoader}


def _regular_loader() -> type[Any]:
    """A source loader reading the module (and its bytecode cache) as regular files only, within the bound.

    The file was checked before the import; this keeps a file swapped for a pipe or a device since from
    blocking the import or being read without end (the check and the read are one ``open`` here).
    """
    from importlib.machinery import SourceFileLoader

    class RegularSourceLoader(SourceFileLoader):
        def get_data(self, path: str) -> bytes:
            return read_regular(path, limit=MAX_MODULE_BYTES)

    return RegularSourceLoader


def _import_file(target: str, spec: str) -> ModuleType:
    import importlib.util

    path = Path(target).expanduser()
    given = path if path.is_absolute() else Path.cwd() / path
    resolved = given.resolve()
    try:
        regular_size(given, limit=MAX_MODULE_BYTES)  # never a pipe (the import would wait) or a device
    except FileNotFoundError:
        # Only a relative path was read against the working directory (rt14d F8: an absolute one was said to be).
        relative = (
            ""
            if path.is_absolute()
            else f" (a relative path after python: is taken relative to the working directory {Path.cwd()})"
        )
        raise AdapterError(f"{spec}: no file {resolved}{relative}") from None
    except OSError as exc:
        raise _module_problem(spec, given, exc) from None
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    # A private name: a file called code.py or test.py must not shadow (or be shadowed by) the standard library's.
    stem = re.sub(r"\W", "_", resolved.stem)
    name = f"_conformance_python_{stem}_{digest}"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded  # imported once per process: a model is loaded once, whatever builds the analyzer again
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.append(folder)  # its sibling modules import as when the file runs as a script
    module_spec = importlib.util.spec_from_file_location(name, resolved, loader=_regular_loader()(name, str(resolved)))
    if module_spec is None or module_spec.loader is None:
        raise AdapterError(f"{spec}: {resolved} cannot be loaded as a Python module; give a .py file")
    _check_cache(module_spec.cached, str(resolved), spec)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        with (
            _own_argv(str(resolved)),
            _kept_cwd(f"{spec}: importing {resolved}", lambda: str(resolved)),
            model_code(),  # what it prints goes to the report folder, not among the kit's lines
        ):
            module_spec.loader.exec_module(module)
    except SystemExit as exc:
        del sys.modules[name]
        raise _import_exit(exc, str(resolved), spec, str(resolved)) from None
    except (NotRegularFile, FileTooLarge) as exc:
        del sys.modules[name]
        if Path(exc.path) != resolved:  # the module's own code read a special file: its failure
            raise _import_failure(exc, str(resolved), spec) from None
        raise _module_problem(spec, resolved, exc) from None
    except Exception as exc:
        del sys.modules[name]
        raise _import_failure(exc, str(resolved), spec) from None
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _attribute(module: ModuleType, dotted: str, spec: str) -> object:
    obj: object = module
    for part in dotted.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            defined = sorted(
                n for n, v in vars(module).items() if callable(v) and not n.startswith("_") and not isinstance(v, type)
            )
            listed = shown_list(defined, most=10, quoted=False) or "none"
            label, file = _module_label(module), getattr(module, "__file__", None)
            # The file too, for a name that found another module than the user's (an installed one).
            where = f"{label} ({file})" if file and label != file else label
            raise AdapterError(
                f"{spec}: {where} has no {dotted!r}; its functions: {listed}. Name one after the last colon"
            ) from None
    return obj


def _module_label(module: ModuleType) -> str:
    file = getattr(module, "__file__", None)
    return str(file) if module.__name__.startswith("_conformance_python_") and file else module.__name__


def _split(argument: str) -> tuple[str, str]:
    target, sep, function = argument.rpartition(":")
    if not sep or not target or not function:
        raise AdapterError(
            f"python:{argument}: name the module and the function: {_USAGE}, e.g. python:mymodel:analyze"
        )
    if not all(part.isidentifier() for part in function.split(".")):
        raise AdapterError(f"python:{argument}: {function!r} is not a function name; {_USAGE}")
    if ":" in target and not _is_windows_drive(target) and not os.path.lexists(target):
        # python:mymodel.py::analyze read "mymodel.py:" as a module and said "no module named 'mymodel.py:'" (rt14d F8).
        module = target.strip(":").replace(":", ".")  # pkg:model:analyze meant pkg.model
        raise AdapterError(
            f"python:{argument}: one colon goes between the module (or file) and the function, and a module "
            f"name holds none: the form is {_USAGE}, here python:{module}:{function}"
        )
    if not _is_file(target) and not all(part.isidentifier() for part in target.split(".")):
        # python: mymodel:analyze said "no module named ' mymodel' ... the folder that holds  mymodel.py".
        meant = f", here python:{target.strip()}:{function}" if target.strip() != target else ""
        raise AdapterError(
            f"python:{argument}: {shown(target)} is not a module name (a dotted name such as pkg.model) nor a "
            f"path to a .py file; the form is {_USAGE}{meant}"
        )
    return target, function


def _is_windows_drive(target: str) -> bool:
    """Whether ``target`` starts with a drive (``C:\\models\\m.py``), the one colon a path may hold."""
    return len(target) > 2 and target[0].isalpha() and target[1] == ":" and target[2] in "\\/" and ":" not in target[2:]


def _is_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def argument_file(argument: str) -> ArgumentFile | None:
    """The file ``python:FILE.py:FUNCTION`` names (a ``.py`` file, or any path with a slash), for the registry:
    ``python:module:function`` and ``python:@name`` name none. The one rule: the adapter loads by it too.

    >>> argument_file("models/mine.py:analyze")
    ArgumentFile(file='models/mine.py', rest=':analyze', certain=True)
    >>> argument_file("mymodel:analyze") is None
    True
    """
    if argument.startswith("@"):
        return None
    target, colon, function = argument.rpartition(":")
    return ArgumentFile(target, colon + function) if colon and target and _is_file(target) else None


def without_prefix(spec: str) -> str:
    """For an analyzer spec naming no adapter: how to name it if it is a model's ``MODULE:FUNCTION``, else ``""``.

    ``--analyzer mymodel:analyze`` said only "no adapter named 'mymodel'" (rt14d F8): the ``python:``
    prefix is what it lacked. A suggestion, not a guess acted on: the spec is never run as a model.
    """
    target, sep, function = spec.rpartition(":")
    if not sep or not target or not all(part.isidentifier() for part in function.split(".")):
        return ""
    if not (_is_file(target) or all(part.isidentifier() for part in target.split("."))):
        return ""
    kind = "file" if _is_file(target) else "module"
    return f"; if {target} is your model's {kind}, name it with the python adapter: --analyzer python:{spec}"
