# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers, validation, difference and rendering of module_utils/lvsha_host/_ipvs.py.

Parsers run on ipvsadm output recorded in the lab (fixtures/recorded/ipvsadm/, ipvsadm 1.31
on Linux 6.1) wherever a recording exists; fixtures/ipvsadm/README.md lists the rest.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host import _ipvs
from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host._ipvs import (
    CommandError,
    IpvsadmRunner,
    IpvsNotLoaded,
    ParseError,
    Table,
    ValidationError,
    canonical_address,
    compute,
    desired_from_params,
    merge_info,
    merge_thresholds,
    parse_daemon,
    parse_list,
    parse_save,
    parse_thresholds,
    parse_timeout,
    plan,
    render_save,
    split_hostport,
    verify,
)
from ansible_collections.lvsha.cluster.tests.unit.plugins.modules.recordings import (
    Recording,
    handwritten,
    recorded_out,
    recording,
)


def recorded(name: str) -> str:
    """stdout of an ipvsadm command recorded in the lab (fixtures/recorded/ipvsadm/NAME.txt)."""
    return recorded_out("ipvsadm", name)


def fixture(name: str) -> str:
    """A hand-written ipvsadm fixture (fixtures/ipvsadm/README.md gives its origin)."""
    return handwritten("ipvsadm", name)


def web(**extra: Any) -> Dict[str, Any]:
    service = {"protocol": "tcp", "address": "192.0.2.100", "port": 80, "scheduler": "wrr",
               "realservers": [{"address": "192.0.2.11"}, {"address": "192.0.2.12", "weight": 2}]}
    service.update(extra)
    return service


# ------------------------------------------------------------------ addresses


def test_canonical_address_folds_ipv6_spellings() -> None:
    assert canonical_address("2001:DB8::1")[0] == canonical_address("2001:db8:0::1")[0] == "2001:db8::1"
    assert canonical_address("192.0.2.1") == ("192.0.2.1", "ipv4")
    assert canonical_address("2001:db8:0:0:1:0:0:1") == ("2001:db8::1:0:0:1", "ipv6")
    with pytest.raises(ValueError):
        canonical_address("192.0.2.256")


@pytest.mark.parametrize("text, expected", [
    ("192.0.2.1:80", ("192.0.2.1", 80)),
    ("[2001:db8::1]:53", ("2001:db8::1", 53)),
    ("192.0.2.1", ("192.0.2.1", None)),
    ("2001:db8::1", ("2001:db8::1", None)),
    ("[2001:db8::1]", ("2001:db8::1", None)),
])
def test_split_hostport(text: str, expected: Tuple[str, Optional[int]]) -> None:
    assert split_hostport(text) == expected


# ------------------------------------------------------------------ ipvsadm -Sn
# The recorded table (tests/lab/record-fixtures ipvs) as ipvsadm -Sn prints it.
RECORDED_KEYS = [
    ("tcp", "192.0.2.100", 80), ("tcp", "192.0.2.100", 443), ("udp", "192.0.2.100", 53),
    ("sctp", "192.0.2.100", 9), ("tcp", "2001:db8::100", 80), ("fwmark", "ipv4", 7), ("fwmark", "ipv6", 8),
]


def rs_tuple(rs: _ipvs.RealServer) -> Tuple[Any, ...]:
    return (rs.address, rs.port, rs.forwarding, rs.weight, rs.u_threshold, rs.l_threshold,
            rs.tun_type, rs.tun_port, rs.tun_checksum)


def test_parse_save_empty() -> None:
    assert recording("ipvsadm", "save_empty") == Recording(out="", err="", rc=0)
    assert len(parse_save(recorded("save_empty"))) == 0


