"""The closed loop's news a supervisor acts on at once reach the page's alerts in their own
kinds: a unit's refusal (dispatch anew), a unit asking for the police (联动110), a major
ticket's leadership told (重大事件上报). A refusal and a leadership notice each come with a
generic ``linkage.supervisor_alert`` saying the same; that one is not listed twice, and
nothing else is swallowed with it."""

from __future__ import annotations

from hotline_link.core.events import (
    LinkageLeadershipNotified,
    LinkagePoliceRequested,
    LinkageRefused,
    LinkageSupervisorAlert,
    PushDead,
)
from supervisor.figures import Dashboard
from supervisor.service import _WATCHED

T0 = 1_800_000_000.0
TICKET = "12345-20261124-000017"


def board() -> Dashboard:
    return Dashboard(("12345", "110"), {"1001": "12345"})


def listed(d: Dashboard, at: float = T0 + 10) -> list[tuple[str, str, str]]:
    return [(a["kind"], a["site"], a["detail"]) for a in d.snapshot(at)["alerts"]]


def test_each_new_kind_is_listed_with_its_facts():
    d = board()
    d.apply(LinkageRefused(TICKET, "QD-WATER", "12345", "不属于供水管网"), T0)
    d.apply(LinkageRefused(TICKET, "QD-GAS", "12345", "非本单位辖区", role="assisting"), T0 + 1)
    d.apply(LinkagePoliceRequested(TICKET, "QD-WATER", "12345", "有人持刀"), T0 + 2)
    d.apply(LinkageLeadershipNotified(TICKET, "12345", "QD-GAS", ["市政府总值班室", "应急管理局"]), T0 + 3)
    assert listed(d) == [
        ("linkage.refused", "12345", f"{TICKET} QD-WATER 不属于供水管网"),
        ("linkage.refused", "12345", f"{TICKET} QD-GAS assisting 非本单位辖区"),
        ("linkage.police_requested", "12345", f"{TICKET} QD-WATER 有人持刀"),
        ("linkage.leadership_notified", "12345", f"{TICKET} QD-GAS 市政府总值班室、应急管理局")]
    assert {LinkageRefused, LinkagePoliceRequested, LinkageLeadershipNotified} <= _WATCHED  # they wake the page


def test_the_generic_alert_after_a_refusal_or_a_leadership_notice_is_not_listed_twice():
    d = board()
    d.apply(LinkageRefused(TICKET, "QD-WATER", "12345", "不属于供水管网"), T0)
    d.apply(LinkageSupervisorAlert(TICKET, "QD-WATER", "12345",
                                   "the lead unit refused the case (不属于供水管网): dispatch it anew"), T0)
    d.apply(LinkageLeadershipNotified(TICKET, "12345", "QD-GAS", ["市政府总值班室"]), T0 + 1)
    d.apply(LinkageSupervisorAlert(TICKET, "QD-GAS", "12345",
                                   "major ticket dispatched: leadership told (市政府总值班室)"), T0 + 1)
    assert [kind for kind, _, _ in listed(d)] == ["linkage.refused", "linkage.leadership_notified"]


def test_other_supervisor_alerts_are_still_listed():
    d = board()
    d.apply(LinkageLeadershipNotified(TICKET, "12345", "QD-GAS", ["市政府总值班室"]), T0)
    d.apply(LinkageSupervisorAlert(TICKET, "QD-GAS", "12345", "major ticket dispatched"), T0)  # its own: folded
    d.apply(LinkageSupervisorAlert(TICKET, "QD-GAS", "12345", "phones did not accept"), T0 + 1)  # a second one
    d.apply(LinkageRefused(TICKET, "QD-WATER", "12345", "不属于"), T0 + 2)
    d.apply(LinkageSupervisorAlert(TICKET, "QD-TOWN", "12345", "another unit"), T0 + 2)  # not the refusing unit
    d.apply(LinkageRefused("12345-20261124-000018", "QD-WATER", "12345", "不属于"), T0 + 3)
    d.apply(LinkageSupervisorAlert("12345-20261124-000018", "QD-WATER", "12345", "late"), T0 + 9)  # too late
    d.apply(LinkageRefused("12345-20261124-000019", "QD-WATER", "12345", "不属于"), T0 + 10)
    d.apply(PushDead("push-1", 410, "refused"), T0 + 10)  # something in between
    d.apply(LinkageSupervisorAlert("12345-20261124-000019", "QD-WATER", "12345", "after a push"), T0 + 10)
    d.apply(LinkagePoliceRequested(TICKET, "QD-WATER", "12345", ""), T0 + 11)  # has no generic twin
    d.apply(LinkageSupervisorAlert(TICKET, "QD-WATER", "12345", "line locked"), T0 + 11)
    assert [(kind, detail.split()[-1]) for kind, _, detail in listed(d, T0 + 20)] == [
        ("linkage.leadership_notified", "市政府总值班室"), ("linkage.supervisor_alert", "accept"),
        ("linkage.refused", "不属于"), ("linkage.supervisor_alert", "unit"),
        ("linkage.refused", "不属于"), ("linkage.supervisor_alert", "late"),
        ("linkage.refused", "不属于"), ("push.dead", "refused"), ("linkage.supervisor_alert", "push"),
        ("linkage.police_requested", "QD-WATER"), ("linkage.supervisor_alert", "locked")]


def test_a_bad_producer_s_contacts_do_not_break_the_list():
    d = board()
    d.apply(LinkageLeadershipNotified(TICKET, "12345", "QD-GAS", "not a list"), T0)  # type: ignore[arg-type]
    assert listed(d) == [("linkage.leadership_notified", "12345", f"{TICKET} QD-GAS")]
