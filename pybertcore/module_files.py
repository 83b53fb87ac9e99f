"""A sentence-transformers folder's module files, as SentenceTransformer, CrossEncoder and SparseEncoder read
them: ``modules.json`` (the module list) and a ``Router``'s ``router_config.json`` (its routes), with the rule
the Router uses to pick a route for a call's ``task``.

A Router (or its old name ``Asym``) holds several routes, each a list of module folders, and picks one per
call as sentence-transformers' Router resolves it for text: ``route_mappings`` on (task, "text"),
(task, None), (None, "text"), (None, None); then a route named after the task; then a route named "text";
then ``default_route``. Which modules a route may hold is the model class's business (``route_of``).

Files are untrusted: a file that is not the JSON it should be raises OSError naming it, a field of the wrong
shape ValueError naming the file and the field, and module paths and ids must stay inside the model folder.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any, Callable, Optional

from pybertcore.untrusted import describe, load_json

ROUTER_TYPES = ("Router", "Asym")  # class names; sentence-transformers 5 and 6 keep them in different packages
ROUTER_TYPE = "sentence_transformers.base.modules.router.Router"


def read_json(path: Path, kind: type = dict) -> Any:
    """A module file's JSON value, which must be a ``kind`` (an object, or modules.json's list)."""
    data = load_json(path, lambda reason: OSError(f"{path} is {reason}"))
    if not isinstance(data, kind):
        raise OSError(f"{path} must hold a JSON {'object' if kind is dict else 'array'}, found {describe(data)}")
    return data


def stays_inside(path: Any) -> bool:
    """Whether ``path`` (from a module file) is a relative path that cannot leave the model folder."""
    return isinstance(path, str) and not os.path.isabs(path) and ".." not in Path(path).parts and "\0" not in path


def module_entries(modules_file: Path) -> list[tuple[str, str]]:
    """modules.json as (type name without its package, path) in ``idx`` order; paths stay in the folder."""
    entries = []
    for position, module in enumerate(read_json(modules_file, list)):
        if not isinstance(module, dict):
            raise ValueError(f"{modules_file}: module {position} is {describe(module)}, expected an object")
        idx, path, kind = module.get("idx", 0), module.get("path", ""), module.get("type", "")
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise ValueError(f"{modules_file}: module {position}: idx: expected an integer, found {describe(idx)}")
        if not stays_inside(path):
            raise ValueError(f"{modules_file}: module {position}: path: expected a folder inside the model folder, "
                             f"found {describe(path)}")
        if not isinstance(kind, str):
            raise ValueError(f"{modules_file}: module {position}: type: expected a string, found {describe(kind)}")
        entries.append((idx, kind.rsplit(".", 1)[-1], path))
    return [(kind, path) for _, kind, path in sorted(entries, key=lambda e: e[0])]


class Routes:
    """A model's routes by name and the rule that picks one for a call's ``task``. Without a Router there is
    one route, named "", which every task takes."""

    def __init__(self, routes: dict, default_route: Optional[str] = None, allow_empty_key: bool = True,
                 route_mappings: Optional[dict] = None, router: bool = False) -> None:
        self.routes, self.router = routes, router
        self.route_mappings = dict(route_mappings or {})
        if allow_empty_key and default_route is None:
            default_route = next(iter(routes))
        self.default_route, self.allow_empty_key = default_route, allow_empty_key

    @property
    def first(self) -> Any:
        return next(iter(self.routes.values()))

    def distinct(self) -> list:
        """Each route once (two names may share one)."""
        return list({id(route): route for route in self.routes.values()}.values())

    def preferred(self, wanted: Callable[[Any], bool]) -> Any:
        """The default route if ``wanted`` takes it, else the first route it takes; None if it takes none."""
        candidates = [self.routes.get(self.default_route)] + list(self.routes.values())
        return next((r for r in candidates if r is not None and wanted(r)), None)

    def resolve(self, task: Optional[str]) -> Any:
        """The route a call with ``task`` takes, for text (sentence-transformers' Router's rule)."""
        if not self.router:
            return self.first
        for key in ((task, "text"), (task, None), (None, "text"), (None, None)):
            if key in self.route_mappings:
                return self.routes[self.route_mappings[key]]
        if task and task in self.routes:
            return self.routes[task]
        if "text" in self.routes:
            return self.routes["text"]
        if task is not None:
            raise ValueError(f"No route found for task type {task!r}. Available routes: {self.describe()}")
        if self.default_route is None:
            raise ValueError(f"Could not determine route for task=None, modality='text'. Available routes: "
                             f"{self.describe()}. Consider specifying the `task` parameter in `model.encode`, or "
                             "setting a default route in the `Router`.")
        return self.routes[self.default_route]

    def describe(self) -> str:
        """The routes a task can take, worded as sentence-transformers' Router words them in its errors."""
        def modality_name(modality: Any) -> str:
            return "+".join(modality) if isinstance(modality, tuple) else modality

        names = [f"task={name!r}" for name in self.routes]
        for task, modality in self.route_mappings:
            if modality is None:
                names.append(f"task={task!r}")
            elif task is None:
                names.append(f"modality={modality_name(modality)!r}")
            else:
                names.append(f"(task={task!r}, modality={modality_name(modality)!r})")
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def save_router(self, folder: Path, save_route: Callable[[Any, str], list[tuple[str, str]]]) -> None:
        """sentence-transformers 6's Router layout in ``folder``: ``save_route(route, name)`` writes a route's
        module folders (``{name}_{i}_{Class}``) and returns their (id, type); a route two names share is written
        once; router_config.json lists them."""
        types, structure, written = {}, {}, {}
        for name, route in self.routes.items():
            if id(route) not in written:
                modules = save_route(route, name)
                types.update(modules)
                written[id(route)] = [module_id for module_id, _ in modules]
            structure[name] = written[id(route)]
        parameters = {"default_route": self.default_route, "allow_empty_key": self.allow_empty_key,
                      "route_mappings": {str(key): value for key, value in self.route_mappings.items()}}
        (folder / "router_config.json").write_text(
            json.dumps({"types": types, "structure": structure, "parameters": parameters}, indent=4) + "\n",
            encoding="utf-8")