def test_parse_save_recorded_table() -> None:
    services = parse_save(recorded("save_mixed")).services
    assert list(services) == RECORDED_KEYS
    web = services[("tcp", "192.0.2.100", 80)]
    assert (web.family, web.scheduler, web.persistent, web.netmask, web.ops, web.flags) == ("ipv4", "wrr", None, None, False, 0)
    assert [rs_tuple(rs) for rs in web.realservers.values()] == [
        ("192.0.2.21", 80, "dr", 1, 0, 0, None, None, None), ("192.0.2.22", 80, "dr", 3, 0, 0, None, None, None)]
    https = services[("tcp", "192.0.2.100", 443)]
    assert (https.scheduler, https.persistent, https.netmask, https.pe) == ("rr", 300, "255.255.255.0", None)
    # -S never prints -x/-y: the thresholds of 192.0.2.21:443 are 0 until merged from the listing
    assert [rs_tuple(rs) for rs in https.realservers.values()] == [
        ("192.0.2.21", 443, "nat", 2, 0, 0, None, None, None), ("192.0.2.22", 443, "nat", 0, 0, 0, None, None, None)]
    dns = services[("udp", "192.0.2.100", 53)]
    assert (dns.scheduler, dns.ops) == ("wlc", True)
    # ipvsadm 1.31 prints "--tun-type ipip" on every tunnel real server
    assert [rs_tuple(rs) for rs in dns.realservers.values()] == [("192.0.2.22", 53, "tun", 1, 0, 0, "ipip", None, None)]
    sctp = services[("sctp", "192.0.2.100", 9)]
    assert (sctp.scheduler, sctp.flags, sctp.scheduler_flags) == ("mh", 2, ["mh-port"])
    assert [rs_tuple(rs) for rs in sctp.realservers.values()] == [("192.0.2.21", 9, "dr", 5, 0, 0, None, None, None)]
    web6 = services[("tcp", "2001:db8::100", 80)]
    assert (web6.family, web6.scheduler, web6.persistent, web6.netmask) == ("ipv6", "lc", 60, None)
    assert list(web6.realservers) == [("2001:db8::21", 80)]
    fw7 = services[("fwmark", "ipv4", 7)]
    assert (fw7.fwmark, fw7.scheduler, fw7.scheduler_flags) == (7, "sh", ["sh-fallback", "sh-port"])
    assert [rs_tuple(rs) for rs in fw7.realservers.values()] == [("192.0.2.21", 0, "dr", 1, 0, 0, None, None, None)]
    fw8 = services[("fwmark", "ipv6", 8)]
    assert (fw8.fwmark, fw8.family, fw8.scheduler, fw8.realservers) == (8, "ipv6", "rr", {})


def test_parse_save_extra_features() -> None:
    services = parse_save(fixture("save_extra.txt")).services
    assert len(services) == 3
    nat = services[("tcp", "192.0.2.101", 8080)].realservers
    assert (nat[("198.51.100.11", 80)].forwarding, nat[("198.51.100.11", 80)].weight) == ("nat", 3)
    assert nat[("198.51.100.12", 80)].weight == 0
    fw9 = services[("fwmark", "ipv4", 9)]
    ipip, gue = fw9.realservers[("192.0.2.11", 0)], fw9.realservers[("192.0.2.12", 0)]
    assert (ipip.forwarding, ipip.tun_type, ipip.tun_port, ipip.tun_checksum) == ("tun", "ipip", None, None)
    assert (gue.tun_type, gue.tun_port, gue.tun_checksum) == ("gue", 6080, "nocsum")
    fw10 = services[("fwmark", "ipv6", 10)]
    assert (fw10.persistent, fw10.netmask, fw10.scheduler_flags) == (600, "64", ["mh-port"])
    gre = fw10.realservers[("192.0.2.41", 0)]
    assert (gre.tun_type, gre.tun_checksum, gre.weight) == ("gre", "csum", 2)


@pytest.mark.parametrize("text", [
    pytest.param(recorded_out("ipvsadm", "save_empty"), id="recorded-save_empty"),
    pytest.param(recorded_out("ipvsadm", "save_mixed"), id="recorded-save_mixed"),
    pytest.param(handwritten("ipvsadm", "save_web.txt"), id="save_web"),
    pytest.param(handwritten("ipvsadm", "save_extra.txt"), id="save_extra"),
])
def test_render_save_reproduces_ipvsadm_output(text: str) -> None:
    # render_save's canonical order is the order ipvsadm -Sn printed the recorded table in
    assert render_save(parse_save(text)) == text


def test_parse_save_details_from_ipvsadm_source() -> None:
    # not recorded: forms of ipvsadm.c's print_service_entry() and of hand-written rules files
    table = parse_save(
        "-A -f -2147483648 -s rr\n"          # print_service_entry prints the mark with %d
        "-A -f 5 -s sh -b\n"                 # -b with nothing after it (flag-3 on sh)
        "-A -t 192.0.2.9:80 -s rr -p\n"      # -p without a timeout means 300
        "-A -t 192.0.2.8:80 -s rr -p 60 --pe sip\n"
        "-a -t 192.0.2.8:80 -r 192.0.2.11:80 -g -w 1 -x 5 -y 2\n"
        "-a -t 192.0.2.8:80 -r 192.0.2.12 -m -w 1\n"
        "-A -u 192.0.2.7:53 -s rr\n"
        "-a -u 192.0.2.7:53 -r 192.0.2.13:53 -i -w 1\n"  # tunnel without --tun-type (older ipvsadm)
    )
    assert ("fwmark", "ipv4", 2147483648) in table.services
    assert table.services[("fwmark", "ipv4", 5)].flags == 0
    assert table.services[("tcp", "192.0.2.9", 80)].persistent == 300
    svc = table.services[("tcp", "192.0.2.8", 80)]
    assert svc.pe == "sip"
    assert (svc.realservers[("192.0.2.11", 80)].u_threshold, svc.realservers[("192.0.2.11", 80)].l_threshold) == (5, 2)
    assert ("192.0.2.12", 80) in svc.realservers  # port defaults to the service port
    assert "--pe sip" in render_save(table)
    tun = table.services[("udp", "192.0.2.7", 53)].realservers[("192.0.2.13", 53)]
    assert (tun.forwarding, tun.tun_type) == ("tun", None)


