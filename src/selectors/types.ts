// What a definition's container selector is, and what resolution needs to know about a container.

/** Selects containers on the host at run time, instead of (or besides) naming them. */
export interface ContainerSelector {
  /** Where the definition sits in the config file, e.g. `backupDefinitions[0]`, for errors. */
  configPath: string;
  /** A compose project's containers; `services` narrows them (absent: every service). */
  compose?: { project: string; services?: string[] | undefined } | undefined;
  /** Containers carrying every one of these labels with these values. */
  labels?: Record<string, string> | undefined;
}

/** One container as listed by the engine: enough to select it and to order it. */
export interface ContainerFacts {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** HostConfig.NetworkMode: `container:<id>` when it shares another container's network. */
  networkMode: string;
}

export interface VolumeFacts {
  name: string;
  labels: Record<string, string>;
}

/** What a selector resolved to on the host, in stop order (dependents first). */
export interface ResolvedContainer {
  name: string;
  /** `project/service` for compose containers. */
  service?: string | undefined;
  /** Names of the selected containers this one depends on (they stop after it, start before it). */
  dependsOn: string[];
  /** Not selected itself: it shares the network of this selected container, so it stops and starts with it. */
  sharesNetworkOf?: string | undefined;
}

export interface ResolvedSources {
  containers: ResolvedContainer[];
  /** Each configured volume name and the volume it names on this host. */
  volumes: { name: string; resolved: string }[];
}
