import { z } from "zod";

/**
 * What the Vercel AI SDK sends: `zodSchema()` turns a zod 4 schema into draft-07 JSON (`$schema`,
 * `additionalProperties: false`, tuples as `items: [...]` with `additionalItems`, `definitions`), and with zod 3 it
 * used zod-to-json-schema (hand-copied below: formats without patterns, nullable as a type list, `$schema`
 * draft-07). Tool parameters reach the same converter.
 */
export const vercelCorpus: Record<string, Record<string, unknown>> = {
  "ai sdk (zod 4, draft-07): a weather tool's parameters": z.toJSONSchema(
    z.object({
      city: z.string().min(1).max(24),
      unit: z.enum(["celsius", "fahrenheit"]).optional(),
      days: z.int().min(1).max(7),
      at: z.tuple([z.int().min(0).max(23), z.int().min(0).max(59)]),
    }),
    { target: "draft-7", io: "output" },
  ),
  "ai sdk (zod 3, zod-to-json-schema): a contact form": {
    type: "object",
    properties: {
      name: { type: "string", minLength: 1, maxLength: 30 },
      email: { type: "string", format: "email" },
      phone: { type: ["string", "null"], maxLength: 12 },
      topic: { type: "string", enum: ["sales", "support", "other"] },
      when: { type: "string", format: "date-time" },
      priority: { type: "integer", minimum: 1, maximum: 5 },
      attachments: { type: "array", items: { type: "string", format: "uri" }, maxItems: 2 },
    },
    required: ["name", "email", "phone", "topic", "when"],
    additionalProperties: false,
    $schema: "http://json-schema.org/draft-07/schema#",
  },
};
