import { z } from "zod";

/**
 * The schemas every client test sends: structured output that must bind the answer (zod ints with bounds: zod 4 writes
 * `minimum`/`maximum` for every `.int()`; and one without numeric bounds), and tool inputs.
 */
export const SCHEMAS = {
  "zod ints with bounds": z.object({
    name: z.string().min(1).max(12),
    age: z.number().int().min(0).max(120),
    mood: z.enum(["happy", "sad", "curious"]),
  }),
  "strings, enums, booleans": z.object({
    name: z.string().min(1).max(12),
    kind: z.enum(["cat", "dog"]),
    vaccinated: z.boolean(),
  }),
} as const;
export type SchemaName = keyof typeof SCHEMAS;

export const TOOL_INPUTS = {
  "zod ints with bounds": z.object({ city: z.enum(["Paris", "Oslo", "Lima"]), days: z.number().int().min(1).max(3) }),
  "an enum": z.object({ city: z.enum(["Paris", "Oslo", "Lima"]) }),
} as const;
export type ToolInputName = keyof typeof TOOL_INPUTS;
