"""One rule for what is stale: a derived result is rebuilt when anything it was built from
changed, its inputs or the code that builds it, and left alone otherwise.

Every derived asset (lineage, quality results, reconciliation, findings, retention reports,
exports) describes a build as a `Recipe`: the code that builds it (`code_version`, a hash of
the modules it runs) and the inputs it reads (a signature per upstream table or table day,
the policy's sha256, reference data). The fingerprint of a recipe for one partition is
recorded in `build_log` when that partition is written; a later run rebuilds exactly the
partitions whose fingerprint differs, so a fix to the report, export or lineage code reaches
an unchanged lake on the next run, and a rerun with nothing changed writes nothing.

Reference tables (prompt history, price and model catalogs) follow the same rule the cheap
way: they are recomputed every run and written only when their rows differ
(`Lake.replace_all_if_changed`), so their signature, which downstream fingerprints read,
changes only with their content. Exports record their fingerprint in their own manifest.

An audit figure built by old code from old data is the defect this prevents: before, the
retention report and the export were reused on a constant generator string, and lineage
ignored code changes entirely.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import sys
import sysconfig
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version as package_version
from pathlib import Path

import pyarrow as pa

from audit_pipeline.lake import Lake, in_predicate

BUILD_LOG = "build_log"
PACKAGE = "audit_pipeline"
_LIBRARY_PATHS = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")})


def _is_ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def _files_of(modules: Iterable[str]) -> list[Path]:
    """Module files found without importing them."""
    return [Path(importlib.util.find_spec(name).origin) for name in modules]


def _modules(roots: Iterable[str]) -> list[types.ModuleType]:
    """The project's modules the roots run: the roots and, transitively, every module of
    this package they import or take a function or class from."""
    seen: dict[str, types.ModuleType] = {}
    pending = [importlib.import_module(name) for name in roots]
    while pending:
        module = pending.pop()
        if module.__name__ in seen:
            continue
        seen[module.__name__] = module
        for value in vars(module).values():
            owner = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
            if isinstance(owner, str) and _is_ours(owner) and owner not in seen and owner in sys.modules:
                pending.append(sys.modules[owner])
    return [seen[name] for name in sorted(seen)]


def _foreign_code(module: types.ModuleType) -> list[str]:
    """The source of functions and classes bound in `module` that come from outside this
    package and outside any installed library: code put there at run time (a patch), which
    the module's file does not show."""
    sources = []
    for name, value in sorted(vars(module).items()):
        if not isinstance(value, types.FunctionType | type) or _is_ours(getattr(value, "__module__", "") or ""):
            continue
        try:
            path = inspect.getsourcefile(value) or ""
        except TypeError:  # a built-in
            continue
        if path and not path.startswith(_LIBRARY_PATHS):
            sources.append(f"{name}={inspect.getsource(value)}")
    return sources


def code_version(*roots: str, lazy: tuple[str, ...] = (), packages: tuple[str, ...] = ()) -> str:
    """A hash of the code that builds a result: the files of every project module the
    `roots` run (with the `.sql` files beside them), code patched into those modules, the
    files of `lazy` modules (imported only when there is work: hashed, never imported, so
    checking freshness stays cheap), and the versions of the `packages` whose behaviour the
    result depends on."""
    digest = hashlib.sha256()
    for path in _files_of(lazy):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for module in _modules(roots):
        path = Path(module.__file__ or "")
        digest.update(module.__name__.encode() + b"\0" + path.read_bytes())
        for sql in sorted(path.parent.glob("sql/*.sql")) if path.name != "__init__.py" else ():
            digest.update(sql.name.encode() + b"\0" + sql.read_bytes())
        for source in _foreign_code(module):
            digest.update(source.encode())
    for package in packages:
        digest.update(f"{package}=={package_version(package)}".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Recipe:
    """What one derived asset's partitions are built from."""

    asset: str
    code: str
    """`code_version` of the modules that build it."""
    inputs: dict[str, str] = field(default_factory=dict)
    """Inputs every partition shares: whole-table signatures, the policy's sha256, …"""

    def fingerprint(self, own_inputs: dict[str, str] | None = None) -> str:
        """The fingerprint of one partition, given the inputs only it reads (its day's rows)."""
        document = {"code": self.code, "inputs": {**self.inputs, **(own_inputs or {})}}
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def recorded(lake: Lake, asset: str, partitions: Iterable[str]) -> dict[str, str]:
    """partition → the fingerprint it was last built with."""
    partitions = list(partitions)
    if not partitions or not lake.exists(BUILD_LOG):
        return {}
    rows = lake.read(BUILD_LOG, where=_where(asset, partitions), columns=["partition", "fingerprint"])
    return {r["partition"]: r["fingerprint"] for r in rows.to_pylist()}


def stale(lake: Lake, asset: str, fingerprints: dict[str, str]) -> list[str]:
    """The partitions whose fingerprint differs from the one recorded (or none was), in order."""
    done = recorded(lake, asset, fingerprints)
    return sorted(p for p, fingerprint in fingerprints.items() if done.get(p) != fingerprint)


def record(lake: Lake, asset: str, fingerprints: dict[str, str], run_id: str, built_at: datetime) -> None:
    """Note that these partitions were just built with these fingerprints."""
    if not fingerprints:
        return
    rows = pa.Table.from_pylist([
        {"asset": asset, "partition": p, "fingerprint": f, "built_at": built_at, "run_id": run_id}
        for p, f in sorted(fingerprints.items())])
    lake.replace_where(BUILD_LOG, rows, _where(asset, list(fingerprints)))


def rebuild_days_if_stale(lake: Lake, table: str, column: str, fingerprints: dict[str, str],
                          build: Callable[[], pa.Table], run_id: str, built_at: datetime) -> tuple[pa.Table, bool]:
    """For a daily result computed over the run's whole range at once (a baseline or an alias
    resolution reads every day of it): when any day is stale, `build` the range, replace its
    days and record them; otherwise read the stored rows. Returns (rows, rebuilt)."""
    first, last = min(fingerprints), max(fingerprints)
    where = f"{column} >= '{first}' AND {column} <= '{last}'"
    if not stale(lake, table, fingerprints):
        return lake.read(table, where=where), False
    rows = build()
    lake.replace_where(table, rows, where)
    record(lake, table, fingerprints, run_id, built_at)
    return rows, True


def _where(asset: str, partitions: list[str]) -> str:
    return f"{in_predicate('asset', [asset])} AND {in_predicate('partition', partitions)}"
