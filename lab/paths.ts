/** Where the repository and its `icsdn` command are, for what the lab runs inside its VMs. */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const ICSDN_BIN = join(REPO_ROOT, "bin", "icsdn");
