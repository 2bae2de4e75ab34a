"""The real administrative units, from the maintained ``vietnam-provinces`` data package."""

from __future__ import annotations

from dataclasses import dataclass

NGHE_AN_CODE = 40


@dataclass(frozen=True)
class AdminUnit:
    """A province or a commune/ward after the 2025 reorganisation."""

    code: str
    name: str
    kind: str  # "province" or "commune"
    parent_code: str | None


def province_units(province_code: int = NGHE_AN_CODE) -> list[AdminUnit]:
    """The province and all its communes and wards, province first, communes sorted by name."""
    import vietnam_provinces as vp  # a large data package: imported only when seeding

    province = next(p for p in vp.Province.iter_all() if int(p.code) == province_code)
    province_unit = AdminUnit(
        code=f"p{int(province.code)}", name=province.name, kind="province", parent_code=None
    )
    communes = sorted(
        (
            AdminUnit(code=f"w{int(w.code)}", name=w.name, kind="commune", parent_code=province_unit.code)
            for w in vp.Ward.iter_all()
            if int(w.province_code) == province_code
        ),
        key=lambda unit: unit.name,
    )
    return [province_unit, *communes]