@pytest.mark.parametrize("text, fragment", [
    ("-X -t 192.0.2.1:80\n", "expected -A or -a"),
    ("-A -t 192.0.2.1:80 -s rr --bogus\n", "unexpected '--bogus'"),
    ("-a -t 192.0.2.1:80 -r 192.0.2.11:80 -g -w 1\n", "real server of unknown service"),
    ("-A -t www.example.org:http -s rr\n", "use ipvsadm -n"),
    ("-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 192.0.2.11:80 -g -w 70000\n", "weight 70000 is out of range"),
    ("-A -t 192.0.2.1:80 -s rr\n-A -t 192.0.2.1:80 -s wrr\n", "listed twice"),
])
def test_parse_save_errors(text: str, fragment: str) -> None:
    with pytest.raises(ParseError, match=None) as caught:
        parse_save(text)
    assert fragment in str(caught.value)


# ------------------------------------------------------------------ ipvsadm -Ln


def test_parse_list_recorded_table() -> None:
    table = parse_list(recorded("list_mixed"))
    assert table.info == {"version": "1.2.1", "size": 4096}
    assert list(table.services) == RECORDED_KEYS
    web = table.services[("tcp", "192.0.2.100", 80)]
    assert [(rs.key, rs.forwarding, rs.weight, rs.info) for rs in web.realservers.values()] == [
        (("192.0.2.21", 80), "dr", 1, {"activeconns": 0, "inactconns": 0}),
        (("192.0.2.22", 80), "dr", 3, {"activeconns": 0, "inactconns": 0})]
    https = table.services[("tcp", "192.0.2.100", 443)]
    assert (https.scheduler, https.persistent, https.netmask) == ("rr", 300, "255.255.255.0")
    assert [(rs.forwarding, rs.weight) for rs in https.realservers.values()] == [("nat", 2), ("nat", 0)]
    dns = table.services[("udp", "192.0.2.100", 53)]
    assert (dns.scheduler, dns.ops, dns.realservers[("192.0.2.22", 53)].forwarding) == ("wlc", True, "tun")
    sctp = table.services[("sctp", "192.0.2.100", 9)]
    assert (sctp.scheduler, sctp.scheduler_flags, sctp.realservers[("192.0.2.21", 9)].weight) == ("mh", ["mh-port"], 5)
    web6 = table.services[("tcp", "2001:db8::100", 80)]
    assert (web6.scheduler, web6.persistent, list(web6.realservers)) == ("lc", 60, [("2001:db8::21", 80)])
    assert table.services[("fwmark", "ipv4", 7)].scheduler_flags == ["sh-fallback", "sh-port"]
    fw8 = table.services[("fwmark", "ipv6", 8)]
    assert (fw8.scheduler, fw8.realservers) == ("rr", {})


def test_parse_list_extra_connection_counts() -> None:
    table = parse_list(fixture("list_extra.txt"))
    rs = table.services[("tcp", "192.0.2.101", 8080)].realservers[("198.51.100.12", 80)]
    assert (rs.forwarding, rs.weight, rs.info) == ("nat", 0, {"activeconns": 1, "inactconns": 5})
    fw10 = table.services[("fwmark", "ipv6", 10)]
    assert (fw10.scheduler, fw10.persistent, fw10.netmask) == ("mh", 600, "64")
    assert fw10.realservers[("192.0.2.41", 0)].forwarding == "tun"


@pytest.mark.parametrize("save, listing", [
    (recorded_out("ipvsadm", "save_mixed"), recorded_out("ipvsadm", "list_mixed")),
    (handwritten("ipvsadm", "save_extra.txt"), handwritten("ipvsadm", "list_extra.txt")),
], ids=["recorded", "extra"])
def test_list_and_save_describe_the_same_table(save: str, listing: str) -> None:
    saved, listed = parse_save(save), parse_list(listing)
    assert list(saved.services) == list(listed.services)
    for key, svc in saved.services.items():
        other = listed.services[key]
        assert svc.settings() == other.settings()
        assert [(rs.key, rs.forwarding, rs.weight) for rs in svc.realservers.values()] == \
            [(rs.key, rs.forwarding, rs.weight) for rs in other.realservers.values()]


