"""Extract the fact tables shipped in ``guardrail/lab/tasks/_data/`` from two registry packages.

Run once (the output is committed; nothing reads the packages at run time)::

    pip download --no-deps -d /tmp/src periodictable==2.1.0 countryinfo==1.0.1
    (cd /tmp/src && for w in *.whl; do unzip -qo "$w" -d pkgs; done)
    PYTHONPATH=/tmp/src/pkgs python datasets/sources/extract.py

* ``periodictable`` 2.1.0 (public domain): element number, symbol, name.
* ``countryinfo`` 1.0.1 (MIT licence, copyright 2018 Porimol Chandro): country name, capital,
  continent (region; the Americas split into North and South America by sub-region),
  alternative spellings. Only sovereign-looking rows with a capital and a region are kept.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "guardrail" / "tasks" / "_data"


def _elements() -> list[dict[str, object]]:
    import periodictable

    rows = []
    for element in periodictable.elements:
        if element.number == 0:  # the neutron
            continue
        rows.append(
            {"number": element.number, "symbol": element.symbol, "name": element.name.title()}
        )
    return rows


def _continent(row: dict[str, object]) -> str | None:
    region = row.get("region") or ""
    if region == "Americas":
        south = row.get("intermediateregion") == "South America"
        return "South America" if south else "North America"
    return {"Africa": "Africa", "Europe": "Europe", "Asia": "Asia", "Oceania": "Oceania"}.get(
        str(region)
    )


def _countries() -> list[dict[str, object]]:
    import countryinfo

    folder = Path(countryinfo.__file__).parent / "data"
    rows = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        capital, continent = data.get("capital"), _continent(data)
        if not capital or not continent or not data.get("ISO"):
            continue
        aliases = [a for a in data.get("altSpellings", []) if len(a) > 3]
        rows.append(
            {
                "name": data["name"],
                "capital": capital,
                "continent": continent,
                "aliases": aliases,
            }
        )
    return rows


def main() -> None:
    """Write ``elements.json`` and ``countries.json``."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name, rows in (("elements", _elements()), ("countries", _countries())):
        path = OUT / f"{name}.json"
        lines = ",\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
        path.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
        print(f"{path}: {len(rows)} rows")


if __name__ == "__main__":
    main()
