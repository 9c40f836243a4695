# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsha_host: the code of lvsha.cluster that runs on the cluster's hosts, outside Ansible.

Python standard library only. The modules import ``_ipvs`` and ``_arp`` from here (as
``ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host._ipvs``); the
lvsha.cluster.host_package role copies this directory to /usr/local/lib/lvsha/lvsha_host
on a director or a pair node, with the command /usr/local/sbin/lvsha that runs
``lvsha_host.cli.main``:

    lvsha ipvs VERB ...      the IPVS table of a director (ipvs.py)
    lvsha mirror VERB ...    a node of a mirror pair (mirror.py)
    lvsha watch VERB ...     the service of a storage or mirror pair (watch.py)
    lvsha --version          __version__

``__version__`` is the collection's version (galaxy.yml; a unit test checks that they
agree): the role checks that the installed command reports it. Nothing is imported here,
so a module that imports ``_ipvs`` carries this file and ``_ipvs.py`` only.
"""

__version__ = "0.1.0"
