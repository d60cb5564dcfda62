/**
 * icbr0's OpenFlow port numbers: vm-init requests them (ofport_request) so the controller's rules
 * can name the ports without asking the switch.
 */
export const ENC0_PORT = 1;
export const VINT0_PORT = 2;
