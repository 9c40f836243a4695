"""The smoke resource is connected and in sync between the two storage guests' kernels."""
testinfra_hosts = ["nas1", "nas2"]


def test_drbd_module_is_the_kernels(host):
    assert host.file("/proc/drbd").contains("version: 8.4")


def test_resource_connected_and_uptodate(host):
    print(host.check_output("cat /proc/drbd"))
    assert host.check_output("drbdadm cstate r0") == "Connected"
    assert host.check_output("drbdadm dstate r0") == "UpToDate/UpToDate"


def test_first_node_is_primary(host):
    expected = "Primary/Secondary" if host.backend.get_hostname() == "nas1" else "Secondary/Primary"
    assert host.check_output("drbdadm role r0") == expected
