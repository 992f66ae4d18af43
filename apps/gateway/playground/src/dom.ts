/** The element with this id, checked to be of the expected class (the page's HTML and script ship together). */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`playground: #${id} is missing or not a ${type.name}`);
  return element;
}
