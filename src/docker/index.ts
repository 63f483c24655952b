// The Docker engine adapter: plain functions over a dockerode client, no Temporal imports.
export { createDockerClient } from './client.ts';
export * from './errors.ts';
export type { ContainerMount, ContainerState } from './containers.ts';
export { containersUsingVolume, inspectContainer, startContainer, stopContainer } from './containers.ts';
export type { VolumeInfo } from './volumes.ts';
export { estimateVolumeSize, inspectVolume } from './volumes.ts';
export type { ArchiveMethod, ArchiveOptions, ArchiveToFileOptions, VolumeArchive } from './archive.ts';
export { archiveVolume, archiveVolumeToFile, chooseArchiveMethod } from './archive.ts';
export type { ExecCaptureOptions, ExecCaptureResult, ExecOptions, ExecStreamResult } from './exec.ts';
export { execCapture, execStream } from './exec.ts';
export type { StoppedEntry } from './stopped-record.ts';
export { StoppedRecord } from './stopped-record.ts';
