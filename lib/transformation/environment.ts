/**
 * The environment a transformation asks for (`--docker`, `--conda`): recorded as Python's
 * environment.py `_to_lowlevel` does, as the dunder `__env__` = checksum of the environment
 * dict serialized as plain (cli-spec §2.1). `__env__` is outside the identity (§2.2), so the
 * same command with or without `--docker` is the same transformation.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import { computeChecksum } from "../checksum/sha256.ts";
import { serializePlain } from "../serialize/plain-json.ts";

/** The environment dict of cli-spec §2.1. */
export interface TransformationEnvironment {
  docker?: { name: string };
  conda_environment?: string;
}

/** What the user asked for. */
export interface EnvironmentRequest {
  /** `--docker IMAGE` */
  dockerImage?: string;
  /** `--conda ENV` */
  condaEnvironment?: string;
}

/**
 * The environment dict and its buffer, or null when neither `--docker` nor `--conda` was given.
 *
 * @example
 * ```ts
 * const env = environmentOf({ dockerImage: "ubuntu:24.04" });
 * // env.buffer is '{\n  "docker": {\n    "name": "ubuntu:24.04"\n  }\n}\n'
 * ```
 */
export function environmentOf(request: EnvironmentRequest): { environment: TransformationEnvironment; buffer: Uint8Array; checksum: Checksum } | null {
  const environment: TransformationEnvironment = {};
  if (request.condaEnvironment !== undefined) environment.conda_environment = request.condaEnvironment;
  if (request.dockerImage !== undefined) environment.docker = { name: request.dockerImage };
  if (Object.keys(environment).length === 0) return null;
  const buffer = serializePlain(environment);
  return { environment, buffer, checksum: computeChecksum(buffer) };
}
