"""ML2 mechanism driver `icsdn_lab`: binds every port at once, as the lab's compute plugs it.

There are no L2 agents in the lab: the lab's virt driver puts a server's NIC on its cloud's
provider network itself and the lab's network agent enforces floating IPs and security groups.
Without a binding, Nova fails every boot with PortBindingFailed.
"""
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class LabMechanismDriver(api.MechanismDriver):
    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False},
                                status='ACTIVE')
            return
