import { z } from "zod";

/**
 * What zod 4's `z.toJSONSchema` writes (draft 2020-12) for the types apps send most: bounded ints (`.int()` is
 * ±(2^53-1)), strings with min/max/email/uuid/datetime/regex (each a `format` and a `pattern`), optional and nullable
 * fields, enums, bounded arrays, nested objects, records, unions, tuples, a recursive tree. Computed from zod itself,
 * so a zod upgrade that changes its output is tested as it is.
 */
const Address = z.object({
  street: z.string().min(1).max(40),
  zip: z.string().regex(/^\d{5}$/),
  country: z.enum(["US", "FR", "DE"]),
});

interface Category {
  name: string;
  children: Category[];
}
const Category: z.ZodType<Category> = z.lazy(() =>
  z.object({ name: z.string().max(12), children: z.array(Category).max(2) }),
);

export const zodCorpus: Record<string, Record<string, unknown>> = {
  "zod: user with bounded ints and string formats": z.toJSONSchema(
    z.object({
      id: z.uuid(),
      age: z.number().int().min(0).max(130),
      visits: z.int(),
      email: z.email(),
      name: z.string().min(1).max(32),
      created: z.iso.datetime(),
      birthday: z.iso.date(),
      code: z.string().regex(/^[A-Z]{3}-\d{2,4}$/),
    }),
  ),
  "zod: optional, nullable and defaults": z.toJSONSchema(
    z.object({
      title: z.string().max(20),
      subtitle: z.string().max(20).optional(),
      note: z.string().max(10).nullable(),
      rating: z.number().min(0).max(5).nullish(),
      flag: z.boolean().default(false),
    }),
  ),
  "zod: enums, literals, unions and discriminated unions": z.toJSONSchema(
    z.object({
      status: z.enum(["draft", "published", "archived"]),
      kind: z.literal("post"),
      value: z.union([z.string().max(8), z.number().int().positive().max(1000)]),
      shape: z.discriminatedUnion("type", [
        z.object({ type: z.literal("circle"), radius: z.number().positive().max(100) }),
        z.object({ type: z.literal("rect"), w: z.int().min(1).max(50), h: z.int().min(1).max(50) }),
      ]),
    }),
  ),
  "zod: arrays with bounds, tuples, nested objects and records": z.toJSONSchema(
    z.object({
      tags: z.array(z.string().min(1).max(10)).min(1).max(4),
      point: z.tuple([z.number().min(-90).max(90), z.number().min(-180).max(180)]),
      address: Address,
      scores: z.record(z.string().max(8), z.int().min(0).max(100)),
      matrix: z.array(z.array(z.int().gte(-5).lte(5)).max(3)).max(3),
    }),
  ),
  "zod: recursive tree": z.toJSONSchema(z.object({ root: Category })),
  "zod: number bounds and steps": z.toJSONSchema(
    z.object({
      probability: z.number().min(0).max(1),
      temperature: z.number().gt(-273.15).lt(1000),
      ratio: z.number().positive(),
      offset: z.number().negative(),
      count: z.int().nonnegative(),
      percent: z.int().multipleOf(1).min(0).max(100),
    }),
  ),
};
