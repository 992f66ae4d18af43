import { pydanticCorpus } from "./pydantic.ts";
import { vercelCorpus } from "./vercel.ts";
import { zodCorpus } from "./zod.ts";

/** Schemas as zod 4, Pydantic v2 and the Vercel AI SDK write them (test fixtures: zod is a devDependency). */
export const corpus: Record<string, Record<string, unknown>> = { ...zodCorpus, ...pydanticCorpus, ...vercelCorpus };
