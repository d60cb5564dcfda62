import type { Subcommand } from "./command.ts";

const ofp: Subcommand = { summary: "decode and encode OpenFlow 1.3 messages", run: async () => 0 };
export default ofp;
