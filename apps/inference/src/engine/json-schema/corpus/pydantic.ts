/**
 * JSON schemas exactly as Pydantic v2's `Model.model_json_schema()` writes them (hand-copied: `title`s, `$defs`,
 * `anyOf: [{...}, {"type": "null"}]` for Optional with `default: null`, enums as a `$ref` to an enum definition,
 * `format: "date-time"`, `exclusiveMinimum` for PositiveInt, `additionalProperties` for dict, prefixItems for tuples,
 * `discriminator` beside a oneOf, a self-referencing model).
 */
export const pydanticCorpus: Record<string, Record<string, unknown>> = {
  // class Color(str, Enum): red/green/blue; class Item(BaseModel): name: constr(max_length=20); price: confloat(ge=0, le=1000);
  // quantity: PositiveInt = 1; color: Color; tags: conlist(str, min_length=1, max_length=3); note: Optional[str] = None
  "pydantic: model with an enum $ref, Optional and constrained fields": {
    $defs: { Color: { enum: ["red", "green", "blue"], title: "Color", type: "string" } },
    properties: {
      name: { maxLength: 20, title: "Name", type: "string" },
      price: { maximum: 1000, minimum: 0, title: "Price", type: "number" },
      quantity: { default: 1, exclusiveMinimum: 0, title: "Quantity", type: "integer" },
      color: { $ref: "#/$defs/Color" },
      tags: { items: { maxLength: 8, type: "string" }, maxItems: 3, minItems: 1, title: "Tags", type: "array" },
      note: { anyOf: [{ maxLength: 16, type: "string" }, { type: "null" }], default: null, title: "Note" },
    },
    required: ["name", "price", "color", "tags"],
    title: "Item",
    type: "object",
  },
  // class Event(BaseModel): id: UUID; at: datetime; day: date; contact: EmailStr; code: constr(pattern=r"^[a-z]{2}\d{3}$");
  // attendees: dict[str, int]; span: tuple[int, str]
  "pydantic: formats, a pattern, a dict and a tuple": {
    properties: {
      id: { format: "uuid", title: "Id", type: "string" },
      at: { format: "date-time", title: "At", type: "string" },
      day: { format: "date", title: "Day", type: "string" },
      contact: { format: "email", title: "Contact", type: "string" },
      code: { pattern: "^[a-z]{2}\\d{3}$", title: "Code", type: "string" },
      attendees: {
        additionalProperties: { type: "integer", minimum: 0, maximum: 99 },
        maxProperties: 3,
        title: "Attendees",
        type: "object",
      },
      span: {
        maxItems: 2,
        minItems: 2,
        prefixItems: [
          { type: "integer", minimum: 0, maximum: 9 },
          { maxLength: 5, type: "string" },
        ],
        title: "Span",
        type: "array",
      },
    },
    required: ["id", "at", "day", "contact", "code", "attendees", "span"],
    title: "Event",
    type: "object",
  },
  // class Cat(BaseModel): pet_type: Literal["cat"]; lives: conint(ge=0, le=9)
  // class Dog(BaseModel): pet_type: Literal["dog"]; barks: bool
  // class Owner(BaseModel): pet: Union[Cat, Dog] = Field(discriminator="pet_type"); nick: Optional[constr(max_length=8)] = None
  "pydantic: a discriminated union of models": {
    $defs: {
      Cat: {
        properties: {
          pet_type: { const: "cat", title: "Pet Type", type: "string" },
          lives: { maximum: 9, minimum: 0, title: "Lives", type: "integer" },
        },
        required: ["pet_type", "lives"],
        title: "Cat",
        type: "object",
      },
      Dog: {
        properties: {
          pet_type: { const: "dog", title: "Pet Type", type: "string" },
          barks: { title: "Barks", type: "boolean" },
        },
        required: ["pet_type", "barks"],
        title: "Dog",
        type: "object",
      },
    },
    properties: {
      pet: {
        discriminator: { mapping: { cat: "#/$defs/Cat", dog: "#/$defs/Dog" }, propertyName: "pet_type" },
        oneOf: [{ $ref: "#/$defs/Cat" }, { $ref: "#/$defs/Dog" }],
        title: "Pet",
      },
      nick: { anyOf: [{ maxLength: 8, type: "string" }, { type: "null" }], default: null, title: "Nick" },
    },
    required: ["pet"],
    title: "Owner",
    type: "object",
  },
  // class Node(BaseModel): value: conint(ge=-100, le=100); children: conlist("Node", max_length=2) = []
  "pydantic: a recursive model": {
    $defs: {
      Node: {
        properties: {
          value: { maximum: 100, minimum: -100, title: "Value", type: "integer" },
          children: { default: [], items: { $ref: "#/$defs/Node" }, maxItems: 2, title: "Children", type: "array" },
        },
        required: ["value"],
        title: "Node",
        type: "object",
      },
    },
    $ref: "#/$defs/Node",
  },
};