def test_parse_list_recorded_thresholds_merge() -> None:
    listing = parse_list(recorded("list_mixed_thresholds"), "thresholds")
    assert list(listing.services) == RECORDED_KEYS
    assert listing.services[("tcp", "192.0.2.100", 443)].persistent == 300
    table = parse_save(recorded("save_mixed"))
    merge_thresholds(table, listing)
    rs = table.services[("tcp", "192.0.2.100", 443)].realservers[("192.0.2.21", 443)]
    assert (rs.forwarding, rs.weight, rs.u_threshold, rs.l_threshold) == ("nat", 2, 100, 10)
    other = table.services[("tcp", "192.0.2.100", 443)].realservers[("192.0.2.22", 443)]
    assert (other.u_threshold, other.l_threshold) == (0, 0)
    # rendered back with -x/-y, so that ipvsadm -R restores them
    assert render_save(table) == recorded("save_mixed").replace(
        "-r 192.0.2.21:443 -m -w 2\n", "-r 192.0.2.21:443 -m -w 2 -x 100 -y 10\n")


def test_parse_list_recorded_stats_and_rates() -> None:
    table = parse_list(recorded("list_mixed"))
    merge_info(table, parse_list(recorded("list_mixed_stats"), "stats"))
    merge_info(table, parse_list(recorded("list_mixed_rate"), "rates"))
    zero_stats = dict.fromkeys(_ipvs.STAT_FIELDS, 0)
    zero_rates = dict.fromkeys(_ipvs.RATE_FIELDS, 0)
    for svc in table.services.values():
        assert (svc.info["stats"], svc.info["rates"]) == (zero_stats, zero_rates), svc.name
        for rs in svc.realservers.values():
            assert (rs.info["stats"], rs.info["rates"]) == (zero_stats, zero_rates), rs.hostport
    assert table.services[("fwmark", "ipv6", 8)].info["stats"] == zero_stats  # "FWM  8 IPv6" + 5 counters


def test_parse_list_busy_stats_and_rates() -> None:
    table = parse_list(recorded("list_mixed"))
    merge_info(table, parse_list(fixture("list_mixed_stats_busy.txt"), "stats"))
    merge_info(table, parse_list(fixture("list_mixed_rate_busy.txt"), "rates"))
    svc = table.services[("tcp", "192.0.2.100", 443)]
    assert svc.info["stats"]["outbytes"] == 5987654321012  # wider than the 8-digit column
    assert svc.info["rates"] == {"cps": 120, "inpps": 9000, "outpps": 8800, "inbps": 1200000, "outbps": 98000000}
    rs = table.services[("tcp", "2001:db8::100", 80)].realservers[("2001:db8::21", 80)]
    assert rs.info["stats"] == {"conns": 10, "inpkts": 10, "outpkts": 10, "inbytes": 700, "outbytes": 1300}
    assert rs.info["activeconns"] == 0 and rs.info["inactconns"] == 0


def test_parse_list_recorded_persistent_conn() -> None:
    listing = parse_list(recorded("list_mixed_persistent_conn"), "persistent_conn")
    assert list(listing.services) == RECORDED_KEYS
    assert listing.services[("tcp", "192.0.2.100", 443)].settings() == \
        parse_list(recorded("list_mixed")).services[("tcp", "192.0.2.100", 443)].settings()
    rs = listing.services[("sctp", "192.0.2.100", 9)].realservers[("192.0.2.21", 9)]
    assert (rs.weight, rs.info) == (5, {"persistconns": 0, "activeconns": 0, "inactconns": 0})
    table = parse_list(recorded("list_mixed"))
    merge_info(table, listing)
    assert table.services[("tcp", "192.0.2.100", 80)].realservers[("192.0.2.22", 80)].info == {
        "activeconns": 0, "inactconns": 0, "persistconns": 0}


def test_parse_list_unit_suffixes_without_exact() -> None:
    # not recorded (the module always passes --exact): print_largenum() without it
    text = ("IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
            "  -> RemoteAddress:Port\n"
            "TCP  192.0.2.100:80                 5123K    9999M        0    6123G      12T\n")
    stats = parse_list(text, "stats").services[("tcp", "192.0.2.100", 80)].info["stats"]
    assert stats == {"conns": 5123000, "inpkts": 9999000000, "outpkts": 0,
                     "inbytes": 6123000000000, "outbytes": 12000000000000}


