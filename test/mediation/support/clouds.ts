import { loadCloudsFile, resolveCloud } from "../../../mediation/clouds/clouds-yaml.ts";
import { OpenStackDriver } from "../../../mediation/clouds/openstack/openstack-driver.ts";
import { openstackLab } from "../../support/openstack-lab.ts";

/** What the lab's clouds hold from the start (lab/openstack): the image and flavor test servers boot from. */
export const LAB_IMAGE = "lab-disk";
export const LAB_FLAVOR = "m1.tiny";

/** The lab's clouds.yaml (entries lab-a and lab-b), or undefined when this run has no OpenStack lab (skip). */
export function labCloudsFile(): string | undefined {
  return openstackLab()?.cloudsYaml;
}

/** The environment a mediation process needs to find the lab's clouds. */
export function labCloudsEnv(): Record<string, string> {
  return { OS_CLIENT_CONFIG_FILE: labCloudsFile()! };
}

export function labDriver(name: "lab-a" | "lab-b", overrides: Record<string, string> = {}): OpenStackDriver {
  const env = labCloudsEnv();
  const config = resolveCloud(name, loadCloudsFile(env), env);
  return new OpenStackDriver({ ...config, endpointOverrides: { ...config.endpointOverrides, ...overrides } });
}
