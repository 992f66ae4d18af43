import packageJson from "../../../package.json" with { type: "json" };

/**
 * What every request to the Hub (and to the CDN and the Xet bridge it redirects to) says it is: `slm-serve/<version>`,
 * the version of apps/inference, instead of undici's `node`, so the Hub's operators can tell our traffic apart.
 */
export const USER_AGENT = `slm-serve/${packageJson.version}`;
