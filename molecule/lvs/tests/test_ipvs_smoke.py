"""The smoke service lives in the director guest's own kernel."""
testinfra_hosts = ["lb1"]


def test_kernel_is_the_guest_kernel(host):
    assert host.check_output("uname -r").endswith("-amd64")
    assert host.file("/proc/net/ip_vs").exists


def test_ipvs_service_is_listed(host):
    table = host.check_output("ipvsadm -Sn")
    print(host.check_output("ipvsadm -Ln"))
    assert table.splitlines() == [
        "-A -t 192.0.2.50:80 -s wrr",
        "-a -t 192.0.2.50:80 -r 192.0.2.21:80 -g -w 1",
        "-a -t 192.0.2.50:80 -r 192.0.2.22:80 -g -w 3",
    ]
