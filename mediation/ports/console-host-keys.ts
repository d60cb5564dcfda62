const BEGIN = "-----BEGIN SSH HOST KEY KEYS-----";
const END = "-----END SSH HOST KEY KEYS-----";

/**
 * The ssh host keys a VM printed on its console, as cloud-init's keys_to_console module prints
 * them (OpenSSH public key lines between BEGIN/END SSH HOST KEY KEYS). The last complete block
 * counts (each boot prints one); none: []. Consoles prefix lines with a timestamp or `ci-info:`
 * on some images, so each line is taken from its key type on.
 */
export function hostKeysInConsole(console: string): string[] {
  const lines = console.split(/\r?\n/);
  let found: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.includes(BEGIN)) continue;
    const block: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j]!.includes(END); j++) {
      const m = /(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+)\s+[A-Za-z0-9+/]+={0,2}(\s.*)?$/.exec(lines[j]!);
      if (m) block.push(m[0].trim());
    }
    if (j < lines.length && block.length > 0) found = block;
    i = j;
  }
  return found;
}
