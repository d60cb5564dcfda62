import type { CONTROLLER_CLIENT_ERRORS } from "../errors/codes/controller-client.ts";
import { IcsdnError, type IcsdnErrorOptions } from "../errors/index.ts";

export type ControllerClientErrorCode = keyof typeof CONTROLLER_CLIENT_ERRORS;

/**
 * Why a call to the controller's REST API failed. For CONTROLLER_REFUSED, `remoteStatus` and
 * `remoteCode` are the controller's answer (`field` its field at fault), also in `details`.
 * Messages name the method and URL, never the token.
 */
export class ControllerClientError extends IcsdnError<ControllerClientErrorCode> {
  override readonly name = "ControllerClientError";
  readonly remoteStatus: number | undefined;
  readonly remoteCode: string | undefined;
  constructor(
    code: ControllerClientErrorCode,
    message: string,
    options: IcsdnErrorOptions & { remoteStatus?: number; remoteCode?: string } = {},
  ) {
    super(code, message, options);
    this.remoteStatus = options.remoteStatus;
    this.remoteCode = options.remoteCode;
  }
}
