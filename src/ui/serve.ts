/**
 * GET /ui/, /ui/app.js, /ui/app.css: the web view's files. They are served without the token
 * because they hold no data (the page asks for the token and sends it with every API call);
 * a strict Content-Security-Policy keeps the page to its own scripts and the API.
 */
import { UI_CSS, UI_HTML, UI_JS } from './assets.js';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const FILES: Record<string, { type: string; body: string }> = {
  '/ui': { type: 'text/html; charset=utf-8', body: UI_HTML },
  '/ui/index.html': { type: 'text/html; charset=utf-8', body: UI_HTML },
  '/ui/app.js': { type: 'text/javascript; charset=utf-8', body: UI_JS },
  '/ui/app.css': { type: 'text/css; charset=utf-8', body: UI_CSS },
};

/** The file for a path (trailing slashes already stripped), or undefined when it is not the UI's. */
export function uiFile(path: string): { headers: Record<string, string>; body: string } | undefined {
  const f = FILES[path];
  if (!f) return undefined;
  return {
    headers: { 'Content-Type': f.type, 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'no-cache' },
    body: f.body,
  };
}
