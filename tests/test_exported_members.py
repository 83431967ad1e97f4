"""``promptbench.__all__`` is exactly the public names of the package (as httpx checks its own)."""

from __future__ import annotations

import types

import promptbench


def test_all_is_sorted() -> None:
    assert promptbench.__all__ == sorted(promptbench.__all__)


def test_all_imports_are_exported() -> None:
    # The lazy names are attributes only once looked up; look every one up first.
    for name in promptbench.__all__:
        assert getattr(promptbench, name) is not None
    public = {
        name
        for name, value in vars(promptbench).items()
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(value, types.ModuleType)  # submodules are not exports
    }
    assert set(promptbench.__all__) == public


def test_dir_lists_the_exports() -> None:
    assert set(promptbench.__all__) <= set(dir(promptbench))


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        promptbench.nothing_here  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "nothing_here" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_the_diff_package_exports_its_public_face() -> None:
    import promptbench.diff as diff

    assert diff.__all__ == sorted(diff.__all__)
    for name in diff.__all__:  # lazy, as the top-level names are: looked up first
        assert getattr(diff, name) is not None
    public = {
        name
        for name, value in vars(diff).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(diff.__all__) == public
    assert promptbench.compare is diff.compare
