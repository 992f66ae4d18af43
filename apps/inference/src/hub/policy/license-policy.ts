import { LicenseNotAllowedError, type ArtifactRef } from "../errors.ts";

export interface LicenseFacts {
  /** What the Hub declares (`cardData.license` or a `license:` tag), or the lockfile recorded. */
  hub: string | undefined;
  /** The GGUF's `general.license`, when the file has one. */
  gguf: string | undefined;
}

/**
 * Applies MODEL_LICENSES_ALLOWED (lower-cased ids): every licence the artifact declares must be listed, and an
 * artifact that declares none is refused. With no list, nothing is refused. Returns the licence to log.
 */
export function checkLicense(
  facts: LicenseFacts,
  allowed: readonly string[],
  artifact: ArtifactRef,
): string | undefined {
  const found = facts.hub ?? facts.gguf;
  if (allowed.length === 0) return found;
  const declared: Array<[string, string]> = [
    ...(facts.hub ? [["the Hub", facts.hub] as [string, string]] : []),
    ...(facts.gguf ? [["the GGUF's general.license", facts.gguf] as [string, string]] : []),
  ];
  if (declared.length === 0) throw new LicenseNotAllowedError(artifact, "the artifact declares no license", allowed);
  for (const [source, license] of declared) {
    if (!allowed.includes(license.trim().toLowerCase())) {
      throw new LicenseNotAllowedError(artifact, `${source} declares license ${license}`, allowed);
    }
  }
  return found;
}
