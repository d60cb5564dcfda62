import type { Shell } from "./shell.ts";

/**
 * `offload.txChecksum: "off"` runs `ethtool -K <dev> tx off` on vint0 and the NICs.
 *
 * Why the default is `keep`: on this machine, TCP into a userspace-datapath VM over a veth fails
 * because the *sender's* veth leaves the TCP checksum unfinished (CHECKSUM_PARTIAL); OVS passes
 * the frame on through AF_PACKET unchanged and the VM's stack drops it (TcpInCsumErrors grows,
 * tshark shows "TCP CHECKSUM INCORRECT" on the SYN-ACK). Turning tx off on the VM's own NIC did
 * not change that (the VM's kernel sends through icbond0 and vint0, userspace taps with no tx
 * offload); turning it off on the far end of the veth (the host or router side) did. TCP between
 * two vint0s over VXLAN worked with every offload left on. So the fix belongs to whoever owns the
 * far end (the lab, the test sandbox); the option stays for setups that need it anyway.
 */
export async function txChecksumOff(sh: Shell, devices: readonly string[]): Promise<void> {
  await Promise.all(
    devices.map((dev) => {
      const [file, args] = sh.inNetns("ethtool", ["-K", dev, "tx", "off"]);
      return sh.run(file, args, "ETHTOOL_FAILED", { what: `turn tx checksum offload off on ${dev}` });
    }),
  );
}
