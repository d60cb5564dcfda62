/**
 * Cluster and member (VM) ids: lowercase DNS-label-like names. They end up in URLs, logs and OVS
 * names; vm-init checks its vmId against the same pattern before it reports to the controller.
 */
export const SLUG_PATTERN = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";
