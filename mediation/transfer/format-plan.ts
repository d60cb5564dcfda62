/**
 * Which disk format the target image gets, and whether the bytes must be converted on the way
 * (pure). Glance's disk_format names; qemu-img calls Glance's `vhd` `vpc`.
 */

/** Glance disk formats qemu-img reads and writes, by Glance name -> qemu-img name. */
export const QEMU_IMG_FORMATS: Readonly<Record<string, string>> = {
  raw: "raw",
  qcow2: "qcow2",
  vmdk: "vmdk",
  vdi: "vdi",
  vhd: "vpc",
  vhdx: "vhdx",
};

/** Conversion targets in order of preference: qcow2 keeps holes out of the upload, raw is universal. */
const PREFERRED = ["qcow2", "raw", "vmdk", "vhdx", "vdi", "vhd"] as const;

export interface FormatFacts {
  /** The source image's disk format (Glance: absent means raw). */
  readonly sourceFormat: string | undefined;
  readonly containerFormat: string | undefined;
  /** What the target accepts (clouds.yaml `icsdn.disk_formats`, else its Glance's image schema); undefined: unknown. */
  readonly accepted: readonly string[] | undefined;
  /** Whether qemu-img (and nbdkit) are there to convert with. */
  readonly converterAvailable: boolean;
}

export type FormatPlan =
  | { readonly kind: "as_is"; readonly format: string }
  | { readonly kind: "convert"; readonly from: string; readonly to: string }
  | { readonly kind: "refused"; readonly reason: string };

export function planImageFormat(f: FormatFacts): FormatPlan {
  const source = f.sourceFormat ?? "raw";
  // A target that does not say what it accepts is given the image as it is (its upload is the test).
  if (f.accepted === undefined || f.accepted.includes(source)) return { kind: "as_is", format: source };
  const accepted = `the target accepts ${f.accepted.length ? f.accepted.join(", ") : "no disk format"}`;
  if (!(source in QEMU_IMG_FORMATS)) {
    return {
      kind: "refused",
      reason: `the image's disk format '${source}' cannot be converted; ${accepted}`,
    };
  }
  if ((f.containerFormat ?? "bare") !== "bare") {
    return {
      kind: "refused",
      reason: `the image's container format '${f.containerFormat}' wraps the disk (only bare disks are converted); ${accepted}`,
    };
  }
  const to = PREFERRED.find((p) => f.accepted?.includes(p));
  if (to === undefined) {
    return { kind: "refused", reason: `'${source}' converts only to ${PREFERRED.join(", ")}; ${accepted}` };
  }
  if (!f.converterAvailable) {
    return {
      kind: "refused",
      reason: `the image is '${source}' and ${accepted}, but qemu-img or nbdkit is not installed to convert it`,
    };
  }
  return { kind: "convert", from: source, to };
}