def test_parse_list_empty() -> None:
    assert len(parse_list(recorded("list_empty"))) == 0
    assert parse_list(recorded("list_empty")).info == {"version": "1.2.1", "size": 4096}
    # an empty --thresholds listing is the recorded one's three header lines
    header = "".join(recorded("list_mixed_thresholds").splitlines(keepends=True)[:3])
    assert len(parse_list(header, "thresholds")) == 0
    assert parse_thresholds(header) == {}


def test_parse_timeout_and_daemon() -> None:
    assert parse_timeout(recorded("timeout")) == {"tcp": 900, "tcpfin": 120, "udp": 300}
    assert recorded("daemon_none") == ""
    assert parse_daemon(recorded("daemon_none")) == []
    master = recorded("daemon_master")
    assert parse_daemon(master) == [{"state": "master", "mcast_interface": "eth2", "syncid": 7, "maxlen": 1472,
                                     "group": "224.0.0.81", "port": 8848, "ttl": 1}]
    # not recorded: a backup daemon next to it (the same list_daemon() format string)
    backup = master.replace("master", "backup").replace("eth2", "eth1")
    assert [d["state"] for d in parse_daemon(master + backup)] == ["master", "backup"]
    # not recorded: an old kernel reports only interface and syncid
    assert parse_daemon("backup sync daemon (mcast=eth0, syncid=7)\n") == [
        {"state": "backup", "mcast_interface": "eth0", "syncid": 7}]
    with pytest.raises(ParseError):
        parse_timeout("nonsense")
    with pytest.raises(ParseError):
        parse_daemon(recorded("timeout"))


# ------------------------------------------------------------------ desired state


def test_desired_defaults() -> None:
    desired = desired_from_params([web(), {"protocol": "fwmark", "fwmark": 3}])
    svc = desired.services[("tcp", "192.0.2.100", 80)]
    assert svc.label == "services[0] (tcp 192.0.2.100:80)"
    rs = svc.realservers[("192.0.2.11", 80)]
    assert (rs.forwarding, rs.weight, rs.u_threshold, rs.l_threshold, rs.state) == ("dr", 1, 0, 0, "present")
    fwm = desired.services[("fwmark", "ipv4", 3)]
    assert (fwm.scheduler, fwm.family) == ("wlc", "ipv4")


def test_desired_netmask_forms() -> None:
    svc = desired_from_params([web(persistent=60, netmask="/24")]).services[("tcp", "192.0.2.100", 80)]
    assert svc.netmask == "255.255.255.0"
    svc = desired_from_params([web(persistent=60, netmask="255.255.255.255")]).services[("tcp", "192.0.2.100", 80)]
    assert svc.netmask is None
    six = desired_from_params([{"address": "2001:db8::1", "port": 80, "persistent": 60, "netmask": 128}])
    assert six.services[("tcp", "2001:db8::1", 80)].netmask is None


