import { type ErrorTable, EXIT } from "../spec.ts";

/** Why a lab command refused or failed (LabError). */
export const LAB_ERRORS = {
  BAD_OPTION: { status: 400, exit: EXIT.USAGE, summary: "a lab option out of range" },
  NO_COMMAND: { status: 400, exit: EXIT.USAGE, summary: "lab exec without a command" },
  NO_LAB: { status: 404, exit: EXIT.NOT_FOUND, summary: "no lab of that name is up" },
  NO_CLOUD: { status: 404, exit: EXIT.NOT_FOUND, summary: "no cloud of that name in the lab" },
  NO_VM: { status: 404, exit: EXIT.NOT_FOUND, summary: "no VM of that name in the lab" },
  NO_INSTANCE: { status: 404, exit: EXIT.NOT_FOUND, summary: "the VM has no (running) instance there" },
  NO_NIC: { status: 404, exit: EXIT.NOT_FOUND, summary: "the VM instance has no NIC of that name" },
  NO_SOURCE: { status: 409, exit: EXIT.CONFLICT, summary: "the VM has no source instance to release" },
  LAB_EXISTS: { status: 409, exit: EXIT.CONFLICT, summary: "another lab is up: one lab at a time" },
  LEFTOVERS: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary: "namespaces, links or processes of an earlier lab are still on the machine",
  },
  SAME_CLOUD: { status: 409, exit: EXIT.CONFLICT, summary: "a move to the cloud the VM is in" },
  SOURCE_RUNNING: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary: "a move while the VM's source instance still runs",
  },
  POOL_EXHAUSTED: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary: "a cloud has no free fixed or floating IP left",
  },
  NOT_READY: { status: 409, exit: EXIT.TEMPFAIL, summary: "the lab is still coming up or going down" },
  LOCKED: { status: 409, exit: EXIT.TEMPFAIL, summary: "another lab command holds the lab's lock" },
  BAD_STATE: { status: 500, exit: EXIT.IO, summary: "the lab's state file has an unknown version" },
  DAEMON: { status: 503, exit: EXIT.UNAVAILABLE, summary: "the lab daemon did not start, answer or agree" },
  DAEMON_GONE: {
    status: 503,
    exit: EXIT.UNAVAILABLE,
    summary: "the lab's daemon is gone; take the lab down",
  },
  VM_INIT: { status: 502, exit: EXIT.UNAVAILABLE, summary: "vm-init apply failed inside a lab VM" },
  CAPTURE: { status: 500, exit: EXIT.OS, summary: "tshark did not start or stopped" },
  COMMAND_FAILED: { status: 500, exit: EXIT.OS, summary: "a command the lab ran failed" },
} as const satisfies ErrorTable;
