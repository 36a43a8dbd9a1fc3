"""Every shipped units directory (linkage/data/units) parses, declares its own
jurisdiction, points only at entries of that jurisdiction's catalog and carries the
seed's names and levels."""

from __future__ import annotations

from importlib import resources

import pytest

from hotline_link.core.errors import ConfigError
from linkage.units import check_against_catalog, load_jurisdiction_units, parse_units
from tickets.catalog import available_jurisdictions, load_jurisdiction

SHIPPED = sorted(p.name[:-4] for p in resources.files("linkage").joinpath("data", "units").iterdir()
                 if p.name.endswith(".csv"))


def test_a_directory_ships_for_every_jurisdiction_of_the_seeds():
    assert set(SHIPPED) == {"qidong", "siyang", "huangchuan", "wuqia"}
    assert set(SHIPPED) <= set(available_jurisdictions())  # each has its catalog


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_directory_matches_its_catalog(name):
    units = load_jurisdiction_units(name)
    catalog = load_jurisdiction(name)
    assert units.jurisdiction == catalog.jurisdiction == name
    check_against_catalog(units, catalog)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_matter_of_a_new_catalog_has_a_unit_to_propose(name):
    catalog, units = load_jurisdiction(name), load_jurisdiction_units(name)
    unhandled = [e.id for e in catalog.entries if not units.for_entry(e.id)]
    assert unhandled == [] or name == "qidong", unhandled  # qidong.csv predates this rule


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_phone_numbers_are_the_sandbox_placeholders(name):
    text = resources.files("linkage").joinpath("data", "units", f"{name}.csv").read_text(encoding="utf-8")
    assert "PLACEHOLDERS" in text or name == "qidong"
    for unit in load_jurisdiction_units(name).units:
        assert unit.duty_phone.startswith("77") and unit.backup_phone.startswith("78"), unit.id
        assert not unit.webhook_url and not unit.secret_ref


def _levels(name: str) -> dict[str, int]:
    return {u.name: u.level for u in load_jurisdiction_units(name).units}


def test_siyang_level_1_units_are_annex_2s_by_its_names():
    level = _levels("siyang")
    annex_2 = ("县综合指挥调度中心、公安局、应急管理局、交运局、住建局、城管局、卫健局、市场监管局、人社局、"
               "生态环境局、农业农村局、商务局、水利局、气象局、消防救援大队、供电公司、荣浩燃气公司、"
               "深水水务有限公司、电信公司、移动公司、联通公司").split("、")
    assert [n for n, lv in level.items() if lv == 1] == annex_2
    assert level["属地乡镇（街道）"] == 2 and level["相关职能部门"] == 2
    assert 3 not in level.values()  # neither Siyang's nor Shuyang's plan has a third level
    units = load_jurisdiction_units("siyang")
    assert {u.name for u in units.for_entry("SY-110-6")} == {"公安局", "应急管理局", "水利局", "供电公司",
                                                            "荣浩燃气公司"}  # the catalog's own list


def test_huangchuan_members_are_the_specs_23_units_and_the_towns():
    level = _levels("huangchuan")
    assert len(level) == 24 and level["各乡镇人民政府"] == 3
    assert level["县公安局"] == level["县卫生健康委员会"] == level["县城市管理局"] == level["县电力公司"] == 1
    assert level["县市场监管局"] == level["县环保局"] == level["县林茶局"] == level["县水利局"] == 2
    assert level["县盐业局"] == level["县公路局"] == level["县气象局"] == 3
    units = load_jurisdiction_units("huangchuan")
    assert [u.name for u in units.for_entry("HC-110-05")] == ["县城市管理局"]  # gas: 第七条（八）4
    assert [u.name for u in units.for_entry("HC-12345-27")] == ["县传输局（管理移动、电信、网通公司）"]


def test_wuqia_units_are_the_annexs_responsible_units():
    level = _levels("wuqia")
    for name in ("住建局", "人社局", "市场监督管理局", "交通运输局", "民政局", "辖区乡镇人民政府", "卫健委",
                 "烟草专卖局", "司法局", "自然资源局", "供排水公司", "天然气公司", "供热公司"):
        assert name in level
    assert level["公安局"] == level["天然气公司"] == 1 and level["司法局"] == 3
    units = load_jurisdiction_units("wuqia")
    assert [u.name for u in units.for_entry("WQ-12345-06")] == ["市场监督管理局", "生态环境局"]  # 市监局、生态环境局
    assert [u.id for u in units.for_entry("WQ-110-7")] == ["WQ-POLICE"]  # prefix handle


def test_a_directory_pointing_at_another_jurisdictions_entry_is_refused():
    siyang = load_jurisdiction_units("siyang")
    with pytest.raises(ConfigError, match=r"units/siyang\.csv:\d+: handles 'SY-110-\*' matches no entry"):
        check_against_catalog(siyang, load_jurisdiction("wuqia"))
    head = "schema,1\nversion,2026.11.24\njurisdiction,huangchuan\nid,name,level,duty_phone,backup_phone,handles\n"
    with pytest.raises(ConfigError, match=r"t\.csv:5: handles 'WQ-12345-01': no such entry"):
        check_against_catalog(parse_units(head + "U1,县住建局,3,77214,78214,WQ-12345-01\n", "t.csv"),
                              load_jurisdiction("huangchuan"))
