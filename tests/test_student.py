"""Student copies (``make student``): solutions removed, everything else kept, and "Run all" still
runs to the end (the checkers report "not attempted" instead of failing)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import execute  # noqa: E402
import stamp  # noqa: E402
import student  # noqa: E402


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", stamp.notebook_paths(), ids=lambda p: p.stem)
def test_student_copy_drops_solutions_and_keeps_the_rest(path):
    teacher = nbformat.read(path, as_version=4)
    copy = student.without_solutions(nbformat.read(path, as_version=4))
    solutions = [c for c in teacher.cells if "solution" in _tags(c)]
    assert solutions and not [c for c in copy.cells if "solution" in _tags(c)]
    assert [c.source for c in copy.cells] == [c.source for c in teacher.cells if "solution" not in _tags(c)]
    assert any("check" in c.source for c in copy.cells if c.cell_type == "code")


def test_a_student_copy_runs_top_to_bottom(tmp_path):
    path = ROOT / "notebooks" / "1_foundations" / "04_learning_to_rank.ipynb"
    copy = path.parent / f".student-{path.name}"  # beside the original: same relative paths
    nbformat.write(student.without_solutions(nbformat.read(path, as_version=4)), copy)
    try:
        executed = execute.execute(copy)
    finally:
        copy.unlink()
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "Not attempted" in printed


# --- no answer given away (issue 16) -----------------------------------------------------------
# The student copy keeps every cell but the solutions; no kept cell may hold an exercise's answer:
# a definition of the function a solution passes to its checker (unless it is still the stub), the
# answer's final statement (what the function returns, or the value given to the checker), or most
# of the answer's statements, whatever its variables are called. Statements count from _KEY_SIZE
# AST nodes, so that shared one-liners (a label mask, a normalisation) do not.

_KEY_SIZE = 12
_MOST = 0.6


def _parse(source: str) -> ast.Module:
    """A code cell's source as Python, IPython magics and shell lines left out."""
    return ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))


def _canonical(node: ast.AST) -> str:
    """``node``'s AST with its variables renamed by order of appearance (``x`` and ``seen`` alike)."""
    names: dict[str, str] = {}
    copy = ast.parse(ast.unparse(node)).body[0]
    for child in ast.walk(copy):
        if isinstance(child, ast.Name):
            child.id = names.setdefault(child.id, f"v{len(names)}")
    return ast.dump(copy, annotate_fields=False)


def _statements(tree: ast.AST) -> dict[str, ast.AST]:
    """Canonical form -> node of the assignments and returns in ``tree`` of at least _KEY_SIZE nodes."""
    return {_canonical(node): node for node in ast.walk(tree)
            if isinstance(node, ast.Assign | ast.AugAssign | ast.Return) and len(list(ast.walk(node))) >= _KEY_SIZE}


def _is_stub(function: ast.FunctionDef) -> bool:
    """True when the function's body ends in ``...`` or ``return ...`` (the notebook's stub)."""
    last = function.body[-1]
    value = last.value if isinstance(last, ast.Expr | ast.Return) else None
    return isinstance(value, ast.Constant) and value.value is Ellipsis


def _checked_names(tree: ast.Module) -> set[str]:
    """Names passed first to an ``ex.check_...`` call: the answers."""
    return {call.args[0].id for call in ast.walk(tree)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr.startswith("check_") and call.args and isinstance(call.args[0], ast.Name)}


def _answers(nb) -> list[tuple[str, bool, set[str], set[str]]]:
    """Each solution's answer: (name, is a function, canonical final statements, all its statements)."""
    answers = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "solution" not in _tags(cell):
            continue
        tree = _parse(cell.source)
        names = _checked_names(tree)
        for statement in tree.body:
            if isinstance(statement, ast.FunctionDef) and statement.name in names:
                finals = {_canonical(node) for node in statement.body if isinstance(node, ast.Return)}
                answers.append((statement.name, True, finals & set(_statements(statement)), set(_statements(statement))))
            elif isinstance(statement, ast.Assign) and {getattr(t, "id", None) for t in statement.targets} & names:
                whole = set(_statements(statement))
                answers.append((ast.unparse(statement.targets[0]), False, whole, whole))
    return answers


def _cell_giveaways(tree: ast.Module, answers: list) -> list[str]:
    """What of ``answers`` the kept cell ``tree`` holds."""
    found = [f"defines {node.name}()" for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
             and not _is_stub(node) and node.name in {name for name, is_function, *_ in answers if is_function}]
    statements = _statements(tree)
    for name, _, finals, keys in answers:
        shared = keys & set(statements)
        if finals & shared or (len(shared) >= 2 and len(shared) >= _MOST * len(keys)):
            found += [f"{name}'s answer: {ast.unparse(statements[key])[:100]}" for key in sorted(shared)]
    return found


def giveaways(path: Path) -> list[str]:
    """What the student copy of ``path`` keeps of its exercises' answers (empty when nothing)."""
    nb = nbformat.read(path, as_version=4)
    answers = _answers(nb)
    return [f"cell {index} {finding}" for index, cell in enumerate(student.without_solutions(nb).cells)
            if cell.cell_type == "code" for finding in _cell_giveaways(_parse(cell.source), answers)]


@pytest.mark.parametrize("path", stamp.notebook_paths(), ids=lambda p: p.stem)
def test_a_student_copy_gives_no_answer_away(path):
    assert giveaways(path) == []


def test_the_scan_finds_an_answer_under_another_name(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def ratio(a, b):\n    return 0.0 if a + b == 0 else 2 * a * b / (a + b)\n"),
        nbformat.v4.new_code_cell("def harmonic_mean(seen, unseen):\n    ...\n\n\nex.check_harmonic_mean(harmonic_mean)"),
        nbformat.v4.new_code_cell("def harmonic_mean(seen, unseen):\n    return 0.0 if seen + unseen == 0 else "
                                  "2 * seen * unseen / (seen + unseen)\n\n\nex.check_harmonic_mean(harmonic_mean)",
                                  metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("def harmonic_mean(s, u):\n    return (s + u) / 2\n"),
    ])
    path = tmp_path / "example.ipynb"
    nbformat.write(nb, path)
    assert giveaways(path) == ["cell 0 harmonic_mean's answer: return 0.0 if a + b == 0 else 2 * a * b / (a + b)",
                               "cell 2 defines harmonic_mean()"]
