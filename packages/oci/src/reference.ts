/** Repository name and tag grammar from the OCI distribution spec. */

const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Longest repository name distribution accepts. */
export const MAX_NAME_LENGTH = 255;

export function isValidRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** One path component of a repository name (used for upstream aliases such as `127.0.0.1-5000`). */
export function isValidNameComponent(component: string): boolean {
  return new RegExp(`^${NAME_COMPONENT}$`).test(component);
}
