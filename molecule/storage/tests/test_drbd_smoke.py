"""The smoke resource is connected between the two storage guests' kernels."""
testinfra_hosts = ["nas1", "nas2"]


def test_drbd_module_is_the_kernels(host):
    assert host.file("/proc/drbd").contains("version: 8.4")


def test_resource_connected(host):
    proc = host.check_output("cat /proc/drbd")
    print(proc)
    assert host.check_output("drbdadm cstate smoke") == "Connected"
    assert "cs:Connected" in proc
