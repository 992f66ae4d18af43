export { responses } from "./responses-route.ts";