@pytest.mark.parametrize("services, fragment", [
    ([web(scheduler="fastest")], "services[0] (tcp 192.0.2.100:80): scheduler 'fastest' is unknown"),
    ([web(port=0)], "port 0 is out of range 1..65535"),
    ([web(), web()], "services[1] (tcp 192.0.2.100:80): the same service is already declared as services[0]"),
    ([web(address="2001:db8::1")], "an IPv4 real server cannot serve an IPv6 service"),
    ([{"protocol": "fwmark", "fwmark": 1, "port": 80}], "a fwmark service takes no address or port"),
    ([{"protocol": "fwmark", "fwmark": 0}], "fwmark 0 is out of range"),
    ([{"protocol": "udp", "port": 53}], "protocol udp needs both address and port"),
    ([web(realservers=[{"address": "192.0.2.11", "weight": 65536}])], "weight 65536 is out of range"),
    ([web(realservers=[{"address": "192.0.2.11", "u_threshold": -1}])], "u_threshold -1 is out of range"),
    ([web(realservers=[{"address": "192.0.2.11", "weight": "heavy"}])], "weight 'heavy' is not an integer"),
    ([web(realservers=[{"address": "192.0.2.11"}, {"address": "192.0.2.11"}])], "is already listed as"),
    ([web(scheduler_flags=["mh-port"])], "scheduler flag mh-port needs scheduler mh"),
    ([web(scheduler_flags=["flag-9"])], "scheduler flag 'flag-9' is unknown"),
    ([web(family="ipv6")], "family ipv6 does not match address 192.0.2.100"),
    ([web(persistent=60, netmask="0.0.0.255")], "is not a dotted IPv4 netmask"),
    ([web(state="gone")], "state must be present or absent"),
    ([web(realservers=[{"address": "192.0.2.11", "forwarding": "tun", "tun_type": "gre",
                        "tun_checksum": "remcsum"}])], "tun_checksum remcsum is only for tun_type gue"),
])
def test_desired_validation(services: List[Dict[str, Any]], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        desired_from_params(services)
    assert fragment in str(caught.value)


def test_mixed_family_allowed_for_tunnels() -> None:
    desired = desired_from_params([web(realservers=[{"address": "2001:db8::11", "forwarding": "tun"}])])
    assert ("2001:db8::11", 80) in desired.services[("tcp", "192.0.2.100", 80)].realservers


# ------------------------------------------------------------------ plan


def live_web_smtp() -> Table:
    return parse_save(
        "-A -t 192.0.2.100:80 -s wrr\n"
        "-a -t 192.0.2.100:80 -r 192.0.2.11:80 -g -w 1\n"
        "-a -t 192.0.2.100:80 -r 192.0.2.12:80 -g -w 2\n"
        "-A -t 192.0.2.200:25 -s rr\n"
        "-a -t 192.0.2.200:25 -r 192.0.2.21:25 -g -w 1\n"
    )


def test_plan_nothing_to_do() -> None:
    assert plan(live_web_smtp(), desired_from_params([web()])) == []


def test_plan_order_deletes_first_then_service_before_its_realservers() -> None:
    desired = desired_from_params([
        {"address": "192.0.2.100", "port": 443, "scheduler": "rr",
         "realservers": [{"address": "192.0.2.11"}, {"address": "192.0.2.12"}]},
        web(scheduler="rr", realservers=[{"address": "192.0.2.11", "weight": 4},
                                         {"address": "192.0.2.12", "state": "absent"},
                                         {"address": "192.0.2.13"}]),
    ])
    assert plan(live_web_smtp(), desired, purge=True) == [
        "-d -t 192.0.2.100:80 -r 192.0.2.12:80",
        "-D -t 192.0.2.200:25",
        "-A -t 192.0.2.100:443 -s rr",
        "-a -t 192.0.2.100:443 -r 192.0.2.11:443 -g -w 1",
        "-a -t 192.0.2.100:443 -r 192.0.2.12:443 -g -w 1",
        "-E -t 192.0.2.100:80 -s rr",
        "-e -t 192.0.2.100:80 -r 192.0.2.11:80 -g -w 4",
        "-a -t 192.0.2.100:80 -r 192.0.2.13:80 -g -w 1",
    ]


def test_plan_never_deletes_to_edit() -> None:
    desired = desired_from_params([web(scheduler="sh", scheduler_flags=["sh-port"], persistent=600,
                                       netmask="255.255.0.0",
                                       realservers=[{"address": "192.0.2.11", "forwarding": "nat", "weight": 9,
                                                     "u_threshold": 50, "l_threshold": 5},
                                                    {"address": "192.0.2.12", "state": "drained"}])])
    lines = plan(live_web_smtp(), desired)
    assert lines == [
        "-E -t 192.0.2.100:80 -s sh -p 600 -M 255.255.0.0 -b sh-port",
        "-e -t 192.0.2.100:80 -r 192.0.2.11:80 -m -w 9 -x 50 -y 5",
        "-e -t 192.0.2.100:80 -r 192.0.2.12:80 -g -w 0",
    ]
    assert not [line for line in lines if line.startswith(("-D", "-d", "-C"))]


def test_plan_purges() -> None:
    desired = desired_from_params([web(realservers=[{"address": "192.0.2.11"}])])
    assert plan(live_web_smtp(), desired) == []
    assert plan(live_web_smtp(), desired, purge_realservers=True) == ["-d -t 192.0.2.100:80 -r 192.0.2.12:80"]
    assert plan(live_web_smtp(), desired, purge=True) == ["-D -t 192.0.2.200:25"]


def test_plan_keeps_persistence_engine_and_tunnel_settings() -> None:
    live = parse_save("-A -u 192.0.2.7:5060 -s rr -p 60 --pe sip\n"
                      "-a -u 192.0.2.7:5060 -r 192.0.2.11:5060 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum\n")
    desired = desired_from_params([{"protocol": "udp", "address": "192.0.2.7", "port": 5060, "scheduler": "wrr",
                                    "persistent": 60,
                                    "realservers": [{"address": "192.0.2.11", "forwarding": "tun", "weight": 2}]}])
    assert plan(live, desired) == [
        "-E -u 192.0.2.7:5060 -s wrr -p 60 --pe sip",
        "-e -u 192.0.2.7:5060 -r 192.0.2.11:5060 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum",
    ]


def test_compute_after_matches_what_ipvsadm_would_show() -> None:
    live = parse_save(recorded("save_mixed"))
    desired = desired_from_params([web(realservers=[{"address": "192.0.2.22", "weight": 5}])])
    result = compute(live, desired)
    assert result.lines == ["-e -t 192.0.2.100:80 -r 192.0.2.22:80 -g -w 5"]
    assert render_save(result.after) == recorded("save_mixed").replace("192.0.2.22:80 -g -w 3", "192.0.2.22:80 -g -w 5")
    assert render_save(live) == recorded("save_mixed")  # live is not modified


def test_verify_names_service_realserver_and_field() -> None:
    desired = desired_from_params([web(scheduler="rr", realservers=[{"address": "192.0.2.12", "weight": 5},
                                                                    {"address": "192.0.2.19"}]),
                                   {"address": "192.0.2.200", "port": 25, "state": "absent"}])
    assert verify(live_web_smtp(), desired) == [
        "service tcp 192.0.2.200:25: still present",
        "service tcp 192.0.2.100:80: scheduler is 'wrr', expected 'rr'",
        "service tcp 192.0.2.100:80 real server 192.0.2.12:80: weight is 2, expected 5",
        "service tcp 192.0.2.100:80 real server 192.0.2.19:80: missing",
    ]


def test_ipv6_spelling_does_not_cause_changes() -> None:
    live = parse_save("-A -u [2001:db8::10]:53 -s wlc\n-a -u [2001:db8::10]:53 -r [2001:db8::21]:53 -g -w 1\n")
    desired = desired_from_params([{"protocol": "udp", "address": "2001:DB8:0:0::10", "port": 53,
                                    "realservers": [{"address": "2001:0db8::0021"}]}])
    assert plan(live, desired) == []


# ------------------------------------------------------------------ runner


class FakeIpvsadm:
    def __init__(self, replies: Dict[Tuple[str, ...], Tuple[int, str, str]]) -> None:
        self.replies = replies
        self.calls: List[Tuple[List[str], Optional[str]]] = []

    def __call__(self, argv: List[str], data: Optional[str] = None) -> Tuple[int, str, str]:
        self.calls.append((argv, data))
        return self.replies[tuple(argv[1:])]


def replay(name: str) -> Tuple[int, str, str]:
    rec = recording("ipvsadm", name)
    return rec.rc, rec.out, rec.err


def test_runner_reads_save_and_thresholds() -> None:
    fake = FakeIpvsadm({("-Sn",): replay("save_mixed"), ("-Ln", "--thresholds"): replay("list_mixed_thresholds")})
    table = IpvsadmRunner("/sbin/ipvsadm", fake).read_table()
    assert [argv for argv, data in fake.calls] == [["/sbin/ipvsadm", "-Sn"], ["/sbin/ipvsadm", "-Ln", "--thresholds"]]
    rs = table.services[("tcp", "192.0.2.100", 443)].realservers[("192.0.2.21", 443)]
    assert (rs.u_threshold, rs.l_threshold) == (100, 10)


def test_runner_lists_everything_ipvs_info_shows() -> None:
    fake = FakeIpvsadm({("-Ln",): replay("list_mixed"), ("-Ln", "--thresholds"): replay("list_mixed_thresholds"),
                        ("-Ln", "--stats", "--exact"): replay("list_mixed_stats"),
                        ("-Ln", "--rate", "--exact"): replay("list_mixed_rate"),
                        ("-Ln", "--timeout"): replay("timeout"), ("-Ln", "--daemon"): replay("daemon_master")})
    runner = IpvsadmRunner("ipvsadm", fake)
    table = runner.list_table(stats=True, rates=True)
    assert list(table.services) == RECORDED_KEYS
    assert table.services[("tcp", "192.0.2.100", 443)].realservers[("192.0.2.21", 443)].u_threshold == 100
    assert runner.timeouts() == {"tcp": 900, "tcpfin": 120, "udp": 300}
    assert [d["syncid"] for d in runner.daemons()] == [7]


def test_runner_empty_table_needs_one_read() -> None:
    fake = FakeIpvsadm({("-Sn",): replay("save_empty")})
    assert len(IpvsadmRunner("ipvsadm", fake).read_table()) == 0
    assert len(fake.calls) == 1
    # ipvsadm loaded ip_vs by itself for that read: it was not loaded before (recorded)
    assert recorded("lsmod_before") == "0\n"


def test_runner_errors() -> None:
    not_loaded = FakeIpvsadm({("-Sn",): (2, "", fixture("not_loaded.txt"))})
    with pytest.raises(IpvsNotLoaded):
        IpvsadmRunner("ipvsadm", not_loaded).read_table()
    # not recorded: the same main() message for a caller without privilege is not "not loaded"
    not_root = FakeIpvsadm({("-Sn",): (2, "", "Can't initialize ipvs: Permission denied (you must be root)\n"
                                              "Are you sure that IP Virtual Server is built in the kernel or as module?\n")})
    with pytest.raises(CommandError, match=r"ipvsadm -Sn failed \(rc 2\): Can't initialize ipvs: Permission denied"):
        IpvsadmRunner("ipvsadm", not_root).read_table()
    broken = FakeIpvsadm({("-Sn",): (0, "garbage\n", "")})
    with pytest.raises(CommandError, match="cannot parse the output of ipvsadm -Sn"):
        IpvsadmRunner("ipvsadm", broken).read_table()


@pytest.mark.parametrize("name, err", [
    ("err_unknown_scheduler", "Scheduler or persistence engine not found\n"),
    ("err_service_exists", "Service already exists\n"),
    ("err_restore_bad_line", "Service not defined\n"),
])
def test_recorded_ipvsadm_errors(name: str, err: str) -> None:
    # ipvsadm exits 255 on a failed rule, and -R with the status of its last line
    assert recording("ipvsadm", name) == Recording(out="", err=err, rc=255)


def test_runner_restore_feeds_stdin_and_returns_status() -> None:
    fake = FakeIpvsadm({("-R",): replay("err_restore_bad_line")})
    lines = ["-A -t 192.0.2.102:80 -s rr", "-a -t 192.0.2.199:80 -r 192.0.2.21:80 -g"]
    assert IpvsadmRunner("ipvsadm", fake).restore(lines) == (255, "", "Service not defined\n")
    assert fake.calls == [(["ipvsadm", "-R"], "-A -t 192.0.2.102:80 -s rr\n-a -t 192.0.2.199:80 -r 192.0.2.21:80 -g\n")]


def test_ipvs_loaded(tmp_path: Path) -> None:
    assert _ipvs.ipvs_loaded(str(tmp_path)) is True
    assert _ipvs.ipvs_loaded(str(tmp_path / "missing")) is False


# ------------------------------------------------------------------ size


def big_save(servers: int, weight: int = 1) -> str:
    lines = ["-A -t [2001:db8::100]:80 -s wrr"]
    for i in range(servers):
        lines.append(f"-a -t [2001:db8::100]:80 -r [2001:db8:1::{i:x}]:80 -m -w {weight}")
    return "\n".join(lines) + "\n"


def test_5000_realservers_is_linear_and_fast() -> None:
    servers = 5000
    started = time.perf_counter()
    live = parse_save(big_save(servers))
    params = [{"address": "2001:db8::100", "port": 80, "scheduler": "wrr",
               "realservers": [{"address": f"2001:db8:1::{i:x}", "forwarding": "nat"} for i in range(servers)]}]
    desired = desired_from_params(params)
    assert plan(live, desired) == []
    noop = time.perf_counter() - started
    changed = parse_save(big_save(servers, weight=2))
    assert len(plan(changed, desired)) == servers
    assert len(render_save(live).splitlines()) == servers + 1
    assert noop < 2.0, f"no-op plan of {servers} real servers took {noop:.2f}s"


def test_parse_thresholds_keeps_only_non_zero() -> None:
    assert parse_thresholds(recorded("list_mixed_thresholds")) == {
        ("tcp", "192.0.2.100", 443): {("192.0.2.21", 443): (100, 10)}}
    assert parse_thresholds(fixture("list_thresholds_web.txt")) == {}
    assert parse_thresholds(fixture("list_thresholds_extra.txt")) == {}
    with pytest.raises(ParseError):
        parse_thresholds(recorded("list_mixed"))  # not a --thresholds listing


def _table_of(entries: int) -> Table:
    """One service with ``entries - 1`` real servers."""
    text = "-A -t 192.0.2.100:80 -s wlc\n" + "".join(
        f"-a -t 192.0.2.100:80 -r 198.18.{i // 250}.{i % 250 + 1}:80 -g -w 1\n" for i in range(entries - 1))
    return parse_save(text)


@pytest.mark.parametrize("entries, return_table, returned", [
    (_ipvs.TABLE_LIMIT, "auto", True), (_ipvs.TABLE_LIMIT + 1, "auto", False),
    (_ipvs.TABLE_LIMIT + 1, "always", True), (3, "never", False)])
def test_the_table_is_returned_as_asked_and_the_counts_always(entries: int, return_table: str, returned: bool) -> None:
    table = _table_of(entries)
    result = _ipvs.table_result(table, "table", return_table)
    assert result["counts"] == {"services": 1, "realservers": entries - 1}
    assert ("table" in result) is returned
    if returned:
        assert result["table"] == table.to_list()
