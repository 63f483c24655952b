import { PROJECT_LABEL, VOLUME_LABEL } from './labels.ts';
import type { VolumeFacts } from './types.ts';

/**
 * The volume a configured name means. With a compose project, a name is first the project's volume
 * as the compose file declares it (the volume labelled with that project and name, normally
 * `<project>_<name>`), as compose itself reads names in its file; else it is the volume of that
 * exact name, which is all it ever is without a project.
 */
export function resolveVolumeName(
  name: string,
  project: string | undefined,
  volumes: readonly VolumeFacts[],
): string | undefined {
  if (project !== undefined) {
    const declared = volumes.find(
      (v) => v.labels[PROJECT_LABEL] === project && v.labels[VOLUME_LABEL] === name,
    );
    if (declared) return declared.name;
    if (volumes.some((v) => v.name === `${project}_${name}`)) return `${project}_${name}`;
  }
  return volumes.some((v) => v.name === name) ? name : undefined;
}

export function missingVolume(name: string, project: string | undefined): string {
  return project === undefined
    ? `volume "${name}" does not exist`
    : `volume "${name}" does not exist, nor does project ${project}'s volume "${name}" (${project}_${name})`;
}
