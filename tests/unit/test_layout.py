"""The house rules, checked so they stay true: flat listeners, short functions,
and a Slack layer that does not reach into the flow."""

from __future__ import annotations

import ast

from tests.harness import ROOT

BOT = ROOT / "bot"


def _tree(path: str) -> ast.Module:
    return ast.parse((BOT / path).read_text())


def test_register_functions_only_wire_listeners() -> None:
    modules = [p for p in BOT.rglob("*.py") if "def register(app" in p.read_text()]
    assert len(modules) >= 7, modules  # every feature with listeners has one
    for path in modules:
        module = str(path.relative_to(BOT))
        register = next(
            node
            for node in _tree(module).body
            if isinstance(node, ast.FunctionDef) and node.name == "register"
        )
        nested = [
            type(node).__name__
            for node in ast.walk(register)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            and node is not register
        ]
        assert nested == [], f"{module}: register() defines {nested}"
        assert all(isinstance(statement, ast.Expr) for statement in register.body), module


def test_no_listener_is_nested() -> None:
    for path in BOT.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("on_"):
                inner = [n for n in ast.walk(node) if isinstance(n, ast.FunctionDef) and n != node]
                assert not inner, f"{path.name}: {node.name} defines {[n.name for n in inner]}"


def test_no_function_is_over_80_lines() -> None:
    # A module may run long when it has one job (a line count is never a reason to split
    # one, least of all with a subclass); a function that long is doing several jobs. The
    # wiring in app.py is the one exception.
    long = {
        f"{path.relative_to(ROOT)}:{node.name}": length
        for path in BOT.rglob("*.py")
        if path.name != "app.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > 80
    }
    assert long == {}


def test_nothing_in_the_repository_reads_the_shared_folder() -> None:
    # The folder beside the repository that a user's clone does not have; spelled in parts
    # so this test, which looks for it, does not contain it.
    outside = "/".join(("..", "shared"))
    beside = " / ".join(("parent", '"shared"'))  # ROOT.parent joined with it, pathlib style
    files = [ROOT / "Makefile", *(ROOT / ".ci").glob("*")]
    for folder in ("bot", "tests", "migrations", "benchmarks", "scripts"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", "") and p.is_file()]
    for path in files:
        text = path.read_text(errors="replace")
        assert outside not in text and beside not in text, path


def test_no_module_imports_another_modules_private_name() -> None:
    crossing = []
    for path in BOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot"):
                crossing += [
                    f"{path.relative_to(ROOT)}: {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    assert crossing == []
