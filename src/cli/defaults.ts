/**
 * Defaults shared by the CLI verbs, in a module of their own so a light verb (`podbay image`,
 * `podbay backup`) need not load the server's module graph (~0.4 s of start-up) to learn them.
 */
export const DEFAULT_DATA_DIR = '/var/lib/podbay';
