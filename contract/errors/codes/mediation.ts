import { type ErrorTable, EXIT } from "../spec.ts";

/** The mediation service's codes: clouds, transfers, migrations. */
export const MEDIATION_ERRORS = {
  CLOUD_CONFIG: {
    status: 400,
    exit: EXIT.CONFIG,
    summary: "clouds.yaml/secure.yaml is missing, unreadable, or lacks the named cloud or a setting",
  },
  CLOUD_AUTH: {
    status: 502,
    exit: EXIT.NO_PERMISSION,
    summary: "a cloud's identity service refused the credentials, or its catalog lacks a service",
  },
  CLOUD_API: {
    status: 502,
    exit: EXIT.UNAVAILABLE,
    summary: "a cloud API answered with an error or could not be reached",
  },
  CLOUD_TIMEOUT: {
    status: 504,
    exit: EXIT.TEMPFAIL,
    summary: "a cloud resource did not reach the awaited state before its deadline",
  },
  HASH_MISMATCH: {
    status: 502,
    exit: EXIT.PROTOCOL,
    summary: "the image bytes that flowed differ from what a cloud reports (the target copy is deleted)",
  },
  PRECHECK_FAILED: {
    status: 422,
    exit: EXIT.USAGE,
    summary: "the migration cannot start; details.problems names every reason and nothing was created",
  },
  MIGRATION_BUSY: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary: "the member already has a migration in flight, or the migration is already finished",
  },
  MIGRATION_NOT_FOUND: { status: 404, exit: EXIT.NOT_FOUND, summary: "no such migration" },
  MEMBER_GONE: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary: "the member left its cluster at the controller during the migration",
  },
  LINK_CHECK_FAILED: {
    status: 502,
    exit: EXIT.UNAVAILABLE,
    summary: "the moved VM does not reach every peer's vint0 after the rebind",
  },
  SSH_UNREACHABLE: {
    status: 504,
    exit: EXIT.TEMPFAIL,
    summary:
      "no ssh session to the moved VM before the link check's deadline (refused, unreachable, no handshake)",
  },
  SSH_AUTH: {
    status: 502,
    exit: EXIT.NO_PERMISSION,
    summary: "the moved VM's sshd refused the configured key until the link check's deadline",
  },
  SSH_HOST_KEY: {
    status: 502,
    exit: EXIT.PROTOCOL,
    summary: "the moved VM presented an ssh host key other than the one expected (pinned or first seen)",
  },
  SSH_TIMEOUT: {
    status: 504,
    exit: EXIT.TEMPFAIL,
    summary: "the link check's command on the moved VM did not finish within its timeout",
  },
  SSH_KEY: {
    status: 500,
    exit: EXIT.CONFIG,
    summary: "the configured ssh private key file is unreadable, encrypted or not a private key",
  },
  INTERRUPTED: {
    status: 500,
    exit: EXIT.FAILURE,
    summary: "the service stopped mid-migration (crash, kill); the restart rolled the migration back",
  },
  IMAGE_FORMAT: {
    status: 422,
    exit: EXIT.USAGE,
    summary:
      "the target cloud accepts none of the disk formats the image has or can be converted to (qemu-img)",
  },
  CONVERSION_FAILED: {
    status: 502,
    exit: EXIT.DATA,
    summary:
      "qemu-img could not convert the image (a corrupt or unreadable disk); the target copy is deleted",
  },
  STAGING_SPACE: {
    status: 507,
    exit: EXIT.IO,
    summary: "the staging directory of a format conversion lacks the free space the converted image needs",
  },
  CANCELLED: { status: 409, exit: EXIT.FAILURE, summary: "the migration was cancelled and rolled back" },
  JOURNAL_FAILED: { status: 500, exit: EXIT.IO, summary: "the journal is unusable (newer schema, I/O)" },
} as const satisfies ErrorTable;