def _inside(folder: Path, name: Any, where: str) -> Path:
    if not name or not stays_inside(name):
        raise ValueError(f"{where}: expected a module folder inside the model folder, found {describe(name)}")
    return folder / name


def _route_mappings(value: Any, config_file: Path, routes: dict) -> dict:
    """router_config.json's route_mappings ({"('query', None)": "query", ...}) with tuple keys."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{config_file}: parameters.route_mappings: expected an object, found {describe(value)}")
    mappings = {}
    for key, target in value.items():
        try:
            parsed = ast.literal_eval(key)  # literals only: "(None, 'text')"
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            parsed = None
        if not (isinstance(parsed, tuple) and len(parsed) == 2
                and all(p is None or isinstance(p, str) or (isinstance(p, tuple) and all(isinstance(s, str) for s in p))
                        for p in parsed)):
            raise ValueError(f"{config_file}: parameters.route_mappings: key {describe(key)} is not a "
                             "(task, modality) pair")
        if target not in routes:
            raise ValueError(f"{config_file}: parameters.route_mappings: {key} maps to {describe(target)}, which is "
                             f"not a route ({', '.join(routes)})")
        task, modality = parsed
        mappings[task, tuple(sorted(modality)) if isinstance(modality, tuple) else modality] = target
    return mappings


def load_router(folder: Path, route_of: Callable[[list[tuple[str, Path]], str], Any]) -> Routes:
    """A Router module folder: router_config.json (or an old Asym's config.json) and its module folders.
    ``route_of(modules, where)`` makes one route from its modules ((class name, folder) in order); routes
    that list the same modules share one route."""
    config_file = folder / "router_config.json"
    if not config_file.is_file():
        config_file = folder / "config.json"
    config = read_json(config_file)
    types, structure = config.get("types"), config.get("structure")
    parameters = config.get("parameters", {})
    for field, value in (("types", types), ("structure", structure), ("parameters", parameters)):
        if not isinstance(value, dict) or (field != "parameters" and not value):
            raise ValueError(f"{config_file}: {field}: expected a non-empty object, found {describe(value)}")
    modules = {}
    for module_id, kind in types.items():
        if not isinstance(kind, str):
            raise ValueError(f"{config_file}: types.{module_id}: expected a module type, found {describe(kind)}")
        modules[module_id] = (kind.rsplit(".", 1)[-1], _inside(folder, module_id, f"{config_file}: types"))
    loaded: dict = {}  # the module ids of each route → its route, so routes sharing modules share them
    routes = {}
    for name, ids in structure.items():
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i in modules for i in ids):
            raise ValueError(f"{config_file}: structure.{name}: expected a list of module ids from 'types', found "
                             f"{describe(ids)}")
        if tuple(ids) not in loaded:
            loaded[tuple(ids)] = route_of([modules[i] for i in ids], f"{config_file}: route {name!r}")
        routes[name] = loaded[tuple(ids)]
    default_route = parameters.get("default_route")
    allow_empty_key = parameters.get("allow_empty_key", True)
    if default_route is not None and default_route not in routes:
        raise ValueError(f"{config_file}: parameters.default_route: {describe(default_route)} is not a route "
                         f"({', '.join(routes)})")
    if not isinstance(allow_empty_key, bool):
        raise ValueError(f"{config_file}: parameters.allow_empty_key: expected true or false, found "
                         f"{describe(allow_empty_key)}")
    return Routes(routes, default_route, allow_empty_key, _route_mappings(parameters.get("route_mappings"),
                                                                          config_file, routes), router=True)
