# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers, validation, difference and rendering of module_utils/_ipvs.py."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils import _ipvs
from ansible_collections.lvsha.cluster.plugins.module_utils._ipvs import (
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

FIXTURES = Path(__file__).resolve().parents[1] / "modules" / "fixtures" / "ipvsadm"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


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


def test_parse_save_empty() -> None:
    assert len(parse_save(fixture("save_empty.txt"))) == 0


def test_parse_save_dr_wrr() -> None:
    table = parse_save(fixture("save_dr_wrr.txt"))
    svc = table.services[("tcp", "192.0.2.100", 80)]
    assert (svc.scheduler, svc.persistent, svc.netmask, svc.ops, svc.flags) == ("wrr", None, None, False, 0)
    assert [(rs.address, rs.port, rs.forwarding, rs.weight) for rs in svc.realservers.values()] == [
        ("192.0.2.11", 80, "dr", 1), ("192.0.2.12", 80, "dr", 2)]


def test_parse_save_mixed_every_feature() -> None:
    services = parse_save(fixture("save_mixed.txt")).services
    assert len(services) == 8
    https = services[("tcp", "192.0.2.100", 443)]
    assert (https.scheduler, https.persistent, https.netmask) == ("rr", 300, "255.255.255.0")
    nat = services[("tcp", "192.0.2.101", 8080)].realservers
    assert (nat[("10.0.0.11", 80)].forwarding, nat[("10.0.0.11", 80)].weight) == ("nat", 3)
    assert nat[("10.0.0.12", 80)].weight == 0
    assert services[("udp", "192.0.2.5", 53)].ops is True
    assert ("sctp", "192.0.2.102", 3868) in services
    dns6 = services[("udp", "2001:db8::10", 53)]
    assert dns6.family == "ipv6" and list(dns6.realservers) == [("2001:db8::21", 53), ("2001:db8::22", 53)]
    fw7 = services[("fwmark", "ipv4", 7)]
    assert (fw7.scheduler, fw7.scheduler_flags) == ("sh", ["sh-fallback", "sh-port"])
    ipip, gue = fw7.realservers[("192.0.2.11", 0)], fw7.realservers[("192.0.2.12", 0)]
    assert (ipip.forwarding, ipip.tun_type, ipip.tun_port, ipip.tun_checksum) == ("tun", "ipip", None, None)
    assert (gue.tun_type, gue.tun_port, gue.tun_checksum) == ("gue", 6080, "nocsum")
    fw9 = services[("fwmark", "ipv6", 9)]
    assert (fw9.persistent, fw9.netmask, fw9.scheduler_flags) == (600, "64", ["mh-port"])
    gre = fw9.realservers[("192.0.2.41", 0)]
    assert (gre.tun_type, gre.tun_checksum, gre.weight) == ("gre", "csum", 2)


@pytest.mark.parametrize("name", ["save_empty.txt", "save_dr_wrr.txt", "save_mixed.txt"])
def test_render_save_reproduces_ipvsadm_output(name: str) -> None:
    assert render_save(parse_save(fixture(name))) == fixture(name)


def test_parse_save_details_from_ipvsadm_source() -> None:
    table = parse_save(
        "-A -f -2147483648 -s rr\n"          # print_service_entry prints the mark with %d
        "-A -f 5 -s sh -b\n"                 # -b with nothing after it (flag-3 on sh)
        "-A -t 192.0.2.9:80 -s rr -p\n"      # -p without a timeout means 300
        "-A -t 192.0.2.8:80 -s rr -p 60 --pe sip\n"
        "-a -t 192.0.2.8:80 -r 192.0.2.11:80 -g -w 1 -x 5 -y 2\n"
        "-a -t 192.0.2.8:80 -r 192.0.2.12 -m -w 1\n"
    )
    assert ("fwmark", "ipv4", 2147483648) in table.services
    assert table.services[("fwmark", "ipv4", 5)].flags == 0
    assert table.services[("tcp", "192.0.2.9", 80)].persistent == 300
    svc = table.services[("tcp", "192.0.2.8", 80)]
    assert svc.pe == "sip"
    assert (svc.realservers[("192.0.2.11", 80)].u_threshold, svc.realservers[("192.0.2.11", 80)].l_threshold) == (5, 2)
    assert ("192.0.2.12", 80) in svc.realservers  # port defaults to the service port
    assert "--pe sip" in render_save(table)


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


def test_parse_list_numeric() -> None:
    table = parse_list(fixture("list_numeric.txt"))
    assert table.info == {"version": "1.2.1", "size": 4096}
    assert len(table) == 8
    rs = table.services[("tcp", "192.0.2.100", 80)].realservers[("192.0.2.12", 80)]
    assert (rs.forwarding, rs.weight, rs.info) == ("dr", 2, {"activeconns": 25, "inactconns": 81})
    https = table.services[("tcp", "192.0.2.100", 443)]
    assert (https.persistent, https.netmask) == (300, "255.255.255.0")
    assert table.services[("udp", "192.0.2.5", 53)].ops is True
    assert table.services[("fwmark", "ipv4", 7)].scheduler_flags == ["sh-fallback", "sh-port"]
    fw9 = table.services[("fwmark", "ipv6", 9)]
    assert (fw9.scheduler, fw9.persistent, fw9.netmask) == ("mh", 600, "64")
    assert fw9.realservers[("192.0.2.41", 0)].forwarding == "tun"


def test_list_and_save_describe_the_same_table() -> None:
    save, listing = parse_save(fixture("save_mixed.txt")), parse_list(fixture("list_numeric.txt"))
    assert list(save.services) == list(listing.services)
    for key, svc in save.services.items():
        other = listing.services[key]
        assert svc.settings() == other.settings()
        assert [(rs.key, rs.forwarding, rs.weight) for rs in svc.realservers.values()] == \
            [(rs.key, rs.forwarding, rs.weight) for rs in other.realservers.values()]


def test_parse_list_thresholds_merge() -> None:
    table = parse_save(fixture("save_mixed.txt"))
    merge_thresholds(table, parse_list(fixture("list_thresholds.txt"), "thresholds"))
    rs = table.services[("tcp", "192.0.2.101", 8080)].realservers[("10.0.0.11", 80)]
    assert (rs.u_threshold, rs.l_threshold) == (100, 10)
    assert "-a -t 192.0.2.101:8080 -r 10.0.0.11:80 -m -w 3 -x 100 -y 10\n" in render_save(table)


def test_parse_list_stats_and_rates() -> None:
    table = parse_list(fixture("list_numeric.txt"))
    merge_info(table, parse_list(fixture("list_stats.txt"), "stats"))
    merge_info(table, parse_list(fixture("list_rate.txt"), "rates"))
    svc = table.services[("tcp", "192.0.2.101", 8080)]
    assert svc.info["stats"]["outbytes"] == 5987654321012
    assert svc.info["rates"] == {"cps": 120, "inpps": 9000, "outpps": 8800, "inbps": 1200000, "outbps": 98000000}
    rs = table.services[("udp", "2001:db8::10", 53)].realservers[("2001:db8::21", 53)]
    assert rs.info["stats"] == {"conns": 5, "inpkts": 5, "outpkts": 5, "inbytes": 350, "outbytes": 650}
    assert rs.info["activeconns"] == 0 and rs.info["inactconns"] == 3


def test_parse_list_unit_suffixes_without_exact() -> None:
    text = ("IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
            "  -> RemoteAddress:Port\n"
            "TCP  192.0.2.100:80                 5123K    9999M        0    6123G      12T\n")
    stats = parse_list(text, "stats").services[("tcp", "192.0.2.100", 80)].info["stats"]
    assert stats == {"conns": 5123000, "inpkts": 9999000000, "outpkts": 0,
                     "inbytes": 6123000000000, "outbytes": 12000000000000}


def test_parse_list_empty() -> None:
    assert len(parse_list(fixture("list_empty.txt"))) == 0
    assert len(parse_list(fixture("list_thresholds_empty.txt"), "thresholds")) == 0


def test_parse_timeout_and_daemon() -> None:
    assert parse_timeout(fixture("timeout.txt")) == {"tcp": 900, "tcpfin": 120, "udp": 300}
    assert parse_daemon(fixture("daemon_none.txt")) == []
    daemons = parse_daemon(fixture("daemon.txt"))
    assert [d["state"] for d in daemons] == ["master", "backup"]
    assert daemons[0] == {"state": "master", "mcast_interface": "eth0", "syncid": 1, "maxlen": 1472,
                          "group": "224.0.0.81", "port": 8848, "ttl": 1}
    # an old kernel reports only interface and syncid
    assert parse_daemon("backup sync daemon (mcast=eth0, syncid=7)\n") == [
        {"state": "backup", "mcast_interface": "eth0", "syncid": 7}]
    with pytest.raises(ParseError):
        parse_timeout("nonsense")


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
    live = parse_save(fixture("save_dr_wrr.txt"))
    desired = desired_from_params([web(realservers=[{"address": "192.0.2.12", "weight": 5}])])
    result = compute(live, desired)
    assert render_save(result.after) == fixture("save_dr_wrr.txt").replace("192.0.2.12:80 -g -w 2", "192.0.2.12:80 -g -w 5")
    assert render_save(live) == fixture("save_dr_wrr.txt")  # live is not modified


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


def test_runner_reads_save_and_thresholds() -> None:
    fake = FakeIpvsadm({("-Sn",): (0, fixture("save_mixed.txt"), ""),
                        ("-Ln", "--thresholds"): (0, fixture("list_thresholds.txt"), "")})
    table = IpvsadmRunner("/sbin/ipvsadm", fake).read_table()
    assert [argv for argv, data in fake.calls] == [["/sbin/ipvsadm", "-Sn"], ["/sbin/ipvsadm", "-Ln", "--thresholds"]]
    assert table.services[("tcp", "192.0.2.101", 8080)].realservers[("10.0.0.11", 80)].u_threshold == 100


def test_runner_empty_table_needs_one_read() -> None:
    fake = FakeIpvsadm({("-Sn",): (0, "", "")})
    assert len(IpvsadmRunner("ipvsadm", fake).read_table()) == 0
    assert len(fake.calls) == 1


def test_runner_errors() -> None:
    not_loaded = FakeIpvsadm({("-Sn",): (2, "", fixture("not_loaded.txt"))})
    with pytest.raises(IpvsNotLoaded):
        IpvsadmRunner("ipvsadm", not_loaded).read_table()
    broken = FakeIpvsadm({("-Sn",): (0, "garbage\n", "")})
    with pytest.raises(CommandError, match="cannot parse the output of ipvsadm -Sn"):
        IpvsadmRunner("ipvsadm", broken).read_table()


def test_runner_restore_feeds_stdin_and_returns_status() -> None:
    fake = FakeIpvsadm({("-R",): (1, "", "No such service\n")})
    assert IpvsadmRunner("ipvsadm", fake).restore(["-D -t 192.0.2.1:80"]) == (1, "", "No such service\n")
    assert fake.calls == [(["ipvsadm", "-R"], "-D -t 192.0.2.1:80\n")]


def test_ipvs_loaded(tmp_path: Path) -> None:
    assert _ipvs.ipvs_loaded(str(tmp_path)) is True
    assert _ipvs.ipvs_loaded(str(tmp_path / "missing")) is False


# ------------------------------------------------------------------ size


def big_save(servers: int, weight: int = 1) -> str:
    lines = ["-A -t 192.0.2.100:80 -s wrr"]
    for i in range(servers):
        lines.append(f"-a -t 192.0.2.100:80 -r 10.{i // 65536}.{i // 256 % 256}.{i % 256}:80 -m -w {weight}")
    return "\n".join(lines) + "\n"


def test_5000_realservers_is_linear_and_fast() -> None:
    servers = 5000
    started = time.perf_counter()
    live = parse_save(big_save(servers))
    params = [{"address": "192.0.2.100", "port": 80, "scheduler": "wrr",
               "realservers": [{"address": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "forwarding": "nat"}
                               for i in range(servers)]}]
    desired = desired_from_params(params)
    assert plan(live, desired) == []
    noop = time.perf_counter() - started
    changed = parse_save(big_save(servers, weight=2))
    assert len(plan(changed, desired)) == servers
    assert len(render_save(live).splitlines()) == servers + 1
    assert noop < 2.0, f"no-op plan of {servers} real servers took {noop:.2f}s"


def test_parse_thresholds_keeps_only_non_zero() -> None:
    assert parse_thresholds(fixture("list_thresholds.txt")) == {("tcp", "192.0.2.101", 8080): {("10.0.0.11", 80): (100, 10)}}
    assert parse_thresholds(fixture("list_thresholds_empty.txt")) == {}
    assert parse_thresholds(fixture("list_thresholds_dr_wrr.txt")) == {}
    with pytest.raises(ParseError):
        parse_thresholds(fixture("list_numeric.txt"))  # not a --thresholds listing
