import { loadCloudsFile, resolveCloud } from "../../../mediation/clouds/clouds-yaml.ts";
import { OpenStackDriver } from "../../../mediation/clouds/openstack/openstack-driver.ts";

/**
 * The lab's two OpenStack clouds, `lab-a` and `lab-b`, from the clouds.yaml in
 * $OS_CLIENT_CONFIG_FILE. Outside CI a machine without them skips; with CI=true it fails.
 */
export function labCloudsFile(): string | undefined {
  const file = process.env.OS_CLIENT_CONFIG_FILE;
  if (!file && process.env.CI === "true")
    throw new Error("CI needs the lab's OpenStack: OS_CLIENT_CONFIG_FILE is not set");
  return file;
}

export function labDriver(name: "lab-a" | "lab-b", overrides: Record<string, string> = {}): OpenStackDriver {
  const file = loadCloudsFile();
  const config = resolveCloud(name, file);
  return new OpenStackDriver({ ...config, endpointOverrides: { ...config.endpointOverrides, ...overrides } });
}
